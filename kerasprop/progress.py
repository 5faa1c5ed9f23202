"""`Progress`: a spinner with the elapsed time on stderr while a model loads (the CLI and the demo)."""

import sys
import threading
import time


class Progress:
    """A spinner with elapsed time on stderr while something slow runs (silent when not a terminal)."""

    def __init__(self, message, enabled=None):
        self.message = message
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self.start = time.perf_counter()
        if self.enabled:
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()
        return self

    def _spin(self):
        frames = "|/-\\"
        i = 0
        while not self._stop.wait(0.1):
            elapsed = time.perf_counter() - self.start
            sys.stderr.write(f"\r{frames[i % 4]} {self.message} {elapsed:5.1f}s")
            sys.stderr.flush()
            i += 1

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            elapsed = time.perf_counter() - self.start
            sys.stderr.write(f"\r{'ok' if exc[0] is None else '!!'} {self.message} {elapsed:5.1f}s\n")
        return False
