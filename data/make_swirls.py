"""Regenerate data/styles/swirls.jpg, the project's own painterly style image (CC0).

Brush strokes are imitated by a line-integral convolution: random noise is smeared along a
smooth, swirling flow field, then tinted with a palette picked by a second smooth field.
Deterministic (fixed seed), numpy and Pillow only.

Run from the repository's top folder: ``python data/make_swirls.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 512
STROKE_STEPS = 24  # length of a brush stroke, in half-pixel steps each way
SEED = 7

# Warm and cool colours alternate, roughly like a post-impressionist sky.
PALETTE = np.array(
    [
        [18, 40, 94],
        [48, 98, 170],
        [120, 170, 210],
        [236, 208, 92],
        [226, 130, 40],
        [30, 70, 60],
    ],
    dtype=np.float32,
) / 255.0


def smooth_field(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, waves: int) -> np.ndarray:
    """A sum of random low-frequency sine waves, scaled to about [-1, 1]."""
    total = np.zeros_like(yy)
    for _ in range(waves):
        fy, fx = rng.uniform(-4.0, 4.0, size=2)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        total += np.sin(2.0 * np.pi * (fy * yy + fx * xx) + phase)
    return total / np.sqrt(waves)


def sample(image: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Nearest-neighbour lookup with wrap-around, so strokes continue across the border."""
    h, w = image.shape
    return image[np.round(y).astype(int) % h, np.round(x).astype(int) % w]


def make_swirls(size: int = SIZE, seed: int = SEED) -> np.ndarray:
    """Render the swirl painting.

    Args:
        size: side of the square image in pixels.
        seed: random seed.

    Returns:
        uint8 array [size, size, 3].
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = np.pi * smooth_field(rng, yy, xx, waves=5)
    dy, dx = np.sin(angle), np.cos(angle)
    noise = rng.random((size, size)).astype(np.float32)

    strokes = noise.copy()
    for direction in (1.0, -1.0):
        y = yy * size
        x = xx * size
        for _ in range(STROKE_STEPS):
            step_y = sample(dy, y, x)
            step_x = sample(dx, y, x)
            y = y + direction * step_y
            x = x + direction * step_x
            strokes += sample(noise, y, x)
    strokes /= 2 * STROKE_STEPS + 1
    strokes = (strokes - strokes.mean()) / (strokes.std() + 1e-6)

    tone = smooth_field(rng, yy, xx, waves=4) + 0.35 * strokes
    position = np.clip((tone + 2.0) / 4.0, 0.0, 1.0) * (len(PALETTE) - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(PALETTE) - 1)
    mix = (position - low)[..., None]
    colour = (1.0 - mix) * PALETTE[low] + mix * PALETTE[high]
    colour *= (0.85 + 0.15 * np.tanh(strokes))[..., None]
    return (np.clip(colour, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "styles" / "swirls.jpg"
    Image.fromarray(make_swirls()).save(out, quality=90, optimize=True)
    print(f"wrote {out}")
