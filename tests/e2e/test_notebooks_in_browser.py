"""The notebooks in JupyterLab in a real browser: they run, their sliders work, GIFs and banner show.

Run with `make e2e` (or `bash tests/e2e/run.sh`); screenshots go to outputs/e2e/<notebook>-<step>.png.
What a notebook must provide is the widgets DOM contract in notes/CONTRACTS.md.
"""

from __future__ import annotations

import pytest
from lab_page import E2EFailure, NotebookPage

pytestmark = pytest.mark.e2e


def applies_to(wanted: str, select=lambda name: True):
    """Declare which notebooks a test is parametrised over (conftest.pytest_generate_tests)."""

    def mark(test):
        test.e2e_wanted = wanted
        test.e2e_select = select
        return test

    return mark


def _ran(notebook) -> NotebookPage:
    """The page of a notebook whose "run all" finished; skip (the run test reports why) otherwise."""
    if not notebook.report.finished:
        pytest.skip(f"{notebook.page.name} did not finish running; see test_runs_all_cells_without_errors")
    return notebook.page


@applies_to("notebook (*.ipynb)")
def test_runs_all_cells_without_errors(notebook) -> None:
    report = notebook.report
    if not report.ok:
        path = notebook.page.screenshot("0-run-all-FAILED")
        problems = "\n- ".join(report.problems)
        raise E2EFailure(
            f"{notebook.page.name}: after Run All Cells ({report.seconds:.0f} s) expected\n- {problems}\n"
            f"  screenshot: {path}"
        )


@applies_to("Deep Dream notebook (name containing 'deep_dream')", lambda name: "deep_dream" in name)
def test_deep_dream_channel_slider_and_layer_dropdown_update_preview(notebook, preview_timeout) -> None:
    page = _ran(notebook)
    group = "deep-dream"
    box = page.mark_group(group, ".cadl-channel", [".cadl-layer", ".cadl-preview", ".cadl-preview-label"],
                          "1-deep-dream")
    page.screenshot("1-deep-dream-before")
    errors_before = page.error_count()
    start = page.preview_state(group)

    value = page.step_slider(box.locator(f'[data-e2e-control="{group}"]'), "2-channel-slider")
    moved = page.wait_preview_change(group, start, f"moving the .cadl-channel slider to {value}",
                                     "2-channel-slider", preview_timeout)
    page.screenshot("2-channel-slider")

    layer = page.choose_other_option(box.locator(".cadl-layer").first, "3-layer-dropdown")
    page.wait_preview_change(group, moved, f"choosing {layer!r} in the .cadl-layer dropdown",
                             "3-layer-dropdown", preview_timeout)
    page.screenshot("3-layer-dropdown")
    if page.error_count() > errors_before:
        page.fail("moving the widgets to show no error output", "3-layer-dropdown")


@applies_to("style transfer notebook (name containing 'style')", lambda name: "style" in name)
def test_style_weight_slider_updates_preview(notebook, preview_timeout) -> None:
    page = _ran(notebook)
    group = "style"
    control = ".cadl-weight-style" if page.page.locator(".cadl-weight-style").count() else "[class*=cadl-weight-]"
    box = page.mark_group(group, control, [".cadl-preview"], "4-style")
    page.screenshot("4-style-before")
    errors_before = page.error_count()
    start = page.preview_state(group)

    value = page.step_slider(box.locator(f'[data-e2e-control="{group}"]'), "5-style-weight")
    page.wait_preview_change(group, start, f"moving the {control} slider to {value}", "5-style-weight",
                             preview_timeout, need_label=False)
    page.screenshot("5-style-weight")
    if page.error_count() > errors_before:
        page.fail("moving the weight slider to show no error output", "5-style-weight")


@applies_to("lesson notebook (every notebook except the tour, 'tour' in its name)", lambda name: "tour" not in name)
def test_rendered_gif_is_displayed(notebook) -> None:
    page = _ran(notebook)
    if page.count_gif_images() == 0:
        page.fail('a displayed GIF: a visible, decoded <img src="data:image/gif;base64,..."> '
                  "(cadl_utils.images.show_gif) or a .cadl-gif image widget", "6-gif")
    # The explorers' .cadl-gif widget stays hidden until Run is clicked: scroll to a visible GIF only.
    visible_gif = 'img[src^="data:image/gif"]:visible, img.cadl-gif:visible, .cadl-gif img:visible'
    page.page.locator(visible_gif).last.scroll_into_view_if_needed()
    page.screenshot("6-gif")


@applies_to("notebook (*.ipynb)")
def test_untrained_banner_is_visible(notebook) -> None:
    page = _ran(notebook)
    banners = page.page.locator(".cadl-untrained-banner")
    visible = [banner for banner in banners.all() if banner.is_visible()]
    if not visible:
        page.fail(f"a visible .cadl-untrained-banner (CADL_WEIGHTS=untrained); found {banners.count()}, none visible",
                  "7-banner")
    visible[0].scroll_into_view_if_needed()
    page.screenshot("7-banner")
    text = visible[0].inner_text()
    if "untrained network" not in text.lower():
        page.fail(f'the .cadl-untrained-banner to mention "untrained network", it says {text[:200]!r}', "7-banner")
