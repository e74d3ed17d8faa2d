"""vidfill.host: memory handed back, and threads fitted to the cores other processes leave free."""

import os
import subprocess
import sys
import time

import pytest
import torch

from vidfill import host

STAT = """cpu  900 0 300 5000 20 0 0 0 0 0
cpu0 100 10 50 2000 10 5 5 0 0 0
cpu1 200 0 100 3000 10 0 0 30 0 0
intr 12345
"""


def test_release_free_memory_is_glibcs_trim_or_nothing(monkeypatch):
    host.release_free_memory()  # whatever this platform's C library is
    host._malloc_trim.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert host._malloc_trim() is None
        host.release_free_memory()
    finally:
        host._malloc_trim.cache_clear()


def test_busy_seconds_counts_the_cpus_asked_for_without_idle_and_io_wait():
    tick = os.sysconf("SC_CLK_TCK")
    assert host.busy_seconds(STAT, {0}) == pytest.approx(170 / tick)
    assert host.busy_seconds(STAT, {1}) == pytest.approx(330 / tick)  # steal counts: not ours
    assert host.busy_seconds(STAT, {0, 1, 7}) == pytest.approx(500 / tick)


@pytest.mark.parametrize("others, cpus, ceiling, threads", [
    (0.0, 2, 2, 2), (0.4, 2, 2, 2), (1.0, 2, 2, 1), (1.33, 2, 2, 1), (2.0, 2, 2, 1),
    (5.0, 2, 2, 1), (0.0, 16, 8, 8), (10.0, 16, 8, 6), (0.0, 2, 1, 1)])
def test_threads_are_the_free_cores_within_one_and_the_ceiling(others, cpus, ceiling, threads):
    assert host.threads_for(others, cpus, ceiling) == threads


@pytest.fixture
def fresh_state(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setattr(host, "_state", host._Threads())
    yield host._state
    torch.set_num_threads(threads)


def test_threads_follow_the_load_down_and_back_up(monkeypatch, fresh_state):
    """Others busy on both cores since the last step: one thread; idle again: the ceiling."""
    cpus = 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    samples = iter([host._Sample(0.0, 0.0, 0.0), host._Sample(1.0, 3.5, 0.5),  # 3 cores others'
                    host._Sample(2.0, 7.5, 1.5),   # others: 4 - 1 = 3 cores
                    host._Sample(3.0, 9.5, 3.5),   # all ours: idle otherwise
                    host._Sample(3.1, 9.9, 3.9)])  # too short to judge: kept
    monkeypatch.setattr(host, "_sample", lambda cpus: next(samples))
    monkeypatch.setattr(host.time, "sleep", lambda s: None)
    torch.set_num_threads(cpus)
    host.fit_threads()
    assert torch.get_num_threads() == 1 and fresh_state.ceiling == cpus
    host.fit_threads()
    assert torch.get_num_threads() == 1
    host.fit_threads()
    assert torch.get_num_threads() == cpus
    host.fit_threads()
    assert torch.get_num_threads() == cpus


def test_fixed_threads_are_kept_whatever_the_load(monkeypatch, fresh_state):
    monkeypatch.setattr(host, "_sample", lambda cpus: pytest.fail("measured a fixed count"))
    host.fixed_threads(1)
    host.between_steps()
    assert torch.get_num_threads() == 1
    host.fixed_threads(None)
    assert not fresh_state.fixed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_a_real_load_on_every_core_leaves_one_thread(fresh_state):
    """Processes spinning on every core the test may use, measured from /proc/stat itself."""
    cpus = len(os.sched_getaffinity(0))
    torch.set_num_threads(max(2, cpus))
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpus)]
    try:
        host.fit_threads()  # the first step measures for FIRST_SAMPLE_S
        for _ in range(4):  # then each step over the time since the last
            time.sleep(0.3)
            host.fit_threads()
    finally:
        for proc in spinning:
            proc.kill()
            proc.wait()
    assert torch.get_num_threads() == 1


def test_steps_close_together_trim_the_heap_once(monkeypatch, fresh_state):
    trims, clock = [], iter([10.0, 10.1, 10.2 + host.TRIM_INTERVAL_S])
    monkeypatch.setattr(host, "release_free_memory", lambda: trims.append(1))
    monkeypatch.setattr(host, "fit_threads", lambda: None)
    monkeypatch.setattr(host.time, "monotonic", lambda: next(clock))
    for _ in range(3):
        host.between_steps()
    assert len(trims) == 2  # the first step and the one a whole interval later
