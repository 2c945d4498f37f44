"""Throw-away probe notebooks that follow the widgets DOM contract (docs: notes/CONTRACTS.md).

They let the browser harness prove its own mechanics before (or without) the real lesson notebooks:
a slider or dropdown moved in the browser reaches a Python observer, which re-renders a preview
image and its label. `CADL_E2E_PROBE=1 bash tests/e2e/run.sh` (or `run.sh --probe`) writes them to a
temporary folder and tests those instead of notebooks/. They are never committed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# Shared by every probe: a banner and a deterministic PNG renderer (colour depends on the inputs,
# so any change of a widget value changes the bytes and therefore the preview's blob URL).
_SETUP = '''\
import base64
import io

import ipywidgets as w
import numpy as np
from IPython.display import HTML, display
from PIL import Image as PILImage

display(HTML('<div class="cadl-untrained-banner" style="background:#fee;padding:4px">'
             'These pictures come from an <b>untrained network</b> (probe).</div>'))


def render_png(*values: float, size: int = 48) -> bytes:
    """A small PNG whose colours depend on `values`."""
    rng = np.random.default_rng(abs(hash(values)) % 2**32)
    pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
'''

_GIF = '''\
frames = [PILImage.fromarray(np.full((32, 32, 3), shade, np.uint8)) for shade in (0, 128, 255)]
buffer = io.BytesIO()
frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
gif_bytes = buffer.getvalue()
encoded = base64.b64encode(gif_bytes).decode("ascii")
display(HTML(f'<img src="data:image/gif;base64,{encoded}" width="64">'))
w.Image(value=gif_bytes, format="gif", width=64).add_class("cadl-gif")
'''

_DEEP_DREAM = '''\
layers = {"mixed3a": 256, "mixed4d": 528, "softmax2": 1008}
layer = w.Dropdown(options=[(f"{name} ({n} channels)", name) for name, n in layers.items()])
channel = w.IntSlider(value=0, min=0, max=255, continuous_update=False, description="channel")
preview = w.Image(format="png", width=96, height=96)
label = w.Label()
layer.add_class("cadl-layer")
channel.add_class("cadl-channel")
preview.add_class("cadl-preview")
label.add_class("cadl-preview-label")


def update(_change=None) -> None:
    """Re-render the preview from the widget values (what a real preview callback does)."""
    channel.max = layers[layer.value] - 1
    preview.value = render_png(hash(layer.value) % 1000, channel.value)
    label.value = f"layer {layer.value}, channel {channel.value}"


layer.observe(update, "value")
channel.observe(update, "value")
update()
w.VBox([layer, channel, preview, label])
'''

_STYLE = '''\
style_weight = w.FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.1,
                                continuous_update=False, description="style")
content_weight = w.FloatSlider(value=1.0, min=0.0, max=5.0, step=0.5,
                               continuous_update=False, description="content")
preview = w.Image(format="png", width=96, height=96)
label = w.Label()
style_weight.add_class("cadl-weight-style")
content_weight.add_class("cadl-weight-content")
preview.add_class("cadl-preview")
label.add_class("cadl-preview-label")


def update(_change=None) -> None:
    """Re-render the preview from the loss weights."""
    preview.value = render_png(style_weight.value, content_weight.value)
    label.value = f"style {style_weight.value:.3g}, content {content_weight.value:.3g}"


style_weight.observe(update, "value")
content_weight.observe(update, "value")
update()
w.VBox([style_weight, content_weight, preview, label])
'''

_BROKEN = 'raise ValueError("probe: this cell fails on purpose")'


def _notebook(title: str, *code: str) -> nbformat.NotebookNode:
    cells = [new_markdown_cell(f"# {title}\n\nA probe for the browser test.")]
    cells += [new_code_cell(source) for source in code]
    return new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})


def write_probe_notebooks(folder: Path, broken: bool = False) -> list[Path]:
    """Write the probe notebooks into `folder`.

    Args:
        folder: where to write them (created if missing).
        broken: also write one whose cell raises, to see how the harness reports an error.

    Returns:
        The paths written, sorted by name.
    """
    folder.mkdir(parents=True, exist_ok=True)
    notebooks = {
        "0_probe_tour.ipynb": _notebook("Tour probe", _SETUP, 'print("layers: 3")'),
        "1_probe_deep_dream.ipynb": _notebook("Deep Dream probe", _SETUP, _DEEP_DREAM, _GIF),
        "4_probe_style_transfer.ipynb": _notebook("Style probe", _SETUP, _STYLE, _GIF),
    }
    if broken:
        notebooks["9_probe_broken.ipynb"] = _notebook("Broken probe", _SETUP, _BROKEN, 'print("never")')
    paths = []
    for name, notebook in notebooks.items():
        path = folder / name
        nbformat.write(notebook, path)
        paths.append(path)
    return sorted(paths)


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "probe_notebooks")
    for written in write_probe_notebooks(target, broken="--broken" in sys.argv):
        print(written)
