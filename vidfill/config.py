"""Settings of every stage: frozen dataclasses, loaded from named TOML presets.

Every tunable number of the pipeline is a field here, with the reason for its
default. A preset (``pipelines/<name>.toml``) sets any subset of them, one TOML
table per stage, e.g.::

    [flow]
    method = "dis"

    [propagation]
    consistency_px = 2.0
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from vidfill.errors import ConfigError

InpainterName = Literal["harmonic", "texture", "telea", "ns", "patchmatch", "dip", "gated"]
"""Every value of ``leftover.method`` (the registry of :mod:`vidfill.inpainters.registry` must match it)."""


def setting(default: Any, *, ge: float | None = None, gt: float | None = None,
            le: float | None = None, lt: float | None = None, odd: bool = False,
            pixels: bool = False) -> Any:
    """A dataclass field with its valid range, checked by :class:`Checked` at construction;
    ``pixels``: a length in the frames' pixels, which :meth:`PipelineConfig.at_scale` scales."""
    return field(default=default, metadata={"ge": ge, "gt": gt, "le": le, "lt": lt, "odd": odd,
                                            "pixels": pixels})


class Checked:
    """Mixin of every settings dataclass: ``__post_init__`` checks each field's type (``Literal``
    choices included) and range, so that a bad value is refused where it is made, whatever made
    it (preset, CLI option, ``--set``, Python call). ints are accepted for float fields."""

    SECTION: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _checked_value(f"{self.SECTION}.{f.name}", getattr(self, f.name), hints[f.name],
                                   f.metadata)
            object.__setattr__(self, f.name, value)


def _checked_value(name: str, value: Any, hint: Any, limits: Any) -> Any:
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            hint_text = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got "
                              f"{value!r}{hint_text}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{name} must be {hint.__name__}, got {value!r}")
    if hint is float and math.isnan(value):
        raise ConfigError(f"{name} must be a number, got nan")
    bounds = [(">=", limits.get("ge"), value >= (limits.get("ge") or 0)),
              (">", limits.get("gt"), value > (limits.get("gt") or 0)),
              ("<=", limits.get("le"), value <= (limits.get("le") or 0)),
              ("<", limits.get("lt"), value < (limits.get("lt") or 0))]
    for op, bound, ok in bounds:
        if bound is not None and not ok:
            raise ConfigError(f"{name} must be {op} {bound}, got {value!r}")
    if limits.get("odd") and value % 2 == 0:
        raise ConfigError(f"{name} must be odd, got {value!r}")
    return value


@dataclass(frozen=True)
class MaskConfig(Checked):
    SECTION: ClassVar[str] = "mask"

    threshold: float = setting(0.1, ge=0.0, lt=1.0)
    """Hole = any channel above this fraction of full scale (robust to JPEG noise on 0/255 and 0/128 masks)."""
    invert: bool = False
    """The mask marks what to keep (an inverted matte): holes are where it is below the threshold."""
    dilate: int = setting(0, ge=0, le=1024, pixels=True)
    """Pixels the hole is grown by, for object edges and motion blur a mask leaves out. 0 by default: growing an exact hole replaces known pixels with guesses, so only loose masks are grown (roto masks: 4-8, preset "object"; figures in docs/decisions.md). At most 1024, more than any mask is off by; a job also refuses a radius of its frame's larger side or more."""
    grow_objects: int = setting(4, ge=0, le=64, pixels=True)
    """Pixels the hole grows by (at least) when the masks are a tight roto of an object (they move and their outline runs along an edge of the frames, :func:`vidfill.stages.holes.outlines_an_object`): its soft edge, motion blur and contact shadow lie just outside such a mask, and left there they come back as the object's ghost (figures: docs/decisions.md, benchmarks/objects.py). Still masks (logos) and masks whose outline crosses the picture anywhere stay exact. 0 = off."""
    object_band: int = setting(32, ge=0, le=256)
    """For such a roto (as for ``grow_objects``): pixels, at flow resolution, around the hole within which flow that moves with the object rather than with the background (its reflection, its wake, the rest of its soft edge) is completed too instead of being taken as the hole's known flow (``completion.moving_band``): taken as known it carried the object's motion into the hole, and propagation followed the object instead of reaching the background it uncovers (blackswan, whole clip: 66 % of the hole reached -> 85 %; docs/decisions.md). 0 = off."""


@dataclass(frozen=True)
class FlowConfig(Checked):
    SECTION: ClassVar[str] = "flow"

    method: Literal["raft", "dis"] = "raft"
    """"raft" (torchvision RAFT, falls back to "dis" when no weights are reachable) or "dis" (OpenCV)."""
    raft_model: Literal["raft_small", "raft_large"] = "raft_small"
    """Manifest name of the RAFT weights: "raft_small" or "raft_large"."""
    num_updates: int = setting(12, ge=1)
    """RAFT refinement iterations (torchvision's default for raft_small)."""
    max_side: int = setting(512, ge=64, pixels=True)
    """Flow is estimated with the longer frame side at most this many pixels, then upsampled (values scaled)."""
    raft_min_side: int = setting(0, ge=0)
    """RAFT only: frames whose longer side is below this are enlarged for flow (RAFT matches at 1/8 resolution, so small frames lose detail); 0 = never."""
    batch_size: int = setting(4, ge=1)
    """Frame pairs per RAFT call: bounds memory, amortises overhead."""
    dis_preset: Literal["ultrafast", "fast", "medium"] = "medium"
    """OpenCV DIS preset for the classical fallback: "ultrafast", "fast" or "medium"."""
    refine_updates: int = setting(12, ge=1)
    """RAFT iterations in the refinement passes (``num_updates`` is the first pass's). 12: from zero, 6 cost 0.21 dB in the hole on the blob benchmark; warm-started (``refine_warm_start``), 6 cost 0.26 dB pooled on the DAVIS recipe (docs/decisions.md)."""
    refine_warm_start: bool = False
    """RAFT only: the refinement passes start RAFT's iterations from the flow they replace
    (the completed flow, then the previous pass's) instead of from zero. Off: with 6 iterations
    it matched 12 from zero on 12-frame clips, but on the whole DAVIS recipe it lost 0.26 dB
    pooled (tennis 0.58 dB in the hole), for 11 % less time (docs/decisions.md)."""
    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """RAFT's arithmetic: "bfloat16" (autocast) or "float32"; "auto" = bfloat16 only where the
    hardware computes it natively (CUDA with bf16; x86 CPUs with AVX512-BF16 or AMX), where it is
    faster for a flow that barely moves, float32 elsewhere (docs/decisions.md)."""
    refine_passes: int = setting(2, ge=0)
    """RAFT only: times the flow is estimated again on the filled frames, replacing the completed
    flow, and the hole filled again from the known pixels along it (0 = one pass on the completed
    flow). The flow of the filled frames sees the motion inside the hole that completion only
    guessed; two passes, as a third costs more than it gains, and DIS runs skip them (DIS flow of
    smooth fills gained nothing). Figures: docs/decisions.md."""
    refine_margin: int = setting(48, ge=0)
    """Refinement passes estimate each pair's flow on a crop around the two frames' holes grown
    by this many working pixels plus the largest motion there, keep it inside the holes plus
    half of this, and the flow from before elsewhere: only the holes' content changed, so a crop
    around them suffices, at the whole frames' quality in less time (docs/decisions.md). 0 =
    whole frames."""


@dataclass(frozen=True)
class EdgeConfig(Checked):
    SECTION: ClassVar[str] = "edges"

    method: Literal["network", "none"] = "network"
    """Flow edges that guide flow completion: "network" (Canny outside the hole, the trained edge network inside it; without its weights, "none" with a note) or "none" (plain diffusion). Motion boundaries continued into the hole keep completion from blending two motions across it (docs/decisions.md, benchmarks/flow_edges.py)."""
    canny_low: float = setting(0.25, gt=0.0)
    """Canny hysteresis low threshold on each flow channel, in pixels of flow per pixel."""
    canny_high: float = setting(0.5, gt=0.0)
    """Canny high threshold (px/px): a motion boundary is a flow step of about 1 px or more across a few pixels."""
    canny_sigma: float = setting(1.0, gt=0.0)
    """Gaussian blur before Canny, in pixels (RAFT's flow is smooth already; DIS's is noisier)."""
    threshold: float = setting(0.25, ge=0.0, le=1.0)
    """Edge probability above which the network's output counts as an edge: the shipped network's best F1 on its synthetic validation set (checkpoints/flow_edges.md)."""
    context: int = setting(24, ge=0)
    """Pixels around the hole's bounding box that the network sees (flow resolution)."""
    connected: bool = True
    """Keep only drawn edges that continue a known edge into the hole (8-connected): an edge that starts from nothing inside the hole is a guess, and a wrong cut costs more than a missing one."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.canny_high < self.canny_low:
            raise ConfigError(f"edges: need canny_low <= canny_high, got canny_low {self.canny_low}, "
                              f"canny_high {self.canny_high}")


@dataclass(frozen=True)
class CompletionConfig(Checked):
    SECTION: ClassVar[str] = "completion"

    hole_dilate: int = setting(8, ge=0)
    """Extra pixels (at flow resolution) of flow around the hole that are discarded and re-completed: flow next to a hole is dragged by its fill, so a margin around it is re-completed too (docs/decisions.md)."""
    cut_weight: float = setting(1e-3, gt=0.0, le=1.0)
    """Edge-guided completion: weight of a smoothness term that touches an edge pixel, relative to 1 elsewhere (FGVC drops them; a small weight keeps regions enclosed by edges solvable)."""
    moving_band: int = setting(0, ge=0, le=256)
    """Pixels (at flow resolution) beyond the hole within which flow that moves with the hole rather than with the background around it (an object's soft edge, reflection or wake that a tight mask leaves out) is completed too, not used as the hole's known flow (vidfill.stages.flow.moving_with_hole). 0, off, for any mask; set to ``mask.object_band`` for masks that are a tight roto of an object."""


@dataclass(frozen=True)
class PropagationConfig(Checked):
    SECTION: ClassVar[str] = "propagation"

    consistency_abs_px: float = setting(0.7, ge=0.0, pixels=True)
    """A step is an occlusion when |f + b|^2 > rel * (|f|^2 + |b|^2) + abs_px^2, in pixels: Sundaram et al.'s occlusion test, with their absolute term all but kept (0.7^2 = 0.49 against their 0.5), as looser and stricter ones measured worse (docs/decisions.md)."""
    consistency_rel: float = setting(0.01, ge=0.0)
    """Relative part of that test: fast motion tolerates proportionally larger disagreement."""
    max_steps: int = setting(0, ge=0)
    """Longest trajectory in frames; 0 = as long as the clip."""
    hits_per_direction: int = setting(1, ge=1)
    """Known pixels collected along each trajectory (the first k it reaches), to average out flow noise: the first is the nearest in time and least drifted, and more measured no better (docs/decisions.md)."""
    nonlocal_count: int = setting(0, ge=0)
    """Distant frames each frame also looks into directly (FGVC's non-local candidates), for content the adjacent chains lose; 0 = off, the default: adjacent chains already reach what distant frames show, and flow to them costs several times the flow time (docs/decisions.md). RAFT only: DIS cannot match across 10 frames, so DIS runs skip them with a note."""
    nonlocal_stride: int = setting(10, ge=1)
    """The distant frames are 0, stride, 2*stride, ... (FGVC's choice)."""
    nonlocal_fallback: bool = True
    """Use the distant frames only for pixels no adjacent chain reaches: flow across many frames is less accurate than a chain of short steps."""


@dataclass(frozen=True)
class FusionConfig(Checked):
    SECTION: ClassVar[str] = "fusion"

    method: Literal["gradient", "colour"] = "gradient"
    """"gradient": fuse the candidates' colour differences and rebuild by a Poisson solve (no seams); "colour": average their colours."""
    colour_weight: float = setting(0.01, ge=0.0)
    """Gradient fusion: pull of each rebuilt pixel towards its fused colour, relative to one neighbour edge (keeps regions cut off from known pixels anchored)."""
    error_sigma_px: float = setting(0.5, gt=0.0, pixels=True)
    """Scale of the accumulated consistency error in the candidate weight exp(-(err/sigma)^2)."""
    distance_halflife: float = setting(8.0, gt=0.0)
    """Frames after which a candidate's weight halves: near frames are more trustworthy than far ones."""


@dataclass(frozen=True)
class PoissonConfig(Checked):
    SECTION: ClassVar[str] = "poisson"

    tolerance: float = setting(1e-6, gt=0.0, lt=1.0)
    """Relative residual ||b - Ax|| / ||b|| at which conjugate gradients stops. 1e-6: fusion at most 0.054 8-bit levels from the exact solve on real clips; 1e-5 left up to 1.2 levels, 1e-4 up to 3.6, in small regions held only by the fusion's colour weight, whose error the residual hardly shows (docs/decisions.md)."""
    max_iterations: int = setting(2000, ge=1)
    """Cap on CG iterations (a hole D pixels across needs on the order of D iterations with "jacobi", a few dozen at most with "multigrid")."""
    preconditioner: Literal["multigrid", "jacobi"] = "multigrid"
    """Of conjugate gradients: "multigrid" (a V-cycle on a pyramid of the hole's box: iterations nearly independent of the hole's size) or "jacobi" (the former solver, kept to measure against) (vidfill/stages/multigrid.py, docs/decisions.md)."""


@dataclass(frozen=True)
class LeftoverConfig(Checked):
    SECTION: ClassVar[str] = "leftover"

    method: InpainterName = "harmonic"
    """Image inpainter for pixels no frame shows: "harmonic" (the smoothest membrane through the surroundings), "texture" (that membrane with the detail of similar known places copied on top, vidfill/inpainters/texture.py), "telea", "ns" (OpenCV), "patchmatch", "dip" or "gated" (see vidfill/inpainters/). Harmonic by default: on content no frame shows, a guess that invents no structure errs and flickers least (docs/decisions.md, benchmarks/inpainters.py)."""
    radius: int = setting(5, ge=1)
    """Neighbourhood radius of the OpenCV inpainters, in pixels."""
    poisson_blend: bool = False
    """Rebuild the inpainted region from its own colour differences with the known pixels as boundary (GLCIC-style post-processing), so that it meets its surroundings without a colour step. Off: only fills that don't already meet their boundary need the rebuild (patchmatch's; the harmonic and Telea fills meet it already) (docs/decisions.md)."""
    consistency_abs_px: float = setting(math.inf, ge=0.0, pixels=True)
    """``propagation.consistency_abs_px`` for the rounds that carry keyframe content, in px. Where moving content crossed the hole, the two directions of the completed flow disagree there: the strict limit stops every trajectory and each frame becomes a keyframe with its own fill (flicker). Keyframe content is invented, so inf lets it follow the completed flow wherever it leads. Better on average, not everywhere (docs/decisions.md)."""
    each_still_frame: bool = True
    """Where the camera holds still (``still_px``), fill the pixels that propagation did not reach in every frame on its own, from that frame's surroundings, instead of carrying a keyframe's fill along the completed flow, which inside a still hole follows whatever crosses it and drags the fill into a smear (vidfill/stages/detail.py). With the harmonic inpainter only: its membrane is the same in every frame where nothing moves, while an exemplar or network fill guessed anew in every frame would flicker (and cost its time per frame). Figures: docs/decisions.md."""
    still_px: float = setting(2.0, ge=0.0, pixels=True)
    """The camera holds still between two frames when the median flow outside the holes is below this many pixels (for ``each_still_frame`` and the detail stage). A slow drift is still."""
    max_rounds: int = setting(64, ge=1)
    """Safety cap on keyframe fill + propagation rounds (each round fills at least one whole keyframe)."""
    keyframe_min_share: float = setting(0.002, ge=0.0, le=1.0)
    """A keyframe is carried along the flow only while it has at least this share of the frame to invent; below it, what is left in every frame is filled frame by frame (as after ``max_rounds``). Each round propagates through the whole window again, and a panning camera leaves slivers at the frame's edge that each keyframe resolves in one or two frames: blackswan's recipe stroke took 31 rounds per pass. On the DAVIS recipe 0.002 against 0: pooled PSNR 28.41 against 28.37, E_warp the same, in fewer rounds (docs/decisions.md). 0 = every round a keyframe."""


@dataclass(frozen=True)
class PatchMatchConfig(Checked):
    SECTION: ClassVar[str] = "patchmatch"

    patch_size: int = setting(7, ge=3, odd=True)
    """Side of the square patches compared and voted (odd): Wexler et al. and most exemplar fillers use 5-9."""
    context: int = setting(128, ge=1)
    """Known pixels around the hole's bounding box that patches are drawn from: nearby texture is the likeliest continuation, and the search stays small (128 px beat 48: docs/decisions.md)."""
    coarsest_side: int = setting(24, ge=1)
    """The pyramid stops at the level whose hole bounding box is at most this many pixels across: there a few patches span the whole hole and structure is settled."""
    iterations: int = setting(4, ge=1)
    """Search-and-vote rounds per pyramid level (Wexler's EM iterations)."""
    search_rounds: int = setting(3, ge=0)
    """PatchMatch propagation + random-search passes per round."""
    jumps: int = setting(4, ge=1)
    """Propagation looks at neighbours 1, 2, 4, ... 2^(jumps-1) pixels away (jump flooding), so good matches spread across the hole in one pass."""
    sigma: float = setting(0.0, ge=0.0)
    """Votes are weighted exp(-distance / (2 sigma^2 * patch pixels)) in colour units of [0, 1]; 0 = the mean distance of the level (adaptive, as in Wexler et al.)."""
    seed: int = 0
    """Seed of the random initial field and random search: the same input gives the same fill."""


@dataclass(frozen=True)
class TextureConfig(Checked):
    SECTION: ClassVar[str] = "texture"

    sigma: float = setting(2.0, gt=0.0)
    """Gaussian blur (px) that splits the image into a smooth layer, matched against the membrane, and the detail above it, which is copied."""
    gain: float = setting(1.0, ge=0.0)
    """Amplitude of the copied detail (0: the membrane alone; 1: the sources' own)."""


@dataclass(frozen=True)
class DetailConfig(Checked):
    SECTION: ClassVar[str] = "detail"

    enabled: bool = False
    """Add detail to the pixels no frame shows where the camera holds still
    (vidfill/stages/detail.py): each takes, in every frame, the detail of one fixed still place
    around the hole whose smooth surroundings match the fill's."""
    sigma: float = setting(2.0, gt=0.0)
    """Gaussian blur (px) that splits each frame into a smooth layer, matched, and the detail above it, which is copied."""
    gain: float = setting(1.0, ge=0.0)
    """Amplitude of the copied detail (1: the sources' own)."""
    frames_around: int = setting(2, ge=0)
    """Each frame takes its sources' detail averaged with that of up to this many frames of the
    run before and after it: the scene's texture stays, the sources' frame-to-frame noise (which
    flickers where it is copied) is averaged down. 0: each frame's own."""
    moving_px: float = setting(1.0, gt=0.0, pixels=True)
    """Flow that differs from the camera's (the median) by more than this many pixels is motion:
    a place with it in any pair of the run is no source, and an invented pixel with it in the
    pairs next to its frame gets no detail there (something crosses the hole)."""


@dataclass(frozen=True)
class DipConfig(Checked):
    SECTION: ClassVar[str] = "dip"

    iterations: int = setting(300, ge=1)
    """Adam steps per keyframe: Deep Image Prior's inpainting needs hundreds; this bounds CPU time (about 10 s at the default crop)."""
    learning_rate: float = setting(0.01, gt=0.0)
    """Adam step size (Ulyanov et al. use 0.01 for inpainting)."""
    channels: int = setting(32, ge=1)
    """Feature channels of every encoder-decoder level: small enough for a CPU, large enough to fit a crop."""
    levels: int = setting(4, ge=1)
    """Encoder-decoder depth: four halvings give the network a receptive field wider than a typical hole."""
    input_channels: int = setting(16, ge=1)
    """Channels of the fixed random noise input."""
    margin: int = setting(24, ge=0)
    """Known pixels around the hole's bounding box in the crop the network is fitted to."""
    max_side: int = setting(128, ge=16)
    """The crop is shrunk so that its longer side is at most this (the fill is upsampled): bounds time per step."""
    seed: int = 0
    """Seed of the weights and the noise input: the same input gives the same fill."""


@dataclass(frozen=True)
class GatedConfig(Checked):
    SECTION: ClassVar[str] = "gated"

    margin: int = setting(32, ge=0)
    """Known pixels around the hole's bounding box in the crop given to the network (contextual attention borrows from them)."""
    max_side: int = setting(256, ge=16)
    """The crop is shrunk so that its longer side is at most this (DeepFill v2 was trained on 256 px images)."""


@dataclass(frozen=True)
class WindowConfig(Checked):
    SECTION: ClassVar[str] = "window"

    length: int = setting(60, ge=2)
    """Frames processed together (:mod:`vidfill.windows`): memory grows with it, not with the clip (benchmarks/README.md, "Long clips"); content further apart than this is not propagated."""
    overlap: int = setting(10, ge=1)
    """Frames each window shares with the previous one, handed over already filled, so that the fill continues across the seam; each costs one recomputed frame per window."""
    lookahead: int = setting(15, ge=0)
    """Frames at the end of a window (but the last) that it sees but leaves to the next window to finish: content they reveal reaches back into the window (15 matched the whole clip where fewer lost: docs/decisions.md); each costs one recomputed frame per window."""
    stretch: float = setting(0.25, ge=0.0)
    """The last window may be up to this fraction longer than ``length`` rather than leave a few frames to one more window, which would recompute a whole window for them: with 0.25 a 70-frame clip is one window of 70 (not two of 60, twice the work), at up to 25% more memory."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.length < 2 or not 1 <= self.overlap < self.length:
            raise ConfigError(f"window: need length >= 2 and 1 <= overlap < length, got length "
                               f"{self.length}, overlap {self.overlap}")
        if not 0 <= self.lookahead < self.length - self.overlap:
            raise ConfigError(f"window: need 0 <= lookahead < length - overlap, got lookahead "
                               f"{self.lookahead}, length {self.length}, overlap {self.overlap}")


@dataclass(frozen=True)
class OverlayConfig(Checked):
    SECTION: ClassVar[str] = "overlay"

    method: Literal["recover", "fill"] = "recover"
    """Under a still mask (a logo, channel bug or watermark burnt in at a fixed place), "recover" estimates the overlay's opacity and colour from the clip (J = a*W + (1-a)*I, a and W the same in every frame) and gives back the scene it lets through, filling only where it is opaque; "fill" treats the mask as a hole like any other (vidfill/stages/overlay.py)."""
    sample: int = setting(32, ge=2)
    """Frames (the first of the clip) filled with the still part of the masks as a hole to estimate the overlay from: the more the scene under it changes over them, the better. Their fill costs what a fill costs, but once the overlay is off little hole is left for the run, so recovery costs about what a plain fill does (docs/decisions.md)."""
    estimate_margin: int = setting(64, ge=0, pixels=True)
    """Pixels around the box of the still mask to which the ``sample`` frames are cropped for the fill the overlay is estimated from (it reads the fill only there): the flow and fill of a corner bug cost a fraction of the whole frames'. Measured at 432x240, 20 frames (docs/decisions.md): the bug on car-roundabout 35.91 dB at 0.43 s/frame against 35.47 at 1.16 uncropped. That fill keeps the run's own settings: without its refinement passes (or DIS, or fewer RAFT iterations, no edge network) the watermark through CRF 18 on car-roundabout fit 0.47-0.48, under ``min_fit``, and was filled (18.64 dB against 23.83)."""
    radius: int = setting(6, ge=0, pixels=True)
    """Neighbourhood (pixels either side) over which the estimate is pooled among pixels of the same part of the overlay: a pixel alone sees too little of the scene change to fix its opacity, and the fill's errors average out over many."""
    guide_sigma: float = setting(0.06, gt=0.0)
    """Difference in the frames' mean colour (the overlay, the moving scene averaged out; [0, 1] scale) at which two neighbours count as different parts of the overlay (Gaussian sigma)."""
    informed: float = setting(0.02, gt=0.0)
    """Variation (standard deviation over the frames, on the [0, 1] scale) of the scene under a pixel at which its own estimate counts as much as its neighbourhood's; below it, on this and its neighbours together, the fill is used."""
    opaque: float = setting(0.1, ge=0.0, lt=1.0)
    """Share of the scene showing through (1 - opacity) at and below which the fill is used: the recovery's gain 1/(1 - opacity) would amplify noise and compression past the fill's error (a 1-level error becomes 10). Not tuned by measurement yet: after x264 compression the opaque badge's semi-transparent rim flickers (docs/decisions.md)."""
    clear: float = setting(0.25, gt=0.0, le=1.0)
    """Share of the scene showing through at and above which only the recovered scene is used (between ``opaque`` and this the two are blended)."""
    min_fit: float = setting(0.5, ge=0.0, le=1.0)
    """Least share of the variation under the mask that the overlay model must explain (pooled R^2 of the frames on the fill) for recovery to be used at all: an opaque sign or a person walking through a still mask explain little."""
    robust_passes: int = setting(2, ge=0)
    """Passes that lower the weight of frames that do not fit (something passing over the overlay that the fill did not see)."""
    robust_scale: float = setting(3.0, gt=0.0)
    """Residual, in robust standard deviations, at which a frame's weight is halved."""
    still_max_opacity: float = setting(0.7, gt=0.0, lt=1.0)
    """On a locked-off shot (nothing under the mask changes), the largest opacity tried for the overlay estimated from the mask's shape (vidfill/stages/overlay_still.py); a best fit at it is taken for an opaque sign, and the mask is filled."""
    still_gain: float = setting(0.1, ge=0.0, le=1.0)
    """On a locked-off shot, the least share by which the overlay estimated from the mask's shape must lower the step along the mask's edge for it to be taken off; below it the mask is filled. Measured (lossless and CRF 18, four held or locked-off backgrounds): the logo and the watermark 20-41 %, the faint text 27-33 %; a mask over the plain scene 0 %, the channel bug (text on a box: two layers, not the mask's shape) 2-5 %."""
    steady_frames: int = setting(4, ge=0)
    """Frames either side whose view of the same point (along the flow) is averaged with each
    recovered pixel, each weighted by how clearly it shows it (``k^2``): the recovery amplifies
    noise and compression by ``1/k``, and frames where the point is outside the overlay know it
    better (0: off). Figures: docs/decisions.md."""
    steady_margin: int = setting(96, ge=0, pixels=True)
    """Pixels around the overlay in which the frames are matched for that (OpenCV DIS): the
    flow needs context beyond the points themselves."""
    steady_level: float = setting(1.0, gt=0.0)
    """How far a neighbour's view of a point may be from the recovered pixel, in standard
    deviations of the noise the two are expected to differ by (the clip's noise, estimated
    from the frames, times their gains; the sigma of a Gaussian weight): what the flow got
    wrong, or something else that is there, drops out, and a clean (lossless) clip, whose
    recovery is already exact, is hardly changed."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.clear <= self.opaque:
            raise ConfigError(f"overlay: need opaque < clear, got opaque {self.opaque}, clear {self.clear}")


@dataclass(frozen=True)
class PipelineConfig:
    mask: MaskConfig = field(default_factory=MaskConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    edges: EdgeConfig = field(default_factory=EdgeConfig)
    completion: CompletionConfig = field(default_factory=CompletionConfig)
    propagation: PropagationConfig = field(default_factory=PropagationConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    poisson: PoissonConfig = field(default_factory=PoissonConfig)
    leftover: LeftoverConfig = field(default_factory=LeftoverConfig)
    patchmatch: PatchMatchConfig = field(default_factory=PatchMatchConfig)
    texture: TextureConfig = field(default_factory=TextureConfig)
    detail: DetailConfig = field(default_factory=DetailConfig)
    dip: DipConfig = field(default_factory=DipConfig)
    gated: GatedConfig = field(default_factory=GatedConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    overlay: OverlayConfig = field(default_factory=OverlayConfig)

    def replace(self, *, origin: str = "settings", **sections: dict[str, Any]) -> "PipelineConfig":
        """A copy with some fields of some sections changed: ``cfg.replace(mask={"dilate": 0})``.

        Every value is validated; a bad one is a :class:`~vidfill.errors.ConfigError` (a ValueError)
        that starts with ``origin`` (e.g. ``"--set"``)."""
        return _from_dict(self, sections, origin)

    def at_scale(self, factor: float) -> "PipelineConfig":
        """The settings for frames reduced by ``factor`` (a proxy run): every length in pixels
        (``setting(pixels=True)``: mask growth, flow size, consistency and stillness limits)
        scaled by it, so that the run makes the decisions the full-size run makes."""
        changes: dict[str, dict[str, Any]] = {}
        for section in dataclasses.fields(self):
            current = getattr(self, section.name)
            for f in dataclasses.fields(current):
                if f.metadata.get("pixels"):
                    value = getattr(current, f.name) * factor
                    if isinstance(getattr(current, f.name), int):
                        value = max(round(value), f.metadata.get("ge") or 0)
                    changes.setdefault(section.name, {})[f.name] = value
        return self.replace(origin="--proxy", **changes)


def _from_dict(base: PipelineConfig, data: dict[str, Any], origin: str) -> PipelineConfig:
    """``base`` with ``data`` (section -> {key: value}) applied; every problem is a ConfigError
    that starts with ``origin`` and, for a misspelt name, suggests the nearest valid one."""
    changes = {}
    sections = [f.name for f in dataclasses.fields(base)]
    for section, values in data.items():
        if section not in sections or not isinstance(values, dict):
            raise ConfigError(f"{origin}: unknown section [{section}]{_nearest(section, sections)} "
                              f"(known: {', '.join(sections)})")
        current = getattr(base, section)
        names = [f.name for f in dataclasses.fields(current)]
        for key in values:
            if key not in names:
                elsewhere = [f"{other}.{key}" for other in sections if key in
                             [f.name for f in dataclasses.fields(getattr(base, other))]]
                hint = (f" (did you mean {elsewhere[0]}?)" if elsewhere else
                        _nearest(key, names, section + "."))
                raise ConfigError(f"{origin}: unknown setting {section}.{key}{hint} "
                                  f"(known: {', '.join(names)})")
        try:
            changes[section] = dataclasses.replace(current, **values)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return dataclasses.replace(base, **changes)


def _nearest(name: str, known: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``["fusion.method=colour", "poisson.tolerance=1e-4"]`` -> ``{"fusion": {"method": "colour"},
    "poisson": {"tolerance": 0.0001}}``: each value is read as TOML (numbers, booleans, quoted
    strings), or else taken as a plain string. Apply with :meth:`PipelineConfig.replace`, which
    validates it."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not section or not name or not text.strip():
            raise ConfigError(f"--set {item}: expected SECTION.KEY=VALUE, e.g. --set flow.method=dis")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        out.setdefault(section, {})[name] = value
    return out


def preset_names() -> list[str]:
    """Names of the presets shipped in ``pipelines/``."""
    return sorted(p.name[:-5] for p in resources.files("vidfill.presets").iterdir()
                  if p.name.endswith(".toml"))


def load_preset(name_or_path: str) -> PipelineConfig:
    """The config of a shipped preset (``"default"``) or of a TOML file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise ConfigError(f"{path}: preset file not found")
        text, origin = path.read_text(), str(path)
    else:
        entry = resources.files("vidfill.presets") / f"{name_or_path}.toml"
        if not entry.is_file():
            raise ConfigError(
                f"--pipeline {name_or_path}: no such preset (have: {', '.join(preset_names())})")
        text, origin = entry.read_text(), f"pipelines/{name_or_path}.toml"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: invalid TOML ({exc})") from None
    data.pop("description", None)
    return _from_dict(PipelineConfig(), data, origin)
