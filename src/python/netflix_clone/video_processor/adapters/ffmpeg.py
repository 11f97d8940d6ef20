"""Running ffmpeg: the binary from the imageio-ffmpeg wheel, progress from ``-progress``, clean failures.

The wheel bundles a static ffmpeg built with libx264, libx265, SVT-AV1 and libvmaf, so nothing is
installed by hand and every machine runs the same encoder. ``NFC_VIDEO_FFMPEG`` overrides the binary
(:func:`use_ffmpeg`).
"""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404 - ffmpeg is run with argument lists, never through a shell
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional

from netflix_clone.video_processor.errors import FfmpegError

__all__ = ["FfmpegError", "FfmpegRun", "ffmpeg_binary", "run_ffmpeg", "use_ffmpeg"]

ProgressCallback = Callable[[float], None]


_override: Optional[str] = None


def use_ffmpeg(binary: Optional[str]) -> None:
    """Run ``binary`` instead of the wheel's ffmpeg (the CLI passes ``NFC_VIDEO_FFMPEG``); None: the wheel's."""
    global _override  # pylint: disable=global-statement  # one process-wide choice, made at start-up
    _override = binary or None


def ffmpeg_binary() -> str:
    if _override:
        return _override
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _die_with_parent() -> None:
    """Linux: SIGKILL ffmpeg if the worker dies, so a killed job leaves no encoder running."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass(frozen=True)
class FfmpegRun:
    seconds: float
    cpu_seconds: float  # user + system time of the ffmpeg process
    progress_updates: int


def run_ffmpeg(
    args: Sequence[str],
    duration_s: Optional[float] = None,
    progress: Optional[ProgressCallback] = None,
    timeout_s: Optional[float] = None,
    stop: Optional[threading.Event] = None,
) -> FfmpegRun:
    """Run ``ffmpeg ARGS`` with machine-readable progress; raise FfmpegError with its stderr tail.

    ``progress`` receives the fraction done (0..1) as ffmpeg reports output time; ``stop`` lets a
    worker abandon the job (the process is killed, never left running).
    """
    command = [
        ffmpeg_binary(),
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-y",
        "-progress",
        "pipe:1",
        *args,
    ]
    started = time.perf_counter()
    # Own process group, so a timeout kills ffmpeg's helper threads/processes with it.
    # pylint: disable-next=subprocess-popen-preexec-fn  # prctl only: no locks, no allocation
    process = subprocess.Popen(  # nosec B603 - fixed binary, argument list
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    tail: deque[str] = deque(maxlen=12)
    assert process.stderr is not None and process.stdout is not None  # nosec B101 - PIPE given above
    stderr_reader = threading.Thread(target=lambda: tail.extend(process.stderr or ()), daemon=True)
    stderr_reader.start()
    updates = 0
    killed_for: Optional[str] = None

    def watchdog() -> None:
        nonlocal killed_for
        while not finished.wait(0.1):
            if timeout_s is not None and time.perf_counter() - started > timeout_s:
                killed_for = f"timed out after {timeout_s:.0f} s"
            elif stop is not None and stop.is_set():
                killed_for = "stopped"
            if killed_for:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return

    finished = threading.Event()
    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    done = 0.0  # out_time_us can step back between reports (several outputs): progress never does
    for line in process.stdout:
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and progress is not None and duration_s and value.lstrip("-").isdigit():
            updates += 1
            done = max(done, min(1.0, int(value) / 1e6 / duration_s))
            progress(done)
        elif key == "progress" and value == "end" and progress is not None:
            progress(1.0)
    # wait4 instead of Popen.wait: it reports this one process's CPU time, even when other encodes
    # run in parallel threads of the same worker.
    _, status, usage = os.wait4(process.pid, 0)
    finished.set()
    returncode = process.returncode = os.waitstatus_to_exitcode(status)
    stderr_reader.join(timeout=5)
    guard.join(timeout=5)
    cpu = usage.ru_utime + usage.ru_stime
    detail = " | ".join(line.strip() for line in tail if line.strip())
    if killed_for:
        raise FfmpegError(f"ffmpeg {killed_for}", detail, timed_out=killed_for.startswith("timed out"))
    if returncode != 0:
        raise FfmpegError(f"ffmpeg exited with status {returncode}", detail)
    return FfmpegRun(time.perf_counter() - started, cpu, updates)
