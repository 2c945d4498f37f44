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
# In this notebook you will first **write Deep Dream yourself**, in a few short functions:
#
# * the *loss*: the mean activation of a layer, of one channel, or of the jellyfish neuron;
# * one *gradient-ascent step* (GradientTape, normalise by the standard deviation, add, clip);
# * the *loop* of steps, and *octaves* (dream small, enlarge, add back the lost detail);
#
# then check with an assertion that the package's engine (`cadl_utils.dream`) computes the same step,
# and use the engine for what takes longer:
#
# * the *feedback loop* as an animation (the course's `softmax.gif` is this loop on the jellyfish neuron);
# * channels and whole layers; three ways to normalise the gradient;
# * octaves and *tiles* (large images); sliders to explore layers and channels.
#
# **How long it takes.** Measured top to bottom (without touching the sliders, `make lesson-times`)
# on a 2-core CPU that computes bfloat16 natively, with nothing else running: about 25 seconds with
# the `quick` profile (128 px, a few steps) and about 70 seconds with the default `full` profile
# (512 px GIFs of 20 frames x 5 steps; 256 px comparisons). These runs used the untrained stand-in,
# which has inception5h's layers and sizes, so the trained weights cost the same; a CPU without
# bfloat16 runs in float32 and will be slower, a GPU much faster. To switch,
# set `CADL_PROFILE=quick` in the environment before starting Jupyter (e.g. `CADL_PROFILE=quick make
# lab`) and restart the kernel; the cell after the imports prints the active profile.
#
# **Sources.** A. Mordvintsev, C. Olah, M. Tyka, *Inceptionism: Going Deeper into Neural Networks*
# (Google Research blog, 2015) and their `deepdream` notebook, which introduced octaves and the
# normalised step; C. Olah, A. Mordvintsev, L. Schubert, *Feature Visualization* (Distill, 2017) on
# channel and neuron objectives and why high frequencies appear; P. Mital, *Creative Applications of
# Deep Learning with TensorFlow* (Kadenze), session 4, where the jellyfish feedback loop comes from.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

import numpy as np
import tensorflow as tf

from cadl_utils.config import profile
from cadl_utils.dream import DreamSettings, dream, feedback_loop, get_dreamer, normalize_gradient, octave_sizes
from cadl_utils.images import load_image, montage, resize, sample_images, show, show_gif
from cadl_utils.models import load_model
from cadl_utils.objectives import channel, evaluate, layer, neuron
from cadl_utils.widgets import DreamExplorer, show_banner

# %% [markdown]
# Sizes and numbers of steps come from a *profile*: `full` (default) for good pictures, `quick`
# (`CADL_PROFILE=quick`) for a fast run-through, which is what the automatic tests use. The two GIFs
# (the course's `softmax.gif` and a channel's feedback loop) are made at the profile's size (512 px at
# `full`) with the course's 20 frames of 5 gradient steps; the cells that teach a step or set pictures
# side by side work on smaller pictures (`SMALL`, 256 px at `full`), a quarter of the pixels.
# Pictures and GIFs are written to `outputs/deep_dream/` in the repository.
#
# Every setting of the engine's dreams lives in one `DreamSettings` object (its fields, with their
# help, are listed by `help(DreamSettings)`); `dream` and `feedback_loop` take it and any setting as
# a keyword on top of it.

# %%
P = profile()
SETTINGS = DreamSettings(
    steps=max(2, P.steps // 10),  # gradient steps per octave of a single dream
    frames=min(P.frames, 20),  # the course's softmax.gif: 20 frames...
    frame_every=max(1, P.steps // 20),  # ...of 5 gradient steps each
    octaves=min(P.octaves, 3),
)
SMALL = min(P.size, 256)  # side of the teaching cells and the side-by-side comparisons
OUT = Path("../outputs/deep_dream")
OUT.mkdir(parents=True, exist_ok=True)
print(f"profile {P.name}: GIFs {P.size} px, {SETTINGS.frames} frames of {SETTINGS.frame_every} steps; "
      f"comparisons {SMALL} px, {SETTINGS.steps} steps per octave")

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
# If the banner above says the weights are *untrained* (the automatic tests, or no network), the
# network has random filters: every cell runs and the mathematics is the same, but the pictures show
# random textures, not jellyfish, eyes or dogs.
#
# ## 1. The loss: what we want more of
#
# `model.extract(images, names)` runs the network on a batch of images and returns the activations of
# the named layers. A convolutional layer $l$ gives $A^{l}(x) \in \mathbb{R}^{h \times w \times C}$:
# $C$ *channels*, each a map of $h \times w$ positions. We maximise a *mean* of activations:
#
# $$f_{\text{layer}}(x) = \frac{1}{hwC}\sum_{i,j,c} A^{l}_{ijc}(x), \qquad
# f_{\text{channel}}(x) = \frac{1}{hw}\sum_{i,j} A^{l}_{ijc}(x).$$
#
# The last layer, `softmax2`, has no positions: it gives a probability $p_k(x)$ for every class $k$,
# and class 647 is *jellyfish*, so the *neuron* objective is just $f(x) = p_{647}(x)$ (a "channel"
# of a layer with one position). Written out:

# %%
def layer_loss(net, image, name):
    """Mean activation of the whole layer `name` for one image [H, W, 3]."""
    activations = net.extract(image[None], [name])[0]
    return tf.reduce_mean(tf.cast(activations, tf.float32))


def channel_loss(net, image, name, index):
    """Mean activation of channel `index` of layer `name` (for softmax2: the probability of class `index`)."""
    activations = net.extract(image[None], [name])[0]
    return tf.reduce_mean(tf.cast(activations, tf.float32)[..., index])


# %% [markdown]
# `softmax2` needs an image of at least 193 px, so the jellyfish part works on a 224 px square.

# %%
photos = sample_images("photo")
image = load_image(photos["coffee"], size=(224, 224))
show(image, title="the start image, 224 x 224")


# %% [markdown]
# ## 2. The gradient
#
# The gradient $g = \nabla_x f(x)$ has the shape of the image: for every pixel and colour it says how
# much a small increase would raise $f$. TensorFlow computes it with a `GradientTape`, which records
# the computation of $f$ from the watched image and then runs it backwards:

# %%
def gradient(loss, image):
    """(d loss / d image as an array of the image's shape, the loss's value); `loss` maps an image to a scalar."""
    x = tf.constant(image, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(x)
    return tape.gradient(value, x).numpy(), float(value)


# %%
# NBVAL_CHECK_OUTPUT
def jellyfish(x):
    return channel_loss(model, x, "softmax2", 647)


grad, p_jellyfish = gradient(jellyfish, image)
print(f"gradient: one value per pixel and colour: {grad.shape == image.shape}, dtype {grad.dtype}")

# %% [markdown]
# The raw gradient is tiny and its scale changes from image to image, so we divide it by its
# standard deviation $\sigma(g)$ before using it. Shown around grey, it is a faint pattern:

# %%
shown = np.clip(0.5 + 0.15 * grad / (grad.std() + 1e-8), 0.0, 1.0)
show(montage([image, shown], cols=2), title="image and its jellyfish gradient")


# %% [markdown]
# ## 3. One step, and the loop
#
# One *gradient-ascent* step adds a small multiple $\eta$ (the *step size*) of the normalised gradient
# and keeps the pixels in the valid range:
#
# $$x_{t+1} = \operatorname{clip}_{[0,1]}\!\Big(x_t + \eta\,\frac{g_t}{\sigma(g_t) + \epsilon}\Big),
# \qquad g_t = \nabla_x f(x_t).$$

# %%
def ascent_step(loss, image, step_size=0.01):
    """One normalised gradient-ascent step: returns (the new image, the loss before the step)."""
    grad, value = gradient(loss, image)
    grad = grad / (grad.std() + 1e-8)
    return np.clip(image + step_size * grad, 0.0, 1.0), value


def dream_loop(loss, image, steps, step_size=0.01):
    """`steps` ascent steps in a row."""
    for _ in range(steps):
        image, value = ascent_step(loss, image, step_size)
    return image


# %% [markdown]
# A few steps raise the jellyfish probability (with trained weights, a lot; with the untrained
# stand-in, by a little: its "classes" mean nothing):

# %%
stepped = dream_loop(jellyfish, image, steps=SETTINGS.frame_every * 2, step_size=0.02)
print(f"p(jellyfish) before: {float(jellyfish(image)):.5f}")
print(f"p(jellyfish) after : {float(jellyfish(stepped)):.5f}")


# %% [markdown]
# ## 4. Octaves, by hand
#
# Features at one scale give patterns at one scale. *Octaves* dream the image at several sizes, from
# small to large, each $s$ times (the *octave scale*) larger than the previous:
#
# $$(H_k, W_k) = \operatorname{round}\!\big((H, W) / s^{k}\big), \qquad k = n-1, \dots, 1, 0.$$
#
# After each octave the picture is enlarged to the next size and the detail that shrinking had lost,
# $x_k - \operatorname{up}(x_{k+1})$ where $x_k$ is the *start* image at size $k$, is added back, so
# the photo stays sharp while the dream keeps what it painted at the smaller sizes.

# %%
def octave_dream(loss, image, steps, octaves=3, scale=1.4, step_size=0.01):
    """Dream `steps` steps at each of `octaves` sizes, smallest first, re-adding the lost detail."""
    height, width = image.shape[:2]
    sizes = [(round(height / scale**k), round(width / scale**k)) for k in range(octaves)]  # large to small
    shrunk = [image]
    for size in sizes[1:]:
        shrunk.append(resize(shrunk[-1], size))
    x = shrunk[-1]
    for k in reversed(range(octaves)):
        if k < octaves - 1:
            detail = shrunk[k] - resize(shrunk[k + 1], sizes[k])
            x = np.clip(resize(x, sizes[k]) + detail, 0.0, 1.0)
        x = dream_loop(loss, x, steps, step_size)
    return x


# %% [markdown]
# On a cat, with one channel of `mixed4d_3x3_bottleneck_pre_relu` (a layer without a size minimum),
# one octave against three:

# %%
cat = load_image(photos["cat"], size=SMALL)
NAME, INDEX = "mixed4d_3x3_bottleneck_pre_relu", 139


def cat_channel(x):
    return channel_loss(model, x, NAME, INDEX)


one = dream_loop(cat_channel, cat, SETTINGS.steps)
three = octave_dream(cat_channel, cat, SETTINGS.steps, octaves=3)
show(montage([cat, one, three], cols=3), title="start, 1 octave, 3 octaves (our own code)")

# %% [markdown]
# ## 5. The package's engine computes the same step
#
# `cadl_utils.dream` does all of the above, compiled (`tf.function`), with a random shift (*jitter*)
# each step, tiles for large images and more normalisations. With the jitter off, one engine step
# must equal our `ascent_step`. We compare in float32: on CPUs that compute bfloat16 natively, the
# notebook's model runs in bfloat16, whose 8-bit mantissa rounds differently inside a compiled graph
# than step by step (about 1 % apart), so an exact check needs a float32 copy of the network.

# %%
exact = load_model("inception5h", precision="float32")
check = channel("mixed4d_3x3_bottleneck", INDEX).validate(exact)
assert check.layers == (NAME,)  # channel() reads the layer's _pre_relu twin (section 6)
ours, _ = ascent_step(lambda x: channel_loss(exact, x, NAME, INDEX), cat, step_size=0.01)
engine = dream(cat, check, exact, steps=1, octaves=1, jitter=0, step_size=0.01, progress=False).image
assert np.abs(ours - engine).max() < 1e-4, np.abs(ours - engine).max()
our_grad, _ = gradient(lambda x: channel_loss(exact, x, NAME, INDEX), cat)
engine_grad = get_dreamer(exact, check).gradient(cat, settings=DreamSettings(jitter=0, normalize="std"))
assert np.allclose(our_grad / (our_grad.std() + 1e-8), engine_grad, atol=1e-3)
assert np.isclose(float(layer_loss(exact, cat, "mixed4c")), evaluate(layer("mixed4c"), exact, cat), rtol=1e-4)
assert np.isclose(float(channel_loss(exact, image, "softmax2", 647)), evaluate(neuron("jellyfish"), exact, image), rtol=1e-4)

# %% [markdown]
# From here on the lesson uses the engine: `dream(image, objective, model, settings)` for one
# picture, `feedback_loop(...)` for an animation; objectives are `neuron("jellyfish")`,
# `channel(layer, index)` and `layer(name)`.
#
# ## 6. The feedback loop
#
# Repeating the step and keeping a frame every few steps is the course's first result, the
# *feedback loop*: the picture is fed back into the network again and again. `feedback_loop` does
# exactly that (plus the jitter, so that the network's pixel grid does not imprint itself). It
# returns a `Result` whose `frames` we save as a GIF (`result.image` is the last). This is the
# course's `softmax.gif`: the jellyfish neuron, 20 frames of 5 steps, here at the profile's size
# (with the untrained stand-in, see the banner, a texture instead of jellyfish).

# %%
# Course picture: softmax.gif
SIDE = max(224, P.size)  # softmax2 needs at least 193 px
start = load_image(photos["coffee"], size=(SIDE, SIDE))
loop = feedback_loop(start, neuron("jellyfish"), model, SETTINGS, octaves=1, step_size=0.02)
gif = loop.save_gif(OUT / "softmax.gif", duration_ms=150)
show_gif(gif, width=384)

# %% [markdown]
# **Try this:** other classes, e.g. `neuron("volcano")` or `neuron(model.label_index("goldfish"))`;
# a bigger step size (0.05); more frames (`frames=60`).
#
# **Exercise 1.** What happens to the picture when the step size is 10 times larger (`step_size=0.2`)?
#
# <details><summary>Answer</summary>
#
# Each step moves a pixel by about $\eta$ standard deviations of the gradient, so 0.2 moves many
# pixels by a fifth of the whole range at once. The pattern appears after a few frames instead of
# dozens, but harsh: saturated colours, many pixels clipped at 0 or 1 (the clip throws away what
# overshoots), and grainy high-frequency noise, because a large step follows the gradient far beyond
# where it was computed. Small steps repeated give smoother, more detailed shapes.
# </details>

# %% [markdown]
# ## 7. Layers and channels
#
# Any unit of the network can be the objective, with the two means of section 1.
#
# **Before or after the ReLU?** Many convolutional layers of inception5h come in two versions:
# `X_pre_relu` (the convolution plus bias) and `X` (after the ReLU, which sets negative values to 0).
# `channel("X", c)` reads `X_pre_relu` *when the model has that twin*, so that a channel that is
# negative everywhere still has a gradient (after a ReLU it would be exactly zero). Layers without a
# `_pre_relu` twin are read as they are: concatenations such as `mixed4c` (their branches are already
# past their ReLUs), pooling layers and `softmax2`. `layer(name)` always reads exactly the layer it
# names, and `channel(name, c, pre_relu=False)` reads after the ReLU. These layers need no minimum
# size, so the comparisons use the `SMALL` cat again.

# %%
# NBVAL_CHECK_OUTPUT
for requested in ["mixed4d_3x3_bottleneck", "mixed4c"]:
    read = channel(requested, 10).validate(model).layers[0]
    print(f"channel({requested!r}, 10) reads {read} ({model.layer(read).channels} channels)")

# %% [markdown]
# `set_index` changes the channel without recompiling the gradient step, so trying several is cheap:

# %%
probe = channel("mixed4d_3x3_bottleneck", 139)
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
#
# **Exercise 2.** What happens to the picture of a whole ReLU layer, say `layer("mixed4c")`, when you
# dream its *square* mean instead (`layer("mixed4c", squared=True)`)?
#
# <details><summary>Answer</summary>
#
# The gradient of $\frac{1}{N}\sum a^2$ is $\frac{2}{N} a \nabla a$: each activation pulls in
# proportion to how strong it already is. The mean pushes all units a little; the square mean
# lets the strongest features of the picture win, so the dream amplifies what the network already
# "sees" there (the style of the original *Inceptionism* pictures) and looks less uniform. After a
# ReLU, zero activations contribute nothing in either case.
# </details>

# %% [markdown]
# ## 8. Normalising the gradient
#
# The step size only means something if the gradient has a known scale. Our `ascent_step` divided by
# the standard deviation; the engine's `normalize` offers
#
# * `std`: $\hat g = g / (\sigma(g) + \epsilon)$, the usual choice (what we wrote);
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
# **Exercise 3.** With `maxabs`, what happens to the picture over many steps compared with `std`, at
# the same step size?
#
# <details><summary>Answer</summary>
#
# With `maxabs` only the single strongest pixel moves by the full $\eta$; all others move less, and a
# typical pixel much less (the printout above: the standard deviation is about a quarter of the
# maximum for noise, far less for a peaked real gradient). So the picture changes more slowly and the
# change concentrates where the gradient peaks: fewer, more local patterns. `std` moves a typical
# pixel by $\eta$, so the whole image changes at a predictable pace.
# </details>

# %% [markdown]
# ## 9. Octaves with the engine
#
# The engine's octaves are the ones of section 4 (`octave_sizes` lists the sizes, largest last; the
# smallest is kept at least as large as the objective's layer needs):

# %%
# NBVAL_CHECK_OUTPUT
print(octave_sizes((512, 512), octaves=4, scale=1.4))

# %%
counts = [1, 2, 4]
pictures = [dream(cat, probe, model, SETTINGS, octaves=n, normalize="laplacian").image for n in counts]
show(montage(pictures, cols=3), title="1, 2 and 4 octaves")

# %% [markdown]
# **Exercise 4.** What happens to the picture when you dream 4 octaves but forget to add the detail
# back (enlarge the small dream and continue, as if `detail = 0` in `octave_dream`)?
#
# <details><summary>Answer</summary>
#
# Every enlargement from a smaller octave blurs: the photo's edges and textures, lost when it was
# shrunk, never come back, so the result looks like a soft, low-resolution version of the photo
# with sharp dream patterns only from the last octave painted on top. With the detail re-added the
# photo stays as sharp as the original and only the dream's own patterns differ between scales.
# Try it: change `x = np.clip(resize(x, sizes[k]) + detail, 0.0, 1.0)` to `x = resize(x, sizes[k])`.
# </details>

# %% [markdown]
# ## 10. Tiles: large images with bounded memory
#
# The memory of a gradient grows with the number of pixels. With `tile_size` the gradient is computed
# tile by tile, and the whole image is rolled by a random offset each step, so tile borders never
# stay in one place and leave no seams. Here an image twice the comparison size is dreamed in tiles
# of half its side:

# %%
big = load_image(photos["rocket"], size=2 * SMALL)
tiled = dream(big, probe, model, SETTINGS, tile_size=SMALL).image
print(f"{big.shape[1]} x {big.shape[0]} px in tiles of {SMALL} px")
show(tiled)

# %% [markdown]
# **Try this:** a 2048 px image with `tile_size=512` works on a laptop.

# %% [markdown]
# ## 11. Putting it together
#
# A feedback loop on a channel, with octaves and the Laplacian normalisation, at the profile's size,
# saved as a GIF:

# %%
cat_large = load_image(photos["cat"], size=P.size)
loop = feedback_loop(cat_large, probe, model, SETTINGS, normalize="laplacian", step_size=0.02)
gif = loop.save_gif(OUT / "channel_feedback.gif", duration_ms=150)
show_gif(gif, width=384)

# %% [markdown]
# ## 12. Explore with sliders
#
# Pick a layer (the list shows how many channels each has) and a channel or class, then release the
# slider: a small preview is dreamed at once. **Run** renders the full-size GIF.

# %%
explorer = DreamExplorer(model, image="cat", output_dir=OUT)
explorer

# %% [markdown]
# **Try this:** choose the `softmax2` layer: the slider then picks a class and shows its name (647 is
# *jellyfish*). Pick `(noise)` as the image to dream from nothing, or type the path of your own photo.
