"""The elements of one array in a JSON object, decoded as the body arrives.

Artifactory answers a deep ``?list`` of a repository in one JSON object whose ``files`` array
holds every file: about 250 bytes each, 250 MB for a million files, and several times that
once decoded whole. :func:`json_array_items` reads such a body piece by piece and yields the
array's elements one at a time, so what is held is one element and one piece of the body,
whatever the size of the answer.

It is framing only: every value is decoded by the standard library's own
``json.JSONDecoder.raw_decode``; this module finds where the object's keys, the array and its
elements begin and end.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["MalformedJson", "json_array_items"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_COMPACT_AFTER = 1 << 20  # characters consumed before the buffer drops them


class MalformedJson(ValueError):
    """The body is not the JSON object expected, or one value in it is too large."""


class _Reader:
    """A text buffer over the body's pieces, with a position; reads more only when asked."""

    def __init__(self, pieces: AsyncIterator[bytes], value_limit: int) -> None:
        self._pieces = pieces
        self._decode = codecs.getincrementaldecoder("utf-8")()
        self._decoder = json.JSONDecoder()
        self._limit = value_limit
        self.text = ""
        self.pos = 0
        self.eof = False

    async def more(self) -> bool:
        """Append the next piece; ``False`` at the end of the body."""
        if self.eof:
            return False
        if self.pos >= _COMPACT_AFTER:
            self.text, self.pos = self.text[self.pos :], 0
        try:
            piece = await anext(self._pieces)
        except StopAsyncIteration:
            self.eof = True
            self.text += self._decode.decode(b"", final=True)
            return False
        self.text += self._decode.decode(piece)
        return True

    async def peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the body)."""
        while True:
            blank = _WHITESPACE.match(self.text, self.pos)
            self.pos = blank.end() if blank else self.pos
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not await self.more():
                return ""

    async def expect(self, char: str) -> None:
        found = await self.peek()
        if not found:
            raise MalformedJson(f"cut short: expected {char!r} at character {self.pos}")
        if found != char:
            raise MalformedJson(f"expected {char!r} at character {self.pos}, found {found!r}")
        self.pos += 1

    async def value(self) -> Any:
        """The next whole JSON value. One that stops at the end of what has arrived is read
        again with more (a number may go on in the next piece)."""
        await self.peek()
        while True:
            try:
                decoded, end = self._decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if len(self.text) - self.pos > self._limit:
                    raise MalformedJson(
                        f"a value longer than {self._limit:,} characters, or not JSON: {error}"
                    ) from None
                if not await self.more():
                    raise MalformedJson(f"not JSON, or cut short: {error}") from None
                continue
            if end == len(self.text) and await self.more():
                continue
            self.pos = end
            return decoded


async def json_array_items(
    pieces: AsyncIterator[bytes], key: str, *, value_limit: int = 1 << 20
) -> AsyncIterator[Any]:
    """Each element of the array under ``key`` of the JSON object the ``pieces`` make up.

    The object's other members are decoded and dropped; a missing ``key`` yields nothing,
    and one that is not an array raises :class:`MalformedJson`, as does a body that is not a
    JSON object or any single value (an element, or another member) longer than
    ``value_limit`` characters. Duplicate keys are each read.
    """
    reader = _Reader(pieces, value_limit)
    await reader.expect("{")
    if await reader.peek() == "}":
        return
    while True:
        name = await reader.value()
        if not isinstance(name, str):
            raise MalformedJson(f"expected a member name at character {reader.pos}")
        await reader.expect(":")
        if name != key:
            await reader.value()
        else:
            await reader.expect("[")
            if await reader.peek() == "]":
                reader.pos += 1
            else:
                while True:
                    yield await reader.value()
                    if await reader.peek() == "]":
                        reader.pos += 1
                        break
                    await reader.expect(",")
        if await reader.peek() == "}":
            return
        await reader.expect(",")
