"""Worker pools: results in order, a bound on what waits, and a clean end
however the taker stops or a worker dies."""
from __future__ import annotations

import os
import signal
import time

import pytest

from feeds.exceptions import FeedsError, WorkerLost
from feeds.pool import pooled_map


def _double(n: int) -> int:
    return 2 * n


def test_workers_run_only_a_few_jobs_ahead_of_a_slow_taker():
    """Results a slow writer has not taken wait in the workers, not in memory here."""
    pulled = []

    def jobs():
        for n in range(200):
            pulled.append(n)
            yield n

    taken = 0
    for result in pooled_map(_double, jobs(), 2, ahead=8):
        assert result == 2 * taken
        taken += 1
        if taken % 50 == 0:
            time.sleep(0.3)  # the workers would have run every job by now
            assert len(pulled) <= taken + 8 + 1  # the ones handed out, and one drawn that waits for room
    assert taken == 200


def test_a_taker_that_stops_early_ends_the_workers():
    started = time.monotonic()
    results = pooled_map(_double, iter(range(10_000)), 2, ahead=4)
    assert [next(results) for _ in range(3)] == [0, 2, 4]
    results.close()
    assert time.monotonic() - started < 5


def _fails_on_37(n: int) -> int:
    if n == 37:
        raise ValueError("job 37")
    return n


def test_a_failing_job_reaches_the_taker_and_ends_the_workers():
    started = time.monotonic()
    with pytest.raises(ValueError, match="job 37"):
        for _ in pooled_map(_fails_on_37, iter(range(10_000)), 2, ahead=8):
            pass
    assert time.monotonic() - started < 5


def _dies_on_5(n: int) -> int:
    if n == 5:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
    time.sleep(0.01)
    return n


def test_a_worker_killed_mid_job_fails_the_stage_instead_of_hanging_it():
    started = time.monotonic()
    taken = []
    with pytest.raises(WorkerLost, match="worker process ended"):
        for result in pooled_map(_dies_on_5, iter(range(1_000)), 2, ahead=4):
            taken.append(result)
    assert taken == list(range(len(taken))) and len(taken) <= 5  # nothing out of order, nothing after the loss
    assert time.monotonic() - started < 10
    assert issubclass(WorkerLost, FeedsError)  # the command says it in one line; a watching builder retries


def _jobs_then_error():
    yield from range(20)
    raise OSError("the listing failed")


def test_an_error_making_the_jobs_reaches_the_taker():
    with pytest.raises(OSError, match="the listing failed"):
        for _ in pooled_map(_double, _jobs_then_error(), 2, ahead=4):
            pass


def test_a_worker_killed_while_idle_fails_the_stage_too():
    """Killed between jobs, while the workers wait for a slow taker: found by the next hand-out."""
    import multiprocessing

    results = pooled_map(_double, iter(range(100)), 2, ahead=4)
    assert next(results) == 0
    time.sleep(0.5)  # the jobs handed out are done; the workers idle
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    time.sleep(0.5)
    with pytest.raises(WorkerLost):
        for _ in results:
            pass


def _jobs_that_stall():
    yield from range(3)
    time.sleep(30)  # a listing stuck on a dead mount
    yield 3


def test_a_taker_that_stops_does_not_wait_for_jobs_that_never_come():
    import multiprocessing

    results = pooled_map(_double, _jobs_that_stall(), 2, ahead=8)
    assert [next(results) for _ in range(3)] == [0, 2, 4]
    started = time.monotonic()
    results.close()
    assert time.monotonic() - started < 5
    assert not multiprocessing.active_children()


def test_workers_that_cannot_start_are_reported_and_none_is_left(monkeypatch):
    """No fork (EAGAIN under memory or process-count limits) after some workers started."""
    import multiprocessing

    real_fork, forks = os.fork, []

    def fork_fails_on_the_second():
        forks.append(1)
        if len(forks) == 2:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", fork_fails_on_the_second)
    with pytest.raises(WorkerLost, match="cannot start worker processes: Resource temporarily unavailable"):
        for _ in pooled_map(_double, iter(range(10)), 3, ahead=4):
            pass
    monkeypatch.undo()
    assert not multiprocessing.active_children()


ORPHANS = """
import multiprocessing, sys, time
from feeds.pool import pooled_map

def _big(n):
    return bytes(1_000_000)  # more than a pipe holds: a worker blocks sending it

results = pooled_map(_big, iter(range(100)), 2, ahead=8)
next(results)
time.sleep(0.5)
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(60)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


def test_workers_end_when_their_parent_is_killed(tmp_path):
    """`kill -9` of an export: no worker is left blocked on a pipe nobody reads."""
    import subprocess
    import sys
    from pathlib import Path

    parent = subprocess.Popen([sys.executable, "-c", ORPHANS], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(_running(pid) for pid in workers)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers)


class NeedsTwoArguments(Exception):
    """An error that pickles but cannot be unpickled (its constructor wants two arguments)."""

    def __init__(self, what, where):
        super().__init__(f"{what} at {where}")


def fail_oddly(job):
    if job == 3:
        raise NeedsTwoArguments("bad record", "job 3")
    return job


def test_a_job_error_that_cannot_be_unpickled_reaches_the_taker_with_its_text():
    with pytest.raises(FeedsError) as raised:
        list(pooled_map(fail_oddly, range(8), 2, 4))
    assert not isinstance(raised.value, WorkerLost)
    assert "NeedsTwoArguments: bad record at job 3" in str(raised.value)
    assert "fail_oddly" in str(raised.value)  # the worker's traceback comes with it
