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
