"""The settings shared by ``vidfill`` (fill) and ``vidfill batch``: options, and the
:class:`~vidfill.job.Job` and config they make (every value through the config's validation)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from vidfill.config import PipelineConfig, load_preset, parse_overrides, preset_names
from vidfill.errors import VidfillError
from vidfill.inpainters.registry import NAMES
from vidfill.io import DEFAULT_FPS
from vidfill.job import Job


def add_options(p: argparse.ArgumentParser) -> None:
    """The settings shared by ``vidfill`` and ``vidfill batch``."""
    p.add_argument("--pipeline", default="default",
                   help=f"preset name ({', '.join(preset_names())}) or a .toml file")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="change one pipeline setting, e.g. --set fusion.method=colour (repeatable; "
                        "the names are those of the preset files)")
    p.add_argument("--dilate", type=int,
                   help="grow the mask by N pixels (default preset: 0; 4-8 for tight roto masks; "
                        "at most 1024, and less than the frame's larger side)")
    p.add_argument("--mask-threshold", type=float,
                   help="hole = channel above this fraction of full scale (default 0.1)")
    p.add_argument("--invert-mask", action="store_true",
                   help="the masks mark what to keep (an inverted matte), not what to remove")
    p.add_argument("--overlay", choices=["recover", "fill"],
                   help="under a mask that is the same in every frame (a logo, bug or watermark): "
                        "recover the scene a semi-transparent overlay lets through (default) or "
                        "fill it like any hole")
    p.add_argument("--overlay-image", type=Path, metavar="RGBA",
                   help="the overlay burnt in under a still mask, as an RGBA image of the frame's "
                        "size (e.g. the channel's own bug): taken off instead of estimated")
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
                        "e.g. 24, 23.976 or 24000/1001; 1/1000 to 1000)")
    p.add_argument("--device", default="auto",
                   help="torch device: cpu, cuda, cuda:1, mps (default auto: cuda when available)")
    p.add_argument("--threads", type=whole_number(1), metavar="N",
                   help="CPU threads, kept all run (default: between steps, as many as the "
                        "cores that other processes leave free)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")


def whole_number(minimum: int) -> Callable[[str], int]:
    """argparse type of a count of at least ``minimum``."""
    def parse(text: str) -> int:
        try:
            count = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if count < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {count}")
        return count
    return parse


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
               ("--invert-mask", "mask", "invert", args.invert_mask or None),
               ("--overlay", "overlay", "method", args.overlay),
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
             references: tuple[tuple[int, Path], ...] = (), **fields) -> Job:
    """A :class:`Job` with the options of :func:`add_options` (``fields``: more of its fields)."""
    preset = Path(args.pipeline)
    if preset.suffix == ".toml" and "reads" not in fields:  # a preset file: protected too
        fields["reads"] = (("the preset", preset),)
    fields.setdefault("preset", args.pipeline)  # as given, for the profile
    return Job(input=input, masks=masks, output=output, cfg=cfg, raft_weights=args.raft_weights,
               download=not args.no_download, crf=args.crf, codec=args.codec, fps=args.fps,
               device=args.device, threads=args.threads, resume=resume, work_dir=work_dir,
               inpainter_weights=args.inpainter_weights, references=references,
               overwrite=getattr(args, "overwrite", False), overlay_image=args.overlay_image,
               **fields)
