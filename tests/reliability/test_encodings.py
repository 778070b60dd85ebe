"""Property-based round trips through the Artifactory client against the emulator: any path the
planner calls safe lands at exactly that path, and any property set (matrix parameters when
plain, ``PATCH /api/metadata`` otherwise) reads back exactly as sent."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transfer.errors import RemoteError
from transfer.models import Checksums
from transfer.pipeline.planner import unsafe_path_reason
from transfer.redaction import Secret
from transfer.sandbox.artifactory.properties import FORBIDDEN_KEY_CHARS
from transfer.sandbox.serve import Sandbox
from transfer.targets.artifactory import ArtifactoryTarget
from transfer.targets.artifactory_paths import MAX_PROPERTY_VALUE_LENGTH

pytestmark = pytest.mark.anyio

REPO = "encodings"
_counter = itertools.count()
_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
async def target() -> AsyncIterator[tuple[Sandbox, ArtifactoryTarget]]:
    async with Sandbox("tiny") as sandbox:
        sandbox.artifactory.create_repository(REPO, "generic")
        e = sandbox.endpoints
        client = ArtifactoryTarget(
            e.artifactory_url, e.artifactory_user, password=Secret(e.artifactory_password)
        )
        async with client:
            yield sandbox, client


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _sums(body: bytes) -> Checksums:
    return Checksums(sha1=hashlib.sha1(body).hexdigest(), sha256=hashlib.sha256(body).hexdigest())


async def _deploy(client: ArtifactoryTarget, path: str, body: bytes, props: dict) -> None:  # type: ignore[type-arg]
    """What the copy worker does: deploy with properties, then PATCH what was deferred."""
    stored = await client.deploy(
        REPO, path, _chunks(body), size=len(body), checksums=_sums(body), properties=props
    )
    if stored.deferred_properties:
        await client.set_properties(REPO, path, stored.deferred_properties)


segment_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="/")
segments = st.text(segment_chars, min_size=1, max_size=20)


@_SETTINGS
@given(st.lists(segments, min_size=1, max_size=5))
async def test_safe_paths_land_exactly_where_sent(
    target: tuple[Sandbox, ArtifactoryTarget], parts: list[str]
) -> None:
    sandbox, client = target
    path = "/".join([f"p{next(_counter)}", *parts])
    if unsafe_path_reason(path) is not None:
        return  # the planner refuses it before any request (tests/reliability/test_unsafe_paths)
    body = path.encode("utf-8", "surrogatepass")
    await _deploy(client, path, body, {})
    stored = sandbox.artifactory.item(REPO, path)
    assert stored is not None, path
    assert stored.path == path
    assert stored.sha256 == hashlib.sha256(body).hexdigest()
    found = await client.probe(REPO, path)
    assert found is not None
    assert found.checksums.sha256 == stored.sha256


keys = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc", "Zs"), blacklist_characters="".join(FORBIDDEN_KEY_CHARS)
    ),
    min_size=1,
    max_size=12,
)
values = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(st.sampled_from("abc;,|=\\ %+/&?#"), max_size=12),
    st.text(
        alphabet="xyz", min_size=MAX_PROPERTY_VALUE_LENGTH - 2, max_size=MAX_PROPERTY_VALUE_LENGTH
    ),
)
property_sets = st.dictionaries(
    keys, st.lists(values, min_size=1, max_size=3, unique=True), max_size=4
)


@_SETTINGS
@given(property_sets)
async def test_properties_read_back_exactly(
    target: tuple[Sandbox, ArtifactoryTarget], props: dict[str, list[str]]
) -> None:
    sandbox, client = target
    path = f"props/{next(_counter)}.bin"
    body = path.encode()
    try:
        await _deploy(client, path, body, props)
    except RemoteError as error:  # the only refusal allowed is a clear 400 naming the key
        pytest.fail(f"{props!r} refused: {error}")
    assert sandbox.artifactory.properties(REPO, path) == props
    assert await client.get_properties(REPO, path) == props
    # A checksum deploy (body-less PUT) of the same bytes carries the same properties.
    linked = f"props/{next(_counter)}-linked.bin"
    found = await client.checksum_deploy(REPO, linked, _sums(body), props)
    assert found is not None
    if found.deferred_properties:
        await client.set_properties(REPO, linked, found.deferred_properties)
    assert sandbox.artifactory.properties(REPO, linked) == props


async def test_deleting_several_properties_removes_each(
    target: tuple[Sandbox, ArtifactoryTarget],
) -> None:
    # The emulator once stopped at the first key it removed (any() over a generator).
    sandbox, client = target
    path = "props/delete-several.bin"
    await _deploy(client, path, b"x", {"k1": ["1"], "k2": ["2"], "k3": ["3"]})
    await client._client.request(
        "DELETE",
        f"api/storage/{REPO}/{path}",
        params={"properties": "k1,k3,absent"},
        expected=(204,),
    )
    assert sandbox.artifactory.properties(REPO, path) == {"k2": ["2"]}
