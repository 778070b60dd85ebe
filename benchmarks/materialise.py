"""Write a sandbox profile's files (or the mixed set) to disk, once, for nginx to serve.

``python -m benchmarks.materialise PROFILE DIR [--file-count N] [--file-size BYTES]`` writes
every file of the profile as ``DIR/<repository>/<path>`` — byte for byte what the Bintray
emulator serves for the same profile and seed — and ``DIR.manifest`` next to it: one
``path size sha256`` line per file, paths percent-encoded (the manifest ``transfer``'s http
source accepts, and the file list the peers copy). ``mixed`` is not an emulator profile:
80 % files of 1-64 KiB, 18 % of 64 KiB-2 MiB and 2 % of 8-32 MiB, same content generator.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transfer.sandbox.content import ContentSource
from transfer.sandbox.generator import PROFILES, build_organization

__all__ = ["DataSet", "main", "materialise", "mixed_files", "profile_files"]

KiB, MiB = 1024, 1 << 20
_CHUNK = 4 * MiB


@dataclass(frozen=True, slots=True)
class DataSet:
    """Files written under ``root``: ``(relative path, size, sha256)`` each, and the manifest."""

    root: Path
    manifest: Path
    files: tuple[tuple[str, int, str], ...]

    @property
    def total_bytes(self) -> int:
        """Bytes of every file together."""
        return sum(size for _, size, _ in self.files)


# (path, size, content key, kind) of each file, before its bytes are generated
FileSpec = tuple[str, int, str, str]


def profile_files(
    profile: str, *, seed: int = 1, file_count: int | None = None, file_size: int | None = None
) -> tuple[ContentSource, list[FileSpec]]:
    """The emulator's own files for ``profile``: its content generator and the file specs."""
    org = build_organization(profile, seed=seed, file_count=file_count, file_size=file_size)
    specs = [(f"{f.repo}/{f.path}", f.size, f.content_key, f.kind) for f in org.iter_files()]
    return org.content, specs


def mixed_files(count: int, *, seed: int = 1) -> tuple[ContentSource, list[FileSpec]]:
    """``count`` files of mixed sizes in repository ``mixed``, 50 per folder."""
    rng = random.Random(seed)
    specs = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.80:
            size = rng.randint(KiB, 64 * KiB)
        elif roll < 0.98:
            size = rng.randint(64 * KiB, 2 * MiB)
        else:
            size = rng.randint(8 * MiB, 32 * MiB)
        path = f"mixed/part-{index // 50:03d}/file-{index:05d}.bin"
        specs.append((path, size, f"mixed-{index}", "binary"))
    return ContentSource(seed), specs


def _write(content: ContentSource, spec: FileSpec, root: Path) -> str:
    path, size, key, kind = spec
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for chunk in content.iter_bytes(key, size, kind=kind, chunk_size=_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _readable_tree(root: Path) -> Iterator[Path]:
    yield root
    for folder, dirs, _ in os.walk(root):
        for name in dirs:
            yield Path(folder) / name


def materialise(content: ContentSource, specs: Sequence[FileSpec], root: Path) -> DataSet:
    """Write ``specs`` under ``root`` (world-readable: nginx's workers run as another user)
    and the manifest ``<root>.manifest``; files already there with the right size are kept."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = root.with_name(root.name + ".manifest")
    known: dict[str, str] = {}
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            encoded, size, sha256 = line.split()
            path = unquote(encoded)
            if (root / path).is_file() and (root / path).stat().st_size == int(size):
                known[path] = sha256
    files = []
    for spec in specs:
        sha256 = known.get(spec[0]) or _write(content, spec, root)
        files.append((spec[0], spec[1], sha256))
    for folder in _readable_tree(root):
        folder.chmod(0o755)
    lines = (f"{quote(p)} {s} {h}\n" for p, s, h in files)
    manifest.write_text("".join(lines), encoding="utf-8")
    return DataSet(root, manifest, tuple(files))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: materialise one profile."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.materialise", description=__doc__)
    parser.add_argument("profile", choices=(*PROFILES, "mixed"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--file-count", type=int, help="bench-small and mixed: how many files")
    parser.add_argument("--file-size", type=int, help="bench-large: bytes per file")
    args = parser.parse_args(argv)
    if args.profile == "mixed":
        content, specs = mixed_files(args.file_count or 2000, seed=args.seed)
    else:
        content, specs = profile_files(
            args.profile, seed=args.seed, file_count=args.file_count, file_size=args.file_size
        )
    data = materialise(content, specs, args.dir)
    print(f"{len(data.files)} files, {data.total_bytes:,} bytes under {data.root}")
    print(f"manifest: {data.manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
