"""Attribute names and values that cannot be represented as Artifactory properties never cost
the file: it migrates (bytes verified), every property that can move is on it, and what could
not move is in the report with what to do instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reliability_kit import impossible_states, migrate_once, sandbox_settings, target_differences

from transfer.models import ItemState
from transfer.runner import report
from transfer.sandbox.orgdata import Attribute
from transfer.sandbox.serve import Sandbox

pytestmark = pytest.mark.anyio

AWKWARD = [
    Attribute("", "string", ["nameless"]),  # no name at all
    Attribute("  ", "string", ["blank name"]),  # whitespace only
    Attribute("build #(1)", "string", ["renamed"]),  # forbidden key characters
    Attribute("nul\x00key", "string", ["control character in the name"]),
    Attribute("nul.value", "string", ["a\x00b", "tab\there"]),
    Attribute("nested", "string", [{"a": [1, 2]}, [3, 4]]),  # not a scalar
    Attribute("huge", "string", ["x" * 5000]),  # longer than any property may be
    Attribute("plain", "string", ["fine"]),
]


async def test_unrepresentable_attributes_do_not_fail_the_file(tmp_path: Path) -> None:
    async with Sandbox("tiny") as sandbox:
        file = next(f for f in sandbox.org.iter_files() if f.repo == "releases" and f.size > 0)
        file.attributes.extend(AWKWARD)
        settings = sandbox_settings(sandbox, tmp_path)
        summary = await migrate_once(settings)
        assert summary.counts is not None
        assert summary.counts[ItemState.FAILED].items == 0, summary.as_dict()
        assert summary.counts[ItemState.DONE].items == summary.counts.total.items
        assert target_differences(sandbox) == []
        assert impossible_states(settings.store.path) == []
        props = sandbox.artifactory.properties(file.repo, file.path)
        assert props["plain"] == ["fine"]
        assert props["build___1_"] == ["renamed"]
        assert props["nul_key"] == ["control character in the name"]
        assert props["nul.value"] == ["a\x00b", "tab\there"]  # JSON carries any character
        assert props["nested"] == ['{"a": [1, 2]}', "[3, 4]"]
        assert "huge" not in props
        assert all(key.strip() for key in props)  # no empty key was ever sent
        paths = await report(settings)
        text = json.dumps(json.loads(paths.json.read_text()))
        assert "huge" in text
        assert "build #(1)" in text
        print(f"\n{file.repo}/{file.path} properties: {sorted(props)}")
