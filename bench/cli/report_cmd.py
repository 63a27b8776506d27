"""`bench report RUN_DIR [--baseline OTHER]`: rebuild report.md, figures and the JSON/CSV exports
from results.db; with ``--baseline`` the report adds the comparison with another run.

Nothing is re-measured: the report comes from the stored rows and artifacts alone, so it
can be rebuilt at any time after a run, also after a crash. A bad
``--baseline`` is refused (exit 2, one line) before anything is written. `bench report` writes into the
run directory, so it takes the directory's lock (:mod:`bench.results.lock`) like `bench run`:
while a run is still writing, it is refused with the run's pid (that run writes its report
itself when it ends; results.json is exported after every cell meanwhile).
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
    from bench.results.lock import run_dir_lock
    from bench.results.results_file import read_results
    from bench.results.store import ResultStore
    from bench.writable import check_writable_dir
    from reports.markdown import write_report

    baseline = read_results(args.baseline) if args.baseline is not None else None  # bad file: exit 2 now
    with ResultStore(args.run_dir, create=False):  # a missing run directory or results.db: exit 2 here
        pass
    check_writable_dir(args.run_dir, "RUN_DIR")
    fix = "wait for that run to finish: it writes its report itself (results.json is exported after every cell)"
    with run_dir_lock(args.run_dir, holder="bench report", fix=fix):
        with ResultStore(args.run_dir, create=False) as store:
            exported = store.export()
        report = write_report(args.run_dir, baseline=baseline)
    for path in exported:
        stderr.print(f"exported {path}", markup=False, highlight=False)
    stdout.print(str(report), markup=False, highlight=False)
    return EXIT_OK
