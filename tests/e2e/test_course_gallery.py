"""The course's gallery page (`make course` writes outputs/course/index.html) in a real browser: every picture loads.

Renders the course at the profile run.sh sets (quick, untrained weights) into a scratch folder, or uses the folder
named by CADL_E2E_COURSE_DIR (an index.html already rendered there). Screenshot: outputs/e2e/course-gallery.png.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cadl_utils.cli.course import CAPTIONS

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "outputs" / "e2e"


@pytest.fixture(scope="module")
def course_folder(tmp_path_factory) -> Path:
    """A folder holding a rendered course: CADL_E2E_COURSE_DIR, else a fresh `python -m cadl_utils course` run."""
    given = os.environ.get("CADL_E2E_COURSE_DIR")
    if given:
        return Path(given)
    folder = tmp_path_factory.mktemp("course")
    result = subprocess.run([sys.executable, "-m", "cadl_utils", "course", "--out", str(folder)], cwd=REPO,
                            capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert result.returncode == 0, f"`python -m cadl_utils course` failed:\n{result.stderr[-3000:]}"
    return folder


def test_course_gallery_shows_the_eleven_pictures(course_folder, browser_context) -> None:
    page = browser_context.new_page()
    try:
        page.goto((course_folder / "index.html").resolve().as_uri(), wait_until="load")
        images = page.evaluate(
            "() => Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "course-gallery.png"), full_page=True)
        banner, untrained = page.locator(".banner").count(), "Weights: untrained" in page.content()
    finally:
        page.close()
    assert sorted(src for src, _, _ in images) == sorted(CAPTIONS), images
    broken = [src for src, complete, width in images if not complete or width <= 0]
    assert not broken, f"pictures that did not load in the browser: {broken}"
    assert banner == (1 if untrained else 0), "the untrained banner is missing (or shown for pretrained weights)"
