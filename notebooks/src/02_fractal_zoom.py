# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fractal zoom
#
# The feedback loop of lesson 1 with one twist: after every frame the picture is cropped a little
# at every edge and resized back to its size. The camera moves inwards, the network keeps painting
# new detail into what used to be a few pixels, and the dream never ends.
#
# ## Overview
#
# In this notebook you will
#
# * write one zoom step yourself (crop the margins, resample back to full size with bilinear
#   interpolation) and check it against the package's `zoom_crop` with an assertion;
# * see why zooming alone blurs, and how dreaming between zooms puts detail back;
# * change the zoom *centre* and *speed* (the margin);
# * render the course's `fractal.gif`: the jellyfish neuron's feedback loop with the zoom;
# * render a layer's zoom with octaves, and explore with sliders.
#
# **How long it takes.** Measured top to bottom (without touching the sliders, `make lesson-times`)
# on a 2-core CPU that computes bfloat16 natively, with nothing else running: about 15 seconds with
# the `quick` profile (128 px, 4 frames) and about 60 seconds with the default `full` profile (512 px
# GIFs of 20 frames x 5 steps; the loop taken apart at 256 px). These runs used the untrained
# stand-in, which has inception5h's layers and sizes, so the trained weights cost the same; a CPU
# without bfloat16 runs in float32 and will be slower, a GPU much faster. To switch,
# set `CADL_PROFILE=quick` in the environment before starting Jupyter (e.g. `CADL_PROFILE=quick make
# lab`) and restart the kernel; the cell after the imports prints the active profile.
#
# **Sources.** A. Mordvintsev, C. Olah, M. Tyka, *Inceptionism: Going Deeper into Neural Networks*
# (Google Research blog, 2015), whose zooming videos are this loop; C. Olah, A. Mordvintsev,
# L. Schubert, *Feature Visualization* (Distill, 2017); P. Mital, *Creative Applications of Deep
# Learning with TensorFlow* (Kadenze), session 4, where `fractal.gif` comes from.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

import numpy as np

from cadl_utils.config import profile
from cadl_utils.dream import DreamSettings, dream, fractal_zoom, zoom_crop, zoom_margins
from cadl_utils.images import load_image, montage, sample_images, show, show_gif
from cadl_utils.models import load_model
from cadl_utils.objectives import channel, layer, neuron
from cadl_utils.widgets import ZoomExplorer, show_banner

# %% [markdown]
# The two GIFs (the course's `fractal.gif` and a layer's zoom) are made at the profile's size (512 px
# at `full`) with the course's 20 frames of 5 gradient steps; the cells that take the loop apart work
# on smaller pictures (`SMALL`, 256 px at `full`), a quarter of the pixels.

# %%
P = profile()
# frame_every: gradient steps between two frames (the settings of lesson 1, DreamSettings)
SETTINGS = DreamSettings(frames=min(P.frames, 20), frame_every=max(1, P.steps // 20), step_size=0.02)
SMALL = min(P.size, 256)  # side of the pictures that take the loop apart
OUT = Path("../outputs/fractal_zoom")
OUT.mkdir(parents=True, exist_ok=True)
print(f"profile {P.name}: GIFs {P.size} px, {SETTINGS.frames} frames of {SETTINGS.frame_every} steps; "
      f"the loop taken apart at {SMALL} px")

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
# If the banner above says the weights are *untrained* (the automatic tests, or no network), the
# network has random filters: every cell runs the same way, but the zooms grow random textures, not
# jellyfish or eyes.
#
# ## 1. One zoom step
#
# For an image of height $H$ and width $W$ and a margin $m$ (a fraction of each side), one step cuts
# $mH$ pixels from the top and from the bottom and $mW$ from each side, and resizes the crop back to
# $H \times W$. Every step magnifies by
#
# $$z = \frac{1}{1 - 2m}, \qquad\text{so after } n \text{ frames by } z^{n}.$$
#
# With $m = 0.02$ that is 4.2 % per frame, and 60 frames zoom in $z^{60} \approx 11.6$ times.

# %%
# NBVAL_CHECK_OUTPUT
for margin in [0.02, 0.05]:
    my, mx = zoom_margins((256, 384), margin)
    zoom = 1.0 / (1.0 - 2.0 * margin)
    print(f"margin {margin}: cut {my:.2f} px (top/bottom) and {mx:.2f} px (left/right); "
          f"zoom {zoom:.4f} per frame, {zoom ** 60:.1f} after 60 frames")

# %% [markdown]
# The cut is usually a fraction of a pixel, so we cannot just slice the array: output row $i$ of
# $H$ reads the input at the position $y_i$ evenly spaced from the crop's first to its last pixel
# centre, and between pixels we interpolate linearly in $y$ and in $x$ (*bilinear* resampling):
#
# $$y_i = t + i\,\frac{(H - 2mH) - 1}{H - 1}, \qquad
# x' = (1-a)(1-b)\,x_{y_0 x_0} + (1-a)\,b\,x_{y_0 x_1} + a(1-b)\,x_{y_1 x_0} + a\,b\,x_{y_1 x_1},$$
#
# where $t$ is the crop's top, $y_0 = \lfloor y_i \rfloor$, $y_1 = y_0 + 1$, $a = y_i - y_0$ (and
# likewise $x_0, x_1, b$ for the columns). The crop window is centred on `center` (fractions of the
# height and width) but kept inside the image.

# %%
def bilinear(image, ys, xs):
    """Sample image [H, W, 3] at rows `ys` and columns `xs` (float pixel positions), bilinearly."""
    height, width = image.shape[:2]
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    a, b = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    upper = (1 - b) * image[y0][:, x0] + b * image[y0][:, x1]
    lower = (1 - b) * image[y1][:, x0] + b * image[y1][:, x1]
    return (1 - a) * upper + a * lower


def zoom_step(image, margin, center=(0.5, 0.5)):
    """Crop `margin` (a fraction) of each side around `center` and resample back to the same size."""
    height, width = image.shape[:2]
    crop_h, crop_w = height * (1 - 2 * margin), width * (1 - 2 * margin)
    top = np.clip(center[0] * height - crop_h / 2, 0, height - crop_h)
    left = np.clip(center[1] * width - crop_w / 2, 0, width - crop_w)
    ys = np.linspace(top, top + crop_h - 1, height)
    xs = np.linspace(left, left + crop_w - 1, width)
    return bilinear(image, ys, xs).astype(np.float32)


# %% [markdown]
# The package's `zoom_crop` (what `fractal_zoom` uses between frames) must give the same picture:

# %%
photos = sample_images("photo")
image = load_image(photos["astronaut"], size=P.size)
for margin, center in [(0.05, (0.5, 0.5)), (0.02, (0.3, 0.45)), (0.1, (0.0, 1.0))]:
    ours, package = zoom_step(image, margin, center), zoom_crop(image, margin=margin, center=center)
    assert np.abs(ours - package).max() < 1e-4, (margin, center, np.abs(ours - package).max())

# %% [markdown]
# (A margin of 1 or more counts pixels instead, of the short side; the long side is cut in
# proportion, so the shape stays the same.) Zooming alone only magnifies what is there, so the
# picture gets blurrier with every step:

# %%
zoomed = [image]
for _ in range(8):
    zoomed.append(zoom_step(zoomed[-1], margin=0.05))
show(montage(zoomed[::2], cols=5), title="zoom_step with margin 0.05: frames 0, 2, 4, 6, 8")

# %% [markdown]
# **Exercise 1.** What happens to the picture if you zoom 200 times with `margin=0.05` and no dreaming?
#
# <details><summary>Answer</summary>
#
# It zooms in $1/0.9^{200} \approx 1.4 \cdot 10^{9}$ times: far less than one original pixel fills the
# frame, so the picture becomes one flat colour (the colour at the zoom centre). Before that it
# goes through ever larger, blurrier blobs: bilinear resampling never invents detail, and each
# resampling also averages neighbours a little, so it loses sharpness even faster than the
# magnification alone.
# </details>

# %% [markdown]
# ## 2. Dream between the zooms
#
# The fractal zoom alternates: a few gradient-ascent steps (lesson 1) make a frame, then one zoom
# step. The dreaming sharpens what the zoom blurred, with whatever the objective likes to see.
#
# $$x_{t+1} = \operatorname{zoom}_m\!\big(\operatorname{dream}_k(x_t)\big),$$
#
# where $\operatorname{dream}_k$ is $k$ normalised gradient steps (`frame_every`). Written with the
# engine's `dream` for the steps and our `zoom_step`, the loop is three lines (on the `SMALL` photo):

# %%
small = load_image(photos["astronaut"], size=SMALL)
objective = channel("mixed4c_pool_reduce_pre_relu", 10)
x, frames = small, []
for _ in range(SETTINGS.frames):
    x = dream(x, objective, model, SETTINGS, steps=SETTINGS.frame_every, octaves=1, progress=False).image
    frames.append(x)
    x = zoom_step(x, margin=0.03)
show(montage(frames[:: max(1, len(frames) // 6)], cols=6), title=f"every few of our {len(frames)} frames")

# %% [markdown]
# `fractal_zoom` is this loop, with the random jitter running on from frame to frame, octaves,
# tiles and a progress bar; it returns a `Result` of the frames:

# %%
frames = fractal_zoom(small, objective, model, SETTINGS, margin=0.03).frames
show(montage(frames[:: max(1, len(frames) // 6)], cols=6), title=f"every few of the {len(frames)} frames")

# %% [markdown]
# ## 3. Centre and speed
#
# `center=(y, x)` moves the point we fly towards, as fractions of the height and width (the crop
# window is kept inside the image). A larger margin is a faster zoom; a larger `frame_every` gives the
# network more time to paint between zooms.

# %%
runs = {"centre (0.5, 0.5), slow": dict(center=(0.5, 0.5), margin=0.02),
        "top left (0.2, 0.2), fast": dict(center=(0.2, 0.2), margin=0.08)}
last = {}
for name, options in runs.items():
    result = fractal_zoom(small, objective, model, SETTINGS, frames=max(2, SETTINGS.frames // 2), **options)
    last[name] = result.image
show(montage(list(last.values()), cols=2), title=" | ".join(last))

# %% [markdown]
# **Try this:** aim the zoom at the astronaut's face, about `center=(0.3, 0.45)`.
#
# **Exercise 2.** What happens to the animation when the margin is large (0.08) but `frame_every` stays
# small (1 step)?
#
# <details><summary>Answer</summary>
#
# The zoom outruns the dream: each frame magnifies by $1/0.84 \approx 1.19$, and one small step cannot
# repaint the detail that resampling blurred away, so the frames get soft and smeared, with faint
# patterns, and the start photo blows up into blobs. Balance the two: a smaller margin, or more steps
# per frame (or a larger step size), so that each frame is re-dreamed before the next zoom.
# </details>

# %% [markdown]
# ## 4. The course's `fractal.gif`: zooming into jellyfish
#
# The course's result is lesson 1's jellyfish feedback loop (`neuron("jellyfish")`, class 647 of
# `softmax2`) with a zoom after every frame. `softmax2` needs at least 193 px, so this runs on a
# 224 px square, or the profile's size if larger (512 px at `full`), with 20 frames of 5 steps. With
# trained weights, tentacles and bells grow out of the photo and keep appearing as we fly in; with the
# untrained stand-in (see the banner) it is only a random texture.

# %%
# Course picture: fractal.gif
SIDE = max(224, P.size)
start = load_image(photos["coffee"], size=(SIDE, SIDE))
fractal = fractal_zoom(start, neuron("jellyfish"), model, SETTINGS, octaves=1, margin=0.02)
gif = fractal.save_gif(OUT / "fractal.gif", duration_ms=100)
show_gif(gif, width=320)

# %% [markdown]
# ## 5. A layer's zoom
#
# A whole layer as the objective, octaves for patterns at several scales, and the Laplacian
# normalisation for smooth shapes, at the profile's size.

# %%
zoom = fractal_zoom(image, layer("mixed4b"), model, SETTINGS, margin=0.03, octaves=min(P.octaves, 3),
                    normalize="laplacian")
gif = zoom.save_gif(OUT / "fractal_zoom.gif", duration_ms=100)
show_gif(gif, width=384)

# %% [markdown]
# **Try this:** choose `(noise)` as the image in the sliders below and let the network invent
# everything; or save an MP4 with `zoom.save_gif(OUT / "fractal_zoom.mp4")` (needs the `mp4` extra).
#
# **Exercise 3.** What happens if you zoom *out* instead, i.e. a negative margin?
#
# <details><summary>Answer</summary>
#
# `DreamSettings` refuses it (a `ParameterError`: the margin must be above 0), and `zoom_step` would
# read outside the image. Zooming out needs pixels that do not exist yet: you would have to pad the
# frame (with grey, a mirror or the dream itself) and let the dreaming fill the border, which is a
# different loop. A simpler way to get a zoom-out video is to render the zoom-in and play its frames
# backwards: `fractal.save_gif(path)` after `fractal.frames.reverse()`.
# </details>

# %% [markdown]
# ## 6. Explore with sliders
#
# Choose the layer and channel, the margin (speed) and the zoom centre; a short preview renders when
# you release a slider, and **Run** renders the full GIF.

# %%
explorer = ZoomExplorer(model, image="astronaut", output_dir=OUT)
explorer
