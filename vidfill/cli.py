"""Command line: ``vidfill INPUT MASKS -o OUTPUT`` and ``vidfill demo``."""

from __future__ import annotations

import argparse
import os
import sys
from fractions import Fraction
from pathlib import Path

import torch

from vidfill import io
from vidfill.config import PipelineConfig, load_preset, preset_names
from vidfill.errors import VidfillError
from vidfill.inpaint import NAMES, build_inpainter
from vidfill.pipeline import build_edge_model, build_flow_model, inpaint_video
from vidfill.progress import Reporter

EPILOG = """\
masks: a folder with one image per frame (numeric order), one image for every
frame (logos, watermarks) or a mask video. Hole = any channel above
--mask-threshold of full scale; masks of another size are resized (nearest).
output: a video file (container and codec from the extension; fps, time base
and audio kept) or a folder for a PNG sequence. Outside the (dilated) mask the
output equals the input.

other commands: vidfill demo [--help], vidfill train flow-edges [--help]
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidfill", description="Remove masked objects, logos and damage from a video.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="video file or folder of frames")
    p.add_argument("masks", type=Path, help="mask folder, single mask image or mask video")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output video (.mp4 .mov .mkv .avi .webm) or folder for PNG frames")
    p.add_argument("--pipeline", default="default",
                   help=f"preset name ({', '.join(preset_names())}) or a .toml file")
    p.add_argument("--dilate", type=int,
                   help="grow the mask by N pixels (default preset: 0; 4-8 for tight roto masks)")
    p.add_argument("--mask-threshold", type=float,
                   help="hole = channel above this fraction of full scale (default 0.1)")
    p.add_argument("--flow", choices=["raft", "dis"], help="flow method (overrides the preset)")
    p.add_argument("--edges", choices=["network", "none"],
                   help="flow-edge guided flow completion (network) or diffusion only (overrides the preset)")
    p.add_argument("--raft-weights", type=Path,
                   help="RAFT checkpoint (torchvision or princeton-vl layout)")
    p.add_argument("--no-download", action="store_true",
                   help="never download weights; fall back to DIS flow if none are found")
    p.add_argument("--inpainter", help=f"image inpainter for pixels no frame shows: {', '.join(NAMES)} "
                                       "(overrides the preset)")
    p.add_argument("--inpainter-weights", type=Path,
                   help="checkpoint of the gated inpainter (otherwise looked up in the checkpoint folders)")
    p.add_argument("--reference", action="append", default=[], metavar="N=FILE",
                   help="frame N (from 0) painted by hand: its pixels in the hole are kept and "
                        "propagated through the clip (repeatable)")
    p.add_argument("--crf", type=int, default=17, help="video quality, lower is better (default 17)")
    p.add_argument("--codec", help="video codec, e.g. libx264, ffv1 (lossless), libvpx-vp9")
    p.add_argument("--fps", type=Fraction, default=Fraction(25),
                   help="frame rate for a frame-folder input written as video (default 25)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="torch device (default: cuda when available)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return p


def _config(args: argparse.Namespace) -> PipelineConfig:
    cfg = load_preset(args.pipeline)
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
    if args.inpainter:
        if args.inpainter not in NAMES:
            raise VidfillError(f"--inpainter {args.inpainter}: no such inpainter (have: {', '.join(NAMES)})")
        overrides["leftover"] = {"method": args.inpainter}
    return cfg.replace(**overrides)


def parse_reference(item: str) -> tuple[int, Path]:
    """``"12=painted.png"`` -> ``(12, Path("painted.png"))``."""
    number, sep, file = item.partition("=")
    if not sep or not file:
        raise VidfillError(f"--reference {item}: expected N=FILE, e.g. 12=painted.png")
    try:
        return int(number), Path(file)
    except ValueError:
        raise VidfillError(f"--reference {item}: the frame number {number!r} is not an integer") from None


def read_references(items: list[str], num_frames: int, size: tuple[int, int],
                    source: Path) -> dict[int, torch.Tensor]:
    """The painted frames of ``--reference N=FILE`` options: frame number -> ``(3, H, W)`` uint8."""
    references: dict[int, torch.Tensor] = {}
    for item in items:
        t, file = parse_reference(item)
        if not 0 <= t < num_frames:
            raise VidfillError(f"--reference {item}: frame {t} is not in 0..{num_frames - 1} "
                               f"({source} has {num_frames} frames)")
        if t in references:
            raise VidfillError(f"--reference {item}: frame {t} is given twice")
        references[t] = io.read_reference(file, size)
    return references


def check_output_location(output: Path) -> None:
    """Fail before the long work if ``output`` could not be written."""
    ancestor = output.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise VidfillError(f"{output}: cannot write here ({ancestor} is not a folder)")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise VidfillError(f"{output}: cannot write here (no write permission on {ancestor})")


def run(args: argparse.Namespace) -> None:
    reporter = Reporter(quiet=args.quiet)
    cfg = _config(args)
    if args.inpainter_weights is not None and cfg.leftover.method != "gated":
        raise VidfillError(f"--inpainter-weights {args.inpainter_weights}: only the gated inpainter "
                           f"takes weights (this run uses {cfg.leftover.method})")
    for item in args.reference:
        parse_reference(item)  # malformed options fail before anything is read
    device = torch.device(args.device)
    inpainter = build_inpainter(cfg, args.inpainter_weights, device=device, reporter=reporter)
    io.check_not_input(args.output, args.input, args.masks)
    check_output_location(args.output)
    frames, info = io.read_frames(args.input, fps=args.fps)
    io.check_output(args.output, info, args.codec)
    masks, notes = io.read_masks(args.masks, frames.shape[0], tuple(frames.shape[-2:]),
                                 cfg.mask.threshold)
    for note in notes:
        reporter.note(note)
    references = read_references(args.reference, frames.shape[0], tuple(frames.shape[-2:]),
                                 args.input)
    full = masks.flatten(1).all(1).nonzero().flatten().tolist()
    if full:
        raise VidfillError(f"{args.masks}: frame(s) {', '.join(map(str, full[:10]))} are entirely "
                           "hole; nothing is left to fill them from")
    if not bool(masks.any()):
        reporter.note(f"{args.masks}: no hole in any frame; the output is a copy of the input")
        out = frames
    else:
        if frames.shape[0] < 2:
            raise VidfillError(f"{args.input}: a single frame; video inpainting needs at least 2")
        model = build_flow_model(cfg.flow, args.raft_weights, download=not args.no_download,
                                 reporter=reporter)
        if model is not None:
            model = model.to(device)
        edge_model = build_edge_model(cfg.edges, reporter)
        if edge_model is not None:
            edge_model = edge_model.to(device)
        if references:
            reporter.note(f"painted reference frame(s) {', '.join(map(str, sorted(references)))} "
                          "taken as known inside the hole")
        result = inpaint_video(frames.to(device), masks.to(device), cfg, model, reporter,
                               inpainter=inpainter, references=references, edge_model=edge_model)
        out = result.frames.cpu()
        if result.keyframes:
            reporter.note(f"{len(result.keyframes)} keyframe(s) filled by {inpainter.name}: "
                          f"{', '.join(map(str, result.keyframes[:10]))}")
    with reporter.stage("write", frames.shape[0], "frames") as advance:
        io.write_output(args.output, out, info, crf=args.crf, codec=args.codec, progress=advance)
    reporter.note(f"wrote {args.output}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "demo":
            from vidfill import demo
            return demo.main(argv[1:])
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
