"""The command line as users meet it: exit codes, one-line errors, no tracebacks, no secrets."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from transfer.sandbox.serve import Sandbox, config_environment, write_config

pytestmark = pytest.mark.anyio
REPO_ROOT = Path(__file__).resolve().parents[2]


async def transfer(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = await anyio.run_process(
        [sys.executable, "-m", "transfer", *args],
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def cli_config(sandbox: Sandbox, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A config file for ``sandbox`` (store under ``tmp_path``) and the environment it needs."""
    config = tmp_path / "transfer.toml"
    write_config(sandbox.endpoints, config, store_path=str(tmp_path / "state.db"))
    return config, config_environment(config)


async def test_help_lists_commands_and_exit_codes() -> None:
    code, out, _ = await transfer("--help")
    assert code == 0
    for command in ("demo", "sandbox", "plan", "migrate", "status", "verify", "report"):
        assert command in out
    assert "exit codes" in out


# A signal that arrives while the command still imports the engine: the hook sends it at the
# import of ``transfer``, deterministically inside the window a loaded machine makes long.
# SIGINT gets Python's own handler first, as a start from a terminal gives it: a suite started
# in the background by a non-interactive shell passes SIGINT down ignored.
_SIGNAL_DURING_IMPORT = """
import builtins, os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
real_import = builtins.__import__
signum = getattr(signal, sys.argv[1])
def hooked(name, *args, **kwargs):
    if name == "transfer":
        builtins.__import__ = real_import
        os.kill(os.getpid(), signum)
    return real_import(name, *args, **kwargs)
builtins.__import__ = hooked
sys.argv = ["transfer", "--help"]
import cli
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
async def test_a_signal_during_start_up_exits_4_without_a_traceback(signal_name: str) -> None:
    result = await anyio.run_process(
        [sys.executable, "-c", _SIGNAL_DURING_IMPORT, signal_name], cwd=REPO_ROOT, check=False
    )
    err = result.stderr.decode()
    assert result.returncode == 4, err
    assert "Traceback" not in err
    assert err.strip() == "transfer: interrupted before it began; run the same command again"


async def test_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    code, out, err = await transfer("migrate", "-c", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "config file not found" in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


async def test_misspelt_key_suggests_the_right_one(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text(
        '[source]\nsubject = "acme"\n[target]\nurl = "http://127.0.0.1:1/artifactory"\n'
        'user = "a"\npasword = "x"\n'
    )
    code, _, err = await transfer("status", "-c", str(config))
    assert code == 2
    assert "did you mean 'target.password'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("side", ["bintray", "artifactory"])
async def test_bad_credentials_exit_3_with_one_clear_line(tmp_path: Path, side: str) -> None:
    async with Sandbox("tiny") as sandbox:
        config = tmp_path / "transfer.toml"
        write_config(sandbox.endpoints, config, store_path=str(tmp_path / "state.db"))
        environ = config_environment(config)
        name = "TRANSFER_BINTRAY_API_KEY" if side == "bintray" else "TRANSFER_ARTIFACTORY_PASSWORD"
        environ[name] = "wrong-secret-value"
        code, out, err = await transfer(
            "migrate", "-c", str(config), "--only", "artifacts", "--no-progress", env=environ
        )
        assert code == 3, err
        assert "Traceback" not in err + out
        errors = [line for line in err.splitlines() if line.startswith("transfer: error:")]
        assert len(errors) == 1
        assert "401" in errors[0] or "credentials" in errors[0].lower()
        assert "wrong-secret-value" not in err + out


async def test_unreachable_target_exit_3(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config = tmp_path / "transfer.toml"
        write_config(sandbox.endpoints, config, store_path=str(tmp_path / "state.db"))
        text = config.read_text().replace(
            sandbox.endpoints.artifactory_url, "http://127.0.0.1:9/artifactory"
        )
        config.write_text(text)
        code, out, err = await transfer(
            "migrate", "-c", str(config), "--no-progress", env=config_environment(config)
        )
        assert code == 3, err
        assert "Traceback" not in err + out


async def test_migrate_status_report_verify_through_the_cli(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = cli_config(sandbox, tmp_path)
        code, out, err = await transfer("migrate", "-c", str(config), "--no-progress", env=env)
        assert code == 0, err
        total = sum(1 for _ in sandbox.org.iter_files())
        assert f"files: {total} done" in out
        code, out, _ = await transfer("status", "-c", str(config), env=env)
        assert code == 0
        assert f"{total}/{total} files done" in out
        assert f"discovery complete: {total} files discovered, {total} copied" in out
        assert "bottleneck: none" in out
        code, out, _ = await transfer("verify", "-c", str(config), env=env)
        assert code == 0, out
        assert f"same: {total}" in out
        code, out, _ = await transfer(
            "report", "-c", str(config), "--out", str(tmp_path / "r"), env=env
        )
        assert code == 0
        assert (tmp_path / "r" / "report.md").exists()
        assert (tmp_path / "r" / "report.html").exists()
        # the live page: loopback unless asked; a network address is refused in one line
        code, out, err = await transfer(
            "status", "-c", str(config), "--serve", "0.0.0.0:8080", env=env
        )
        assert code == 2
        assert "--allow-remote" in err
        assert len(err.strip().splitlines()) == 1
        assert (tmp_path / "r" / "failures.csv").read_text().startswith("repo,package")


async def test_plan_shows_pom_checks_and_linked_packages(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        config, env = cli_config(sandbox, tmp_path)
        code, out, err = await transfer("plan", "-c", str(config), "--no-progress", env=env)
    assert code == 0, err
    assert "releases → releases: create, packageType maven" in out
    assert "POM consistency checks off" in out
    assert "1 linked packages: copied once, into their owning repository" in out
    assert "2 check checksum file" in out  # core-lib's .jar.sha1 and .pom.md5: never sent
    # Bintray's history in the property mapping: when, and who owns it
    assert "file created                     → bintray.file.created (as Bintray wrote it" in out
    assert "→ bintray.file.owner (owning user or organisation (Bintray names no uploader))" in out


async def test_the_directory_example_runs_as_the_readme_says(tmp_path: Path) -> None:
    code, out, err = await transfer("sandbox", "tree", str(tmp_path / "backup"))
    assert code == 0, err
    assert "wrote 12 files" in out
    code, _, err = await transfer("sandbox", "tree", str(tmp_path / "backup"))
    assert code == 2
    assert "not an empty folder" in err
    assert "Traceback" not in err
    async with Sandbox("tiny") as sandbox:
        e = sandbox.endpoints
        example = (REPO_ROOT / "examples" / "directory.toml").read_text()
        assert 'url = "http://127.0.0.1:8081/artifactory"' in example
        config = tmp_path / "examples" / "directory.toml"
        config.parent.mkdir()
        config.write_text(example.replace("http://127.0.0.1:8081/artifactory", e.artifactory_url))
        env = {"TRANSFER_ARTIFACTORY_PASSWORD": e.artifactory_password, "PATH": ""}
        code, out, err = await transfer("plan", "-c", str(config), "--no-progress", env=env)
        assert code == 0, err
        assert "source: 12 files" in out
        assert "left out: tools/escape — symbolic link (never followed)" in out
        code, out, err = await transfer("migrate", "-c", str(config), "--no-progress", env=env)
        assert code == 0, err + out
        assert "files: 12 done" in out
        code, out, _ = await transfer("verify", "-c", str(config), env=env)
        assert code == 0, out
        assert "same: 12" in out
        assert (tmp_path / "directory-state.db").exists()


async def test_demo_from_an_artifactory_source_migrates_verifies_and_reports(
    tmp_path: Path,
) -> None:
    code, out, err = await transfer(
        "demo", "--source", "artifactory", "--workdir", str(tmp_path), "--no-progress"
    )
    assert code == 0, err[-2000:]
    assert "source Artifactory" in out
    assert "security: created 3 users, 2 groups, 2 permission targets" in out
    assert ", 0 missing, 0 different" in out
    assert (tmp_path / "transfer-report" / "report.md").exists()
    assert "Traceback" not in err
    # the config refers to the secrets; they live in the 0600 env file only
    config = (tmp_path / "transfer.toml").read_text()
    assert 'type = "artifactory"' in config
    assert "source-Passw0rd!" not in config + out


async def test_plan_with_an_artifactory_source_lists_the_copied_repositories(
    tmp_path: Path,
) -> None:
    from transfer.sandbox.artifactory_pair import ArtifactoryPair, write_pair_config

    async with ArtifactoryPair(seed=2) as pair:
        config = tmp_path / "a2a.toml"
        write_pair_config(pair.endpoints, config, store_path=str(tmp_path / "state.db"))
        code, out, err = await transfer(
            "plan", "-c", str(config), "--no-progress", env=config_environment(config)
        )
    assert code == 0, err[-2000:]
    assert "libs-release-local → libs-release-local: create" in out
    assert "user alice" in out
    assert "permission target dev-write" in out
