"""The style-transfer engine: ``StyleLoss`` (targets computed once, and the terms), and ``StyleTransfer``,
which checks its inputs when made and runs Adam (compiled, keras) or L-BFGS (SciPy) as often as asked."""

from __future__ import annotations

import dataclasses
import math
import time
from contextlib import suppress
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from .config import profile
from .errors import ImageError, LayerError, ParameterError
from .images import as_image, resize
from .models import resolve_model
from .objectives import total_variation
from .runs import NonFinite, StepInfo, Stop, check_finite, finish, progress_bar, report
from .settings import check_choice
from .style import (INITS, MAX_SIDE, TERMS, StyleResult, StyleSettings, SweepResult, _spatial_layer, check_pairs,
                    combine_luminance, content_loss, default_layers, gram_loss, gram_matrix, match_luminance,
                    resolve_style_layers, rgb_to_yiq)  # fmt: skip

ENGINE_SETTINGS = ("size", "layers", "content_layer", "style_layers", "blend", "style_scale", "normalize",
                   "preserve_color", "weights")  # fmt: skip


class StyleLoss:
    """The targets, computed once (content features; Gram matrices averaged with ``blend``), and ``loss(image)``:
    [content, style, tv, total] against them. The term weights are variables: changing them never retraces."""

    def __init__(self, model, settings: StyleSettings, content: np.ndarray, styles: Sequence[np.ndarray]):
        self.model, self.preserve_color, self.content_layer = model, settings.preserve_color, settings.content_layer
        layers, blend = dict(settings.style_layers), settings.blend or (1.0,) * len(styles)
        self.grams = dict.fromkeys(layers, 0.0)
        for weight, image in zip(blend, styles):  # one forward pass per image
            for name, features in zip(layers, model.extract(tf.constant(image[None]), list(layers))):
                self.grams[name] += weight / sum(blend) * gram_matrix(features)
        self.content = tf.constant(model.extract(tf.constant(content[None]), [self.content_layer])[0])
        # Relative terms are divided by their target's mean square (plus a floor: flat images stay finite).
        relative = settings.normalize
        self.content_factor = 1.0 / (float(tf.reduce_mean(tf.square(self.content))) + 1e-6) if relative else 1.0
        sizes = {n: float(tf.reduce_sum(tf.square(g))) + 1e-6 if relative else 1.0 for n, g in self.grams.items()}
        self.style_factors = {n: weight / sum(layers.values()) / sizes[n] for n, weight in layers.items()}
        self.term_weights = {t: tf.Variable(0.0, trainable=False) for t in TERMS[:3]}

    def set_term_weights(self, settings: StyleSettings) -> None:
        for term, variable in self.term_weights.items():
            variable.assign(getattr(settings, f"{term}_weight"))

    def __call__(self, image) -> tf.Tensor:
        rgb = tf.tile(image, [1, 1, 1, 3]) if self.preserve_color else image  # luminance only: grey
        features = self.model.extract(rgb, [self.content_layer, *self.grams])
        content = content_loss(features[0], self.content) * self.content_factor
        style = tf.add_n([gram_loss(gram_matrix(f), self.grams[n]) * self.style_factors[n]
                          for n, f in zip(self.grams, features[1:])])  # fmt: skip
        w = self.term_weights
        terms = [w["content"] * content, w["style"] * style, w["tv"] * total_variation(image)]
        return tf.stack([*terms, tf.add_n(terms)])


class StyleTransfer:
    """A content image, style images and a model, for many ``run``s and ``sweep``s. Attributes: ``model``,
    ``settings`` (size, layers filled in), ``content``, ``styles``, ``loss`` (and targets), ``image`` (the
    variable); compiled: ``adam_steps`` (after the first Adam run), ``gradient``, ``terms_now``."""

    def __init__(self, content, style, model=None, settings: StyleSettings | None = None, **overrides: Any):
        """Check settings, images, layers and sizes (ParameterError, ImageError, LayerError), then the targets."""
        settings = StyleSettings.make(settings, **overrides)
        size = profile().size if settings.size is None else settings.size
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        blend = settings.blend or (1.0,) * len(styles)
        if not styles or len(blend) != len(styles):
            raise ParameterError(f"{len(styles)} style image(s) and {len(blend)} blend weights: give a style image "
                                 "and one weight per image")  # fmt: skip
        self.content = as_image(content, "content image", max_side=size)
        side = round(settings.style_scale * max(self.content.shape[:2]))
        if side > MAX_SIDE:
            raise ParameterError(f"style_scale {settings.style_scale:g} makes the style image {side} px long; keep "
                                 f"it under {MAX_SIDE} px (a smaller style_scale or size)")  # fmt: skip
        self.styles = [resize(as_image(s, f"style image {i + 1}"), max(1, side)) for i, s in enumerate(styles)]
        self.model = resolve_model(model, settings.weights)
        content_layer, style_layers = default_layers(self.model, settings.layers)
        content_layer = _spatial_layer(self.model, settings.content_layer or content_layer, "content")
        style_layers = resolve_style_layers(self.model, settings.style_layers or style_layers)
        for what, image, names in [("the content image", self.content, [content_layer, *style_layers])] + [
                (f"style image {i + 1}", s, list(style_layers)) for i, s in enumerate(self.styles)]:  # fmt: skip
            need = max(self.model.min_size(n) for n in names)
            if min(image.shape[:2]) < need:
                raise LayerError(f"{what} is {image.shape[1]}x{image.shape[0]} px but layers {', '.join(names)} "
                                 f"need at least {need} px: use a larger size (or style_scale)")  # fmt: skip
        self.settings = dataclasses.replace(settings, size=size, content_layer=content_layer,
                                            style_layers=tuple(style_layers.items()))  # fmt: skip
        net_content, net_styles = self.content, self.styles
        if settings.preserve_color:  # the network sees grey pictures: the luminance, the styles' matched to it
            luminance = rgb_to_yiq(self.content)[..., 0]
            net_content = np.repeat(luminance[..., None], 3, -1)
            net_styles = [np.repeat(match_luminance(rgb_to_yiq(s)[..., 0], luminance)[..., None], 3, -1)
                          for s in self.styles]  # fmt: skip
        self._start_style = resize(net_styles[0], self.content.shape[:2])
        self.loss = StyleLoss(self.model, self.settings, net_content, net_styles)
        self.image = tf.Variable(self.initial_image()[None])
        self._scale = tf.Variable(1.0, trainable=False)
        self.terms_now = tf.function(lambda: self.loss(self.image))
        self.gradient = tf.function(self._gradient)
        self.adam_steps, self._optimizer, self._adam_key = None, None, None

    def _gradient(self):
        with tf.GradientTape() as tape:
            terms = self.loss(self.image)
            total = terms[-1]
        grad = tape.gradient(total, self.image, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return terms, tf.where(tf.math.is_finite(grad), grad, 0.0) * self._scale

    def _adam_loop(self, count):
        """``count`` Adam steps in one compiled call; returns the terms before each step [count, 4]."""
        history = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            terms, grad = self._gradient()
            self._optimizer.apply_gradients([(grad, self.image)])
            self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
            history = history.write(i, terms)
        return history.stack()

    def initial_image(self, init: Any = "content", seed: int = 0) -> np.ndarray:
        """The start, in the optimised space ([H, W, 3], or [H, W, 1] luminance): ``content``, ``style``,
        ``noise`` (seeded) or an RGB array of the content's size."""
        kind = check_choice(init, "init", INITS) if isinstance(init, str) else "array"
        if kind == "array":
            rgb = as_image(init, "init array")
            if rgb.shape != self.content.shape:
                raise ImageError(f"init array has shape {rgb.shape}, expected {self.content.shape} (the content's "
                                 "size); or pass init='content', 'style' or 'noise'")  # fmt: skip
        elif kind == "noise":
            rgb = np.random.default_rng(seed).uniform(0.0, 1.0, size=self.content.shape).astype(np.float32)
        else:
            rgb = self.content if kind == "content" else self._start_style
        return np.ascontiguousarray(rgb_to_yiq(rgb)[..., :1] if self.settings.preserve_color else rgb, np.float32)

    def picture(self) -> np.ndarray:
        """The current picture, RGB [H, W, 3] in [0, 1]."""
        values = self.image.numpy()[0]  # the optimisers keep it in [0, 1]
        return combine_luminance(values[..., 0], self.content) if self.settings.preserve_color else values

    def set_term_weights(self, content_weight=None, style_weight=None, tv_weight=None) -> None:
        """Change the loss weights (None keeps one): no new targets, no retracing."""
        given = {"content_weight": content_weight, "style_weight": style_weight, "tv_weight": tv_weight}
        self.settings = StyleSettings.make(self.settings, **{k: v for k, v in given.items() if v is not None})

    def losses(self, image: np.ndarray | None = None) -> dict[str, float]:
        """The weighted terms of an RGB picture [H, W, 3] (default: the current one)."""
        self.loss.set_term_weights(self.settings)
        if image is not None:
            self.image.assign(self.initial_image(image)[None])
        return dict(zip(TERMS, self.terms_now().numpy().tolist()))

    def _run_settings(self, overrides: dict[str, Any]) -> StyleSettings:
        fixed = sorted(set(overrides) & set(ENGINE_SETTINGS))
        if fixed:
            raise ParameterError(f"{', '.join(fixed)} cannot change between runs: make a new StyleTransfer")
        settings = StyleSettings.make(self.settings, **overrides)
        steps = profile().steps if settings.steps is None else settings.steps
        every = max(1, steps // 20) if settings.frame_every is None else settings.frame_every
        return dataclasses.replace(settings, steps=steps, frame_every=every)

    def run(self, *, callback=None, **overrides: Any) -> StyleResult:
        """A StyleResult from ``init`` with this run's ``overrides`` (steps, optimizer...); ``callback(StepInfo)``
        at every frame; Ctrl-C or a callback returning False keeps what was done (``interrupted``)."""
        settings = self._run_settings(overrides)
        self.loss.set_term_weights(settings)
        self.image.assign(self.initial_image(settings.init, settings.seed)[None])
        # Scale the objective to start at 1, so that the first steps (and SciPy's tolerances) suit any weights.
        first = self.terms_now().numpy()
        self._scale.assign(1.0 / first[-1] if math.isfinite(first[-1]) and first[-1] > 1e-30 else 1.0)
        recorder, began, stopped = _Recorder(self, settings, callback), time.perf_counter(), None
        result = recorder.result
        try:
            if settings.optimizer == "adam":
                self._adam(settings, recorder)
            else:
                recorder.advance([first], 0)  # Adam's compiled steps report it as their first row
                _lbfgs(self, settings, recorder)
        except (KeyboardInterrupt, Stop) as stop:
            result.interrupted, stopped = True, stop
        finally:
            if recorder.bar is not None:
                recorder.bar.close()
        result.seconds = time.perf_counter() - began
        if isinstance(stopped, NonFinite):  # keep the last finite frame, as the picture too
            result.steps_done = result.frame_steps[-1]
            self.image.assign(self.initial_image(result.frames[-1])[None])
            return finish(result, stopped)
        if settings.optimizer == "adam":
            recorder.advance([self.terms_now().numpy()], 0)  # the terms after the last Adam step
        result.steps_done = len(result.history["total"]) - 1
        if result.frame_steps[-1] != result.steps_done:
            recorder.frame(result.steps_done, tell=False)
        return result

    def _adam(self, settings: StyleSettings, recorder: _Recorder) -> None:
        """Compiled Adam steps, ``steps_per_call`` at a time up to each frame, from a fresh Adam state."""
        key = (settings.beta1, settings.beta2, settings.epsilon)
        if key != self._adam_key:  # a new optimiser (and trace) only when its constants change
            self._optimizer = keras.optimizers.Adam(beta_1=key[0], beta_2=key[1], epsilon=key[2])
            self._optimizer.build([self.image])
            self.adam_steps, self._adam_key = tf.function(self._adam_loop), key
        for variable in self._optimizer.variables:  # step count and moments (the learning rate is set next)
            variable.assign(tf.zeros_like(variable))
        self._optimizer.learning_rate = settings.learning_rate
        while recorder.done < settings.steps:  # never past the next frame
            done, every = recorder.done, settings.frame_every
            count = min(settings.steps_per_call, every - done % every, settings.steps - done)
            recorder.result.evaluations += count
            recorder.advance(self.adam_steps(tf.constant(count, tf.int32)).numpy(), count)

    def sweep(self, pairs, *, callback=None, **overrides: Any) -> SweepResult:
        """``run`` once per (content weight, style weight) pair (Ctrl-C keeps the pairs finished)."""
        checked = check_pairs(pairs)
        self._run_settings(overrides)  # bad settings fail before the first pair
        results = []
        with suppress(KeyboardInterrupt):  # between two pairs
            for content_weight, style_weight in checked:
                weights = {"content_weight": content_weight, "style_weight": style_weight}
                result = self.run(callback=callback, **{**overrides, **weights})
                if result.interrupted:  # only finished pairs are kept
                    break
                results.append(result)
        return SweepResult(frames=[r.image for r in results], interrupted=len(results) < len(checked),
                           steps_done=sum(r.steps_done for r in results), pairs=checked[:len(results)],
                           results=results)  # fmt: skip


class _Recorder:
    """One run's history, frames, progress bar and callback."""

    def __init__(self, engine: StyleTransfer, settings: StyleSettings, callback):
        self.engine, self.settings, self.callback = engine, settings, callback
        self.result = StyleResult(frames=[engine.picture()], frame_steps=[0], settings=settings)
        self.bar = progress_bar(settings.progress, settings.steps, "style")
        self.done = 0

    def advance(self, rows, steps: int) -> None:
        """Add rows of terms to the history after ``steps`` more steps; take a frame when one is due."""
        if steps:
            check_finite(self.engine.image, np.sum(rows), self.done + steps)
        for row in rows:
            for name, value in zip(TERMS, row):
                self.result.history[name].append(float(value))
        self.done += steps
        if steps and self.bar is not None:
            self.bar.update(steps)
        if steps and (self.done % self.settings.frame_every == 0 or self.done == self.settings.steps):
            self.frame(self.done)

    def frame(self, step: int, tell: bool = True) -> None:
        """Keep the current picture as the frame of ``step``; tell the callback (``Stop`` when it says so)."""
        result, picture = self.result, self.engine.picture()
        result.frames.append(picture)
        result.frame_steps.append(step)
        if tell:
            terms = {t: result.history[t][-1] for t in TERMS[:3]}
            report(self.callback, StepInfo(step, self.settings.steps, picture, result.history["total"][-1],
                                           frame=len(result.frames) - 1, terms=terms))  # fmt: skip


def _lbfgs(engine: StyleTransfer, settings: StyleSettings, recorder: _Recorder) -> None:
    """SciPy's L-BFGS-B, bounds [0, 1], on TensorFlow gradients; the variable ends at the last accepted point."""
    from scipy.optimize import Bounds, minimize

    shape = tuple(engine.image.shape)
    accepted = engine.image.numpy().astype(np.float64).ravel()
    last = {"x": None, "terms": None}

    def value_and_grad(x):
        engine.image.assign(x.reshape(shape).astype(np.float32))
        terms, grad = engine.gradient()
        recorder.result.evaluations += 1
        last["x"], last["terms"] = x.copy(), terms.numpy()
        value = float(last["terms"][-1] * engine._scale.numpy())
        if not math.isfinite(value):
            return 1e30, np.zeros(x.size)  # a bad point for the line search, rather than a NaN
        return value, grad.numpy().astype(np.float64).ravel()

    def on_iteration(intermediate_result) -> None:
        nonlocal accepted
        accepted = intermediate_result.x.copy()
        engine.image.assign(accepted.reshape(shape).astype(np.float32))
        same = last["x"] is not None and np.array_equal(last["x"], accepted)  # usually the last point evaluated
        recorder.advance([last["terms"] if same else engine.terms_now().numpy()], 1)

    # ftol = gtol = 0: do the steps asked for; maxcor 10 keeps SciPy's arrays near 600 bytes per RGB pixel.
    options = {"maxiter": settings.steps, "maxfun": settings.steps * 4 + 20, "ftol": 0.0, "gtol": 0.0, "maxcor": 10}
    try:
        if settings.steps > 0:
            minimize(value_and_grad, accepted, jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                     callback=on_iteration, options=options)  # fmt: skip
    finally:
        engine.image.assign(accepted.reshape(shape).astype(np.float32))
