"""Attribute search clauses of the Bintray emulator (reference 7.3), without sockets."""

from __future__ import annotations

from typing import Any

import pytest

from transfer.sandbox.bintray.attrsearch import matches, parse_query
from transfer.sandbox.bintray.state import ApiError
from transfer.sandbox.orgdata import Attribute

ATTRS = [
    Attribute("build", "number", [12]),
    Attribute("released", "date", ["2019-06-01T00:00:00.000Z"]),
    Attribute("os", "string", ["linux", "mac"]),
]


@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        ({"build": "[12,12]"}, True),
        ({"build": "]12,20]"}, False),
        ({"build": "[1,12["}, False),
        ({"build": "[,]"}, True),
        ({"build": "[9,100]"}, True),  # numbers compare as numbers, not as text
        ({"released": "]2019-01-01T00:00:00.000Z,]"}, True),
        ({"released": "[,2019-01-01T00:00:00.000Z]"}, False),
        ({"os": ["linux"]}, True),
        ({"os": ["linux", "win"]}, False),  # an array attribute must contain every value
        ({"build": [3, 12]}, True),  # a scalar attribute matches any of them
        ({"os": "mac"}, True),
        ({"os": "win"}, False),
        ({"missing": "x"}, False),
    ],
)
def test_one_clause(wanted: dict[str, Any], found: bool) -> None:
    assert matches(ATTRS, parse_query([wanted])) is found


def test_clauses_are_anded() -> None:
    assert matches(ATTRS, parse_query([{"os": "mac"}, {"build": "[10,]"}]))
    assert not matches(ATTRS, parse_query([{"os": "mac"}, {"build": "[13,]"}]))


@pytest.mark.parametrize("body", [None, {}, [], [{}], [{"a": 1, "b": 2}], ["a"]])
def test_malformed_queries(body: Any) -> None:
    with pytest.raises(ApiError) as raised:
        parse_query(body)
    assert raised.value.status == 400
