"""Settings for the pytest-benchmark suite (forward-pass timings of chosen models and variants).

The suite is not part of the default test run (pytest's ``testpaths`` is ``tests/``); it
runs only when named. Every command below is run from the repository root.

Commands
--------
Time the suite and print the table::

    python -m pytest benchmarks

Save every run under ``.benchmarks/`` and fail when a median is more than 10% slower than
the previous saved run. The same command works on the very first run, when nothing is saved
yet: the comparison is skipped with a warning (see :func:`pytest_sessionstart`) and the run
is saved as the baseline for the next one::

    python -m pytest benchmarks --benchmark-autosave \\
        --benchmark-compare --benchmark-compare-fail=median:10%

Compare against a chosen saved run (``0001`` is the counter pytest-benchmark prefixes)::

    python -m pytest benchmarks --benchmark-compare=0001 --benchmark-compare-fail=median:10%

Pick the device and thread count (both recorded in the machine info)::

    python -m pytest benchmarks --bench-device cuda --bench-threads 4

Machine info
------------
pytest-benchmark warns when a saved run's machine info differs from the current one, so
only what changes timings is added (under ``"cnnbench"``): the cnnbench, torch and
torchvision versions, CUDA and cuDNN versions, CPU model, torch's thread count, GPU name,
quantized engine, and the device the suite ran on. Per-run values (time, git commit) are
left to pytest-benchmark's own ``commit_info``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

# Fields of bench.profiling.environment.collect_environment() that move timings.
_MACHINE_FIELDS = (
    "cnnbench",
    "torch",
    "torchvision",
    "cuda",
    "cudnn",
    "cpu_model",
    "cpu_threads",
    "gpu_name",
    "quantized_engine",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cnnbench", "cnnbench benchmark suite")
    group.addoption("--bench-device", default="cpu", metavar="auto|cpu|cuda", help="device to time on (default: cpu)")
    group.addoption(
        "--bench-threads", type=int, default=None, metavar="N", help="torch intra-op threads (default: torch's)"
    )


def pytest_configure(config: pytest.Config) -> None:
    threads = config.getoption("--bench-threads")
    if threads is not None:
        if threads < 1:
            raise pytest.UsageError(f"--bench-threads must be positive, got {threads}")
        torch.set_num_threads(threads)


def _device(config: pytest.Config) -> torch.device:
    from bench.devices import resolve_device
    from bench.errors import BenchError

    try:
        return resolve_device(config.getoption("--bench-device"))
    except BenchError as error:
        raise pytest.UsageError(f"--bench-device: {error}") from None


@pytest.fixture(scope="session")
def bench_device(pytestconfig: pytest.Config) -> torch.device:
    """The torch device every benchmark runs on (``--bench-device``)."""
    return _device(pytestconfig)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Record what the timings depend on (see the module docstring)."""
    from bench.devices import device_label
    from bench.profiling.environment import collect_environment

    environment = collect_environment()
    info = {name: environment.get(name) for name in _MACHINE_FIELDS}
    info["device"] = device_label(_device(config))
    machine_info["cnnbench"] = info


def pytest_sessionstart(session: pytest.Session) -> None:
    """Let a first run with ``--benchmark-compare-fail`` pass when there is nothing to compare.

    pytest-benchmark turns ``--benchmark-compare-fail`` without a loaded baseline into a
    usage error, so the first CI run (empty ``.benchmarks/``) would fail. When a comparison
    was asked for (``--benchmark-compare``) and found no saved run, the fail checks are
    dropped with a warning; ``--benchmark-autosave`` then saves this run as the baseline.
    """
    benchmark_session = getattr(session.config, "_benchmarksession", None)
    if benchmark_session is None or not getattr(benchmark_session, "compare", None):
        return
    if benchmark_session.compare_fail and not benchmark_session.compared_mapping:
        benchmark_session.compare_fail = []
        session.config.issue_config_time_warning(
            pytest.PytestWarning(
                "no saved benchmark run to compare with: --benchmark-compare-fail is not applied "
                "this time (save one with --benchmark-autosave)"
            ),
            stacklevel=2,
        )
