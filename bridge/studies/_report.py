"""Self-contained HTML reports: one HTML file with embedded figures, plus PNG/SVG, JSON and NetCDF.

Layout of ``out_dir`` after :func:`write_report`::

    report.html                        one file, figures embedded as base64 PNG, inline CSS,
                                       no scripts and no external URLs
    results.json                       every number and table shown, figure paths, meta
    results.nc                         (only if a section has a dataset) one NetCDF4 group
                                       per section, named by the section's slug
    figures/<section>__<name>.png/.svg every figure

``report.html`` is always rendered from ``results.json`` and the PNGs, so
:func:`rebuild_report` reproduces it byte for byte.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import logging
import math
import os
import re
import shutil
import stat
import struct
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._checks import _validate_type

logger = logging.getLogger(__name__)

#: Version of the ``results.json`` layout.
REPORT_FORMAT_VERSION = 1

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       background: #fff; margin: 0 auto; padding: 1.5em 2em 3em; max-width: 1100px;
       line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.meta { color: #666; font-size: 0.9em; }
nav ol { padding-left: 1.4em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
"""


@dataclass
class Section:
    """One part of a report.

    Parameters
    ----------
    title : str
        Heading; its slug (lower case, ``[a-z0-9-]``) names the anchor, figure files and
        NetCDF group.
    text : str, default=""
        Short paragraphs separated by blank lines; plain text with ``**bold**`` only.
    numbers : dict of str -> int, float, bool or str
        Shown as a key/value table.
    tables : list of (caption, header, rows)
        ``header`` a list of column names, ``rows`` a list of lists of the same length
        (cells: int, float, bool, str or None).
    figures : dict of str -> matplotlib Figure
        Embedded in the HTML and saved as PNG and SVG. Not closed by the report.
    dataset : xarray.Dataset, optional
        The arrays behind the section; saved as the section's group of ``results.nc``.

    Examples
    --------
    >>> from brainbridge.studies import Section
    >>> sec = Section("Encoding scores", text="Ridge beats **chance**.", numbers={"r": 0.345})
    >>> sec.title, sec.numbers, sec.figures
    ('Encoding scores', {'r': 0.345}, {})
    """

    title: str
    text: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    dataset: Any = None


# --------------------------------------------------------------------------- values


def _scalar(value: Any, where: str) -> Any:
    """A JSON-ready scalar: int, float, bool, str or None; non-finite floats as 'NaN'/'inf'/'-inf'."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, str):
        return value
    raise TypeError(
        f"Invalid type for {where}: expected an int, float, bool, str or None; got "
        f"{type(value).__name__} {value!r}. Convert it first, e.g. float(x) or str(x).")


def _json_ready(value: Any, where: str) -> Any:
    """Nested dicts / lists / tuples / arrays of scalars, made JSON-ready."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_json_ready(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return _scalar(value, where)


def format_value(value: Any) -> str:
    """The text a JSON-ready value is shown as: ints exactly, floats with 4 significant digits.

    >>> format_value(0.123456), format_value(12), format_value(True), format_value(None)
    ('0.1235', '12', 'True', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def slugify(text: str) -> str:
    """Lower-case ``[a-z0-9-]`` form of ``text`` ('section' if nothing is left).

    >>> slugify("Model recovery: RSA vs. CKA!")
    'model-recovery-rsa-vs-cka'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return slug or "section"


def _unique(slug: str, taken: set[str]) -> str:
    out, k = slug, 2
    while out in taken:
        out, k = f"{slug}-{k}", k + 1
    taken.add(out)
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk; ValueError if ``data`` is not a PNG.

    Examples
    --------
    >>> import io
    >>> import matplotlib.pyplot as plt
    >>> from brainbridge.studies._report import png_size
    >>> fig = plt.figure(figsize=(2, 1), dpi=100)
    >>> buf = io.BytesIO()
    >>> fig.savefig(buf, format="png")
    >>> plt.close(fig)
    >>> png_size(buf.getvalue())
    (200, 100)
    >>> png_size(b"GIF89a")
    Traceback (most recent call last):
        ...
    ValueError: not a PNG file (bad signature or missing IHDR chunk)
    """
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file (bad signature or missing IHDR chunk)")
    return struct.unpack(">II", data[16:24])


# --------------------------------------------------------------------------- rendering


def _text_html(text: str) -> str:
    """Paragraphs (blank-line separated), HTML-escaped, with ``**bold**`` as <strong>."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        if not para.strip():
            continue
        body = html.escape(" ".join(para.split()))
        body = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", body)
        out.append(f"<p>{body}</p>")
    return "\n".join(out)


def _cell(value: Any) -> str:
    num = isinstance(value, (int, float)) and not isinstance(value, bool)
    cls = ' class="num"' if num else ""
    return f"<td{cls}>{html.escape(format_value(value))}</td>"


def _numbers_html(numbers: Mapping[str, Any], caption: str | None = None) -> str:
    if not numbers:
        return ""
    rows = "\n".join(f"<tr><th>{html.escape(k)}</th>{_cell(v)}</tr>" for k, v in numbers.items())
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="numbers">{cap}\n{rows}\n</table>'


def _table_html(table: Mapping[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in table["header"])
    rows = "\n".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in table["rows"])
    cap = f"<caption>{html.escape(table['caption'])}</caption>" if table["caption"] else ""
    return f"<table>{cap}\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


def _flatten(meta: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in meta.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, list):
            out[name] = ", ".join(format_value(v) for v in value)
        else:
            out[name] = value
    return out


def _section_html(sec: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    parts = [f'<section id="{sec["slug"]}">', f"<h2>{html.escape(sec['title'])}</h2>",
             _text_html(sec["text"]), _numbers_html(sec["numbers"])]
    parts += [_table_html(t) for t in sec["tables"]]
    for fig in sec["figures"]:
        data = base64.b64encode(pngs[fig["png"]]).decode("ascii")
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(fig["name"])}" '
            f'width="{fig["width"]}" height="{fig["height"]}">'
            f"<figcaption>{html.escape(fig['name'])}</figcaption></figure>")
    if sec.get("dataset_group"):
        parts.append(f'<p class="meta">Arrays: group <code>{html.escape(sec["dataset_group"])}</code> '
                     "of <code>results.nc</code>.</p>")
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _render(results: Mapping[str, Any], pngs: Mapping[str, bytes]) -> str:
    title = html.escape(results["title"])
    meta = results.get("meta", {})
    sections = results["sections"]
    head = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
            f'<p class="meta">brainbridge {html.escape(str(meta.get("brainbridge_version", "?")))}'
            f' &middot; {html.escape(str(meta.get("created", "")))}</p>')
    body = [head]
    summary = results.get("summary")
    if summary:
        body.append(_section_html(summary, pngs))
    if sections:
        items = "".join(f'<li><a href="#{s["slug"]}">{html.escape(s["title"])}</a></li>'
                        for s in sections)
        body.append(f"<nav><ol>{items}</ol></nav>")
    body += [_section_html(s, pngs) for s in sections]
    body.append('<section id="about-this-run"><h2>About this run</h2>'
                + _numbers_html(_flatten(meta)) + "</section>")
    body.append("</body>\n</html>\n")
    return "\n".join(body)


# --------------------------------------------------------------------------- building


def _section_dict(sec: Section, slug: str, where: str) -> dict[str, Any]:
    _validate_type(f"{where}.title", sec.title, str, "a str")
    _validate_type(f"{where}.text", sec.text, str, "a str")
    _validate_type(f"{where}.numbers", sec.numbers, Mapping, "a dict of name -> value")
    numbers = {str(k): _scalar(v, f"{where}.numbers[{k!r}]") for k, v in sec.numbers.items()}
    tables = []
    for i, table in enumerate(sec.tables):
        if not (isinstance(table, (tuple, list)) and len(table) == 3):
            raise ValueError(
                f"Invalid value for {where}.tables[{i}]: expected a (caption, header, rows) tuple; "
                f"got {type(table).__name__} of length {len(table) if hasattr(table, '__len__') else '?'}.")
        caption, header, rows = table
        header = [str(h) for h in header]
        clean = []
        for j, row in enumerate(rows):
            row = list(row)
            if len(row) != len(header):
                raise ValueError(
                    f"Invalid value for {where}.tables[{i}] row {j}: expected {len(header)} cells "
                    f"(one per header column {header}); got {len(row)}.")
            clean.append([_scalar(c, f"{where}.tables[{i}][{j}]") for c in row])
        tables.append({"caption": str(caption), "header": header, "rows": clean})
    return {"title": sec.title, "slug": slug, "text": sec.text, "numbers": numbers,
            "tables": tables, "figures": [], "dataset_group": None}


def _figure_bytes(fig: Any, where: str) -> tuple[bytes, bytes]:
    if not hasattr(fig, "savefig"):
        raise TypeError(
            f"Invalid type for {where}: expected a matplotlib Figure; got {type(fig).__name__}. "
            "Pass ax.figure for an Axes.")
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, format="svg", bbox_inches="tight", metadata={"Date": None})
    return png.getvalue(), svg.getvalue()


def _netcdf(datasets: list[tuple[str, Any]], target: Path) -> None:
    for k, (group, ds) in enumerate(datasets):
        _validate_type(f"the dataset of section {group!r}", ds, xr.Dataset, "an xarray.Dataset")
        ds.to_netcdf(target, mode="w" if k == 0 else "a", group=group, engine="h5netcdf")


def _target(path: Path) -> Path:
    """Where a report file lands (the end of a symlink), after :func:`brainbridge.save`'s checks."""
    from .._storage import _check_writable, _link_target

    action = "write the report file"
    target = _link_target(path, action)
    if target.is_dir():
        raise IsADirectoryError(f"Cannot {action} {str(path)!r}: a folder is there. Move it away "
                                "or choose another out_dir.")
    _check_writable(path, target, action)
    return target


def _commit(staged: list[tuple[Path, Path]]) -> None:
    """Move every staged temp onto its target; on failure restore every target as it was."""
    done: list[tuple[Path, Path, Path | None]] = []
    try:
        for tmp, target in staged:
            backup = None
            if target.exists():
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))  # keep what it had
                backup = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
                os.replace(target, backup)
            done.append((tmp, target, backup))
            os.replace(tmp, target)
    except BaseException:
        for tmp, target, backup in reversed(done):
            if target.exists() and not tmp.exists():
                os.replace(target, tmp)
            if backup is not None:
                os.replace(backup, target)
        raise
    for _, _, backup in done:
        if backup is not None:
            backup.unlink()


def write_report(title: str, sections: Sequence[Section], out_dir: str | os.PathLike[str], *,
                 summary: str | Section | None = None,
                 meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``report.html``, ``results.json``, figures (PNG + SVG) and ``results.nc`` into ``out_dir``.

    Everything is first rendered in memory and written to temporary names; only when all
    files are complete are they renamed onto their targets (``os.replace``), ``report.html``
    last. An exception at any point leaves ``out_dir`` as it was (targets replaced before the
    failure are restored; a folder created for the report is removed). Other files in
    ``out_dir`` are never touched. As with :func:`brainbridge.save`, a read-only file or
    folder raises ``PermissionError`` before anything is written, a symlinked file stays a
    link whose target is rewritten, and a replaced file keeps its mode.

    The HTML shows every number and table of ``results.json``: ints exactly, floats with 4
    significant digits (:func:`format_value`; ``results.json`` keeps full precision), text
    HTML-escaped. ``results.json`` stores non-finite floats as the strings ``"NaN"``,
    ``"inf"``, ``"-inf"`` (strict JSON has no NaN).

    Parameters
    ----------
    title : str
    sections : sequence of Section
    out_dir : str or Path
        Created if missing.
    summary : str or Section, optional
        Shown above the sections (a str becomes a Section titled "Summary").
    meta : dict, optional
        Seeds, timings, settings: JSON-ready scalars, lists and dicts. ``brainbridge_version``
        and ``created`` (ISO 8601 date and time) are added unless given. Shown at the end.

    Returns
    -------
    dict
        ``html``, ``results`` (Paths), ``netcdf`` (Path or None), ``figures`` (list of the
        PNG and SVG Paths).

    Examples
    --------
    >>> import tempfile, matplotlib.pyplot as plt
    >>> from brainbridge.studies._report import Section, write_report
    >>> fig, ax = plt.subplots(figsize=(3, 2)); _ = ax.plot([0, 1], [1, 0])
    >>> sec = Section("Toy", text="A **bold** claim.", numbers={"r": 0.5}, figures={"line": fig})
    >>> out = write_report("Demo", [sec], tempfile.mkdtemp(), meta={"seed": 0})
    >>> sorted(p.name for p in out["figures"]), out["html"].name
    (['toy__line.png', 'toy__line.svg'], 'report.html')
    >>> plt.close(fig)
    """
    from .. import __version__

    _validate_type("title", title, str, "a str")
    if isinstance(sections, Section):
        sections = [sections]
    sections = list(sections)
    for i, sec in enumerate(sections):
        _validate_type(f"sections[{i}]", sec, Section, "a brainbridge report Section")
    if isinstance(summary, str):
        summary = Section("Summary", text=summary)
    if summary is not None:
        _validate_type("summary", summary, Section, "a str or a Section")
    meta_dict = _json_ready(dict(meta or {}), "meta")
    meta_dict.setdefault("brainbridge_version", __version__)
    meta_dict.setdefault("created", _dt.datetime.now().astimezone().isoformat(timespec="seconds"))

    taken: set[str] = {"about-this-run", "summary"} if summary is not None else {"about-this-run"}
    pngs: dict[str, bytes] = {}
    files: dict[str, bytes] = {}
    datasets: list[tuple[str, Any]] = []

    def build(sec: Section, slug: str, where: str) -> dict[str, Any]:
        d = _section_dict(sec, slug, where)
        names: set[str] = set()
        for name, fig in dict(sec.figures).items():
            stem = f"{slug}__{_unique(slugify(name), names)}"
            png, svg = _figure_bytes(fig, f"{where}.figures[{name!r}]")
            width, height = png_size(png)
            rel_png, rel_svg = f"figures/{stem}.png", f"figures/{stem}.svg"
            pngs[rel_png], files[rel_png], files[rel_svg] = png, png, svg
            d["figures"].append({"name": str(name), "png": rel_png, "svg": rel_svg,
                                 "width": width, "height": height})
        if sec.dataset is not None:
            d["dataset_group"] = slug
            datasets.append((slug, sec.dataset))
        return d

    results: dict[str, Any] = {
        "format": "brainbridge-report", "format_version": REPORT_FORMAT_VERSION,
        "title": title, "meta": meta_dict,
        "summary": build(summary, "summary", "summary") if summary is not None else None,
        "sections": [build(s, _unique(slugify(s.title), taken), f"sections[{i}]")
                     for i, s in enumerate(sections)],
        "netcdf": "results.nc" if datasets else None,
    }
    text = json.dumps(results, indent=1, allow_nan=False) + "\n"
    page = _render(json.loads(text), pngs)
    files["results.json"] = text.encode("utf-8")
    files["report.html"] = page.encode("utf-8")

    out = Path(out_dir)
    created = [p for p in (out, out / "figures") if not p.exists()]
    staged: list[tuple[Path, Path]] = []
    try:
        (out / "figures").mkdir(parents=True, exist_ok=True)
        order = sorted(files, key=lambda k: k == "report.html")  # the page last
        # save's rules, checked for every file before any is written: a link is followed and
        # kept, a read-only file or folder is refused, a folder is never replaced by a file
        targets = {rel: _target(out / rel) for rel in ([*order, "results.nc"] if datasets else order)}
        if datasets:
            tmp = targets["results.nc"].with_name(f".results.nc.tmp-{uuid.uuid4().hex[:8]}")
            staged.append((tmp, targets["results.nc"]))
            _netcdf(datasets, tmp)
        for rel in order:
            target = targets[rel]
            tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
            staged.append((tmp, target))
            tmp.write_bytes(files[rel])
        _commit(staged)
    except BaseException:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()
        for path in reversed(created):
            shutil.rmtree(path, ignore_errors=True)
        raise
    logger.info("report written to %s (%d sections, %d figures)", out / "report.html",
                len(sections), len(pngs))
    return {"html": out / "report.html", "results": out / "results.json",
            "netcdf": out / "results.nc" if datasets else None,
            "figures": [out / rel for rel in files if rel.startswith("figures/")]}


# --------------------------------------------------------------------------- re-rendering


def _results_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"No report results at {str(path)!r}. Pass the results.json written by write_report "
            "(brainbridge demo / run) or the folder that holds it.")
    return path


def render_html(results_json_path: str | os.PathLike[str]) -> str:
    """The ``report.html`` text for a ``results.json`` (or its folder) and its ``figures/*.png``.

    Examples
    --------
    Floats are shown with 4 significant digits (``results.json`` keeps them all):

    >>> import re, tempfile
    >>> from brainbridge.studies import Section, render_html, write_report
    >>> sec = Section("Scores", text="Ridge beats **chance**.", numbers={"r": 0.3451234, "n": 12})
    >>> out = write_report("Demo", [sec], tempfile.mkdtemp())
    >>> html = render_html(out["results"])
    >>> re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)[:4], "<strong>chance</strong>" in html
    (['r', '0.3451', 'n', '12'], True)
    """
    path = _results_path(results_json_path)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"Cannot read {str(path)!r} as JSON: {err}.") from err
    if not isinstance(results, dict) or results.get("format") != "brainbridge-report":
        raise ValueError(
            f"{str(path)!r} is not a brainbridge report results file (no \"format\": "
            "\"brainbridge-report\" entry). Pass the results.json that write_report wrote.")
    if results.get("format_version") != REPORT_FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} has report format version {results.get('format_version')!r}; this "
            f"brainbridge reads version {REPORT_FORMAT_VERSION}. Re-run the study to rewrite it.")
    pngs: dict[str, bytes] = {}
    secs = list(results["sections"]) + ([results["summary"]] if results.get("summary") else [])
    for sec in secs:
        for fig in sec["figures"]:
            png = path.parent / fig["png"]
            if not png.is_file():
                raise FileNotFoundError(
                    f"Figure {fig['png']!r} listed in {str(path)!r} is missing. Keep the figures/ "
                    "folder next to results.json, or re-run the study.")
            pngs[fig["png"]] = png.read_bytes()
    return _render(results, pngs)


def rebuild_report(path: str | os.PathLike[str]) -> Path:
    """Rewrite ``report.html`` (atomically) from ``results.json`` and ``figures/*.png``.

    Parameters
    ----------
    path : str or Path
        ``results.json`` or the folder holding it.

    Returns
    -------
    Path
        The rewritten ``report.html``, next to ``results.json``.

    Examples
    --------
    >>> import tempfile
    >>> from brainbridge.studies import Section, rebuild_report, write_report
    >>> out = write_report("Demo", [Section("Scores", numbers={"r": 0.345})], tempfile.mkdtemp())
    >>> out["html"].unlink()
    >>> rebuild_report(out["results"].parent) == out["html"], out["html"].exists()
    (True, True)
    """
    from .._storage import atomic_path

    results = _results_path(path)
    page = render_html(results)
    target = results.parent / "report.html"
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target
