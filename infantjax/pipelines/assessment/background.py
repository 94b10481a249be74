"""Work run in a thread beside the next stages of a video (the labelled video beside the ensemble): its progress
reported as it goes, its result or error given back to the caller's thread, and a way to stop it."""

from __future__ import annotations

import threading
import time


class _Cancelled(Exception):
    """Raised in a :class:`_Beside` thread's progress call to stop its work."""


class _Beside:
    """``fn(tick)`` run in a thread beside the next stages (the labelled video beside the ensemble): ``tick(n)``
    reports ``n`` more frames to ``progress``; :meth:`wait` gives its result or raises its error; :meth:`cancel`
    stops it at its next progress call (an aborted video writer leaves no file) and waits for it."""

    def __init__(self, fn, progress):
        self.cancelled = threading.Event()
        self.result, self.error, self.seconds = None, None, 0.0

        def tick(n: int) -> None:
            if self.cancelled.is_set():
                raise _Cancelled()
            progress(n)

        def run() -> None:
            t = time.perf_counter()
            try:
                self.result = fn(tick)
            except BaseException as err:  # re-raised by wait() in the caller's thread
                self.error = err
            finally:
                self.seconds = time.perf_counter() - t

        self.thread = threading.Thread(target=run, name="infantjax-beside", daemon=True)
        self.thread.start()

    def wait(self):
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result

    def cancel(self) -> None:
        self.cancelled.set()
        self.thread.join()
