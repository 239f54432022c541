"""What `bench probe` shows of a probed encoder: its profile (one row per probe: the main metric, its value
and 95 % interval, its normalised score), the generality score, the verdicts against the references, and
the same as one JSON object. Builds rich tables and plain data; the CLI prints them."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from bench.probe.battery import MAIN_METRIC
from bench.probe.run import ProbeReport


def _num(v: Any, digits: int = 4) -> str:
    return "–" if v is None or v != v else f"{v:.{digits}f}"  # v != v: NaN


def _interval(pair: Any) -> str:
    if not pair or any(v is None or v != v for v in pair[:2]):  # v != v: NaN
        return "–"
    return f"[{pair[0]:.4f}, {pair[1]:.4f}]"


def profile_rows(report: ProbeReport) -> list[dict[str, Any]]:
    """One row per probe of the battery: probe, metric, value, low, high, normalised (and its low, high),
    status (complete | skipped: reason)."""
    result, gen = report.result, report.analysis.get("generality") or {}
    battery = result.config.get("battery", {}).get("settings", {})
    skipped = result.config.get("skipped_probes", {})
    rows = []
    for probe in battery.get("probes", result.tasks):
        main = MAIN_METRIC.get(probe, "")
        low, high = (result.intervals.get(probe, {}).get(main) or [None, None])[:2]
        n_low, n_high = (gen.get("per_probe_interval", {}).get(probe) or [None, None])[:2]
        rows.append({"probe": probe, "metric": main, "value": result.metrics.get(probe, {}).get(main),
                     "low": low, "high": high, "normalised": gen.get("per_probe", {}).get(probe),
                     "normalised_low": n_low, "normalised_high": n_high,
                     "status": f"skipped: {skipped[probe]}" if probe in skipped else "complete"})
    return rows


def profile_table(report: ProbeReport) -> Table:
    result = report.result
    battery = result.config.get("battery", {}).get("name", "?")
    title = (f"{result.run_name}: battery {battery} on {result.dataset.name} (revision {result.dataset.revision}), "
             f"{result.dataset.test} test shapes")
    gen = report.analysis.get("generality")
    caption = f"normalised: 0 = {gen['zero']['run']} (random weights), 1 = {gen['one']['run']} (joint)" if gen else None
    table = Table(title=title, caption=caption)
    for col, justify in (("probe", "left"), ("metric", "left"), ("value", "right"), ("95 % CI", "right"),
                         ("normalised", "right"), ("95 % CI ", "right")):
        table.add_column(col, justify=justify, no_wrap=col != "probe")
    for row in profile_rows(report):
        if row["status"] != "complete":
            table.add_row(row["probe"], row["status"], "", "", "", "")
            continue
        table.add_row(row["probe"], row["metric"], _num(row["value"]), _interval([row["low"], row["high"]]),
                      _num(row["normalised"], 3), _interval([row["normalised_low"], row["normalised_high"]]))
    return table


def generality_line(report: ProbeReport) -> str:
    gen = report.analysis.get("generality")
    if not gen:
        return report.analysis.get("generality_note", "no generality score")
    line = (f"generality {_num(gen['mean'], 3)} {_interval(gen['interval'])} over {len(gen['per_probe'])} probes "
            f"(0: {gen['zero']['run']}, 1: {gen['one']['run']})")
    if gen.get("left_out"):
        line += "; left out: " + ", ".join(f"{p} ({why})" for p, why in gen["left_out"].items())
    return line


def verdict_table(report: ProbeReport) -> Table | None:
    verdicts = report.analysis.get("verdicts") or []
    if not verdicts:
        return None
    table = Table(title=f"{report.result.run_name} − reference, main score per probe (paired bootstrap 95 % CI)")
    for col in ("reference", "role", "probe", "metric", "Δ", "95 % CI", "units", "verdict"):
        table.add_column(col, justify="right" if col in ("Δ", "95 % CI", "units") else "left")
    for v in verdicts:
        table.add_row(v["reference"], v["role"] or "–", v["probe"], v["metric"], _num(v["difference"]),
                      _interval([v["low"], v["high"]]), str(v["n"]), v["verdict"])
    return table


def report_json(report: ProbeReport) -> dict[str, Any]:
    """Everything printed, as one JSON-able object."""
    result = report.result
    return {"run": f"{result.suite}/{result.run_name}", "run_dir": str(result.run_dir),
            "battery": result.config.get("battery", {}).get("name"), "encoder": result.config.get("encoder"),
            "weights": result.config.get("weights"), "dataset": {"name": result.dataset.name,
                                                                 "revision": result.dataset.revision},
            "profile": profile_rows(report), "generality": report.analysis.get("generality"),
            "generality_note": report.analysis.get("generality_note"), "verdicts": report.analysis.get("verdicts", []),
            "timings": result.timings}
