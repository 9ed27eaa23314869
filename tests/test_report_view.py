"""The HTML report at scale and its comparison view, from synthetic entries (no server): ten
thousand cards shown a page at a time, failures first, pictures loaded lazily; a failing
image side by side at full size, under a slider or overlaid, its worst tile magnified, the
regions its comparison ignores hatched; the keys that walk the failures and tick accept. All
read from the page's DOM in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, wait_for
from report_entries import IGNORED, SIDE, TILE, entries, pictures

from comfy_plugin.media.kinds import Kinds
from comfy_plugin.report.html import PAGE, render
from comfy_plugin.report.pictures import Pictures


def write_report(tmp_path: Path, count: int, failing: int) -> Path:
    files = pictures(tmp_path)
    page = tmp_path / "out" / "report.html"
    page.parent.mkdir()
    folder = Pictures.beside(page)
    page.write_text(render(entries(count, failing, files), folder=page.parent, kinds=Kinds.of(), pictures=folder),
                    encoding="utf-8")
    folder.prune()
    return page


@pytest.fixture
def opened(tmp_path: Path) -> Any:
    browsers: list[Browser] = []

    def open_page(page: Path) -> Browser:
        browser = Browser(page.as_uri(), tmp_path / f"chromium-{len(browsers)}", window=(1280, 1000))
        browsers.append(browser)
        wait_for("the cards", lambda: browser.evaluate("document.body && document.body.dataset.ready === 'yes'"),
                 120)
        return browser

    yield open_page
    for browser in browsers:
        browser.close()


def test_ten_thousand_cards_show_a_page_at_a_time_failures_first_with_lazy_pictures(tmp_path: Path,
                                                                                     opened: Any) -> None:
    page = write_report(tmp_path, 10_000, 120)
    assert page.stat().st_size < 400_000, f"the page itself stays small ({page.stat().st_size} bytes)"
    beside = page.parent / "report_files"
    assert {p.name for p in beside.iterdir()} == {"cards.js", "data.json", next(
        p.name for p in beside.iterdir() if p.suffix == ".png")}, "one difference picture, written once"
    data = json.loads((beside / "data.json").read_text())
    assert len(data) == 10_000 and [e["outcome"] for e in data[:120]] == ["failed"] * 120

    browser = opened(page)
    state = browser.evaluate("""({cards: document.body.dataset.cards, pages: document.body.dataset.pages,
        shown: document.querySelectorAll('#cards .card').length,
        outcomes: Array.from(document.querySelectorAll('#cards .card')).map(c => c.dataset.outcome),
        lazy: Array.from(document.querySelectorAll('#cards img')).every(i => i.loading === 'lazy'),
        images: document.querySelectorAll('#cards img').length,
        label: document.getElementById('page-label').textContent})""")
    assert state["cards"] == "10000" and state["pages"] == str(10_000 // PAGE) and state["shown"] == PAGE, state
    assert state["outcomes"] == ["failed"] * PAGE and state["lazy"], state
    assert state["label"] == f"cards 1-{PAGE} of 10000", state
    loaded = wait_for("the first pictures", lambda: int(browser.evaluate("document.body.dataset.loaded") or 0), 30)
    assert 0 < loaded < state["images"], f"only the pictures near the window load ({loaded} of {state['images']})"

    browser.evaluate("document.getElementById('page-next').click()")
    second = browser.evaluate("Array.from(document.querySelectorAll('#cards .card')).map(c => c.dataset.nodeid)")
    assert len(second) == PAGE and second[0] == data[PAGE]["nodeid"], second[:2]
    browser.evaluate("""(f => {f.value = 'p9999'; f.dispatchEvent(new Event('input'));})(
        document.getElementById('filter'))""")
    found = browser.evaluate("""[document.body.dataset.shown,
        Array.from(document.querySelectorAll('#cards .card')).map(c => c.dataset.nodeid)]""")
    assert found == ["1", ["batches/b9.json::p9999"]], found


def _geometry(browser: Browser) -> dict[str, Any]:
    """Where the current card's comparison view draws its pictures, in CSS pixels."""
    return browser.evaluate("""(() => {
        const card = document.querySelector('.card.current'), view = card.querySelector('.compare.view');
        const box = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
        const inner = el => { const r = el.getBoundingClientRect();  // inside its border
            return [r.left + el.clientLeft, r.top + el.clientTop, el.clientWidth, el.clientHeight]; };
        const pic = view.querySelector('.side.new .pic');
        return {view: view.dataset.view, split: view.dataset.split || null,
                base: box(view.querySelector('img.baseline')), new: box(view.querySelector('img.new')),
                clip: getComputedStyle(pic).clipPath,
                opacity: getComputedStyle(view.querySelector('.side.new')).opacity,
                ignore: box(pic.querySelector('.ignore')), pic: box(pic),
                window: inner(view.querySelector('.zoom .window')), tile: box(view.querySelector('.zoom .window img')),
                zoomed: view.querySelectorAll('.zoom img').length, diff: !!view.querySelector('.diff img'),
                provenance: card.firstElementChild.className, messages: card.querySelectorAll('pre.message').length,
                accept: card.querySelector('.accept-box').checked, nodeid: card.dataset.nodeid};
    })()""")


def test_comparison_view_side_by_side_slider_overlay_zoom_and_keys(tmp_path: Path, opened: Any) -> None:
    page = write_report(tmp_path, 200, PAGE + 5)  # failures on two pages
    browser = opened(page)
    failing = browser.evaluate("Array.from(document.querySelectorAll('#cards .card')).map(c => c.dataset.nodeid)")
    browser.key("j")
    shown = _geometry(browser)
    assert shown["nodeid"] == failing[0] and shown["view"] == "side", shown
    assert shown["new"][2] == SIDE and shown["base"][2] == SIDE, "both at the new image's full size"
    assert shown["new"][0] > shown["base"][0] + SIDE - 1 and shown["new"][1] == shown["base"][1], "side by side"
    assert shown["provenance"] == "provenance" and shown["messages"] == 1, "provenance first, the failure once"
    x0, y0, x1, y1 = IGNORED
    assert [round(v) for v in shown["ignore"]] == [round(shown["pic"][0] + x0), round(shown["pic"][1] + y0),
                                                   x1 - x0, y1 - y0], shown
    window, tile = shown["window"], shown["tile"]
    assert shown["zoomed"] == 3 and shown["diff"], "baseline, new and difference magnified"
    assert abs(tile[2] - 8 * window[2]) < 1 and abs(tile[0] - (window[0] - (TILE["column"] - 1) * window[2])) < 1
    assert abs(tile[1] - (window[1] - (TILE["row"] - 1) * window[3])) < 1, (window, tile)

    browser.key("v")
    slider = _geometry(browser)
    assert slider["view"] == "slider" and slider["clip"] == "inset(0px 0px 0px 50%)", slider
    assert slider["new"][:2] == slider["base"][:2] and slider["new"][2] == SIDE, "one over the other"
    browser.key("]")
    assert _geometry(browser)["clip"] == "inset(0px 0px 0px 60%)"
    browser.key("v")
    overlay = _geometry(browser)
    assert overlay["view"] == "overlay" and overlay["clip"] == "none" and overlay["opacity"] == "0.6", overlay
    browser.key("v")
    assert _geometry(browser)["view"] == "side"

    browser.key("a")
    assert _geometry(browser)["accept"] and browser.evaluate("document.body.dataset.accepted") == "1"
    for _ in range(PAGE):  # the 51st failure is on the second page
        browser.key("j")
    moved = _geometry(browser)
    assert browser.evaluate("document.body.dataset.page") == "1" and moved["nodeid"] not in failing, moved
    browser.key("a")
    browser.key("k")
    assert browser.evaluate("document.body.dataset.page") == "0", "back to the first page"
    assert browser.evaluate("document.querySelector('.card.current .accept-box').checked") is False
    ticked = browser.evaluate("document.body.dataset.accepted")
    assert ticked == "2", "a tick stays when its card's page is left"
    downloads = tmp_path / "downloads"
    browser.allow_downloads(downloads)
    browser.evaluate("document.getElementById('accept-download').click()")
    saved = wait_for("accepted.json", lambda: [p for p in downloads.glob("accepted.json")], 30)[0]
    assert json.loads(saved.read_text()) == [failing[0], moved["nodeid"]]

    browser.key("k")
    browser.evaluate("document.querySelector('.card.current').scrollIntoView()")
    wait_for("the pictures", lambda: browser.evaluate(
        "Array.from(document.querySelectorAll('.card.current img')).every(i => i.complete && i.naturalWidth > 0)"), 30)
    artifacts = Path(os.environ.get("COMFY_REPORT_ARTIFACTS") or tmp_path / "artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = browser.screenshot(artifacts / "comparison-view.png")
    assert shot.stat().st_size > 20_000, "a screenshot of the comparison view, kept for a person to look at"
    if os.environ.get("COMFY_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["COMFY_REPORT_SCREENSHOT"])


def test_the_zoomed_tile_is_the_one_the_metrics_name(tmp_path: Path) -> None:
    """The view reads the worst tile from the comparison's own message: a square painted into
    row 6, column 4 of the 8x8 grid is the tile it magnifies."""
    import io
    from dataclasses import replace

    from PIL import Image, ImageDraw

    from comfy_plugin.media.still.card import worst_tile
    from comfy_plugin.media.still.comparison import compare
    from comfy_plugin.media.still.entries import observe

    files = pictures(tmp_path)
    new = Image.open(files["new"]).convert("RGB")
    base = new.copy()
    ImageDraw.Draw(base).rectangle((192, 320, 255, 383), fill=(250, 250, 0))
    seen = {}
    for name, picture in (("base", base), ("new", new)):
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        seen[name] = observe(buffer.getvalue())
    stored = replace(seen["base"].entry, reference="x.refs/base.png")
    result = compare(stored, seen["new"], baseline_reference=seen["base"].reference_pixels())
    assert result.status == "diff", result.message
    assert worst_tile(result.message) == {**TILE, "metric": worst_tile(result.message)["metric"]}, result.message
