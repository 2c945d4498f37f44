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
# # Guided hallucination
#
# Take two pictures: the *dream* and the *guide*. The network describes each of them with a vector of
# features. How alike are the two vectors? And which change to the dream would make them more alike,
# or less? Following that gradient shows what the network considers similar.
#
# ## Overview
#
# In this notebook you will first **write the guided loss yourself**, one small function per term:
#
# * the *feature terms*: the dream's and the guide's features at a layer, compared by dot product,
#   L1 or L2 distance, either averaged over positions (*pooled*) or position by position, as the
#   course did;
# * the *pixel term* (L1 or L2 distance of the pictures) and the *total variation* (noise);
#
# then check with an assertion that the package (`cadl_utils.guided`, `cadl_utils.objectives`)
# computes the same values, and **look at every term**: its gradient as a picture, and what one step
# of it alone does to the dream. After that the engine, `guided(...)`, does the long runs: the seven
# variants of the course as presets, saved under the course's own file names (`guided.gif`,
# `guided2.gif`, ...) and shown side by side, the pooled and the position-by-position form of one
# preset next to each other, and sliders to mix the terms.
#
# **How long it takes.** Measured top to bottom (without touching the sliders, `make lesson-times`)
# on a 2-core CPU that computes bfloat16 natively, with nothing else running: about 25 seconds with
# the `quick` profile (128 px, 4 steps per preset) and about 1 min 53 s with the default `full`
# profile (512 px). Most of it (about 90 s) is the seven course pictures, 512 px and 100 steps each:
# per preset about 10 s of gradient steps, 1.5 s to measure the guide and compile the step, 1.6 s to
# write the GIF. The rest of the lesson works on 256 px copies wherever 512 px would show nothing
# more (gradient pictures, our own loop, comparisons).
# These runs use the untrained stand-in, which has inception5h's layers and sizes, so the trained
# weights cost the same; a CPU without bfloat16 is slower, a GPU much faster. To switch, set
# `CADL_PROFILE=quick` in the environment before starting Jupyter (e.g. `CADL_PROFILE=quick make
# lab`) and restart the kernel; the cell after the imports prints the active profile.
#
# **Sources.** A. Mordvintsev, C. Olah, M. Tyka, *Inceptionism: Going Deeper into Neural Networks*
# (Google Research blog, 2015), where a guide image steers a dream; A. Mahendran, A. Vedaldi,
# *Understanding Deep Image Representations by Inverting Them* (CVPR 2015), which matches an image's
# features to a target's with a total-variation prior, the "-L2 feature distance, -TV" recipe below;
# C. Olah, A. Mordvintsev, L. Schubert, *Feature Visualization* (Distill, 2017) on regularisers and
# why high frequencies appear; P. Mital, *Creative Applications of Deep Learning with TensorFlow*
# (Kadenze), session 4, whose guided-hallucination variants the presets reproduce.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

import numpy as np
import tensorflow as tf
from IPython.display import HTML, display

from cadl_utils.config import profile
from cadl_utils.guided import (COURSE_FILES, PRESETS, compute_guide_features, feature_scale, feature_term,
                                feature_vector, guided, pixel_distance)
from cadl_utils.images import gif_html, load_image, montage, resize, sample_images, show, show_gif
from cadl_utils.models import load_model
from cadl_utils.objectives import total_variation
from cadl_utils.widgets import GuidedExplorer, show_banner

# %%
P = profile()
OUT = Path("../outputs/guided_hallucination")
OUT.mkdir(parents=True, exist_ok=True)
print(f"profile {P.name}: {P.size} px, {P.steps} steps")

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
# If the banner above says the weights are *untrained* (the automatic tests, or no network), the
# network has random filters: every cell runs and the mathematics is the same, but the pictures show
# random textures, not the guide's objects.
#
# ## The two subjects
#
# Subject 1 is the *dream* (the picture that changes), subject 2 the *guide*. Both are cut to the same
# square size here, so that the pixel terms compare them pixel by pixel.

# %%
photos = sample_images("photo")
dream_image = load_image(photos["cat"], size=(P.size, P.size))
guide_image = load_image(photos["astronaut"], size=(P.size, P.size))
show(montage([dream_image, guide_image], cols=2), title="subject 1: dream (cat), subject 2: guide (astronaut)")


# %% [markdown]
# ## 1. The feature terms
#
# `model.extract(images, names)` returns a layer's activations: for layer $l$ a map
# $F^{l}(x) \in \mathbb{R}^{h \times w \times C}$. We average it over the positions into one vector of
# $C$ channel means,
#
# $$\bar F(x) = \frac{1}{hw}\sum_{i,j} F^{l}_{ij}(x) \in \mathbb{R}^{C},$$
#
# so that dream and guide may differ in size and layout, and the guide's vector is computed once:
# the **pooled** form, the package's default. **The CADL course compared the two feature maps position
# by position** instead: both pictures of one size, each map flattened into one long vector of
# $h \cdot w \cdot C$ numbers, $F_{ij}(x)$ against $F_{ij}(g)$ at every $i, j$. That asks the dream
# to put things *where* the guide has them; pooling keeps only *what* is there. The package offers both
# (`compare="pooled"` or `compare="positions"`), and section 7 shows the difference.
#
# With $r$ the root-mean-square of the guide's vector $\bar F(g)$ as the unit (so that one number means
# the same on every layer), the three terms are (for the course's form, read $\bar F$ as the flattened
# map and $C$ as its length $hwC$)
#
# $$S_{\text{dot}}(x) = \frac{1}{C r^{2}}\sum_{c} \bar F_c(x)\,\bar F_c(g), \qquad
# D_{1}(x) = \frac{1}{C r}\sum_{c} \big|\bar F_c(x) - \bar F_c(g)\big|, \qquad
# D_{2}(x) = \frac{1}{r}\sqrt{\frac{1}{C}\sum_{c} \big(\bar F_c(x) - \bar F_c(g)\big)^{2}}.$$
#
# $S_{\text{dot}}$ grows as the dream contains more of what the guide contains ($1$ when equal);
# $D_1$ and $D_2$ are distances ($0$ when equal). Written out:

# %%
LAYER = "mixed4c"


def pooled(net, image, name=LAYER):
    """The channel means of layer `name` for one image [H, W, 3]: a [1, C] tensor."""
    maps = tf.cast(net.extract(image[None], [name])[0], tf.float32)
    return tf.reduce_mean(maps, axis=[1, 2])


def flattened(net, image, name=LAYER):
    """The course's form: the whole map of layer `name`, position by position, as one [1, h*w*C] tensor."""
    maps = tf.cast(net.extract(image[None], [name])[0], tf.float32)
    return tf.reshape(maps, [1, -1])


def rms(vector):
    """The root-mean-square of a vector: the unit of the feature terms."""
    return float(np.sqrt(np.mean(np.square(np.asarray(vector, np.float64)))))


def feature_dot(d, g, r):
    return tf.reduce_mean(d * g) / r**2


def feature_l1(d, g, r):
    return tf.reduce_mean(tf.abs(d - g)) / r


def feature_l2(d, g, r):
    return tf.sqrt(tf.reduce_mean(tf.square(d - g))) / r


FEATURE_TERMS = {"dot": feature_dot, "l1": feature_l1, "l2": feature_l2}

# %%
# NBVAL_CHECK_OUTPUT
guide_vector = pooled(model, guide_image)[0]
r = rms(guide_vector)
print(f"guide vector at {LAYER}: {guide_vector.shape[0]} channel means")
for metric, term in FEATURE_TERMS.items():
    print(f"guide vs itself, {metric}: {float(term(guide_vector[None], guide_vector, r)):.3f}")
doubled = 2 * guide_vector[None]  # a dream with twice the guide's features
print(f"twice the guide: dot {float(feature_dot(doubled, guide_vector, r)):.3f}, "
      f"L2 {float(feature_l2(doubled, guide_vector, r)):.3f}, "
      f"L1 at most L2: {float(feature_l1(doubled, guide_vector, r)) <= float(feature_l2(doubled, guide_vector, r)) + 1e-6}")

# %%
dream_vector = pooled(model, dream_image)
guide_map, dream_map = flattened(model, guide_image)[0], flattened(model, dream_image)
print(f"pooled: {guide_vector.shape[0]} numbers per picture; position by position: {guide_map.shape[0]}")
for metric, term in FEATURE_TERMS.items():
    print(f"dream vs guide, {metric}: pooled {float(term(dream_vector, guide_vector, r)):.3f}, "
          f"position by position {float(term(dream_map, guide_map, rms(guide_map))):.3f}")


# %% [markdown]
# The dot term has no maximum: a dream with twice the guide's features scores 2, so ascending it
# never stops, it keeps amplifying the guide's features. The distances are measured in units of $r$:
# twice the guide is exactly one unit away in L2 ($\lVert g \rVert / r = 1$), and L1, a mean of
# absolute values, is never more than L2, a root mean square. Position by position the cat and the
# astronaut are further apart than pooled (the numbers above): their channel means may be alike
# while the things sit in other places, and a map compared position by position counts every
# misplaced feature.
#
# ## 2. The pixel term and the total variation
#
# As pictures, dream and guide are compared colour by colour:
#
# $$P_{1}(x) = \frac{1}{3HW}\sum_{i,j,k} |x_{ijk} - g_{ijk}|, \qquad
# P_{2}(x) = \frac{1}{3HW}\sum_{i,j,k} (x_{ijk} - g_{ijk})^{2}.$$
#
# The total variation measures noise, the mean absolute difference between neighbouring pixels:
#
# $$\operatorname{TV}(x) = \tfrac{1}{2}\Big(\operatorname{mean}_{ijk}|x_{i+1,j,k} - x_{ijk}|
# + \operatorname{mean}_{ijk}|x_{i,j+1,k} - x_{ijk}|\Big).$$

# %%
def pixel_l1(x, g):
    return tf.reduce_mean(tf.abs(x - g))


def pixel_l2(x, g):
    return tf.reduce_mean(tf.square(x - g))


def tv(x):
    down = tf.reduce_mean(tf.abs(x[1:] - x[:-1]))
    right = tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]))
    return 0.5 * (down + right)


# %%
# NBVAL_CHECK_OUTPUT
rng = np.random.default_rng(0)
flat = np.full((64, 64, 3), 0.5, np.float32)
noise = rng.uniform(size=(64, 64, 3)).astype(np.float32)
print(f"TV of a flat image: {float(tv(flat)):.3f}, of uniform noise: {float(tv(noise)):.2f}")
print(f"pixel l1 / l2 of flat grey vs noise: {float(pixel_l1(flat, noise)):.2f} / {float(pixel_l2(flat, noise)):.3f}")

# %%
print(f"pixel l1 / l2, dream vs guide: {float(pixel_l1(dream_image, guide_image)):.3f} / "
      f"{float(pixel_l2(dream_image, guide_image)):.3f}")
print(f"TV: dream {float(tv(dream_image)):.3f}, guide {float(tv(guide_image)):.3f}")

# %% [markdown]
# ## 3. The package computes the same terms
#
# `cadl_utils.guided` has these functions as `feature_vector` (our `pooled` with `compare="pooled"`,
# our `flattened` with `compare="positions"`), `feature_scale`, `feature_term` and `pixel_distance`
# (which also crops and resizes a guide of another shape), and `cadl_utils.objectives.total_variation`.
# Their values must equal ours, in both forms. As in lesson 01 we compare on
# a float32 copy of the network: on CPUs that compute bfloat16 natively the notebook's model runs in
# bfloat16, whose rounding differs between graphs by about 1 %.

# %%
exact = load_model("inception5h", precision="float32")
maps = exact.extract(dream_image[None], [LAYER])[0]
for ours_vector, compare in ((pooled, "pooled"), (flattened, "positions")):
    d, g = ours_vector(exact, dream_image), ours_vector(exact, guide_image)[0]
    assert np.allclose(d, feature_vector(maps, compare), rtol=1e-5, atol=1e-6), compare
    assert np.isclose(rms(g), feature_scale(g), rtol=1e-6)
    for metric, term in FEATURE_TERMS.items():
        ours, package = float(term(d, g, rms(g))), float(feature_term(d, g, metric, feature_scale(g)))
        assert np.isclose(ours, package, rtol=1e-4, atol=1e-6), (compare, metric, ours, package)
for metric, term in {"l1": pixel_l1, "l2": pixel_l2}.items():
    ours, package = float(term(dream_image, guide_image)), float(pixel_distance(dream_image[None], guide_image, metric))
    assert np.isclose(ours, package, rtol=1e-4, atol=1e-6), (metric, ours, package)
assert np.isclose(float(tv(dream_image)), float(total_variation(dream_image)), rtol=1e-5)
assert np.isclose(float(tv(noise)), float(total_variation(noise)), rtol=1e-5)


# %% [markdown]
# ## 4. Every term as a picture
#
# Each term has a gradient with the shape of the image. Shown around grey ($0.5 + g / (4\sigma(g))$,
# clipped, as lesson 01 showed the jellyfish gradient), it says which pixels the term wants brighter
# (light) or darker (dark). Next to it, **one step of that term alone** from the dream, in the
# direction the course's presets use it: the feature dot product and the feature distances are
# *ascended* here ($+$, as in the presets `dot_notv`, `l1`, `l2`), the pixel distance and the total
# variation are *descended* ($-$, as in every preset that has them):
#
# $$x_{1} = \operatorname{clip}_{[0,1]}\!\Big(x_0 \pm \eta\,\frac{g}{\sigma(g) + \epsilon}\Big), \qquad g = \nabla_x T(x_0).$$
#
# A large step ($\eta = 0.1$) makes one step visible. Pictures of gradients need no 512 px: this
# section and the next work on 256 px copies of the two subjects, a quarter of the pixels to wait for.

# %%
SMALL = min(P.size, 256)
x0, g0 = resize(dream_image, (SMALL, SMALL)), resize(guide_image, (SMALL, SMALL))
g0_vector, g0_map = pooled(model, g0)[0], flattened(model, g0)[0]
r0, r0_map = rms(g0_vector), rms(g0_map)


def gradient(loss, image):
    """(d loss / d image as an array of the image's shape, the loss's value)."""
    x = tf.constant(image, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(x)
    return tape.gradient(value, x).numpy(), float(value)


def as_picture(grad):
    """A gradient shown around grey."""
    return np.clip(0.5 + grad / (4 * grad.std() + 1e-8), 0.0, 1.0)


def one_step(grad, image, sign, step_size=0.1):
    return np.clip(image + sign * step_size * grad / (grad.std() + 1e-8), 0.0, 1.0)


TERMS = {  # name: (the term as a function of the dream x, the sign the presets give it)
    "+feature dot": (lambda x: feature_dot(pooled(model, x), g0_vector, r0), +1),
    "+feature dot, position by position": (lambda x: feature_dot(flattened(model, x), g0_map, r0_map), +1),
    "+feature L1": (lambda x: feature_l1(pooled(model, x), g0_vector, r0), +1),
    "+feature L2": (lambda x: feature_l2(pooled(model, x), g0_vector, r0), +1),
    "-pixel L1": (lambda x: pixel_l1(x, g0), -1),
    "-pixel L2": (lambda x: pixel_l2(x, g0), -1),
    "-TV": (tv, -1),
}
gradients = {name: gradient(term, x0)[0] for name, (term, _) in TERMS.items()}
for name, (_, sign) in TERMS.items():
    grad = gradients[name]
    show(montage([as_picture(grad), one_step(grad, x0, sign)], cols=2),
         title=f"{name}: its gradient around grey, and one step of it alone", width=2 * max(SMALL, 192))

# %% [markdown]
# What to look for (with trained weights; the untrained stand-in shows the same kinds of pattern, but
# random ones):
#
# * the three pooled **feature** gradients are fine textures spread over the whole picture: pooling
#   threw the positions away, so every position may add what the guide's vector has more of. `dot`
#   adds the guide's features; `L1` and `L2` (ascended) push each channel mean *away* from the guide's
#   value, so they differ from `dot` wherever the dream has less of a channel than the guide;
# * the dot product **position by position** asks each place of the dream for the features the guide
#   has *at that place*: its gradient carries the guide's layout (with trained weights, the
#   astronaut's outline shows through), where the pooled one is the same texture everywhere;
# * the **pixel** gradients are the guide itself minus the dream: a faint astronaut over a negative
#   cat. L1's gradient is only the *sign* of each difference (every pixel pulls equally hard), L2's is
#   proportional to the difference, so large differences dominate;
# * the **TV** gradient sits on the edges: it flattens every step between neighbours.
#
# ### What TV removes
#
# Descending TV for a few steps blurs; the difference between the dream and its smoothed copy is the
# high-frequency image that the $-\operatorname{TV}$ term removes from the dream, shown around grey:

# %%
smoothed = dream_image
for _ in range(10):
    smoothed = one_step(gradient(tv, smoothed)[0], smoothed, -1, step_size=0.02)
removed = dream_image - smoothed
show(montage([dream_image, smoothed, as_picture(removed)], cols=3),
     title="dream, after 10 steps of -TV, and what they removed (around grey)", width=3 * max(P.size, 160))


# %% [markdown]
# ## 5. Composing the terms
#
# The dream follows the gradient of one weighted sum, ascending it as in lesson 1:
#
# $$J(x) = w_f\,S(x) + w_p\,P(x) + w_{tv}\,\operatorname{TV}(x), \qquad
# x_{t+1} = \operatorname{clip}_{[0,1]}\!\Big(x_t + \eta\,\frac{\nabla J(x_t)}{\sigma(\nabla J(x_t))}\Big),$$
#
# where $S$ is one of $S_{\text{dot}}, D_1, D_2$. A negative weight *descends* a term: $-P$ pulls the
# dream towards the guide's pixels, $-\operatorname{TV}$ smooths it, $-D_1$ moves its features
# towards the guide's.
#
# The raw feature gradient is 15 to 500 times stronger than the pixel one, depending on the layer. So
# the engine multiplies $S$ by a *balance gain* measured once on the guide. That gain is **calibrated
# for the dot term against the pixel L1 term only**: with $w_f = w_p = 1$, $S_{\text{dot}}$ and $P_1$
# pull about equally hard. For $D_1$, $D_2$ or $P_2$ equal weights do *not* pull equally hard (their
# gradients have other sizes, and $P_2$'s shrinks as the dream approaches the guide); compare the
# standard deviations of the gradients of section 4 to see by how much. (The engine's `l2_neg` preset
# therefore weights its L2 pixel term $-0.4$, not $-0.2$: $P_2$'s gradient is $2(x - g)/3HW$, so at the
# typical distance of two photographs, $|x - g| \approx 0.25$, it is half as large as $P_1$'s.)
#
# Our own loop uses the gain the engine measures on the guide (`compute_guide_features`). Its
# gradient is wrapped in `tf.function`: TensorFlow traces the Python function once into a graph and
# then runs the graph, the same arithmetic several times faster than op by op (the engine does the
# same). To be quick we take half the profile's steps, each twice as long: the same distance.

# %%
def guided_loop(x, feature_weight, pixel_weight, tv_weight, steps, gain, step_size=0.01):
    """`steps` ascent steps of gain * feature_weight * dot + pixel_weight * pixel L1 + tv_weight * TV."""
    @tf.function
    def total_gradient(y):
        with tf.GradientTape() as tape:
            tape.watch(y)
            total = (gain * feature_weight * feature_dot(pooled(model, y), g0_vector, r0)
                     + pixel_weight * pixel_l1(y, g0) + tv_weight * tv(y))
        return tape.gradient(total, y)

    for _ in range(steps):
        x = one_step(total_gradient(tf.constant(x)).numpy(), x, +1, step_size)
    return x


gain = compute_guide_features(model, g0, LAYER).gains[LAYER]
print(f"balance gain at {LAYER}: {gain:.3g}")
mixed = guided_loop(x0, 1.0, -0.5, -0.5, steps=max(1, P.steps // 2), gain=gain, step_size=0.02)
show(montage([x0, mixed], cols=2), title="before and after: +dot -0.5 pixel(L1) -0.5 tv (our loop)",
     width=2 * max(SMALL, 192))

# %% [markdown]
# **Exercise 1.** Run `guided_loop` with `feature_weight=0` and `pixel_weight=-1` for many steps
# (`steps=100`). What does the picture become, and how fast?
#
# <details><summary>Answer</summary>
#
# Only $-P_1$ (and TV) remain, so each step moves every pixel towards the guide. The gradient of
# $P_1$ is the sign of $x - g$ divided by $3HW$; normalised by its standard deviation it is about
# $\pm 1$ everywhere, so every pixel moves by about $\eta = 0.01$ per step, whatever the difference.
# After roughly $|x - g| / 0.01$ steps a pixel reaches the guide and then jitters around it. With
# differences of up to 1, 100 steps bring most of the picture to the astronaut: a cross-fade in
# which the smallest differences finish first. The network plays no part at all.
# </details>
#
# ## 6. The engine
#
# From here on the lesson uses `cadl_utils.guided`: `guided(dream, guide, preset=..., model=...)` runs
# a preset as a feedback loop (with jitter, octaves, tiles, a GIF), with the terms of section 3 as
# objectives and the balance gain of section 5 applied. Each preset fixes who starts, who guides, and
# the signs of the terms. **Every preset keeps the pixel term**, descended: the course added the
# negative pixel-loss gradient to all its pictures. `dot_notv` drops only TV, so its dot-product
# texture stays unsmoothed. `l2_neg` uses the L2 pixel distance as well as the L2 feature distance,
# weighted $-0.4$ (section 5); all the others use L1 for the pixels:

# %%
# NBVAL_CHECK_OUTPUT
for name, preset in PRESETS.items():
    print(f"{name:8s} starts from {preset.start:5s}, guided by {preset.guide:5s}: {preset.signs()}")

# %% [markdown]
# `guided` returns a `GuidedResult`: its `frames` (`image` is the last one), the preset and the layers
# used. Every setting (`steps`, `step_size`, `layers`, the term weights...) lives in one
# `GuidedSettings` and can be given by keyword. We run all seven at the profile's size and number of
# steps and save a GIF of each under **the course's file name** (`COURSE_FILES`: `self` makes
# `guided.gif`, `swapped` `guided2.gif`, `l1_neg` `guided_l1_-fl.gif`, "-fl" for the negative feature
# loss, and so on). `python -m cadl_utils guide --all-presets --out DIR` writes the same seven files.

# %%
# Course picture: guided.gif, guided2.gif, guided_dot_notv.gif, guided_l1.gif, guided_l2.gif, guided_l1_-fl.gif, guided_l2_-fl.gif
results, gifs = {}, {}
for name in PRESETS:
    results[name] = guided(dream_image, guide_image, preset=name, model=model, steps=P.steps)
    gifs[name] = results[name].save_gif(OUT / f"{COURSE_FILES[name]}.gif", duration_ms=150)
show(montage([r.image for r in results.values()], cols=len(results)), title=", ".join(results))

# %% [markdown]
# The accumulation of each variant, side by side:

# %%
cells = "".join(f"<figure style='display:inline-block;margin:4px'>{gif_html(path, width=150)}"
                f"<figcaption>{name}: {path.name}</figcaption></figure>" for name, path in gifs.items())
display(HTML(f"<div>{cells}</div>"))

# %% [markdown]
# And one of them large, `l1_neg`: the dream's features moving towards the guide's.

# %%
show_gif(gifs["l1_neg"], width=384)

# %% [markdown]
# **Try this:** swap the subjects; use an earlier layer (`layers=["mixed3b"]`) for textures or a later
# one (`["mixed5a"]`) for objects; more steps (`steps=200`); your own mix of weights, e.g.
# `guided(..., preset="l2_neg", pixel_weight=0, tv_weight=-1)`.
#
# **Exercise 2.** `l1` ascends the feature distance and `l1_neg` descends it. With trained weights,
# what do you expect to see in each after many steps, and why do the two not look like opposites?
#
# <details><summary>Answer</summary>
#
# `l1_neg` moves the dream's channel means towards the guide's: the cat takes on textures the network
# associates with the guide (fabric, visor highlights, sky), spread over the picture, since pooling
# does not say where. `l1` moves every channel mean *away* from the guide's value, in whichever
# direction it already differs: channels the dream has more of grow further, those it has less of
# are suppressed, so the dream exaggerates what already makes it differ from the guide (here: more
# fur, more cat). Both keep $-P_1$ and $-\operatorname{TV}$, which hold the picture near the guide's
# pixels and smooth, so neither runs away; they differ in *which* features grow, not by a sign flip
# of the picture.
# </details>
#
# **Exercise 3.** Run `l2` with `pixel_weight=-0.2` and then with `pixel_weight=-2`. Which term wins in
# each, and why is `-0.2` not "a fifth as strong as the feature term"?
#
# <details><summary>Answer</summary>
#
# With $-0.2$ the feature term dominates: the picture keeps changing texture. With $-2$ the pixel
# term wins and the dream settles close to the guide. But the balance gain is calibrated so that the
# *dot* term and $P_1$ pull equally hard at weight 1. The $D_2$ term's gradient is another vector:
# with respect to the channel means it is $(\bar F(x) - \bar F(g)) / (C\,r\,D_2)$, a fixed length
# pointing away from the guide, where the dot term's is the guide's vector $\bar F(g) / (C r^2)$. The
# two reach the pixels with different sizes, so the ratio of the weights is not the ratio of the
# pulls: measure it, e.g. with the gradients' standard deviations of section 4, times the gain.
# </details>

# %% [markdown]
# ## 7. Pooled or position by position
#
# Every run so far compared *pooled* features, the package's default. The course compared the maps
# position by position; `compare="positions"` does that. Here is one preset, `l1_neg` (move the
# dream's features towards the guide's), in both forms, side by side. We switch its pixel term off
# (`pixel_weight=0`) so that only the feature term, the one that differs, moves the dream: the pixel
# pull would drag both towards the guide's pixels and hide the difference. A side-by-side comparison
# needs no 512 px, so it runs on the 256 px subjects of section 4, with half the steps, each twice as
# long. The printed number is the L2 distance, position by position, of the dream's map from the
# guide's map (in units of its RMS, as $D_2$ in section 1).

# %%
forms = {compare: guided(x0, g0, preset="l1_neg", model=model, steps=max(1, P.steps // 2), step_size=0.02,
                         pixel_weight=0, compare=compare, progress=False) for compare in ("pooled", "positions")}
print(f"map distance to the guide's map, before: {float(feature_l2(flattened(model, x0), g0_map, r0_map)):.3f}")
for compare, result in forms.items():
    print(f"after l1_neg, {compare:9s}: {float(feature_l2(flattened(model, result.image), g0_map, r0_map)):.3f}")
show(montage([x0, forms["pooled"].image, forms["positions"].image, g0], cols=4),
     title="dream, l1_neg (no pixel term) pooled, and position by position, guide", width=4 * max(SMALL, 160))

# %% [markdown]
# **Why they differ.** Pooled, the feature term knows *what* the guide contains but not *where*: the
# dream may grow the guide's textures anywhere, wherever they are easiest to make, and it keeps its
# own layout (with trained weights, the cat stays where it was and takes on the astronaut's fabric,
# metal and sky). Position by position, each place of the dream is compared with the same place of
# the guide, so the term drags the dream towards **the guide's arrangement**: the features have to
# appear where the guide has them, and the guide's outline comes through (the gradient of section 4
# already carried it), which is why its map ends closer to the guide's. The price: dream and guide must
# line up. The package fits the guide to exactly the dream's size and refuses octaves and tiles with
# `compare="positions"` (their smaller maps would not line up with the guide's); the jitter, a roll of
# up to 16 px per step, one cell of `mixed4c`'s 16 px grid, only blurs the target layout by that much.
# With the untrained stand-in (see the banner) both pictures are only smoothed random textures, but
# the printed distances tell the same story.
#
# **Exercise 4.** With `compare="positions"`, what happens to a guide of another shape (a portrait
# guide for a landscape dream), and why does `guided(..., compare="positions", octaves=3)` refuse
# to run?
#
# <details><summary>Answer</summary>
#
# The guide's centre is cropped to the dream's aspect ratio and resized to exactly the dream's size,
# as for the pixel term: position $(i, j)$ must mean the same place in both pictures, so the maps must
# have the same shape. Octaves dream first on smaller copies of the picture, whose maps have fewer
# positions than the guide's; there is nothing to compare them with place by place, so the package
# refuses with a `ParameterError` that names the fix (`octaves=1`, or `compare="pooled"`). The pooled
# form has no such problem: a mean over the positions is a mean at any size.
# </details>
#
# ## 8. Explore with sliders
#
# Choose the preset and the weight of each term; the preview updates when you release a slider, and
# **Run** renders the full GIF. The feature layer and the form are *not* controls: they are fixed when
# the explorer is made (here the defaults, `mixed4c`, pooled); to explore another, make a new explorer
# with e.g. `GuidedExplorer(model, ..., layers=["mixed3b"])` or `compare="positions"`.

# %%
explorer = GuidedExplorer(model, dream_image="cat", guide_image="astronaut", preset="l1_neg", output_dir=OUT)
explorer
