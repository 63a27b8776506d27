"""`bench run --executor ray` on a real local Ray instance: same rows as local, lost workers, resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bench.cli.main import main
from bench.errors import BenchError
from bench.profiling.timing import TimingConfig
from bench.results.results_file import read_results
from bench.results.schema import row_key
from bench.runner.config import RunConfig
from bench.runner.executors import group_by_model, parse_executor
from bench.runner.observer import SilentObserver
from bench.runner.ray_executor import RayExecutor
from bench.runner.run import execute_run

pytestmark = pytest.mark.slow

MODELS = "lenet5,resnet20,nin"
# speed-only data at 32x32 (no training), short timing: the executor is under test, not the figures
PLAN = [
    "--dataset", "synthetic", "--input-size", "32", "--prune", "0.5", "--quantize", "int8",
    "--calib-images", "8", "--batch-sizes", "1", "--warmup", "1", "--warmup-time", "0",
    "--min-iters", "3", "--min-time", "0.01",
]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("executors")
    out = {"local": root / "local", "ray": root / "ray"}
    assert main(["run", "--models", MODELS, *PLAN, "--out", str(out["local"]), "--cache-dir", str(root / "c")]) == 0
    assert main(["run", "--models", MODELS, *PLAN, "--executor", "ray", "--out", str(out["ray"]),
                 "--cache-dir", str(root / "c")]) == 0  # fmt: skip
    return out


def test_ray_rows_have_the_local_executors_keys(runs: dict[str, Path]) -> None:
    local, ray = read_results(runs["local"]), read_results(runs["ray"])
    assert sorted(map(row_key, ray.rows)) == sorted(map(row_key, local.rows))
    assert len(ray.rows) == 3 * 4  # three models, four variants, batch 1, CPU
    assert all(row["status"] == "ok" for row in ray.rows), [row["error"] for row in ray.rows]
    assert {row["host"] for row in ray.rows} == set(ray.run["hosts"])
    assert ray.run["config"]["executor"] == "ray"
    for host in ray.run["hosts"].values():
        assert host["cpu_model"] and host["torch"] == torch.__version__


def test_a_killed_task_fails_its_cells_and_resume_completes(tmp_path: Path) -> None:
    config = RunConfig(
        models=("lenet5", "resnet20"),
        out_dir=tmp_path / "run",
        dataset="synthetic",
        input_size=32,
        calib_images=8,
        batch_sizes=(1,),
        timing=TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=3, min_time_s=0.01),
        cache_dir=tmp_path / "cache",
        executor="ray",
    )
    executor = RayExecutor()

    class KillSecondCell(SilentObserver):
        """Kills resnet20's task as soon as it starts its second cell (a lost worker)."""

        started = 0

        def on_cell_start(self, model: str, variant: str) -> None:
            if model == "resnet20":
                self.started += 1
                if self.started == 2:
                    assert executor.cancel("resnet20")

    summary = execute_run(config, KillSecondCell(), executor=executor)
    rows = read_results(config.out_dir).rows
    lost = [row for row in rows if row["model"] == "resnet20" and row["status"] == "failed"]
    assert summary.failed and len(lost) == 3, [(r["variant"], r["status"]) for r in rows]
    assert all("worker running resnet20 was lost" in row["error"] for row in lost)
    assert all(row["status"] == "ok" for row in rows if row["model"] == "lenet5")

    resumed = execute_run(replace(config, resume=True), SilentObserver(), executor=RayExecutor())
    assert resumed.cells_resumed == 5 and resumed.cells_run == 3 and not resumed.failed
    final = read_results(config.out_dir).rows
    assert len(final) == len({row_key(row) for row in final}) == 8
    assert all(row["status"] == "ok" for row in final)


def test_work_is_one_task_per_model_in_plan_order() -> None:
    config = RunConfig(models=("lenet5", "resnet20"), out_dir=Path("unused"), prune_ratios=(0.5,), quantize="int8")
    work = group_by_model(config.cells())
    assert [piece.model for piece in work] == ["lenet5", "resnet20"]
    assert [len(piece.cells) for piece in work] == [4, 4]


def test_unknown_executor_and_orphan_address_are_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BenchError, match="unknown executor 'rya'"):
        parse_executor("rya")
    assert main(["run", "--models", "lenet5", "--ray-address", "auto", "--out", "/tmp/never-written"]) == 2
    assert "--ray-address goes with --executor ray" in capsys.readouterr().err
    assert not Path("/tmp/never-written").exists()
