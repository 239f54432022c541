"""A self-contained static HTML page: sortable tables (a few lines of inline JS), every name escaped,
figures embedded as base64 PNGs."""

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
"""
_CSS = ("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{cursor:pointer;background:#f3f3f3}"
        "td:first-child,th:first-child{text-align:left}.note{color:#555}img{max-width:48%;margin:4px}"
        "figure img{max-width:100%}figure{display:inline-block;margin:4px}.claims li{margin:4px 0}")


def table_html(frame: pd.DataFrame) -> str:
    """pandas escapes every cell and header (escape=True), so a hostile run name stays text."""
    frame = frame.astype(object).where(frame.notna(), "–")  # na_rep misses pd.NA (it prints "<NA>")
    return frame.to_html(index=False, escape=True, na_rep="–", float_format=lambda v: f"{v:.4f}",
                         classes="sortable", border=0)


def page(title: str, sections: list[tuple[str, str]], images: list[Path] | None = None, notes: list[str] | None = None) -> str:
    """``sections``: (heading, already-escaped HTML). Headings, notes and image captions are escaped here."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    for note in notes or []:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    for img in images or []:
        data = base64.b64encode(Path(img).read_bytes()).decode()
        parts.append(f"<figure><img alt='{html.escape(Path(img).name, quote=True)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(Path(img).name)}</figcaption></figure>")
    parts.append(f"<script>{_SORT_JS}</script></body></html>")
    return "\n".join(parts)
