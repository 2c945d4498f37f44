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
# # A tour of inception5h
#
# Every lesson in this course works with one network: **inception5h**, the GoogLeNet
# (Inception v1) graph that Google published with the original Deep Dream notebook. Before we
# make it dream, we look inside.
#
# ## Overview
#
# In this notebook you will learn
#
# * how to load the network, and what the *weights mode* (pretrained or untrained) means;
# * what layers it has: convolutions, "mixed" inception blocks, pools and three classifier heads;
# * how it turns a photo into class probabilities (the top-5 classes of the sample photos);
# * what a *channel* is, by looking at the activation maps of a few of them;
# * what the preprocessing does to the pixel values before the network sees them.
#
# **How long it takes.** About 7 seconds top to bottom on a 2-core CPU (measured with `make
# lesson-times`), at either profile: the tour draws no dreams, so `CADL_PROFILE` changes nothing
# here. With pretrained weights, the first run also downloads them (about 50 MB) once.

# %% [markdown]
# ## Setup
#
# Import `cadl_utils` first: it keeps TensorFlow's start-up log out of the notebook.

# %%
import cadl_utils  # noqa: F401  (first: quiets TensorFlow's start-up log)
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np

from cadl_utils.images import load_image, montage, sample_images, show
from cadl_utils.models import load_model
from cadl_utils.widgets import show_banner

# %matplotlib inline

# %% [markdown]
# ## Load the network
#
# `load_model("inception5h")` returns the network. Which weights it gets depends on the environment
# variable `CADL_WEIGHTS`:
#
# * `pretrained` (the default): Google's trained weights, downloaded once (about 50 MB) and
#   verified;
# * `untrained`: a stand-in with exactly the same layers and names but random weights, built in a
#   few seconds without any download. The tests use it. Its pictures are textures, not jellyfish;
# * `auto`: pretrained when possible, otherwise untrained (with a warning).
#
# The first line below always tells you which one you got.

# %%
model = load_model("inception5h")
print(model.describe())
show_banner(model);

# %% [markdown]
# ## The layer inventory
#
# `model.layers` lists every layer we can read, with its *kind* and its number of *channels*
# (feature maps). Each convolution appears twice: before its ReLU (`..._pre_relu`, which can be
# negative) and after it.

# %%
# NBVAL_CHECK_OUTPUT
kinds = Counter(info.kind for info in model.layers)
for kind, count in kinds.items():
    channels = sum(info.channels for info in model.layers if info.kind == kind)
    print(f"{kind:14s} {count:3d} layers {channels:6,d} channels")

# %%
# NBVAL_CHECK_OUTPUT
convs = model.layer_names("conv")
print(f"{len(convs)} conv layers, {sum(model.layer(name).channels for name in convs):,} channels")

# %% [markdown]
# The nine *mixed* layers are the inception blocks: each concatenates four branches (1x1, 3x3 and
# 5x5 convolutions and a pooling branch). Deeper blocks see larger parts of the image and respond to
# more complex things.

# %%
# NBVAL_CHECK_OUTPUT
for name in model.layer_names("mixed"):
    print(f"{name:8s} {model.layer(name).channels:5d} channels")

# %% [markdown]
# ## Classes
#
# The last layer, `softmax2`, has one unit per class: 1008 of them (1000 ImageNet classes and a few
# unused slots). Lesson 1 makes the network dream of class 647:

# %%
# NBVAL_CHECK_OUTPUT
print(f"label 647 = {model.label(647)}")
print(f"'jellyfish' is class {model.label_index('jellyfish')} of {model.layer('softmax2').channels}")

# %% [markdown]
# ## Classify the sample photos
#
# The course ships a few public-domain photos. `model.classify(image, top=5)` returns the five most
# probable classes. With the untrained stand-in the answers are meaningless, which is a good
# reminder of what training does.

# %%
photos = {name: load_image(path, size=(224, 224)) for name, path in sample_images("photo").items()}
show(montage(list(photos.values()), cols=len(photos)), title=", ".join(photos))

# %%
for name, image in photos.items():
    top5 = model.classify(image, top=5)
    print(f"{name}: " + ", ".join(f"{label} ({p:.1%})" for _, label, p in top5))

# %% [markdown]
# **Try this:** classify your own photo: `model.classify(load_image("path/to/photo.jpg", size=(224, 224)))`.

# %% [markdown]
# ## Look at a few channels
#
# `model.extract(images, layer_names)` returns the activations of any layers for a batch of images
# `[N, H, W, 3]` in [0, 1]. A spatial layer gives `[N, h, w, C]`: one map per channel, smaller than the
# image because of the strides.

# %%
# NBVAL_CHECK_OUTPUT
cat = photos["cat"]
for name in ["conv2d0", "mixed3a", "mixed4c", "mixed5b", "softmax2"]:
    features = model.extract(cat[None], [name])[0]
    print(f"{name:9s} {tuple(features.shape)}")

# %% [markdown]
# Each channel's map shows *where* in the image that channel responds. We scale every map to [0, 1]
# and lay the first 16 channels of `mixed3a` out in a grid:

# %%
maps = model.extract(cat[None], ["mixed3a"])[0][0].numpy()
low, high = maps.min(axis=(0, 1)), maps.max(axis=(0, 1))
scaled = (maps - low) / np.maximum(high - low, 1e-8)
show(montage([scaled[..., c] for c in range(16)], cols=8), title="mixed3a, channels 0-15", width=640)

# %%
strongest = np.argsort(-maps.mean(axis=(0, 1)))[:4]
fig, axes = plt.subplots(1, 5, figsize=(15, 3))
axes[0].imshow(cat)
axes[0].set_title("input")
for ax, c in zip(axes[1:], strongest):
    ax.imshow(maps[..., c], cmap="magma")
    ax.set_title(f"mixed3a channel {c}")
for ax in axes:
    ax.axis("off")

# %% [markdown]
# **Try this:** change `mixed3a` to `conv2d0` (edges and colours) or `mixed4d` (parts of objects).

# %% [markdown]
# ## What the preprocessing does
#
# Inside `cadl_utils` an image is float RGB in $[0, 1]$. inception5h was trained on pixel values in
# $[0, 255]$ with the mean 117 subtracted, so `model.preprocess` maps
#
# $$x_{\text{net}} = 255\,x - 117 \qquad\text{and}\qquad x = \frac{x_{\text{net}} + 117}{255}$$
#
# is `model.deprocess`. Every engine does this for you; the values look like this:

# %%
# NBVAL_CHECK_OUTPUT
net = model.preprocess(cat)
back = model.deprocess(net)
print(f"image     : min {cat.min():7.3f}  max {cat.max():7.3f}  mean {cat.mean():7.3f}")
print(f"network in: min {np.min(net):7.1f}  max {np.max(net):7.1f}  mean {np.mean(net):7.1f}")
print(f"round trip: equal within 1e-6: {np.allclose(back, cat, atol=1e-6)}")

# %% [markdown]
# ## What next
#
# * `01_deep_dream.ipynb`: turn the gradient of one neuron into a picture;
# * `02_fractal_zoom.ipynb`: dream while zooming in forever;
# * `03_guided_hallucination.ipynb`: let one image guide the dream of another;
# * `04_style_transfer.ipynb`: paint a photo in the style of another image.
