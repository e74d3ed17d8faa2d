"""Object-removal benchmark with truth (DESIGN.md, "Measuring quality"; issue 30).

A synthetic hole has background all around its edge; a real object does not. Here a real
object, cut out of its own DAVIS clip with its per-frame annotation (so that it moves as it
did), is laid over ANOTHER shared clip at 432x240, the way a camera records it:

- its edge is soft: the 854x480 annotation area-resized to 432x240 (anti-aliasing), the alpha
  feathered by a Gaussian (``--feather`` px; the edge carries the object's own colours,
  extended outwards from its inside), then colour and alpha blurred together along the
  object's motion (its centroid's velocity times ``--shutter``, a box along that line);
- on pairs marked ``+shadow``, a soft contact shadow under it: the alpha shifted down and
  right, blurred and darkening the background by up to ``--shadow-opacity``;
- on pairs marked ``+reflection``, its reflection (in water, on a wet road): the object
  mirrored about its lowest row in each frame, blurred, at opacity 0.5, under it; it moves
  with the object, and the mask leaves it out as a roto of the object does.

The truth is the untouched background clip. The mask given to each method is the TIGHT binary
mask a roto artist exports (alpha > 0.5): it does not cover the soft edge or the shadow. Scores
are inside the object's whole footprint (alpha, shadow or reflection > 0.01, every frame): PSNR
(pooled over the footprint's pixels), SSIM (mean of the 11x11 SSIM map there), the texture ratio
(:func:`vidfill.metrics.texture_ratio`), E_warp restricted to it (x1e-3); beside them the PSNR
inside the tight mask and in the fringe (footprint outside the tight mask: where a ghost
lives), whole-frame PSNR (mean over frames) and seconds per frame.

    python benchmarks/objects.py [--pairs blackswan:tennis,car-roundabout:breakdance+shadow,...]
        [--methods default,object,fast,telea] [--dilate 0,2,4,6,8] [--frames 16]
        [--set SECTION.KEY=VALUE] [--json OUT] [--pictures DIR [--picture-methods default,object]]
    python benchmarks/objects.py --tables OUT [OUT...]   # the tables of earlier runs, merged

A method is a preset name or ``telea``, optionally followed by ``/SECTION.KEY=VALUE`` overrides
(``default/mask.dilate=4``, ``default/completion.hole_dilate=12``, ``telea/mask.dilate=6``);
a method that names ``completion.moving_band`` gets exactly that band (``mask.object_band`` off);
``--dilate 0,2`` adds ``default/mask.dilate=0`` and ``default/mask.dilate=2``. A method that
names ``mask.dilate`` gets exactly that growth; a preset as shipped gets whatever growth the
package decides for these masks (``mask.grow_objects``, where it has it: each row prints the
growth used). Methods whose effective settings are the same (``object`` is
``default/mask.dilate=6``) run once and share the row's figures. ``--pictures DIR`` writes,
for blackswan, car-roundabout and breakdance removed with their OWN annotation (no truth
there), input | each picture method panels of a few frames, and for each pair composite |
methods | truth panels, for a person to look for the outline. Write them outside the
repository: they are frames of the shared clips. ``--pairs none`` skips the pairs (pictures
only). The rows go to benchmarks/results/objects-DATE.json unless ``--json`` says where.
benchmarks/README.md ("Removing a real object") has the figures.
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

from common import (SHARED, SIZE, add_json_option, clip_folder, load_clip, load_results, settings_of,
                    write_results)
from vidfill import fill, load_preset
from vidfill.config import PipelineConfig, parse_overrides
from vidfill.inpainters.opencv import inpaint_image
from vidfill.metrics import psnr_frames, psnr_region, ssim_region, texture_ratio, warping_error
from vidfill.models.build import build_models
from vidfill.progress import Reporter
from vidfill.stages.holes import dilate_holes, smooth_fill

try:  # the automatic growth of object masks, where the package has it
    from vidfill.api import for_objects
except ImportError:
    for_objects = None

ANNOTATED = ("blackswan", "car-roundabout", "breakdance")
"""Clips whose masks are tight per-frame object annotations (tennis's are enlarged removal masks)."""
PAIRS = ("blackswan:tennis,car-roundabout:breakdance+shadow,breakdance:car-roundabout+shadow,"
         "blackswan:dogs-jump+shadow")
REFLECTION_OPACITY = 0.5
"""Opacity of a ``+reflection`` pair's mirrored object."""


def load_alpha(name: str, num_frames: int) -> np.ndarray:
    """(T, H, W) float32 in [0, 1]: the clip's per-frame annotation area-resized to 432x240 (the
    fractional values at its edge are the anti-aliasing the downsampling gives)."""
    if name not in ANNOTATED:
        raise SystemExit(f"{name}: objects come from {', '.join(ANNOTATED)} (tight annotations)")
    files = sorted((clip_folder(name) / "masks").glob("*.png"))[:num_frames]
    out = []
    for file in files:
        mask = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
        out.append(cv2.resize((mask > 127).astype(np.float32), SIZE[::-1], interpolation=cv2.INTER_AREA))
    return np.stack(out)


def motion_blur(image: np.ndarray, velocity: np.ndarray, length: float) -> np.ndarray:
    """``image`` (H, W[, C]) float32 averaged along a segment of ``length`` px in the direction of
    ``velocity`` (x, y), centred: a box blur along the motion (subpixel shifts, bilinear)."""
    speed = float(np.hypot(*velocity))
    if length < 0.5 or speed < 1e-6:
        return image
    direction = velocity / speed
    steps = int(np.ceil(length)) + 1
    h, w = image.shape[:2]
    acc = np.zeros_like(image)
    for s in np.linspace(-length / 2, length / 2, steps):
        shift = np.float32([[1, 0, s * direction[0]], [0, 1, s * direction[1]]])
        acc += cv2.warpAffine(image, shift, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT).reshape(image.shape)
    return acc / steps


def centroids(alpha: np.ndarray) -> np.ndarray:
    """(T, 2) the (x, y) centre of mass of each frame's alpha."""
    ys, xs = np.mgrid[:alpha.shape[1], :alpha.shape[2]]
    mass = alpha.sum((1, 2)).clip(1e-6)
    return np.stack([(alpha * xs).sum((1, 2)) / mass, (alpha * ys).sum((1, 2)) / mass], 1)


def object_layer(source: torch.Tensor, alpha: np.ndarray, feather: float,
                 shutter: float) -> tuple[np.ndarray, np.ndarray]:
    """The object as a premultiplied layer: colour (T, H, W, 3) (8-bit scale) and alpha
    (T, H, W), float32. The colour is the source's where the object covers the pixel wholly
    (alpha >= 0.99), extended outwards smoothly (push-pull) so that the soft edge carries the
    object's own colours, not its old background's; the alpha is feathered by a Gaussian of
    ``feather`` px (the edge only: the inside stays sharp); then colour and alpha are blurred
    together along the motion, ``shutter`` times the centroid's per-frame displacement."""
    centre = centroids(alpha)
    velocity = np.gradient(centre, axis=0) if len(centre) > 1 else np.zeros_like(centre)
    inner = torch.from_numpy(alpha < 0.99)[:, None]
    colour = smooth_fill(source.float(), inner).permute(0, 2, 3, 1).numpy()
    colours, alphas = [], []
    for t, a in enumerate(alpha):
        soft = cv2.GaussianBlur(a, (0, 0), feather) if feather > 0 else a
        layer = np.dstack([colour[t] * soft[..., None], soft])
        layer = motion_blur(layer, velocity[t], shutter * float(np.hypot(*velocity[t])))
        colours.append(layer[..., :3])
        alphas.append(layer[..., 3].clip(0, 1))
    return np.stack(colours), np.stack(alphas)


def contact_shadow(alpha: np.ndarray, opacity: float, offset: tuple[float, float] = (2.0, 4.0),
                   blur: float = 3.0) -> np.ndarray:
    """(T, H, W) darkening in [0, opacity]: ``alpha`` shifted by ``offset`` (x, y px), blurred."""
    h, w = alpha.shape[1:]
    shift = np.float32([[1, 0, offset[0]], [0, 1, offset[1]]])
    out = [cv2.GaussianBlur(cv2.warpAffine(a, shift, (w, h)), (0, 0), blur) for a in alpha]
    return (np.stack(out) * opacity).clip(0, 1)


def reflection(colour: np.ndarray, alpha: np.ndarray, opacity: float,
               blur: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """The layer mirrored about its lowest row in each frame (a reflection in water or on a wet
    road, moving with the object), blurred and at ``opacity``: premultiplied colour
    (T, H, W, 3) and alpha (T, H, W)."""
    h = alpha.shape[1]
    colours, alphas = [], []
    for c, a in zip(colour, alpha):
        rows = np.nonzero((a > 0.5).any(1))[0]
        bottom = int(rows.max()) if rows.size else h - 1
        mirror = np.clip(2 * bottom + 1 - np.arange(h), -1, h)  # row y shows row 2*bottom+1-y
        valid = (np.arange(h) > bottom) & (mirror >= 0) & (mirror < h)
        layer = np.zeros((*a.shape, 4), np.float32)
        layer[valid] = np.dstack([c, a])[mirror[valid]]
        layer = cv2.GaussianBlur(layer, (0, 0), blur) * opacity
        colours.append(layer[..., :3])
        alphas.append(layer[..., 3])
    return np.stack(colours), np.stack(alphas)


def composite(background: torch.Tensor, colour: np.ndarray, alpha: np.ndarray,
              shadow: np.ndarray | None, mirrored: tuple[np.ndarray, np.ndarray] | None = None
              ) -> torch.Tensor:
    """(T, 3, H, W) uint8: ``background`` darkened by ``shadow``, under the ``mirrored``
    layer (colour, alpha) if given, then the layer over it."""
    bg = background.permute(0, 2, 3, 1).numpy().astype(np.float32)
    if shadow is not None:
        bg = bg * (1 - shadow[..., None])
    if mirrored is not None:
        bg = mirrored[0] + (1 - mirrored[1][..., None]) * bg
    out = colour + (1 - alpha[..., None]) * bg
    return torch.from_numpy(out.round().clip(0, 255).astype(np.uint8)).permute(0, 3, 1, 2).contiguous()


def make_pair(spec: str, num_frames: int, feather: float, shutter: float,
              shadow_opacity: float) -> dict:
    """``OBJECT:BACKGROUND[+shadow|+reflection]`` -> the composite, the tight mask, the
    footprint, the truth."""
    shadowed, reflected = spec.endswith("+shadow"), spec.endswith("+reflection")
    name = spec.removesuffix("+shadow").removesuffix("+reflection")
    obj, _, back = name.partition(":")
    if not back:
        raise SystemExit(f"--pairs {spec}: expected OBJECT:BACKGROUND[+shadow|+reflection]")
    truth = load_clip(clip_folder(back), num_frames)
    source = load_clip(clip_folder(obj), num_frames)
    alpha_in = load_alpha(obj, num_frames)
    t = min(len(truth), len(source), len(alpha_in))
    truth, source, alpha_in = truth[:t], source[:t], alpha_in[:t]
    colour, alpha = object_layer(source, alpha_in, feather, shutter)
    shadow = contact_shadow(alpha_in, shadow_opacity) if shadowed else None
    mirrored = reflection(colour, alpha, REFLECTION_OPACITY) if reflected else None
    tight = torch.from_numpy(alpha > 0.5)[:, None]
    reach = alpha > 0.01
    for extra in (shadow, None if mirrored is None else mirrored[1]):
        if extra is not None:
            reach |= extra > 0.01
    return {"pair": spec, "truth": truth, "damaged": composite(truth, colour, alpha, shadow, mirrored),
            "tight": tight, "footprint": torch.from_numpy(reach)[:, None]}


def method_config(method: str, extra: list[str]) -> tuple[str, PipelineConfig | None, int]:
    """``preset[/SECTION.KEY=VALUE...]`` -> (kind, config, telea dilation); kind "telea" or
    "vidfill"; the ``--set`` overrides apply to every vidfill method. A method that names
    ``mask.dilate`` gets exactly that growth: the automatic growth of object masks
    (``mask.grow_objects``, where the package has it) is turned off for it unless named too."""
    name, *overrides = method.split("/")
    values = parse_overrides(overrides)
    if name == "telea":
        unknown = {k: v for k, v in values.items() if k != "mask" or set(v) - {"dilate"}}
        if unknown:
            raise SystemExit(f"{method}: telea takes only mask.dilate")
        return "telea", None, int(values.get("mask", {}).get("dilate", 0))
    cfg = load_preset(name)
    mask = values.get("mask", {})
    if "dilate" in mask and "grow_objects" not in mask and hasattr(cfg.mask, "grow_objects"):
        mask["grow_objects"] = 0
    if ("moving_band" in values.get("completion", {}) and "object_band" not in mask
            and hasattr(cfg.mask, "object_band")):
        mask["object_band"] = 0
    if mask:
        values["mask"] = mask
    cfg = cfg.replace(origin=method, **values)
    return "vidfill", cfg.replace(origin="--set", **parse_overrides(extra)), 0


def effective(cfg: PipelineConfig, frames: torch.Tensor, masks: torch.Tensor) -> PipelineConfig:
    """``cfg`` as :func:`vidfill.fill` will apply it to these masks: with the automatic growth of
    object masks (``vidfill.api.for_objects``, where the package has it) decided and pinned."""
    if for_objects is None or not hasattr(cfg.mask, "grow_objects"):
        return cfg
    pinned = {"grow_objects": 0, **({"object_band": 0} if hasattr(cfg.mask, "object_band") else {})}
    return for_objects(cfg, frames, masks).replace(mask=pinned)


def telea(frames: torch.Tensor, holes: torch.Tensor) -> torch.Tensor:
    return torch.stack([inpaint_image(f, m) for f, m in zip(frames, holes)])


class Runner:
    """Runs methods, building each configuration's networks once and reusing the result of a
    method whose settings equal one already run on the same input."""

    def __init__(self, methods: list[str], extra: list[str]):
        self.specs = {m: method_config(m, extra) for m in methods}
        self.models: dict = {}
        self.timings: dict[str, float] = {}
        """Seconds per stage of the last vidfill run."""

    def key(self, method: str, damaged: torch.Tensor, tight: torch.Tensor):
        """What decides the result: Telea's dilation, or vidfill's effective settings."""
        kind, cfg, dilate = self.specs[method]
        return (kind, dilate) if kind == "telea" else (kind, effective(cfg, damaged, tight))

    def run(self, method: str, damaged: torch.Tensor, tight: torch.Tensor) -> tuple[torch.Tensor, float]:
        kind, cfg, dilate = self.specs[method]
        start = time.perf_counter()
        if kind == "telea":
            self.timings = {}
            return telea(damaged, dilate_holes(tight, dilate)), time.perf_counter() - start
        cfg = effective(cfg, damaged, tight)
        models_key = (cfg.flow, cfg.edges, cfg.leftover)
        if models_key not in self.models:
            self.models[models_key] = build_models(cfg, raft_weights=SHARED / "checkpoints/raft-small.pth")
        reporter = Reporter(quiet=True)
        start = time.perf_counter()  # weights are loaded once per run, not per clip
        result = fill(damaged, tight, cfg, models=self.models[models_key], reporter=reporter)
        self.timings = dict(reporter.timings)
        return result, time.perf_counter() - start


def evaluate(result: torch.Tensor, truth: torch.Tensor, tight: torch.Tensor,
             footprint: torch.Tensor) -> dict[str, float]:
    fringe = footprint & ~tight
    return {"psnr": psnr_frames(result, truth), "psnr_fp": psnr_region(result, truth, footprint),
            "psnr_mask": psnr_region(result, truth, tight),
            "psnr_fringe": psnr_region(result, truth, fringe) if bool(fringe.any()) else float("nan"),
            "ssim_fp": ssim_region(result, truth, footprint),
            "texture_fp": texture_ratio(result, truth, footprint),
            "ewarp_fp": warping_error(result, truth, region=footprint)}


COLUMNS = ("psnr", "psnr_fp", "psnr_mask", "psnr_fringe", "ssim_fp", "texture_fp", "ewarp_fp",
           "s_per_frame")
HEADER = ("| method | PSNR | PSNR footprint | PSNR tight mask | PSNR fringe | SSIM footprint | "
          "texture footprint | E_warp footprint (1e-3) | s/frame |\n|---|---|---|---|---|---|---|---|---|")


def table_row(label: str, values: dict[str, float]) -> str:
    return (f"| {label} | {values['psnr']:.2f} | {values['psnr_fp']:.2f} | {values['psnr_mask']:.2f} | "
            f"{values['psnr_fringe']:.2f} | {values['ssim_fp']:.4f} | {values['texture_fp']:.2f} | "
            f"{values['ewarp_fp']:.3f} | {values['s_per_frame']:.2f} |")


def crop_box(region: torch.Tensor, margin: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the box of ``region`` (any frame) grown by ``margin``, in the frame."""
    ys, xs = np.nonzero(region.any(0)[0].numpy())
    h, w = region.shape[-2:]
    return (max(ys.min() - margin, 0), min(ys.max() + margin + 1, h),
            max(xs.min() - margin, 0), min(xs.max() + margin + 1, w))


def save_panels(folder: Path, panels: list[tuple[str, torch.Tensor]], region: torch.Tensor,
                count: int = 3, margin: int = 16, scale: int = 2) -> None:
    """``count`` frames spread over the clip: the box around ``region`` (plus ``margin``),
    enlarged ``scale`` times, every panel side by side with its caption."""
    y0, y1, x0, x1 = crop_box(region, margin)
    folder.mkdir(parents=True, exist_ok=True)
    num_frames = panels[0][1].shape[0]
    for t in sorted({min(int(round(f)), num_frames - 1) for f in np.linspace(num_frames * 0.15, num_frames * 0.85, count)}):
        tiles = []
        for name, frames in panels:
            tile = np.ascontiguousarray(frames[t, :, y0:y1, x0:x1].permute(1, 2, 0).numpy()[..., ::-1])
            tile = cv2.resize(tile, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
            caption = np.full((22, tile.shape[1], 3), 255, np.uint8)
            cv2.putText(caption, name, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(np.vstack([caption, tile]))
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        cv2.imwrite(str(folder / f"frame{t:05d}.png"),
                    np.hstack([x for tile in tiles for x in (tile, gap)][:-1]))


def own_annotation_pictures(folder: Path, runner: Runner, methods: list[str], num_frames: int) -> None:
    """Each annotated clip with its own object removed by each method (no truth: for looking)."""
    for name in ANNOTATED:
        frames = load_clip(clip_folder(name), num_frames)
        tight = torch.from_numpy(load_alpha(name, num_frames)[:len(frames)] > 0.5)[:, None]
        panels = [("input", frames)]
        for method in methods:
            key = runner.key(method, frames, tight)
            result, seconds = runner.run(method, frames, tight)
            grown = key[1] if key[0] == "telea" else key[1].mask.dilate
            panels.append((f"{method} ({grown} px)", result))
            print(f"pictures {name:<16} {method:<26} grown {grown} px, {seconds / len(frames):.2f} s/frame",
                  flush=True)
        save_panels(folder / f"own_{name}", panels, dilate_holes(tight, 8))


def print_pooled(rows: list[dict]) -> None:
    """The table of each method's figures averaged over the pairs it ran on (dB averaged too)."""
    print(HEADER)
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        label = f"{method} ({len(mine)} pairs)" if len(mine) != len({r["pair"] for r in rows}) else method
        print(table_row(label, {k: float(np.nanmean([r[k] for r in mine])) for k in COLUMNS}))


def main() -> None:
    logging.getLogger("vidfill").setLevel(logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", default=PAIRS, help="OBJECT:BACKGROUND[+shadow|+reflection],... or none")
    p.add_argument("--methods", default="default,object,fast,telea")
    p.add_argument("--dilate", default="", help="also default/mask.dilate=N for each N, e.g. 0,2,4,6,8")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--feather", type=float, default=1.0, help="Gaussian sigma of the soft edge, px")
    p.add_argument("--shutter", type=float, default=0.5,
                   help="motion blur length as a fraction of the object's per-frame motion")
    p.add_argument("--shadow-opacity", type=float, default=0.5)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    add_json_option(p, "objects")
    p.add_argument("--pictures", type=Path, help="write panels here (outside the repository)")
    p.add_argument("--picture-methods", default="default,object")
    p.add_argument("--tables", type=Path, nargs="+",
                   help="print the per-pair and pooled tables of earlier --json files, run nothing")
    args = p.parse_args()
    if args.tables:
        rows = [r for file in args.tables for r in load_results(file)["rows"]]
        for spec in dict.fromkeys(r["pair"] for r in rows):
            print(f"\n{spec}:")
            print(HEADER)
            for r in rows:
                if r["pair"] == spec:
                    print(table_row(r["method"] + (f" (= {r['same_as']})" if "same_as" in r else ""), r))
        print("\nmean over the pairs:")
        print_pooled(rows)
        return
    methods = args.methods.split(",") if args.methods else []
    methods += [f"default/mask.dilate={n}" for n in args.dilate.split(",") if n]
    picture_methods = args.picture_methods.split(",")
    runner = Runner(list(dict.fromkeys(methods + (picture_methods if args.pictures else []))), args.set)
    pairs = [] if args.pairs == "none" else args.pairs.split(",")
    rows, truth_ewarp = [], {}
    for spec in pairs:
        pair = make_pair(spec, args.frames, args.feather, args.shutter, args.shadow_opacity)
        truth, damaged, tight, footprint = pair["truth"], pair["damaged"], pair["tight"], pair["footprint"]
        num_frames = truth.shape[0]
        truth_ewarp[spec] = warping_error(truth, truth, region=footprint)
        print(f"{spec}: {num_frames} frames, tight mask {tight.float().mean():.1%} of the frame, "
              f"footprint {footprint.float().mean():.1%}; as given (no fill): "
              f"{table_row('input', {**evaluate(damaged, truth, tight, footprint), 's_per_frame': 0})}",
              flush=True)
        done: dict = {}
        results = {}
        for method in methods:
            key = runner.key(method, damaged, tight)
            if key in done:
                row = {**done[key], "method": method, "same_as": done[key]["method"]}
                results[method] = results[done[key]["method"]]
            else:
                result, seconds = runner.run(method, damaged, tight)
                row = {"pair": spec, "method": method, "frames": num_frames,
                       "ewarp_fp_truth": truth_ewarp[spec],
                       "dilate_used": key[1] if key[0] == "telea" else key[1].mask.dilate,
                       **evaluate(result, truth, tight, footprint), "s_per_frame": seconds / num_frames,
                       "s_by_stage": {k: v / num_frames for k, v in runner.timings.items()}}
                done[key] = row
                results[method] = result
            rows.append(row)
            same = f" (= {row['same_as']})" if "same_as" in row else ""
            stages = ", ".join(f"{k} {v:.2f}" for k, v in row["s_by_stage"].items())
            print(f"  {table_row(method + same, row)} grown {row['dilate_used']} px; {stages}", flush=True)
        if args.pictures:
            shown = [(m, results[m]) for m in picture_methods if m in results]
            save_panels(args.pictures / spec.replace(":", "_over_").replace("+", "_"),
                        [("composite", damaged), *shown, ("truth", truth)], footprint)
        del results
    if rows:
        print(f"\nmean over {len(pairs)} pairs, {args.frames} frames each ({platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} threads, feather {args.feather} px, shutter {args.shutter}, "
              f"shadow {args.shadow_opacity}, {' '.join(args.set) or 'defaults'}):")
        print_pooled(rows)
        print(f"E_warp footprint of the untouched frames: {np.mean(list(truth_ewarp.values())):.3f}")
    if rows:
        path = write_results(args.json, rows, settings_of(args), name="objects")
        print(f"results: {path}")
    if args.pictures:
        own_annotation_pictures(args.pictures, runner, picture_methods, args.frames)


if __name__ == "__main__":
    main()
