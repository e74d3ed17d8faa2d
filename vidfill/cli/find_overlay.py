"""``vidfill find-overlay INPUT -o MASK.png``: the mask of a burnt-in static overlay.

Finds what stays put while the scene moves (a logo, a channel bug, a watermark: its edges are
the same in every frame) and writes its mask, white on black, ready to give as MASKS:
``vidfill INPUT MASK.png -o OUT``. --alpha also writes a rough estimate of its opacity.

It needs the scene to move under the overlay: on a locked-off shot an overlay cannot be told
from the scene's own still edges, and it says so (exit status 2) instead of guessing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path

import cv2
import numpy as np
import torch

from vidfill import io
from vidfill.cli.options import whole_number
from vidfill.errors import VidfillError
from vidfill.io import safety
from vidfill.job.spec import resolve_device
from vidfill.progress import Reporter
from vidfill.stages.find_overlay import FindOverlayConfig, FoundOverlay, find_overlay

DEFAULT_FRAMES = 60
"""Frames looked at, spread over the clip: enough for the quantiles over time (the measurements
of :mod:`vidfill.stages.find_overlay` used 32 to 60), and memory and time stay bounded
(0.03 s/frame at 432x240)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vidfill find-overlay", description=__doc__.splitlines()[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="video file or folder of frames")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="the mask to write, a .png (8-bit, 255 on the overlay)")
    p.add_argument("--alpha", type=Path, metavar="ALPHA.png",
                   help="also write the estimated opacity, a .png (8-bit, 255 = opaque)")
    p.add_argument("--frames", type=whole_number(FindOverlayConfig.min_frames), default=DEFAULT_FRAMES, metavar="N",
                   help=f"look at N frames spread over the clip (default {DEFAULT_FRAMES}; at "
                        f"least {FindOverlayConfig.min_frames})")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files already at the output paths (refused without it)")
    p.add_argument("--device", default="auto",
                   help="torch device: cpu, cuda, cuda:1, mps (default auto: cuda when available)")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    reporter = Reporter(quiet=args.quiet)
    outputs = [("the mask", args.output)] + ([("--alpha", args.alpha)] if args.alpha else [])
    _check_outputs(args.input, outputs, args.overwrite)  # before the long work
    device = resolve_device(args.device)
    clip = io.open_clip(args.input, note=reporter.note)
    frames = sample_frames(clip, args.frames).to(device)
    found = find_overlay(frames)
    images = {args.output: found.mask[0].to(torch.uint8) * 255}
    if args.alpha:
        images[args.alpha] = (found.alpha[0] * 255).round().to(torch.uint8)
    _write_pngs(args.input, images, args.overwrite)
    reporter.note(describe(found, args.output, args.alpha, args.input))
    return 0


def sample_frames(clip: io.ClipSource, count: int) -> torch.Tensor:
    """``count`` frames of ``clip`` spread evenly from its first to its last (all of them if it
    has fewer): ``(N, 3, H, W)`` uint8 on the CPU. A folder's other images are not read; a
    video is decoded through, keeping only these."""
    picks = np.unique(np.linspace(0, clip.num_frames - 1, min(count, clip.num_frames)).round()
                      .astype(int))
    if clip.files is not None:
        clip = dataclasses.replace(clip, files=tuple(clip.files[i] for i in picks),
                                   num_frames=len(picks))
        return torch.stack(list(io.iter_frames(clip)))
    wanted = set(picks.tolist())
    kept = [frame.clone() for index, frame in enumerate(io.iter_frames(clip)) if index in wanted]
    return torch.stack(kept)


def describe(found: FoundOverlay, output: Path, alpha: Path | None, source: Path) -> str:
    """The one line that says what was found and written."""
    x0, y0, x1, y1 = found.box
    wrote = f"wrote {output}" + (f" and {alpha}" if alpha else "")
    return (f"overlay found at x {x0}..{x1 - 1}, y {y0}..{y1 - 1} ({x1 - x0}x{y1 - y0} px box, "
            f"{100 * found.share:.1f}% of the frame), opacity about {found.opacity:.2f} (up to "
            f"{found.peak_opacity:.2f}), from {found.num_frames} frames; {wrote}; remove it "
            f"with: vidfill {source} {output} -o OUTPUT")


def _check_outputs(source: Path, outputs: list[tuple[str, Path]], overwrite: bool) -> None:
    """VidfillError for an output that is not a .png name, is an input or lies in it, is
    given twice, or is a file already there (without ``overwrite``) or a folder."""
    safety.check_apart([("the clip", source)], outputs)
    if len(outputs) == 2 and outputs[0][1].absolute() == outputs[1][1].absolute():
        raise VidfillError(f"{outputs[1][1]}: --alpha is the mask's own path; give another name")
    for what, path in outputs:
        if path.suffix.lower() != ".png":
            raise VidfillError(f"{path}: {what} is written as PNG; give a name ending in .png")
        _check_target(path, overwrite)


def _check_target(path: Path, overwrite: bool) -> None:
    if path.is_dir():
        raise VidfillError(f"{path}: is a folder; give a file name ending in .png")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise VidfillError(f"{path}: exists; give another name, or --overwrite to replace it")


def _write_pngs(source: Path, images: dict[Path, torch.Tensor], overwrite: bool) -> None:
    """Write ``images`` (path -> ``(H, W)`` uint8) as gray PNGs, each to a private temporary
    file next to it, all put in place (renamed) only once every one is written; the paths are
    checked again just before (they may have changed meanwhile)."""
    with contextlib.ExitStack() as stack:
        staged = []
        for path, image in images.items():
            _make_parent(path)
            try:
                handle, tmp = stack.enter_context(safety.staging_file(path))
                ok, data = cv2.imencode(".png", np.ascontiguousarray(image.cpu().numpy()))
                if not ok:
                    raise VidfillError(f"{path}: cannot encode the image as PNG")
                handle.write(data.tobytes())
            except OSError as exc:
                raise VidfillError(f"{path}: cannot write ({exc.strerror or exc})") from exc
            staged.append((path, handle, tmp))
        for path, handle, tmp in staged:
            _check_target(path, overwrite)
            safety.check_apart([("the clip", source)], [("the output", path)])
            try:
                safety.place_file(handle, tmp, path.absolute())
            except OSError as exc:
                raise VidfillError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VidfillError(f"{path}: cannot create the folder {path.parent} "
                           f"({exc.strerror or exc})") from exc
