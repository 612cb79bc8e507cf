"""Passes over all users a block of users at a time, the blocks side by side on every core.

Every question the scoring asks of a user reads that user's own weeks (and numbers shared by
all, fixed before the pass), so users can be taken a block at a time: temporaries stay a
block's size, in cache and in memory the allocator reuses instead of fresh pages, and blocks
run on threads (numpy releases the GIL in its loops). Results are put together in block
order, so they never depend on how the threads ran.
"""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields, is_dataclass
from typing import TypeVar

import numpy as np

BLOCK_USERS = 4_096  # users a block, where a few dozen weeks of each are read
# user-weeks a block, where whole histories are read: a block's temporaries (a few dozen arrays of
# this many cells) must fit below glibc's trim threshold, else each worker thread's malloc arena
# gives them back to the kernel at the end of a block and faults them in again at the next (at
# 2**18, 0.9 million page faults, 1.8 s of system time, at 1M users)
BLOCK_CELLS = 2**17
MIN_BLOCK_USERS = 1_024  # but at least this many users, where a block's result grows with the weeks
THREADS = len(os.sched_getaffinity(0))

T = TypeVar("T")
R = TypeVar("R")

_inside = threading.local()


def ranges(n: int, size: int) -> list[slice]:
    """[0, n) in slices of `size` (one empty slice for n = 0, so every pass has a block)."""
    return [slice(start, min(start + size, n)) for start in range(0, max(n, 1), size)]


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(THREADS, thread_name_prefix="blocks")


def each(function: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """`function` of every item, in order, on all cores (one at a time inside another pass).
    Lazy: a caller that folds the results as they come holds few of them at once."""
    items = list(items)
    if THREADS == 1 or len(items) == 1 or getattr(_inside, "active", False):
        return map(function, items)

    def run(item: T) -> R:
        _inside.active = True
        try:
            return function(item)
        finally:
            _inside.active = False

    return _pool().map(run, items)


def beside(function: Callable[[], R]) -> Future[R]:
    """`function` on a thread of its own, whose passes still share every core: while one track waits
    on a single core (arranging rows, fitting curves, building frames), another's blocks use the rest."""
    side = ThreadPoolExecutor(1, thread_name_prefix="beside")
    try:
        return side.submit(function)
    finally:
        side.shutdown(wait=False)


def joined(parts: Iterable[T]) -> T:
    """One result from the results of consecutive blocks of users: each array field (and each
    field of a nested result) concatenated."""
    parts = list(parts)
    first = parts[0]
    return type(first)(**{
        field.name: joined(values) if is_dataclass(values[0]) else np.concatenate(values)
        for field in fields(first) for values in [[getattr(part, field.name) for part in parts]]
    })
