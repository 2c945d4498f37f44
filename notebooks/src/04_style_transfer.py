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
# (Gram matrices) match the *style* of another.
#
# ## Overview
#
# In this notebook you will learn
#
# * the content loss, which compares features of one layer;
# * the Gram matrix, which keeps what features occur together but forgets where, and the style loss
#   built from it;
# * the smoothness (total variation) loss, and how the weights of the three trade off (weight sweeps);
# * two optimisers, Adam and L-BFGS, compared by their loss curves;
# * colour preservation: taking the style's strokes but keeping the photo's colours;
# * how to render the progression and the sweep as GIFs, and explore the weights with sliders.

# %% [markdown]
# ## Setup

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from cadl_utils.config import profile
from cadl_utils.images import load_image, montage, sample_images, show, show_gif
from cadl_utils.models import load_model
from cadl_utils.objectives import total_variation
from cadl_utils.style import StyleTransfer, content_loss, gram_loss, gram_matrix
from cadl_utils.widgets import StyleExplorer, show_banner

# %matplotlib inline

# %%
P = profile()
OUT = Path("../outputs/style_transfer")
OUT.mkdir(parents=True, exist_ok=True)
print(f"profile {P.name}: {P.size} px, {P.steps} steps")

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
# ## The two images

# %%
content = load_image(sample_images("photo")["coffee"], size=P.size)
style = load_image(sample_images("style")["swirls"], size=P.size)
show(montage([content, style], cols=2), title="content (coffee) and style (swirls)")

# %% [markdown]
# ## 1. The content loss
#
# Let $F^{l}(x) \in \mathbb{R}^{h \times w \times C}$ be the features of picture $x$ at layer $l$. The
# content loss compares the picture with the content image $c$ at one *content layer* $l_c$, position by
# position, so the layout of the scene is kept:
#
# $$L_{\text{content}}(x) = \frac{1}{hwC}\sum_{i,j,k}\big(F^{l_c}_{ijk}(x) - F^{l_c}_{ijk}(c)\big)^{2}.$$
#
# It is divided by $\operatorname{mean}\big(F^{l_c}(c)^2\big)$, so that it is about 1 for a blank picture on any
# layer. inception5h's content layer is `mixed4b`:

# %%
# NBVAL_CHECK_OUTPUT
features_c = model.extract(content[None], ["mixed4b"])[0]
print(f"mixed4b features: {features_c.shape[-1]} channels at every position")
print(f"content loss of the content image itself: {float(content_loss(features_c, features_c)):.1f}")

# %%
grey = np.full_like(content, 0.5)
features_g = model.extract(grey[None], ["mixed4b"])[0]
relative = content_loss(features_g, features_c) / np.mean(np.square(features_c))
print(f"relative content loss of a grey picture: {float(relative):.3f}")

# %% [markdown]
# ## 2. Gram matrices and the style loss
#
# Style is texture: which features occur *together*, wherever they are. The Gram matrix of a layer
# holds the correlation of every pair of channels, summed over all positions:
#
# $$G^{l}_{kk'}(x) = \frac{1}{hwC}\sum_{i,j} F^{l}_{ijk}(x)\,F^{l}_{ijk'}(x), \qquad G^{l} \in \mathbb{R}^{C\times C}.$$
#
# Dividing by $hwC$ makes it independent of the image size. It is symmetric and positive semi-definite:

# %%
# NBVAL_CHECK_OUTPUT
gram = gram_matrix(model.extract(style[None], ["mixed3a"])[0])[0].numpy()
eigenvalues = np.linalg.eigvalsh(gram.astype(np.float64))
print(f"Gram matrix of mixed3a: shape {gram.shape}")
print(f"symmetric: {np.allclose(gram, gram.T)}, positive semi-definite: {eigenvalues.min() > -1e-6 * eigenvalues.max()}")

# %%
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(gram[:64, :64], cmap="viridis")
ax.set_title("Gram matrix of the style image, mixed3a (64 channels)")
ax.set_xlabel("channel k'")
ax.set_ylabel("channel k");

# %% [markdown]
# The style loss sums, over the *style layers* $l$ with weights $w_l$, the squared difference between
# the Gram matrices of the picture and of the style image $s$ (each divided by
# $\lVert G^{l}(s)\rVert^{2}$ so that every layer counts alike):
#
# $$L_{\text{style}}(x) = \sum_{l} w_l\,\frac{\lVert G^{l}(x) - G^{l}(s)\rVert_F^{2}}{\lVert G^{l}(s)\rVert_F^{2}}.$$

# %%
# NBVAL_CHECK_OUTPUT
print(f"style loss of a Gram matrix with itself: {float(gram_loss(gram[None], gram[None])):.1f}")

# %% [markdown]
# ## 3. Smoothness, and the total loss
#
# Optimising pixels directly adds high-frequency noise; the total variation (the mean absolute
# difference of neighbouring pixels) penalises it. The picture minimises the weighted sum
#
# $$L(x) = \alpha\,L_{\text{content}}(x) + \beta\,L_{\text{style}}(x) + \gamma\,\operatorname{TV}(x).$$

# %%
noise = np.random.default_rng(0).uniform(size=content.shape).astype(np.float32)
print(f"TV: content {float(total_variation(content)):.3f}, style {float(total_variation(style)):.3f}, "
      f"noise {float(total_variation(noise)):.3f}")

# %% [markdown]
# `StyleTransfer` computes the targets ($F^{l_c}(c)$ and every $G^{l}(s)$) once and compiles the loss;
# each `run` or `sweep` can change any other setting by keyword. Its `settings` (a `StyleSettings`,
# with the model's layers filled in) show the defaults for inception5h:

# %%
# NBVAL_CHECK_OUTPUT
engine = StyleTransfer(content, style, model, size=P.size)
settings = engine.settings
print(f"content layer: {settings.content_layer}")
print(f"style layers : {dict(settings.style_layers)}")
print(f"weights      : content {settings.content_weight:g}, style {settings.style_weight:g}, tv {settings.tv_weight:g}")

# %% [markdown]
# ## 4. Optimising with Adam
#
# Adam keeps running averages of the gradient $g_t$ and of its square, and takes steps of about the
# learning rate $\lambda$ in every pixel:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^{2}, \quad
# x_{t} = \operatorname{clip}_{[0,1]}\!\Big(x_{t-1} - \lambda\,\frac{m_t / (1-\beta_1^{t})}{\sqrt{v_t/(1-\beta_2^{t})} + \epsilon}\Big).$$
#
# The picture starts as the content image. A frame is kept along the way for the progression GIF.

# %%
adam = engine.run(steps=P.steps, optimizer="adam")
print(f"{adam.steps_done} Adam steps in {adam.seconds:.1f} s, loss {adam.history['total'][0]:.3g} -> {adam.history['total'][-1]:.3g}")
show(montage([content, adam.image], cols=2), title="content and the Adam result")

# %%
gif = adam.save_gif(OUT / "progression_adam.gif", duration_ms=150)
show_gif(gif, width=320)

# %% [markdown]
# ## 5. Adam versus L-BFGS
#
# L-BFGS builds an estimate of the curvature from its last few gradients and takes Newton-like steps
# with a line search. It needs more work per iteration but usually far fewer iterations. We run it from
# the same start and plot both loss curves:

# %%
lbfgs = engine.run(steps=P.steps, optimizer="lbfgs")
fig, ax = plt.subplots(figsize=(6, 3.5))
for name, result in {"Adam": adam, "L-BFGS": lbfgs}.items():
    ax.semilogy(result.history["total"], marker="o", label=f"{name} ({result.seconds:.1f} s)")
ax.set_xlabel("iteration")
ax.set_ylabel("total loss")
ax.legend();

# %%
show(montage([adam.image, lbfgs.image], cols=2), title="Adam and L-BFGS after the same number of iterations")

# %% [markdown]
# ## 6. Weight sweeps
#
# Only the *ratio* of the weights matters much. A sweep runs once per (content, style) weight pair, from
# the same start, reusing the targets and the compiled loss:

# %%
pairs = [(1.0, 0.1), (1.0, 1.0), (1.0, 10.0), (1.0, 100.0)]
sweep = engine.sweep(pairs, steps=max(2, P.steps // 2), optimizer="lbfgs")
show(sweep.grid(cols=len(pairs)), title="content : style = " + ", ".join(f"{c:g}:{s:g}" for c, s in sweep.pairs))

# %%
gif = sweep.save_gif(OUT / "weight_sweep.gif", duration_ms=500)
show_gif(gif, width=320)

# %% [markdown]
# **Try this:** sweep the TV weight instead (`engine.set_term_weights(tv_weight=...)` before each run), or
# blend two styles: `StyleTransfer(content, [style_a, style_b], model, blend=[0.7, 0.3])`.

# %% [markdown]
# ## 7. Colour preservation
#
# To keep the photo's colours, the picture is split into luminance and colour (the YIQ colour space):
#
# $$Y = 0.299\,R + 0.587\,G + 0.114\,B.$$
#
# Only $Y$ is optimised (the network sees it as a grey picture, against a style image whose
# luminance is matched to the content's), and the content's colour channels $I, Q$ are put back at the end.

# %%
keep = StyleTransfer(content, style, model, size=P.size, preserve_color=True)
colour = keep.run(steps=P.steps, optimizer="lbfgs")
show(montage([content, lbfgs.image, colour.image], cols=3), title="content, style transfer, with colours preserved")

# %% [markdown]
# ## 8. Explore with sliders
#
# The content, style and TV weights are logarithmic sliders; a few steps at a small size preview the
# result when you release one. **Run** renders the progression GIF at full size.

# %%
explorer = StyleExplorer(model, content="coffee", style="swirls", output_dir=OUT)
explorer

# %% [markdown]
# **Try this:** choose another style image from the list, or type the path of your own content
# photo; tick *preserve colour* and compare.
