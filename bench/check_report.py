"""Render a brainbridge report in headless Chromium and check it: no console errors, every figure visible.

Usage::

    python bench/check_report.py [REPORT.html] [--out DIR] [--chromium PATH] [--wait SECONDS]

Without REPORT.html a small demo report (2 sections, 3 figures) is written to a temporary
folder and checked. Steps:

1. Static: the HTML parses (html.parser); every <img> src is a ``data:image/png;base64`` URI
   that decodes to a valid PNG (Pillow decodes every pixel); no src/href/url() points outside
   the file (no http, https, //, file:), no <script src> or <link>.
2. Chromium (``--headless --no-sandbox --disable-gpu ...``): ``--dump-dom`` must list as many
   <img> as the file, and ``--screenshot`` takes the full page (the window is made taller
   until the bottom band is blank). stderr is scanned for console messages (lines with
   ``:CONSOLE`` or ``Uncaught``): a report has no scripts, so any message is a failure. A
   probe page with a deliberate ``console.error`` first checks that the scan sees messages.
3. Figures in the screenshot: each decoded PNG is located by normalised cross-correlation
   (FFT, on grey levels downsampled 2x; display scales 1.0 down to 0.3 are tried); the best
   match must reach 0.8 (a figure shrunk by the page width loses detail in resampling) and the
   matched region must not be blank.

Prints one line per check and PASS/FAIL; exits 1 on failure (2 when Chromium is missing).
"""

from __future__ import annotations

import argparse
import base64
import html.parser
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]
WIDTH = 1200
MATCH_MIN = 0.8
_CONSOLE = re.compile(r":CONSOLE[:(]|Uncaught")
_EXTERNAL = re.compile(r"^\s*(https?:|//|file:|ftp:)", re.IGNORECASE)


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        if tag == "script" and a.get("src"):
            self.problems.append(f"<script src={a['src']!r}> loads an external script")
        if tag == "link":
            self.problems.append(f"<link href={a.get('href')!r}> loads an external resource")
        for key in ("src", "href", "srcset", "poster", "data", "action"):
            value = a.get(key)
            if value and _EXTERNAL.match(value):
                self.problems.append(f"<{tag} {key}={value[:60]!r}> points outside the file")

    def handle_data(self, data: str) -> None:
        if "url(" in data and re.search(r"url\(\s*['\"]?\s*(https?:|//|file:)", data):
            self.problems.append("a CSS url() points outside the file")


def _decode_png(src: str) -> np.ndarray:
    from PIL import Image

    prefix = "data:image/png;base64,"
    if not src.startswith(prefix):
        raise ValueError(f"src is not a base64 PNG data URI: {src[:40]!r}")
    data = base64.b64decode(src[len(prefix):], validate=True)
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("data URI does not decode to a PNG (bad signature)")
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = np.asarray(im.convert("RGB"))
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError("PNG has zero size")
    return rgb


def static_check(text: str) -> tuple[list[np.ndarray], list[str]]:
    """Decoded figures (RGB arrays) and a list of problems."""
    parser = _Collector()
    parser.feed(text)
    parser.close()
    figures, problems = [], list(parser.problems)
    for i, src in enumerate(parser.imgs):
        try:
            figures.append(_decode_png(src))
        except Exception as err:  # noqa: BLE001 - every failure is reported
            problems.append(f"img {i}: {err}")
    if re.search(r"https?://", text):
        problems.append("the HTML contains an http(s):// URL")
    return figures, problems


def find_chromium(path: str, wait: float) -> str | None:
    deadline = time.monotonic() + wait
    while True:
        if os.access(path, os.X_OK):
            return path
        if time.monotonic() >= deadline:
            return None
        time.sleep(5)


def run_chromium(chromium: str, url: str, extra: list[str], timeout: float = 120) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="bb-chromium-") as profile:
        proc = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=timeout)
    return proc.stdout, proc.stderr


def console_messages(stderr: str) -> list[str]:
    return [line.strip() for line in stderr.splitlines() if _CONSOLE.search(line)]


def probe_console(chromium: str) -> bool:
    """Whether console messages reach the scan (a deliberate error on a probe page)."""
    with tempfile.TemporaryDirectory(prefix="bb-probe-") as tmp:
        page = Path(tmp) / "probe.html"
        page.write_text('<!DOCTYPE html><html><body><p>probe</p><script>console.error('
                        '"bb-probe"); noSuchFunction();</script></body></html>', encoding="utf-8")
        _, err = run_chromium(chromium, page.as_uri(), ["--dump-dom"])
    found = console_messages(err)
    return any("bb-probe" in m for m in found) and any("Uncaught" in m for m in found)


def screenshot(chromium: str, url: str, out_png: Path) -> tuple[np.ndarray, str]:
    """Full-page screenshot: grow the window until its bottom 40 rows are one colour."""
    from PIL import Image

    height, stderr = 3000, ""
    while True:
        if out_png.exists():
            out_png.unlink()
        _, err = run_chromium(chromium, url, [f"--screenshot={out_png}",
                                              f"--window-size={WIDTH},{height}"])
        stderr += err
        if not out_png.exists():
            raise RuntimeError("Chromium wrote no screenshot:\n" + err[-2000:])
        with Image.open(out_png) as im:
            shot = np.asarray(im.convert("RGB"))
        bottom = shot[-40:].reshape(-1, 3)
        if np.all(bottom == bottom[0]) or height >= 40000:
            return shot, stderr
        height *= 2


def _gray(a: np.ndarray) -> np.ndarray:
    return a[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _down(a: np.ndarray, f: int) -> np.ndarray:
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    return a[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def match(shot: np.ndarray, fig: np.ndarray, factor: int = 2) -> tuple[float, tuple[int, int], float]:
    """Best normalised cross-correlation of ``fig`` in ``shot`` over display scales.

    Returns (score, (row, col) of the top-left corner in screenshot pixels, display scale).
    """
    from PIL import Image
    from scipy.signal import fftconvolve

    s = _down(_gray(shot), factor)
    s2 = s**2
    best = (-1.0, (0, 0), 1.0)
    for scale in [1.0, *np.linspace(0.95, 0.3, 14)]:
        h, w = round(fig.shape[0] * scale), round(fig.shape[1] * scale)
        if w > shot.shape[1] or h > shot.shape[0] or min(h, w) < 8 * factor:
            continue
        img = fig if scale == 1.0 else np.asarray(Image.fromarray(fig).resize((w, h), Image.BILINEAR))
        t = _down(_gray(img), factor)
        t = t - t.mean()
        tn = np.sqrt(np.sum(t**2))
        if tn == 0:
            continue
        ones = np.ones(t.shape)
        num = fftconvolve(s, t[::-1, ::-1], mode="valid")
        s1 = fftconvolve(s, ones, mode="valid")
        var = fftconvolve(s2, ones, mode="valid") - s1**2 / t.size
        ncc = num / (np.sqrt(np.maximum(var, 1e-9)) * tn)
        ncc[var < 1e-6 * t.size] = 0.0  # flat windows cannot match
        k = int(np.argmax(ncc))
        score = float(ncc.flat[k])
        if score > best[0]:
            r, c = np.unravel_index(k, ncc.shape)
            best = (score, (int(r) * factor, int(c) * factor), float(scale))
        if best[0] >= 0.98:
            break
    return best


def check(report: Path, out_dir: Path, chromium: str) -> bool:
    ok = True

    def line(passed: bool, what: str) -> None:
        nonlocal ok
        ok &= passed
        print(f"  [{'ok' if passed else 'FAIL'}] {what}")

    text = report.read_text(encoding="utf-8")
    print(f"report: {report} ({len(text) / 1e6:.2f} MB)")
    figures, problems = static_check(text)
    line(not problems, f"static: {len(figures)} embedded PNG figure(s) decode; no external URLs"
         + ("" if not problems else ": " + "; ".join(problems)))
    line(probe_console(chromium), "console capture works (probe page's error was seen)")
    url = report.resolve().as_uri()
    dom, err_dom = run_chromium(chromium, url, ["--dump-dom"])
    n_dom = len(re.findall(r"<img\b", dom))
    line(n_dom == len(_img_sources(text)), f"Chromium DOM has {n_dom} <img> (file has "
         f"{len(_img_sources(text))})")
    out_dir.mkdir(parents=True, exist_ok=True)
    shot_path = out_dir / "screenshot.png"
    shot, err_shot = screenshot(chromium, url, shot_path)
    msgs = console_messages(err_dom + err_shot)
    line(not msgs, "no console messages" + ("" if not msgs else ": " + " | ".join(msgs[:5])))
    page_ok = float(_gray(shot).std()) > 1.0
    line(page_ok, f"screenshot {shot.shape[1]}x{shot.shape[0]} px is not blank ({shot_path})")
    for i, fig in enumerate(figures):
        score, (r, c), scale = match(shot, fig)
        h, w = round(fig.shape[0] * scale), round(fig.shape[1] * scale)
        region = shot[r:r + h, c:c + w]
        visible = score >= MATCH_MIN and region.size > 0 and float(_gray(region).std()) > 1.0
        line(visible, f"figure {i} ({fig.shape[1]}x{fig.shape[0]} px) visible at y={r}, x={c}, "
             f"scale {scale:.2f}, match {score:.3f}")
    print("PASS" if ok else "FAIL")
    return ok


def _img_sources(text: str) -> list[str]:
    parser = _Collector()
    parser.feed(text)
    return parser.imgs


def demo_report(folder: Path) -> Path:
    """A small report: 2 sections, 3 figures."""
    import matplotlib.pyplot as plt

    from brainbridge._figures import new_figure
    from brainbridge.studies import Section, write_report

    rng = np.random.default_rng(0)
    f1, ax = new_figure(size=(6, 3.5))
    ax.plot(np.cumsum(rng.normal(size=200)), label="walk")
    ax.legend()
    f2, ax = new_figure(size=(4, 4))
    ax.imshow(rng.normal(size=(20, 20)), cmap="viridis")
    f3, ax = new_figure(size=(7, 3))
    ax.bar(list("abcdef"), rng.uniform(size=6))
    sections = [
        Section("Random walk", text="A **demo** section.\n\nSecond paragraph <with> & escapes.",
                numbers={"steps": 200, "final": 1.2345678}, figures={"walk": f1, "matrix": f2},
                tables=[("Two rows", ["name", "value"], [["a", 1.5], ["b", 2]])]),
        Section("Bars", numbers={"bars": 6}, figures={"bars": f3}),
    ]
    out = write_report("check_report demo", sections, folder, meta={"random_state": 0})
    for f in (f1, f2, f3):
        plt.close(f)
    return out["html"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", nargs="?", help="report.html to check (default: a demo report)")
    p.add_argument("--out", help="folder for the screenshot (default: next to the report)")
    p.add_argument("--chromium", default=CHROMIUM)
    p.add_argument("--wait", type=float, default=600.0,
                   help="seconds to wait for Chromium to appear (it may be being installed)")
    args = p.parse_args(argv)
    chromium = find_chromium(args.chromium, args.wait)
    if chromium is None:
        print(f"FAIL: no Chromium at {args.chromium} after waiting {args.wait:.0f} s")
        return 2
    with tempfile.TemporaryDirectory(prefix="bb-report-") as tmp:
        report = Path(args.report) if args.report else demo_report(Path(tmp) / "demo")
        if not report.is_file():
            print(f"FAIL: no report at {report}")
            return 1
        out = Path(args.out) if args.out else (Path(tmp) if not args.report else report.parent)
        return 0 if check(report, out, chromium) else 1


if __name__ == "__main__":
    sys.exit(main())
