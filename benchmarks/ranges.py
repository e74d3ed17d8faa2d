"""Range re-renders against the full render (issue 32): the first frames of a shared clip,
area-resized to 432x240 and written as a PNG sequence in a temporary folder with a moving blob
mask (or the clip's own masks), filled once whole and then as ``--frames A:B --handles N`` for
each N, every run through :func:`vidfill.job.run_job` as the command line runs it. Prints, per
N, the largest and the mean absolute difference inside the hole (8-bit levels) on the seam
frames (the range's first and last) and over the whole range.

    python benchmarks/ranges.py                       # tennis, 40 frames, DIS, range 16:23
    python benchmarks/ranges.py --flow raft --clip blackswan
    python benchmarks/ranges.py --set window.length=20 --set window.overlap=4 --set window.lookahead=4

The rows go to benchmarks/results/ranges-DATE.json unless ``--json`` says where.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from common import (SHARED, add_json_option, blob_holes, clip_folder, load_clip, settings_of,
                    write_results)
from vidfill import build_models, load_preset
from vidfill.config import parse_overrides
from vidfill import io
from vidfill.job import Job, run_job


def write_sequence(folder: Path, images: torch.Tensor, prefix: str) -> None:
    folder.mkdir()
    for t, image in enumerate(images):
        array = image.permute(1, 2, 0).numpy()
        cv2.imwrite(str(folder / f"{prefix}{t}.png"), array[..., ::-1] if array.shape[2] == 3 else array)


def differences(full: torch.Tensor, part: torch.Tensor, holes: torch.Tensor) -> list[tuple[float, float]]:
    """(max, mean) absolute difference inside each frame's hole, 8-bit levels."""
    rows = []
    for a, b, hole in zip(full, part, holes):
        d = (a.int() - b.int()).abs()[:, hole[0]]
        rows.append((float(d.max()) if d.numel() else 0.0, float(d.float().mean()) if d.numel() else 0.0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default="tennis")
    parser.add_argument("--frames", type=int, default=40, help="frames of the clip used")
    parser.add_argument("--range", default="16:23", help="FIRST:LAST re-rendered")
    parser.add_argument("--handles", default="0,4,8,16")
    parser.add_argument("--flow", choices=["dis", "raft"], default="dis")
    parser.add_argument("--mask", choices=["blob", "clip"], default="blob",
                        help="a moving blob (default) or the clip's own masks")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    add_json_option(parser, "ranges")
    args = parser.parse_args()
    first, last = map(int, args.range.split(":"))
    folder = clip_folder(args.clip)
    frames = load_clip(folder, args.frames)
    if args.mask == "blob":
        masks = blob_holes(len(frames), moving=True, seed=3)
    else:
        masks, _ = io.read_masks(folder / "masks", len(frames), tuple(frames.shape[-2:]))
    cfg = load_preset("default").replace(flow={"method": args.flow})
    cfg = cfg.replace(origin="--set", **parse_overrides(args.set))
    weights = SHARED / "checkpoints/raft-small.pth" if args.flow == "raft" else None
    models = build_models(cfg, raft_weights=weights)
    with tempfile.TemporaryDirectory(prefix="vidfill-ranges-") as tmp:
        tmp = Path(tmp)
        write_sequence(tmp / "frames", frames, "f")
        write_sequence(tmp / "masks", masks.to(torch.uint8) * 255, "m")

        def render(name: str, **range_) -> torch.Tensor:
            job = Job(tmp / "frames", tmp / "masks", tmp / name, cfg, raft_weights=weights, **range_)
            start = time.perf_counter()
            run_job(job, models=models)
            seconds = time.perf_counter() - start
            out, _ = io.read_frames(tmp / name)
            print(f"  {name}: {len(out)} frames, {seconds:.1f} s", flush=True)
            return out

        print(f"{args.clip}, {len(frames)} frames at 432x240, {args.mask} mask, {args.flow}, "
              f"frames {first}:{last}", flush=True)
        full = render("full")[first:last + 1]
        holes = masks[first:last + 1]
        table = ["| handles | seam max (first, last) | seam mean (first, last) | range max | range mean |",
                 "|---|---|---|---|---|"]
        results = []
        for n in (int(h) for h in args.handles.split(",")):
            rows = differences(full, render(f"h{n}", frames=(first, last), handles=n), holes)
            seam = (rows[0], rows[-1])
            table.append(f"| {n} | {seam[0][0]:.0f}, {seam[1][0]:.0f} | {seam[0][1]:.2f}, "
                         f"{seam[1][1]:.2f} | {max(r[0] for r in rows):.0f} | "
                         f"{np.mean([r[1] for r in rows]):.2f} |")
            print("    per frame max: " + " ".join(f"{r[0]:.0f}" for r in rows), flush=True)
            results.append({"handles": n, "seam_max": [seam[0][0], seam[1][0]],
                            "seam_mean": [seam[0][1], seam[1][1]], "range_max": max(r[0] for r in rows),
                            "range_mean": float(np.mean([r[1] for r in rows])),
                            "frame_max": [r[0] for r in rows], "frame_mean": [r[1] for r in rows]})
        print("\n".join(table))
    path = write_results(args.json, results, settings_of(args), name="ranges")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
