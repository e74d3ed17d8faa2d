"""``vidfill batch``: many clips, one after another or as Ray tasks, with a summary at the end.

Clips come from a folder (masks found by name, see ``FOLDER_RULE``) or from a job file. A clip
whose output exists is skipped, so a batch can simply be run again after an interruption (each
clip also resumes from its last finished window). One clip's failure does not stop the others;
the exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from vidfill.cli.options import add_options, config_from, make_job
from vidfill.errors import VidfillError
from vidfill.io.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from vidfill.job import Job, run_job
from vidfill.progress import Reporter

MASK_SUFFIX = "_mask"
FOLDER_RULE = f"""\
folder of clips: every video file and every folder of frames is a clip, except
names ending in {MASK_SUFFIX}: those are masks. The masks of clip NAME (NAME.mp4 or
folder NAME/) are NAME{MASK_SUFFIX}/ (one image per frame), NAME{MASK_SUFFIX}.png (any
image type; one mask for all frames) or NAME{MASK_SUFFIX}.mp4 (any video type). The
output is OUTDIR/NAME plus the clip's extension (--ext to change it; a folder
of frames gives a folder of PNGs).

job file: CSV with a header row, or TOML with [[job]] tables; fields clip,
masks, output and (optional) preset; relative paths are relative to the job file.

Clips whose output exists are skipped: run the same command again to finish an
interrupted batch (clips resume from their last finished window). With --ray
ADDRESS the clips run as Ray tasks on that cluster; --ray auto connects to a
running local cluster or starts one (pip install 'vidfill[ray]').
"""


@dataclass(frozen=True)
class Entry:
    """One clip of the batch: where it is and how to fill it."""

    name: str
    clip: Path
    masks: Path | None
    """None when no masks were found (the clip fails with that message)."""
    output: Path
    preset: str | None = None
    """Preset of this clip (job files); None: ``--pipeline``."""


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str
    """"ok", "failed" or "skipped"."""
    detail: str
    """The output written or present, or the error line."""
    seconds: float = 0.0


def from_folder(folder: Path, out_dir: Path, ext: str | None = None) -> list[Entry]:
    """The clips of ``folder`` by ``FOLDER_RULE``, in name order."""
    try:
        items = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise VidfillError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from exc
    if ext is not None and ext != "" and ext.lower() not in VIDEO_EXTENSIONS:
        raise VidfillError(f"--ext {ext}: give a video extension ({', '.join(VIDEO_EXTENSIONS)}) or "
                           "'' for PNG folders")
    entries = []
    for item in items:
        if item.resolve() == out_dir.resolve():
            continue  # the output folder inside the folder of clips is not a clip
        is_video = item.is_file() and item.suffix.lower() in VIDEO_EXTENSIONS
        if not (is_video or item.is_dir()) or item.stem.endswith(MASK_SUFFIX):
            continue
        name = item.stem if is_video else item.name
        candidates = [folder / f"{name}{MASK_SUFFIX}"] + [
            folder / f"{name}{MASK_SUFFIX}{s}" for s in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS]
        masks = next((c for c in candidates if c.exists()), None)
        suffix = ext if ext is not None else (item.suffix if is_video else "")
        entries.append(Entry(name=name, clip=item, masks=masks, output=out_dir / f"{name}{suffix}"))
    if not entries:
        raise VidfillError(f"{folder}: no clips (video files or folders of frames) in this folder")
    return entries


def from_job_file(path: Path) -> list[Entry]:
    """The rows of a CSV or TOML job file (see ``FOLDER_RULE``)."""
    if path.suffix.lower() not in (".csv", ".toml"):
        raise VidfillError(f"{path}: not a job file (.csv or .toml) nor a folder of clips")
    try:
        text = path.read_text()
    except OSError as exc:
        raise VidfillError(f"{path}: cannot read the job file ({exc.strerror or exc})") from exc
    if path.suffix.lower() == ".toml":
        try:
            rows = tomllib.loads(text).get("job", [])
        except tomllib.TOMLDecodeError as exc:
            raise VidfillError(f"{path}: invalid TOML ({exc})") from None
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise VidfillError(f"{path}: jobs must be [[job]] tables")
        first_row = 1
    else:
        rows, first_row = list(csv.DictReader(text.splitlines())), 2
    if not rows:
        raise VidfillError(f"{path}: no jobs (expected fields clip, masks, output[, preset])")
    entries = []
    for number, row in enumerate(rows, first_row):
        missing = [k for k in ("clip", "masks", "output") if not row.get(k)]
        if missing:
            where = f"row {number}" if first_row == 2 else f"job {number}"
            raise VidfillError(f"{path}: {where} has no {', '.join(missing)}")
        clip = path.parent / row["clip"]
        entries.append(Entry(name=str(row["clip"]), clip=clip, masks=path.parent / row["masks"],
                             output=path.parent / row["output"], preset=row.get("preset") or None))
    return entries


def check_collisions(entries: list[Entry]) -> None:
    """VidfillError listing every output that two or more clips would write (one would be lost),
    and every output that is, or lies inside, any clip's input or masks (it would be overwritten)."""
    by_output: dict[Path, list[Entry]] = {}
    for entry in entries:
        by_output.setdefault(entry.output.resolve(), []).append(entry)
    clashes = [f"{group[0].output} <- {', '.join(str(e.clip) for e in group)}"
               for group in by_output.values() if len(group) > 1]
    if clashes:
        raise VidfillError(f"{len(clashes)} output(s) would be written by more than one clip, "
                           f"nothing was run: {'; '.join(clashes)}")
    sources = [p.resolve() for e in entries for p in (e.clip, e.masks) if p is not None]
    for entry in entries:
        target = entry.output.resolve()
        hit = next((s for s in sources if target == s or target.is_relative_to(s)), None)
        if hit is not None:
            raise VidfillError(f"{entry.output}: the output of {entry.name} would overwrite {hit}, "
                               "an input of this batch; nothing was run")


def run_entry(entry: Entry, job: Job | None, error: str | None, quiet: bool = True) -> Outcome:
    """Fill one clip; any failure becomes an Outcome with its one-line message."""
    if error is not None:
        return Outcome(entry.name, "failed", error)
    start = time.perf_counter()
    try:
        run_job(job, Reporter(quiet=quiet))
    except VidfillError as exc:
        return Outcome(entry.name, "failed", str(exc), time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - one clip's bug must not stop the batch
        line = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return Outcome(entry.name, "failed", line, time.perf_counter() - start)
    return Outcome(entry.name, "ok", str(entry.output), time.perf_counter() - start)


def _prepare(entry: Entry, args: argparse.Namespace) -> tuple[Job | None, str | None]:
    """The job of ``entry``, or the line saying why there is none."""
    if entry.masks is None:
        return None, (f"{entry.clip}: no masks found (expected {entry.name}{MASK_SUFFIX}/, "
                      f"{entry.name}{MASK_SUFFIX}.png or {entry.name}{MASK_SUFFIX}.mp4 next to it)")
    try:
        cfg = config_from(args, entry.preset)
    except VidfillError as exc:
        return None, str(exc)
    return make_job(args, entry.clip, entry.masks, entry.output, cfg, resume=True), None


def run_local(todo: list[tuple[Entry, Job | None, str | None]], quiet: bool) -> list[Outcome]:
    outcomes = []
    for number, (entry, job, error) in enumerate(todo, 1):
        if not quiet:
            print(f"vidfill: clip {number}/{len(todo)}: {entry.name}", file=sys.stderr, flush=True)
        outcomes.append(run_entry(entry, job, error, quiet))
    return outcomes


def run_ray(todo: list[tuple[Entry, Job | None, str | None]], address: str) -> list[Outcome]:
    """Each clip as a Ray task (one CPU each) on the cluster at ``address`` ("auto": local)."""
    try:
        import ray
    except ImportError:
        raise VidfillError("--ray needs Ray, which is not installed: pip install 'vidfill[ray]'") \
            from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=None if address == "auto" else address, include_dashboard=False,
                     logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise VidfillError(f"--ray {address}: cannot connect ({exc})".splitlines()[0]) from None
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_entry)
        refs = [task.remote(entry, job, error) for entry, job, error in todo]
        outcomes = []
        for (entry, _, _), ref in zip(todo, refs):
            try:
                outcomes.append(ray.get(ref))
            except ray.exceptions.RayError as exc:  # the worker died or could not run the task
                outcomes.append(Outcome(entry.name, "failed",
                                        f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
        return outcomes
    finally:
        if started:
            ray.shutdown()


def summary(outcomes: list[Outcome]) -> str:
    """One line per clip, then the counts."""
    lines = []
    for o in outcomes:
        timing = f" ({o.seconds:.1f} s)" if o.status == "ok" else ""
        lines.append(f"{o.status:<8} {o.name}: {o.detail}{timing}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("ok", "failed", "skipped")}
    lines.append(f"batch: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vidfill batch", description="Fill many clips; a summary at the end.",
        epilog=FOLDER_RULE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, help="folder of clips, or job file (.csv or .toml)")
    p.add_argument("-o", "--output-dir", type=Path,
                   help="where the outputs of a folder of clips go (required for a folder)")
    p.add_argument("--ext", help="output extension for a folder of clips, e.g. .mkv "
                                 "(default: the clip's own; '' for PNG folders)")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run the clips as Ray tasks on this cluster; 'auto' starts a local one")
    add_options(p)
    return p


def main(argv: list[str]) -> int:
    """``vidfill batch``; 0 when every clip is ok or skipped, 1 when any failed."""
    args = _parser().parse_args(argv)
    if not args.source.exists():
        raise VidfillError(f"{args.source}: no such file or folder")
    if args.source.is_dir():
        if args.output_dir is None:
            raise VidfillError(f"{args.source}: a folder of clips needs -o OUTDIR")
        entries = from_folder(args.source, args.output_dir, args.ext)
    else:
        entries = from_job_file(args.source)
    check_collisions(entries)
    waiting = [i for i, e in enumerate(entries) if not e.output.exists()]
    todo = [(entries[i], *_prepare(entries[i], args)) for i in waiting]
    if args.ray and todo:
        done = run_ray(todo, args.ray)
    else:
        done = run_local(todo, args.quiet)
    finished = dict(zip(waiting, done))
    outcomes = [finished.get(i) or Outcome(e.name, "skipped", f"{e.output} exists")
                for i, e in enumerate(entries)]
    print(summary(outcomes), flush=True)
    return 1 if any(o.status == "failed" for o in outcomes) else 0
