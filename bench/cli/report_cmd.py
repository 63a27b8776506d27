"""`bench report RUN_DIR [--baseline OTHER]`: rebuild report.md, figures and the JSON/CSV exports
from results.db; with ``--baseline`` the report adds the comparison with another run.

Nothing is re-measured: the report comes from the stored rows and artifacts alone, so it
can be rebuilt at any time (after a crash, or while `bench run` is still writing). A bad
``--baseline`` is refused (exit 2, one line) before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import stderr, stdout
from bench.errors import EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="rebuild a run's report.md and figures from its results.db",
        description="Rebuild report.md, figures/*.png, results.json and results.csv of a run directory "
        "from its results.db, without recomputing anything.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `bench run` (its --out)")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="also compare with this run (its results.json or run directory): a table and a figure of the changes",
    )
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from bench.results.results_file import read_results
    from bench.results.store import ResultStore
    from reports.markdown import write_report

    baseline = read_results(args.baseline) if args.baseline is not None else None  # bad file: exit 2 now
    report = write_report(args.run_dir, baseline=baseline)
    with ResultStore(args.run_dir, create=False) as store:
        exported = store.export()
    for path in exported:
        stderr.print(f"exported {path}", markup=False, highlight=False)
    stdout.print(str(report), markup=False, highlight=False)
    return EXIT_OK
