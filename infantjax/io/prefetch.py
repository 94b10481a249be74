"""Iterating in a background thread, a bounded number of items ahead: video decoding (which releases the GIL)
overlapped with the pose network's forward pass or a labelled video's encoding."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

__all__ = ["Prefetch"]


class Prefetch:
    """Iterate ``items`` in a background thread, at most ``depth`` ahead (video decoding releases the GIL, so it
    overlaps with the pose predictor's jitted forward or a labelled video's encoding). ``close()`` stops the
    thread, whether or not iteration began; an exception raised in the thread is raised by ``next``."""

    _DONE = object()

    def __init__(self, items: Iterator, depth: int = 2):
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="infantjax-video-decode", daemon=True)
        self._thread.start()

    def _put(self, entry) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self):
        try:
            for item in self._items:
                if not self._put((None, item)):
                    return
            self._put((None, self._DONE))
        except BaseException as err:  # noqa: BLE001 - handed to the consuming thread
            self._put((err, None))

    def __iter__(self):
        return self

    def __next__(self):
        err, item = self._queue.get()
        if err is not None:
            self.close()
            raise err
        if item is self._DONE:
            self.close()
            raise StopIteration
        return item

    def close(self):
        self._stop.set()
        self._thread.join()
        close = getattr(self._items, "close", None)
        if close is not None:
            close()
