"""What keeps a user's files safe when vidfill writes: the paths a run reads are never paths it
writes or removes, temporary outputs are created exclusively (never through a planted link), and
an image-sequence folder carries a manifest of the frames vidfill wrote there, so that a later run
replaces only those.

The manifest, ``.vidfill-manifest.json`` in the output folder::

    {"vidfill_sequence": 1, "files": {"0000.png": "<sha256 of the file>", ...}}

A file in the folder is vidfill's own when the manifest names it, it is a plain file (not a link)
and its bytes still hash to the recorded value. Everything else there (the user's frames, notes,
a frame painted over since) is the user's: it is never deleted, and ``--overwrite`` lets a new
frame of the same name replace it, nothing more.

Temporary outputs live next to their target as ``.NAME.tmp-PID-XXXXXXXX``, made by
:func:`tempfile.mkstemp` / :func:`tempfile.mkdtemp` (exclusive creation, private until they are
put in place with the permissions the user's umask gives). A run that was killed leaves its
temporary output; the next run next to the same target removes it once its process is gone
(only vidfill's own names and contents).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from vidfill.errors import VidfillError

MANIFEST = ".vidfill-manifest.json"
_MARK = "vidfill_sequence"
_STALE_CONTENT = re.compile(r"\d+(\.mask|\.keyfill)?\.(png|tiff?|exr)|" + re.escape(MANIFEST))
"""Names that a killed run's temporary folder holds: frames, keyframe masks, the manifest."""


# --- what a run reads is not what it writes -------------------------------------------------------

def check_apart(reads: Iterable[tuple[str, Path]], writes: Iterable[tuple[str, Path]]) -> None:
    """VidfillError if a path that the run reads (``(what, path)``: "the clip", "--reference 12",
    ...) is, lies inside or holds a path that it writes or removes (the output, the preview, the
    work directory): writing there could replace the input. Links are followed (a link to the
    input is the input), and a second name of the same file (a hard link) counts as the file."""
    writes = [(what, path, path.resolve()) for what, path in writes]
    for read_what, read in reads:
        source = read.resolve()
        for write_what, write, target in writes:
            if (source == target or source.is_relative_to(target) or target.is_relative_to(source)
                    or _same_file(source, target)):
                relation = "is" if source == target or _same_file(source, target) else (
                    "holds" if source.is_relative_to(target) else "lies inside")
                raise VidfillError(f"{write}: {write_what} of this run {relation} {read_what} "
                                   f"{read}, which vidfill must not write; choose another place")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.is_file() and b.is_file() and os.path.samefile(a, b)
    except OSError:
        return False


# --- the manifest of a sequence folder -----------------------------------------------------------

def sha256(file: Path) -> str:
    """The sha256 of ``file``'s bytes, in hex."""
    with open(file, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_manifest(folder: Path) -> dict[str, str]:
    """File name -> sha256 of the frames the manifest of ``folder`` names (empty without one, or
    with one that is not vidfill's: then nothing in the folder counts as vidfill's)."""
    file = folder / MANIFEST
    try:
        if file.is_symlink() or not file.is_file():
            return {}
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get(_MARK) == 1 else None
    if not isinstance(files, dict):
        return {}
    return {name: digest for name, digest in files.items()
            if isinstance(name, str) and isinstance(digest, str) and Path(name).name == name}


def own_files(folder: Path) -> dict[str, str]:
    """The files of ``folder`` that vidfill wrote and nobody changed since: name -> sha256."""
    own = {}
    for name, digest in read_manifest(folder).items():
        file = folder / name
        try:
            if not file.is_symlink() and file.is_file() and sha256(file) == digest:
                own[name] = digest
        except OSError:
            continue
    return own


def foreign_entries(folder: Path, own: dict[str, str] | None = None) -> list[Path]:
    """The entries of ``folder`` that are not vidfill's own (``own``: :func:`own_files`, found
    when None; the manifest)."""
    own = own_files(folder) if own is None else own
    return sorted(p for p in folder.iterdir() if p.name != MANIFEST and p.name not in own)


def _write_manifest(folder: Path, files: dict[str, str], staging: Path) -> None:
    """Put the manifest naming ``files`` into ``folder``: written in the private ``staging``
    folder, then renamed into place (a link at the manifest's name is replaced, not followed)."""
    tmp = staging / MANIFEST
    tmp.write_text(json.dumps({_MARK: 1, "files": files}, indent=1, sort_keys=True))
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, folder / MANIFEST)


def place_sequence(staging: Path, path: Path, names: list[str]) -> None:
    """Put the frames ``names``, written in the private folder ``staging``, in place as the
    sequence folder ``path``, with their manifest, and remove what an earlier vidfill sequence
    there left that the new one does not replace. Nothing else in ``path`` is removed; a file
    of the user's with a frame's name is replaced (the caller has checked that it may be).

    ``staging`` is used up: renamed to ``path``, or emptied and removed.
    """
    written = {name: sha256(staging / name) for name in names}
    if not path.exists() and not path.is_symlink():
        _write_manifest(staging, written, staging)
        os.chmod(staging, 0o777 & ~_umask())
        os.rename(staging, path)  # only if nothing appeared there meanwhile (or an empty folder)
        return
    earlier = own_files(path)
    if not foreign_entries(path, earlier) and not path.is_symlink():
        _swap(staging, path, written, earlier)
        return
    # the user's files are here too (--overwrite): the manifest first names the earlier and the
    # new frames, so that a run killed in between still knows all of its own files
    _write_manifest(path, {**earlier, **written}, staging)
    for name in names:
        os.replace(staging / name, path / name)
    _remove_own(path, {n: d for n, d in earlier.items() if n not in written})
    _write_manifest(path, written, staging)
    staging.rmdir()


def _swap(staging: Path, path: Path, written: dict[str, str], earlier: dict[str, str]) -> None:
    """Replace the folder ``path``, which holds only an earlier sequence of vidfill's, by
    ``staging`` in two renames (never a mix of the two runs), then delete the earlier frames.
    Whatever appeared in the old folder meanwhile is moved back into the new one."""
    old = Path(tempfile.mkdtemp(prefix=_prefix(path), suffix="-old", dir=path.parent))
    os.rename(path, old)  # onto the empty folder just made
    _write_manifest(staging, written, staging)
    os.chmod(staging, 0o777 & ~_umask())
    os.rename(staging, path)
    _remove_own(old, earlier)
    (old / MANIFEST).unlink(missing_ok=True)
    for entry in old.iterdir():  # someone else's file, written there meanwhile
        if not (path / entry.name).exists():
            os.rename(entry, path / entry.name)
    try:
        old.rmdir()
    except OSError:
        pass  # a name clash: left in the hidden folder, never deleted


def _remove_own(folder: Path, files: dict[str, str]) -> None:
    """Delete the files of ``folder`` that ``files`` names, each only if it still hashes the same."""
    for name, digest in files.items():
        file = folder / name
        try:
            if not file.is_symlink() and file.is_file() and sha256(file) == digest:
                file.unlink()
        except OSError:
            continue


# --- temporary outputs ---------------------------------------------------------------------------

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _prefix(target: Path) -> str:
    return f".{target.name}.tmp-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive: someone else's process
        pass
    return True


def remove_stale(target: Path) -> None:
    """Remove what killed runs (SIGKILL, power loss) left next to ``target``: entries named
    ``.NAME.tmp-PID-...`` whose process is gone, that this user owns and that are not links;
    of a folder, only the frame files and manifest that vidfill writes (then the folder if empty)."""
    if not target.parent.is_dir():
        return
    pattern = re.compile(re.escape(f".{target.name}.tmp-") + r"(\d+)-\w{8}(-old)?(\.\w+)?")
    for old in target.parent.iterdir():
        match = pattern.fullmatch(old.name)
        try:
            if not match or _alive(int(match.group(1))) or old.is_symlink() \
                    or old.lstat().st_uid != os.getuid():
                continue
            if old.is_dir():
                for entry in old.iterdir():
                    if _STALE_CONTENT.fullmatch(entry.name) and entry.is_file() \
                            and not entry.is_symlink():
                        entry.unlink()
                old.rmdir()
            else:
                old.unlink()
        except OSError:
            continue


@contextmanager
def staging_folder(target: Path) -> Iterator[Path]:
    """A new private folder next to ``target`` (created exclusively, mode 0700) for an output
    under construction; removed with what vidfill wrote in it if the block raises."""
    target = target.absolute()
    remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # private: only vidfill wrote in it
        raise


@contextmanager
def staging_file(target: Path) -> Iterator[tuple[object, Path]]:
    """A new file next to ``target`` (created exclusively, mode 0600), open for writing and
    reading: ``(handle, path)``. Removed if the block raises; put it in place with
    :func:`place_file`."""
    target = target.absolute()
    remove_stale(target)
    fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=target.suffix, dir=target.parent)
    tmp = Path(name)
    mine = os.fstat(fd)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle, tmp
    except BaseException:
        try:
            there = os.lstat(tmp)
            if (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
                tmp.unlink()  # ours; another file put at its name is left alone
        except OSError:
            pass
        raise


def place_file(handle, tmp: Path, target: Path) -> None:
    """Rename the temporary file ``tmp`` (open as ``handle``) to ``target``, with the permissions
    the umask gives, after checking that ``tmp`` is still the file that was written (not a link
    or another file put at its name)."""
    handle.flush()
    os.fsync(handle.fileno())
    written, there = os.fstat(handle.fileno()), os.lstat(tmp)
    if (written.st_dev, written.st_ino) != (there.st_dev, there.st_ino):
        raise VidfillError(f"{target}: the temporary output {tmp} was replaced by another file "
                           "while vidfill wrote it; nothing was written")
    os.fchmod(handle.fileno(), 0o666 & ~_umask())
    os.replace(tmp, target)
