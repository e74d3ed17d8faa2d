"""``vidfill``: the sub-commands (fill, batch, demo, keyframes, find-overlay, train) under one
error handler.

Every sub-command raises :class:`~vidfill.errors.VidfillError` for a problem with its input,
output or settings; :func:`main` turns it into one line and exit status 2, an unexpected error
into one line with the path of a full report, and Ctrl-C, SIGTERM or SIGHUP into a line saying
that no partial output was left.
"""

from __future__ import annotations

import datetime
import importlib
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path

from vidfill.errors import VidfillError
from vidfill.progress import one_line


class Terminated(BaseException):
    """SIGTERM or SIGHUP (the terminal closed), raised like KeyboardInterrupt so that temporary
    outputs are removed on the way out."""


def _terminate(_signum, _frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """The ``vidfill`` command. Exit status: 0 done, 2 a problem with the input, output or
    settings (one line naming it), 1 an internal error (one line and the path of a full report),
    130/143 interrupted/terminated (nothing half-written is left)."""
    argv = sys.argv[1:] if argv is None else argv
    # notes are printed by the command's reporter; with --quiet (a quiet reporter logs them)
    # only errors reach the terminal
    logger = logging.getLogger("vidfill")
    previous_level = logger.level
    logger.setLevel(logging.ERROR)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)} \
        if in_main_thread else {}
    try:
        return _dispatch(argv)
    except VidfillError as exc:
        print(f"vidfill: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidfill: interrupted; no partial output was left", file=sys.stderr)
        return 130
    except Terminated:
        print("vidfill: terminated; no partial output was left", file=sys.stderr)
        return 143
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a CLI user
        report = _write_report(argv)
        line = one_line(f"{type(exc).__name__}: {str(exc).strip()}" if str(exc).strip()
                        else type(exc).__name__)
        print(f"vidfill: internal error: {line} (full report: {report}; please attach it to a bug "
              "report)", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logger.setLevel(previous_level)


COMMANDS = ("fill", "batch", "demo", "keyframes", "find-overlay", "train")
"""The sub-commands, each the ``main(argv)`` of its module in :mod:`vidfill.cli` (a hyphen in the
name is an underscore in the module's), imported when it runs (torch with it), so that Ctrl-C
while it loads is one line too. ``vidfill INPUT ...`` without one is ``vidfill fill INPUT ...``."""


def command(name: str) -> Callable[[list[str]], int]:
    """The ``main`` of sub-command ``name``, imported with Ctrl-C held until the import is done:
    an interrupt inside an extension module's initialisation (numpy's, under torch's import)
    leaves it half-loaded, and the next import of it failed as an internal error, not as the
    interruption it was."""
    module = f"vidfill.cli.{name.replace('-', '_')}"
    if threading.current_thread() is not threading.main_thread():
        return importlib.import_module(module).main
    interrupted = []
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: interrupted.append(True))
    try:
        loaded = importlib.import_module(module)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt
    return loaded.main


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] in COMMANDS:
        if Path(argv[0]).exists():
            raise VidfillError(f"{argv[0]}: both a sub-command and a file or folder here; write "
                               f"./{argv[0]} for the file, or run the command from elsewhere")
        return command(argv[0])(argv[1:])
    return command("fill")(argv)


def _write_report(argv: list[str]) -> Path | str:
    """Write the current exception's traceback to a report file; its path (or why there is none)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (f"vidfill {' '.join(argv)}\n{datetime.datetime.now().isoformat()}\n\n"
            f"{traceback.format_exc()}")
    try:
        fd, name = tempfile.mkstemp(prefix=f"vidfill-error-{stamp}-", suffix=".txt")
        with os.fdopen(fd, "w") as report:
            report.write(text)
        return Path(name)
    except OSError as exc:
        return f"none written: {exc.strerror or exc}"


if __name__ == "__main__":
    sys.exit(main())
