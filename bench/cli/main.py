"""The `bench` command line: one module per command, this file only dispatches.

Every command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a handler taking the parsed namespace and returning an exit code. Handlers
import heavy libraries lazily, so `bench --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bench import __version__
from bench.errors import EXIT_FAILED, EXIT_USAGE, BenchError

# Command name -> module under bench.cli that registers it.
COMMAND_MODULES: tuple[str, ...] = (
    "zoo_cmds",  # list, summary
    "profile_cmd",
    "train_cmd",
    "run_cmd",
    "report_cmd",
    "compare_cmd",
    "viz_cmd",
    "tune_cmd",
)


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="bench",
        description="Benchmark and compress the classic vision CNNs.",
    )
    parser.add_argument("--version", action="version", version=f"cnnbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for unexpected errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"bench.cli.{module_name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed on one line
        return int(exc.code or 0)
    args.argv = ["bench", *argv]  # what was run, for the records
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        sys.stderr.write(f"bench {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write(f"bench {args.command}: interrupted\n")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        oom = _out_of_memory(exc)
        if oom is not None:  # a shape that passed the estimate and still did not fit: bad input, one line
            sys.stderr.write(f"bench {args.command}: error: {oom}\n")
            return EXIT_USAGE
        message = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(
            f"bench {args.command}: internal error: {type(exc).__name__}: {message} "
            "(rerun with --debug for the traceback)\n"
        )
        return EXIT_FAILED


def _out_of_memory(exc: Exception) -> BenchError | None:
    """The one-line error of an allocation failure, or None for any other exception."""
    from bench.profiling.memory_estimate import is_out_of_memory, out_of_memory_error

    if not is_out_of_memory(exc):
        return None
    return out_of_memory_error(exc, "pass a smaller --input-size or batch size")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
