"""Overlay-recovery benchmark with truth (DESIGN.md, "Measuring quality", "Overlays"; issue 31).

A logo, channel bug, watermark or lower third burnt into a clip is ``J = a*W + (1 - a)*I`` per
pixel: the scene ``I`` shows through wherever the opacity ``a`` is below 1. Here overlays of our
own making are composited onto the shared clips at 432x240 and the untouched frames are the truth.

Overlays (``--overlays``; each is layers of opacity and colour, drawn 4x supersampled with
anti-aliased OpenCV Hershey text and shapes, area-downsampled, each layer's coverage blurred by a
Gaussian for a soft edge, then layered "over" one another into one opacity ``a`` ``(H, W)`` in
[0, 1] and one colour ``W`` ``(3, H, W)``; the same in every frame):

- ``bug``: channel bug "NEWS 24" (HERSHEY_DUPLEX), white text at opacity 0.5 on a blue rounded
  box at 0.2, top right (0.6 where they overlap);
- ``watermark``: stock-footage word "PREVIEW" (HERSHEY_TRIPLEX, large, tilted 12 degrees),
  white at 0.35, across the middle;
- ``logo``: an orange disc with a triangular ("play") cut-out, opacity 0.6, top left;
- ``faint``: "(c) stockclips" (HERSHEY_SCRIPT_SIMPLEX, small), white at 0.2, bottom right;
- ``lowerthird``: a dark blue band at 0.75 across the lower left, yellow text
  "Jane Doe | City Hall" (HERSHEY_COMPLEX) on it at 0.9 (0.975 together);
- ``opaque``: a dark red "HD" badge at 0.5 with white text at opacity 1.0: partly opaque, a
  core that hides the scene completely.

The composite is made in float and rounded to 8 bits. The mask every method gets is the
overlay's binary footprint, ``a > 0.01`` (it covers the soft edge: as a user draws it, or as
find-overlay finds it), the same in every frame; the Gaussian's tail below that is cut, so that
outside the mask the composite is the truth.

Clips (``--clips``; the first ``--frames`` frames, area-resized to 432x240): moving camera
``car-roundabout`` (fast pan), ``tennis`` (pan), ``blackswan`` (slow pan); locked-off
``breakdance`` (static camera, a crowd moving behind), and ``still``: frame 0 of
davis480p_car-roundabout held for every frame with fresh Gaussian sensor noise of
:data:`STILL_NOISE` levels per frame (seeded by ``--seed``) - a truly still background, where no
frame shows more of the scene than another (``still:NAME`` holds frame 0 of another clip).

Encodings (``--encodings``): ``lossless`` (the 8-bit composite as is), ``crf18`` and ``crf23``
(any ``crfN``): the composite encoded by x264 through PyAV at that CRF, yuv420p, to a temporary
mp4 and decoded back to RGB (BT.601 limited range, PyAV's default both ways; the round trip
alone, at CRF 0, costs 41.4 dB on car-roundabout: the 4:2:0 chroma); the truth stays the
untouched frames. x264 runs on one thread with its plain C code, so that each encode gives the
same bytes.

Methods (``--methods``): ``recover``: :func:`vidfill.fill` with ``load_preset("default")``
(overlay recovery, ``overlay.method = "recover"``); ``fill``: the same preset with
``overlay={"method": "fill"}`` (the mask treated as a hole, as before recovery); ``telea``:
per-frame OpenCV Telea on the same mask. Each row also carries ``input``: the composite as given.

Scores inside the footprint against the untouched frames: PSNR (pooled over its pixels), the
texture ratio (:func:`vidfill.metrics.texture_ratio`), E_warp restricted to it (x1e-3) beside
the E_warp of the untouched frames in the same region (what a perfect result scores), seconds
per frame (the networks built once, outside the timing); and, where
``vidfill.stages.find_overlay`` exists, the IoU of its mask with the footprint (per composite,
"refused" where it says it cannot tell) and its opacity's mean absolute error in the footprint.

    python benchmarks/overlay.py [--clips car-roundabout,tennis,blackswan,breakdance,still]
        [--overlays bug,logo,opaque] [--encodings lossless,crf18] [--methods recover,fill,telea]
        [--frames 32] [--device cpu] [--json OUT]
    python benchmarks/overlay.py --overlays all --encodings all --json full.json   # everything
    python benchmarks/overlay.py --tables OUT [OUT...]   # the tables of earlier runs, merged
    python benchmarks/overlay.py --find-only --overlays all   # find-overlay's IoU alone, no fills

The rows go to benchmarks/results/overlay-DATE.json unless ``--json`` says where, rewritten after
every composite (a long run stopped early keeps what it did).

Cost: the default preset fills at about 2.5-3 s/frame on the 2-core CPU, twice per composite
(recover and fill), so a composite of 32 frames costs about 3 minutes. The default run (5 clips
x 3 overlays x 2 encodings = 30 composites) takes about 1.5 hours; the full run (5 x 6 x 3 = 90
composites) about 4.5 hours. benchmarks/README.md ("Overlays (issue 31)") has the figures.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

from common import (SHARED, SIZE, add_json_option, clip_folder, default_json, describe, load_clip,
                    load_results, results, settings_of, telea, write_results)
from vidfill import VidfillError, fill, load_preset
from vidfill.config import ConfigError, parse_overrides
from vidfill.metrics import psnr_region, texture_ratio, warping_error
from vidfill.models.build import build_models
from vidfill.progress import Reporter

MOVING = ("car-roundabout", "tennis", "blackswan")
LOCKED = ("breakdance", "still")
STILL_SOURCE = "car-roundabout"
"""The clip whose frame 0 is the still background of ``still``."""
STILL_NOISE = 1.0
"""Sensor noise of the still background, standard deviation in 8-bit levels, fresh every frame."""
SUPERSAMPLE = 4
"""Overlays are drawn at this multiple of 432x240 and area-downsampled: anti-aliased edges."""
FOOTPRINT = 0.01
"""The mask given to the methods: where the overlay's opacity exceeds this (its soft edge too)."""
BUCKET = 0.6
"""Overlays whose largest opacity is at most this form the low-opacity bucket (issue 31's
"opacity at most 0.6" targets); the others the high one."""
METHODS = ("recover", "fill", "telea")
ENCODINGS = ("lossless", "crf18", "crf23")
DEFAULT_OVERLAYS = "bug,logo,opaque"


# ---------------------------------------------------------------------------------------------
# Overlays

Layer = tuple[np.ndarray, float, tuple[int, int, int]]
"""(coverage (H, W) float32 in [0, 1] at frame size, opacity, RGB colour)."""


def canvas() -> np.ndarray:
    """A blank supersampled drawing surface, uint8 (H*S, W*S)."""
    return np.zeros((SIZE[0] * SUPERSAMPLE, SIZE[1] * SUPERSAMPLE), np.uint8)


def coverage(drawn: np.ndarray) -> np.ndarray:
    """A supersampled drawing -> (H, W) float32 coverage in [0, 1] (area-averaged: anti-aliased)."""
    return cv2.resize(drawn.astype(np.float32) / 255, SIZE[::-1], interpolation=cv2.INTER_AREA)


def put_text(drawn: np.ndarray, text: str, font: int, scale: float, thickness: float,
             centre: tuple[float, float], value: int = 255) -> None:
    """``text`` centred on ``centre`` (x, y in frame pixels); ``scale`` and ``thickness`` as
    :func:`cv2.putText` takes them at frame size."""
    s = SUPERSAMPLE
    weight = max(1, round(thickness * s))
    (w, h), _ = cv2.getTextSize(text, font, scale * s, weight)
    org = (int(round(centre[0] * s - w / 2)), int(round(centre[1] * s + h / 2)))
    cv2.putText(drawn, text, org, font, scale * s, value, weight, cv2.LINE_AA)


def rounded_box(drawn: np.ndarray, x0: float, y0: float, x1: float, y1: float, radius: float,
                value: int = 255) -> None:
    """A filled box with rounded corners, frame pixel coordinates."""
    s = SUPERSAMPLE
    x0, y0, x1, y1, r = (int(round(v * s)) for v in (x0, y0, x1, y1, radius))
    cv2.rectangle(drawn, (x0 + r, y0), (x1 - r, y1), value, -1)
    cv2.rectangle(drawn, (x0, y0 + r), (x1, y1 - r), value, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(drawn, (cx, cy), r, value, -1, cv2.LINE_AA)


def rotate(drawn: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    s = SUPERSAMPLE
    turn = cv2.getRotationMatrix2D((centre[0] * s, centre[1] * s), degrees, 1.0)
    return cv2.warpAffine(drawn, turn, drawn.shape[::-1], flags=cv2.INTER_LINEAR)


def bug() -> tuple[list[Layer], float]:
    box, text = canvas(), canvas()
    rounded_box(box, 326, 12, 420, 42, 7)
    put_text(text, "NEWS 24", cv2.FONT_HERSHEY_DUPLEX, 0.62, 1.3, (373, 27))
    return [(coverage(box), 0.2, (20, 60, 170)), (coverage(text), 0.5, (255, 255, 255))], 0.7


def watermark() -> tuple[list[Layer], float]:
    word = canvas()
    put_text(word, "PREVIEW", cv2.FONT_HERSHEY_TRIPLEX, 2.0, 3.5, (216, 120))
    return [(coverage(rotate(word, 12, (216, 120))), 0.35, (255, 255, 255))], 0.9


def logo() -> tuple[list[Layer], float]:
    s = SUPERSAMPLE
    shape = canvas()
    cx, cy, r = 46, 46, 25
    cv2.circle(shape, (cx * s, cy * s), r * s, 255, -1, cv2.LINE_AA)
    play = np.array([[cx - 8, cy - 12], [cx - 8, cy + 12], [cx + 13, cy]]) * s
    cv2.fillPoly(shape, [play.astype(np.int32)], 0, cv2.LINE_AA)
    return [(coverage(shape), 0.6, (255, 140, 0))], 0.8


def faint() -> tuple[list[Layer], float]:
    text = canvas()
    put_text(text, "(c) stockclips", cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.8, 1.2, (350, 222))
    return [(coverage(text), 0.2, (255, 255, 255))], 0.6


def lowerthird() -> tuple[list[Layer], float]:
    band, text = canvas(), canvas()
    rounded_box(band, 14, 186, 300, 222, 5)
    put_text(text, "Jane Doe | City Hall", cv2.FONT_HERSHEY_COMPLEX, 0.62, 1.2, (157, 204))
    return [(coverage(band), 0.75, (10, 30, 90)), (coverage(text), 0.9, (255, 210, 40))], 0.8


def opaque() -> tuple[list[Layer], float]:
    badge, text = canvas(), canvas()
    rounded_box(badge, 22, 18, 98, 58, 8)
    put_text(text, "HD", cv2.FONT_HERSHEY_SIMPLEX, 1.1, 4.0, (60, 38))
    return [(coverage(badge), 0.5, (150, 20, 20)), (coverage(text), 1.0, (255, 255, 255))], 0.5


OVERLAYS = {"bug": bug, "watermark": watermark, "logo": logo, "faint": faint,
            "lowerthird": lowerthird, "opaque": opaque}


def render(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The overlay ``name`` as opacity ``a`` (H, W) and colour ``W`` (3, H, W) (8-bit scale),
    float32: each layer's coverage blurred by the overlay's Gaussian sigma (px) times its
    opacity, laid over the layers before it; opacities of :data:`FOOTPRINT` or less set to 0
    (a step of at most 2.5 levels), so that the mask covers the whole overlay."""
    layers, sigma = OVERLAYS[name]()
    alpha = np.zeros(SIZE, np.float32)
    premultiplied = np.zeros((3, *SIZE), np.float32)
    for cover, opacity, colour in layers:
        a = opacity * (cv2.GaussianBlur(cover, (0, 0), sigma) if sigma > 0 else cover)
        premultiplied = np.float32(colour)[:, None, None] * a + premultiplied * (1 - a)
        alpha = a + alpha * (1 - a)
    colour = np.where(alpha > 1e-6, premultiplied / np.maximum(alpha, 1e-6), 0).astype(np.float32)
    # the Gaussian's far tail cut at the footprint: outside the mask the composite is the truth
    return np.where(alpha > FOOTPRINT, alpha, 0).clip(0, 1).astype(np.float32), colour


def composite(truth: torch.Tensor, alpha: np.ndarray, colour: np.ndarray) -> torch.Tensor:
    """``J = a*W + (1 - a)*I`` in float, rounded to 8 bits: (T, 3, H, W) uint8."""
    scene = truth.numpy().astype(np.float32)
    out = alpha * colour + (1 - alpha) * scene
    return torch.from_numpy(out.round().clip(0, 255).astype(np.uint8))


# ---------------------------------------------------------------------------------------------
# Clips and encodings

def load_truth(name: str, num_frames: int, seed: int) -> torch.Tensor:
    """(T, 3, 240, 432) uint8: the clip's first frames, or for ``still[:NAME]`` frame 0 of NAME
    held with fresh sensor noise every frame."""
    if name == "still" or name.startswith("still:"):
        source = name.partition(":")[2] or STILL_SOURCE
        frame = load_clip(clip_folder(source), 1)[0].numpy().astype(np.float32)
        rng = np.random.default_rng(seed)
        noise = rng.normal(0, STILL_NOISE, (num_frames, *frame.shape)).astype(np.float32)
        return torch.from_numpy((frame + noise).round().clip(0, 255).astype(np.uint8))
    return load_clip(clip_folder(name), num_frames)


def camera(name: str) -> str:
    return "locked-off" if name in LOCKED or name.startswith("still:") else "moving"


def encode(frames: torch.Tensor, encoding: str) -> torch.Tensor:
    """``frames`` (T, 3, H, W) uint8 as a viewer gets them after ``encoding``: ``lossless`` as
    they are; ``crfN``: x264 at CRF N, yuv420p, through a temporary mp4, decoded back to RGB."""
    if encoding == "lossless":
        return frames
    if not encoding.startswith("crf") or not encoding[3:].isdigit():
        raise SystemExit(f"--encodings {encoding}: expected lossless or crfN (crf18, crf23)")
    t, _, h, w = frames.shape
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "composite.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            # the same bytes from every encode (on any machine with this x264): x264 on one thread and with
            # its plain C code (six encodes of a composite: six different files with one thread
            # alone, up to three with the C code alone, one with both)
            stream.options = {"crf": encoding[3:], "x264-params": "asm=0"}
            stream.codec_context.thread_count = 1
            for frame in frames.permute(0, 2, 3, 1).numpy():
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                container.mux(stream.encode(picture))
            container.mux(stream.encode())
        with av.open(str(path)) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(decoded) != t:
        raise RuntimeError(f"x264 round trip gave {len(decoded)} frames for {t}")
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).contiguous()


# ---------------------------------------------------------------------------------------------
# Methods

class Notes(logging.Handler):
    """Keeps the package's log messages (its one-line notes) of the current run."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class Runner:
    """Runs the methods on one device, the networks built once for both vidfill methods (they
    differ only in ``overlay.method``, which names no network)."""

    def __init__(self, device: str):
        self.device = device
        base = load_preset("default")
        self.configs = {"recover": base, "fill": base.replace(overlay={"method": "fill"})}
        self.base = base
        self.models = build_models(base, raft_weights=SHARED / "checkpoints/raft-small.pth",
                                   device=device)
        self.notes = Notes()
        log = logging.getLogger("vidfill")
        log.setLevel(logging.INFO)
        log.addHandler(self.notes)
        log.propagate = False

    def run(self, method: str, frames: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, float, dict, list[str]]:
        """-> (result (T, 3, H, W) uint8, seconds, seconds by stage, the package's notes)."""
        self.notes.messages.clear()
        start = time.perf_counter()
        if method == "telea":
            return telea(frames, masks), time.perf_counter() - start, {}, []
        reporter = Reporter(quiet=True)
        name, *overrides = method.split("/")
        cfg = self.configs[name].replace(origin=method, **parse_overrides(overrides))
        result = fill(frames, masks, cfg, models=self.models, device=self.device,
                      reporter=reporter)
        seconds = time.perf_counter() - start
        return result, seconds, dict(reporter.timings), list(dict.fromkeys(self.notes.messages))


def load_find_overlay():
    """``vidfill.stages.find_overlay.find_overlay``, or None (with a note) where it is not there yet."""
    try:
        from vidfill.stages.find_overlay import find_overlay
    except ModuleNotFoundError as error:
        if error.name not in ("vidfill.stages.find_overlay", "vidfill.stages"):
            raise
        print("note: vidfill.stages.find_overlay is not there yet: no find-overlay IoU column",
              flush=True)
        return None
    return find_overlay


def score_find(find_overlay, frames: torch.Tensor, footprint: np.ndarray,
               alpha: np.ndarray) -> dict:
    """IoU of find-overlay's mask with the true footprint, its opacity's mean absolute error
    in the footprint, its seconds per frame; ``iou`` None and ``find_note`` its message when it
    says it cannot tell."""
    start = time.perf_counter()
    try:
        found = find_overlay(frames)
    except VidfillError as error:
        return {"iou": None, "alpha_mae": None, "find_note": str(error),
                "find_s_per_frame": (time.perf_counter() - start) / len(frames)}
    except Exception as error:  # a bug there must not cost the fills of a long run: shown as "error"
        return {"iou": None, "alpha_mae": None, "find_error": f"{type(error).__name__}: {error}",
                "find_note": "", "find_s_per_frame": (time.perf_counter() - start) / len(frames)}
    seconds = time.perf_counter() - start
    # a (mask, alpha) pair, or a result with .mask and .alpha (vidfill.stages.find_overlay.FoundOverlay)
    found, found_alpha = (found.mask, found.alpha) if hasattr(found, "mask") else found
    found = found.reshape(SIZE).cpu().numpy().astype(bool)
    union = (found | footprint).sum()
    found_alpha = found_alpha.reshape(SIZE).float().cpu().numpy()
    return {"iou": float((found & footprint).sum() / union) if union else 1.0,
            "alpha_mae": float(np.abs(found_alpha - alpha)[footprint].mean()),
            "find_note": "", "find_s_per_frame": seconds / len(frames)}


def evaluate(result: torch.Tensor, truth: torch.Tensor, region: torch.Tensor) -> dict[str, float]:
    return {"psnr": psnr_region(result, truth, region), "texture": texture_ratio(result, truth, region),
            "ewarp": warping_error(result, truth, region=region)}


# ---------------------------------------------------------------------------------------------
# Tables

HEADER = ("| clip | overlay | encoding | method | PSNR overlay | texture | E_warp (1e-3) | "
          "E_warp truth | s/frame | find-overlay IoU |\n|---|---|---|---|---|---|---|---|---|---|")
POOLED_COLUMNS = ("method", "cases", "PSNR overlay", "texture", "E_warp (1e-3)", "E_warp truth",
                  "E_warp - truth", "s/frame")


def iou_text(row: dict) -> str:
    if "iou" not in row:
        return "-"
    if row.get("find_error"):
        return "error"
    return "refused" if row["iou"] is None else f"{row['iou']:.3f}"


def table_row(row: dict) -> str:
    return (f"| {row['clip']} | {row['overlay']} | {row['encoding']} | {row['method']} | "
            f"{row['psnr']:.2f} | {row['texture']:.2f} | {row['ewarp']:.3f} | "
            f"{row['ewarp_truth']:.3f} | {row['s_per_frame']:.2f} | {iou_text(row)} |")


def bucket(row: dict) -> str:
    return f"<= {BUCKET}" if row["opacity"] <= BUCKET + 1e-3 else f"> {BUCKET}"


def pooled_table(rows: list[dict], keys: tuple[str, ...], names: tuple[str, ...]) -> None:
    """Each method's figures averaged (dB averaged too) within each group of ``keys``."""
    columns = (*names, *POOLED_COLUMNS)
    print(f"| {' | '.join(columns)} |\n|{'---|' * len(columns)}")
    groups = dict.fromkeys(tuple(r[k] if k != "bucket" else bucket(r) for k in keys) for r in rows)
    for group in sorted(groups, key=lambda g: tuple(order(k, v) for k, v in zip(keys, g))):
        mine = [r for r in rows if tuple(r[k] if k != "bucket" else bucket(r) for k in keys) == group]
        for method in dict.fromkeys(r["method"] for r in mine):
            cases = [r for r in mine if r["method"] == method]
            mean = {k: float(np.mean([r[k] for r in cases]))
                    for k in ("psnr", "texture", "ewarp", "ewarp_truth", "s_per_frame")}
            print(f"| {' | '.join(group)} | {method} | {len(cases)} | {mean['psnr']:.2f} | "
                  f"{mean['texture']:.2f} | {mean['ewarp']:.3f} | {mean['ewarp_truth']:.3f} | "
                  f"{mean['ewarp'] - mean['ewarp_truth']:+.3f} | {mean['s_per_frame']:.2f} |")


def order(key: str, value: str):
    """Sort groups as the reader expects: moving before locked-off, lossless before CRFs."""
    if key == "camera":
        return (value != "moving", value)
    if key == "encoding":
        return (value != "lossless", int(value[3:]) if value[3:].isdigit() else 0, value)
    return (0, value)


def find_table(rows: list[dict]) -> None:
    """find-overlay's IoU per camera and encoding: one figure per composite."""
    found = {(r["clip"], r["overlay"], r["encoding"]): r for r in rows if "iou" in r}
    if not found:
        return
    print("\nfind-overlay, per composite: IoU with the true footprint, opacity error (mean |a - a_true| "
          "in the footprint):")
    print("| camera | encoding | composites | refused | failed | IoU | opacity error | s/frame |\n"
          "|---|---|---|---|---|---|---|---|")
    groups = dict.fromkeys((r["camera"], r["encoding"]) for r in found.values())
    for group in sorted(groups, key=lambda g: (order("camera", g[0]), order("encoding", g[1]))):
        mine = [r for r in found.values() if (r["camera"], r["encoding"]) == group]
        told = [r for r in mine if r["iou"] is not None]
        failed = sum(bool(r.get("find_error")) for r in mine)
        iou = f"{np.mean([r['iou'] for r in told]):.3f}" if told else "-"
        err = f"{np.mean([r['alpha_mae'] for r in told]):.3f}" if told else "-"
        print(f"| {group[0]} | {group[1]} | {len(mine)} | {len(mine) - len(told) - failed} | {failed} | "
              f"{iou} | {err} | "
              f"{np.mean([r['find_s_per_frame'] for r in mine]):.2f} |")


def print_tables(rows: list[dict]) -> None:
    scored = [r for r in rows if "psnr" in r]  # not those of --find-only
    if not scored:
        find_table(rows)
        return
    rows = scored
    print(HEADER)
    for row in rows:
        print(table_row(row))
    print("\nmean per method, by camera and encoding:")
    pooled_table(rows, ("camera", "encoding"), ("camera", "encoding"))
    print("\nmean per method, by opacity (the overlay's largest), camera and encoding:")
    pooled_table(rows, ("bucket", "camera", "encoding"), ("opacity", "camera", "encoding"))
    find_table(rows)


# ---------------------------------------------------------------------------------------------

def choose(value: str, known: tuple[str, ...]) -> list[str]:
    """A comma-separated option's items; ``all``: every known one."""
    return list(known) if value == "all" else [v for v in value.split(",") if v]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", default=",".join(MOVING + LOCKED),
                   help="comma-separated: car-roundabout, tennis, blackswan, breakdance, still[:NAME]")
    p.add_argument("--overlays", default=DEFAULT_OVERLAYS, help=f"comma-separated of {', '.join(OVERLAYS)}, or all")
    p.add_argument("--encodings", default="lossless,crf18", help="comma-separated: lossless, crfN; or all")
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma-separated of recover, fill, telea; recover and fill may take "
                        "/SECTION.KEY=VALUE overrides (recover/overlay.steady_frames=0)")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="of the still background's noise")
    p.add_argument("--device", default="cpu", help="where vidfill works (the frames stay on the CPU)")
    add_json_option(p, "overlay")
    p.add_argument("--tables", type=Path, nargs="+", help="print the tables of earlier --json files, run nothing")
    p.add_argument("--find-only", action="store_true",
                   help="only find-overlay's IoU per composite: no fills, no scores of the "
                        "composite (seconds for the whole default run)")
    args = p.parse_args()
    if args.tables:
        rows = []
        for file in args.tables:
            data = load_results(file)
            print(f"{file}: {describe(data)}")
            rows += data["rows"]
        print()
        print_tables(rows)
        return
    clips = choose(args.clips, MOVING + LOCKED)
    overlays = choose(args.overlays, tuple(OVERLAYS))
    encodings = choose(args.encodings, ENCODINGS)
    methods = choose(args.methods, METHODS)
    for name in overlays:
        if name not in OVERLAYS:
            raise SystemExit(f"--overlays {name}: have {', '.join(OVERLAYS)}")
    for name in methods:
        if name.split("/")[0] not in METHODS or name.startswith("telea/"):
            raise SystemExit(f"--methods {name}: have {', '.join(METHODS)}")
        try:
            load_preset("default").replace(**parse_overrides(name.split("/")[1:]))
        except ConfigError as error:
            raise SystemExit(f"--methods {name}: {error}")
    for name in encodings:
        if name != "lossless" and not (name.startswith("crf") and name[3:].isdigit()):
            raise SystemExit(f"--encodings {name}: expected lossless or crfN (crf18, crf23)")
    meta = results("overlay", [], settings_of(args), device=args.device)
    path = args.json or default_json("overlay")
    runner = None if args.find_only else Runner(args.device)
    find_overlay = load_find_overlay()
    if args.find_only and find_overlay is None:
        raise SystemExit("--find-only: vidfill.stages.find_overlay is not there")
    shapes = {name: render(name) for name in overlays}
    for name, (alpha, _) in shapes.items():
        fp = alpha > FOOTPRINT
        print(f"overlay {name}: footprint {fp.mean():.1%} of the frame, opacity in it "
              f"{alpha[fp].min():.2f}-{alpha.max():.2f} (median {np.median(alpha[fp]):.2f}), "
              f"opaque (>= 0.99) {(alpha >= 0.99)[fp].mean():.1%} of it", flush=True)
    rows = []
    for clip in clips:
        truth = load_truth(clip, args.frames, args.seed)
        num_frames = truth.shape[0]
        for name in overlays:
            alpha, colour = shapes[name]
            footprint = alpha > FOOTPRINT
            region = torch.from_numpy(footprint)[None, None].repeat(num_frames, 1, 1, 1)
            clean = composite(truth, alpha, colour)
            for encoding in encodings:
                damaged = encode(clean, encoding)
                case = {"clip": clip, "camera": camera(clip), "overlay": name,
                        "opacity": round(float(alpha.max()), 3), "encoding": encoding,
                        "frames": num_frames}
                if find_overlay is not None:
                    case.update(score_find(find_overlay, damaged, footprint, alpha))
                if args.find_only:
                    rows.append({**case, "method": "find"})
                    print(f"{clip} ({case['camera']}), {name}, {encoding}: find-overlay "
                          f"{iou_text(case)}{'' if case['iou'] is not None else ': ' + case['find_note'][:100]}",
                          flush=True)
                    write_results(path, rows, meta["settings"], meta=meta)
                    continue
                case["ewarp_truth"] = warping_error(truth, truth, region=region)
                found = ""
                if case.get("find_error"):
                    found = f"; find-overlay FAILED: {case['find_error']}"
                elif "iou" in case:
                    found = (f"; find-overlay refused: {case['find_note']}" if case["iou"] is None else
                             f"; find-overlay IoU {case['iou']:.3f}, opacity error {case['alpha_mae']:.3f}")
                given = {**case, "method": "input", **evaluate(damaged, truth, region), "s_per_frame": 0.0}
                print(f"\n{clip} ({case['camera']}), {name}, {encoding}: {num_frames} frames, composite "
                      f"PSNR in the overlay {given['psnr']:.2f} dB{found}", flush=True)
                rows.append(given)
                print(f"  {table_row(given)}", flush=True)
                for method in methods:
                    result, seconds, stages, notes = runner.run(method, damaged, region)
                    row = {**case, "method": method, **evaluate(result, truth, region),
                           "s_per_frame": seconds / num_frames,
                           "s_by_stage": {k: v / num_frames for k, v in stages.items()}, "notes": notes}
                    rows.append(row)
                    print(f"  {table_row(row)}", flush=True)
                    for note in notes:
                        print(f"      vidfill: {note[:240]}", flush=True)
                # after every composite: a long run stopped early keeps what it did
                write_results(path, rows, meta["settings"], meta=meta)
    print(f"\n{describe(meta)}; {args.frames} frames (results: {path}):")
    print_tables(rows)


if __name__ == "__main__":
    main()
