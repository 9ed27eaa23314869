"""Reports: live progress, the session summary's figures, junit properties and the HTML report
(rendered in headless Chromium), against the real server."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image
from test_checkpoint import tiny_batch

from comfy_plugin.media.kinds import Kinds
from comfy_plugin.report.html import render, seconds
from comfy_plugin.report.timing import node_seconds, timing_entry
from comfy_plugin.server.measure import PromptTiming
from conftest import Project, noise_batch

FAIL = "--comfy-missing-baseline=fail"
BIG_SEED = 2**60 + 7  # beyond 2^53: JavaScript would round it as a number


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("no chromium: run scripts/setup.sh (it installs Debian's chromium package)", pytrace=False)
    return found


def render_dom(page: Path, profile: Path, screenshot: Path | None = None) -> str:
    """The DOM after the page's scripts ran, from headless Chromium (no network, no profile)."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--window-size=1200,8000"]
    if screenshot is not None:
        subprocess.run([*args, f"--screenshot={screenshot}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    done = subprocess.run([*args, "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True,
                          timeout=120)
    return done.stdout


def report_data(page: Path) -> list[dict]:
    """The report's entries (without the kinds' parts), as it keeps them beside the page."""
    return json.loads((page.parent / f"{page.stem}_files" / "data.json").read_text())


def test_html_report_is_self_contained_loads_its_images_and_shows_failures_first(project: Project) -> None:
    project.batch("reg.json", noise_batch([  # the prompt that will fail is third in the file
        {"id": "drawn", "seed": "random"},
        {"id": "pair", "seed": 12, "batch_size": 2},
        {"id": "fixed", "seed": 11},
        {"id": "big", "seed": BIG_SEED},
    ]))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=4)
    path = project.path / "baselines" / "reg.json"
    document = json.loads(path.read_text())
    entry = document["baselines"]["fixed"][0]
    entry["hash"] = format(int(entry["hash"], 16) ^ 0xFFFF, "016x")  # 16 bits off: a regression
    entry.pop("sha256", None)  # of another picture: its bytes are not the output's
    path.write_text(json.dumps(document))

    result = project.run("batches/", FAIL, "--comfy-report", "out/report.html", "--junitxml=r.xml")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "prompts: 4 run; 3 passed, 1 failed, 0 skipped",
        "server execution time: * s over 4 prompt(s); wall time * s",
        f"report: {project.path / 'out' / 'report.html'}",
    ])
    junit = (project.path / "r.xml").read_text()
    assert 'name="prompt" value="fixed"' in junit and f'name="seed" value="{BIG_SEED}"' in junit

    report = project.path / "out" / "report.html"
    text = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I), "no network assets"
    beside = sorted(p.name for p in (project.path / "out" / "report_files").iterdir())
    assert len(beside) == 3 and {"cards.js", "data.json"} < set(beside), f"the one failure's difference: {beside}"
    assert "data:image" not in text and len(text) < 60_000, f"pictures are linked, not embedded ({len(text)} bytes)"
    data = report_data(report)
    by_id = {e["prompt"]: e for e in data}
    assert by_id["big"]["seed"] == str(BIG_SEED) and by_id["big"]["params"]["seed"] == str(BIG_SEED)
    assert by_id["fixed"]["seed"] == 11 and by_id["fixed"]["outcome"] == "failed"
    assert [e["prompt"] for e in data] == ["fixed", "drawn", "pair", "big"], "failures first, then file order"
    assert text.count('class="compare still view"') == 1, "the failing image in the comparison view, no other"
    assert text.count('<figure class="diff">') == 1, "passing prompts carry no difference image"

    dom = render_dom(report, project.path / "chromium-profile", project.path / "report.png")
    title = re.search(r"<title>(.*?)</title>", dom).group(1)
    # the failure: its baseline's reference, the new output, the difference; 4 passing outputs, compact.
    assert title == "comfy report: 7/7 images loaded; first: failed batches/reg.json::fixed", title
    assert dom.count('data-loaded="yes"') == 7 and 'data-loaded="no"' not in dom
    view = _card_blocks(dom)["fixed"]
    sources = dict(re.findall(r'<img[^>]*class="(baseline|new)" src="([^"]+)"', view))
    assert unquote(sources["baseline"]).startswith("../baselines/reg.refs/"), sources
    assert (report.parent / unquote(sources["new"])).resolve() in {p.resolve() for p in project.images()}, sources
    assert view.count("differs from its baseline") == 1, "the failure's text once"
    cards = re.findall(r'<section class="card ([a-z ]+)"[^>]*data-nodeid="batches/reg\.json::([^"]+)"', dom)
    assert cards == [("failed", "fixed"), ("passed", "drawn"), ("passed", "pair"), ("passed", "big")], cards
    assert (project.path / "report.png").stat().st_size > 10_000
    if os.environ.get("COMFY_REPORT_SCREENSHOT"):  # to look at it: COMFY_REPORT_SCREENSHOT=/tmp/r.png
        shutil.copy(project.path / "report.png", os.environ["COMFY_REPORT_SCREENSHOT"])


def test_live_progress_shows_sampler_steps_with_v_and_nothing_with_q(project: Project) -> None:
    project.batch("tiny.json", tiny_batch([{"id": "steps", "positive_prompt": "a windmill at dawn", "seed": 424201}]))
    result = project.run("batches/", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "batches/tiny.json::steps*",
        "  KSampler 3 step 1/4",
        "  KSampler 3 step 2/4",
        "  KSampler 3 step 3/4",
        "  KSampler 3 step 4/4",
        "batches/tiny.json::steps PASSED*",
    ])
    project.batch("tiny.json", tiny_batch([{"id": "quiet", "positive_prompt": "a windmill at dawn", "seed": 424202}]))
    result = project.run("batches/", "-q", "-rA")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "served wholly from" not in out, "the prompt really ran (its steps were sent)"
    assert "step 1/4" not in out and "KSampler 3 step" not in out, "no live progress under -q"


@pytest.mark.parametrize("workers", ["2"])
def test_xdist_is_quiet_and_the_controller_summarises_and_reports(project: Project, workers: str) -> None:
    for name in ("left", "right"):
        project.batch(f"{name}.json", noise_batch([{"id": f"{name}-{i}", "seed": 300 + i} for i in range(2)]))
    result = project.run("batches/", "-n", workers, "-v", "--dist", "loadfile", "--comfy-report", "r.html")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["prompts: 4 run; 4 passed, 0 failed, 0 skipped",
                                 "4 file(s) saved in *", "server execution time: * over 4 prompt(s); wall time *"])
    assert " step " not in result.stdout.str()
    text = (project.path / "r.html").read_text()
    assert text.count('<section class="card passed"') == 4 and text.count('<a class="full"') == 4


def test_pytest_html_gets_the_images_as_extras(project: Project) -> None:
    pytest.importorskip("pytest_html")
    project.batch("one.json", noise_batch([{"id": "one", "seed": 5}]))
    project.run("batches/", "--html", "h.html", "--self-contained-html").assert_outcomes(passed=1)
    text = (project.path / "h.html").read_text()
    assert text.count("data:image/png;base64,") == 1, "the one output's thumbnail, embedded"


def _card_blocks(dom: str) -> dict[str, str]:
    """{prompt id: its card's HTML} from the rendered DOM."""
    return {m.group(1).split("::")[-1]: m.group(0)
            for m in re.finditer(r'<section class="card[^"]*"[^>]*data-nodeid="([^"]+)".*?</section>', dom, re.S)}


def _full_size_targets(page: Path, card: str) -> list[Path]:
    hrefs = re.findall(r'<a class="full" href="([^"]+)"', card)
    assert all(not h.startswith(("/", "file:", "http")) for h in hrefs), f"links relative to the report: {hrefs}"
    return [(page.parent / unquote(h)).resolve() for h in hrefs]


def test_html_report_shows_date_server_prompt_durations_and_links_full_size_images(project: Project) -> None:
    project.batch("look.json", noise_batch([
        {"id": "windmill", "positive_prompt": "a windmill at dawn, oil on canvas", "seed": 31},
        {"id": "lake", "positive_prompt": "a quiet lake", "seed": 32, "batch_size": 2},
    ]))
    before = datetime.now().astimezone().replace(microsecond=0)
    project.run("batches/", "--comfy-report", "out/report.html").assert_outcomes(passed=2)
    after = datetime.now().astimezone()
    page = project.path / "out" / "report.html"
    saved = {p.resolve() for p in project.images()}
    assert len(saved) == 3
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I), "no network assets"
    data = {e["prompt"]: e for e in report_data(page)}

    dom = render_dom(page, project.path / "chromium-profile", project.path / "look.png")
    assert re.search(r"<title>comfy report: 3/3 images loaded; first: passed batches/look\.json::windmill</title>", dom)
    run = re.search(r'<div class="run">(.*?)</div>', dom, re.S).group(1)
    started = datetime.fromisoformat(re.search(r'<time datetime="([^"]+)">', run).group(1))
    assert before <= started <= after, (before, started, after)
    assert started.strftime("%Y-%m-%d %H:%M:%S") in run, run
    assert f"server <code>{project.url}</code>" in run, run
    cards = _card_blocks(dom)
    for prompt, words, images in (("windmill", "a windmill at dawn, oil on canvas", 1), ("lake", "a quiet lake", 2)):
        card, entry = cards[prompt], data[prompt]
        header = re.search(r"<header>(.*?)</header>", card, re.S).group(1)
        assert f'<p class="positive" title="positive prompt">{words}</p>' in header, header
        assert entry["duration_s"] > 0 and entry["execution_s"] > 0, entry
        assert f"test <b>{seconds(entry['duration_s'])}</b>" in header, header
        assert f"server <b>{seconds(entry['execution_s'])}</b>" in header, header
        targets = _full_size_targets(page, card)
        assert len(targets) == images and set(targets) <= saved, (targets, saved)
        assert card.count('data-loaded="yes"') == images
    if os.environ.get("COMFY_REPORT_SCREENSHOT"):  # to look at it: COMFY_REPORT_SCREENSHOT=/tmp/r.png
        shutil.copy(project.path / "look.png", os.environ["COMFY_REPORT_SCREENSHOT"])

    # Downloaded together (report and images, the same layout), the links still find the images;
    # the report left behind without them shows its cards and says the pictures did not load.
    download = project.path / "download"
    shutil.copytree(project.path / "out", download / "out")
    shutil.copytree(project.path / "images", download / "images")
    shutil.rmtree(project.path / "images")
    moved = download / "out" / "report.html"
    dom = render_dom(moved, project.path / "chromium-profile")
    targets = [t for card in _card_blocks(dom).values() for t in _full_size_targets(moved, card)]
    assert len(targets) == 3 and all(t.is_file() and download in t.parents for t in targets), targets
    dom = render_dom(page, project.path / "chromium-profile")
    assert "<title>comfy report: 0/3 images loaded;" in dom and len(_card_blocks(dom)) == 2


def test_html_report_without_the_saved_file_shows_the_thumbnail_and_links_odd_names(tmp_path: Path) -> None:
    odd = tmp_path / "my images" / "a #1?.png"
    odd.parent.mkdir()
    Image.new("RGB", (96, 64), (200, 40, 40)).save(odd)
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (40, 40, 200)).save(buffer, "PNG")
    thumb = base64.b64encode(buffer.getvalue()).decode("ascii")
    gone = tmp_path / "images" / "gone.png"
    entries = [{"nodeid": "b.json::p", "outcome": "passed", "prompt": "p", "batch": "b.json", "order": 0,
                "positive_prompt": None, "parts": [{"kind": "image", "comparisons": [], "images": [
                    {"path": str(odd), "thumb": thumb}, {"path": str(gone), "thumb": thumb}]}]}]
    page = tmp_path / "out" / "report.html"
    page.parent.mkdir()
    page.write_text(render(entries, folder=page.parent, kinds=Kinds.of()), encoding="utf-8")
    dom = render_dom(page, tmp_path / "chromium-profile")
    assert "<title>comfy report: 2/2 images loaded;" in dom, "the missing file's thumbnail still shows"
    assert _full_size_targets(page, dom) == [odd.resolve()], "a link for the file on disk only"
    assert 'gone.png <span class="missing">(file not found)</span>' in dom
    assert 'class="positive"' not in dom and '<div class="run">' not in dom, "nothing to show, nothing shown"


# -- time and memory per prompt ----------------------------------------------------------

BAR = re.compile(r'<div class="bar" data-node="(?P<node>[^"]+)" data-seconds="(?P<s>[^"]+)">'
                 r'<span class="name">(?P<label>[^<]+)</span><span class="track"><span class="fill" '
                 r'style="width:(?P<width>[\d.]+)%" data-px="(?P<px>[\d.]+)" data-track-px="(?P<track>[\d.]+)">'
                 r'</span></span><span class="s">(?P<shown>[^<]+)</span></div>')


def test_html_report_charts_each_prompts_node_times_slowest_first_with_queue_and_memory(project: Project) -> None:
    project.batch("tiny.json", tiny_batch([{"id": "lighthouse", "positive_prompt": "a lighthouse in fog", "seed": 161601},
                                           {"id": "barn", "positive_prompt": "a red barn", "seed": 161602}]))
    project.run("batches/", "--comfy-report", "out/report.html").assert_outcomes(passed=2)
    page = project.path / "out" / "report.html"
    text = page.read_text()
    data = {e["prompt"]: e for e in report_data(page)}
    workflow = json.loads((Path(__file__).parent.parent / "workflows-files" / "tiny-sd15-txt2img-api.json").read_text())

    dom = render_dom(page, project.path / "chromium-profile", project.path / "timing.png")
    cards = _card_blocks(dom)
    for prompt in ("lighthouse", "barn"):
        card, entry = cards[prompt], data[prompt]
        timing = entry["timing"]
        assert '<figure class="nodes"' in card and "the server does not stamp them" in card, card
        bars = [m.groupdict() for m in BAR.finditer(card)]
        assert len(bars) == len(timing["nodes"]) and bars, (bars, timing)
        times = [float(b["s"]) for b in bars]
        assert times == sorted(times, reverse=True), f"slowest first: {times}"
        labels = [b["label"] for b in bars]
        assert {"KSampler 3", "CLIPTextEncode 6", "VAEDecode 8"} <= set(labels), labels  # new seed, new text
        assert all(b["label"] == f'{workflow[b["node"]]["class_type"]} {b["node"]}' for b in bars), labels
        slowest = times[0]
        assert slowest > 0 and float(bars[0]["width"]) == 100.0, bars[0]
        for bar, spent in zip(bars, times):
            assert abs(float(bar["width"]) - 100 * spent / slowest) <= 0.051, (bar, slowest)
            drawn, track = float(bar["px"]), float(bar["track"])  # as Chromium laid it out
            assert track > 50 and abs(drawn - max(track * spent / slowest, 1.0)) <= 1.0, (bar, slowest)
            assert bar["shown"] == node_seconds(spent), bar
        assert 0 < sum(times) <= entry["execution_s"] + 1.0, (times, entry["execution_s"])
        header = re.search(r"<header>(.*?)</header>", card, re.S).group(1)
        assert timing["queued_s"] >= 0 and f'queued <b>{node_seconds(timing["queued_s"])}</b>' in header, header
        assert timing["mem_kind"] == "device memory, sampled", "a --comfy-url server: /system_stats, sampled"
        assert timing["peak_mem_mb"] > 0 and f'device memory <b>{timing["peak_mem_mb"]:,.0f} MB</b>, sampled' in header
    assert len(text) < 60_000, f"two prompts' charts and thumbnails keep the page small ({len(text)} bytes)"
    if os.environ.get("COMFY_REPORT_SCREENSHOT"):  # to look at it: COMFY_REPORT_SCREENSHOT=/tmp/r.png
        shutil.copy(project.path / "timing.png", os.environ["COMFY_REPORT_SCREENSHOT"])


def test_node_chart_names_unknown_nodes_sums_repeats_and_keeps_to_the_slowest() -> None:
    classes = {str(i): f"Step{i}" for i in range(1, 15)}
    ran = tuple((str(i), i / 10) for i in range(1, 15)) + (("3", 0.05), ("40", 0.45))  # 3 ran twice; 40 unknown
    timing = timing_entry(PromptTiming(0.5, ran, 2048.4, "peak resident memory"), classes)
    assert timing["nodes"][2] == {"id": "3", "class": "Step3", "s": 0.35} and timing["nodes"][-1]["class"] is None
    entries = [{"nodeid": "b.json::p", "outcome": "passed", "prompt": "p", "batch": "b.json", "order": 0,
                "execution_s": 11.0, "timing": timing},
               {"nodeid": "b.json::cached", "outcome": "passed", "prompt": "cached", "batch": "b.json", "order": 1,
                "timing": {"queued_s": 0.01, "peak_mem_mb": None, "mem_kind": "", "nodes": []}}]
    page = render(entries)
    cards = _card_blocks(page)
    labels = re.findall(r'<span class="name">([^<]+)</span>', cards["p"])
    assert labels[:3] == ["Step14 14", "Step13 13", "Step12 12"] and len(labels) == 12, labels
    assert "node 40" in labels and "Step3 3" not in labels, "40 (0.45 s) is among the slowest 12, 3 (0.35 s) is not"
    assert '<div class="rest">3 more node(s), 0.650 s in all</div>' in cards["p"], "Step3 0.35 + 0.2 + 0.1"
    assert "peak resident memory <b>2,048 MB</b>" in cards["p"]
    assert 'class="nodes"' not in cards["cached"] and "memory" not in cards["cached"] and "queued <b>0.010 s</b>" in cards["cached"]


def test_with_the_report_each_output_image_is_decoded_once(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison's one decode gives the metrics and the reference; the report links the
    saved files, so it decodes nothing more, and an uncompared image is not decoded at all.
    Counted at Pillow: every full decode of an image of the outputs' size (references are smaller)."""
    from PIL import ImageFile

    project.batch("dec.json", noise_batch([{"id": f"p{i}", "seed": 20 + i} for i in range(3)]
                                          + [{"id": "drawn", "seed": "random"}], generic_prompts={
                                              "width": 300, "height": 200}))
    project.run("batches/", "--comfy-update-baselines").assert_outcomes(passed=4)
    path = project.path / "baselines" / "dec.json"  # entries without the bytes' digest: every image is decoded
    document = json.loads(path.read_text())
    for entries in document["baselines"].values():
        for entry in entries:
            entry.pop("sha256")
    path.write_text(json.dumps(document))
    decoded: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def counting_load(image: ImageFile.ImageFile) -> object:
        if image.size == (300, 200) and getattr(image, "_im", None) is None:  # this call decodes it
            decoded.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    project.run("batches/", FAIL, "--comfy-report", "report.html").assert_outcomes(passed=4)
    text = (project.path / "report.html").read_text()
    assert text.count("image 0: match;") == 3 and text.count('<a class="full"') == 4, "three compared, one drawn"
    assert len(decoded) == 3, f"{len(decoded)} decodes of 3 compared output images"
