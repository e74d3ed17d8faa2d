"""The evaluation recipe of the published video-completion tables, on the shared DAVIS clips.

FuseFormer, E2FGVI and ProPainter evaluate on whole DAVIS clips at 432x240 with one
*stationary* free-form brush-stroke hole per clip, dilated 4 times with a 3x3 cross, and report
PSNR over the whole frame pooled over all frames of all clips and SSIM with a 65x65 window.
This follows that recipe on the shared clips with vidfill's own seeded stroke generator
(DeepFill v2's recipe: 1-3 strokes of 4-12 vertices, 12-40 px wide), and prints beside it the
hole PSNR, the texture ratio (:func:`vidfill.metrics.texture_ratio`), E_warp and s/frame.

    python benchmarks/davis_recipe.py [--methods telea,fast,default] [--seed 0] [--json OUT]
        [--mask PNG] [--pictures DIR]

The rows go to benchmarks/results/davis_recipe-DATE.json unless ``--json`` says where.

``--mask`` replaces the strokes by one static image mask (a logo), resized to the clips and
dilated the same way; ``--pictures`` writes, for a few frames of each clip, the hole's
surroundings as damaged | each method | truth, side by side, for a person to look at.

The published figures are on 50 other clips with other masks: an axis, not a race.
"""

from __future__ import annotations

import argparse
import logging
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from common import SHARED, add_json_option, load_clip, settings_of, telea, write_results
from completion import truth_flow_fill
from vidfill import fill, load_preset
from vidfill.config import parse_overrides
from vidfill.metrics import psnr_region, texture_ratio, warping_error
from vidfill.models.build import build_models

CLIPS = ("davis480p_blackswan", "davis480p_breakdance", "davis480p_car-roundabout",
         "davis480p_tennis")
PUBLISHED = [("FGVC", 30.80, 0.950), ("E2FGVI", 33.01, 0.972), ("ProPainter", 34.47, 0.978)]
"""PSNR / SSIM on DAVIS (50 clips) as the papers report them (ProPainter: about)."""


def brush_strokes(size: tuple[int, int], seed: int) -> np.ndarray:
    """(H, W) bool: 1-3 free-form strokes (DeepFill v2's recipe): each a polyline of 4-12
    vertices turning by random angles, with random segment lengths around 1/8 of the diagonal,
    drawn 12-40 px wide with round joints."""
    rng = np.random.default_rng(seed)
    h, w = size
    mask = np.zeros((h, w), np.uint8)
    radius = np.hypot(h, w) / 8
    for _ in range(rng.integers(1, 4)):
        width = int(rng.integers(12, 41))
        point = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(rng.integers(4, 13)):
            heading += rng.uniform(-2 * np.pi / 5, 2 * np.pi / 5)
            length = np.clip(rng.normal(radius, radius / 2), 0, 2 * radius)
            end = np.clip(point + length * np.array([np.cos(heading), np.sin(heading)]),
                          0, [w - 1, h - 1])
            cv2.line(mask, tuple(map(int, point)), tuple(map(int, end)), 1, width)
            cv2.circle(mask, tuple(map(int, end)), width // 2, 1, -1)
            point = end
    return recipe_dilation(mask)


def recipe_dilation(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: ``mask`` dilated 4 times with a 3x3 cross, as the recipe does."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    return cv2.dilate(mask.astype(np.uint8), cross, iterations=4) > 0


def image_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the nonzero pixels of the image ``path`` resized to ``size`` (nearest),
    dilated as the recipe does."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SystemExit(f"{path}: not an image")
    return recipe_dilation(cv2.resize(image, size[::-1], interpolation=cv2.INTER_NEAREST) > 0)


def picture_frames(truth: torch.Tensor, holes: torch.Tensor, count: int = 3) -> list[int]:
    """The frames to look at: where the truth inside the hole changes most from the frame
    before (something crosses it), and the middle frame."""
    change = (truth[1:].float() - truth[:-1].float()).abs().mean(1, keepdim=True)
    inside = (change * holes[1:]).flatten(1).sum(1) / holes[1:].flatten(1).sum(1).clamp_min(1)
    chosen = [truth.shape[0] // 2]
    for t in (inside.argsort(descending=True) + 1).tolist():
        if len(chosen) == count:
            break
        if all(abs(t - c) > 5 for c in chosen):
            chosen.append(t)
    return sorted(chosen)


def save_pictures(folder: Path, damaged: torch.Tensor, results: dict[str, torch.Tensor],
                  truth: torch.Tensor, hole: torch.Tensor, margin: int = 24, scale: int = 2) -> None:
    """One PNG per chosen frame: the box around the hole (plus ``margin`` px), enlarged
    ``scale`` times, as damaged | each result | truth, each captioned."""
    holes = hole.expand(truth.shape[0], 1, *hole.shape)
    ys, xs = np.nonzero(hole.numpy())
    y0, y1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, hole.shape[0])
    x0, x1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, hole.shape[1])
    folder.mkdir(parents=True, exist_ok=True)
    for t in picture_frames(truth, holes):
        tiles = []
        for name, frames in [("damaged", damaged), *results.items(), ("truth", truth)]:
            tile = frames[t, :, y0:y1, x0:x1].permute(1, 2, 0).numpy()[..., ::-1]
            tile = cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
            caption = np.full((22, tile.shape[1], 3), 255, np.uint8)
            cv2.putText(caption, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                        cv2.LINE_AA)
            tiles.append(np.vstack([caption, tile]))
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        row = np.hstack([x for tile in tiles for x in (tile, gap)][:-1])
        cv2.imwrite(str(folder / f"frame{t:05d}.png"), row)


def ssim_65(result: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean SSIM of every frame and channel with a uniform 65x65 window, 8-bit range, valid
    windows only (the published recipe: scikit-image's ``win_size=65`` over RGB)."""
    x, y = result.double(), truth.double()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mean = lambda v: F.avg_pool2d(v, 65, stride=1)  # noqa: E731
    n = 65 * 65
    mx, my = mean(x), mean(y)
    vx = (mean(x * x) - mx * mx) * n / (n - 1)  # sample (co)variances, as scikit-image
    vy = (mean(y * y) - my * my) * n / (n - 1)
    cxy = (mean(x * y) - mx * my) * n / (n - 1)
    ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(ssim.mean())


def psnr_each(result: torch.Tensor, truth: torch.Tensor) -> list[float]:
    """PSNR (dB, 8-bit) of every frame over the whole frame."""
    mse = (result.double() - truth.double()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(255.0 ** 2 / mse.clamp_min(1e-10))).tolist()


def main() -> None:
    logging.getLogger("vidfill").setLevel(logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="telea,fast,default",
                   help="telea, preset names, and truth-flow (a bound: the default preset's "
                        "propagation given RAFT's flow of the untouched frames), comma-separated")
    p.add_argument("--clips", default=",".join(CLIPS))
    p.add_argument("--seed", type=int, default=0, help="stroke seed of the first clip")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--mask", type=Path, help="a static image mask (a logo) instead of the strokes")
    p.add_argument("--save", type=Path, help="write each result's frames here (PNG) for a look")
    p.add_argument("--pictures", type=Path,
                   help="write damaged | methods | truth panels of a few frames here (PNG)")
    add_json_option(p, "davis_recipe")
    args = p.parse_args()
    methods = args.methods.split(",")
    raft = SHARED / "checkpoints/raft-small.pth"
    rows = []
    for index, name in enumerate(args.clips.split(",")):
        truth = load_clip(SHARED / "data/clips" / name, 10 ** 6)
        num_frames = truth.shape[0]
        hole = torch.from_numpy(image_mask(args.mask, truth.shape[-2:]) if args.mask else
                                brush_strokes(truth.shape[-2:], args.seed + index))
        holes = hole.expand(num_frames, 1, *hole.shape).contiguous()
        damaged = torch.where(holes, torch.zeros_like(truth), truth)
        results = {}
        for method in methods:
            start = time.perf_counter()
            if method == "telea":
                result = telea(damaged, holes)
            elif method == "truth-flow":
                cfg = load_preset("default").replace(**parse_overrides(args.set))
                result = truth_flow_fill(truth, damaged, holes, cfg, build_models(cfg, raft_weights=raft).flow)
            else:
                cfg = load_preset(method).replace(**parse_overrides(args.set))
                models = build_models(cfg, raft_weights=raft)
                start = time.perf_counter()  # the weights are loaded once per run, not per clip
                result = fill(damaged, holes, cfg, models=models)
            seconds = time.perf_counter() - start
            results[method] = result
            row = {"clip": name, "method": method, "frames": num_frames,
                   "hole_share": float(hole.float().mean()),
                   "psnr_frames": psnr_each(result, truth), "ssim": ssim_65(result, truth),
                   "psnr_hole": psnr_region(result, truth, holes),
                   "texture": texture_ratio(result, truth, holes),
                   "ewarp": warping_error(result, truth), "ewarp_truth": warping_error(truth, truth),
                   "s_per_frame": seconds / num_frames}
            rows.append(row)
            print(f"{name:<26} {method:<8} {num_frames:3d} frames, hole {row['hole_share']:5.1%}: "
                  f"PSNR {np.mean(row['psnr_frames']):6.2f}  SSIM {row['ssim']:.4f}  "
                  f"hole {row['psnr_hole']:6.2f}  texture {row['texture']:.2f}  "
                  f"E_warp {row['ewarp']:.3f} (truth {row['ewarp_truth']:.3f})  "
                  f"{row['s_per_frame']:.2f} s/frame", flush=True)
            if args.save:
                folder = args.save / name / method
                folder.mkdir(parents=True, exist_ok=True)
                for t, frame in enumerate(result):
                    cv2.imwrite(str(folder / f"{t:05d}.png"), frame.permute(1, 2, 0).numpy()[..., ::-1])
        if args.pictures:
            save_pictures(args.pictures / name, damaged, results, truth, hole)
        del results
    print(f"\npooled over {len(args.clips.split(','))} clips, every frame "
          f"({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"{' '.join(args.set) or 'defaults'}):")
    print("| method | PSNR | SSIM (65x65) | PSNR hole | texture | E_warp (1e-3) | s/frame |")
    print("|---|---|---|---|---|---|---|")
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        frames = sum(r["frames"] for r in mine)
        weighted = lambda key: sum(r[key] * r["frames"] for r in mine) / frames  # noqa: E731
        print(f"| {method} | {np.mean([v for r in mine for v in r['psnr_frames']]):.2f} | "
              f"{weighted('ssim'):.4f} | {np.mean([r['psnr_hole'] for r in mine]):.2f} | "
              f"{np.mean([r['texture'] for r in mine]):.2f} | {np.mean([r['ewarp'] for r in mine]):.3f} | "
              f"{weighted('s_per_frame'):.2f} |")
    truth_ewarp = np.mean([r["ewarp_truth"] for r in rows if r["method"] == methods[0]])
    print(f"E_warp of the untouched frames: {truth_ewarp:.3f}")
    for paper, psnr, ssim in PUBLISHED:
        print(f"| {paper} (published, 50 other DAVIS clips and masks) | {psnr:.2f} | {ssim:.3f} | "
              "- | - | - | - |")
    path = write_results(args.json, rows, settings_of(args), name="davis_recipe",
                         summary={"published": [{"method": paper, "psnr": psnr, "ssim": ssim}
                                                for paper, psnr, ssim in PUBLISHED]})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
