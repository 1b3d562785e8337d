"""Two reports opened in a real headless Chromium: what the psychiatrist's browser shows.

Fails (does not skip) in CI when Chromium is missing: `.ci/run` installs it, so a missing
browser there is a broken setup, not an optional extra.
"""
from __future__ import annotations

import html
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from models.report.writer import write_reports
from tests.report.conftest import INJECTION, write_inputs

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio"]


def _chromium() -> str:
    found = shutil.which("chromium") or (
        str(DEBIAN_CHROMIUM) if DEBIAN_CHROMIUM.exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run must install it in CI")
        pytest.skip("chromium is not installed (CI installs it through .ci/run)")
    return found


def _run(browser: str, tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{name}"  # one profile per run: Chromium locks its profile
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "HOME": str(tmp_path)})


def _dom(browser: str, tmp_path: Path, page: Path) -> str:
    result = _run(browser, tmp_path, f"dom-{page.stem}", "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    assert "</html>" in result.stdout
    return result.stdout


def _screenshot(browser: str, tmp_path: Path, page: Path) -> Path:
    png = tmp_path / f"{page.stem}.png"
    result = _run(browser, tmp_path, f"shot-{page.stem}", f"--screenshot={png}",
                  "--window-size=1000,1600", "--hide-scrollbars", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    return png


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("browser")
    paths = write_inputs(folder / "inputs")
    write_reports(paths["predictions"], paths["explanations"], paths["meta"],
                  folder / "patients",
                  patient_ids=["pt-unusual", "pt-inject"])
    return {p.stem: p for p in (folder / "patients").glob("pt-*.html")}


@pytest.mark.slow
def test_browser_shows_probability_factors_and_warnings(pages, tmp_path):
    browser = _chromium()
    text = html.unescape(_dom(browser, tmp_path, pages["pt-unusual"]))
    assert "40 %" in text and "(likely between 29 % and 50 %)" in text
    assert "about 4 in 10 patients like this one would be expected to respond" in text
    assert "route of ketamine/esketamine: intramuscular" in text
    share = "of the difference from a typical patient"
    assert f"accounts for about 6 points {share}" in text
    assert "body-mass index 61 kg/m²" in text and f"accounts for about 4 points {share}" in text
    assert "Associated with a lower chance" in text
    assert "Use with caution" in text
    assert "route 'im' was never seen in training" in text


@pytest.mark.slow
def test_browser_shows_injected_value_as_text_and_runs_no_script(pages, tmp_path):
    browser = _chromium()
    dom = _dom(browser, tmp_path, pages["pt-inject"])
    # The serialised DOM escapes text nodes: the value is text, not an element.
    assert "employment status: &lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert INJECTION in html.unescape(dom)
    assert "<script" not in dom.lower()


@pytest.mark.slow
def test_screenshots_are_real_pictures(pages, tmp_path):
    browser = _chromium()
    for page in pages.values():
        png = _screenshot(browser, tmp_path, page)
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (1000, 1600)
        assert len(data) > 30_000, f"{png} is suspiciously small ({len(data)} bytes)"


def test_missing_browser_fails_in_ci_and_skips_locally(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys.modules[__name__], "DEBIAN_CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception):
        _chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _chromium()
