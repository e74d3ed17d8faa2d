"""Command line: ``vidfill INPUT MASKS -o OUTPUT``, ``vidfill batch`` and ``vidfill demo``."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import torch

from vidfill.config import PipelineConfig, load_preset, preset_names
from vidfill.errors import VidfillError
from vidfill.inpaint import NAMES
from vidfill.job import Job, parse_reference, run_job
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
                   help="work directory for --resume (default: OUTPUT.vidfill-work next to the output)")
    p.add_argument("--reference", action="append", default=[], metavar="N=FILE",
                   help="frame N painted by hand: its pixels inside the hole are taken as known and "
                        "propagated (repeatable)")
    return p


def add_options(p: argparse.ArgumentParser) -> None:
    """The settings shared by ``vidfill`` and ``vidfill batch``."""
    p.add_argument("--pipeline", default="default",
                   help=f"preset name ({', '.join(preset_names())}) or a .toml file")
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
    p.add_argument("--crf", type=int, default=17, help="video quality, lower is better (default 17)")
    p.add_argument("--codec", help="video codec, e.g. libx264, ffv1 (lossless), libvpx-vp9")
    p.add_argument("--fps", type=Fraction, default=Fraction(25),
                   help="frame rate for a frame-folder input written as video (default 25)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="torch device (default: cuda when available)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def config_from(args: argparse.Namespace, preset: str | None = None) -> PipelineConfig:
    """The settings of ``preset`` (default ``args.pipeline``) with the options' overrides."""
    cfg = load_preset(preset or args.pipeline)
    overrides: dict[str, dict] = {}
    if args.dilate is not None:
        if args.dilate < 0:
            raise VidfillError(f"--dilate must be >= 0, got {args.dilate}")
        overrides["mask"] = {"dilate": args.dilate}
    if args.mask_threshold is not None:
        if not 0 <= args.mask_threshold < 1:
            raise VidfillError(f"--mask-threshold must be in [0, 1), got {args.mask_threshold}")
        overrides.setdefault("mask", {})["threshold"] = args.mask_threshold
    if args.flow:
        overrides["flow"] = {"method": args.flow}
    if args.edges:
        overrides["edges"] = {"method": args.edges}
    if args.refine is not None:
        if args.refine < 0:
            raise VidfillError(f"--refine must be >= 0, got {args.refine}")
        overrides.setdefault("flow", {})["refine_passes"] = args.refine
    if args.inpainter:
        if args.inpainter not in NAMES:
            raise VidfillError(f"--inpainter {args.inpainter}: no such inpainter (have: {', '.join(NAMES)})")
        overrides["leftover"] = {"method": args.inpainter}
    cfg = cfg.replace(**overrides)
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
               inpainter_weights=args.inpainter_weights, references=references)


def run(args: argparse.Namespace) -> None:
    cfg = config_from(args)
    references = tuple(parse_reference(item) for item in args.reference)  # before any reading
    run_job(make_job(args, args.input, args.masks, args.output, cfg, resume=args.resume,
                     work_dir=args.work_dir, references=references),
            Reporter(quiet=args.quiet))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "demo":
            from vidfill import demo
            return demo.main(argv[1:])
        if argv and argv[0] == "batch":
            from vidfill import batch
            return batch.main(argv[1:])
        if argv and argv[0] == "train":
            from vidfill import train
            return train.main(argv[1:])
        run(_parser().parse_args(argv))
    except VidfillError as exc:
        print(f"vidfill: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vidfill: interrupted; nothing was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
