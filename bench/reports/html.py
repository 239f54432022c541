"""A self-contained static HTML page: sortable tables (a few lines of inline JS), every name escaped,
figures embedded as base64 PNGs. Nothing is fetched: no fonts, scripts or styles from the network.

The page fits a 1280 px screen without scrolling sideways (a wide table scrolls inside its own box, see
``scrolling``) and prints cleanly: folded sections (``<details>``) open for printing, tables and figures
are not split across pages."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0];
  const rows = Array.from(body.rows);
  const asc = th.dataset.asc !== 'true'; th.dataset.asc = asc;
  const key = r => { const t = r.cells[col].innerText; const n = parseFloat(t); return isNaN(n) ? t : n; };
  rows.sort((a, b) => { const x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1); });
  rows.forEach(r => body.appendChild(r));
}));
window.addEventListener('beforeprint', () => document.querySelectorAll('details').forEach(d => d.open = true));
"""
_CSS = ("*{box-sizing:border-box}"
        "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2328;max-width:1200px;"
        "margin:0 auto;padding:12px 20px 40px}"
        "h1{font-size:1.45em;margin:.2em 0 .3em}h2{font-size:1.12em;margin:1.3em 0 .4em;padding-bottom:.15em;"
        "border-bottom:1px solid #d0d7de}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right;vertical-align:top}"
        "th{background:#f6f8fa}table.sortable th{cursor:pointer}"
        "td:first-child,th:first-child{text-align:left}"
        ".scroll{overflow-x:auto;max-width:100%}.note{color:#57606a;font-size:.92em;margin:.3em 0}"
        "img{max-width:100%;height:auto}figure{display:inline-block;margin:4px;vertical-align:top;max-width:100%}"
        "figcaption{font-size:.85em;color:#57606a;text-align:center}"
        "details{margin:.6em 0}summary{cursor:pointer;color:#0969da}"
        "@media print{body{max-width:none;padding:0;font-size:10pt}.scroll{overflow:visible}"
        "summary{color:inherit}table.sortable th{cursor:auto}"
        "figure,tr,li,.keep{break-inside:avoid}h2{break-after:avoid}@page{margin:14mm}}")


def table_html(frame: pd.DataFrame) -> str:
    """pandas escapes every cell and header (escape=True), so a hostile run name stays text."""
    frame = frame.astype(object).where(frame.notna(), "–")  # na_rep misses pd.NA (it prints "<NA>")
    return frame.to_html(index=False, escape=True, na_rep="–", float_format=lambda v: f"{v:.4f}",
                         classes="sortable", border=0)


def page(title: str, sections: list[tuple[str, str]], images: list[Path] | None = None, notes: list[str] | None = None,
         css: str = "", header: str = "") -> str:
    """``sections``: (heading, already-escaped HTML); a section without a heading is its body alone.
    ``header``: already-escaped HTML under the title; ``css``: more style rules. Headings, notes and image
    captions are escaped here."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}{css}</style></head><body><h1>{html.escape(title)}</h1>{header}"]
    for note in notes or []:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}" if heading else body)
    for img in images or []:
        parts.append(figure_html(Path(img).read_bytes(), Path(img).name))
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "\n".join(parts)


def figure_html(png: bytes, caption: str, alt: str | None = None) -> str:
    """A PNG embedded as a <figure> (base64, nothing to fetch) with its escaped caption; ``alt`` defaults to it."""
    data = base64.b64encode(png).decode()
    return (f"<figure><img alt='{html.escape(caption if alt is None else alt, quote=True)}' "
            f"src='data:image/png;base64,{data}'><figcaption>{html.escape(caption)}</figcaption></figure>")


def scrolling(body: str) -> str:
    """``body`` (a wide table) in a box that scrolls sideways itself, so that the page never does."""
    return f"<div class='scroll'>{body}</div>"


def folded(summary: str, body: str, open_: bool = False) -> str:
    """``body`` (escaped HTML) one click away: a ``<details>`` whose ``summary`` (text) is escaped here."""
    return f"<details{' open' if open_ else ''}><summary>{html.escape(summary)}</summary>{body}</details>"
