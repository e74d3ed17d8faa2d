"""``vidfill INPUT MASKS -o OUTPUT`` (also ``vidfill fill ...``): one clip."""

from __future__ import annotations

import argparse
from pathlib import Path

from vidfill.cli.options import add_options, config_from, make_job
from vidfill.io import IMAGE_FORMATS
from vidfill.job import run_job
from vidfill.job.spec import parse_reference
from vidfill.progress import Reporter

EPILOG = """\
masks: a folder with one image per frame (numeric order), one image for every
frame (logos, watermarks) or a mask video. Hole = any channel above
--mask-threshold of full scale; masks of another size are resized (nearest).
output: a video file (container and codec from the extension; fps, time base
and audio kept) or a folder for an image sequence (the plate's PNG, TIFF or EXR;
PNG for a video; --format to choose). Outside the (dilated) mask the output
equals the input.

long clips are processed in overlapping windows ([window] in a preset) and
written as each window finishes: memory does not grow with the clip's length.

other commands: vidfill demo [--help], vidfill batch [--help],
vidfill keyframes [--help], vidfill find-overlay [--help] (the mask of a
logo or watermark that stays put), vidfill train flow-edges [--help];
"vidfill fill INPUT MASKS -o OUTPUT" is this one
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidfill", description="Remove masked objects, logos and damage from a video.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="video file or folder of frames")
    p.add_argument("masks", type=Path, help="mask folder, single mask image or mask video")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output video (.mp4 .mov .mkv .avi .webm) or folder for image frames")
    add_options(p)
    p.add_argument("--resume", action="store_true",
                   help="record each finished window in a work directory and continue a killed "
                        "run from it (removed when the output is complete)")
    p.add_argument("--work-dir", type=Path,
                   help="work directory for --resume, which it implies (default: OUTPUT.vidfill-work "
                        "next to the output); new, empty or vidfill's own")
    p.add_argument("--restart", action="store_true",
                   help="with --resume: a work directory of another run (other frames, masks, "
                        "painted frames, weights or settings) is emptied and the run starts over, "
                        "instead of being refused")
    p.add_argument("--overwrite", action="store_true",
                   help="let the output replace what vidfill did not write: a video file at "
                        "the output (or --preview) path, or in a folder that holds other files, "
                        "the files a new frame has the name of (the rest is kept); without it "
                        "these are refused (an earlier vidfill output is replaced)")
    p.add_argument("--fill-only", action="store_true",
                   help="write only the fill, as an RGBA image sequence to lay over the plate: alpha "
                        "on the filled region, transparent elsewhere (at the source's depth)")
    p.add_argument("--format", choices=list(IMAGE_FORMATS), dest="image_format",
                   help="file type of a sequence output (default: the plate's own; PNG for a "
                        "video); EXR is written scene-linear, the others display-referred")
    p.add_argument("--feather", type=int, default=0, metavar="N",
                   help="blend the fill into the plate over N pixels around the hole: the fill "
                        "covers them too, and its alpha falls from 1 to 0 across them (default 0)")
    p.add_argument("--frames", type=_frame_range, metavar="FIRST:LAST",
                   help="only these frames, both included: an image sequence's frame numbers "
                        "(e.g. 1001:1100), a video's indices from 0")
    p.add_argument("--handles", type=int, default=0, metavar="N",
                   help="with --frames: N frames before and after the range are read and filled "
                        "as context, but not written (default 0)")
    p.add_argument("--proxy", type=float, metavar="SCALE",
                   help="a quick look: the whole run at this fraction of the frame size (e.g. 0.5), "
                        "with the same settings, written at that size")
    p.add_argument("--start-number", type=int, metavar="N",
                   help="number of the first frame of a sequence output (default: an image "
                        "sequence keeps its own numbers, e.g. plate.1001.png gives 1001.png; a video "
                        "starts at 0)")
    p.add_argument("--preview", type=Path, metavar="FILE",
                   help="also write a reduced side-by-side video: the input with the hole outlined "
                        "in red | the result")
    p.add_argument("--reference", action="append", default=[], metavar="N=FILE",
                   help="frame N painted by hand: its pixels inside the hole are taken as known and "
                        "propagated (repeatable)")
    p.add_argument("--profile", type=Path, metavar="FILE.json",
                   help="at the end, print each stage's seconds (and per frame, and share of the "
                        "total), the total and the peak memory (RSS; CUDA's on a GPU), and write "
                        "them with the run's device, size and settings to this JSON file")
    return p


def _frame_range(text: str) -> tuple[int, int]:
    """argparse type of --frames: ``FIRST:LAST`` (or ``FIRST-LAST``), both included."""
    first, sep, last = text.replace("-", ":", 1).partition(":")
    try:
        return int(first), int(last)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not FIRST:LAST, e.g. 1001:1100") from None


def run(args: argparse.Namespace) -> None:
    cfg = config_from(args)
    references = tuple(parse_reference(item) for item in args.reference)  # before any reading
    run_job(make_job(args, args.input, args.masks, args.output, cfg,
                     resume=args.resume or args.work_dir is not None,
                     work_dir=args.work_dir, references=references, fill_only=args.fill_only,
                     feather=args.feather, preview=args.preview,
                     start_number=args.start_number, frames=args.frames, handles=args.handles,
                     proxy=args.proxy, image_format=args.image_format, restart=args.restart,
                     profile=args.profile),
            Reporter(quiet=args.quiet))


def main(argv: list[str]) -> int:
    run(_parser().parse_args(argv))
    return 0
