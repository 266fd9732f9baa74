"""Many independent jobs (sound files, data-set chunks, sweep points) run one way whatever
the backend: serially, on a local process pool (``--workers N``) or on any
``dask.distributed`` scheduler (``--dask ADDRESS``).

The contract every backend keeps: each job is ``fn(context, job)`` with ``context`` (the
network and settings) shipped to each worker once; a job that raises is reported by its
label and the others go on; the outcomes come back in job order, so a parallel run's output
is the serial run's, byte for byte. Compiled (Numba) code is made warm first: in the parent
before a local pool forks (workers inherit it, nothing recompiles or reloads), on every dask
worker before any job is submitted (each loads the on-disk cache ``cache=True`` wrote).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Callable

from sim.errors import AxonError, InputError

__all__ = ["Outcome", "Backend", "run_jobs", "backend_from_args", "add_backend_arguments"]


@dataclass
class Outcome:
    """What one job gave: ``value``, or ``error`` (one line) if it raised."""

    index: int
    label: str
    value: Any = None
    error: str | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0        # CPU time of the worker process during the job (contention does not inflate it)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Backend:
    """``workers`` local processes (1 = run in this process), or a dask scheduler address."""

    workers: int = 1
    dask: str | None = None

    def __post_init__(self):
        if not isinstance(self.workers, int) or self.workers < 1:
            raise InputError(f"--workers must be an integer >= 1, got {self.workers!r}")
        if self.dask is not None and self.workers != 1:
            raise InputError("--workers and --dask exclude each other (a dask cluster has its own workers)")

    def describe(self) -> str:
        if self.dask:
            return f"dask scheduler {self.dask}"
        return "1 process" if self.workers == 1 else f"{self.workers} local processes"


def add_backend_arguments(parser) -> None:
    """``--workers N`` and ``--dask ADDRESS`` for a command that runs many jobs."""
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="local worker processes (default 1; results identical to a serial run, same order)")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run on a dask.distributed scheduler, e.g. tcp://10.0.0.5:8786 (files must be readable "
                             "by the workers at the same paths)")


def backend_from_args(args) -> Backend:
    w = getattr(args, "workers", None)
    return Backend(1 if w is None else int(w), getattr(args, "dask", None))


# ------------------------------------------------------------------ the job wrapper
_CONTEXT: Any = None


def _error_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    if isinstance(exc, (AxonError, ValueError, OSError)):
        return msg or type(exc).__name__
    # not an error axon reports on purpose: keep the type and where it happened
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {msg}{where}"


def _call(fn, context, index: int, label: str, job) -> Outcome:
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        value = fn(context, job)
        return Outcome(index, label, value, None, time.perf_counter() - t0, time.process_time() - c0)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one failed file must not lose the others
        return Outcome(index, label, None, _error_line(exc), time.perf_counter() - t0, time.process_time() - c0)


def _call_inherited(fn, index, label, job) -> Outcome:
    return _call(fn, _CONTEXT, index, label, job)


def _init_worker(context, warm):
    global _CONTEXT
    _CONTEXT = context
    if warm is not None:
        warm(context)


def _warm_on_dask_worker(context, warm):
    if warm is not None:
        warm(context)
    return os.getpid()


def run_jobs(fn: Callable, context, jobs: list, labels: list[str], backend: Backend | None = None, *,
             warm: Callable | None = None, progress: Callable | None = None,
             timing: dict | None = None) -> list[Outcome]:
    """Run ``fn(context, job)`` for every job; outcomes in job order.

    Parameters
    ----------
    fn, warm : module-level functions (they are pickled by reference for dask)
        ``warm(context)`` compiles what ``fn`` will run, once per process, before any job.
    progress : callable, optional
        ``progress(outcome, n_done, n_total)`` as each job finishes (in finishing order).
    timing : dict, optional
        Filled with ``warm_s`` (compiling / loading compiled code, connecting) and ``jobs_s``
        (from the first job submitted to the last outcome), wall seconds.
    """
    backend = backend or Backend()
    if len(labels) != len(jobs):
        raise ValueError(f"run_jobs: {len(jobs)} jobs but {len(labels)} labels")
    n = len(jobs)
    out: list[Outcome | None] = [None] * n
    done = 0

    t_start = time.perf_counter()
    t_jobs = [None]

    def started():
        t_jobs[0] = time.perf_counter()

    def record(o: Outcome):
        nonlocal done
        out[o.index] = o
        done += 1
        if progress is not None:
            progress(o, done, n)

    if backend.dask:
        _run_dask(fn, context, jobs, labels, backend.dask, warm, record, started)
    elif backend.workers == 1 or n <= 1:
        if warm is not None:
            warm(context)
        started()
        for i, (job, label) in enumerate(zip(jobs, labels)):
            record(_call(fn, context, i, label, job))
    else:
        global _CONTEXT
        if warm is not None:
            warm(context)            # compile here; forked workers inherit the machine code
        # fork: workers start with this process's memory (network, compiled kernels); nothing
        # is pickled but the jobs and outcomes. Elsewhere (macOS, Windows): spawn + warm-up.
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        ctx = mp.get_context(method)
        if method == "fork":
            _CONTEXT = context
            init, initargs = None, ()
        else:  # pragma: no cover - Linux uses fork
            init, initargs = _init_worker, (context, warm)
        try:
            with ProcessPoolExecutor(max_workers=min(backend.workers, n), mp_context=ctx, initializer=init,
                                     initargs=initargs) as ex:
                # the workers start (fork) with the first submission; that is start-up, not job time
                ex.submit(os.getpid).result()
                started()
                futs = {ex.submit(_call_inherited, fn, i, label, job): i
                        for i, (job, label) in enumerate(zip(jobs, labels))}
                for f in as_completed(futs):
                    i = futs[f]
                    try:
                        record(f.result())
                    except Exception as exc:  # a worker died (killed, out of memory)
                        record(Outcome(i, labels[i], None, f"worker failed: {_error_line(exc)}"))
        finally:
            _CONTEXT = None
    if timing is not None:
        t_end = time.perf_counter()
        t0 = t_jobs[0] if t_jobs[0] is not None else t_end
        timing.update(warm_s=t0 - t_start, jobs_s=t_end - t0)
    return out  # type: ignore[return-value]


def _run_dask(fn, context, jobs, labels, address, warm, record, started):
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise InputError("--dask needs dask.distributed: pip install -c constraints.txt 'axon[distributed]'") from None
    try:
        client = Client(address)      # connect timeout: dask's distributed.comm.timeouts.connect (30 s)
    except Exception as exc:  # noqa: BLE001 - OSError/TimeoutError/ValueError from the comm layer
        raise InputError(f"--dask {address}: cannot reach the scheduler ({_error_line(exc)})") from None
    try:
        if not client.scheduler_info().get("workers"):
            client.wait_for_workers(1, timeout=60)
        client.run(_warm_on_dask_worker, context, warm)
        ctx = client.scatter(context, broadcast=True)
        started()
        futures, where = [], {}
        for i, (job, label) in enumerate(zip(jobs, labels)):
            f = client.submit(_call, fn, ctx, i, label, job, pure=False)
            futures.append(f)
            where[f.key] = (i, label)
        for f in dask_completed(futures):
            i, label = where[f.key]
            try:
                record(f.result())
            except Exception as exc:  # noqa: BLE001 - a worker died or the job could not be unpickled
                record(Outcome(i, label, None, f"worker failed: {_error_line(exc)}"))
    finally:
        client.close()


class ProgressLine:
    """``k/N files  x files/s  ETA`` on stderr (a terminal: one line rewritten; else every 10 s),
    and each failed job by name as it happens."""

    def __init__(self, what: str = "files", quiet: bool = False, command: str = "axon"):
        self.what, self.quiet, self.command = what, quiet, command
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, o: Outcome, done: int, total: int):
        if o.error is not None and total > 1:   # a single job's error is the command's own one line
            print(("\n" if self.tty and not self.quiet else "") + f"{self.command}: {o.label}: {o.error}",
                  file=sys.stderr, flush=True)
        if self.quiet:
            return
        now = time.perf_counter()
        final = done == total
        if not final and now - self.last < (0.5 if self.tty else 10.0):
            return
        self.last = now
        rate = done / max(now - self.t0, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("nan")
        msg = f"{done}/{total} {self.what}  {rate:.2f} {self.what}/s  ETA {eta:.0f} s"
        print(("\r" + msg) if self.tty else msg, end="\n" if final or not self.tty else "", file=sys.stderr,
              flush=True)
