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
# # Deep Dream
#
# A network trained to recognise jellyfish can also be asked the opposite question: *how would this
# picture have to change to look more like a jellyfish?* The answer is a gradient, and adding a little
# of it to the picture again and again makes the network's ideas visible.
#
# ## Overview
#
# In this notebook you will learn
#
# * how to compute the gradient of one neuron (the *jellyfish* class) with respect to the pixels;
# * how a *feedback loop* of small gradient-ascent steps turns it into an animation;
# * how to dream of channels and whole layers instead of classes;
# * why the gradient is normalised, and three ways to do it;
# * how *octaves* (several scales) and *tiles* (large images) improve and scale the result;
# * how to explore layers and channels with sliders.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

import numpy as np
import tensorflow as tf

from cadl_utils.config import profile
from cadl_utils.dream import DreamSettings, dream, feedback_loop, normalize_gradient, octave_sizes
from cadl_utils.images import load_image, montage, sample_images, show, show_gif
from cadl_utils.models import load_model
from cadl_utils.objectives import channel, evaluate, layer, neuron
from cadl_utils.widgets import DreamExplorer, show_banner

# %% [markdown]
# Sizes and numbers of steps come from a *profile*: `full` (default) for good pictures, `quick`
# (`CADL_PROFILE=quick`) for a fast run-through, which is what the automatic tests use. Pictures
# and GIFs are written to `outputs/deep_dream/` in the repository.
#
# Every setting of a dream lives in one `DreamSettings` object (its fields, with their help, are
# listed by `help(DreamSettings)`); `dream` and `feedback_loop` take it and any setting as a keyword
# on top of it.

# %%
P = profile()
SETTINGS = DreamSettings(
    steps=max(2, P.steps // 5),  # gradient steps per octave of a single dream
    frames=P.frames,
    frame_every=max(1, P.steps // 20),  # gradient steps between two frames of a GIF
    octaves=P.octaves,
)
OUT = Path("../outputs/deep_dream")
OUT.mkdir(parents=True, exist_ok=True)
print(f"profile {P.name}: {P.size} px, {SETTINGS.steps} steps per octave, "
      f"{SETTINGS.frames} frames of {SETTINGS.frame_every} steps")

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
# ## 1. The gradient of one neuron
#
# The last layer, `softmax2`, gives a probability $p_k(x)$ for every class $k$. Class 647 is
# *jellyfish*. Our objective is simply
#
# $$f(x) = p_{647}(x).$$
#
# Its gradient $g = \nabla_x f(x)$ has the shape of the image: for every pixel and colour it says how
# much a small increase would raise $f$. TensorFlow computes it with a `GradientTape`. `softmax2`
# needs an image of at least 193 px, so this part works on a 224 px square (or the profile's size if
# that is larger).

# %%
photos = sample_images("photo")
SIDE = max(224, P.size)
image = load_image(photos["coffee"], size=(SIDE, SIDE))
show(image, title=f"the start image, {SIDE} x {SIDE}")

# %%
# NBVAL_CHECK_OUTPUT
x = tf.constant(image[None])
with tf.GradientTape() as tape:
    tape.watch(x)
    p_jellyfish = model.extract(x, ["softmax2"])[0][0, 647]
grad = tape.gradient(p_jellyfish, x)[0].numpy()
print(f"gradient: one value per pixel and colour: {grad.shape == image.shape}, dtype {grad.dtype}")

# %% [markdown]
# The raw gradient is tiny and its scale changes from image to image, so we divide it by its
# standard deviation $\sigma(g)$ before using it. Shown around grey, it is a faint pattern:

# %%
shown = np.clip(0.5 + 0.15 * normalize_gradient(grad, "std").numpy(), 0.0, 1.0)
show(montage([image, shown], cols=2), title="image and its jellyfish gradient")

# %% [markdown]
# ## 2. Gradient ascent, and the feedback loop
#
# One *gradient-ascent* step adds a small multiple $\eta$ (the *step size*) of the normalised gradient
# and keeps the pixels in the valid range:
#
# $$x_{t+1} = \operatorname{clip}_{[0,1]}\!\Big(x_t + \eta\,\frac{g_t}{\sigma(g_t) + \epsilon}\Big),
# \qquad g_t = \nabla_x f(x_t).$$
#
# One step by hand raises the jellyfish probability a little:

# %%
jellyfish = neuron("jellyfish")
stepped = np.clip(image + 0.02 * normalize_gradient(grad, "std").numpy(), 0.0, 1.0)
print(f"p(jellyfish) before: {evaluate(jellyfish, model, image):.5f}")
print(f"p(jellyfish) after : {evaluate(jellyfish, model, stepped):.5f}")

# %% [markdown]
# Repeating this step and keeping a frame every few steps is the course's first result, the
# *feedback loop*: the picture is fed back into the network again and again. `feedback_loop` does
# exactly that (plus a random shift, *jitter*, each step, so that the network's pixel grid does not
# imprint itself). It returns a `Result` whose `frames` we save as a GIF (`result.image` is the last).

# %%
loop = feedback_loop(image, jellyfish, model, SETTINGS, octaves=1, step_size=0.02)
gif = loop.save_gif(OUT / "jellyfish_feedback.gif", duration_ms=150)
show_gif(gif, width=320)

# %% [markdown]
# **Try this:** other classes, e.g. `neuron("volcano")` or `neuron(model.label_index("goldfish"))`;
# a bigger step size (0.05); more frames (`frames=60`).

# %% [markdown]
# ## 3. Layers and channels
#
# Any unit of the network can be the objective. For a channel $c$ of a layer $l$ with activations
# $A^{l}(x) \in \mathbb{R}^{h \times w \times C}$ we maximise its mean, and for a whole layer the mean
# of all its channels:
#
# $$f_{\text{channel}}(x) = \frac{1}{hw}\sum_{i,j} A^{l}_{ijc}(x), \qquad
# f_{\text{layer}}(x) = \frac{1}{hwC}\sum_{i,j,c} A^{l}_{ijc}(x).$$
#
# Channels are read *before* their ReLU, so their gradient is never cut off at zero. These layers
# need no minimum size, so we go back to the profile's size.

# %%
# NBVAL_CHECK_OUTPUT
cat = load_image(photos["cat"], size=P.size)
probe = channel("mixed4d_3x3_bottleneck_pre_relu", 139)
probe.validate(model)
print(probe.describe())
print(f"{probe.layers[0]} has {model.layer(probe.layers[0]).channels} channels")

# %% [markdown]
# `set_index` changes the channel without recompiling the gradient step, so trying several is cheap:

# %%
pictures = []
for index in [139, 65, 30, 7]:
    probe.set_index(index)
    pictures.append(dream(cat, probe, model, SETTINGS).image)
show(montage(pictures, cols=4), title="mixed4d_3x3_bottleneck, channels 139, 65, 30, 7")

# %% [markdown]
# Whole layers, from shallow to deep: early layers paint strokes and colours, deeper ones eyes,
# fur and shapes (with trained weights).

# %%
names = ["conv2d2", "mixed3b", "mixed4c", "mixed5a"]
pictures = [dream(cat, layer(name), model, SETTINGS).image for name in names]
show(montage(pictures, cols=4), title=", ".join(names))

# %% [markdown]
# **Try this:** objectives add up with weights:
# `0.7 * channel("mixed4c", 10) + 0.3 * channel("mixed3b", 20)` mixes two channels.

# %% [markdown]
# ## 4. Normalising the gradient
#
# The step size only means something if the gradient has a known scale. `normalize_gradient` offers
#
# * `std`: $\hat g = g / (\sigma(g) + \epsilon)$, the usual choice;
# * `maxabs`: $\hat g = g / (\max_i |g_i| + \epsilon)$, so no pixel moves more than $\eta$ in a step;
# * `laplacian`: split $g$ into a Laplacian pyramid of frequency bands $g = \sum_k L_k$, give every
#   band unit strength, $\hat g \propto \sum_k L_k / \sqrt{\operatorname{mean}(L_k^2)}$, then divide by
#   the standard deviation. Low frequencies are boosted: larger, smoother patterns instead of pixel noise.

# %%
# NBVAL_CHECK_OUTPUT
rng = np.random.default_rng(0)
noise = rng.normal(size=(64, 64, 3)).astype(np.float32)
for method in ["std", "maxabs", "laplacian"]:
    normed = normalize_gradient(noise, method).numpy()
    print(f"{method:9s} std {normed.std():.2f}  max|g| {np.abs(normed).max():.2f}")

# %%
probe.set_index(139)
methods = ["std", "maxabs", "laplacian"]
pictures = [dream(cat, probe, model, SETTINGS, normalize=m).image for m in methods]
show(montage(pictures, cols=3), title=", ".join(methods))

# %% [markdown]
# ## 5. Octaves
#
# Features at one scale give patterns at one scale. *Octaves* dream the image at several sizes, from
# small to large, each $s$ times (the *octave scale*) larger than the previous:
#
# $$(H_k, W_k) = \operatorname{round}\!\big((H, W) / s^{k}\big), \qquad k = n-1, \dots, 1, 0.$$
#
# After each octave the picture is enlarged to the next size and the detail that shrinking had lost,
# $x - \operatorname{up}(\operatorname{down}(x))$, is added back, so the photo stays sharp.

# %%
# NBVAL_CHECK_OUTPUT
print(octave_sizes((512, 512), octaves=4, scale=1.4))

# %%
counts = [1, 2, 4]
pictures = [dream(cat, probe, model, SETTINGS, octaves=n, normalize="laplacian").image for n in counts]
show(montage(pictures, cols=3), title="1, 2 and 4 octaves")

# %% [markdown]
# ## 6. Tiles: large images with bounded memory
#
# The memory of a gradient grows with the number of pixels. With `tile_size` the gradient is computed
# tile by tile, and the whole image is rolled by a random offset each step, so tile borders never
# stay in one place and leave no seams. Here an image twice the profile's size is dreamed in tiles of
# the profile's size:

# %%
big = load_image(photos["rocket"], size=2 * P.size)
tiled = dream(big, probe, model, SETTINGS, tile_size=P.size).image
print(f"{big.shape[1]} x {big.shape[0]} px in tiles of {P.size} px")
show(tiled)

# %% [markdown]
# **Try this:** a 2048 px image with `tile_size=512` works on a laptop.

# %% [markdown]
# ## 7. Putting it together
#
# A feedback loop on a channel, with octaves and the Laplacian normalisation, saved as a GIF:

# %%
loop = feedback_loop(cat, probe, model, SETTINGS, normalize="laplacian", step_size=0.02)
gif = loop.save_gif(OUT / "channel_feedback.gif", duration_ms=150)
show_gif(gif, width=384)

# %% [markdown]
# ## 8. Explore with sliders
#
# Pick a layer (the list shows how many channels each has) and a channel or class, then release the
# slider: a small preview is dreamed at once. **Run** renders the full-size GIF.

# %%
explorer = DreamExplorer(model, image="cat", output_dir=OUT)
explorer

# %% [markdown]
# **Try this:** choose the `softmax2` layer: the slider then picks a class and shows its name (647 is
# *jellyfish*). Pick `(noise)` as the image to dream from nothing, or type the path of your own photo.
