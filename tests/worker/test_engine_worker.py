"""EngineWorker: coalescing, errors, cancellation, thread affinity of signals."""
import threading
import time

import pytest

from editor.worker import EngineWorker, Job, JobCancelled
from editor.worker.jobs import describe_error


def slow_job(key, value, runs, steps=20, step_s=0.01):
    """A cancellable fake engine job: records that it ran, returns ``value``."""
    def fn(progress, cancelled):
        runs.append(value)
        for i in range(steps):
            if cancelled():
                raise JobCancelled()
            time.sleep(step_s)
            progress(i + 1, steps)
        return value
    return Job(key, fn)


def wait_idle(qtbot, worker, timeout=10_000):
    """Busy covers undelivered results too, so once it is False every signal has arrived."""
    qtbot.waitUntil(lambda: not worker.is_busy(), timeout=timeout)


def test_burst_for_one_key_runs_at_most_two_and_ends_with_newest(qtbot, worker):
    runs, finished = [], []
    worker.finished.connect(lambda k, r: finished.append((k, r)))
    for i in range(20):
        worker.submit(slow_job("layer-1", i, runs))
    wait_idle(qtbot, worker)
    assert len(runs) <= 2
    assert runs[-1] == 19
    assert finished == [("layer-1", 19)]


def test_newer_job_cancels_running_one_at_next_step(qtbot, worker):
    runs, events = [], []
    worker.started.connect(lambda k: events.append(("started", k)))
    worker.cancelled.connect(lambda k: events.append(("cancelled", k)))
    worker.finished.connect(lambda k, r: events.append(("finished", k, r)))
    worker.submit(slow_job("a", "old", runs, steps=500))
    qtbot.waitUntil(lambda: runs == ["old"], timeout=5000)
    t0 = time.monotonic()
    worker.submit(slow_job("a", "new", runs, steps=2))
    wait_idle(qtbot, worker)
    assert time.monotonic() - t0 < 3.0  # the 5 s old job stopped early
    assert events == [("started", "a"), ("cancelled", "a"), ("started", "a"), ("finished", "a", "new")]


def test_a_job_marked_finish_is_not_stopped_by_a_newer_one(qtbot, worker):
    """Live previews: the running one finishes (and is shown), the newest waits, older
    pending ones are dropped."""
    runs, events = [], []
    worker.cancelled.connect(lambda k: events.append(("cancelled", k)))
    worker.finished.connect(lambda k, r: events.append(("finished", k, r)))
    first = slow_job("a", "first", runs, steps=30)
    first.finish = True
    worker.submit(first)
    qtbot.waitUntil(lambda: runs == ["first"], timeout=5000)
    worker.submit(slow_job("a", "second", runs, steps=2))
    worker.submit(slow_job("a", "third", runs, steps=2))
    wait_idle(qtbot, worker)
    assert events == [("finished", "a", "first"), ("finished", "a", "third")]
    assert runs == ["first", "third"]


def test_jobs_for_different_keys_all_run_in_order(qtbot, worker):
    runs, finished = [], []
    worker.finished.connect(lambda k, r: finished.append(k))
    for key in ("a", "b", "c"):
        worker.submit(slow_job(key, key, runs, steps=2))
    wait_idle(qtbot, worker)
    assert finished == ["a", "b", "c"]


def test_error_is_reported_and_next_job_succeeds(qtbot, worker):
    failed, finished = [], []
    worker.failed.connect(lambda k, m: failed.append((k, m)))
    worker.finished.connect(lambda k, r: finished.append((k, r)))

    def boom(progress, cancelled):
        raise ValueError("bad prompt 'x'")
    worker.submit(Job("a", boom))
    wait_idle(qtbot, worker)
    worker.submit(Job("a", lambda p, c: 42))
    wait_idle(qtbot, worker)
    assert failed == [("a", "ValueError: bad prompt 'x'")]
    assert finished == [("a", 42)]


class OutOfMemoryError(RuntimeError):
    """Same name as torch's CUDA OOM error."""


@pytest.mark.parametrize("exc", [MemoryError("cannot allocate 4 GiB"),
                                 OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")])
def test_out_of_memory_becomes_a_message_and_thread_survives(qtbot, worker, exc):
    failed, finished = [], []
    worker.failed.connect(lambda k, m: failed.append(m))
    worker.finished.connect(lambda k, r: finished.append(r))

    def oom(progress, cancelled):
        raise exc
    worker.submit(Job("a", oom))
    worker.submit(Job("b", lambda p, c: "ok"))
    wait_idle(qtbot, worker)
    assert len(failed) == 1 and failed[0].startswith("Out of memory")
    assert finished == ["ok"]


def test_engine_cancelled_exception_is_recognised_by_name(qtbot, worker):
    class Cancelled(Exception):
        pass
    cancelled, failed = [], []
    worker.cancelled.connect(cancelled.append)
    worker.failed.connect(lambda k, m: failed.append(m))

    def stop(progress, c):
        raise Cancelled("stopped")
    worker.submit(Job("a", stop))
    wait_idle(qtbot, worker)
    assert cancelled == ["a"] and failed == []


def test_signals_arrive_in_the_gui_thread(qtbot, worker):
    gui = threading.get_ident()
    seen = {}
    worker.started.connect(lambda k: seen.setdefault("started", threading.get_ident()))
    worker.progress.connect(lambda k, s, t: seen.setdefault("progress", threading.get_ident()))
    worker.finished.connect(lambda k, r: seen.setdefault("finished", threading.get_ident()))
    job_thread = []

    def fn(progress, cancelled):
        job_thread.append(threading.get_ident())
        progress(1, 1)
        return None
    worker.submit(Job("a", fn))
    wait_idle(qtbot, worker)
    assert job_thread and job_thread[0] != gui
    assert seen == {"started": gui, "progress": gui, "finished": gui}


def test_progress_reports_steps(qtbot, worker):
    steps = []
    worker.progress.connect(lambda k, s, t: steps.append((s, t)))
    worker.submit(slow_job("a", 1, [], steps=4, step_s=0.0))
    wait_idle(qtbot, worker)
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_cancel_pending_and_running(qtbot, worker):
    runs, cancelled, finished = [], [], []
    worker.cancelled.connect(cancelled.append)
    worker.finished.connect(lambda k, r: finished.append(k))
    worker.submit(slow_job("a", "a", runs, steps=500))
    worker.submit(slow_job("b", "b", runs, steps=2))
    qtbot.waitUntil(lambda: runs == ["a"], timeout=5000)
    assert worker.cancel("b") is True
    assert worker.cancel("a") is True
    wait_idle(qtbot, worker)
    assert sorted(cancelled) == ["a", "b"] and finished == [] and runs == ["a"]
    assert worker.cancel("nothing") is False


def test_busy_changed(qtbot, worker):
    states = []
    worker.busy_changed.connect(states.append)
    worker.submit(slow_job("a", 1, [], steps=2))
    wait_idle(qtbot, worker)
    # the "drained" notice is its own queued signal: it may arrive just after the last result
    qtbot.waitUntil(lambda: len(states) >= 2, timeout=5_000)
    assert states == [True, False]


def _engine_done(worker, ran: threading.Event, timeout_s=10.0):
    """Block the GUI thread (no event processing) until the engine thread ran its job and
    went idle, so its signals pile up undelivered."""
    assert ran.wait(timeout_s)
    deadline = time.monotonic() + timeout_s
    while worker.running_key is not None or worker.pending_keys():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_not_idle_until_the_last_result_is_delivered(qtbot, worker):
    """A job that finished in the engine thread while an earlier "queue drained" notice was
    still undelivered: idle (busy_changed False, is_busy False) must wait for its result."""
    seen = []
    worker.finished.connect(lambda k, r: seen.append(("finished", k)))
    worker.busy_changed.connect(lambda busy: seen.append(("busy", busy, worker.is_busy())))
    for key in ("first", "second"):
        ran = threading.Event()
        worker.submit(Job(key, lambda p, c, ran=ran: ran.set()))
        _engine_done(worker, ran)
        assert worker.is_busy()  # the engine is idle, but its result is not delivered yet
    qtbot.waitUntil(lambda: ("busy", False, False) in seen, timeout=10_000)
    qtbot.wait(50)
    assert seen == [("busy", True, True), ("finished", "first"), ("finished", "second"), ("busy", False, False)]


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_base_exception_in_a_job_fails_it_and_the_engine_goes_on(qtbot, worker, exc):
    failed, finished = [], []
    worker.failed.connect(lambda k, m: failed.append((k, m)))
    worker.finished.connect(lambda k, r: finished.append((k, r)))

    def bail(progress, cancelled):
        raise exc
    worker.submit(Job("a", bail))
    worker.submit(Job("b", lambda p, c: "still running"))
    wait_idle(qtbot, worker)
    assert failed == [("a", describe_error(exc))] and type(exc).__name__ in failed[0][1]
    assert finished == [("b", "still running")]


def test_shutdown_stops_a_running_job_and_refuses_new_ones(qtbot):
    w = EngineWorker()
    runs = []
    w.submit(slow_job("a", 1, runs, steps=1000))
    qtbot.waitUntil(lambda: runs == [1], timeout=5000)
    t0 = time.monotonic()
    assert w.shutdown(5000)
    assert time.monotonic() - t0 < 2.0
    assert w.shutdown() is True  # idempotent
    with pytest.raises(RuntimeError, match="shut down"):
        w.submit(Job("a", lambda p, c: None))


def test_submit_rejects_non_jobs(worker):
    with pytest.raises(TypeError, match="job must have"):
        worker.submit(object())


def _max_timer_gap(qtbot, duration_s, busy=lambda: True):
    """Run a 5 ms QTimer for ``duration_s`` and return the largest gap between ticks (s)."""
    from PySide6.QtCore import QTimer
    ticks = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    end = time.monotonic() + duration_s
    qtbot.waitUntil(lambda: time.monotonic() > end or not busy(), timeout=int(duration_s * 1000) + 10_000)
    timer.stop()
    return max(b - a for a, b in zip(ticks, ticks[1:]))


def test_gui_thread_does_not_stall_while_a_torch_job_runs(qtbot, worker):
    """The job runs in the engine thread and torch releases the GIL, so a 5 ms GUI
    timer keeps ticking. (A job run in the GUI thread, or one holding the GIL, would
    leave a gap of about the job's length: one second.)"""
    torch = pytest.importorskip("torch")
    a = torch.randn(384, 384)
    threads = torch.get_num_threads()
    # One intra-op thread: on the 2-core CI machine, more would starve the GUI thread of
    # CPU, which is scheduling, not the GIL this test is about.
    torch.set_num_threads(1)

    def heavy(progress, cancelled):
        end = time.monotonic() + 1.0
        n = 0
        while time.monotonic() < end and not cancelled():
            a @ a  # releases the GIL
            n += 1
        return n
    try:
        worker.submit(Job("heavy", heavy))
        qtbot.waitUntil(lambda: worker.running_key == "heavy", timeout=5000)
        gap = _max_timer_gap(qtbot, 1.0, busy=worker.is_busy)
        wait_idle(qtbot, worker)
    finally:
        torch.set_num_threads(threads)
    print(f"max GUI timer gap while torch job ran: {gap * 1000:.1f} ms")
    if gap >= 0.05:
        # The CI machine is shared: only blame the worker if the GUI thread is smooth
        # without it.
        baseline = _max_timer_gap(qtbot, 1.0)
        assert gap < 2 * baseline + 0.025, f"GUI stalled {gap*1000:.0f} ms (baseline {baseline*1000:.0f} ms)"


def test_engine_errors_are_logged_without_a_traceback_others_with_one(qtbot, worker, caplog):
    """An expected engine error (say, no LayerDiffuse weights) is a message, not a crash report."""
    import logging

    class EngineError(Exception):  # the engine's base class, matched by name
        pass

    class LayerDiffuseUnavailable(EngineError):
        pass

    failed = []
    worker.failed.connect(lambda k, m: failed.append(m))

    def missing(progress, cancelled):
        raise LayerDiffuseUnavailable("weights are not available: download them")

    def bug(progress, cancelled):
        raise ZeroDivisionError("division by zero")

    caplog.set_level(logging.INFO, logger="editor.worker.engine_worker")
    worker.submit(Job("a", missing))
    worker.submit(Job("b", bug))
    wait_idle(qtbot, worker)
    assert failed == ["LayerDiffuseUnavailable: weights are not available: download them",
                      "ZeroDivisionError: division by zero"]
    expected = [r for r in caplog.records if "weights are not available" in r.getMessage()]
    crashes = [r for r in caplog.records if r.exc_info]
    assert expected and all(r.exc_info is None and r.levelno == logging.INFO for r in expected)
    assert len(crashes) == 1 and crashes[0].exc_info[0] is ZeroDivisionError
