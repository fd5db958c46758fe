"""The daemon's sender workers: child `edm worker` processes, kept running, stopped with SIGTERM.

Separate processes, not threads: the sender forks its composing processes and owns its
event loop and signals, and a crash in one worker never takes the scheduler with it.
On Linux a child is told to stop (SIGTERM) when the daemon dies, even by SIGKILL.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

RESTART_SECONDS = 5.0  # the least time between restarts of one worker slot: a crash loop stays slow
MAX_RESTART_SECONDS = 300.0  # the longest: a worker failing on its settings (a refused login) retries rarely
STEADY_SECONDS = 60.0  # a worker that ran this long was not crash-looping: its slot starts afresh


def restart_delay(failures: int) -> float:
    """Seconds before restarting a slot whose worker failed `failures` times running: doubling from
    RESTART_SECONDS, so a wrong password costs a handful of logins an hour, not one every 5 s."""
    return float(min(RESTART_SECONDS * 2.0 ** min(max(failures - 1, 0), 16), MAX_RESTART_SECONDS))
PR_SET_PDEATHSIG = 1


def worker_command(config_path: Path | None) -> list[str]:
    """How to start `edm worker` with the daemon's own interpreter and settings file."""
    command = [sys.executable, "-c", "from edm.cli import main; main()", "worker"]
    return [*command, "--config", str(config_path)] if config_path else command


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to send SIGTERM to the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here, in the parent: the hook only calls it

    def hook() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


class Workers:
    """`count` worker processes; `keep_up` (from the daemon's main thread) restarts one that exited."""

    def __init__(self, count: int, command: Sequence[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.command = list(command)
        self.slots: list[subprocess.Popen[bytes] | None] = [None] * count
        self.started_at = [-MAX_RESTART_SECONDS] * count
        self.failures = [0] * count  # failed exits in a row, per slot
        self._clock = clock
        self._hook = _parent_death_signal()

    def keep_up(self) -> None:
        for slot, process in enumerate(self.slots):
            if process is not None:
                if process.poll() is None:
                    continue
                ran = self._clock() - self.started_at[slot]
                self.failures[slot] = 0 if process.returncode == 0 or ran >= STEADY_SECONDS else \
                    self.failures[slot] + 1
                log.warning("worker pid=%d exited with %s; restarting in %.0f s", process.pid,
                            process.returncode, restart_delay(self.failures[slot]))
                self.slots[slot] = None
            if self._clock() - self.started_at[slot] < restart_delay(self.failures[slot]):
                continue  # a worker that keeps crashing is restarted ever more slowly
            self.started_at[slot] = self._clock()
            # the pre-exec hook makes one C call: safe although the daemon runs threads
            started = subprocess.Popen(self.command, preexec_fn=self._hook)  # noqa: S603 (our own interpreter and arguments)
            self.slots[slot] = started
            log.info("worker pid=%d started", started.pid)

    def terminate(self) -> None:
        """Ask every worker to stop claiming and finish what it holds."""
        for process in self.alive():
            process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> bool:
        """Wait until `deadline` (monotonic) for the workers; kill any still running. True if all stopped."""
        for process in self.alive():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                log.warning("worker pid=%d did not stop in time; killed", process.pid)
                process.kill()
                process.wait()
        stopped = all(p is None or p.returncode == 0 for p in self.slots)
        self.slots = [None] * len(self.slots)
        return stopped

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.slots if p is not None and p.poll() is None]
