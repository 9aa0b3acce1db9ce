"""The one bridge between Qt and the engine: a thread, a coalescing job queue, signals.

Jobs with the same key coalesce: a newer job replaces a pending one, and a running
one is asked to stop (its ``cancelled()`` turns True) so that at most one job per key
waits and the newest always wins. Every public signal is emitted in the thread the
``EngineWorker`` lives in (the GUI thread): the engine thread emits private signals
that reach this object's slots through queued connections, so even plain Python
callables connected to the public signals run in the GUI thread.
"""
from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any, Hashable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from editor.engine.errors import ErrorKind, error_kind

from .jobs import JobLike, describe_error, is_cancellation, is_expected

log = logging.getLogger(__name__)

# A job may ignore cancellation for a long time (importing torch, loading a model:
# neither can be interrupted), so closing the window cannot always stop the engine
# thread in time. A QThread destroyed while it runs aborts the whole process
# ("QThread: Destroyed while thread ... is still running"), so every engine thread is
# held here until it is known to have finished, and interpreter exit waits for it.
_live_workers: "weakref.WeakSet[EngineWorker]" = weakref.WeakSet()
_threads: "set[_EngineThread]" = set()

#: How long interpreter exit waits for a job that ignores cancellation before it
#: gives up and ends the process with ``os._exit`` (a job stuck for good).
EXIT_WAIT_MS = 120_000
#: Exit status used when that wait runs out.
STUCK_EXIT_CODE = 1


def _forget_finished_threads() -> None:
    for thread in [t for t in _threads if t.isFinished()]:
        _threads.discard(thread)


@atexit.register
def _stop_live_workers() -> None:
    """Stop every worker and wait for its running job to end before Python tears down."""
    for worker in list(_live_workers):
        worker._request_stop()
    deadline = time.monotonic() + EXIT_WAIT_MS / 1000
    for thread in list(_threads):
        try:
            if thread.isRunning():
                log.info("waiting for the running engine job to finish before exiting")
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            stopped = thread.wait(remaining_ms)
        except RuntimeError:  # its Qt object is already gone, so nothing left to destroy
            continue
        if not stopped:
            log.warning("engine job still running %d ms after exit was requested; "
                        "forcing the process to end", EXIT_WAIT_MS)
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            # Returning would let Python destroy the running QThread, which aborts.
            os._exit(STUCK_EXIT_CODE)
    _threads.clear()


class _CancelFlag:
    """Cancellation of one job run, readable from the engine thread."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


class _EngineThread(QThread):
    """Runs the worker's job loop; it has no event loop of its own."""

    def __init__(self, loop) -> None:
        super().__init__()
        self._loop = loop
        self.setObjectName("layerbrush-engine")

    def run(self) -> None:  # noqa: D401 - Qt override
        self._loop()


class EngineWorker(QObject):
    """Owns the engine thread and its job queue; see the module docstring."""

    #: started(key) / progress(key, step, total) / finished(key, result) /
    #: failed(key, message, kind) / cancelled(key): kind is an editor.engine.errors.ErrorKind
    #: (a str) the UI switches on; message is for people. cancelled follows a started job that was
    #: stopped or superseded, or a pending job dropped by cancel(key). A pending job
    #: replaced by a newer one with the same key emits nothing.
    started = Signal(object)
    progress = Signal(object, int, int)
    finished = Signal(object, object)
    failed = Signal(object, str, str)
    cancelled = Signal(object)
    #: True when the first job is queued, False when the queue has drained.
    busy_changed = Signal(bool)

    # Emitted in the engine thread; relayed by the slots below in the GUI thread.
    _t_started = Signal(object)
    _t_progress = Signal(object, int, int)
    _t_finished = Signal(object, object)
    _t_failed = Signal(object, str, str)
    _t_cancelled = Signal(object)
    _t_idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._queue: OrderedDict[Hashable, JobLike] = OrderedDict()
        self._running_key: Hashable | None = None
        self._running_flag: _CancelFlag | None = None
        self._running_finishes = False  # the running job asked to finish (see Job.finish)
        self._stopping = False
        self._busy = False
        # Jobs the engine thread has ended (under _cond) and whose outcome signal the GUI
        # thread has delivered: until both agree a result is still in flight, so the
        # worker is busy even though the engine thread is already idle.
        self._ended = 0
        self._delivered = 0
        queued = Qt.ConnectionType.QueuedConnection
        self._t_started.connect(self._on_started, queued)
        self._t_progress.connect(self._on_progress, queued)
        self._t_finished.connect(self._on_finished, queued)
        self._t_failed.connect(self._on_failed, queued)
        self._t_cancelled.connect(self._on_cancelled, queued)
        self._t_idle.connect(self._on_idle, queued)
        self._thread = _EngineThread(self._loop)
        _forget_finished_threads()
        _threads.add(self._thread)  # until it has finished: see _threads
        self._thread.start()
        _live_workers.add(self)
        app = QCoreApplication.instance()
        if app is not None:
            # Don't block the quitting GUI: interpreter exit waits for the job.
            app.aboutToQuit.connect(self._request_stop)

    # ----------------------------------------------------------------- GUI side
    def submit(self, job: JobLike) -> None:
        """Queue ``job``; it replaces a pending job with the same key and cancels a running one
        (unless that one has ``finish`` set: then ``job`` waits for it)."""
        if not hasattr(job, "key") or not callable(getattr(job, "run", None)):
            raise TypeError(f"job must have .key and .run(progress, cancelled), got {job!r}")
        with self._cond:
            if self._stopping:
                raise RuntimeError("EngineWorker.submit: the worker has been shut down")
            key = job.key
            # A replaced pending job never started, so it gets no signal at all.
            self._queue.pop(key, None)
            self._queue[key] = job
            if self._running_key == key and self._running_flag is not None and not self._running_finishes:
                self._running_flag.set()
            self._cond.notify()
        self._set_busy(True)

    def cancel(self, key: Hashable) -> bool:
        """Drop the pending job for ``key`` and stop the running one; True if there was one."""
        with self._cond:
            dropped = self._queue.pop(key, None) is not None
            running = self._running_key == key and self._running_flag is not None
            if running:
                self._running_flag.set()
        if dropped and not running:
            # A running job reports cancelled() itself when it stops; a dropped
            # pending one never will, so listeners waiting on it hear it here.
            self.cancelled.emit(key)
        if not self.is_busy():
            self._set_busy(False)
        return dropped or running

    def cancel_all(self) -> None:
        """Drop every pending job and stop the running one."""
        with self._cond:
            dropped = [k for k in self._queue if k != self._running_key]
            self._queue.clear()
            if self._running_flag is not None:
                self._running_flag.set()
        for key in dropped:
            self.cancelled.emit(key)
        if not self.is_busy():
            self._set_busy(False)

    def pending_keys(self) -> list:
        with self._cond:
            return list(self._queue)

    @property
    def running_key(self) -> Hashable | None:
        with self._cond:
            return self._running_key

    def is_busy(self) -> bool:
        """True while a job runs or waits, or its outcome signal has not been delivered yet."""
        with self._cond:
            return self._running_key is not None or bool(self._queue) or self._ended != self._delivered

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the thread: drop pending jobs, cancel the running one, wait for it.

        Returns False if the running job ignored cancellation for ``timeout_ms``;
        the thread then ends when that job returns, and interpreter exit waits for
        it. Safe to call twice.
        """
        self._request_stop()
        if self._thread.wait(timeout_ms):
            _threads.discard(self._thread)
            return True
        log.warning("engine thread did not stop within %d ms; exit will wait for its job", timeout_ms)
        return False

    @Slot()
    def _request_stop(self) -> None:
        """Drop pending jobs, cancel the running one and let the thread end; no waiting."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            if self._running_flag is not None:
                self._running_flag.set()
            self._cond.notify_all()

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    @Slot(object)
    def _on_started(self, key):
        self.started.emit(key)

    @Slot(object, int, int)
    def _on_progress(self, key, step, total):
        self.progress.emit(key, step, total)

    @Slot(object, object)
    def _on_finished(self, key, result):
        self._delivered += 1
        self.finished.emit(key, result)

    @Slot(object, str, str)
    def _on_failed(self, key, message, kind):
        self._delivered += 1
        self.failed.emit(key, message, kind)

    @Slot(object)
    def _on_cancelled(self, key):
        self._delivered += 1
        self.cancelled.emit(key)

    @Slot()
    def _on_idle(self):
        if not self.is_busy():
            self._set_busy(False)

    # -------------------------------------------------------------- engine side
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._queue:
                    self._cond.wait()
                if self._stopping:
                    return
                key, job = self._queue.popitem(last=False)
                flag = _CancelFlag()
                self._running_key, self._running_flag = key, flag
                self._running_finishes = bool(getattr(job, "finish", False))
            self._run_one(key, job, flag)
            del job
            with self._cond:
                self._ended += 1  # _run_one posted exactly one outcome signal
                self._running_key = self._running_flag = None
                self._running_finishes = False
                idle = not self._queue
            if idle:
                self._post("_t_idle")

    def _post(self, signal_name: str, *args) -> None:
        """Emit an engine-thread signal; once the worker's Qt object is gone (its window
        was deleted while a job ran) nobody listens, so the thread just winds down."""
        try:
            getattr(self, signal_name).emit(*args)
        except RuntimeError:  # "Signal source has been deleted"
            with self._cond:
                self._stopping = True
                self._queue.clear()
                if self._running_flag is not None:
                    self._running_flag.set()

    def _run_one(self, key: Hashable, job: JobLike, flag: _CancelFlag) -> None:
        self._post("_t_started", key)

        def report(step: int, total: int) -> None:
            self._post("_t_progress", key, int(step), int(total))

        try:
            result: Any = job.run(report, flag)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message
            # BaseException too: a job's SystemExit (a library calling sys.exit) or
            # KeyboardInterrupt must not end the engine thread, which would leave the job
            # "running" for ever and never run another.
            if is_cancellation(exc) or flag():
                # A superseded job's error is moot: the newer job decides the outcome.
                self._post("_t_cancelled", key)
                return
            message, kind = describe_error(exc), error_kind(exc)
            if is_expected(exc):  # e.g. no LayerDiffuse weights: the message says it all
                log.info("engine job %r: %s", key, message)
            else:
                log.exception("engine job %r failed", key)
            del exc
            _release_memory()
            self._post("_t_failed", key, message, ErrorKind(kind).value)
            return
        if flag():
            # Finished despite a newer request: its result is stale, drop it.
            self._post("_t_cancelled", key)
            return
        self._post("_t_finished", key, result)


def _release_memory() -> None:
    """After a failure (often out-of-memory), give cached accelerator memory back."""
    gc.collect()
    torch = sys.modules.get("torch")  # only if the engine already loaded it
    if torch is None:
        return
    try:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        mps = getattr(torch, "mps", None)
        if mps is not None and torch.backends.mps.is_available():
            mps.empty_cache()
    except Exception:  # noqa: BLE001 - best effort only
        log.debug("could not empty the accelerator cache", exc_info=True)
