"""Quitting while a job ignores cancellation (a model load) must neither abort nor hang.

Each case runs in a fresh interpreter: the crash this guards against ("QThread:
Destroyed while thread ... is still running", then SIGABRT) happens at interpreter exit.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Submits a job that sleeps through cancellation, waits until it has started, then
# runs SCENARIO and lets the script end while the job is still sleeping.
PRELUDE = textwrap.dedent("""
    import os, sys, time
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    import editor.worker.engine_worker as engine_worker
    from editor.worker import Job

    def uninterruptible(progress, cancelled):
        time.sleep(JOB_S)  # like importing torch: cancelled() is never looked at
        print("job returned", flush=True)
        return "done"

    def start(worker):
        worker.submit(Job("load-model", uninterruptible))
        deadline = time.monotonic() + 10
        while worker.running_key is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.running_key == "load-model"
""")

PLAIN_WORKER = """
from PySide6.QtWidgets import QMainWindow
from editor.worker import EngineWorker
window = QMainWindow()
worker = EngineWorker(window)
start(worker)
assert worker.shutdown(100) is False  # the job ignores cancellation
window.close()
del window, worker  # the worker's Qt object dies with its window
app.quit()
print("script ended", flush=True)
"""

MAIN_WINDOW = """
from editor.ui.main_window import MainWindow
window = MainWindow()
window.show()
app.processEvents()
start(window.worker)
t0 = time.monotonic()
assert window.close()
assert time.monotonic() - t0 < 2.5, "closing waited for the whole job"
assert not window.isVisible()
app.quit()
print("script ended", flush=True)
"""


def run_script(scenario: str, job_s: float, extra: str = "") -> subprocess.CompletedProcess:
    code = PRELUDE.replace("JOB_S", repr(job_s)) + extra + textwrap.dedent(scenario)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def assert_clean_exit(proc: subprocess.CompletedProcess) -> None:
    assert "Destroyed while thread" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stderr}"
    # The interpreter waited for the job instead of tearing its thread down.
    assert proc.stdout.splitlines()[-2:] == ["script ended", "job returned"], proc.stdout


def test_script_ends_while_job_ignores_cancel_exits_cleanly():
    assert_clean_exit(run_script(PLAIN_WORKER, job_s=3))


def test_closing_main_window_during_uninterruptible_job_exits_cleanly():
    assert_clean_exit(run_script(MAIN_WINDOW, job_s=3))


def test_job_stuck_past_exit_wait_forces_exit_with_warning():
    proc = run_script(PLAIN_WORKER, job_s=600, extra="engine_worker.EXIT_WAIT_MS = 500\n")
    assert "Destroyed while thread" not in proc.stderr, proc.stderr
    assert "forcing the process to end" in proc.stderr
    assert proc.returncode == 1, f"exit code {proc.returncode}\n{proc.stderr}"
    assert "job returned" not in proc.stdout
