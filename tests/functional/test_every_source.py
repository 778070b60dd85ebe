"""The scenarios every source must pass, run over each (``migration_cases.MIGRATION_CASES``):
a whole migration then ``verify`` clean; a re-run sends nothing; a changed source file is the
only upload of the next run, under default settings (the copy the earlier run wrote is ours to
replace).  SIGKILLs at random moments: ``tests/reliability/test_torture.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from migration_cases import MIGRATION_CASES, differences, uploads_to

from transfer.config_load import load_settings
from transfer.models import ItemState
from transfer.pipeline.engine import StopControl
from transfer.reporting.events import EventBus
from transfer.runner import PHASES, MigrationSummary, migrate, verify
from transfer.settings import Settings

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _migrate(settings: Settings) -> MigrationSummary:
    return await migrate(settings, bus=EventBus(), stop=StopControl(), phases=PHASES)


@pytest.mark.parametrize("source", sorted(MIGRATION_CASES))
async def test_migrate_verify_rerun_and_change(tmp_path: Path, source: str) -> None:
    async with MIGRATION_CASES[source](1) as case:
        config, env = case.write_config(tmp_path)
        settings = load_settings(config, environ=env)

        first = await _migrate(settings)
        assert first.counts is not None
        assert first.counts[ItemState.DONE].items == len(case.files)
        assert differences(case.target, case.files) == []
        audit = await verify(settings)
        assert audit.clean
        assert audit.same == len(case.files)

        sent = len(uploads_to(case.target))
        puts = case.target.request_log.count(method="PUT")
        await _migrate(settings)
        assert len(uploads_to(case.target)) == sent  # no bytes again
        assert case.target.request_log.count(method="PUT") == puts  # and nothing else written

        # The target holds the copy the first run wrote of the changed file: ours to replace,
        # with the default settings (every path probed, conflicts reported).
        repo, path = await case.change_file()
        third = await _migrate(settings)
        assert third.counts is not None
        assert third.counts[ItemState.DONE].items == len(case.files)
        fresh = uploads_to(case.target)[sent:]
        assert [r.path.split("/artifactory/", 1)[1] for r in fresh] == [f"{repo}/{path}"]
        assert differences(case.target, case.files) == []
        assert (await verify(settings)).clean
