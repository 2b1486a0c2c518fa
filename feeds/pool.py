"""Worker processes: one way for a stage to spread its jobs over cores.

Reading and rendering both hand out many small jobs whose results must come
back in order; pooled_map does that with a bound on what waits in between,
and ends cleanly however the taker stops (an error, Ctrl-C).
"""
from __future__ import annotations

from .exceptions import JobFailed, WorkerLost

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
    when it is the slower (a slow disk under the writer), the workers wait
    instead of results piling up.

    A job's error reaches the taker as it was raised, and so does an error
    making the jobs. A worker that dies (killed, out of memory) raises
    WorkerLost instead of leaving the taker waiting for a result that will
    never come.
    """
    import queue
    import threading
    from concurrent.futures import ProcessPoolExecutor

    room, stop = threading.Semaphore(max(1, ahead)), threading.Event()
    handed: queue.SimpleQueue = queue.SimpleQueue()  # futures in job order, then _END or _Failed
    executor = ProcessPoolExecutor(workers, mp_context=worker_context(), initializer=_start_worker)

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
                handed.put(executor.submit(_run, function, job))
        except BaseException as error:  # noqa: BLE001 - the taker raises it
            handed.put(_Failed(error))
            return
        handed.put(_END)

    feeder = threading.Thread(target=hand_out, name="feeds-pool-feeder", daemon=True)
    try:
        try:
            # A forked pool forks here, on the calling thread, before the feeder runs.
            executor.submit(int).result()
        except Exception as error:  # noqa: BLE001 - no fork (EAGAIN, ENOMEM), or a worker that died at once
            raise WorkerLost(f"cannot start worker processes: {_reason(error)}") from None
        feeder.start()
        while True:
            item = handed.get()
            if item is _END:
                return
            if item.__class__ is _Failed:
                if _is_broken(item.error):  # a worker died while the feeder handed out a job
                    raise _lost() from None
                raise item.error
            try:
                result = item.result()
            except Exception as error:
                if _is_broken(error):
                    raise _lost() from None
                raise
            room.release()
            yield result
    finally:
        # Taken no further (done, an error, an interrupted export): nothing
        # more is handed out, jobs not started are dropped, and the few under
        # way finish (workers leave Ctrl-C to this process). A feeder stuck in
        # making a job (a listing on a dead mount) is not waited for: it is a
        # daemon thread, and hands nothing out any more.
        stop.set()
        if feeder.is_alive():
            feeder.join(FEEDER_GRACE_SECONDS)
        _shut_down(executor)


FEEDER_GRACE_SECONDS = 1.0


def _run(function, job):
    """function(job) in a worker: an error that could not be unpickled here
    would reach the taker as a broken pool (a lost worker), hiding what failed."""
    try:
        return function(job)
    except Exception as error:
        import pickle
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:  # noqa: BLE001 - whatever stops it crossing, its text still can
            import traceback
            raise JobFailed(f"{type(error).__name__}: {error}\n"
                            + "".join(traceback.format_exception(error)).rstrip()) from None
        raise


def _lost() -> WorkerLost:
    return WorkerLost("a worker process ended without finishing its job (killed, or out of memory?); "
                      "nothing from the unfinished jobs was used")


def _is_broken(error: BaseException) -> bool:
    from concurrent.futures.process import BrokenProcessPool
    return isinstance(error, BrokenProcessPool)


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or ("a worker ended at once" if _is_broken(error)
                                                 else type(error).__name__)


def _shut_down(executor) -> None:
    """End the pool and its processes, also when it never fully started: a
    failed fork leaves the workers already forked without the thread that
    would end them, and the interpreter would wait for them at exit."""
    if getattr(executor, "_executor_manager_thread", True) is None:
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        for process in list(getattr(executor, "_processes", {}).values()):
            process.join(1)
    executor.shutdown(wait=True, cancel_futures=True)


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


PARENT_CHECK_SECONDS = 1.0


def _start_worker() -> None:
    """Ctrl-C reaches the whole process group: the parent stops handing out
    jobs and waits for the few under way, so a worker finishes its job.

    And a worker ends when its parent is gone (`kill -9`): its siblings hold
    the result pipe open, so one blocked sending a result would wait forever,
    and keep the terminal's output open with it."""
    import os
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def end_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=end_with_parent, name="feeds-end-with-parent", daemon=True).start()
