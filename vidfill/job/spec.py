"""What a job is: :class:`Job`, the frozen, picklable description of one clip's work, and the
checks of its values (the device, the frame rate, a painted reference's ``N=FILE``)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch

from vidfill import io
from vidfill.config import PipelineConfig
from vidfill.errors import ConfigError, VidfillError
from vidfill.io.workdir import default_location


def resolve_device(name: str) -> torch.device:
    """The torch device ``name`` ("auto": CUDA when available, else the CPU), checked to exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {name}: not a torch device (e.g. cpu, cuda, cuda:1, mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch has no CUDA support" if torch.version.cuda is None else "no GPU is visible"
            raise ConfigError(f"--device {name}: CUDA is not available ({why}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: Apple's MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {name}: vidfill runs on cpu, cuda or mps")
    return device


MIN_FPS, MAX_FPS = Fraction(1, 1000), Fraction(1000)
"""Frame rates a video is written at: every container vidfill writes holds these exactly (above
1000 fps AVI refused the rate, MP4 and MOV wrote no frames, MKV and WebM another rate)."""
MAX_RATE_TERM = 10 ** 8
"""Largest numerator or denominator of a frame rate, whose inverse is the time base: WebM
refused terms of 10**9, MP4 and MOV terms near 2**31."""


def check_rate(fps: Fraction, what: str) -> None:
    """A ConfigError starting with ``what`` unless a video can be written at ``fps``."""
    if not MIN_FPS <= fps <= MAX_FPS or max(fps.numerator, fps.denominator) > MAX_RATE_TERM:
        raise ConfigError(f"{what}: a video is written at {MIN_FPS}..{MAX_FPS} fps, as a fraction "
                          f"whose terms are at most {MAX_RATE_TERM} (e.g. 24000/1001)")


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
    crf: int | None = None
    """Quality of a CRF codec (x264, x265, VP9, AV1), lower is better; None: its default
    (:data:`vidfill.io.video.DEFAULT_CRF`). Checked against the codec's range before any work."""
    codec: str | None = None
    fps: Fraction | None = None
    """Frame rate of a frame-folder input; None: :data:`vidfill.io.inputs.DEFAULT_FPS`. A video
    keeps its own."""
    device: str = "auto"
    """Torch device; "auto": CUDA when available, else the CPU."""
    threads: int | None = None
    """CPU threads torch uses, kept all run; None: between steps, as many as the cores that
    other processes leave free (:mod:`vidfill.host`)."""
    resume: bool = False
    """Record finished windows in the work directory and continue from it if it exists."""
    work_dir: Path | None = None
    """Where to record them; None: ``OUTPUT.vidfill-work`` next to the output."""
    inpainter_weights: Path | None = None
    """Explicit checkpoint of the gated inpainter (else the usual lookup)."""
    references: tuple[tuple[int, Path], ...] = ()
    """(frame, image painted by hand): taken as known inside that frame's hole. The frame is
    an image sequence's frame number (1001 for ``plate.1001.png``), a video's index from 0."""
    overwrite: bool = False
    """An output may replace what vidfill did not write: a video file at the output or preview
    path, or the numbered frames of a folder that holds other files too (the rest kept).
    Otherwise only a new path, an empty folder or an earlier vidfill output is written."""
    fill_only: bool = False
    """Write only the fill, as RGBA layers to lay over the plate (an image sequence): colour and
    alpha on the filled region, transparent elsewhere (:func:`vidfill.io.layers.fill_layers`)."""
    feather: int = 0
    """The fill blends into the plate over this many pixels around the hole: it is computed
    over that band too, and laid over the plate with an alpha that falls from 1 at the hole to
    0 (:func:`vidfill.io.layers.composite`); a fill layer carries that alpha."""
    preview: Path | None = None
    """Also write this video: the input with the hole outlined beside the result, reduced."""
    frames: tuple[int, int] | None = None
    """Only these frames, first and last included: frame numbers of an image sequence (1001 in
    ``plate.1001.png``), indices from 0 of a video. None: all."""
    handles: int = 0
    """With ``frames``: this many frames before and after the range are read and filled as
    context for it, but not written."""
    proxy: float | None = None
    """Run the whole job at this fraction of the frame size (0 < proxy < 1), with the same
    settings, and write the result at that size: a quick look before the full run."""
    start_number: int | None = None
    """Number of the first frame of a sequence output; None: an image sequence's own
    numbers, 0 for a video (:func:`vidfill.io.outputs.frame_names`)."""
    image_format: str | None = None
    """File type of a sequence output: "png", "tiff" or "exr"; None: the source sequence's own
    (PNG for a video). EXR holds scene-linear values, the others display ones: crossing from one
    to the other converts with :data:`vidfill.io.colour.GAMMA`."""
    reads: tuple[tuple[str, Path], ...] = ()
    """``(what, path)`` of the other files the job was made from (a preset file, a batch job
    file): protected like the inputs (:meth:`inputs`)."""
    overlay_image: Path | None = None
    """The overlay burnt into the clip under a still mask, as an RGBA image of the frame's size
    (a broadcaster's own bug): its alpha and colour are taken off instead of estimated."""
    restart: bool = False
    """With ``resume``: a work directory of another run (other inputs, masks, painted frames,
    weights or settings) is emptied of what vidfill wrote there and the run starts over, instead
    of being refused."""
    profile: Path | None = None
    """Also write this JSON file at the end: each stage's seconds, the total and the peak memory
    (:mod:`vidfill.job.profile`); the table of them goes to the reporter."""
    preset: str | None = None
    """Name or file of the preset the settings came from, as given: recorded in the profile."""

    def inputs(self) -> tuple[tuple[str, Path], ...]:
        """``(what, path)`` of everything the job reads: no output may be, hold or lie inside one."""
        weights = (("--raft-weights", self.raft_weights), ("--inpainter-weights", self.inpainter_weights))
        return ((("the input", self.input), ("the masks", self.masks))
                + tuple((f"--reference {n}", file) for n, file in self.references)
                + tuple((what, path) for what, path in weights if path is not None) + self.reads
                + ((("--overlay-image", self.overlay_image),) if self.overlay_image else ()))

    def outputs(self) -> tuple[tuple[str, Path], ...]:
        """``(what, path)`` of everything the job writes or removes."""
        return ((("the output", self.output),)
                + ((("the preview", self.preview),) if self.preview is not None else ())
                + ((("the profile", self.profile),) if self.profile is not None else ())
                + ((("the work directory", self.work_location),) if self.resume else ()))

    @property
    def work_location(self) -> Path:
        """The work directory of a resumable run."""
        return self.work_dir or default_location(self.output)

    def __post_init__(self) -> None:
        if not isinstance(self.cfg, PipelineConfig):
            raise ConfigError(f"cfg must be a PipelineConfig, got {type(self.cfg).__name__}")
        if self.crf is not None and (isinstance(self.crf, bool) or not isinstance(self.crf, int)
                                     or not 0 <= self.crf <= io.MAX_CRF):
            raise ConfigError(f"--crf must be an integer in 0..{io.MAX_CRF}, got {self.crf!r}")
        if self.fps is not None:
            try:
                # a float as written (29.97 is 2997/100, not its binary expansion)
                fps = Fraction(str(self.fps) if isinstance(self.fps, float) else self.fps)
            except (TypeError, ValueError, ZeroDivisionError):
                raise ConfigError(f"--fps must be a positive number, got {self.fps!r}") from None
            if fps <= 0:
                raise ConfigError(f"--fps must be positive, got {self.fps}")
            check_rate(fps, f"--fps {self.fps}")
            object.__setattr__(self, "fps", fps)
        resolve_device(self.device)
        for flag, value in (("--feather", self.feather), ("--start-number", self.start_number),
                            ("--handles", self.handles)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigError(f"{flag} must be a whole number >= 0, got {value!r}")
        if self.proxy is not None and (isinstance(self.proxy, bool) or not isinstance(
                self.proxy, (int, float)) or not 0 < self.proxy < 1):
            raise ConfigError(f"--proxy must be a fraction of the frame size between 0 and 1, "
                              f"got {self.proxy!r}")
        if self.frames is not None and (len(self.frames) != 2 or self.frames[0] > self.frames[1]):
            raise ConfigError(f"--frames must be FIRST:LAST with FIRST <= LAST, got {self.frames!r}")
        if self.handles and self.frames is None:
            raise ConfigError("--handles are frames around a range: they need --frames")
        if self.restart and not self.resume:
            raise ConfigError("--restart starts a resumable run over: it needs --resume or --work-dir")
        if self.image_format is not None and self.image_format not in io.IMAGE_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(io.IMAGE_FORMATS)}, got "
                              f"{self.image_format!r}")


def parse_reference(item: str) -> tuple[int, Path]:
    """``"12=painted.png"`` -> ``(12, Path("painted.png"))``."""
    number, sep, file = item.partition("=")
    if not sep or not file:
        raise VidfillError(f"--reference {item}: expected N=FILE, e.g. 12=painted.png")
    try:
        return int(number), Path(file)
    except ValueError:
        raise VidfillError(f"--reference {item}: the frame number {number!r} is not an integer") from None

