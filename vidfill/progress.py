"""Per-stage progress on stderr (a live bar on a terminal, one summary line per stage), and the
notes of a run.

Notes go to the user in one line each: printed (``vidfill: ...``) by a reporter that is not
quiet, as the command line's is; otherwise through the ``"vidfill"`` logger, so that a library
user sees them as Python's logging is set up: :meth:`Reporter.warn` (a fallback, or something
the output cannot keep) at WARNING, which Python shows by default; :meth:`Reporter.note` at INFO.
"""

from __future__ import annotations

import logging
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

Advance = Callable[[int], None]

LOG = logging.getLogger("vidfill")

_CONTROL = ("Cc", "Zl", "Zp")
"""Unicode categories that break or rewrite a terminal line: control characters, line and
paragraph separators."""


def one_line(text: str) -> str:
    """``text`` with its control characters written as Python escapes them (a newline as
    ``\\n``, ESC as ``\\x1b``), so that a message naming any path stays one line and cannot
    rewrite the terminal; every other character, non-ASCII letters included, as it is."""
    return "".join(c.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(c) in _CONTROL else c for c in text)


class Reporter:
    """Creates one progress bar per stage; ``quiet`` silences everything.

    ``timings`` collects the seconds spent in each stage (summed over repeats).
    """

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, refresh_s: float = 0.2):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.refresh_s = refresh_s
        self.timings: dict[str, float] = {}

    def note(self, message: str) -> None:
        """A one-line message for the user: printed, or logged at INFO when ``quiet``."""
        self._say(message, logging.INFO)

    def warn(self, message: str) -> None:
        """A fallback, or something the output cannot keep: printed, or logged at WARNING when
        ``quiet``."""
        self._say(message, logging.WARNING)

    def _say(self, message: str, level: int) -> None:
        if self.quiet:
            LOG.log(level, message)
        else:
            print(f"vidfill: {one_line(message)}", file=self.stream, flush=True)

    @contextmanager
    def stage(self, name: str, total: int | None = None, unit: str = "it") -> Iterator[Advance]:
        """Context manager yielding ``advance(n)``: a live bar (tqdm) on a terminal while the
        stage runs, then one summary line (also in logs, where no bar is drawn)."""
        start = time.perf_counter()
        done = 0
        live = not self.quiet and self.stream.isatty()
        bar = tqdm(total=total, desc=name, unit=unit, file=self.stream, disable=not live,
                   leave=False, mininterval=self.refresh_s, dynamic_ncols=True)

        def line(now: float) -> str:
            elapsed = now - start
            rate = done / elapsed if elapsed > 0 else 0.0
            if total:
                filled = int(20 * min(done, total) / total)
                bar = f"[{'#' * filled}{'.' * (20 - filled)}] {done}/{total}"
            else:
                bar = f"{done}"
            speed = f" {rate:7.2f} {unit}/s" if done else ""  # nothing to do: no rate to show
            return f"{name:<12} {bar} {unit} {elapsed:6.1f}s{speed}"

        def advance(n: int = 1) -> None:
            nonlocal done
            done += n
            bar.update(n)

        try:
            yield advance
        finally:
            bar.close()
            end = time.perf_counter()
            self.timings[name] = self.timings.get(name, 0.0) + end - start
            if not self.quiet:
                print(line(end), file=self.stream, flush=True)
