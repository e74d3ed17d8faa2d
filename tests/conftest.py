from pathlib import Path

import numpy as np
import pytest
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared() -> Path:
    """../shared (real clips and checkpoints); tests that use it skip without it."""
    if not (SHARED / "data" / "clips").is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request) -> torch.device:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device(request.param)


def translating_clip(num_frames: int = 10, h: int = 48, w: int = 64, dx: int = 2, dy: int = 1,
                     seed: int = 0) -> torch.Tensor:
    """(T, 3, H, W) uint8: a smooth random texture moving by (dx, dy) pixels per frame."""
    import cv2

    rng = np.random.default_rng(seed)
    big = rng.random((h + abs(dy) * num_frames, w + abs(dx) * num_frames, 3)).astype(np.float32)
    big = cv2.GaussianBlur(big, (0, 0), 1.5)
    big = (255 * (big - big.min()) / (big.max() - big.min())).astype(np.uint8)
    frames = []
    for t in range(num_frames):
        # content moves by (+dx, +dy): the window slides the other way
        y0 = abs(dy) * (num_frames - 1 - t) if dy > 0 else abs(dy) * t
        x0 = abs(dx) * (num_frames - 1 - t) if dx > 0 else abs(dx) * t
        frames.append(torch.from_numpy(big[y0:y0 + h, x0:x0 + w].copy()).permute(2, 0, 1))
    return torch.stack(frames)


def write_pngs(folder: Path, images: np.ndarray, name: str, first: int = 0) -> Path:
    """Save RGB images ``(T, H, W, 3)`` (uint8 or uint16) or bool masks ``(T, H, W)`` (as 0/255)
    into the new ``folder`` as ``name.format(first + t)``; return the folder."""
    import cv2

    folder.mkdir()
    for t, image in enumerate(images):
        image = image.astype(np.uint8) * 255 if image.dtype == bool else image[..., ::-1]
        cv2.imwrite(str(folder / name.format(first + t)), image)
    return folder


def deep_plate(parent: Path, num_frames: int, size: tuple[int, int],
               seed: int = 9) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A 16-bit PNG plate ``parent/plate16/plate.1001.png``... (the demo scene with noise in the
    low bits) and one mask image ``parent/m.png``: folder, mask, frames (T, H, W, 3) uint16 and
    the mask (H, W) bool."""
    import cv2

    from vidfill.cli.demo import make_clip

    _, frames, masks = make_clip(num_frames, size=size, seed=seed)
    rng = np.random.default_rng(0)
    deep = frames.astype(np.uint16) * 257 + rng.integers(0, 257, frames.shape, dtype=np.uint16)
    folder, mask = write_pngs(parent / "plate16", deep, "plate.{}.png", 1001), parent / "m.png"
    cv2.imwrite(str(mask), masks[0].astype(np.uint8) * 255)
    return folder, mask, deep, masks[0]


def visible(folder: Path) -> list[Path]:
    """The entries of an output folder that a user sees: its frames, without vidfill's hidden
    manifest (:data:`vidfill.io.safety.MANIFEST`)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def demo_clip(folder: Path, num_frames: int, size: tuple[int, int], seed: int) -> tuple[Path, Path]:
    """The demo scene as ``folder/clip.mp4`` and its masks as ``folder/masks/m{t}.png``."""
    import cv2

    from vidfill.cli.demo import make_clip, write_clip

    _, frames, masks = make_clip(num_frames, size=size, seed=seed)
    video, mask_dir = folder / "clip.mp4", folder / "masks"
    write_clip(video, frames)
    mask_dir.mkdir()
    for t, mask in enumerate(masks):
        cv2.imwrite(str(mask_dir / f"m{t}.png"), mask.astype(np.uint8) * 255)
    return video, mask_dir
