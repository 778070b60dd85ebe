"""Settings: validation at construction, TOML loading with one-line errors, secrets, the example."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from transfer.config_load import (
    known_keys,
    load_settings,
    parse_duration,
    parse_size,
    settings_from_mapping,
)
from transfer.errors import EXIT_USAGE, ConfigError
from transfer.runner.copying import per_process
from transfer.settings import (
    LoggingSettings,
    PermissionMapping,
    ReportSettings,
    Secret,
    SecuritySettings,
    Settings,
    SourceSettings,
    StoreSettings,
    TargetSettings,
    TransferSettings,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"
ENV = {"ARTIFACTORY_TOKEN": "tok-abcdef123456", "BINTRAY_API_KEY": "bt-key-987654"}
MINIMAL = """\
[source]
subject = "acme"
[target]
url = "https://example.jfrog.io/artifactory"
token = "${ARTIFACTORY_TOKEN}"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), environ=ENV if environ is None else environ)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- Secret


def test_secret_hides_its_value_everywhere_but_reveal() -> None:
    secret = Secret("hunter2-long")
    assert repr(secret) == str(secret) == f"{secret}" == "***"
    assert "hunter2" not in repr(TargetSettings(url="https://h/artifactory", token=secret))
    assert secret.reveal() == "hunter2-long"
    assert secret == Secret("hunter2-long")
    assert secret != Secret("other")
    assert secret != "hunter2-long"
    assert len({secret, Secret("hunter2-long")}) == 1


def test_secret_is_never_serialised_in_clear() -> None:
    secret = Secret("hunter2-long")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"k": secret})
    with pytest.raises(AttributeError):
        secret._value = "x"


def test_secret_from_reference(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("from-file\n", encoding="utf-8")
    env = {"KEY": "from-env"}
    assert Secret.from_reference("env:KEY", environ=env).reveal() == "from-env"
    assert Secret.from_reference("${KEY}", environ=env).reveal() == "from-env"
    assert Secret.from_reference("file:key.txt", base_dir=tmp_path).reveal() == "from-file"
    with pytest.raises(ConfigError, match="KEY2 is not set"):
        Secret.from_reference("env:KEY2", environ=env)
    with pytest.raises(ConfigError, match="must start with") as info:
        Secret.from_reference("plain-value", environ=env)
    assert "plain" not in str(info.value)


# --------------------------------------------------------------------------- construction


def test_defaults_match_the_design() -> None:
    t = TransferSettings()
    assert (t.workers, t.queue_size, t.chunk_size, t.claim_batch) == (128, 256, 1 << 20, 64)
    assert (t.lease_seconds, t.max_attempts, t.backoff_base, t.backoff_max) == (300, 6, 0.5, 30)
    assert (t.bandwidth_limit, t.max_transfer, t.max_duration) == (None, None, None)
    target = TargetSettings(url="https://h/artifactory/", token=Secret("t"))
    assert target.url == "https://h/artifactory"
    assert (target.verify_tls, target.conflict, target.min_checksum_deploy_size) == (
        True,
        "report",
        10240,
    )
    source = SourceSettings(subject="acme")
    assert (source.api_url, source.download_url) == (
        "https://api.bintray.com",
        "https://dl.bintray.com",
    )
    assert (source.repos, source.include_unpublished, source.page_size) == (("*",), True, 50)
    assert source.login == "acme"
    perms = SecuritySettings().permissions
    assert perms.actions_for("read") == ("read",)
    assert perms.actions_for("publish") == ("read", "annotate", "write", "delete")
    assert perms.actions_for("ADMIN") == ("read", "annotate", "write", "delete", "manage")
    assert perms.actions_for("none") == ()
    assert StoreSettings().backend == "sqlite"
    assert StoreSettings(url="postgresql://u@db/x").backend == "postgres"


def test_memory_formula_in_the_docstring_is_the_computed_one() -> None:
    doc = TransferSettings.__doc__ or ""
    estimate = TransferSettings().memory_estimate()
    assert estimate == 128 * (2 * (1 << 20) + (2 << 20) + 256 * 1024) + 256 * 1024
    assert f"{estimate // 1024:,} KiB" in doc
    assert "copies in flight × (chunk_size × 2 + read-ahead + socket buffers)" in doc
    assert "copies in flight ≤ workers" in doc
    assert TransferSettings.BUFFERS_PER_STREAM == 2
    # The formula scales with what it names.
    bigger = TransferSettings(workers=16, chunk_size=4 << 20, queue_size=100)
    assert bigger.memory_estimate() == 16 * (8 << 20) + 16 * ((2 << 20) + 256 * 1024) + 100 * 1024
    # ... and with the processes that each hold that much
    three = dataclasses.replace(bigger, processes=3)
    assert three.memory_estimate() == 3 * bigger.memory_estimate()


def test_each_copy_process_gets_its_part_of_the_bandwidth_cap() -> None:
    t = TransferSettings(processes=4, bandwidth_limit=100_000_000, max_transfer=10_000)
    each = per_process(t)
    assert each.bandwidth_limit == 25_000_000
    # per process as they are; max_transfer is migrate's to count over them all
    assert (each.workers, each.max_duration, each.max_transfer) == (t.workers, None, 10_000)
    assert per_process(TransferSettings(processes=4)).bandwidth_limit is None
    assert per_process(TransferSettings(bandwidth_limit=7)) == TransferSettings(bandwidth_limit=7)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TransferSettings(workers=0), "workers must be at least 1, got 0"),
        (lambda: TransferSettings(processes=-1), 'processes must be "auto" or at least 1, got -1'),
        (lambda: TransferSettings(processes=65), "processes must be at most 64, got 65"),
        (lambda: TransferSettings(backoff_base=5, backoff_max=1), "backoff_max must be at least"),
        (lambda: TransferSettings(bandwidth_limit=0), "bandwidth_limit must be greater than 0"),
        (lambda: TargetSettings(url="https://h/artifactory"), "set one of password, token"),
        (
            lambda: TargetSettings(url="https://h", token=Secret("a"), api_key=Secret("b")),
            "only one of password, token, api_key",
        ),
        (lambda: TargetSettings(url="https://h", password=Secret("p")), "user is required"),
        (
            lambda: TargetSettings(url="https://h", token=Secret("a"), repo_key_template="{x}"),
            "unknown placeholder {x}",
        ),
        (
            lambda: TargetSettings(url="https://h", token=Secret("a"), repo_key_template="{repo"),
            "not a valid template",
        ),
        (lambda: SourceSettings(subject=" "), "subject must name"),
        (lambda: SourceSettings(subject="a", api_url="api.bintray.com"), "has no scheme"),
        (lambda: StoreSettings(url="postgresql://u:pw@h/db"), "must not contain a password"),
        (lambda: PermissionMapping(read=("reed",)), "unknown action 'reed'"),
    ],
)
def test_invalid_construction_raises_config_error(build: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        build()
    assert info.value.exit_code == EXIT_USAGE


def test_webdav_target_needs_no_credential() -> None:
    target = TargetSettings(
        type="webdav", url="http://127.0.0.1:8080/dav", repo_key_template="bt-{subject}-{repo}"
    )
    assert (target.type, target.repo_key_template) == ("webdav", "bt-{subject}-{repo}")


# --------------------------------------------------------------------------- loading


def test_minimal_file_loads_with_defaults_and_resolved_paths(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL), environ=ENV)
    assert settings.config_path == tmp_path / "config.toml"
    assert settings.base_dir == tmp_path
    assert settings.target.token == Secret(ENV["ARTIFACTORY_TOKEN"])
    assert settings.store.path == tmp_path / "transfer-state.db"
    assert settings.security.secrets_file == tmp_path / "transfer-secrets.json"
    assert settings.report.output_dir == tmp_path / "transfer-report"
    assert settings.transfer == TransferSettings()
    assert settings.warnings == ()


def test_sizes_durations_and_rates_are_read_for_humans(tmp_path: Path) -> None:
    text = MINIMAL + (
        '[transfer]\nbandwidth_limit = "50MB/s"\nmax_transfer = "10GiB"\nmax_duration = "1h30m"\n'
        'chunk_size = "256KiB"\nlease_seconds = "5m"\n'
        '[store]\npath = "../state/run.db"\n[logging]\njson_file = "logs/run.jsonl"\n'
    )
    settings = load_settings(write(tmp_path, text), environ=ENV)
    t = settings.transfer
    assert (t.bandwidth_limit, t.max_transfer, t.max_duration) == (50_000_000, 10 << 30, 5400.0)
    assert (t.chunk_size, t.lease_seconds) == (256 * 1024, 300.0)
    assert settings.store.path == tmp_path / "../state/run.db"
    assert settings.logging.json_file == tmp_path / "logs/run.jsonl"


def test_processes_are_a_number_or_auto(tmp_path: Path) -> None:
    assert TransferSettings().auto_processes  # the default
    for written, processes in (('"auto"', 0), ('"Auto"', 0), ("1", 1), ("3", 3)):
        text = MINIMAL + f"[transfer]\nprocesses = {written}\n"
        settings = load_settings(write(tmp_path, text), environ=ENV)
        assert settings.transfer.processes == processes
        assert settings.transfer.auto_processes == (processes == 0)
    message = load_error(tmp_path, MINIMAL + '[transfer]\nprocesses = "two"\n')
    assert message == 'transfer.processes must be "auto" or a whole number, got "two"'


def test_auto_processes_join_only_where_both_fit_in_a_quarter_of_memory() -> None:
    t = TransferSettings()  # 128 workers: 544 MiB each
    both = 2 * t.memory_estimate()
    assert t.room_for_auto_processes(4 * both)
    assert not t.room_for_auto_processes(4 * both - 1)
    assert t.room_for_auto_processes(None)
    # the estimate (and its warning) counts the one process "auto" starts with
    assert t.memory_estimate() == TransferSettings(processes=1).memory_estimate()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1048576", 1 << 20),
        ("10KiB", 10240),
        ("1.5 GB", 1_500_000_000),
        ("2mib", 2 << 20),
        ("7B", 7),
    ],
)
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_parse_size_and_duration_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        parse_size("10M")
    with pytest.raises(ValueError, match="is a rate"):
        parse_size("10MB/s")
    assert parse_size("10MB/s", rate=True) == 10_000_000
    with pytest.raises(ValueError, match="unknown unit"):
        parse_size("10 parsecs")
    assert parse_duration("2h") == 7200
    assert parse_duration("1h30m15s") == 5415
    assert parse_duration("500ms") == 0.5
    assert parse_duration(90) == 90
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("2 hours")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            MINIMAL.replace('token = "${ARTIFACTORY_TOKEN}"', 'pasword = "${ARTIFACTORY_TOKEN}"'),
            "unknown key 'target.pasword' — did you mean 'target.password'?",
        ),
        (MINIMAL + "[targt.timeouts]\nread = 1\n", "unknown key 'targt' — did you mean 'target'?"),
        (MINIMAL + "[transfer]\nworkrs = 2\n", "did you mean 'transfer.workers'?"),
        (MINIMAL + "[source.timeouts]\nconect = 2\n", "did you mean 'source.timeouts.connect'?"),
        (MINIMAL.replace("[source]", "workers = 2\n[source]"), "did you mean 'transfer.workers'?"),
        (
            MINIMAL + "[logging]\nzzz = 1\n",
            "unknown key 'logging.zzz'; [logging] accepts: level, json_file",
        ),
        (
            MINIMAL.replace("[target]", '[target]\nverify_tls = "yes"'),
            'target.verify_tls must be true or false, got "yes"',
        ),
        (
            MINIMAL.replace('subject = "acme"', 'subject = "acme"\napi_url = "api.bintray.com"'),
            "source.api_url 'api.bintray.com' has no scheme — did you mean 'https://api.bintray.com'?",
        ),
        (
            MINIMAL.replace('subject = "acme"', ""),
            "source.subject must name the Bintray organisation",
        ),
        ('[source]\nsubject = "a"\n', "missing required key 'target.url'"),
        (
            MINIMAL + "[transfer]\nworkers = 2.5\n",
            "transfer.workers must be a whole number, got 2.5",
        ),
        (MINIMAL + "[transfer]\nworkers = 0\n", "transfer.workers must be at least 1, got 0"),
        (
            MINIMAL + '[transfer]\nmax_transfer = "10G"\n',
            "transfer.max_transfer: '10G' is ambiguous",
        ),
        (MINIMAL + "[source.timeouts]\nread = 0\n", "source.timeouts.read must be greater than 0"),
        (
            MINIMAL + '[security.permissions]\nadmin = ["own"]\n',
            "security.permissions.admin has unknown",
        ),
        (
            MINIMAL.replace("[target]", '[target]\nconflict = "overwrit"'),
            'target.conflict must be one of "report", "skip", "overwrite", "fail", got "overwrit"'
            ' — did you mean "overwrite"?',
        ),
        (MINIMAL.replace('"acme"', '"acme'), "invalid TOML: "),
        (MINIMAL + 'source = "x"\n', "unknown key 'target.source'"),
        (
            MINIMAL + "[source.repos]\n",
            'source.repos must be a list of strings like ["*"], got a table',
        ),
        ('source = "x"\n', 'source must be a table ([source]), got "x"'),
        (MINIMAL + "[source]\n", "invalid TOML"),
        (
            MINIMAL.replace("${ARTIFACTORY_TOKEN}", "${MISSING_TOKEN}"),
            "target.token refers to ${MISSING_TOKEN}, but the environment variable MISSING_TOKEN"
            " is not set",
        ),
        (
            MINIMAL.replace("${ARTIFACTORY_TOKEN}", "${ARTIFACTORY_TOKEN"),
            "has a '${' without a closing",
        ),
        (MINIMAL + '[store]\nurl = "postgresql://u:inline@db/x"\n', "use PGPASSWORD or ${VAR}"),
        (MINIMAL + '[store]\nurl = "postgresql://u@db/x"\npath = "x.db"\n', "not both"),
        (
            MINIMAL.replace("token =", 'token_file = "t"\ntoken ='),
            "set target.token or target.token_file",
        ),
        (
            MINIMAL.replace("token =", 'token_file = "nope.txt"\n#'),
            "cannot read target.token_file",
        ),
        (
            MINIMAL.replace('"https://example.jfrog.io', '"https://me:pw@example.jfrog.io'),
            "target.url must not contain credentials",
        ),
    ],
)
def test_every_mistake_gets_a_one_line_message(tmp_path: Path, extra: str, message: str) -> None:
    assert message in load_error(tmp_path, extra)


def test_toml_errors_carry_line_and_column(tmp_path: Path) -> None:
    message = load_error(tmp_path, MINIMAL + "[transfer]\nworkers = = 3\n")
    assert re.search(r"line 7, column \d+", message), message


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.toml"):
        load_settings(tmp_path / "nope.toml", environ=ENV)
    with pytest.raises(ConfigError, match=r"cannot use config file .* a directory"):
        load_settings(tmp_path, environ=ENV)


def test_secret_values_never_appear_in_errors(tmp_path: Path) -> None:
    message = load_error(tmp_path, MINIMAL.replace('"${ARTIFACTORY_TOKEN}"', "12345678"))
    assert message == 'target.token must be a string such as "${VAR}"'
    message = load_error(tmp_path, MINIMAL + '[store]\nurl = "postgresql://u:Sup3rS3cret@db/x"\n')
    assert "Sup3rS3cret" not in message


def test_inline_secret_is_allowed_with_a_warning(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, MINIMAL.replace("${ARTIFACTORY_TOKEN}", "inline-tok")), environ={}
    )
    assert settings.target.token == Secret("inline-tok")
    assert len(settings.warnings) == 1
    assert "target.token is written inline" in settings.warnings[0]
    assert "${VAR}" in settings.warnings[0]
    assert "inline-tok" not in settings.warnings[0]


def test_secret_from_file_and_its_mode(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token"
    key.parent.mkdir()
    key.write_text("file-token-value\n", encoding="utf-8")
    key.chmod(0o600)
    text = MINIMAL.replace('token = "${ARTIFACTORY_TOKEN}"', 'token_file = "secrets/token"')
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.target.token == Secret("file-token-value")
    assert settings.warnings == ()
    if os.name == "posix":
        key.chmod(0o644)
        settings = load_settings(write(tmp_path, text), environ={})
        assert any("can be read by other users" in w for w in settings.warnings)
    key.write_text("\n", encoding="utf-8")
    assert "target.token is empty" in load_error(tmp_path, text, environ={})


def test_env_substitution_anywhere_and_escape(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'subject = "acme"', 'subject = "${ORG}"\nrepos = ["${ORG}-*", "$${literal}"]'
    )
    text += '[transfer]\nworkers = "${WORKERS}"\n[target.timeouts]\nread = "${READ}"\n'
    settings = load_settings(
        write(tmp_path, text), environ={**ENV, "ORG": "acme", "WORKERS": "3", "READ": "2m"}
    )
    assert settings.source.subject == "acme"
    assert settings.source.repos == ("acme-*", "${literal}")
    assert settings.transfer.workers == 3
    assert settings.target.timeouts.read == 120
    bad = load_error(tmp_path, text, environ={**ENV, "ORG": "a", "WORKERS": "many", "READ": "1"})
    assert bad == 'transfer.workers must be a whole number, got "many" from ${WORKERS}'


def test_postgres_password_comes_from_the_environment(tmp_path: Path) -> None:
    text = MINIMAL + '[store]\nurl = "postgresql://migrator:${PGPASS}@db.example:5432/transfer"\n'
    settings = load_settings(write(tmp_path, text), environ={**ENV, "PGPASS": "p@ss/w:rd"})
    assert settings.store.url == "postgresql://migrator@db.example:5432/transfer"
    assert settings.store.password == Secret("p@ss/w:rd")
    assert settings.store.backend == "postgres"
    assert "p@ss" not in json.dumps(settings.redacted_dict())


def test_overrides_replace_file_values_and_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    settings = load_settings(
        path,
        environ=ENV,
        overrides={
            "transfer.workers": 2,
            "transfer": {"max_duration": "30m"},
            "logging.level": None,
        },
    )
    assert (settings.transfer.workers, settings.transfer.queue_size) == (2, 4)
    assert settings.transfer.max_duration == 1800
    assert settings.logging.level == "info"
    with pytest.raises(ConfigError, match=r"did you mean 'transfer\.workers'"):
        load_settings(path, environ=ENV, overrides={"transfer.worker": 2})


def test_verify_tls_off_and_odd_target_url_are_warned(tmp_path: Path) -> None:
    text = MINIMAL.replace("/artifactory", "").replace("[target]", "[target]\nverify_tls = false")
    warnings = load_settings(write(tmp_path, text), environ=ENV).warnings
    assert any("verify_tls = false" in w for w in warnings)
    assert any("does not end in /artifactory" in w for w in warnings)


# ---------------------------------------------------------------------- fingerprint & redaction


def _settings(**changes: Any) -> Settings:
    data: dict[str, Any] = {
        "source": {"subject": "acme", "api_key": Secret("bt-key-1")},
        "target": {"url": "https://h/artifactory", "token": Secret("tok-1")},
    }
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        data.setdefault(section, {})[key] = value
    return settings_from_mapping(data, base_dir=Path("/srv"), environ={})


def test_fingerprint_tracks_what_is_transferred_not_how() -> None:
    base = _settings().fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert _settings().fingerprint() == base
    assert _settings(transfer__workers=2).fingerprint() == base
    assert _settings(target__token=Secret("tok-2")).fingerprint() == base
    assert _settings(source__api_key=Secret("other")).fingerprint() == base
    assert _settings(source__repos=["libs-*"]).fingerprint() != base
    assert _settings(source__subject="other").fingerprint() != base
    assert _settings(target__url="https://other/artifactory").fingerprint() != base
    assert _settings(target__repo_key_template="bt-{repo}").fingerprint() != base


def test_redacted_dict_shows_every_setting_but_no_secret() -> None:
    settings = _settings(store__password=Secret("pg-pass-1"))
    data = settings.redacted_dict()
    text = json.dumps(data)
    for secret in ("bt-key-1", "tok-1", "pg-pass-1"):
        assert secret not in text
    assert (
        data["target"]["token"] == data["source"]["api_key"] == data["store"]["password"] == "***"
    )
    assert data["transfer"]["workers"] == 128
    assert data["store"]["path"] == "/srv/transfer-state.db"
    assert {s.reveal() for s in settings.secrets()} == {"bt-key-1", "tok-1", "pg-pass-1"}


# --------------------------------------------------------------------------- the example file


def test_example_config_loads_and_states_the_defaults(tmp_path: Path) -> None:
    environ = {f"TRANSFER_{name}": value for name, value in ENV.items()}
    settings = load_settings(EXAMPLE, environ=environ)
    assert settings.warnings == ()
    assert settings.source.api_key == Secret(ENV["BINTRAY_API_KEY"])
    assert settings.target.token == Secret(ENV["ARTIFACTORY_TOKEN"])
    # Apart from the required keys, the example says exactly what the defaults are.
    assert settings.transfer == TransferSettings()
    assert settings.security == dataclasses.replace(
        SecuritySettings(), secrets_file=EXAMPLE.parent / "transfer-secrets.json"
    )
    assert settings.report == ReportSettings(output_dir=EXAMPLE.parent / "transfer-report")
    assert settings.logging == LoggingSettings()
    assert settings.store == StoreSettings(path=EXAMPLE.parent / "transfer-state.db")
    defaults = SourceSettings(subject="acme", api_key=settings.source.api_key)
    assert settings.source == defaults
    assert settings.target == TargetSettings(url=settings.target.url, token=settings.target.token)


def test_example_config_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    tomllib.loads(text)
    section = ""
    documented: set[str] = set()
    for line in text.splitlines():
        if header := re.fullmatch(r"\[([a-z_.]+)\]", line.strip()):
            section = header[1]
            documented.add(section)
        elif key := re.match(r"#?\s*([a-z_]+)\s*=\s*\S.*#\s*\S", line):
            documented.add(f"{section}.{key[1]}")
    secret_files = {k for k in known_keys() if k.endswith("_file") and k != "logging.json_file"}
    missing = set(known_keys()) - documented - secret_files
    assert not missing, f"config.example.toml does not document: {sorted(missing)}"
    assert "target.token_file" in documented
