"""Worker processes: one way for a stage to spread its jobs over cores.

Reading and rendering both hand out many small jobs whose results must come
back in order; pooled_map does that with a bound on what waits in between,
and ends cleanly however the taker stops (an error, Ctrl-C).
"""
from __future__ import annotations

from time import monotonic

# Forking is cheap and lets workers start with what the parent holds; it is
# unsafe once the process runs other threads (the builder's lock keeper, the
# watcher, the WebSub pinger), which set this to False: then workers are spawned.
FORK_IS_SAFE = True


def worker_context():
    """The multiprocessing context for worker pools: fork when it is safe (cheap), else spawn."""
    import multiprocessing
    return multiprocessing.get_context("fork" if FORK_IS_SAFE else "spawn")


def pooled_map(function, jobs, workers: int, ahead: int):
    """function(job) for each job, in order, on `workers` processes, with at
    most `ahead` jobs handed out whose results this process has not taken:
    when it is the slower (a slow disk under the writer), results wait in the
    workers instead of piling up here."""
    import threading
    room, stop = threading.Semaphore(ahead), threading.Event()

    def handed_out():  # runs on the pool's task thread
        for job in jobs:
            while not room.acquire(timeout=0.1):
                if stop.is_set():  # the taker is gone: let the pool end
                    return
            if stop.is_set():
                return
            yield job

    with worker_context().Pool(workers, initializer=_leave_interrupts_to_the_parent) as pool:
        results = pool.imap(function, handed_out())  # one job a task: results.next takes a timeout
        try:
            for result in results:
                room.release()
                yield result
        finally:
            # Taken no further (an error, an interrupted export): no job is
            # handed out any more, and the few under way are waited for, so
            # that the pool's end kills no worker while it sends a result
            # (that would leave the result queue's lock held forever).
            stop.set()
            pool.close()
            _drain(results, monotonic() + DRAIN_SECONDS)


DRAIN_SECONDS = 2.0  # the jobs under way: a few renders or chunks of files, well under a second


def _leave_interrupts_to_the_parent() -> None:
    """Ctrl-C reaches the whole process group: the parent stops handing out
    jobs and takes the few under way, so a worker finishes its job."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _drain(results, deadline: float) -> None:
    """Take the results still coming, errors included, until there are no more or the deadline."""
    import multiprocessing
    while True:
        left = deadline - monotonic()
        if left <= 0:
            return
        try:
            results.next(timeout=left)
        except StopIteration:
            return
        except multiprocessing.TimeoutError:
            return
        except Exception:  # a failed job: the error that matters is already on its way
            continue
