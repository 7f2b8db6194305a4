"""Many images, many lesions: run :class:`~imaging.compute.radiomics.extract.Extractor` over worker processes.

One job is one image with all of its regions (lesions, rings), so each image is read once. Jobs are dispatched to a
``concurrent.futures.ProcessPoolExecutor`` with one worker per core by default, largest job first (the
longest-processing-time-first heuristic keeps a big lesion from starting last and stretching the batch), and results
come back in input order. Each worker builds its Extractor once; SimpleITK's own thread pool is limited to one
thread per worker by default so N processes do not each start N threads.

Failures never abort the batch: a region's problem is its ``FeatureResult.error``; a whole job that cannot run (the
image file is unreadable, the worker died) is a :class:`JobResult` with ``error`` set and a failed result per region.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import SimpleITK as sitk

from .extract import Extractor
from .params import validate_params
from .results import ExtractionError, FeatureResult

__all__ = ["ExtractionJob", "JobResult", "BatchExtractor", "run_batch", "default_workers"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, "JobResult"], None]


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class ExtractionJob:
    """One image and the regions to extract from it.

    Attributes
    ----------
    image : path or SimpleITK.Image
        Paths are read inside the worker (cheap to send); in-memory images are pickled to the worker.
    masks : mapping of key to path or SimpleITK.Image
    label : int or mapping of key to int
    job_id : hashable, optional
        Defaults to the job's position in the input.
    cost_hint : float, optional
        Relative cost used to dispatch big jobs first; default: bytes of the input files (or voxels of in-memory
        images).
    """

    image: Any
    masks: Mapping[Hashable, Any]
    label: int | Mapping[Hashable, int] = 1
    job_id: Hashable | None = None
    cost_hint: float | None = None

    def estimated_cost(self) -> float:
        if self.cost_hint is not None:
            return float(self.cost_hint)

        def size(obj) -> float:
            if isinstance(obj, sitk.Image):
                return float(obj.GetNumberOfPixels() * obj.GetSizeOfPixelComponent())
            try:
                return float(os.path.getsize(os.fspath(obj)))
            except (OSError, TypeError):
                return 0.0

        return size(self.image) + sum(size(m) for m in self.masks.values())


@dataclass
class JobResult:
    """Results of one job.

    Attributes
    ----------
    job_id : hashable
    results : dict of key to FeatureResult
    error : ExtractionError or None
        Set when the job as a whole could not run (every region then carries the same error).
    elapsed_s : float
        Wall time of the job inside its worker.
    worker_pid : int
    """

    job_id: Hashable
    results: dict[Hashable, FeatureResult] = field(default_factory=dict)
    error: ExtractionError | None = None
    elapsed_s: float = 0.0
    worker_pid: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and all(r.ok for r in self.results.values())


# ---------------------------------------------------------------------------------------------- worker side
_WORKER_EXTRACTOR: Extractor | None = None


def _init_worker(params: Mapping[str, Any], fast_shape: bool, sitk_threads: int | None) -> None:
    global _WORKER_EXTRACTOR
    if sitk_threads:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(sitk_threads))
    import radiomics

    radiomics.setVerbosity(logging.ERROR)  # warnings of N workers interleaved on stderr help no one
    _WORKER_EXTRACTOR = Extractor(params, fast_shape=fast_shape).fit()


def _failed_job(job: ExtractionJob, job_id: Hashable, reason: str, elapsed: float = 0.0) -> JobResult:
    error = ExtractionError(reason, stage="job")
    results = {key: FeatureResult(key=key, error=ExtractionError(reason, key=key, stage="job")) for key in job.masks}
    return JobResult(job_id=job_id, results=results, error=error, elapsed_s=elapsed, worker_pid=os.getpid())


def _run_job(job: ExtractionJob, job_id: Hashable, extractor: Extractor | None = None) -> JobResult:
    extractor = extractor or _WORKER_EXTRACTOR
    t0 = time.perf_counter()
    try:
        results = extractor.extract(job.image, job.masks, label=job.label)
    except Exception as exc:  # noqa: BLE001 - report, never crash the batch
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return _failed_job(job, job_id, f"job failed: {detail}", time.perf_counter() - t0)
    return JobResult(job_id=job_id, results=results, elapsed_s=time.perf_counter() - t0, worker_pid=os.getpid())


# ---------------------------------------------------------------------------------------------- parent side
class BatchExtractor:
    """Run extraction jobs over worker processes.

    Parameters
    ----------
    params : mapping, optional
        pyradiomics parameter set (validated once, in the parent, before any worker starts).
    n_workers : int, optional
        Worker processes; default one per core (:func:`default_workers`). ``1`` runs in this process (no pool),
        which is also what to use inside daemonic processes such as Celery prefork workers, which may not fork.
    fast_shape : bool
        See :class:`~imaging.compute.radiomics.extract.Extractor`.
    sitk_threads : int, optional
        SimpleITK threads per worker; default 1 when ``n_workers > 1``, SimpleITK's default otherwise.
    mp_context : str, optional
        multiprocessing start method; default ``"fork"`` where available (workers start in milliseconds and share
        the already-imported pyradiomics), else ``"spawn"``.

    Attributes
    ----------
    n_workers_ : int
        Workers used by the last :meth:`run`.
    elapsed_s_ : float
        Wall time of the last :meth:`run`.
    """

    def __init__(self, params: Mapping[str, Any] | None = None, *, n_workers: int | None = None,
                 fast_shape: bool = True, sitk_threads: int | None = None, mp_context: str | None = None):
        self.params = params
        self.n_workers = n_workers
        self.fast_shape = fast_shape
        self.sitk_threads = sitk_threads
        self.mp_context = mp_context

    def run(self, jobs: Iterable[ExtractionJob], progress: ProgressCallback | None = None) -> list[JobResult]:
        """Extract every job; returns one :class:`JobResult` per job, in input order.

        Parameters
        ----------
        jobs : iterable of ExtractionJob
        progress : callable, optional
            ``progress(done, total, job_result)``, called in this process after each job finishes (in completion
            order).

        Raises
        ------
        InvalidParameters
            Before any work starts, if the parameters are invalid.
        """
        params = validate_params(self.params or {})
        jobs = list(jobs)
        ids = [job.job_id if job.job_id is not None else i for i, job in enumerate(jobs)]
        n_workers = self.n_workers or default_workers()
        n_workers = max(1, min(n_workers, len(jobs) or 1))
        if n_workers > 1 and multiprocessing.current_process().daemon:
            # e.g. inside a Celery prefork worker: daemonic processes may not have children
            logger.warning("running %d job(s) in-process: a daemonic process cannot start worker processes",
                           len(jobs))
            n_workers = 1
        self.n_workers_ = n_workers
        t0 = time.perf_counter()
        out: list[JobResult | None] = [None] * len(jobs)
        done = 0

        if n_workers == 1:
            saved_threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
            if self.sitk_threads:
                sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(self.sitk_threads))
            try:
                extractor = Extractor(params, fast_shape=self.fast_shape).fit()
                for i, job in enumerate(jobs):
                    out[i] = _run_job(job, ids[i], extractor)
                    done += 1
                    if progress:
                        progress(done, len(jobs), out[i])
            finally:
                sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(saved_threads)
            self.elapsed_s_ = time.perf_counter() - t0
            return out  # type: ignore[return-value]

        method = self.mp_context or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        context = multiprocessing.get_context(method)
        sitk_threads = self.sitk_threads if self.sitk_threads is not None else 1
        order = sorted(range(len(jobs)), key=lambda i: jobs[i].estimated_cost(), reverse=True)
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=context, initializer=_init_worker,
                                 initargs=(params, self.fast_shape, sitk_threads)) as pool:
            futures = {}
            for i in order:
                futures[pool.submit(_run_job, jobs[i], ids[i])] = i
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    i = futures[future]
                    try:
                        out[i] = future.result()
                    except BrokenProcessPool as exc:
                        out[i] = _failed_job(jobs[i], ids[i], f"worker process died: {exc}")
                    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable job
                        out[i] = _failed_job(jobs[i], ids[i], f"job could not run: {type(exc).__name__}: {exc}")
                    done += 1
                    if progress:
                        progress(done, len(jobs), out[i])
        self.elapsed_s_ = time.perf_counter() - t0
        return out  # type: ignore[return-value]


def run_batch(jobs: Iterable[ExtractionJob], params: Mapping[str, Any] | None = None, *,
              n_workers: int | None = None, progress: ProgressCallback | None = None, **kwargs) -> list[JobResult]:
    """Functional shortcut for ``BatchExtractor(params, n_workers=n_workers, **kwargs).run(jobs, progress)``."""
    return BatchExtractor(params, n_workers=n_workers, **kwargs).run(jobs, progress=progress)
