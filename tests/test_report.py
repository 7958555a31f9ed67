"""HTML report writer: content, embedded figures, JSON/NetCDF, atomic writes, rebuild, Chromium check."""

from __future__ import annotations

import base64
import html.parser
import importlib.util
import io
import json
import math
import os
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from PIL import Image

from brainbridge.studies._report import Section, rebuild_report, render_html, write_report

CHROMIUM = "/usr/bin/chromium"
CHECKER = Path(__file__).resolve().parents[1] / "bench" / "check_report.py"


def _fig(kind, rng):
    fig, ax = plt.subplots(figsize=(3, 2))
    if kind == "line":
        ax.plot(rng.normal(size=20))
    else:
        ax.imshow(rng.normal(size=(5, 5)))
    return fig


def _sections(rng, dataset_attrs=None):
    ds = xr.Dataset({"score": (("metric", "noise"), rng.normal(size=(2, 3)))},
                    coords={"metric": ["rsa", "cka"], "noise": [0.0, 0.5, 1.0]},
                    attrs=dataset_attrs or {"truth": "b3"})
    return [
        Section("Model <recovery> & co", text="First **bold** point.\n\nSecond <i>para</i>.",
                numbers={"recovery": 0.8123456, "n_repeats": 10, "truth": "b3", "nan": float("nan"),
                         "flag": True, "big": 123456789.0},
                tables=[("Per metric", ["metric", "noise 0", "noise 1"],
                         [["rsa", 1.0, 0.25], ["cka", np.float32(0.5), None]])],
                figures={"recovery curve": _fig("line", rng), "matrix": _fig("image", rng)},
                dataset=ds),
        Section("Second", numbers={"time_s": 12.5}, figures={"only": _fig("line", rng)}),
    ]


def _format(v):
    """The display rule, written out again: ints exactly, floats to 4 significant digits."""
    if v is None:
        return ""
    if isinstance(v, bool) or isinstance(v, str):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}"


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.text, self.opened, self.closed = [], [], {}, {}

    def handle_starttag(self, tag, attrs):
        self.opened[tag] = self.opened.get(tag, 0) + 1
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_endtag(self, tag):
        self.closed[tag] = self.closed.get(tag, 0) + 1

    def handle_data(self, data):
        self.text.append(data)


def _parse(text):
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(Path(folder).rglob("*"))}


def _every_value(results):
    out = []
    for sec in [results["summary"], *results["sections"]]:
        if sec is None:
            continue
        out += list(sec["numbers"].values())
        for table in sec["tables"]:
            out += [c for row in table["rows"] for c in row] + table["header"]
    stack = [results["meta"]]
    while stack:
        item = stack.pop()
        for v in item.values() if isinstance(item, dict) else item:
            (stack.append(v) if isinstance(v, (dict, list)) else out.append(v))
    return out


def test_report_contents(tmp_path, rng):
    out = write_report("Demo <report>", _sections(rng), tmp_path / "rep",
                       summary="All **good**.", meta={"seed": 7, "timings": {"total_s": 1.25},
                                                      "seeds": [1, 2]})
    text = out["html"].read_text(encoding="utf-8")
    results = json.loads(out["results"].read_text(encoding="utf-8"))
    page = _parse(text)
    for tag in ("html", "body", "section", "table", "figure", "p", "h2"):
        assert page.opened.get(tag, 0) == page.closed.get(tag, 0) > 0, tag
    shown = html.unescape("".join(page.text))
    values = _every_value(results)
    assert 0.8123456 in values and "NaN" in values and 1.25 in values and 7 in values
    for v in values:
        assert _format(v) in shown, v
    assert "0.8123" in shown and "1.235e+08" in shown
    # user text is escaped; **bold** becomes <strong>
    assert "Model &lt;recovery&gt; &amp; co" in text and "<recovery>" not in text
    assert "Second &lt;i&gt;para&lt;/i&gt;." in text and "<strong>bold</strong>" in text
    assert "All <strong>good</strong>." in text
    assert "http" not in text
    # every <img> is a data URI of exactly the saved PNG
    figures = [f for s in results["sections"] for f in s["figures"]]
    assert len(page.imgs) == len(figures) == 3
    for img, fig in zip(page.imgs, figures):
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        data = base64.b64decode(img["src"][len(prefix):], validate=True)
        saved = (out["html"].parent / fig["png"]).read_bytes()
        assert data == saved
        with Image.open(io.BytesIO(data)) as a, Image.open(io.BytesIO(saved)) as b:
            a.load()
            assert a.format == "PNG" and a.size == b.size == (fig["width"], fig["height"])
            assert (int(img["width"]), int(img["height"])) == a.size
        svg = (out["html"].parent / fig["svg"]).read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    names = sorted(p.name for p in (out["html"].parent / "figures").iterdir())
    assert names == ["model-recovery-co__matrix.png", "model-recovery-co__matrix.svg",
                     "model-recovery-co__recovery-curve.png", "model-recovery-co__recovery-curve.svg",
                     "second__only.png", "second__only.svg"]
    assert sorted(map(Path, out["figures"])) == sorted((out["html"].parent / "figures").iterdir())
    # the NetCDF group holds the section's dataset
    with xr.open_dataset(out["netcdf"], group="model-recovery-co", engine="h5netcdf") as ds:
        xr.testing.assert_identical(ds.load(), _sections(np.random.default_rng(20261125))[0].dataset)
    assert results["sections"][0]["dataset_group"] == "model-recovery-co"
    assert results["meta"]["brainbridge_version"] and results["meta"]["seed"] == 7
    assert math.isclose(results["sections"][0]["numbers"]["recovery"], 0.8123456)


def test_rebuild_is_identical(tmp_path, rng):
    out = write_report("Demo", _sections(rng), tmp_path, meta={"seed": 1})
    before = out["html"].read_bytes()
    assert render_html(out["results"]) == before.decode("utf-8")
    out["html"].unlink()
    assert rebuild_report(tmp_path) == out["html"]
    assert out["html"].read_bytes() == before
    rebuild_report(out["results"])
    assert out["html"].read_bytes() == before


def test_failure_leaves_folder_as_it_was(tmp_path, rng, monkeypatch):
    folder = tmp_path / "rep"
    write_report("Old", _sections(rng)[1:], folder)
    (folder / "mine.txt").write_text("keep me")
    before = _snapshot(folder)
    # 1. the NetCDF writer fails (a dict attr is not storable)
    with pytest.raises(TypeError):
        write_report("New", _sections(rng, dataset_attrs={"bad": {"a": 1}}), folder)
    assert _snapshot(folder) == before
    # 2. a rename fails half way through the commit: every target is restored
    import brainbridge.studies._report as report

    calls = {"n": 0}
    real = os.replace

    def flaky(a, b):
        calls["n"] += 1
        if calls["n"] == 6:
            raise OSError("disk full")
        return real(a, b)

    monkeypatch.setattr(report.os, "replace", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_report("New", _sections(rng), folder)
    monkeypatch.setattr(report.os, "replace", real)
    assert _snapshot(folder) == before
    # 3. a figure that cannot be drawn; the folder did not exist: it still does not
    class Broken:
        def savefig(self, *a, **k):
            raise RuntimeError("cannot draw")

    with pytest.raises(RuntimeError, match="cannot draw"):
        write_report("New", [Section("x", figures={"f": Broken()})], tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_errors(tmp_path):
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for 'sections[0]': expected a brainbridge report Section; got dict.")):
        write_report("t", [{"title": "x"}], tmp_path)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for sections[0].numbers['a']: expected an int, float, bool, str or None; "
            "got list [1]. Convert it first, e.g. float(x) or str(x).")):
        write_report("t", [Section("x", numbers={"a": [1]})], tmp_path)
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for sections[0].tables[0] row 1: expected 2 cells (one per header column "
            "['a', 'b']); got 1.")):
        write_report("t", [Section("x", tables=[("c", ["a", "b"], [[1, 2], [3]])])], tmp_path)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid type for sections[0].figures['f']: expected a matplotlib Figure; got Axes. "
            "Pass ax.figure for an Axes.")):
        write_report("t", [Section("x", figures={"f": plt.subplots()[1]})], tmp_path)
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "nothing"
    with pytest.raises(FileNotFoundError, match=re.escape(
            f"No report results at {str(missing / 'results.json')!r}. Pass the results.json written "
            "by write_report (brainbridge demo / run) or the folder that holds it.")):
        rebuild_report(missing.mkdir() or missing)
    other = tmp_path / "other.json"
    other.write_text("{}")
    with pytest.raises(ValueError, match=re.escape(
            f"{str(other)!r} is not a brainbridge report results file (no \"format\": "
            "\"brainbridge-report\" entry). Pass the results.json that write_report wrote.")):
        render_html(other)


def test_missing_figure_is_reported(tmp_path, rng):
    out = write_report("Demo", _sections(rng)[1:], tmp_path)
    (tmp_path / "figures" / "second__only.png").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(
            "Figure 'figures/second__only.png' listed in " f"{str(out['results'])!r} is missing. "
            "Keep the figures/ folder next to results.json, or re-run the study.")):
        rebuild_report(tmp_path)


def _checker():
    spec = importlib.util.spec_from_file_location("check_report", CHECKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs Chromium at /usr/bin/chromium")
def test_report_renders_in_chromium(tmp_path, rng, capsys):
    checker = _checker()
    out = write_report("Chromium check", _sections(rng), tmp_path / "good")
    assert checker.main([str(out["html"]), "--out", str(tmp_path / "shot"), "--wait", "0"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("[ok] figure") == 3 and printed.rstrip().endswith("PASS")
    # the checker fails on a hidden figure and on a script error (it can fail)
    bad = tmp_path / "bad.html"
    text = out["html"].read_text(encoding="utf-8")
    text = text.replace("<img ", '<img style="display:none" ', 1)
    text = text.replace("</body>", "<script>console.error('boom'); undefinedCall();</script></body>")
    bad.write_text(text, encoding="utf-8")
    assert checker.main([str(bad), "--out", str(tmp_path / "shot2"), "--wait", "0"]) == 1
    printed = capsys.readouterr().out
    assert "[FAIL] no console messages" in printed and "boom" in printed
    assert "[FAIL] figure 0" in printed and "[ok] figure 1" in printed
    assert printed.rstrip().endswith("FAIL")


def test_write_report_follows_save_rules_for_links_modes_and_read_only_files(tmp_path):
    import os
    import stat

    out = tmp_path / "rep"
    first = write_report("t", [Section("s", text="one", numbers={"r": 0.1})], out)
    # a symlinked results.json stays a link; its target is rewritten
    real = tmp_path / "kept.json"
    real.write_text("{}")
    first["results"].unlink()
    first["results"].symlink_to(real)
    os.chmod(first["html"], 0o640)
    write_report("t", [Section("s", text="two", numbers={"r": 0.2})], out)
    assert first["results"].is_symlink() and '"r": 0.2' in real.read_text()
    assert stat.S_IMODE(first["html"].stat().st_mode) == 0o640
    # a read-only page refuses the whole report, and nothing changes
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    os.chmod(first["html"], 0o444)
    with pytest.raises(PermissionError, match="report.html.*read-only"):
        write_report("t", [Section("s", text="three", numbers={"r": 0.3})], out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [p for p in out.rglob(".*tmp-*")]


def test_write_report_never_replaces_a_folder(tmp_path):
    (tmp_path / "results.json").mkdir()
    with pytest.raises(IsADirectoryError, match="results.json"):
        write_report("t", [Section("s", text="x")], tmp_path)
    assert (tmp_path / "results.json").is_dir()
