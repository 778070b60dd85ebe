"""A sample backup tree for ``source.type = "directory"``, deterministic from a seed.

``transfer sandbox tree DIR`` writes it, the directory-source example in the README migrates it,
and the tests generate theirs with it.  It holds what such backups hold: a Maven repository
with POMs and ``.sha1`` files (declared in a manifest with sha256s, package type in the
repository settings), a generic repository with an empty file, a file directly in the
repository folder and awkward names, plus what a directory source must refuse and report: a
link to a file inside the tree, a link to a folder inside it, a link out of it, a FIFO, a name
that is not UTF-8 and a stray file in the root.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["MANIFEST_NAME", "SETTINGS_NAME", "SampleTree", "write_sample_tree"]

MANIFEST_NAME = ".transfer-manifest"
"""Where the sample's manifest goes (the directory source's default name)."""
SETTINGS_NAME = ".transfer-repos.toml"
"""Where the sample's repository settings go (the directory source's default name)."""

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId>
  <artifactId>{artifact}</artifactId>
  <version>{version}</version>
  <packaging>jar</packaging>
</project>
"""

_SETTINGS = """\
# Repository settings for the directory source (see transfer/sources/directory.py).
[repositories.libs-release]
package_type = "maven"
description = "Releases kept from Bintray before its sunset"

[repositories.tools]
description = "Command-line tools"
"""


@dataclass
class SampleTree:
    """What was written: the files a migration must copy, ``(repo, path) → bytes``, and the
    entries the source must leave out and report, ``(repo, path)``."""

    root: Path
    files: dict[tuple[str, str], bytes] = field(default_factory=dict)
    refused: set[tuple[str, str]] = field(default_factory=set)

    def write(self, repo: str, path: str, body: bytes) -> None:
        """Write (or rewrite) one file and keep :attr:`files` true."""
        target = self.root / repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        self.files[repo, path] = body


def write_sample_tree(
    root: Path, *, seed: int = 1, bulk: int = 0, awkward: bool = True
) -> SampleTree:
    """Write the sample under ``root`` (created if needed); ``bulk`` more files of 32 KiB in
    repository ``bulk`` give a migration something to last; ``awkward`` adds the entries that
    must be refused (links, a FIFO, a non-UTF-8 name, a stray root file)."""
    rng = random.Random(seed)
    tree = SampleTree(root)
    root.mkdir(parents=True, exist_ok=True)
    for artifact, version, size in (("app", "1.0", 40_000), ("lib", "2.1", 12_000)):
        base = f"com/acme/{artifact}/{version}/{artifact}-{version}"
        tree.write("libs-release", f"{base}.jar", rng.randbytes(size))
        tree.write(
            "libs-release", f"{base}.pom", _POM.format(artifact=artifact, version=version).encode()
        )
        jar = tree.files["libs-release", f"{base}.jar"]
        tree.write("libs-release", f"{base}.jar.sha1", hashlib.sha1(jar).hexdigest().encode())
    tree.write("tools", "cli/1.0/cli-linux.tar.gz", rng.randbytes(150_000))
    tree.write("tools", "cli/1.0/cli-windows.zip", rng.randbytes(20_000))
    tree.write("tools", "notes.txt", b"release notes\n")
    tree.write("tools", "empty.bin", b"")
    tree.write("tools", "odd names/a b+c \u00e9 #1.txt", b"odd\n")
    tree.write("docs", "guide/index.html", b"<html><body>guide</body></html>\n")
    for index in range(bulk):
        tree.write("bulk", f"part-{index // 10}/file-{index:04d}.bin", rng.randbytes(32 * 1024))
    manifest = [
        f"libs-release/{path} {len(body)} {hashlib.sha256(body).hexdigest()}"
        for (repo, path), body in sorted(tree.files.items())
        if repo == "libs-release"
    ]
    (root / MANIFEST_NAME).write_text(
        "# path size sha256 (paths relative to this folder)\n" + "\n".join(manifest) + "\n"
    )
    (root / SETTINGS_NAME).write_text(_SETTINGS)
    if awkward:
        _write_awkward(tree)
    return tree


def _write_awkward(tree: SampleTree) -> None:
    tools = tree.root / "tools"
    links = {
        "cli/current.tar.gz": "1.0/cli-linux.tar.gz",  # a file inside the tree
        "latest": "cli/1.0",  # a folder inside the tree
        "escape": "/etc/passwd",  # out of the tree
    }
    for path, points_to in links.items():
        (tools / path).symlink_to(points_to)
        tree.refused.add(("tools", path))
    if hasattr(os, "mkfifo"):
        os.mkfifo(tools / "pipe")
        tree.refused.add(("tools", "pipe"))
    with open(os.fsencode(tools) + b"/bad-\xff.bin", "wb") as handle:
        handle.write(b"a name that is not UTF-8\n")
    tree.refused.add(("tools", "bad-\\xff.bin"))
    (tree.root / "README.txt").write_text("a stray file in the root\n")
    tree.refused.add(("", "README.txt"))
