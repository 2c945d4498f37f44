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
# In this notebook you will learn
#
# * how to compare two images through the network: feature similarity by dot product, L1 and L2;
# * how to compare them as pictures: the pixel distance, and the smoothness (total variation) term;
# * how weighted sums of these terms, with positive or negative signs, make different dreams;
# * the seven variants of the course as one-call presets, rendered as GIFs side by side;
# * how to mix the terms yourself, and with sliders.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

import numpy as np
from IPython.display import HTML, display

from cadl_utils.config import profile
from cadl_utils.dream import dream
from cadl_utils.guided import (PRESETS, compute_guide_features, feature_similarity, feature_term, guided,
                               pixel_distance, pixel_similarity, pool_features, smoothness)
from cadl_utils.images import gif_html, load_image, montage, sample_images, show, show_gif
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
# ## The two subjects
#
# Subject 1 is the *dream* (the picture that changes), subject 2 the *guide*.

# %%
photos = sample_images("photo")
dream_image = load_image(photos["cat"], size=P.size)
guide_image = load_image(photos["astronaut"], size=P.size)
show(montage([dream_image, guide_image], cols=2), title="subject 1: dream (cat), subject 2: guide (astronaut)")

# %% [markdown]
# ## 1. Feature similarity
#
# A layer $l$ gives a map $F^{l}(x) \in \mathbb{R}^{h \times w \times C}$. We average it over the
# positions into one vector of $C$ channel means,
#
# $$\bar F(x) = \frac{1}{hw}\sum_{i,j} F^{l}_{ij}(x) \in \mathbb{R}^{C},$$
#
# so that dream and guide may differ in size and layout. With $r$ the root-mean-square of the guide's
# vector $\bar F(g)$ as the unit, the three similarities of the course are
#
# $$S_{\text{dot}}(x) = \frac{1}{C r^{2}}\sum_{c} \bar F_c(x)\,\bar F_c(g), \qquad
# D_{1}(x) = \frac{1}{C r}\sum_{c} \big|\bar F_c(x) - \bar F_c(g)\big|, \qquad
# D_{2}(x) = \frac{1}{r}\sqrt{\frac{1}{C}\sum_{c} \big(\bar F_c(x) - \bar F_c(g)\big)^{2}}.$$
#
# $S_{\text{dot}}$ grows as the dream contains more of what the guide contains ($1$ when equal);
# $D_1$ and $D_2$ are distances ($0$ when equal). The guide's vector is computed once:

# %%
# NBVAL_CHECK_OUTPUT
guide_features = compute_guide_features(model, guide_image, ["mixed4c"])
vector = guide_features.vectors["mixed4c"]
print(f"guide vector at mixed4c: shape {vector.shape}")
for metric in ["dot", "l1", "l2"]:
    value = feature_term(vector[None], vector, metric, guide_features.scales["mixed4c"])
    print(f"guide vs itself, {metric}: {float(value):.3f}")

# %%
dream_vector = pool_features(model.extract(dream_image[None], ["mixed4c"])[0])
for metric in ["dot", "l1", "l2"]:
    value = feature_term(dream_vector, vector, metric, guide_features.scales["mixed4c"])
    print(f"dream vs guide, {metric}: {float(value):.3f}")

# %% [markdown]
# ## 2. Pixel similarity and smoothness
#
# As pictures, dream and guide are compared channel by channel (the guide is cropped to the dream's
# shape and resized to its size):
#
# $$P_{1}(x) = \frac{1}{3HW}\sum_{i,j,k} |x_{ijk} - g_{ijk}|, \qquad
# P_{2}(x) = \frac{1}{3HW}\sum_{i,j,k} (x_{ijk} - g_{ijk})^{2}.$$
#
# The total variation measures noise, the mean absolute difference between neighbouring pixels:
#
# $$\operatorname{TV}(x) = \tfrac{1}{2}\Big(\operatorname{mean}_{ijk}|x_{i+1,j,k} - x_{ijk}|
# + \operatorname{mean}_{ijk}|x_{i,j+1,k} - x_{ijk}|\Big).$$

# %%
# NBVAL_CHECK_OUTPUT
for metric in ["l1", "l2"]:
    print(f"pixel {metric}, guide vs itself: {float(pixel_distance(guide_image[None], guide_image, metric)):.3f}")
flat = np.full((64, 64, 3), 0.5, np.float32)
print(f"TV of a flat image: {float(total_variation(flat)):.3f}")

# %%
for metric in ["l1", "l2"]:
    print(f"pixel {metric}, dream vs guide: {float(pixel_distance(dream_image[None], guide_image, metric)):.3f}")
print(f"TV: dream {float(total_variation(dream_image)):.3f}, guide {float(total_variation(guide_image)):.3f}")

# %% [markdown]
# ## 3. Composing the terms
#
# The dream follows the gradient of one weighted sum, ascending it as in lesson 1:
#
# $$J(x) = w_f\,S(x) + w_p\,P(x) + w_{tv}\,\operatorname{TV}(x), \qquad
# x_{t+1} = \operatorname{clip}_{[0,1]}\!\Big(x_t + \eta\,\frac{\nabla J(x_t)}{\sigma(\nabla J(x_t))}\Big),$$
#
# where $S$ is one of $S_{\text{dot}}, D_1, D_2$. A negative weight *descends* a term: $-P$ pulls the
# dream towards the guide's pixels, $-\operatorname{TV}$ smooths it, $-D_1$ moves its features
# towards the guide's. So that one weight means the same on every layer, $S$ is multiplied by a gain
# measured once on the guide: with $w_f = w_p = 1$ the feature and pixel terms pull about equally hard.
# Terms are objectives, so they compose with `+`, `-` and `*`:

# %%
mix = feature_similarity(guide_features, metric="dot") - 0.5 * pixel_similarity(guide_image) - 0.5 * smoothness()
print(mix.describe())
mixed = dream(dream_image, mix, model, steps=P.steps, octaves=1).image
show(montage([dream_image, mixed], cols=2), title="before and after: +dot -pixel -tv")

# %% [markdown]
# ## 4. The seven variants of the course
#
# Each preset fixes who starts, who guides, and the signs of the terms:

# %%
# NBVAL_CHECK_OUTPUT
for name, preset in PRESETS.items():
    print(f"{name:8s} starts from {preset.start:5s}, guided by {preset.guide:5s}: {preset.signs()}")

# %% [markdown]
# `guided(dream, guide, preset=...)` runs one of them as a feedback loop and returns a `GuidedResult`:
# its `frames` (`image` is the last one), the preset and the layers used. Every setting (`steps`,
# `step_size`, `layers`, the term weights...) lives in one `GuidedSettings` and can be given by keyword.
# We run all seven and save a GIF of each:

# %%
results, gifs = {}, {}
for name in PRESETS:
    results[name] = guided(dream_image, guide_image, preset=name, model=model, steps=P.steps)
    gifs[name] = results[name].save_gif(OUT / f"guided_{name}.gif", duration_ms=150)
show(montage([r.image for r in results.values()], cols=len(results)), title=", ".join(results))

# %% [markdown]
# The accumulation of each variant, side by side:

# %%
cells = "".join(f"<figure style='display:inline-block;margin:4px'>{gif_html(path, width=150)}"
                f"<figcaption>{name}</figcaption></figure>" for name, path in gifs.items())
display(HTML(f"<div>{cells}</div>"))

# %% [markdown]
# And one of them large, `l1_neg`: the dream moving towards what the network sees in the guide.

# %%
show_gif(gifs["l1_neg"], width=384)

# %% [markdown]
# **Try this:** swap the subjects; use an earlier layer (`layers=["mixed3b"]`) for textures or a later
# one (`["mixed5a"]`) for objects; or more steps (`steps=100`).

# %% [markdown]
# ## 5. Explore with sliders
#
# Choose the preset, the layer and the weight of each term; the preview updates when you release a
# slider, and **Run** renders the full GIF.

# %%
explorer = GuidedExplorer(model, dream_image="cat", guide_image="astronaut", preset="l1_neg", output_dir=OUT)
explorer
