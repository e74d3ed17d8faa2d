"""One clip from files to file: read lazily, fill in windows, write as windows finish.

Used by ``vidfill INPUT MASKS -o OUTPUT`` and by every clip of ``vidfill batch`` (also as a
Ray task: a :class:`Job` is a frozen, picklable description of the work).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch

from vidfill import io
from vidfill.config import PipelineConfig
from vidfill.errors import VidfillError
from vidfill.pipeline import build_flow_model
from vidfill.progress import Reporter
from vidfill.windows import fill_in_windows, plan_windows
from vidfill.workdir import WorkDir, config_hash, default_location, fingerprint


@dataclass(frozen=True)
class Job:
    input: Path
    """Video file, folder of frames or single image."""
    masks: Path
    """Mask folder, single mask image or mask video."""
    output: Path
    """Video file or folder for PNG frames."""
    cfg: PipelineConfig
    raft_weights: Path | None = None
    """Explicit RAFT checkpoint (else the usual lookup)."""
    download: bool = True
    """Whether RAFT weights may be downloaded."""
    crf: int = 17
    codec: str | None = None
    fps: Fraction = Fraction(25)
    """Frame rate of a frame-folder input."""
    device: str = "cpu"
    resume: bool = False
    """Record finished windows in the work directory and continue from it if it exists."""
    work_dir: Path | None = None
    """Where to record them; None: ``OUTPUT.vidfill-work`` next to the output."""


def check_output_location(output: Path) -> None:
    """Fail before the long work if ``output`` could not be written."""
    ancestor = output.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise VidfillError(f"{output}: cannot write here ({ancestor} is not a folder)")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise VidfillError(f"{output}: cannot write here (no write permission on {ancestor})")


def run_job(job: Job, reporter: Reporter | None = None) -> None:
    """Fill ``job.input`` and write ``job.output``; every problem with the files is a VidfillError.

    Memory holds one window (``job.cfg.window``) and does not grow with the clip's length. The
    output appears only when complete; with ``job.resume`` the work directory is removed then.
    """
    reporter = reporter or Reporter(quiet=True)
    cfg = job.cfg
    io.check_not_input(job.output, job.input, job.masks)
    check_output_location(job.output)
    clip = io.open_clip(job.input, fps=job.fps)
    io.check_output(job.output, clip.info, job.codec)

    def masks(note=None):
        return io.iter_masks(job.masks, clip.num_frames, clip.size, cfg.mask.threshold, note)

    full, any_hole = [], False
    for t, mask in enumerate(masks(reporter.note)):
        any_hole = any_hole or bool(mask.any())
        if bool(mask.all()):
            full.append(t)
    if full:
        raise VidfillError(f"{job.masks}: frame(s) {', '.join(map(str, full[:10]))} are entirely "
                           "hole; nothing is left to fill them from")
    store = None
    if not any_hole:
        reporter.note(f"{job.masks}: no hole in any frame; the output is a copy of the input")
        out = io.iter_frames(clip)
    else:
        if clip.num_frames < 2:
            raise VidfillError(f"{job.input}: a single frame; video inpainting needs at least 2")
        device = torch.device(job.device)
        model = build_flow_model(cfg.flow, job.raft_weights, download=job.download,
                                 reporter=reporter)
        if model is not None:
            model = model.to(device)
        if job.resume:
            store = _work_dir(job, clip, "raft" if model is not None else "dis")
            if store.finished:
                reporter.note(f"resuming: {store.finished} window(s) already in {store.path}")
        out = fill_in_windows(io.iter_frames(clip), masks(), clip.num_frames, cfg, model,
                              reporter, device, store)
    io.write_stream(job.output, out, clip.num_frames, clip.info, crf=job.crf, codec=job.codec)
    if store is not None:
        store.remove()
    reporter.note(f"wrote {job.output}")


def _work_dir(job: Job, clip: io.ClipSource, flow_method: str) -> WorkDir:
    plan = plan_windows(clip.num_frames, job.cfg.window)
    key = {"input": fingerprint(job.input), "masks": fingerprint(job.masks),
           "num_frames": clip.num_frames, "size": list(clip.size),
           "config": config_hash(job.cfg), "flow": flow_method,
           "plan": [[w.start, w.stop, w.fixed] for w in plan]}
    return WorkDir(job.work_dir or default_location(job.output), key)
