"""Training of vidfill's own networks: ``vidfill train flow-edges ...``.

The flow-edge network (:class:`vidfill.models.flow_edges.EdgeGenerator`) learns from synthetic
layered flow fields: a background with a random affine motion and textured-free
layers (ellipses, polygons, bars, blobs) moving with their own affine motions over
it, occluding each other, then blurred and noised like an estimated flow. Holes
are random blobs, strokes and object shapes. The target is Canny of the whole flow
(:func:`vidfill.stages.edges.flow_edges`, the same detector the pipeline uses on the
known flow); the loss is class-weighted binary cross-entropy inside the hole.

Every batch is a function of (seed, step), so a resumed run sees the same data as
an uninterrupted one. The run folder holds ``state.pt`` (network, optimiser, step;
written atomically every ``--save-every`` steps) and ``log.jsonl`` (losses and
validation precision/recall). ``--export FOLDER`` writes the network alone as
``flow_edges-<sha256[:8]>.pth``, the file the weights manifest looks for.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidfill.config import EdgeConfig
from vidfill.errors import VidfillError
from vidfill.models.flow_edges import EdgeGenerator
from vidfill.stages.edges import flow_edges, network_input
from vidfill.stages.holes import smooth_fill
from vidfill.models.weights import sha256_of


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    """Optimiser steps (a resumed run may be given more)."""
    batch: int = 6
    """Samples per step."""
    size: int = 96
    """Side of the square training samples, in pixels of flow (small: CPU training)."""
    lr: float = 5e-4
    """Adam learning rate: 5x EdgeConnect's 1e-4, which has an adversarial loss to balance; with cross-entropy alone the higher rate converges within a CPU session."""
    decay_from: int = 0
    """Step after which the learning rate falls (half a cosine) to lr/20 at ``steps``; 0: constant. A resumed run may set it, at or after the step it reached."""
    pos_weight: float = 3.0
    """Weight of edge pixels in the cross-entropy: edges are a few percent of the hole."""
    seed: int = 0
    """Seeds the network's initialisation and every batch."""
    save_every: int = 200
    """Steps between checkpoints of the run state."""
    validate_every: int = 500
    """Steps between validation passes (fixed synthetic samples)."""
    width: int = 16
    """EdgeGenerator width (the shipped network's)."""
    blocks: int = 4
    """EdgeGenerator residual blocks (the shipped network's)."""


def _shape(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w) bool: a random ellipse, polygon, bar (pole, edge of a roof) or blob."""
    canvas = np.zeros((h, w), np.uint8)
    kind = rng.integers(4)
    cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
    scale = rng.uniform(0.1, 0.6) * min(h, w)
    if kind == 0:
        axes = (int(scale * rng.uniform(0.3, 1)), int(scale * rng.uniform(0.3, 1)))
        cv2.ellipse(canvas, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    elif kind == 1:
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 9)))
        radii = scale * rng.uniform(0.4, 1, angles.size)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
        cv2.fillPoly(canvas, [pts.astype(np.int32)], 1)
    elif kind == 2:
        length, thick = scale * rng.uniform(1, 4), rng.uniform(2, 0.3 * scale + 3)
        rect = ((cx, cy), (length, thick), rng.uniform(0, 180))
        cv2.fillPoly(canvas, [cv2.boxPoints(rect).astype(np.int32)], 1)
    else:
        noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), scale / 4)
        yy, xx = np.mgrid[:h, :w]
        envelope = 1 - ((yy - cy) ** 2 + (xx - cx) ** 2) / scale ** 2
        canvas[(noise - noise.mean()) * 12 + envelope > 0.3] = 1
    return canvas > 0


def synthetic_flow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """``(2, h, w)`` float32: layered affine motions with occlusions, blurred and noised."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)

    def affine(spread: float) -> np.ndarray:
        shift = rng.normal(0, spread, 2)
        linear = rng.normal(0, 0.02, (2, 2))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        field = np.einsum("ij,jhw->ihw", linear, np.stack([xx - cx, yy - cy]))
        return (field + shift[:, None, None]).astype(np.float32)

    flow = affine(6)
    for _ in range(rng.integers(0, 6)):
        layer = _shape(rng, h, w)
        flow[:, layer] = affine(8)[:, layer]
    sigma = rng.uniform(0.3, 1.5)
    flow = np.stack([cv2.GaussianBlur(c, (0, 0), sigma) for c in flow])
    return flow + rng.normal(0, rng.uniform(0, 0.1), flow.shape).astype(np.float32)


def random_hole(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """``(h, w)`` bool: a blob, thick strokes or an object shape, grown by a few pixels."""
    kind = rng.integers(3)
    if kind == 0:
        hole = np.zeros((h, w), bool)
        while hole.mean() < 0.04:
            hole |= _shape(rng, h, w) if rng.random() < 0.5 else _blob(rng, h, w)
    elif kind == 1:
        canvas = np.zeros((h, w), np.uint8)
        for _ in range(rng.integers(1, 4)):
            pts = np.cumsum(rng.normal(0, 0.2 * min(h, w), (rng.integers(2, 6), 2)), 0)
            pts += rng.uniform(0, 1, 2) * (w, h)
            cv2.polylines(canvas, [pts.astype(np.int32)], False, 1, int(rng.integers(5, 25)))
        hole = canvas > 0
    else:
        hole = _blob(rng, h, w)
    grow = int(rng.integers(0, 8))
    if grow:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        hole = cv2.dilate(hole.astype(np.uint8), kernel) > 0
    if hole.mean() > 0.6 or not hole.any():
        return random_hole(rng, h, w)
    return hole


def _blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    bh, bw = int(h * rng.uniform(0.25, 0.75)), int(w * rng.uniform(0.25, 0.75))
    noise = cv2.GaussianBlur(rng.random((bh, bw)).astype(np.float32), (0, 0), max(bh, bw) / 12)
    yy, xx = np.mgrid[:bh, :bw]
    envelope = 1 - ((yy - bh / 2) / (bh / 2)) ** 2 - ((xx - bw / 2) / (bw / 2)) ** 2
    y, x = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
    hole = np.zeros((h, w), bool)
    hole[y:y + bh, x:x + bw] = (noise - noise.mean()) * 8 + envelope > 0.35
    return hole


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor
    """(B, 4, S, S): what the network sees (:func:`vidfill.stages.edges.network_input`)."""
    target: torch.Tensor
    """(B, 1, S, S) float: Canny edges of the whole flow."""
    hole: torch.Tensor
    """(B, 1, S, S) bool."""
    flow: torch.Tensor
    """(B, 2, S, S) float32: the whole flow."""


def make_batch(seed: int, step: int, batch: int, size: int, edge_cfg: EdgeConfig) -> Batch:
    """The training samples of one step: a pure function of (seed, step)."""
    rng = np.random.default_rng([seed, step])
    flow = torch.from_numpy(np.stack([synthetic_flow(rng, size, size) for _ in range(batch)]))
    hole = torch.from_numpy(np.stack([random_hole(rng, size, size) for _ in range(batch)]))[:, None]
    target = flow_edges(flow, torch.zeros_like(hole), edge_cfg)
    # as in the pipeline: edges of the known flow, its hole pre-filled smoothly
    known_edges = flow_edges(smooth_fill(flow, hole), hole, edge_cfg)
    return Batch(network_input(flow, known_edges, hole), target.float(), hole, flow)


def edge_loss(logits: torch.Tensor, batch: Batch, pos_weight: float) -> torch.Tensor:
    """Class-weighted binary cross-entropy over the hole pixels."""
    per_pixel = F.binary_cross_entropy_with_logits(
        logits, batch.target, pos_weight=torch.tensor(pos_weight), reduction="none")
    weight = batch.hole.float()
    return (per_pixel * weight).sum() / weight.sum().clamp_min(1)


def precision_recall(drawn: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor,
                     tolerance: int = 2) -> tuple[float, float]:
    """Edge precision and recall inside ``hole``, a pixel within ``tolerance`` counting as a match.

    All ``(N, 1, h, w)`` bool. Returns (nan, nan) parts where nothing was drawn / to find.
    """
    k = 2 * tolerance + 1
    near_truth = F.max_pool2d(truth.float(), k, 1, tolerance) > 0
    near_drawn = F.max_pool2d(drawn.float(), k, 1, tolerance) > 0
    drawn, truth = drawn & hole, truth & hole
    precision = float((drawn & near_truth).sum() / drawn.sum()) if drawn.any() else float("nan")
    recall = float((truth & near_drawn).sum() / truth.sum()) if truth.any() else float("nan")
    return precision, recall


def _save_atomic(obj: object, path: Path, named=None) -> Path:
    """``torch.save`` into a temporary file created exclusively next to ``path`` (never through
    a link planted there), then renamed to ``path``, or to ``named(temporary file)``."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
        target = named(Path(name)) if named is not None else path
        os.replace(name, target)
        return target
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


RUN_FILES = ("state.pt", "log.jsonl")
"""What a training run writes in its folder: a folder holding anything else is not a run's."""


def train_flow_edges(run: Path, cfg: TrainConfig, edge_cfg: EdgeConfig = EdgeConfig(),
                     resume: bool = False, log=print) -> EdgeGenerator:
    """Train (or resume training) the flow-edge network in the folder ``run``: new, empty or
    an earlier run's (only :data:`RUN_FILES`), so that no file of the user's is written."""
    if run.exists() and not run.is_dir():
        raise VidfillError(f"{run}: exists and is not a folder; give a new folder for the run")
    others = sorted(p.name for p in run.iterdir() if p.name not in RUN_FILES
                    and not p.name.startswith(".")) if run.is_dir() else []
    if others:
        raise VidfillError(f"{run}: holds files that are not a training run's "
                           f"({', '.join(others[:3])}); give a new or empty folder")
    run.mkdir(parents=True, exist_ok=True)
    state_path = run / "state.pt"
    torch.manual_seed(cfg.seed)
    model = EdgeGenerator(cfg.width, cfg.blocks)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    if state_path.exists():
        if not resume:
            raise VidfillError(f"{run}: holds a training run already; pass --resume to go on with it")
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        free = ("steps", "decay_from")
        same = {k: v for k, v in state["config"].items() if k not in free}
        if same != {k: v for k, v in cfg.__dict__.items() if k not in free}:
            raise VidfillError(f"{state_path}: trained with other settings {state['config']} "
                               "(only --steps and --decay-from may change on --resume)")
        step = state["step"]
        was = state["config"].get("decay_from", 0)
        if cfg.decay_from != was and (0 < cfg.decay_from < step or 0 < was < step):
            raise VidfillError(f"{state_path}: at step {step}; --decay-from cannot change the "
                               f"rate of steps already taken ({was} -> {cfg.decay_from})")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        log(f"resumed {run} at step {step}")
    validation = [make_batch(cfg.seed + 1_000_003, i, cfg.batch, cfg.size, edge_cfg) for i in range(4)]
    started, done_at_start = time.perf_counter(), step
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW  # never through a planted link
    with os.fdopen(os.open(run / "log.jsonl", flags, 0o644), "a") as log_file:
        while step < cfg.steps:
            model.train()
            for group in optimiser.param_groups:
                group["lr"] = learning_rate(cfg, step)
            batch = make_batch(cfg.seed, step, cfg.batch, cfg.size, edge_cfg)
            loss = edge_loss(model(batch.inputs), batch, cfg.pos_weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            record = {"step": step, "loss": round(loss.item(), 5)}
            if step % cfg.validate_every == 0 or step == cfg.steps:
                record.update(validate(model, validation, edge_cfg, cfg.pos_weight))
            if step % 50 == 0 or "val_loss" in record:
                rate = (step - done_at_start) / (time.perf_counter() - started)
                log(f"step {step}/{cfg.steps} " + " ".join(f"{k} {v}" for k, v in record.items()
                                                           if k != "step") + f" ({rate:.2f} steps/s)")
            log_file.write(json.dumps(record) + "\n")
            if step % cfg.save_every == 0 or step == cfg.steps:
                log_file.flush()
                _save_atomic({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                              "step": step, "config": cfg.__dict__}, state_path)
    return model.eval()


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """The rate of the step after ``step`` steps: ``cfg.lr``, then a half cosine to lr/20."""
    if not cfg.decay_from or step < cfg.decay_from:
        return cfg.lr
    progress = min(1.0, (step - cfg.decay_from) / max(1, cfg.steps - cfg.decay_from))
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def validate(model: EdgeGenerator, batches: list[Batch], edge_cfg: EdgeConfig,
             pos_weight: float) -> dict[str, float]:
    """Loss, and precision and recall inside the holes of ``batches`` at ``edge_cfg.threshold``
    and at the threshold (of 0.05, 0.10, ..., 0.95) with the best F1 score."""
    model.eval()
    with torch.inference_mode():
        logits = [model(b.inputs) for b in batches]
    loss = sum(float(edge_loss(x, b, pos_weight)) for x, b in zip(logits, batches)) / len(batches)
    probability = torch.cat([torch.sigmoid(x) for x in logits])
    truth = torch.cat([b.target > 0 for b in batches])
    hole = torch.cat([b.hole for b in batches])
    precision, recall = precision_recall(probability > edge_cfg.threshold, truth, hole)
    best = (0.0, edge_cfg.threshold)
    for threshold in np.arange(0.05, 0.96, 0.05):
        p, r = precision_recall(probability > threshold, truth, hole)
        if p + r > 0:  # nan (nothing drawn) compares False
            best = max(best, (2 * p * r / (p + r), round(float(threshold), 2)))
    return {"val_loss": round(loss, 5), "val_precision": round(precision, 4),
            "val_recall": round(recall, 4), "val_best_f1": round(best[0], 4),
            "val_best_threshold": best[1]}


def export(model: EdgeGenerator, folder: Path) -> Path:
    """Write the network's weights as ``flow_edges-<sha256[:8]>.pth`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = _save_atomic(model.state_dict(), folder / "flow_edges.pth",  # named by its contents
                          named=lambda tmp: folder / f"flow_edges-{sha256_of(tmp)[:8]}.pth")
    return target
