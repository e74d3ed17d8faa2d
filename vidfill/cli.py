"""Command line: ``vidfill INPUT MASKS -o OUTPUT``, ``vidfill batch`` and ``vidfill demo``."""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import sys
import tempfile
import threading
import traceback
from fractions import Fraction
from pathlib import Path

from vidfill.config import PipelineConfig, load_preset, parse_overrides, preset_names
from vidfill.errors import VidfillError
from vidfill.inpaint import NAMES
from vidfill.job import DEFAULT_FPS, Job, parse_reference, run_job
from vidfill.progress import Reporter

EPILOG = """\
masks: a folder with one image per frame (numeric order), one image for every
frame (logos, watermarks) or a mask video. Hole = any channel above
--mask-threshold of full scale; masks of another size are resized (nearest).
output: a video file (container and codec from the extension; fps, time base
and audio kept) or a folder for a PNG sequence. Outside the (dilated) mask the
output equals the input.

long clips are processed in overlapping windows ([window] in a preset) and
written as each window finishes: memory does not grow with the clip's length.

other commands: vidfill demo [--help], vidfill batch [--help],
vidfill train flow-edges [--help]
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidfill", description="Remove masked objects, logos and damage from a video.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="video file or folder of frames")
    p.add_argument("masks", type=Path, help="mask folder, single mask image or mask video")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output video (.mp4 .mov .mkv .avi .webm) or folder for PNG frames")
    add_options(p)
    p.add_argument("--resume", action="store_true",
                   help="record each finished window in a work directory and continue a killed "
                        "run from it (removed when the output is complete)")
    p.add_argument("--work-dir", type=Path,
                   help="work directory for --resume, which it implies (default: OUTPUT.vidfill-work "
                        "next to the output); new, empty or vidfill's own")
    p.add_argument("--overwrite", action="store_true",
                   help="let a PNG-sequence output replace the numbered frames in a folder that "
                        "holds other files too (they are kept); without it such a folder is refused")
    p.add_argument("--reference", action="append", default=[], metavar="N=FILE",
                   help="frame N painted by hand: its pixels inside the hole are taken as known and "
                        "propagated (repeatable)")
    return p


def add_options(p: argparse.ArgumentParser) -> None:
    """The settings shared by ``vidfill`` and ``vidfill batch``."""
    p.add_argument("--pipeline", default="default",
                   help=f"preset name ({', '.join(preset_names())}) or a .toml file")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change one pipeline setting, e.g. --set fusion.method=colour (repeatable; "
                        "the names are those of the preset files)")
    p.add_argument("--dilate", type=int,
                   help="grow the mask by N pixels (default preset: 0; 4-8 for tight roto masks)")
    p.add_argument("--mask-threshold", type=float,
                   help="hole = channel above this fraction of full scale (default 0.1)")
    p.add_argument("--flow", choices=["raft", "dis"], help="flow method (overrides the preset)")
    p.add_argument("--edges", choices=["network", "none"],
                   help="flow-edge guided flow completion (network) or diffusion only (overrides the preset)")
    p.add_argument("--refine", type=int, metavar="N",
                   help="times the flow is estimated again on the filled frames and the hole filled "
                        "again (RAFT only; default preset: 2, 0 is about 2.5x faster)")
    p.add_argument("--inpainter", help=f"image inpainter for pixels no frame shows: {', '.join(NAMES)} "
                                       "(overrides the preset)")
    p.add_argument("--inpainter-weights", type=Path,
                   help="checkpoint of the gated inpainter (otherwise looked up in the checkpoint folders)")
    p.add_argument("--raft-weights", type=Path,
                   help="RAFT checkpoint (torchvision or princeton-vl layout)")
    p.add_argument("--no-download", action="store_true",
                   help="never download weights; fall back to DIS flow if none are found")
    p.add_argument("--crf", type=int,
                   help="video quality, lower is better (default 17; 0-51 for x264/x265, 0-63 for "
                        "VP9/AV1)")
    p.add_argument("--codec", help="video codec, e.g. libx264, ffv1 (lossless), libvpx-vp9")
    p.add_argument("--fps", type=_fps,
                   help=f"frame rate for a frame-folder input written as video (default {DEFAULT_FPS}; "
                        "e.g. 24, 23.976 or 24000/1001)")
    p.add_argument("--device", default="auto",
                   help="torch device: cpu, cuda, cuda:1, mps (default auto: cuda when available)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def _fps(text: str) -> Fraction:
    """argparse type of --fps: a positive rate, as a number or a fraction."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate (e.g. 25, 23.976, 24000/1001)") \
            from None
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return rate


def config_from(args: argparse.Namespace, preset: str | None = None) -> PipelineConfig:
    """The settings of ``preset`` (default ``args.pipeline``), then the options, then ``--set``:
    every value goes through the validation of :mod:`vidfill.config`, which names the option."""
    cfg = load_preset(preset or args.pipeline)
    options = [("--dilate", "mask", "dilate", args.dilate),
               ("--mask-threshold", "mask", "threshold", args.mask_threshold),
               ("--flow", "flow", "method", args.flow),
               ("--edges", "edges", "method", args.edges),
               ("--refine", "flow", "refine_passes", args.refine),
               ("--inpainter", "leftover", "method", args.inpainter)]
    for flag, section, key, value in options:
        if value is not None:
            cfg = cfg.replace(origin=flag, **{section: {key: value}})
    cfg = cfg.replace(origin="--set", **parse_overrides(args.set))
    if args.inpainter_weights is not None and cfg.leftover.method != "gated":
        raise VidfillError(f"--inpainter-weights {args.inpainter_weights}: only the gated inpainter "
                           f"takes weights (this run uses {cfg.leftover.method})")
    return cfg


def make_job(args: argparse.Namespace, input: Path, masks: Path, output: Path,
             cfg: PipelineConfig, *, resume: bool, work_dir: Path | None = None,
             references: tuple[tuple[int, Path], ...] = ()) -> Job:
    """A :class:`Job` with the options of :func:`add_options`."""
    return Job(input=input, masks=masks, output=output, cfg=cfg, raft_weights=args.raft_weights,
               download=not args.no_download, crf=args.crf, codec=args.codec, fps=args.fps,
               device=args.device, resume=resume, work_dir=work_dir,
               inpainter_weights=args.inpainter_weights, references=references,
               overwrite=getattr(args, "overwrite", False))


def run(args: argparse.Namespace) -> None:
    cfg = config_from(args)
    references = tuple(parse_reference(item) for item in args.reference)  # before any reading
    run_job(make_job(args, args.input, args.masks, args.output, cfg,
                     resume=args.resume or args.work_dir is not None,
                     work_dir=args.work_dir, references=references),
            Reporter(quiet=args.quiet))


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
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _terminate) for sig in (signal.SIGTERM, signal.SIGHUP)} \
        if in_main_thread else {}
    try:
        return _dispatch(argv)
    except VidfillError as exc:
        print(f"vidfill: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidfill: interrupted; no partial output was left", file=sys.stderr)
        return 130
    except Terminated:
        print("vidfill: terminated; no partial output was left", file=sys.stderr)
        return 143
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a CLI user
        report = _write_report(argv)
        line = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
        print(f"vidfill: internal error: {line} (full report: {report}; please attach it to a bug "
              "report)", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _dispatch(argv: list[str]) -> int:
    commands = {"demo": "vidfill.demo", "batch": "vidfill.batch", "train": "vidfill.train"}
    if argv and argv[0] in commands:
        if Path(argv[0]).exists():
            raise VidfillError(f"{argv[0]}: both a sub-command and a file or folder here; write "
                               f"./{argv[0]} for the file, or run the command from elsewhere")
        import importlib

        return importlib.import_module(commands[argv[0]]).main(argv[1:])
    run(_parser().parse_args(argv))
    return 0


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
