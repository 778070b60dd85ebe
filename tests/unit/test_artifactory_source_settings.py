"""``[source] type = "artifactory"``: what it needs, what it defaults, and one line for each
mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from transfer.config_load import load_settings
from transfer.errors import ConfigError

ENV = {"SRC": "source-token-123", "DST": "target-token-456", "PW": "pass-word-789"}
TARGET = '[target]\nurl = "https://example.jfrog.io/artifactory"\ntoken = "${DST}"\n'


def _load(tmp_path: Path, source: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text(f'[source]\ntype = "artifactory"\n{source}\n{TARGET}', encoding="utf-8")
    return load_settings(path, environ=ENV)


def test_a_token_and_a_url_are_enough(tmp_path: Path) -> None:
    settings = _load(tmp_path, 'url = "https://art.example.com/artifactory/"\ntoken = "${SRC}"')
    source = settings.source
    assert source.url == "https://art.example.com/artifactory"
    assert source.subject == "artifactory"
    assert source.token is not None
    assert source.token.reveal() == "source-token-123"
    assert source.aql_page_size == 5000
    assert "source-token-123" not in repr(settings)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('token = "${SRC}"', 'source.url is required with type = "artifactory"'),
        ('url = "art.example.com"\ntoken = "${SRC}"', "source.url 'art.example.com' has no scheme"),
        ('url = "https://a.example/artifactory"', "source: set one of token, password"),
        (
            'url = "https://a.example/artifactory"\ntoken = "${SRC}"\npassword = "${PW}"',
            "source: set one of token, password",
        ),
        ('url = "https://a.example/artifactory"\npassword = "${PW}"', "source.user is required"),
        (
            'url = "https://a.example/artifactory"\ntoken = "${SRC}"\naql_page_size = 0',
            "source.aql_page_size must be at least 1",
        ),
    ],
)
def test_each_mistake_is_one_line(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, source)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
