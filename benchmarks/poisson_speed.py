"""Speed of the gradient-domain Poisson solve (vidfill.stages.poisson) per frame.

A real frame (first frame of each shared clip, or a synthetic texture without
../shared), a random-blob hole of about 6% of the frame (the completion
benchmark's), targets = the frame's own colour differences, initial guess = a
smooth fill. Printed: seconds per frame (median of repeats), CG iterations and
the error against the true frame, at 432x240 and 854x480, on the CPU and on
CUDA when there is one.

    python benchmarks/poisson_speed.py [--repeats 5] [--batch 1] [--json OUT]

The rows go to benchmarks/results/poisson_speed-DATE.json unless ``--json`` says where.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from common import SHARED, add_json_option, blob_holes, clip_source, settings_of, write_results
from vidfill import io
from vidfill.config import PoissonConfig
from vidfill.stages.holes import smooth_fill
from vidfill.stages.poisson import poisson_solve
from vidfill.types import to_float

SIZES = ((240, 432), (480, 854))


def test_frame(size: tuple[int, int]) -> torch.Tensor:
    """(1, 3, H, W) float in [0, 1]."""
    clips = SHARED / "data/clips"
    if clips.is_dir():
        frames, _ = io.read_frames(clip_source(sorted(clips.iterdir())[0]))
        frame = frames[:1]
    else:
        frame = (torch.rand(1, 3, 64, 64) * 255).to(torch.uint8)
    return F.interpolate(to_float(frame), size=size, mode="bilinear", align_corners=False).clamp(0, 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch", type=int, default=1, help="frames solved together")
    add_json_option(p, "poisson_speed")
    args = p.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    cfg = PoissonConfig()
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; "
          f"tolerance {cfg.tolerance}")
    print("| device | size | s/frame | iterations | max error (8-bit levels) |")
    print("|---|---|---|---|---|")
    rows = []
    for device in devices:
        name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        for size in SIZES:
            truth = test_frame(size).expand(args.batch, -1, -1, -1).to(device)
            hole = blob_holes(args.batch, False, 0, size).to(device)
            tx = truth[..., :, 1:] - truth[..., :, :-1]
            ty = truth[..., 1:, :] - truth[..., :-1, :]
            start_values = smooth_fill(truth, hole)
            times = []
            for _ in range(args.repeats):
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                result = poisson_solve(start_values, hole, tx, ty, cfg)
                if device == "cuda":
                    torch.cuda.synchronize()
                times.append((time.perf_counter() - start) / args.batch)
            error = float((result.values - truth).abs().max()) * 255
            print(f"| {name} | {size[1]}x{size[0]} | {statistics.median(times):.3f} | "
                  f"{result.iterations} | {error:.3f} |", flush=True)
            rows.append({"device": name, "size": f"{size[1]}x{size[0]}",
                         "s_per_frame": statistics.median(times), "iterations": int(result.iterations),
                         "max_error": error, "tolerance": cfg.tolerance})
    path = write_results(args.json, rows, settings_of(args), name="poisson_speed",
                         device="cuda" if "cuda" in devices else "cpu")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
