"""What bench makes of result files: everything the report commands print or write, and nothing they parse.

- select.py: which runs a report reads (a suite's runs of one setup; runs named on the command line) and
  the files beside their results (scores.csv, PNGs).
- leaderboard.py: one row per run, direction-aware ranking; table / CSV / Markdown.
- compare.py: runs side by side with paired-bootstrap differences (`bench compare`).
- paper.py: the paper's Tables 1-8 (paper_tables.toml) beside a suite's runs.
- per_category.py: the per-category Table 7 comparison (a suite's per-category scores beside the paper's).
- claims.py: the paper's findings as claims with verdicts.
- suite.py: a suite's report (`bench report`): the pieces above, computed once.
- report_card.py, html.py, figures.py: the HTML report card, static HTML pages, matplotlib figures.
- export.py: predicted meshes of a finished run (`bench export`).

The CLI (bench/cli/) only parses arguments and prints what these modules compute.
"""
