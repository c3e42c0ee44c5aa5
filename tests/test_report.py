"""`ale-gym eval` then `ale-gym report`: static HTML with no broken references, rendered by headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from PIL import Image

from ale_gym.cli import main
from conftest import SANDBOX

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
BAR_BLUE = (0x4A, 0x7B, 0xD0)  # .bar in the report's style sheet
CURVE_GREEN = (0x2A, 0x9D, 0x55)  # .curve


class References(HTMLParser):
    """Every local file an HTML page points at (img src, a href), and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.images.append(values["src"])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def references(page: Path) -> References:
    parser = References()
    parser.feed(page.read_text("utf-8"))
    return parser


def local_targets(page: Path, urls: list[str]) -> list[Path]:
    targets = []
    for url in urls:
        parsed = urlparse(url)
        assert not parsed.scheme and not parsed.netloc, f"{page.name} points outside the report: {url}"
        targets.append((page.parent / unquote(parsed.path)).resolve())
    return targets


def screenshot(page: Path, target: Path, profile: Path) -> np.ndarray:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "the report test needs Chromium (Debian package 'chromium')"
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}",
                             "--window-size=1280,1024", page.resolve().as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert target.is_file(), result.stderr[-2000:]
    return np.asarray(Image.open(target).convert("RGB"))


def has_colour(image: np.ndarray, rgb: tuple[int, int, int], at_least: int) -> bool:
    return int(np.all(np.abs(image.astype(int) - rgb) <= 6, axis=-1).sum()) >= at_least


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    assert main(["eval", "--agent", "oracle", "--tasks", "Word-Stats", "--seeds", "2", "--workers", "2",
                 "--out", str(out), "--sandbox", SANDBOX]) == 0
    return out


def test_eval_prints_and_writes_the_summary(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["overall"]["episodes"] == 4 and summary["overall"]["full_pass_rate"] == 1.0
    assert set(summary["by_tier"]) == {"near-term", "full-spectrum"}
    assert set(summary["by_cluster"]) == {"11"}
    assert json.loads((run_dir / "run.json").read_text())["agent"] == "oracle"


def test_report_has_no_broken_references_and_renders_in_chromium(run_dir, tmp_path, capsys):
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    index = Path(capsys.readouterr().out.strip())
    assert index == run_dir / "report" / "index.html"
    pages = [index, *sorted((run_dir / "report" / "episodes").glob("*.html"))]
    assert len(pages) == 5
    image_count = 0
    for page in pages:
        refs = references(page)
        for target in local_targets(page, refs.images + refs.links):
            assert target.is_file(), f"{page.name} references a missing file {target}"
        for target in local_targets(page, refs.images):
            with Image.open(target) as image:
                assert image.width == 320 and image.height > 0  # thumbnails, not the full frames
        image_count += len(refs.images)
    assert image_count >= 8  # at least the reset screen and one changed screen per episode
    index_text = " ".join(references(index).text)
    assert "1.000 ± 0.000" in index_text and "full-spectrum" in index_text

    shot = screenshot(index, tmp_path / "index.png", tmp_path / "profile")
    assert shot.shape == (1024, 1280, 3)
    assert shot.std() > 10 and len(np.unique(shot.reshape(-1, 3), axis=0)) > 50  # not a blank page
    assert has_colour(shot, BAR_BLUE, 2000)  # the inline SVG charts were drawn
    assert has_colour(shot, (0x1D, 0x23, 0x30), 500)  # and the text

    episode = next(p for p in pages if "near-term_seed1" in p.name)
    episode_text = " ".join(references(episode).text)
    assert "Milestone reward curve" in episode_text and "wc -w" in episode_text and "count 2" in episode_text
    shot = screenshot(episode, tmp_path / "episode.png", tmp_path / "profile")
    assert has_colour(shot, CURVE_GREEN, 300)  # the reward curve
    assert has_colour(shot, (0x11, 0x11, 0x11), 2000)  # the first thumbnail: the dark terminal frame


def test_report_of_episodes_without_trajectories(tmp_path, capsys, sandbox):
    out = tmp_path / "nop"
    assert main(["eval", "--agent", "nop", "--tasks", "Word-Stats", "--tiers", "near-term", "--out", str(out),
                 "--no-record", "--sandbox", sandbox]) == 0
    assert "overall  all" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    page = next((out / "report" / "episodes").glob("*.html"))
    assert "No trajectory was recorded" in page.read_text()
    with pytest.raises(SystemExit, match="holds no episode results"):
        main(["report", str(tmp_path / "empty")])
