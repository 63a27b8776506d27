"""`bench compare BASE [BASE ...] NEW`: gate CI on regressions between runs.

Several BASE runs (or a folder of them) form one baseline: timing checks pool their latency
samples. Exit 0 when no check fails, 1 on a regression, 2 on bad input (a missing or unreadable
results file, a wrong schema version, a bad ``--fail`` string, environments that differ
without ``--allow-env-mismatch``, two runs with no row in common). The report goes to
stdout (markdown, or JSON with ``--format json``); a one-line verdict goes to stderr.
"""

from __future__ import annotations

import argparse
import sys

from bench.cli.args import add_format_arg
from bench.cli.common import print_json, stderr, stdout

_EPILOG = """\
thresholds: METRIC:N%% allows NEW to be worse than BASE by N percent, METRIC:N by N in the
metric's unit (ms, images/s, MiB, counts, accuracy points). Which way is worse is known per
metric; an optional sign must point that way (+ for lower-is-better, - for higher-is-better):
  lower is better:  %(lower)s
  higher is better: %(higher)s
Timing checks fail only when the change also is significant: the 95%% bootstrap interval of
the change (seeded, from both runs' latency samples; BASE samples pooled over every BASE)
excludes no change; rows without samples use an IQR rule. Rows whose timing blocks disagreed
show as "unstable". Without --fail the checks are: %(defaults)s.

examples:
  bench compare baselines/ci/results.json runs/ci --fail params:0%% --fail top1:-0.5 \\
      --fail latency_ms_p50:25%% >> "$GITHUB_STEP_SUMMARY"
  bench compare baselines/ runs/ci --fail latency_ms_p50:10%%   # every run in baselines/ pooled
  bench compare runs/a runs/b --format json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from reports.thresholds import DEFAULT_CHECKS, METRICS

    lower = ", ".join(name for name, metric in METRICS.items() if not metric.higher_is_better)
    higher = ", ".join(name for name, metric in METRICS.items() if metric.higher_is_better)
    parser = subparsers.add_parser(
        "compare",
        help="compare two runs and fail on a regression",
        description="Match the rows of two runs and check NEW against BASE.",
        epilog=_EPILOG % {"lower": lower, "higher": higher, "defaults": " ".join(DEFAULT_CHECKS)},
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "base",
        metavar="BASE",
        nargs="+",
        help="baseline(s): run directories, results.json files or a folder of run directories (pooled)",
    )
    parser.add_argument("new", metavar="NEW", help="the run to check: a run directory or its results.json")
    parser.add_argument(
        "--fail",
        action="append",
        metavar="METRIC:THRESHOLD",
        help="fail when METRIC gets worse by more than THRESHOLD (repeatable), e.g. latency_ms_p50:10%%",
    )
    add_format_arg(parser, ("markdown", "json"))
    parser.add_argument(
        "--allow-env-mismatch",
        action="store_true",
        help="compare runs from different environments (GPU, CPU, threads, torch, quantized engine)",
    )
    parser.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from bench.results.results_file import read_baselines, read_results
    from reports.compare import compare_results
    from reports.thresholds import parse_checks

    checks = parse_checks(args.fail)
    comparison = compare_results(
        read_baselines(args.base),
        read_results(args.new),
        checks,
        allow_env_mismatch=args.allow_env_mismatch,
    )
    if args.format == "json":
        print_json(comparison.to_dict())
    elif sys.stdout.isatty():
        from rich.markdown import Markdown

        stdout.print(Markdown(comparison.to_markdown()))
    else:  # piped, e.g. into $GITHUB_STEP_SUMMARY: the markdown source itself
        sys.stdout.write(comparison.to_markdown())
        sys.stdout.flush()
    stderr.print(f"bench compare: {comparison.summary()}", markup=False, highlight=False)
    return comparison.exit_code
