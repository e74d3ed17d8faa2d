"""``vidfill batch``: many clips, one after another or as Ray tasks, with a summary at the end.

Clips come from a folder (masks found by name, see ``FOLDER_RULE``) or from a job file. A clip
whose output exists is skipped, so a batch can simply be run again after an interruption (each
clip also resumes from its last finished window). One clip's failure does not stop the others;
the exit status is 1 when any failed.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from vidfill.cli.options import add_options, config_from, make_job
from vidfill.errors import VidfillError
from vidfill.io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from vidfill.job import Job, run_job
from vidfill.progress import Reporter, one_line

MASK_SUFFIX = "_mask"
FIELDS = ("clip", "masks", "output", "preset")
"""The fields of a job file; the last is optional."""
FOLDER_RULE = f"""\
folder of clips: every video file and every folder of frames is a clip, except
names ending in {MASK_SUFFIX}: those are masks. The masks of clip NAME (NAME.mp4 or
folder NAME/) are NAME{MASK_SUFFIX}/ (one image per frame), NAME{MASK_SUFFIX}.png (any
image type; one mask for all frames) or NAME{MASK_SUFFIX}.mp4 (any video type). The
output is OUTDIR/NAME plus the clip's extension (--ext to change it; a folder
of frames gives a folder of PNGs).

job file: CSV with a header row, or TOML with [[job]] tables; fields clip,
masks, output and (optional) preset; relative paths, a preset .toml file's too,
are relative to the job file.

Clips whose output exists are skipped: run the same command again to finish an
interrupted batch (clips resume from their last finished window). With --ray
ADDRESS the clips run as Ray tasks on that cluster; --ray auto connects to a
running local cluster or starts one (pip install 'vidfill[ray]'); each task
takes --threads CPUs (1 by default) and uses that many threads.
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
        if item.resolve() == out_dir.resolve() and item.is_dir() and not _holds_images(item):
            continue  # the output folder inside the folder of clips (empty or earlier outputs)
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


def _holds_images(folder: Path) -> bool:
    """Whether ``folder`` holds images itself (a folder of frames; a batch writes only videos and
    folders into its output folder)."""
    try:
        return any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir())
    except OSError as exc:
        raise VidfillError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from exc


def from_job_file(path: Path) -> list[Entry]:
    """The rows of a CSV or TOML job file (see ``FOLDER_RULE``). Every path in it, a preset that
    is a ``.toml`` file too, is relative to the job file's folder; preset names stay names."""
    if path.suffix.lower() not in (".csv", ".toml"):
        raise VidfillError(f"{path}: not a job file (.csv or .toml) nor a folder of clips")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise VidfillError(f"{path}: cannot read the job file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise VidfillError(f"{path}: not UTF-8 text (byte {exc.start + 1}); save it as UTF-8 "
                           "(a spreadsheet's 'CSV UTF-8')") from None
    rows = _toml_rows(path, text) if path.suffix.lower() == ".toml" else _csv_rows(path, text)
    if not rows:
        raise VidfillError(f"{path}: no jobs (expected fields clip, masks, output[, preset])")
    entries = []
    for where, row in rows:
        missing = [k for k in FIELDS[:3] if not row.get(k)]
        if missing:
            raise VidfillError(f"{path}: {where} has no {', '.join(missing)}")
        nul = next((k for k, v in row.items() if "\0" in v), None)
        if nul is not None:
            raise VidfillError(f"{path}: {where}: {nul} holds a NUL character (is the file "
                               "UTF-16? save it as UTF-8)")
        preset = row.get("preset") or None
        if preset is not None and Path(preset).suffix == ".toml":  # a file, as load_preset reads it
            preset = str(path.parent / preset)
        entries.append(Entry(name=row["clip"], clip=path.parent / row["clip"],
                             masks=path.parent / row["masks"], output=path.parent / row["output"],
                             preset=preset))
    return entries


def _toml_rows(path: Path, text: str) -> list[tuple[str, dict[str, str]]]:
    """``("job N", fields)`` of each ``[[job]]`` table; every field one of ``FIELDS``, a string."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VidfillError(f"{path}: invalid TOML ({exc})") from None
    unknown = next((key for key in data if key != "job"), None)
    if unknown is not None:
        raise VidfillError(f"{path}: unknown key or table {unknown} (expected only [[job]] tables)")
    jobs = data.get("job", [])
    if not isinstance(jobs, list) or not all(isinstance(job, dict) for job in jobs):
        raise VidfillError(f"{path}: jobs must be [[job]] tables")
    for number, job in enumerate(jobs, 1):
        for key, value in job.items():
            if key not in FIELDS:
                raise VidfillError(f"{path}: job {number}: unknown field {key} (expected "
                                   f"{', '.join(FIELDS)})")
            if not isinstance(value, str):
                raise VidfillError(f"{path}: job {number}: {key} must be a "
                                   f"{'preset name or ' if key == 'preset' else ''}path in quotes, "
                                   f"got {value!r}")
    return [(f"job {number}", job) for number, job in enumerate(jobs, 1)]


def _csv_rows(path: Path, text: str) -> list[tuple[str, dict[str, str]]]:
    """``("row N", fields)`` of each row of a CSV job file as spreadsheets save it: fields and
    header names trimmed, header names in any case, empty rows skipped, ``;`` as the separator
    where the header row has no ``,``. N is the row's line, as a spreadsheet numbers it."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, rows = None, []
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if header is None:
                header = [name.lower() for name in cells]
                while not header[-1]:
                    header.pop()
                unknown = next((name for name in header if name not in FIELDS), None)
                if unknown is not None:
                    raise VidfillError(f"{path}: unknown column {unknown!r} in the header row (the "
                                       f"first row names the fields: {', '.join(FIELDS)})")
                twice = next((name for name in header if header.count(name) > 1), None)
                if twice is not None:
                    raise VidfillError(f"{path}: column {twice} appears twice in the header row")
                continue
            used = len(cells) - next(i for i, cell in enumerate(reversed(cells)) if cell)
            if len(cells) < len(header):
                raise VidfillError(f"{path}: row {reader.line_num} has {len(cells)} fields, the "
                                   f"header {len(header)}")
            if used > len(header):
                raise VidfillError(f"{path}: row {reader.line_num} has {used} fields, the header "
                                   f"{len(header)} (a path with a {delimiter!r} in it needs quotes)")
            rows.append((f"row {reader.line_num}", dict(zip(header, cells))))
    except csv.Error as exc:
        raise VidfillError(f"{path}: row {reader.line_num}: not valid CSV ({exc})") from None
    return rows


def check_collisions(entries: list[Entry], out_dir: Path | None = None) -> None:
    """VidfillError listing every output that two or more clips would write (one would be lost),
    naming an output folder ``out_dir`` that is, or lies inside, any clip or masks of the batch,
    and every output that is, contains or lies inside any clip's input or masks (it would be
    overwritten, or replaced with them)."""
    by_output: dict[Path, list[Entry]] = {}
    for entry in entries:
        by_output.setdefault(entry.output.resolve(), []).append(entry)
    clashes = [f"{group[0].output} <- {', '.join(str(e.clip) for e in group)}"
               for group in by_output.values() if len(group) > 1]
    if clashes:
        raise VidfillError(f"{len(clashes)} output(s) would be written by more than one clip, "
                           f"nothing was run: {'; '.join(clashes)}")
    sources = [p.resolve() for e in entries for p in (e.clip, e.masks) if p is not None]
    if out_dir is not None:
        hit = next((s for s in sources if out_dir.resolve().is_relative_to(s)), None)
        if hit is not None:
            raise VidfillError(f"-o {out_dir}: the outputs would be written into {hit}, an input "
                               "of this batch; nothing was run")
    for entry in entries:
        target = entry.output.resolve()
        hit = next((s for s in sources if target.is_relative_to(s)), None)
        if hit is not None:
            raise VidfillError(f"{entry.output}: the output of {entry.name} would overwrite {hit}, "
                               "an input of this batch; nothing was run")
        hit = next((s for s in sources if s.is_relative_to(target)), None)
        if hit is not None:
            raise VidfillError(f"{entry.output}: the output of {entry.name} would be a folder "
                               f"holding {hit}, an input of this batch; nothing was run")


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


def _prepare(entry: Entry, args: argparse.Namespace,
             job_file: Path | None = None) -> tuple[Job | None, str | None]:
    """The job of ``entry``, or the line saying why there is none. The job file and the preset
    file it names are among what the job reads (never written)."""
    if entry.masks is None:
        return None, (f"{entry.clip}: no masks found (expected {entry.name}{MASK_SUFFIX}/, "
                      f"{entry.name}{MASK_SUFFIX}.png or {entry.name}{MASK_SUFFIX}.mp4 next to it)")
    try:
        cfg = config_from(args, entry.preset)
    except VidfillError as exc:
        return None, str(exc)
    preset = Path(entry.preset or args.pipeline)
    reads = ((("the job file", job_file),) if job_file is not None else ()) + (
        (("the preset", preset),) if preset.suffix == ".toml" else ())
    return make_job(args, entry.clip, entry.masks, entry.output, cfg, resume=True,
                    reads=reads, preset=entry.preset or args.pipeline), None


def run_local(todo: list[tuple[Entry, Job | None, str | None]], quiet: bool) -> list[Outcome]:
    outcomes = []
    for number, (entry, job, error) in enumerate(todo, 1):
        if not quiet:
            print(f"vidfill: clip {number}/{len(todo)}: {one_line(entry.name)}", file=sys.stderr,
                  flush=True)
        outcomes.append(run_entry(entry, job, error, quiet))
    return outcomes


def run_ray(todo: list[tuple[Entry, Job | None, str | None]], address: str,
            threads: int = 1) -> list[Outcome]:
    """Each clip as a Ray task on the cluster at ``address`` ("auto": local), each given
    ``threads`` CPUs and using that many threads (``--threads``, 1 by default): the tasks share
    the machine by Ray's count, not by measuring each other."""
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
        task = ray.remote(num_cpus=threads, max_retries=0)(run_entry)
        refs = [task.remote(entry, job and replace(job, threads=threads), error)
                for entry, job, error in todo]
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
    """One line per clip (control characters in names and messages escaped), then the counts."""
    lines = []
    for o in outcomes:
        timing = f" ({o.seconds:.1f} s)" if o.status == "ok" else ""
        lines.append(one_line(f"{o.status:<8} {o.name}: {o.detail}{timing}"))
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
        if args.output_dir.exists() and not args.output_dir.is_dir():
            raise VidfillError(f"-o {args.output_dir}: not a folder")
        entries = from_folder(args.source, args.output_dir, args.ext)
        check_collisions(entries, args.output_dir)
    else:
        if args.output_dir is not None or args.ext is not None:
            raise VidfillError(f"{args.source}: -o and --ext are for a folder of clips; a job file "
                               "names each output")
        entries = from_job_file(args.source)
        check_collisions(entries)
    job_file = None if args.source.is_dir() else args.source
    waiting = [i for i, e in enumerate(entries) if not e.output.exists()]
    todo = [(entries[i], *_prepare(entries[i], args, job_file)) for i in waiting]
    if args.ray and todo:
        done = run_ray(todo, args.ray, args.threads or 1)
    else:
        done = run_local(todo, args.quiet)
    finished = dict(zip(waiting, done))
    outcomes = [finished.get(i) or Outcome(e.name, "skipped", f"{e.output} exists")
                for i, e in enumerate(entries)]
    print(summary(outcomes), flush=True)
    return 1 if any(o.status == "failed" for o in outcomes) else 0
