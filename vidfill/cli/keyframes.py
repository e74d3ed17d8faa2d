"""``vidfill keyframes INPUT MASKS -o DIR``: the frames vidfill would have to invent, to paint.

For each keyframe (a frame where some of the hole is shown by no other frame), DIR gets the
frame as vidfill fills it and a mask of the region no frame shows. Paint that region in any
editor and give the painted frame back with ``vidfill INPUT MASKS -o OUT --reference N=FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vidfill import io
from vidfill.cli.options import add_options, config_from, make_job
from vidfill.io import safety
from vidfill.job.ranges import frame_number
from vidfill.job.run import find_keyframes
from vidfill.progress import Reporter


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vidfill keyframes", description=__doc__.splitlines()[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="video file or folder of frames")
    p.add_argument("masks", type=Path, help="mask folder, single mask image or mask video")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="new or empty folder for N.png (the frame, filled) and N.mask.png")
    add_options(p)
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    reporter = Reporter(quiet=args.quiet)
    job = make_job(args, args.input, args.masks, args.output, config_from(args), resume=False)
    safety.check_apart(job.inputs(), [("the output", args.output)])
    io.check_image_folder(args.output)  # before the long work
    keyframes, inputs = find_keyframes(job, reporter)
    if not keyframes:
        reporter.note(f"{args.input}: no keyframes: every hole pixel is shown by some other frame; "
                      "nothing to paint")
        return 0
    # numbered as a sequence output numbers these frames, always PNG (8-bit, to paint)
    names = io.frame_names(inputs.source.info, inputs.source.num_frames)
    stems = {key.frame: Path(names[key.frame]).stem for key in keyframes}
    images: dict[str, torch.Tensor] = {}
    for key in keyframes:
        images[f"{stems[key.frame]}.png"] = key.filled
        images[f"{stems[key.frame]}.mask.png"] = key.invented.expand(3, -1, -1).to(torch.uint8) * 255
    io.write_image_folder(args.output, images)
    reporter.note(f"wrote {len(keyframes)} keyframe(s) to {args.output}: paint inside each "
                  "N.mask.png, then give them back with " + " ".join(
                      f"--reference {frame_number(inputs.source, k.frame)}="
                      f"{args.output / (stems[k.frame] + '.png')}" for k in keyframes))
    return 0
