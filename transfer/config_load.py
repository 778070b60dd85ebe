"""Reading settings from TOML: ``${VAR}`` substitution, secrets from the environment or files,
sizes and durations written for humans, and one-line errors that say how to fix the file.

The loader is driven by the settings classes themselves (their fields, type hints and
``metadata["kind"]``), so a new field is readable, checked for typos and documented in
``config.example.toml`` without touching this module.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, Union

from transfer.errors import ConfigError, ConfigFieldError
from transfer.localfiles import read_text_file
from transfer.redaction import Secret
from transfer.settings import AUTO_PROCESSES, SECTIONS, Settings, physical_memory

__all__ = ["known_keys", "load_settings", "parse_duration", "parse_size", "settings_from_mapping"]

# --------------------------------------------------------------------------- value parsers

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*(/\s*s(?:ec)?)?\s*$", re.IGNORECASE)
_SIZE_UNITS: Final = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_MAX_CONFIG: Final = 1024 * 1024  # a config is a few KiB; more is the wrong file
_DURATION_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_size(value: str | int | float, *, rate: bool = False) -> int:
    """Bytes from ``1048576``, ``"10MiB"``, ``"1.5 GB"`` or, when ``rate``, ``"50MB/s"``.

    kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024; a bare ``k``/``M``/``G``
    is refused as ambiguous. Raises ``ValueError`` with a message fit for the user.
    """
    if isinstance(value, bool):
        raise TypeError("expected a size, got a boolean")
    if isinstance(value, int | float):
        number, unit, per_second = float(value), "", None
    else:
        match = _SIZE_RE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size like 10MiB or 50MB/s")
        number, unit, per_second = float(match[1]), match[2].lower(), match[3]
    if per_second and not rate:
        raise ValueError(f"{value!r} is a rate; a size has no /s")
    if unit in ("k", "m", "g", "t", "ki", "mi", "gi", "ti"):
        raise ValueError(
            f"{value!r} is ambiguous: write {unit[0].upper()}B (powers of 1000) "
            f"or {unit[0].upper()}iB (powers of 1024)"
        )
    if unit not in _SIZE_UNITS:
        raise ValueError(
            f"{value!r} has an unknown unit {unit!r} (use B, kB, MB, GB, KiB, MiB, GiB)"
        )
    return round(number * _SIZE_UNITS[unit])


def parse_duration(value: str | int | float) -> float:
    """Seconds from ``90``, ``"45s"``, ``"30m"``, ``"2h"``, ``"1h30m"``, ``"7d"`` or ``"500ms"``.

    Raises ``ValueError`` with a message fit for the user.
    """
    if isinstance(value, bool):
        raise TypeError("expected a duration, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_RE.findall(text)
    if not parts or _DURATION_RE.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration like 90s, 30m, 2h or 1h30m")
    return sum(float(n) * _DURATION_UNITS[u.lower()] for n, u in parts)


# --------------------------------------------------------------------------- entry points


def load_settings(
    path: Path | str,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read a TOML config file into validated :class:`Settings`.

    ``${NAME}`` anywhere in a string is replaced from ``environ`` (default ``os.environ``;
    ``$${`` writes a literal ``${``). Secrets may also be read from ``<key>_file``. Relative
    paths resolve against the file's directory. ``overrides`` maps dotted keys (``"transfer.
    workers"``) or nested tables to values that replace the file's, checked the same way;
    ``None`` values are ignored. Every problem raises ``ConfigError`` with a one-line message.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ConfigError(f"config file not found: {path} (start from config.example.toml)")
    text = read_text_file(path, "config file", limit=_MAX_CONFIG)  # a BOM is fine
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    resolved = path.resolve()
    return settings_from_mapping(
        tree, base_dir=resolved.parent, environ=environ, overrides=overrides, config_path=resolved
    )


def settings_from_mapping(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Build :class:`Settings` from already-parsed TOML data (same rules as :func:`load_settings`).

    Values may also be Python objects a TOML file cannot hold: ``Secret``, ``Path``, tuples.
    """
    tree = _with_overrides(data, overrides or {})
    reader = _Reader(
        os.environ if environ is None else environ,
        base_dir,
        config_path.name if config_path else "the configuration",
    )
    for key in tree:
        if key not in SECTIONS:
            raise reader.unknown(key)
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        table = tree.get(name, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{name} must be a table ([{name}]), got {_show(table)}")
        sections[name] = reader.build(cls, table, name)
    return Settings(
        **sections,
        config_path=config_path,
        base_dir=base_dir,
        warnings=(*reader.warnings, *_advice(sections)),
    )


@functools.cache
def known_keys() -> tuple[str, ...]:
    """Every dotted key a config file may set (tables included), e.g. ``target.password_file``."""
    keys: list[str] = []

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key, hint = f"{prefix}.{f.name}", _unwrap_optional(hints[f.name])
            keys.append(key)
            if hint is Secret:
                keys.append(f"{key}_file")
            elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
                walk(hint, key)

    for name, cls in SECTIONS.items():
        keys.append(name)
        walk(cls, name)
    return tuple(keys)


# --------------------------------------------------------------------------- the reader

_REFERENCE = re.compile(r"\$\$\{|\$\{([^{}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WHOLE_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_SCALAR_WORDS: Final = {"true": True, "false": False}


class _Reader:
    """Turns raw TOML values into typed field values, collecting warnings on the way."""

    def __init__(self, environ: Mapping[str, str], base_dir: Path, source_name: str) -> None:
        self.environ = environ
        self.base_dir = base_dir
        self.source_name = source_name
        self.warnings: list[str] = []

    def build(self, cls: type, table: Mapping[str, Any], prefix: str) -> Any:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        secrets = {n for n in fields if _unwrap_optional(hints[n]) is Secret}
        allowed = set(fields) | {f"{n}_file" for n in secrets}
        for key in table:
            if key not in allowed:
                raise self.unknown(f"{prefix}.{key}")
        kwargs: dict[str, Any] = {}
        for name, f in fields.items():
            key = f"{prefix}.{name}"
            if name in secrets:
                secret = self.secret(table, name, key)
                if secret is not None:
                    kwargs[name] = secret
            elif name in table:
                kind = f.metadata.get("kind", "")
                kwargs[name] = self.convert(hints[name], table[name], key, kind)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing required key '{key}'")
            elif isinstance(f.default, Path):
                kwargs[name] = self.path(f.default)
        if prefix == "store":
            self.store_rules(table, kwargs)
        try:
            return cls(**kwargs)
        except ConfigFieldError as exc:
            message = f"{prefix}.{exc.key} {exc.problem}" if exc.key else exc.problem
            raise ConfigError(message) from None

    def store_rules(self, table: Mapping[str, Any], kwargs: dict[str, Any]) -> None:
        if "path" in table and "url" in table:
            raise ConfigError("set store.path (SQLite) or store.url (PostgreSQL), not both")
        url = kwargs.get("url")
        if isinstance(url, tuple):  # (url without password, password from ${VAR})
            if "password" in kwargs:
                raise ConfigError("set the password in store.url or store.password, not both")
            kwargs["url"], kwargs["password"] = url

    def convert(self, hint: Any, raw: Any, key: str, kind: str) -> Any:
        hint = _unwrap_optional(hint)
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            if not isinstance(raw, Mapping):
                raise ConfigError(f"{key} must be a table ([{key}]), got {_show(raw)}")
            return self.build(hint, raw, key)
        if kind in ("size", "rate", "duration"):
            return self.quantity(hint, raw, key, kind)
        if kind == "dsn":
            return self.dsn(raw, key)
        if kind == "processes":
            return self.processes(raw, key)
        if typing.get_origin(hint) is Literal:
            return self.choice(typing.get_args(hint), raw, key)
        if typing.get_origin(hint) is tuple:
            if not isinstance(raw, list | tuple):
                raise ConfigError(f'{key} must be a list of strings like ["*"], got {_show(raw)}')
            return tuple(self.text(item, f"{key}[{i}]") for i, item in enumerate(raw))
        if hint is bool:
            return self.boolean(raw, key)
        if hint is int or hint is float:
            return self.number(hint, raw, key)
        if hint is Path:
            return self.path(raw if isinstance(raw, Path) else self.text(raw, key))
        if hint is str:
            return self.text(raw, key)
        raise TypeError(f"no reader for {key}: {hint!r}")  # a settings field of a new type

    # -- leaves

    def substitute(self, text: str, key: str) -> str:
        def replace(match: re.Match[str]) -> str:
            if match[0] == "$${":
                return "${"
            name = match[1]
            if not _VAR_NAME.fullmatch(name):
                raise ConfigError(f"{key}: '${{{name}}}' is not a valid variable reference")
            if name not in self.environ:
                raise ConfigError(
                    f"{key} refers to ${{{name}}}, but the environment variable {name} is not set"
                )
            return self.environ[name]

        if "${" in _REFERENCE.sub("", text):
            raise ConfigError(f"{key} has a '${{' without a closing '}}'")
        return _REFERENCE.sub(replace, text)

    def text(self, raw: Any, key: str) -> str:
        if not isinstance(raw, str):
            raise ConfigError(f"{key} must be a string, got {_show(raw)}")
        return self.substitute(raw, key)

    def boolean(self, raw: Any, key: str) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _REFERENCE.search(raw):
            word = self.substitute(raw, key).strip().lower()
            if word in _SCALAR_WORDS:
                return _SCALAR_WORDS[word]
            raise ConfigError(f"{key} must be true or false, got {_show(word)} from {raw}")
        raise ConfigError(f"{key} must be true or false, got {_show(raw)}")

    def number(self, hint: type, raw: Any, key: str) -> int | float:
        noun = "a whole number" if hint is int else "a number"
        value = raw
        if isinstance(raw, str) and _REFERENCE.search(raw):
            text = self.substitute(raw, key).strip()
            try:
                value = int(text) if hint is int else float(text)
            except ValueError:
                raise ConfigError(f"{key} must be {noun}, got {_show(text)} from {raw}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be {noun}, got {_show(raw)}")
        if hint is int:
            if isinstance(value, float):
                raise ConfigError(f"{key} must be {noun}, got {_show(raw)}")
            return value
        return float(value)

    def quantity(self, hint: Any, raw: Any, key: str, kind: str) -> int | float:
        value = self.substitute(raw, key) if isinstance(raw, str) else raw
        try:
            if kind == "duration":
                seconds = parse_duration(value)
                return round(seconds) if hint is int else seconds
            return parse_size(value, rate=kind == "rate")
        except (TypeError, ValueError) as exc:
            example = {"size": "10MiB", "rate": "50MB/s", "duration": "30m"}[kind]
            if isinstance(value, str):
                raise ConfigError(f"{key}: {exc}") from None
            raise ConfigError(
                f"{key} must be a {kind} like {example!r}, got {_show(raw)}"
            ) from None

    def processes(self, raw: Any, key: str) -> int:
        if isinstance(raw, str) and self.substitute(raw, key).strip().lower() == "auto":
            return AUTO_PROCESSES
        try:
            return int(self.number(int, raw, key))
        except ConfigError:
            raise ConfigError(f'{key} must be "auto" or a whole number, got {_show(raw)}') from None

    def choice(self, choices: tuple[str, ...], raw: Any, key: str) -> str:
        value = self.text(raw, key)
        if value in choices:
            return value
        options = ", ".join(f'"{c}"' for c in choices)
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f' — did you mean "{close[0]}"?' if close else ""
        raise ConfigError(f"{key} must be one of {options}, got {_show(value)}{hint}")

    def path(self, value: str | Path) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def dsn(self, raw: Any, key: str) -> str | tuple[str, Secret]:
        """A PostgreSQL URL: a password may only come from ``${VAR}``; it is split out."""
        if not isinstance(raw, str):
            raise ConfigError(f"{key} must be a string, got {_show(raw)}")
        userinfo, at, _host = raw.partition("://")[2].partition("/")[0].rpartition("@")
        user, colon, password = userinfo.partition(":")
        if not (at and colon):
            return self.substitute(raw, key)
        if not _WHOLE_REFERENCE.fullmatch(password):
            raise ConfigError(f"{key} must not contain a password — use PGPASSWORD or ${{VAR}}")
        secret = self.substitute(password, key)
        if not secret:
            raise ConfigError(f"{key}: the password from {password} is empty")
        clean = raw.replace(f"{userinfo}@", f"{user}@", 1)
        return self.substitute(clean, key), Secret(secret)

    def secret(self, table: Mapping[str, Any], name: str, key: str) -> Secret | None:
        file_key = f"{name}_file"
        if name in table and file_key in table:
            raise ConfigError(f"set {key} or {key}_file, not both")
        if name in table:
            raw = table[name]
            if isinstance(raw, Secret):
                return raw
            if not isinstance(raw, str):
                raise ConfigError(f'{key} must be a string such as "${{VAR}}"')
            value = self.substitute(raw, key)
            origin = f"from {raw}" if _REFERENCE.search(raw) else "in the file"
            if not _REFERENCE.search(raw) and value:
                self.warnings.append(
                    f"{key} is written inline in {self.source_name}; prefer "
                    f'{name} = "${{VAR}}" (environment) or {name}_file = "path"'
                )
        elif file_key in table:
            raw_path = table[file_key]
            path = self.path(raw_path if isinstance(raw_path, Path) else self.text(raw_path, key))
            value = self.secret_file(path, f"{key}_file")
            origin = f"in {path}"
        else:
            return None
        if not value:
            raise ConfigError(f"{key} is empty ({origin})")
        return Secret(value)

    def secret_file(self, path: Path, key: str) -> str:
        value = read_text_file(path, key, limit=_MAX_CONFIG).rstrip("\r\n")
        mode = path.stat().st_mode
        if os.name == "posix" and mode & 0o077:
            self.warnings.append(
                f"{key} {path} can be read by other users (mode {mode & 0o777:o}); chmod 600 it"
            )
        return value

    def unknown(self, dotted: str) -> ConfigError:
        known = known_keys()
        parent, _, leaf = dotted.rpartition(".")
        siblings = [k for k in known if k.rpartition(".")[0] == parent]
        names = [k.rpartition(".")[2] for k in siblings]
        guess = [siblings[names.index(n)] for n in difflib.get_close_matches(leaf, names, n=1)]
        guess = guess or [k for k in known if k.rpartition(".")[2] == leaf][:1]
        guess = guess or difflib.get_close_matches(dotted, known, n=1, cutoff=0.8)
        if guess:
            return ConfigError(f"unknown key '{dotted}' — did you mean '{guess[0]}'?")
        where = f"[{parent}]" if parent else "the top level"
        return ConfigError(f"unknown key '{dotted}'; {where} accepts: {', '.join(names)}")


# --------------------------------------------------------------------------- helpers


def _unwrap_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _show(value: Any) -> str:
    """A value as it would be written in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, Secret):
        return "a secret"
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)


def _with_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    tree = _copy_tables(data)
    for dotted, value in _flatten(overrides, ""):
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"cannot override '{dotted}': {part} is not a table")
            node = child
        node[leaf] = value
    return tree


def _copy_tables(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy_tables(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _flatten(overrides: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    flat: list[tuple[str, Any]] = []
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.extend(_flatten(value, f"{dotted}."))
        elif value is not None:
            flat.append((dotted, value))
    return flat


def memory_advice(transfer: Any, physical: int | None) -> str | None:
    """Check the memory formula of :class:`~transfer.settings.TransferSettings` against the
    machine: refuse (``ConfigError``) above half its memory, warn above a quarter."""
    if not physical:
        return None
    estimate = transfer.memory_estimate()
    gib = 1024**3
    processes = "" if transfer.processes <= 1 else f" in each of {transfer.processes} processes"
    what = (
        f"transfer.workers = {transfer.workers}{processes} with chunk_size "
        f"{transfer.chunk_size / 1024**2:g} MiB "
        f"needs about {estimate / gib:.1f} GiB of buffers (workers × (2 × chunk_size + "
        f"{transfer.READ_AHEAD // 1024**2} MiB read-ahead + {transfer.SOCKET_BUFFERS // 1024} KiB))"
    )
    if estimate > physical // 2:
        raise ConfigError(f"{what}, more than half of this machine's {physical / gib:.1f} GiB")
    if estimate > physical // 4:
        return f"{what}, more than a quarter of this machine's {physical / gib:.1f} GiB"
    return None


def _advice(sections: Mapping[str, Any]) -> list[str]:
    """Warnings about legal but risky settings, for the CLI to print."""
    advice = []
    memory = memory_advice(sections["transfer"], physical_memory())
    if memory:
        advice.append(memory)
    target = sections["target"]
    if not target.verify_tls:
        advice.append("target.verify_tls = false: the target's TLS certificate is not checked")
    if target.type == "artifactory" and not target.url.endswith("/artifactory"):
        advice.append(
            f"target.url {target.url} does not end in /artifactory, where Artifactory's "
            "REST API usually lives"
        )
    return advice
