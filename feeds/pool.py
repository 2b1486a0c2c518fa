"""Worker processes: one way for a stage to spread its jobs over cores.

Reading and rendering both hand out many small jobs whose results must come
back in order; pooled_map does that with a bound on what waits in between,
and ends cleanly however the taker stops (an error, Ctrl-C).
"""
from __future__ import annotations

from .exceptions import WorkerLost

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
    workers instead of piling up here.

    A job's error reaches the taker as it was raised. A worker that dies
    mid-job (killed, out of memory) raises WorkerLost instead of leaving the
    taker waiting for a result that will never come.
    """
    import queue
    import threading
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    executor = ProcessPoolExecutor(workers, mp_context=worker_context(),
                                   initializer=_leave_interrupts_to_the_parent)
    room, stop = threading.Semaphore(ahead), threading.Event()
    handed: queue.SimpleQueue = queue.SimpleQueue()  # futures in job order, then _END or _Failed

    def hand_out() -> None:
        # On its own thread, so that making the jobs (listing, stat-ing files)
        # goes on while this process takes results.
        try:
            for job in jobs:
                while not room.acquire(timeout=0.1):
                    if stop.is_set():  # the taker is gone
                        return
                if stop.is_set():
                    return
                handed.put(executor.submit(function, job))
        except BaseException as error:  # noqa: BLE001 - making a job failed: the taker raises it
            handed.put(_Failed(error))
            return
        handed.put(_END)

    try:
        executor.submit(int).result()  # a forked pool forks here, on this thread, before hand_out's
    except BrokenProcessPool:
        executor.shutdown(wait=False)
        raise WorkerLost("a worker process could not start") from None
    feeder = threading.Thread(target=hand_out, name="feeds-pool-feeder", daemon=True)
    feeder.start()
    try:
        while True:
            item = handed.get()
            if item is _END:
                return
            if item.__class__ is _Failed:
                raise item.error
            try:
                result = item.result()
            except BrokenProcessPool:
                raise WorkerLost("a worker process ended without finishing its job (killed, or out of "
                                 "memory?); nothing from the unfinished jobs was used") from None
            room.release()
            yield result
    finally:
        # Taken no further (done, an error, an interrupted export): nothing
        # more is handed out, jobs not started are dropped, and the few under
        # way finish (workers leave Ctrl-C to this process).
        stop.set()
        feeder.join()
        executor.shutdown(wait=True, cancel_futures=True)


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


def _leave_interrupts_to_the_parent() -> None:
    """Ctrl-C reaches the whole process group: the parent stops handing out
    jobs and waits for the few under way, so a worker finishes its job."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
