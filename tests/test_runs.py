"""Tests of cadl_utils.runs: the result, callback and progress conventions every engine shares."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest

from cadl_utils.runs import Result, StepInfo, Stop, progress_bar, report


def _frames(count: int) -> list[np.ndarray]:
    return [np.full((8, 10, 3), i / max(1, count), np.float32) for i in range(count)]


def test_result_image_is_the_last_frame():
    frames = _frames(3)
    result = Result(frames)
    assert result.image is frames[-1] and not result.interrupted and result.steps_done == 0


def test_result_saves_the_picture_and_the_animation(tmp_path):
    result = Result(_frames(3), steps_done=6)
    still = result.save(tmp_path / "last.png")
    animation = result.save_gif(tmp_path / "all.gif", duration_ms=50)
    assert iio.imread(still).shape == (8, 10, 3)
    assert len(iio.imread(animation, index=None)) == 3


def test_report_stops_only_on_false():
    info = StepInfo(step=1, total=2, image=np.zeros((2, 2, 3), np.float32), loss=0.0)
    seen = []
    report(seen.append, info)  # returns None: go on
    report(None, info)
    assert seen == [info]
    with pytest.raises(Stop):
        report(lambda _info: False, info)


def test_progress_bar_off_and_on():
    assert progress_bar(False, 10, "x") is None
    bar = progress_bar(True, 10, "x")
    bar.update(10)
    assert bar.n == 10
    bar.close()
