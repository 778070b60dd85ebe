"""How attributes and Bintray metadata become property keys and values: pure rules."""

from __future__ import annotations

from typing import Any

import pytest

from transfer.migrate.properties import (
    MAX_PROPERTY_VALUE_LENGTH,
    PROPERTY_RULES,
    attribute_properties,
    attribute_values,
    debian_properties,
    file_properties,
    package_properties,
    property_key,
    split_long,
    version_properties,
)
from transfer.migrate.unmigratable import download_statistics_entry, product_entries
from transfer.models import SourceFile
from transfer.sources.base import SourceAttribute, SourcePackage, SourceRepository, SourceVersion


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("string", ["a", "a", "b;c,d|e=f\\g"], ["a", "b;c,d|e=f\\g"]),
        ("number", [42, 0.5, 3.0], ["42", "0.5", "3"]),
        ("boolean", [True, False], ["true", "false"]),
        ("date", ["2019-01-02T03:04:05.678Z"], ["2019-01-02T03:04:05.678Z"]),
        ("string", [None, "line\nbreak", "日本 🚀"], ["line\nbreak", "日本 🚀"]),
    ],
)
def test_typed_values_become_strings(kind: str, values: list[Any], expected: list[str]) -> None:
    assert attribute_values(SourceAttribute("a", kind, tuple(values))) == expected


def test_keys_lose_characters_artifactory_forbids() -> None:
    assert property_key("release.channel") == "release.channel"
    assert property_key("_hidden-ok_1") == "_hidden-ok_1"
    assert property_key("a b/c=d,e;f@g") == "a_b_c_d_e_f_g"
    attrs = [SourceAttribute("x y", "string", ("1",)), SourceAttribute("empty", "string", ())]
    assert attribute_properties(attrs) == {"x_y": ["1"]}


def test_package_version_and_file_fields_under_the_bintray_prefix() -> None:
    package = SourcePackage(
        repo="r",
        name="core",
        versions=("1",),
        raw={
            "desc": "Core",
            "labels": ["a", "b"],
            "licenses": ["Apache-2.0"],
            "custom_licenses": [],
            "vcs_url": "https://v",
            "website_url": None,
            "issue_tracker_url": "",
            "github_repo": "acme/core",
            "maturity": "Stable",
            "followers_count": 3,
            "owner": "acme",
            "created": "2016-03-04T05:06:07.890Z",
            "updated": "2019-01-02T03:04:05.678Z",
        },
    )
    assert package_properties(package) == {
        "bintray.package.name": ["core"],
        "bintray.package.desc": ["Core"],
        "bintray.package.labels": ["a", "b"],
        "bintray.package.licenses": ["Apache-2.0"],
        "bintray.package.vcs_url": ["https://v"],
        "bintray.package.github_repo": ["acme/core"],
        "bintray.package.maturity": ["Stable"],
        "bintray.package.owner": ["acme"],
        "bintray.package.created": ["2016-03-04T05:06:07.890Z"],
        "bintray.package.updated": ["2019-01-02T03:04:05.678Z"],
    }
    version = SourceVersion(
        repo="r",
        package="core",
        name="1.0",
        published=True,
        raw={
            "desc": None,
            "vcs_tag": "v1.0",
            "released": "",
            "labels": ["rc"],
            "created": "2019-01-02T03:04:05.678Z",
            "updated": None,
        },
    )
    assert version_properties(version) == {
        "bintray.version.name": ["1.0"],
        "bintray.version.vcs_tag": ["v1.0"],
        "bintray.version.labels": ["rc"],
        "bintray.version.created": ["2019-01-02T03:04:05.678Z"],
    }
    file = SourceFile(
        repo="r",
        package="core",
        version="1.0",
        path="core-1.0.jar",
        size=1,
        extra={"name": "core-1.0.jar", "owner": "acme", "created": "2019-01-02T03:04:06.000Z"},
    )
    assert file_properties(file) == {
        "bintray.file.created": ["2019-01-02T03:04:06.000Z"],
        "bintray.file.owner": ["acme"],
    }
    documented = {rule.key for rule in PROPERTY_RULES}
    assert set(package_properties(package)) <= documented
    assert set(version_properties(version)) <= documented
    assert set(file_properties(file)) <= documented


def _deb_repo(**raw: Any) -> SourceRepository:
    return SourceRepository("debs", "debian", False, "", (), raw={"type": "deb", **raw})


def _file(path: str, **extra: Any) -> SourceFile:
    return SourceFile(repo="debs", package="p", version="1", path=path, size=1, extra=extra)


def test_debian_coordinates_from_file_then_path_then_defaults() -> None:
    repo = _deb_repo(
        default_debian_distribution="focal",
        default_debian_component="main",
        default_debian_architecture="amd64,i386",
    )
    pool = _file("pool/contrib/w/widget/widget_1.0-1_arm64.deb")
    assert debian_properties(repo, pool) == {
        "deb.distribution": ["focal"],
        "deb.component": ["contrib"],
        "deb.architecture": ["arm64"],
    }
    flat = _file("widget.deb", deb_distribution="jammy,focal")
    assert debian_properties(repo, flat) == {
        "deb.distribution": ["jammy", "focal"],
        "deb.component": ["main"],
        "deb.architecture": ["amd64", "i386"],
    }
    assert debian_properties(repo, _file("dists/focal/Release")) == {}
    generic = SourceRepository("g", "generic", False, "", ())
    assert debian_properties(generic, pool) == {}


def test_values_over_the_limit_are_left_out_never_cut() -> None:
    at_limit = "x" * MAX_PROPERTY_VALUE_LENGTH
    over = "y" * (MAX_PROPERTY_VALUE_LENGTH + 1)
    sendable, too_long = split_long({"ok": [at_limit], "long": ["short", over]})
    assert sendable == {"ok": [at_limit]}
    assert too_long == {"long": MAX_PROPERTY_VALUE_LENGTH + 1}


def test_products_and_statistics_entries_say_what_to_do() -> None:
    [entry] = product_entries(
        [{"name": "suite", "display_name": "Suite", "packages": ["r/a", "s/b"], "versions": ["1"]}]
    )
    assert entry.key == "product/suite"
    assert "r/a" in entry.what
    assert "s/b" in entry.what
    assert entry.instead
    assert entry.as_detail()["packages"] == ["r/a", "s/b"]
    stats = download_statistics_entry([SourceRepository("r", "generic", False, "", ())])
    assert stats.category == "statistics"
    assert stats.detail["repositories"] == ["r"]
