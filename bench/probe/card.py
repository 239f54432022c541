"""The report card's probe section: the profile of every `bench probe` result of the results folder (each
probe's main score with its 95 % interval, and its normalised score where the result has a generality score),
beside the reference results shipped with bench, as one figure and a table of generality scores."""

from __future__ import annotations

import html
from pathlib import Path

from bench.probe.battery import MAIN_METRIC, PROBES
from bench.results import RunResult, reference_results_dir, scan_results

SUITE = "probe"


def probe_results(results_dir: Path, with_reference: bool = True) -> list[RunResult]:
    """The finished probe results under ``results_dir`` (its probe/ folder), then the shipped references of the
    same battery and dataset revision as one of them (each result once)."""
    from bench.probe.run import comparable

    own = [r for r in scan_results(Path(results_dir) / SUITE) if r.status == "complete" and r.protocol == SUITE]
    if not own or not with_reference:
        return own
    seen = {r.config_hash for r in own}  # a reference copied into the folder is shown once
    refs = [r for r in scan_results(reference_results_dir()) if r.status == "complete"
            and r.config_hash not in seen and any(comparable(o, r) for o in own)]
    return own + refs


def _label(r: RunResult) -> str:
    role = r.config.get("role") or ""
    return f"{r.run_name} ({role})" if role else r.run_name


def profile_figure(results: list[RunResult]) -> bytes:
    """One PNG: per probe (rows), each result's main score as a dot with its 95 % interval (left panel), and
    its normalised score between the random-weights (0) and the jointly trained (1) reference (right panel,
    for results that have a generality score)."""
    from bench.reports.figures import _pyplot, plain_text, png_bytes

    plt = _pyplot()
    probes = [p for p in PROBES if any(p in r.tasks for r in results)]
    normalised = [r for r in results if (r.analysis or {}).get("generality")]
    panels = 2 if normalised else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 0.42 * len(probes) * max(1, len(results)) ** 0.5 + 1.4),
                             squeeze=False, sharey=True)
    step = 0.8 / max(1, len(results))
    for k, r in enumerate(results):
        offset = -0.4 + step * (k + 0.5)
        ys, xs, errs = [], [], [[], []]
        for i, probe in enumerate(probes):
            value = r.metrics.get(probe, {}).get(MAIN_METRIC[probe])
            if value is None:
                continue
            low, high = (r.intervals.get(probe, {}).get(MAIN_METRIC[probe]) or [None, None])
            ys.append(i + offset)
            xs.append(value)
            errs[0].append(value - low if low is not None else 0)
            errs[1].append(high - value if high is not None else 0)
        axes[0, 0].errorbar(xs, ys, xerr=errs, fmt="o", ms=4, capsize=2, lw=1, color=f"C{k}",
                            label=plain_text(_label(r)))
        g = (r.analysis or {}).get("generality")
        if g and panels == 2:
            ys, xs, errs = [], [], [[], []]
            for i, probe in enumerate(probes):
                value = g["per_probe"].get(probe)
                if value is None or value != value:
                    continue
                low, high = g["per_probe_interval"].get(probe, [value, value])
                ys.append(i + offset)
                xs.append(value)
                errs[0].append(value - low if low == low else 0)
                errs[1].append(high - value if high == high else 0)
            axes[0, 1].errorbar(xs, ys, xerr=errs, fmt="s", ms=4, capsize=2, lw=1, color=f"C{k}")
    axes[0, 0].set_yticks(range(len(probes)), [plain_text(f"{p}: {MAIN_METRIC[p]}") for p in probes])
    axes[0, 0].invert_yaxis()
    axes[0, 0].set(xlabel="main score (95 % interval)", title="probe scores")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    if panels == 2:
        for x in (0, 1):
            axes[0, 1].axvline(x, color="#8c959f", lw=1, ls="--")
        axes[0, 1].set(xlabel="normalised: 0 = random weights, 1 = jointly trained", title="normalised")
    for ax in axes.flat:
        ax.grid(axis="x", color="#eaeef2", lw=0.8)
    return png_bytes(fig, dpi=90)


def generality_table(results: list[RunResult]) -> str:
    """HTML table: each result's generality score with its interval and its two anchors ('' when none has one)."""
    rows = []
    for r in results:
        g = (r.analysis or {}).get("generality")
        if not g:
            continue
        low, high = g.get("interval", [None, None])
        interval = f"[{low:.3f}, {high:.3f}]" if low is not None and high is not None else "–"
        rows.append(f"<tr><td>{html.escape(_label(r))}</td><td>{g['mean']:.3f}</td><td>{html.escape(interval)}</td>"
                    f"<td>{html.escape(g['zero']['run'])}</td><td>{html.escape(g['one']['run'])}</td></tr>")
    if not rows:
        return ""
    return ("<table><thead><tr><th>encoder</th><th>generality</th><th>95 % CI</th><th>0 (random weights)</th>"
            f"<th>1 (jointly trained)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def probe_section(results: list[RunResult], results_dir: Path) -> list[tuple[str, str]]:
    """[(heading, HTML)]: the probe profiles of the results folder's `bench probe` results; [] when it has none.
    ``results`` (the card's suite runs) are not probe results: the section reads the folder itself."""
    from bench.reports.html import figure_html

    found = probe_results(results_dir)
    if not found:
        return []
    battery = found[0].config.get("battery", {}).get("name", "?")
    note = (f"<p class='note'>Battery {html.escape(str(battery))} on {html.escape(str(found[0].dataset.name))}: every "
            "probe trains on the frozen encoder's cached latents (docs/metrics.md, Probe battery). The generality "
            "score is the mean over probes of the normalised scores, with a paired bootstrap interval; results "
            "marked (joint), (random) or (reference) are the references it is measured against.</p>")
    body = figure_html(profile_figure(found), "probe profiles") + generality_table(found)
    return [("probe battery: what the frozen latents carry", note + body)]
