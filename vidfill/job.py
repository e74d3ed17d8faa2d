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
from vidfill.inpaint import build_inpainter
from vidfill.pipeline import build_edge_model, build_flow_model
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
    inpainter_weights: Path | None = None
    """Explicit checkpoint of the gated inpainter (else the usual lookup)."""
    references: tuple[tuple[int, Path], ...] = ()
    """(frame number, image painted by hand): taken as known inside that frame's hole."""


def parse_reference(item: str) -> tuple[int, Path]:
    """``"12=painted.png"`` -> ``(12, Path("painted.png"))``."""
    number, sep, file = item.partition("=")
    if not sep or not file:
        raise VidfillError(f"--reference {item}: expected N=FILE, e.g. 12=painted.png")
    try:
        return int(number), Path(file)
    except ValueError:
        raise VidfillError(f"--reference {item}: the frame number {number!r} is not an integer") from None


def read_references(items: tuple[tuple[int, Path], ...], num_frames: int, size: tuple[int, int],
                    source: Path) -> dict[int, torch.Tensor]:
    """The painted frames: frame number -> ``(3, H, W)`` uint8."""
    references: dict[int, torch.Tensor] = {}
    for t, file in items:
        item = f"{t}={file}"
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


def run_job(job: Job, reporter: Reporter | None = None) -> None:
    """Fill ``job.input`` and write ``job.output``; every problem with the files is a VidfillError.

    Memory holds one window (``job.cfg.window``) and does not grow with the clip's length. The
    output appears only when complete; with ``job.resume`` the work directory is removed then.
    """
    reporter = reporter or Reporter(quiet=True)
    cfg = job.cfg
    device = torch.device(job.device)
    inpainter = build_inpainter(cfg, job.inpainter_weights, device=device, reporter=reporter)
    io.check_not_input(job.output, job.input, job.masks)
    check_output_location(job.output)
    clip = io.open_clip(job.input, fps=job.fps)
    io.check_output(job.output, clip.info, job.codec)
    references = read_references(job.references, clip.num_frames, clip.size, job.input)

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
        model = build_flow_model(cfg.flow, job.raft_weights, download=job.download,
                                 reporter=reporter)
        if model is not None:
            model = model.to(device)
        edge_model = build_edge_model(cfg.edges, reporter)
        if edge_model is not None:
            edge_model = edge_model.to(device)
        if references:
            reporter.note(f"painted reference frame(s) {', '.join(map(str, sorted(references)))} "
                          "taken as known inside the hole")
        if job.resume:
            store = _work_dir(job, clip, "raft" if model is not None else "dis")
            if store.finished:
                reporter.note(f"resuming: {store.finished} window(s) already in {store.path}")
        out = fill_in_windows(io.iter_frames(clip), masks(), clip.num_frames, cfg, model,
                              reporter, device, store, edge_model=edge_model, inpainter=inpainter,
                              references=references)
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
