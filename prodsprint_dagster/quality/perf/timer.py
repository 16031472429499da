"""Wake-ups at exact monotonic times on an asyncio loop, for the load generator's schedule.

Event-loop timers have millisecond resolution (libuv rounds to whole milliseconds, asyncio's
epoll timeout does too), so a request due at t would leave up to a millisecond late, and since
latency is measured from the scheduled time, every sub-millisecond service would look slower
than it is. On Linux a ``timerfd`` armed with the absolute due time (CLOCK_MONOTONIC, the clock
of ``time.monotonic``) becomes readable within microseconds of it, and the loop wakes through
the same epoll it already waits on: precise wake-ups with no busy waiting. Elsewhere the loop's
own timer is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if not name:
        return None
    libc = ctypes.CDLL(name, use_errno=True)
    return libc if hasattr(libc, "timerfd_create") else None


_LIBC = _libc()


class Wakeup:
    """Calls ``callback`` once at the time given to :meth:`at` (a later call replaces it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]):
        self.loop = loop
        self.callback = callback
        self.fd = -1
        self.handle: asyncio.TimerHandle | None = None
        if _LIBC is not None:
            fd = _LIBC.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
            if fd >= 0:
                self.fd = fd
                self._spec = _Itimerspec()
                loop.add_reader(fd, self._fired)

    @property
    def precise(self) -> bool:
        return self.fd >= 0

    def at(self, when: float) -> None:
        """Arm for ``when`` (``time.monotonic()`` seconds); a past time fires at once."""
        if self.fd >= 0:
            seconds = max(int(when), 0)
            nanos = min(max(int((when - seconds) * 1e9), 0), 999_999_999)
            self._spec.it_value.tv_sec = seconds
            self._spec.it_value.tv_nsec = nanos or (0 if seconds else 1)  # 0/0 would disarm
            if _LIBC.timerfd_settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None):
                self._fallback(when)  # pragma: no cover - settime does not fail on a valid fd
            return
        self._fallback(when)

    def _fallback(self, when: float) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = self.loop.call_at(when, self.callback)

    def _fired(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            os.read(self.fd, 8)
        self.callback()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        if self.fd >= 0:
            self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
