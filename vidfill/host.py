"""What a run does for the machine it shares, between its steps: freed memory handed back, and
torch's threads fitted to the cores that other work leaves free.

Memory: glibc's malloc keeps the memory of freed blocks smaller than its mmap threshold (which
grows, up to 32 MB, each time a bigger block is freed) in its heaps for reuse; a window's tensors
of a few MB each leave those heaps fragmented, so that a long clip's resident memory crept up
window after window: the default preset at 854x480 peaked at 2.39 GB for one window of 60 frames
and 2.98 GB for 300 frames, the same windows (benchmarks/README.md, "Long clips").
``malloc_trim(0)`` returns their free pages. Elsewhere (another C library, macOS, Windows) it is
not done.

Threads: torch's OpenMP threads meet after every operation, and a thread that waits spins
before it sleeps. Beside another busy process on the same cores, the threads of one operation
wait for each other's turn on a core while they spin away the time the others need: the default
at 432x240 took 4.1x its time alone beside a two-process busy loop on the 2-core CPU, 1.6x with
one thread (benchmarks/busy.py; docs/decisions.md). Spinning less costs 15-25 % alone. So
between steps the run measures the cores that other processes used since the last step (Linux:
``/proc/stat`` over the CPUs the process may run on, less its own CPU time) and takes as many
threads as are left free, from one up to the number it started with. Elsewhere, or with
:func:`fixed_threads`, the threads stay as they are.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

MIN_INTERVAL_S = 0.25
"""Shorter steps keep the threads they have: too few clock ticks to tell the load from."""
FIRST_SAMPLE_S = 0.1
"""The first step measures the load over this long (the process idle meanwhile)."""
TRIM_INTERVAL_S = 1.0
"""Steps closer than this to the last trim skip it: a trim costs about 13 ms, and a keyframe round
of a window (a step) can take less than 0.1 s, with little freed since the last."""
PROC_STAT = Path("/proc/stat")


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the process's C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # no C library to open, or not glibc (musl has none)
        return None


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc); a no-op elsewhere. Costs
    milliseconds: call it between stages, not inside loops."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@dataclass
class _Sample:
    at: float
    busy_s: float
    own_s: float


@dataclass
class _Threads:
    ceiling: int | None = None  # the threads the run started with; None: not fitted (yet)
    fixed: bool = False
    last: _Sample | None = None
    trimmed_at: float = -float("inf")


_state = _Threads()


def fixed_threads(count: int | None) -> None:
    """Use ``count`` threads and keep them (``--threads N``); None: fit them to the free cores
    again (the default)."""
    if count is None:
        _state.fixed = False
        return
    torch.set_num_threads(count)
    _state.fixed, _state.ceiling = True, count


def busy_seconds(stat: str, cpus: set[int]) -> float:
    """CPU-seconds spent busy (not idle, not waiting for I/O) on ``cpus`` since boot, from the
    text of ``/proc/stat``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for line in stat.splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
            total += user + nice + system + irq + softirq + steal
    return total / tick


def _sample(cpus: set[int]) -> _Sample:
    own = os.times()
    return _Sample(time.monotonic(), busy_seconds(PROC_STAT.read_text(), cpus), own.user + own.system)


def threads_for(others: float, cpus: int, ceiling: int) -> int:
    """Threads to use where other processes kept ``others`` of ``cpus`` cores busy: the cores
    left free, rounded, from 1 to ``ceiling``."""
    return max(1, min(ceiling, int(cpus - others + 0.5)))


def fit_threads() -> None:
    """Set torch's threads to the cores that others left free since the last call (see the
    module's docstring); the first call measures for :data:`FIRST_SAMPLE_S`."""
    if _state.fixed or not sys.platform.startswith("linux"):
        return
    try:
        cpus = os.sched_getaffinity(0)
        if _state.last is None:
            _state.last = _sample(cpus)
            time.sleep(FIRST_SAMPLE_S)
        now = _sample(cpus)
    except (OSError, ValueError):  # no /proc, or a format this does not know: leave them be
        return
    elapsed = now.at - _state.last.at
    if elapsed < MIN_INTERVAL_S and _state.ceiling is not None:
        return
    others = max(0.0, (now.busy_s - _state.last.busy_s) - (now.own_s - _state.last.own_s)) / elapsed
    if _state.ceiling is None:
        _state.ceiling = torch.get_num_threads()
    torch.set_num_threads(threads_for(others, len(cpus), _state.ceiling))
    _state.last = now


def between_steps() -> None:
    """What a run does between its stages and windows: memory handed back (at most once per
    :data:`TRIM_INTERVAL_S`), threads fitted."""
    now = time.monotonic()
    if now - _state.trimmed_at >= TRIM_INTERVAL_S:
        release_free_memory()
        _state.trimmed_at = now
    fit_threads()
