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
# # Style transfer
#
# One picture lends its *style* to another. Instead of changing the network, we change the pixels of
# a picture until its deep features match the *content* of one image and the feature statistics
# (Gram matrices) match the *style* of another: here, Van Gogh's *The Starry Night* (1889).
#
# ## Overview
#
# In this notebook you will first **write style transfer yourself**, in a few short functions:
#
# * the *Gram matrix*, which keeps what features occur together but forgets where;
# * the *content loss* (features of one layer, position by position) and the *style loss* (Gram
#   matrices of several layers), normalised exactly as the package does;
# * one *optimisation step* (GradientTape, `keras.optimizers.Adam`, clip to $[0, 1]$);
#
# then check with an assertion that the package's engine (`cadl_utils.style`) computes the same loss
# terms, and use the engine for what takes longer:
#
# * a content-only and a style-only run from noise (texture synthesis), then both together;
# * style without trained weights: random filters on an image pyramid (`random-multiscale`);
# * the course's layer choice (content early, style late) beside the default one;
# * the course's `stylenet.gif` and `stylenet-c.gif`: the optimisation as an animation, with two
#   ratios of the content and style weights;
# * Adam against L-BFGS, weight sweeps, colour preservation, and sliders to explore the weights.
#
# **How long it takes.** Measured top to bottom (without touching the sliders, `make lesson-times`)
# on a 2-core CPU that computes bfloat16 natively, with nothing else running: about 30 seconds with
# the `quick` profile (128 px, 4 iterations per run) and about 80 seconds with the default `full`
# profile (the two course GIFs at 512 px with 100 Adam steps each; the comparisons at 256 px with
# 15 to 30 iterations). These runs used the untrained stand-in, which has inception5h's layers and
# sizes; with trained weights the two GIFs run on inception5h instead of random filters (section 8),
# which adds about 5 seconds. A GPU is much faster. To switch, set
# `CADL_PROFILE=quick` in the environment before starting Jupyter (e.g. `CADL_PROFILE=quick make lab`)
# and restart the kernel; the cell after the imports prints the active profile.
#
# **Sources.** L. A. Gatys, A. S. Ecker, M. Bethge, *A Neural Algorithm of Artistic Style* (arXiv, 2015)
# and *Image Style Transfer Using Convolutional Neural Networks* (CVPR 2016), which introduced the
# Gram-matrix style loss; L. A. Gatys, A. S. Ecker, M. Bethge, *Texture Synthesis Using Convolutional
# Neural Networks* (NeurIPS 2015); I. Ustyuzhaninov, W. Brendel, L. A. Gatys, M. Bethge, *What does it
# take to generate natural textures?* (ICLR 2017), on textures from random filters; P. Mital,
# *Creative Applications of Deep Learning with TensorFlow* (Kadenze), session 4, where the course's
# `stylenet` pictures come from.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from cadl_utils.config import profile
from cadl_utils.images import load_image, montage, sample_images, show, show_gif
from cadl_utils.models import load_model
from cadl_utils.objectives import total_variation
from cadl_utils.style import StyleSettings, StyleTransfer, content_loss, gram_loss, gram_matrix
from cadl_utils.widgets import StyleExplorer, show_banner

# %matplotlib inline

# %% [markdown]
# Sizes and numbers of iterations come from a *profile*: `full` (default) for good pictures, `quick`
# (`CADL_PROFILE=quick`) for a fast run-through, which is what the automatic tests use. The course's two
# GIFs are made at the profile's size (512 px at `full`) with 100 Adam steps and a frame every 5, as
# `make course` makes them; the cells that teach the losses or set runs side by side work on smaller
# pictures (`SMALL`, 256 px at `full`: a quarter of the pixels) with fewer iterations (`STEPS`).
# Pictures and GIFs are written to `outputs/style_transfer/` in the repository. Every option of the
# engine lives in one `StyleSettings` object (`help(StyleSettings)` lists them); the engine takes any
# of them as a keyword.

# %%
P = profile()
SMALL = min(P.size, 256)  # side of the teaching cells and the side-by-side comparisons
STEPS = min(P.steps, 30)  # iterations of a comparison run
OUT = Path("../outputs/style_transfer")
OUT.mkdir(parents=True, exist_ok=True)
print(f"profile {P.name}: GIFs {P.size} px, {P.steps} steps; comparisons {SMALL} px, {STEPS} steps")

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
# If the banner above says the weights are *untrained* (the automatic tests, or no network), the
# network has random filters: every cell runs and the mathematics is the same, but the pictures of the
# inception5h sections show textures, not the painting's strokes on the photo. Section 5 shows how far
# random filters can go when they are chosen for it.
#
# ## The two images

# %%
photo, painting = sample_images("photo")["coffee"], sample_images("style")["starry_night"]
content = load_image(photo, size=SMALL)
style = load_image(painting, size=SMALL)
show(montage([content, style], cols=2), title="content (coffee) and style (The Starry Night)")


# %% [markdown]
# ## 1. The Gram matrix
#
# Let $F^{l}(x) \in \mathbb{R}^{h \times w \times C}$ be the features of picture $x$ at layer $l$
# (`model.extract(images, names)` returns them). Style is texture: which features occur *together*,
# wherever they are. The Gram matrix holds the correlation of every pair of channels, summed over all
# positions:
#
# $$G^{l}_{kk'}(x) = \frac{1}{hwC}\sum_{i,j} F^{l}_{ijk}(x)\,F^{l}_{ijk'}(x), \qquad G^{l} \in \mathbb{R}^{C\times C}.$$
#
# Dividing by $hwC$ makes it independent of the image size. Flatten the positions into one axis and it
# is one matrix product:

# %%
def gram(features):
    """Gram matrices [N, C, C] of feature maps [N, h, w, C], divided by h * w * C."""
    features = tf.cast(features, tf.float32)
    n, h, w, c = features.shape
    flat = tf.reshape(features, [n, h * w, c])
    return tf.matmul(flat, flat, transpose_a=True) / (h * w * c)


# %% [markdown]
# It is symmetric and positive semi-definite (its eigenvalues are $\ge 0$):

# %%
# NBVAL_CHECK_OUTPUT
G = gram(model.extract(style[None], ["mixed3a"])[0])[0].numpy()
eigenvalues = np.linalg.eigvalsh(G.astype(np.float64))
print(f"Gram matrix of mixed3a: shape {G.shape}")
print(f"symmetric: {np.allclose(G, G.T)}, positive semi-definite: {eigenvalues.min() > -1e-6 * eigenvalues.max()}")

# %%
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(G[:64, :64], cmap="viridis")
ax.set_title("Gram matrix of the style image, mixed3a (64 channels)")
ax.set_xlabel("channel k'")
ax.set_ylabel("channel k");


# %% [markdown]
# ## 2. The content loss
#
# The content loss compares the picture with the content image $c$ at one *content layer* $l_c$,
# position by position, so the layout of the scene is kept. The package divides it by the mean square
# of the target's features (plus $\epsilon = 10^{-6}$, so a flat target stays finite), so that the same
# weights suit every layer and network:
#
# $$L_{\text{content}}(x) = \frac{\frac{1}{hwC}\sum_{i,j,k}\big(F^{l_c}_{ijk}(x) - F^{l_c}_{ijk}(c)\big)^{2}}
# {\frac{1}{hwC}\sum_{i,j,k}F^{l_c}_{ijk}(c)^{2} + \epsilon}.$$

# %%
def my_content_loss(net, image, target, layer):
    """Normalised content loss of one image [H, W, 3] against the target features of `layer`."""
    features = tf.cast(net.extract(image[None], [layer])[0], tf.float32)
    raw = tf.reduce_mean(tf.square(features - target))
    return raw / (tf.reduce_mean(tf.square(target)) + 1e-6)


# %% [markdown]
# inception5h's default content layer is `mixed4b`. A blank (grey) picture is a useful yardstick: if
# its features were all zero, the loss would be exactly 1. Computed, not claimed:

# %%
target = tf.cast(model.extract(content[None], ["mixed4b"])[0], tf.float32)
grey = np.full_like(content, 0.5)
print(f"normalised content loss of a grey picture: {float(my_content_loss(model, grey, target, 'mixed4b')):.3f}")
print(f"normalised content loss of the content itself: {float(my_content_loss(model, content, target, 'mixed4b')):.3f}")


# %% [markdown]
# Close to 1, not exactly 1: a grey picture still has features (biases, the picture's border), and
# $\lVert F(g) - F(c)\rVert^2 = \lVert F(c)\rVert^2 + \lVert F(g)\rVert^2 - 2\,F(g)\cdot F(c)$ depends on
# how those features line up with the content's.
#
# ## 3. The style loss
#
# The style loss sums, over the *style layers* $l$ with weights $w_l$, the squared difference between
# the Gram matrices of the picture and of the style image $s$. Each layer is divided by
# $\lVert G^{l}(s)\rVert_F^{2}$ so that every layer counts alike, and the sum by $\sum_l w_l$, so that
# adding layers does not make style stronger:
#
# $$L_{\text{style}}(x) = \frac{1}{\sum_{l} w_l}\sum_{l} w_l\,
# \frac{\lVert G^{l}(x) - G^{l}(s)\rVert_F^{2}}{\lVert G^{l}(s)\rVert_F^{2} + \epsilon}.$$

# %%
def my_style_loss(net, image, target_grams, layer_weights):
    """Normalised style loss of one image against {layer: Gram matrix of the style}, weighted by {layer: w}."""
    names = list(layer_weights)
    total_weight = sum(layer_weights.values())
    loss = 0.0
    for name, features in zip(names, net.extract(image[None], names)):
        target_gram = target_grams[name]
        difference = tf.reduce_sum(tf.square(gram(features) - target_gram))
        size = tf.reduce_sum(tf.square(target_gram)) + 1e-6
        loss += layer_weights[name] / total_weight * difference / size
    return loss


# %% [markdown]
# ## 4. The total loss, one step, and the check against the engine
#
# Optimising pixels directly adds high-frequency noise; the total variation (the mean absolute
# difference of neighbouring pixels) penalises it. The picture minimises the weighted sum
#
# $$L(x) = \alpha\,L_{\text{content}}(x) + \beta\,L_{\text{style}}(x) + \gamma\,\operatorname{TV}(x).$$
#
# One optimisation step: the tape records the loss from the picture (a `tf.Variable`), Adam moves the
# pixels, and they are clipped back to $[0, 1]$:

# %%
def make_loss(net, content_image, style_image, content_layer, layer_weights, alpha=1.0, beta=10.0, gamma=0.1):
    """The total loss of a picture [1, H, W, 3] for these images, layers and weights."""
    content_target = tf.cast(net.extract(content_image[None], [content_layer])[0], tf.float32)
    grams = dict(zip(layer_weights, [gram(f) for f in net.extract(style_image[None], list(layer_weights))]))

    def loss(x):
        return (alpha * my_content_loss(net, x[0], content_target, content_layer)
                + beta * my_style_loss(net, x[0], grams, layer_weights) + gamma * total_variation(x[0]))
    return loss


def step(loss, x, optimizer):
    """One Adam step on the picture variable x [1, H, W, 3]; returns the loss before it."""
    with tf.GradientTape() as tape:
        value = loss(x)
    optimizer.apply_gradients([(tape.gradient(value, x), x)])
    x.assign(tf.clip_by_value(x, 0.0, 1.0))
    return float(value)


# %% [markdown]
# `StyleTransfer` computes the targets ($F^{l_c}(c)$ and every $G^{l}(s)$) once and compiles the loss;
# `engine.losses(picture)` gives its weighted terms. With a float32 copy of the network (the default
# may compute in bfloat16, which rounds), our functions give the same numbers on a noise picture:

# %%
# NBVAL_CHECK_OUTPUT
exact = load_model("inception5h", precision="float32")
engine = StyleTransfer(content, style, exact, size=SMALL)
s = engine.settings
layer_weights = dict(s.style_layers)
noise = np.random.default_rng(0).uniform(size=engine.content.shape).astype(np.float32)
ours = make_loss(exact, engine.content, engine.styles[0], s.content_layer, layer_weights)
content_target = tf.cast(exact.extract(engine.content[None], [s.content_layer])[0], tf.float32)
grams = dict(zip(layer_weights, [gram(f) for f in exact.extract(engine.styles[0][None], list(layer_weights))]))
theirs = engine.losses(noise)
np.testing.assert_allclose(theirs["content"], s.content_weight * float(my_content_loss(exact, noise, content_target, s.content_layer)), rtol=1e-4)
np.testing.assert_allclose(theirs["style"], s.style_weight * float(my_style_loss(exact, noise, grams, layer_weights)), rtol=1e-4)
np.testing.assert_allclose(theirs["total"], float(ours(noise[None])), rtol=1e-4)
np.testing.assert_allclose(gram(content_target).numpy(), gram_matrix(content_target).numpy(), rtol=1e-5, atol=1e-7)
first = next(iter(layer_weights))
f_noise = exact.extract(noise[None], [s.content_layer, first])
np.testing.assert_allclose(float(content_loss(f_noise[0], content_target)),
                           float(tf.reduce_mean(tf.square(tf.cast(f_noise[0], tf.float32) - content_target))), rtol=1e-5)
np.testing.assert_allclose(float(gram_loss(gram_matrix(f_noise[1]), grams[first])),
                           float(tf.reduce_sum(tf.square(gram(f_noise[1]) - grams[first]))), rtol=1e-5)
print(f"content layer {s.content_layer}, style layers {', '.join(layer_weights)}")
print("our Gram matrix, content loss, style loss and total equal the engine's: True")

# %% [markdown]
# The package's raw pieces are `gram_matrix`, `content_loss` (the mean squared difference) and
# `gram_loss` (the sum of squared differences); the engine multiplies them by the factors above.
# A few of our own steps from noise lower our loss:

# %%
x = tf.Variable(noise[None])
optimizer = keras.optimizers.Adam(learning_rate=0.02)
values = [step(ours, x, optimizer) for _ in range(3)]
print("our loss over three Adam steps:", ", ".join(f"{v:.4g}" for v in values))

# %% [markdown]
# ## 5. Content only, style only, then both
#
# From here on the engine does the long runs (compiled, with frames for GIFs). Starting from noise,
# the content term alone rebuilds the photo from its `mixed4b` features, the style term alone
# synthesises a *texture* with the painting's statistics and no layout at all (Gatys et al.'s texture
# synthesis), and both together give style transfer. From noise, a few iterations are not enough, so
# these runs take at least 20 (30 at `full`):

# %%
NOISE_STEPS = max(20, min(P.steps, 30))
engine = StyleTransfer(content, style, model, size=SMALL)
content_only = engine.run(steps=NOISE_STEPS, init="noise", style_weight=0, tv_weight=0.01, optimizer="lbfgs")
style_only = engine.run(steps=NOISE_STEPS, init="noise", content_weight=0, optimizer="lbfgs")
both = engine.run(steps=NOISE_STEPS, init="noise", optimizer="lbfgs")
for name, result in {"content only": content_only, "style only": style_only, "both": both}.items():
    print(f"{name:12s}: total loss {result.history['total'][0]:.3g} -> {result.history['total'][-1]:.3g}")
show(montage([content_only.image, style_only.image, both.image], cols=3),
     title="from noise: content only, style only (texture), both")

# %% [markdown]
# With trained weights the content-only picture shows the cup's layout without its fine detail, and
# the style-only one the painting's strokes and palette spread evenly. With the untrained stand-in
# all three stay close to noise: the losses fall (printed above), but random inception filters are
# satisfied by noise-like pixels. The next section shows a texture that works without training.

# %% [markdown]
# ## 6. Style without trained weights
#
# Ustyuzhaninov, Brendel, Gatys and Bethge (2017) found that the Gram statistics of a *single* layer of
# random filters of several sizes synthesise textures nearly as well as a trained network.
# `load_model("random-multiscale")` is such a network: seeded random 5x5 filters on every level of an
# image pyramid (a filter on the picture halved $k$ times spans about $5 \cdot 2^{k}$ pixels), then a
# ReLU. It needs no download. A texture from noise at 128 px, the style term only, with L-BFGS:

# %%
texture_model = load_model("random-multiscale")
print(texture_model.describe())
small = load_image(sample_images("style")["starry_night"], size=128)
texture = StyleTransfer(small, small, texture_model, size=128).run(
    steps=max(20, P.steps), init="noise", content_weight=0, tv_weight=0.01, optimizer="lbfgs")
show(montage([small, texture.image], cols=2), title="The Starry Night and a texture from random filters")

# %% [markdown]
# Honestly: random filters capture the palette, the stars and the brush strokes, but not the swirls.
# Long coherent swirls are a structure of many pixels, and only a trained network has features that
# respond to them. With the untrained inception5h the pictures of the other sections are textures too.
#
# ## 7. The course's layers
#
# The CADL course put the content loss at an *early* layer and the style loss at *late* layers;
# `StyleSettings(layers="course")` is that choice, `layers="default"` today's (content late, style
# from early to middle layers):

# %%
# NBVAL_CHECK_OUTPUT
for preset in ("default", "course"):
    chosen = StyleTransfer(content, style, model, StyleSettings(layers=preset), size=SMALL).settings
    print(f"{preset:8s} content {chosen.content_layer:8s} style {', '.join(n for n, _ in chosen.style_layers)}")

# %%
course = StyleTransfer(content, style, model, StyleSettings(layers="course"), size=SMALL)
default_run = engine.run(steps=STEPS, optimizer="lbfgs")
course_run = course.run(steps=STEPS, optimizer="lbfgs")
show(montage([default_run.image, course_run.image], cols=2), title='layers="default" and layers="course"')

# %% [markdown]
# Why they differ: an early content layer such as `conv2d2` still holds the photo's edges, position by
# position, so matching it pins every contour in place and the style can only add patches of colour
# between them. A late content layer such as `mixed4b` keeps only the layout (what is roughly where)
# at a stride of 16 pixels, so the fine detail is free and the style's strokes fill it in. Conversely
# the course's late style layers carry large motifs but little of the fine brushwork. (With trained
# weights the difference is plain; with the untrained stand-in both are textures.)
#
# ## 8. Optimising with Adam
#
# Adam keeps running averages of the gradient $g_t$ and of its square, and takes steps of about the
# learning rate $\lambda$ in every pixel:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^{2}, \quad
# x_{t} = \operatorname{clip}_{[0,1]}\!\Big(x_{t-1} - \lambda\,\frac{m_t / (1-\beta_1^{t})}{\sqrt{v_t/(1-\beta_2^{t})} + \epsilon}\Big).$$
#
# The picture starts as the content image, and a frame is kept every few steps: the optimisation as an
# animation. That is the course's `stylenet.gif`: The Starry Night's style on the photograph, 100 Adam
# steps with a frame every 5, at the profile's size. With trained weights it runs on inception5h; with
# the untrained stand-in (see the banner) on `random-multiscale` (section 6), whose random filters carry
# at least the painting's palette, where the untrained inception5h would give noise.

# %%
# Course picture: stylenet.gif
STYLE_MODEL = texture_model if model.weights == "untrained" else model
stylenet = StyleTransfer(photo, painting, STYLE_MODEL, size=P.size)  # the files, read at the profile's size
adam = stylenet.run(steps=P.steps, optimizer="adam", frame_every=max(1, P.steps // 20))
print(f"{STYLE_MODEL.name}: {adam.steps_done} Adam steps in {adam.seconds:.1f} s, "
      f"loss {adam.history['total'][0]:.3g} -> {adam.history['total'][-1]:.3g}, {len(adam.frames)} frames")
gif = adam.save_gif(OUT / "stylenet.gif", duration_ms=150)
show_gif(gif, width=384)

# %% [markdown]
# The course's `stylenet-c.gif` is the same optimisation with other weights for the content and style
# losses: content 1 and style 1 instead of 1 and 10 (the weights `make course` uses), on the same
# engine (the targets are computed once), so more of the photograph stays.

# %%
# Course picture: stylenet-c.gif
other = stylenet.run(steps=P.steps, optimizer="adam", frame_every=max(1, P.steps // 20),
                     content_weight=1.0, style_weight=1.0)
gif = other.save_gif(OUT / "stylenet-c.gif", duration_ms=150)
show_gif(gif, width=384)
print(f"mean difference between the last frames of the two GIFs: {np.abs(other.image - adam.image).mean():.3f}")

# %% [markdown]
# Why less style and not more? Starting from the photograph, 100 Adam steps at 1:10 already carry
# about as much style as they can: 1:100 gives almost the same picture (try it). The picture starts as
# the content, so the content term starts at 0 and every run first follows the style gradient alone;
# Adam's steps have about the same size whatever the gradient's scale; and the content term only
# pulls back once the picture has moved away from the photo. A weight that lets it pull back sooner,
# like 1:1, changes the picture visibly (the printed difference is on the 0..1 pixel range: with
# the random filters a few hundredths, the photograph's warm colours coming back). Section 10's
# sweep shows the whole range.

# %% [markdown]
# ## 9. Adam versus L-BFGS
#
# L-BFGS builds an estimate of the curvature from its last few gradients and takes Newton-like steps
# with a line search. It needs more work per iteration but usually far fewer iterations. Section 7's
# `default_run` was L-BFGS from the content; we run Adam from the same start, on the same (`SMALL`)
# engine, and plot both loss curves:

# %%
adam = engine.run(steps=STEPS, optimizer="adam")
lbfgs = default_run
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, result in {"Adam": adam, "L-BFGS": lbfgs}.items():
    ax.semilogy(result.history["total"], marker="o", label=f"{name} ({result.seconds:.1f} s)")
ax.set_xlabel("iteration")
ax.set_ylabel("total loss")
ax.legend();

# %%
show(montage([adam.image, lbfgs.image], cols=2), title="Adam and L-BFGS after the same number of iterations")

# %% [markdown]
# ## 10. Weight sweeps
#
# Only the *ratio* of the weights matters much. A sweep runs once per (content, style) weight pair, from
# the same start, reusing the targets and the compiled loss:

# %%
pairs = [(1.0, 0.1), (1.0, 1.0), (1.0, 10.0), (1.0, 100.0)]
sweep = engine.sweep(pairs, steps=max(2, STEPS // 2), optimizer="lbfgs")
show(sweep.grid(cols=len(pairs)), title="content : style = " + ", ".join(f"{c:g}:{s:g}" for c, s in sweep.pairs))

# %%
gif = sweep.save_gif(OUT / "weight_sweep.gif", duration_ms=500)
show_gif(gif, width=320)

# %% [markdown]
# **Try this:** sweep the TV weight instead (`engine.set_term_weights(tv_weight=...)` before each run), or
# blend two styles: `StyleTransfer(content, [style_a, style_b], model, blend=[0.7, 0.3])`.
#
# ## 11. Colour preservation
#
# To keep the photo's colours, the picture is split into luminance and colour (the YIQ colour space):
#
# $$Y = 0.299\,R + 0.587\,G + 0.114\,B.$$
#
# Only $Y$ is optimised (the network sees it as a grey picture, against a style image whose
# luminance is matched to the content's), and the content's colour channels $I, Q$ are put back at the end.

# %%
keep = StyleTransfer(content, style, model, size=SMALL, preserve_color=True)
colour = keep.run(steps=STEPS, optimizer="lbfgs")
show(montage([content, lbfgs.image, colour.image], cols=3), title="content, style transfer, with colours preserved")

# %% [markdown]
# ## Exercises
#
# 1. **What does the style loss of a picture against a *shuffled* copy of the style image give?** Cut
#    the painting into tiles, shuffle them, and compute `my_style_loss` of the shuffled picture.
#
#    <details><summary>Answer</summary>
#
#    Close to 0 (not exactly: the borders between tiles add a few new feature pairs). The Gram
#    matrix sums over positions, so moving pieces around barely changes it: style is what occurs
#    together, not where. The content loss of the shuffled picture against the painting, by contrast,
#    is large.
#
#    ```python
#    t = 32
#    h, w = (style.shape[0] // t) * t, (style.shape[1] // t) * t
#    tiles = [style[i:i + t, j:j + t] for i in range(0, h, t) for j in range(0, w, t)]
#    order = np.random.default_rng(1).permutation(len(tiles))
#    rows = [np.concatenate([tiles[k] for k in order[r:r + w // t]], 1) for r in range(0, len(tiles), w // t)]
#    shuffled = np.concatenate(rows, 0)
#    targets = {n: gram(f) for n, f in zip(layer_weights, model.extract(style[None, :h, :w], list(layer_weights)))}
#    print(float(my_style_loss(model, shuffled, targets, layer_weights)))
#    ```
#    </details>
#
# 2. **What happens to the picture when the style weight grows from 0.1 to 1000 (content weight 1)?**
#
#    <details><summary>Answer</summary>
#
#    At 0.1 the picture stays the photo; towards 1000 the layout dissolves into the texture of the
#    style-only run of section 5. The sweep of section 10 shows the way between; as the total is
#    scaled to start at 1, only the ratio matters, so `(10, 100)` gives the same picture as `(1, 10)`.
#    </details>
#
# 3. **Why does a texture from `random-multiscale` show the stars but not the swirls, and what would
#    you change to get larger structures?**
#
#    <details><summary>Answer</summary>
#
#    A filter sees at most about $5 \cdot 2^{k}$ pixels on pyramid level $k$, and its Gram statistics
#    only say which random responses co-occur, not how they line up along a curve. Stars (bright dots
#    of one size) and strokes (short oriented patches) are local; a swirl is a long coherent curve.
#    More iterations and a larger picture help a little (the trial needed 400 iterations);
#    really capturing swirls needs features trained to respond to such shapes (inception5h, VGG19).
#    </details>
#
# ## 12. Explore with sliders
#
# The content, style and TV weights are logarithmic sliders, and the layer preset (default or course)
# is a menu; a few steps at a small size preview the result when you release one. **Run** renders the
# progression GIF at full size.
#
# **Try this:** choose another style image from the list, or type the path of your own content
# photo; tick *preserve colour* and compare.

# %%
explorer = StyleExplorer(model, content="coffee", style="starry_night", output_dir=OUT)
explorer
