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
# In this notebook you will learn
#
# * the geometry of one zoom step (crop the margins, resize back) and how fast it zooms;
# * why zooming alone blurs, and how dreaming between zooms puts detail back;
# * how the zoom *centre* and *speed* (the margin) change the animation;
# * how to render the final zoom as a GIF, and explore it with sliders.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

from cadl_utils.config import profile
from cadl_utils.dream import DreamSettings, fractal_zoom, zoom_crop, zoom_margins
from cadl_utils.images import load_image, montage, sample_images, show, show_gif
from cadl_utils.models import load_model
from cadl_utils.objectives import channel, layer
from cadl_utils.widgets import ZoomExplorer, show_banner

# %%
P = profile()
# frame_every: gradient steps between two frames (the settings of lesson 1, DreamSettings)
SETTINGS = DreamSettings(frames=P.frames, frame_every=max(1, P.steps // 20), step_size=0.02)
OUT = Path("../outputs/fractal_zoom")
OUT.mkdir(parents=True, exist_ok=True)
print(f"profile {P.name}: {P.size} px, {P.frames} frames of {SETTINGS.frame_every} steps, {P.octaves} octaves")

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
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
# A margin of 1 or more counts pixels instead (of the short side; the long side is cut in
# proportion, so the shape stays the same). Zooming alone only magnifies what is there, so the
# picture gets blurrier with every step:

# %%
photos = sample_images("photo")
image = load_image(photos["astronaut"], size=P.size)
zoomed = [image]
for _ in range(8):
    zoomed.append(zoom_crop(zoomed[-1], margin=0.05))
show(montage(zoomed[::2], cols=5), title="zoom_crop with margin 0.05: frames 0, 2, 4, 6, 8")

# %% [markdown]
# ## 2. Dream between the zooms
#
# `fractal_zoom` alternates: a few gradient-ascent steps (as in lesson 1) make a frame, then one zoom
# step. The dreaming sharpens what the zoom blurred, with whatever the objective likes to see.
#
# $$x_{t+1} = \operatorname{zoom}_m\!\big(\operatorname{dream}_k(x_t)\big),$$
#
# where $\operatorname{dream}_k$ is $k$ normalised gradient steps (`frame_every`).

# %%
objective = channel("mixed4c_pool_reduce_pre_relu", 10)
frames = fractal_zoom(image, objective, model, SETTINGS, margin=0.03).frames
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
    result = fractal_zoom(image, objective, model, SETTINGS, frames=max(2, P.frames // 2), **options)
    last[name] = result.image
show(montage(list(last.values()), cols=2), title=" | ".join(last))

# %% [markdown]
# **Try this:** aim the zoom at the astronaut's face, about `center=(0.3, 0.45)`.

# %% [markdown]
# ## 4. The final zoom
#
# A whole layer as the objective, octaves for patterns at several scales, and the Laplacian
# normalisation for smooth shapes. With the `full` profile this is 60 frames.

# %%
zoom = fractal_zoom(image, layer("mixed4b"), model, SETTINGS, margin=0.03, octaves=P.octaves, normalize="laplacian")
gif = zoom.save_gif(OUT / "fractal_zoom.gif", duration_ms=100)
show_gif(gif, width=384)

# %% [markdown]
# **Try this:** choose `(noise)` as the image in the sliders below and let the network invent
# everything; or save an MP4 with `zoom.save_gif(OUT / "fractal_zoom.mp4")` (needs the `mp4` extra).

# %% [markdown]
# ## 5. Explore with sliders
#
# Choose the layer and channel, the margin (speed) and the zoom centre; a short preview renders when
# you release a slider, and **Run** renders the full GIF.

# %%
explorer = ZoomExplorer(model, image="astronaut", output_dir=OUT)
explorer
