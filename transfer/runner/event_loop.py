"""How a ``transfer`` process runs its one event loop: ``migrate`` and each of its copy
processes alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from transfer.runner.allocator import keep_freed_memory

__all__ = ["run_main"]

T = TypeVar("T")


def run_main(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to the end on uvloop (asyncio's own loop where uvloop is not installed),
    with freed buffers kept for reuse (:func:`~transfer.runner.allocator.keep_freed_memory`)."""
    keep_freed_memory()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main())
    return uvloop.run(main())
