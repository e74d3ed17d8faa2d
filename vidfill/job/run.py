"""The run of a job: the fill of its clip, in windows, and the writing of its outputs as they
finish (the output, a preview, a composite over a deep plate, fill layers), with the work
directory of ``--resume``; and the keyframes a run fills, for an artist to paint."""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch

from vidfill import io
from vidfill.config import PipelineConfig, load_preset
from vidfill.errors import ConfigError, VidfillError
from vidfill.host import fixed_threads
from vidfill.io import safety
from vidfill.io.layers import PreviewWriter, at_depth, composite, fill_layers
from vidfill.io.workdir import WorkDir, config_hash, fingerprint, weights_hash
from vidfill.job.inputs import FirstMasks, Inputs, at_proxy, known_overlay, open_job, read_inputs
from vidfill.job.profile import build_profile, check_profile_target, profile_table, write_profile
from vidfill.job.spec import Job, resolve_device
from vidfill.models.build import Models, build_models
from vidfill.overlays import fill_recovering
from vidfill.progress import Reporter
from vidfill.types import to_display
from vidfill.windows import Keyframe, plan_windows


def check_output_location(output: Path) -> None:
    """Fail before the long work if ``output`` could not be written."""
    ancestor = output.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise VidfillError(f"{output}: cannot write here ({ancestor} is not a folder)")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise VidfillError(f"{output}: cannot write here (no write permission on {ancestor})")
    try:  # the real test (root passes os.access; /proc, read-only mounts): make a folder there
        os.rmdir(tempfile.mkdtemp(prefix=".vidfill-check-", dir=ancestor))
    except OSError as exc:
        raise VidfillError(f"{output}: cannot write here ({exc.strerror or exc} in {ancestor})") \
            from None



def _models(job: Job, models: Models | None, device: torch.device, reporter: Reporter) -> Models:
    return models or build_models(job.cfg, raft_weights=job.raft_weights,
                                  inpainter_weights=job.inpainter_weights, download=job.download,
                                  device=device, reporter=reporter)



def run_job(job: Job, reporter: Reporter | None = None, models: Models | None = None) -> None:
    """Fill ``job.input`` and write ``job.output``; every problem with the files is a VidfillError.

    ``models``: the networks ``job.cfg`` names, built here when None
    (:func:`vidfill.models.build.build_models` with the job's weights options). Memory holds one
    window (``job.cfg.window``) and does not grow with the clip's length. The output appears only
    when complete; with ``job.resume`` the work directory is removed then. With ``job.profile``
    the profile of the run is then written there, and its table given to ``reporter``.
    """
    start = time.perf_counter()
    reporter = reporter or Reporter(quiet=True)
    before = dict(reporter.timings)  # a reporter may have timed earlier runs too
    job = at_proxy(job)
    device = resolve_device(job.device)
    fixed_threads(job.threads)
    safety.check_apart(job.inputs(), job.outputs())
    check_output_location(job.output)
    if job.profile is not None:
        _check_profile(job, device)
    inputs, head = open_job(job, reporter)
    target, deep = _check_outputs(inputs, reporter)
    out, store = _fill(inputs, head, deep, device, models, reporter)
    head.release()  # the fill has taken its sample
    out = itertools.islice(out, inputs.first - inputs.lo, inputs.stop - inputs.lo)  # not the handles
    _write(inputs, out, target, deep, store)
    reporter.note(f"wrote {job.output}" + (f" and the preview {job.preview}" if job.preview else ""))
    if job.profile is not None:
        _profile(inputs, reporter, before, time.perf_counter() - start, device)


def _check_profile(job: Job, device: torch.device) -> None:
    """Fail before the long work if the profile could not be written: not a new JSON name or an
    earlier profile, or the same as (or inside) another output; start the CUDA peak afresh."""
    for what, path in job.outputs():
        if what != "the profile":
            safety.check_apart([(what, path)], [("the profile", job.profile)])
    check_profile_target(job.profile, job.overwrite)
    check_output_location(job.profile)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _profile(inputs: Inputs, reporter: Reporter, before: dict[str, float], total_s: float,
             device: torch.device) -> None:
    """Write the profile of the run of ``inputs.job`` (the stages' seconds since ``before``, the
    reporter's timings at its start) and give its table to ``reporter``."""
    job = inputs.job
    timings = {name: seconds - before.get(name, 0.0) for name, seconds in reporter.timings.items()
               if seconds > before.get(name, 0.0)}
    profile = build_profile(timings, total_s, inputs.clip.num_frames, inputs.size, device,
                            input=str(job.input), output=str(job.output), preset=job.preset,
                            settings=_changed_settings(job), written=inputs.stop - inputs.first)
    try:
        write_profile(job.profile, profile, job.overwrite, job.inputs())
    except VidfillError as exc:
        raise VidfillError(f"{exc} (the output {job.output} was written)") from None
    for line in profile_table(profile):
        reporter.note(line)
    reporter.note(f"wrote the profile {job.profile}")


def _changed_settings(job: Job) -> dict[str, object]:
    """The settings of ``job.cfg`` (``section.key``: value) that differ from those of its preset
    (the defaults without one, or where the preset cannot be read again)."""
    try:
        base = load_preset(job.preset) if job.preset else PipelineConfig()
    except ConfigError:
        base = PipelineConfig()
    ours, theirs = dataclasses.asdict(job.cfg), dataclasses.asdict(base)
    return {f"{section}.{key}": value for section, fields in ours.items()
            for key, value in fields.items() if theirs[section][key] != value}


def _check_outputs(inputs: Inputs, reporter: Reporter) -> tuple[io.VideoInfo, bool]:
    """Fail before the long work if the output or the preview of ``inputs.job`` could not be
    written as asked, with a line for the options that do nothing here. Returns what the output
    is written as (the shown frames' info, in the ``--format`` asked for) and whether it is
    deep (more than 8 bits: the fill is then computed in float)."""
    job, shown = inputs.job, inputs.shown
    for flag, wanted in (("--fill-only", job.fill_only), ("--format", job.image_format)):
        if wanted and not io.is_sequence_folder(job.output):
            raise VidfillError(f"{job.output}: {flag} is for an image-sequence output; give a folder")
    target = shown.info if job.image_format is None else replace(
        shown.info, suffix=io.IMAGE_FORMATS[job.image_format])
    deep = io.check_output(job.output, target, job.codec, job.crf, overwrite=job.overwrite,
                           note=reporter.warn) > 8
    if job.proxy is not None:
        h, w = inputs.size
        reporter.note(f"proxy: the whole run at {w}x{h} ({job.proxy:g} of the frame size)")
    if job.start_number is not None and not io.is_sequence_folder(job.output):
        reporter.warn(f"--start-number is ignored: {job.output} is a video, which has no frame numbers")
    if job.preview is not None:
        safety.check_apart([("the output", job.output)], [("the preview", job.preview)])
        check_output_location(job.preview)
        if io.is_sequence_folder(job.preview):
            raise VidfillError(f"{job.preview}: a preview is a video file (.mp4, .mov, ...)")
        io.check_output(job.preview, replace(shown.info, depth=8), overwrite=job.overwrite)
    return target, deep


def _fill(inputs: Inputs, head: FirstMasks, deep: bool, device: torch.device, models: Models | None,
          reporter: Reporter) -> tuple[Iterator[torch.Tensor], WorkDir | None]:
    """The filled frames of ``inputs`` (handles included), made as they are taken
    (:func:`vidfill.overlays.fill_recovering`; the frames themselves where no frame has a hole),
    and the work directory that records them with ``--resume`` (None without)."""
    job, cfg, clip = inputs.job, inputs.job.cfg, inputs.clip
    references, any_hole = read_inputs(inputs, reporter, deep)
    known = known_overlay(job, inputs, head)
    if not any_hole:
        reporter.note(f"{job.masks}: no hole in any frame; the output is a copy of the input")
        return inputs.work(deep), None
    models = _models(job, models, device, reporter)
    if references:
        reporter.note(f"painted reference frame(s) {', '.join(str(n) for n, _ in job.references)} "
                      "taken as known inside the hole")
    store = None
    if job.resume:
        store = _work_dir(job, clip, models, deep)
        if store.finished:
            reporter.note(f"resuming: {store.finished} window(s) already in {store.path}")
    # with --feather the fill covers the band its alpha ramps across, too
    grown = cfg.replace(mask={"dilate": cfg.mask.dilate + job.feather}) if job.feather else cfg
    out = fill_recovering(inputs.work(deep), inputs.masks(), clip.num_frames, grown,
                          models=models, reporter=reporter, device=device, store=store,
                          references=references, known=known,
                          sample=inputs.overlay_sample(deep, head))
    return out, store


def _write(inputs: Inputs, out: Iterator[torch.Tensor], target: io.VideoInfo, deep: bool,
           store: WorkDir | None) -> None:
    """Write the filled frames ``out`` of the written range to ``inputs.job.output`` as
    ``target``, at the plate's depth: composited over the plate (a deep plate, a feather) or as
    fill layers (``--fill-only``), and the preview beside them. The work directory ``store`` is
    removed when the output is complete, and on a failure kept for ``--resume`` if it holds a
    finished window."""
    job, shown = inputs.job, inputs.shown
    written = (inputs.first, inputs.stop)
    # a full-frame output is composited over the plate at its depth where the fill alone is not
    # it: a deep plate (the plate bit-exact outside the hole), a feather (a blend across the edge)
    blend = not job.fill_only and (deep or job.feather > 0)
    # the masks are read once for the steps below that need the holes; they take them in step
    users = (job.preview is not None) + blend + job.fill_only
    holes = iter(itertools.tee(inputs.holes(), users) if users else ())
    try:
        with (PreviewWriter(job.preview, shown.num_frames, shown.info, job.overwrite,
                            job.inputs()) if job.preview else nullcontext()) as preview:
            # the written frames are decoded once more: at full depth for the composite, and
            # shown in 8 bits from those for the preview
            sources = inputs.frames(written, deep=deep) if preview or blend else iter(())
            plate = sources
            if preview is not None and blend:
                sources, plate = itertools.tee(sources)
            if preview is not None:
                shown_8bit = (to_display(io.work_frame(f, shown.info)) for f in sources) if deep \
                    else sources
                out = preview.tee(out, shown_8bit, next(holes))
            out = at_depth(out, shown.info, deep)
            if blend:
                out = composite(out, plate, next(holes), job.feather)
            elif job.fill_only:
                out = fill_layers(out, next(holes), job.feather)
            io.write_stream(job.output, out, shown.num_frames, target, crf=job.crf,
                            codec=job.codec, overwrite=job.overwrite, start=job.start_number,
                            reads=job.inputs())
    except BaseException:
        if store is not None and store.finished == 0:  # nothing worth keeping for --resume
            store.remove()
        elif store is not None:
            store.release()
        raise
    if store is not None:
        store.remove()


def find_keyframes(job: Job, reporter: Reporter | None = None,
                   models: Models | None = None) -> tuple[list[Keyframe], Inputs]:
    """The keyframes a run of ``job`` fills with the image inpainter (frames of the written
    range), each with the region no frame showed: what an artist paints for ``--reference``.
    Runs the whole fill (the regions depend on it) and writes nothing."""
    reporter = reporter or Reporter(quiet=True)
    job = at_proxy(job)
    device = resolve_device(job.device)
    fixed_threads(job.threads)
    inputs, head = open_job(job, reporter)
    job = inputs.job  # the masks' growth decided
    references, any_hole = read_inputs(inputs, reporter)
    keyframes: list[Keyframe] = []
    if any_hole:
        clip = inputs.clip
        known = known_overlay(job, inputs, head)  # what the fill recovers is not invented
        for _ in fill_recovering(inputs.frames(), inputs.masks(), clip.num_frames, job.cfg,
                                 models=_models(job, models, device, reporter), reporter=reporter,
                                 device=device, references=references, keyframes=keyframes,
                                 known=known, sample=inputs.overlay_sample(False, head)):
            pass
    written = range(inputs.first - inputs.lo, inputs.stop - inputs.lo)
    return [replace(k, frame=k.frame + inputs.lo) for k in keyframes if k.frame in written], inputs


def _work_dir(job: Job, clip: io.ClipSource, models: Models, deep: bool) -> WorkDir:
    """The work directory of ``job``, keyed by everything that shapes its output: the frames
    and masks (:func:`vidfill.io.workdir.fingerprint`), the painted frames' contents, the
    networks' weights, the settings and the windows."""
    plan = plan_windows(clip.num_frames, job.cfg.window)
    key = {"input": fingerprint(job.input, clip.files),
           "masks": fingerprint(job.masks, io.mask_files(job.masks), contents=True),
           "references": [[n, safety.sha256(file)] for n, file in job.references],
           "weights": weights_hash(models),
           "num_frames": clip.num_frames, "size": list(clip.size),
           "config": config_hash(job.cfg),
           "plan": [[w.start, w.stop, w.fixed] for w in plan],
           "frames": list(job.frames) if job.frames else None, "handles": job.handles,
           "proxy": job.proxy, "deep": deep, "feather": job.feather,
           "overlay_image": safety.sha256(job.overlay_image) if job.overlay_image else None}
    others = tuple((what, path) for what, path in job.outputs() if what != "the work directory")
    return WorkDir(job.work_location, key, protected=job.inputs() + others,
                   restart=job.restart)
