"""The directory source on real files: what it refuses and reports, the manifest and the
repository settings, and files that change (or turn into links) between listing and reading.
The behaviour every source shares is in ``tests/contract/test_source_contract.py``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from transfer.checkpoint.base import REVISION, ItemSpec, content_changed
from transfer.config_load import load_settings
from transfer.errors import ConfigError, NotFoundError, SourceChanged, TransferError
from transfer.models import SourceFile
from transfer.sandbox.tree import MANIFEST_NAME, SETTINGS_NAME, write_sample_tree
from transfer.sources.directory import DirectorySource

pytestmark = pytest.mark.anyio


async def _listing(source: DirectorySource) -> dict[tuple[str, str], SourceFile]:
    files: dict[tuple[str, str], SourceFile] = {}
    for repo in await source.list_repositories():
        async for name in source.iter_packages(repo.name):
            package = await source.get_package(repo.name, name)
            for version in package.versions:
                for file in await source.list_version_files(repo.name, name, version):
                    files[file.repo, file.path] = file
    return files


async def _read(source: DirectorySource, file: SourceFile) -> bytes:
    async with source.open_download(file) as download:
        return b"".join([chunk async for chunk in download.chunks(4096)])


async def test_links_special_files_and_bad_names_are_reported_not_listed(tmp_path: Path) -> None:
    tree = write_sample_tree(tmp_path)
    async with DirectorySource(tmp_path) as source:
        files = await _listing(source)
        skipped = {(s.repo, s.path): s.reason for s in source.skipped_files()}
    assert set(files) == set(tree.files)
    assert set(skipped) == tree.refused
    assert "symbolic link" in skipped["tools", "escape"]
    assert "symbolic link" in skipped["tools", "latest"]
    assert "symbolic link" in skipped["tools", "cli/current.tar.gz"]
    assert "FIFO" in skipped["tools", "pipe"]
    assert "UTF-8" in skipped["tools", "bad-\\xff.bin"]
    assert "outside any repository" in skipped["", "README.txt"]


async def test_settings_give_package_type_description_and_visibility(tmp_path: Path) -> None:
    write_sample_tree(tmp_path, awkward=False)
    (tmp_path / SETTINGS_NAME).write_text(
        '[repositories.docs]\npackage_type = "Deb"\ndescription = "d"\npublic = true\n'
    )
    async with DirectorySource(tmp_path, repos=["d*", "libs-*"]) as source:
        repos = {r.name: r for r in await source.list_repositories()}
    assert set(repos) == {"docs", "libs-release"}
    assert (repos["docs"].type, repos["docs"].desc, repos["docs"].private) == ("debian", "d", False)
    assert (repos["libs-release"].type, repos["libs-release"].private) == ("generic", True)


async def test_the_manifest_declares_checksums_and_its_mismatches_are_reported(
    tmp_path: Path,
) -> None:
    tree = write_sample_tree(tmp_path, awkward=False)
    async with DirectorySource(tmp_path) as source:
        files = await _listing(source)
    for (repo, path), body in tree.files.items():
        expected = hashlib.sha256(body).hexdigest() if repo == "libs-release" else ""
        assert files[repo, path].sha256 == expected, path

    jar = "com/acme/lib/2.1/lib-2.1.jar"
    manifest = tmp_path / "elsewhere.txt"
    manifest.write_text(f"libs-release/{jar} 5 {'0' * 64}\nlibs-release/com/gone.jar 3\n")
    async with DirectorySource(tmp_path, manifest=manifest) as source:
        files = await _listing(source)
        skipped = {(s.repo, s.path): s.reason for s in source.skipped_files()}
    assert ("libs-release", jar) not in files
    assert (
        skipped["libs-release", jar]
        == f"{len(tree.files['libs-release', jar])} bytes on disk, the manifest says 5"
    )
    assert "not on disk" in skipped["libs-release", "com/gone.jar"]
    assert ("", "elsewhere.txt") not in skipped  # the configured manifest is no stray file
    assert all(not f.sha256 for f in files.values())


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        (SETTINGS_NAME, "[repositories.x]\nflavour = 1\n", "unknown key(s) flavour"),
        (SETTINGS_NAME, "[repositories.x\n", "cannot read the repository settings"),
        (MANIFEST_NAME, "a/b 12 nothex\n", "manifest line 1"),
    ],
)
async def test_bad_manifest_or_settings_is_one_config_error(
    tmp_path: Path, name: str, text: str, words: str
) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        async with DirectorySource(tmp_path):
            pass


async def test_a_root_that_is_not_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        async with DirectorySource(tmp_path / "absent"):
            pass


async def test_a_file_changed_after_listing_fails_as_changed_and_is_not_retried(
    tmp_path: Path,
) -> None:
    tree = write_sample_tree(tmp_path, awkward=False)
    async with DirectorySource(tmp_path) as source:
        files = await _listing(source)
        notes = files["tools", "notes.txt"]
        assert await _read(source, notes) == tree.files["tools", "notes.txt"]
        tree.write("tools", "notes.txt", b"longer release notes\n")
        with pytest.raises(SourceChanged) as caught:
            await _read(source, notes)
        assert not caught.value.retryable
        # the same size, a new modification time
        zip_file = files["tools", "cli/1.0/cli-windows.zip"]
        stamp = zip_file.extra["revision"]
        path = tmp_path / "tools/cli/1.0/cli-windows.zip"
        os.utime(path, ns=(int(stamp) + 10**9, int(stamp) + 10**9))
        with pytest.raises(SourceChanged):
            await _read(source, zip_file)


async def test_a_link_put_in_place_after_listing_is_not_followed(tmp_path: Path) -> None:
    tree = write_sample_tree(tmp_path / "root", awkward=False)
    outside = tmp_path / "outside"
    (outside / "1.0").mkdir(parents=True)
    (outside / "1.0/cli-linux.tar.gz").write_bytes(tree.files["tools", "cli/1.0/cli-linux.tar.gz"])
    async with DirectorySource(tree.root) as source:
        files = await _listing(source)
        shutil.rmtree(tree.root / "tools/cli")
        (tree.root / "tools/cli").symlink_to(outside)
        with pytest.raises(TransferError) as caught:
            await _read(source, files["tools", "cli/1.0/cli-linux.tar.gz"])
    assert isinstance(caught.value, NotFoundError | SourceChanged)


_LIST_AS_NOBODY = """
import json, os, sys, anyio, anyio._backends._asyncio
from pathlib import Path
from transfer.models import SourceFile
from transfer.sources.directory import DirectorySource
os.setgid(65534)
os.setuid(65534)

async def main():
    async with DirectorySource(Path(sys.argv[1])) as source:
        for repo in await source.list_repositories():
            async for name in source.iter_packages(repo.name):
                for version in (await source.get_package(repo.name, name)).versions:
                    await source.list_version_files(repo.name, name, version)
        try:
            async with source.open_download(SourceFile("tools", "", "", "notes.txt", 14)):
                opened = "opened"
        except Exception as error:
            opened = type(error).__name__
        skipped = {f"{s.repo}/{s.path}": s.reason for s in source.skipped_files()}
        print(json.dumps({"skipped": skipped, "open": opened}))

anyio.run(main)
"""


def _tree_nobody_can_reach(*, owner_reads: bool = True) -> Path:
    """The sample tree where user nobody can reach it (tmp_path is private to root), with one
    file and one folder only their owner may read (``owner_reads=False``: not even him)."""
    top = Path(tempfile.mkdtemp(prefix="transfer-unreadable-"))
    top.chmod(0o755)
    write_sample_tree(top, awkward=False)
    for path in top.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (top / "tools/notes.txt").chmod(0o600 if owner_reads else 0)
    (top / "docs/guide").chmod(0o700 if owner_reads else 0)
    return top


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to user nobody, which needs root")
async def test_unreadable_files_and_folders_are_reported() -> None:
    top = _tree_nobody_can_reach()
    try:
        done = await anyio.run_process([sys.executable, "-c", _LIST_AS_NOBODY, str(top)])
    finally:
        shutil.rmtree(top)
    found = json.loads(done.stdout)
    assert found["skipped"] == {
        "tools/notes.txt": "cannot be read: permission denied",
        "docs/guide": "folder cannot be read: Permission denied",
    }
    assert found["open"] == "UnreadableFile"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
async def test_unreadable_files_are_reported_for_this_user() -> None:
    top = _tree_nobody_can_reach(owner_reads=False)
    try:
        async with DirectorySource(top) as source:
            files = await _listing(source)
            skipped = {(s.repo, s.path): s.reason for s in source.skipped_files()}
    finally:
        (top / "docs/guide").chmod(0o755)
        shutil.rmtree(top)
    assert ("tools", "notes.txt") not in files
    assert skipped["tools", "notes.txt"] == "cannot be read: permission denied"
    assert skipped["docs", "guide"] == "folder cannot be read: Permission denied"


def test_settings_require_a_root_and_name_the_subject(tmp_path: Path) -> None:
    target = '[target]\nurl = "https://example.jfrog.io/artifactory"\ntoken = "t"\n'
    config = tmp_path / "c.toml"
    config.write_text(f'[source]\ntype = "directory"\n{target}')
    with pytest.raises(ConfigError, match="root"):
        load_settings(config, environ={})
    config.write_text(f'[source]\ntype = "directory"\nroot = "backup"\n{target}')
    settings = load_settings(config, environ={})
    assert settings.source.root == tmp_path / "backup"
    assert settings.source.subject == "directory"


def test_a_new_revision_re_opens_an_item_and_no_revision_changes_nothing() -> None:
    spec = ItemSpec("tools", "", "", "notes.txt", 14, target_repo="tools", target_path="notes.txt")
    at = {n: replace(spec, extra={REVISION: n}) for n in ("1", "2")}
    assert content_changed(at["1"], at["2"])
    assert not content_changed(at["1"], replace(at["1"], extra={REVISION: "1", "other": 1}))
    assert not content_changed(spec, replace(spec, extra={"url": "elsewhere"}))
