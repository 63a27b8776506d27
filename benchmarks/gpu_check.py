"""The prepared GPU check: every CUDA path of cnnbench, next to timm's own benchmark.py.

One command, at most about 8 minutes on one H100/H200, writing ``summary.json`` and
``summary.md`` (and the logs) to the folder given::

    python3 benchmarks/gpu_check.py OUT_DIR              # on the GPU machine
    python benchmarks/gpu_check.py OUT_DIR --cpu-half    # here: the same steps, CPU-sized

Steps (each timed, each failure recorded, none stops the others):

a. ``python -m pytest -m gpu``: the GPU tests.
b. ``bench profile resnet18,resnet50,vgg16,densenet121 --dataset imagenet --device cuda
   --batch-sizes 1,256 --precision fp16 --channels-last``, without and with ``--compile``,
   and timm's ``benchmark.py`` (a peer carried in ``.whl/timm_benchmark.py``, never
   committed) on the same models, batch 256, AMP fp16, channels-last, eager and compiled:
   the throughput ratio cnnbench / timm per model, bs1 latency from CUDA events, compile
   times apart from run times.
c. ``bench run --models lenet5,resnet20,vgg11_bn --device cuda`` end to end, then
   ``--resume`` (nothing left to do: every cell resumed).
d. An out-of-memory batch at 224 in ``bench run``: a failed row naming the OOM while the run
   goes on (exit 1, the other batch size ok).
e. ``--batch-sizes max`` on resnet50: the largest batch that fits, marked ``batch_search``.

From (c)'s cell times it extrapolates ``bench run --models all --device cuda`` (stated as an
extrapolation). ``--cpu-half`` runs the same plumbing on the CPU with small models and
sizes, so everything but the GPU itself is tested before a device call.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIMM_BENCHMARK = ROOT / ".whl" / "timm_benchmark.py"
GPU_MODELS = ("resnet18", "resnet50", "vgg16", "densenet121")
CPU_MODELS = ("resnet18",)
FAST_TIMING = ["--warmup", "3", "--min-iters", "10", "--min-time", "0.5"]


class Check:
    """Runs commands, keeping each one's wall time, exit code and log under ``out``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.steps: list[dict[str, Any]] = []

    def run(self, name: str, command: list[str], timeout: float) -> subprocess.CompletedProcess[str] | None:
        start = time.perf_counter()
        log = self.out / f"{name}.log"
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired as exc:
            log.write_text(f"$ {' '.join(command)}\nTIMEOUT after {timeout} s\n{exc.stdout or ''}{exc.stderr or ''}")
            self.steps.append({"step": name, "rc": None, "seconds": round(time.perf_counter() - start, 1)})
            return None
        log.write_text(f"$ {' '.join(command)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
        self.steps.append({"step": name, "rc": done.returncode, "seconds": round(time.perf_counter() - start, 1)})
        return done


def bench(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench", *args]


def json_rows(done: subprocess.CompletedProcess[str] | None) -> list[dict[str, Any]]:
    if done is None or done.returncode != 0:
        return []
    try:
        return list(json.loads(done.stdout)["rows"])
    except (ValueError, KeyError, TypeError):
        return []


def timm_throughput(check: Check, model: str, batch: int, device: str, compiled: bool, size: int) -> float | None:
    """timm benchmark.py's inference images/s for ``model`` (AMP fp16, channels-last)."""
    if not TIMM_BENCHMARK.exists():
        return None
    result = check.out / f"timm-{model}-{'compiled' if compiled else 'eager'}.json"
    command = [sys.executable, str(TIMM_BENCHMARK), "--model", model, "--bench", "inference", "-b", str(batch)]
    command += ["--device", device, "--img-size", str(size), "--channels-last", "--no-retry"]
    command += ["--results-file", str(result), "--results-format", "json"]
    if device == "cuda":
        command += ["--amp", "--amp-dtype", "float16"]
    if compiled:
        command += ["--torchcompile"]
    done = check.run(f"timm-{model}-{'compiled' if compiled else 'eager'}", command, timeout=240)
    if done is None or done.returncode != 0 or not result.exists():
        return None
    data = json.loads(result.read_text())
    data = data[0] if isinstance(data, list) else data
    return data.get("infer_samples_per_sec")


def profile_step(check: Check, models: tuple[str, ...], device: str, batches: str, size: int) -> dict[str, Any]:
    """(b): cnnbench eager and compiled against timm, per model."""
    common = [",".join(models), "--dataset", "imagenet", "--input-size", str(size), "--device", device]
    common += ["--batch-sizes", batches, "--channels-last", "--format", "json", *FAST_TIMING]
    if device == "cuda":
        common += ["--precision", "fp16"]
    big = int(batches.split(",")[-1])
    table: dict[str, Any] = {}
    for compiled in (False, True):
        label = "compiled" if compiled else "eager"
        rows = json_rows(
            check.run(f"profile-{label}", bench("profile", *common, *(["--compile"] if compiled else [])), 420)
        )
        for row in rows:
            entry = table.setdefault(row["model"], {})
            if row["batch_size"] == big:
                entry[f"cnnbench_{label}_ips"] = row.get("throughput_ips")
                entry[f"compile_ms_{label}"] = row.get("compile_ms")
            elif row["batch_size"] == 1:
                entry[f"bs1_p50_ms_{label}"] = row.get("latency_ms_p50")
        for model in models:
            entry = table.setdefault(model, {})
            entry[f"timm_{label}_ips"] = timm_throughput(check, model, big, device, compiled, size)
            ours, theirs = entry.get(f"cnnbench_{label}_ips"), entry.get(f"timm_{label}_ips")
            entry[f"ratio_{label}"] = round(ours / theirs, 3) if ours and theirs else None
    return table


def run_steps(check: Check, device: str, runs: Path) -> dict[str, Any]:
    """(c), (d), (e): end-to-end run and resume, the OOM row, the batch search."""
    found: dict[str, Any] = {}
    models = "lenet5,resnet20,vgg11_bn" if device == "cuda" else "lenet5"
    plan = ["--models", models, "--device", device, *FAST_TIMING]
    first = check.run("run", bench("run", *plan, "--out", str(runs / "run")), 420)
    again = check.run("run-resume", bench("run", *plan, "--out", str(runs / "run"), "--resume"), 120)
    found["run_rc"] = None if first is None else first.returncode
    found["resume_rc"] = None if again is None else again.returncode
    found["resume_said"] = re.findall(r"\d+ cells run, \d+ resumed[^\n]*", again.stdout + again.stderr) if again else []
    results = runs / "run" / "results.json"
    if results.exists():
        rows = json.loads(results.read_text())["rows"]
        found["run_rows"] = len(rows)
        found["run_failed"] = [
            f"{r['model']} {r['variant']} bs{r['batch_size']}: {r['error']}" for r in rows if r["status"] != "ok"
        ]
        per_cell = {(r["model"], r["variant"]): r.get("cell_seconds") or 0.0 for r in rows}
        found["cell_seconds"] = {f"{m}|{v}": s for (m, v), s in per_cell.items()}
    oom_batch = "1,1000000" if device == "cuda" else "1,2"
    oom = ["--models", "resnet50", "--dataset", "synthetic", "--device", device, "--batch-sizes", oom_batch]
    oom += ["--prune", "none", "--quantize", "none", *FAST_TIMING, "--out", str(runs / "oom")]
    done = check.run("oom", bench("run", *oom), 240)
    found["oom_rc"] = None if done is None else done.returncode
    if (runs / "oom" / "results.json").exists():
        rows = json.loads((runs / "oom" / "results.json").read_text())["rows"]
        found["oom_rows"] = [(r["batch_size"], r["status"], (r["error"] or "")[:160]) for r in rows]
    search = ["--models", "resnet50", "--dataset", "synthetic", "--device", device, "--batch-sizes", "max"]
    search += ["--prune", "none", "--quantize", "none", *FAST_TIMING, "--out", str(runs / "max")]
    if device != "cuda":
        search += ["--input-size", "32"]
    done = check.run("batch-max", bench("run", *search), 300)
    found["max_rc"] = None if done is None else done.returncode
    if (runs / "max" / "results.json").exists():
        rows = json.loads((runs / "max" / "results.json").read_text())["rows"]
        found["max_rows"] = [(r["batch_size"], r.get("batch_search"), r.get("throughput_ips")) for r in rows]
    return found


def extrapolate_all(found: dict[str, Any]) -> str:
    """`bench run --models all --device cuda`, from the measured cells (an extrapolation)."""
    seconds = found.get("cell_seconds") or {}
    if not seconds:
        return "no cell times measured"
    per_model = statistics.mean(
        sum(s for k, s in seconds.items() if k.startswith(m + "|")) for m in {k.split("|")[0] for k in seconds}
    )
    return (f"{len(seconds)} cells of 3 small models took {sum(seconds.values()):.0f} s "
            f"({per_model:.0f} s per model); 23 models at that rate: ~{23 * per_model / 60:.0f} min "
            "(an extrapolation: the ImageNet-size models train and time longer)")  # fmt: skip


def pytest_gpu(check: Check) -> str:
    done = check.run("pytest-gpu", [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"], 300)
    if done is None:
        return "timed out"
    lines = [line for line in done.stdout.splitlines() if re.search(r"\d+ (passed|failed|skipped|deselected)", line)]
    return lines[-1] if lines else f"rc {done.returncode}"


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = [f"# cnnbench GPU check ({summary['device_name']})", "", f"- pytest -m gpu: {summary['pytest_gpu']}"]
    lines += [
        "",
        "| model | cnnbench eager img/s | timm eager | ratio | cnnbench compiled | timm compiled | ratio | bs1 p50 ms eager | bs1 p50 ms compiled | compile ms |",
    ]
    lines += ["| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for model, e in summary["profile"].items():
        cells = [e.get(k) for k in ("cnnbench_eager_ips", "timm_eager_ips", "ratio_eager", "cnnbench_compiled_ips",
                                     "timm_compiled_ips", "ratio_compiled", "bs1_p50_ms_eager", "bs1_p50_ms_compiled",
                                     "compile_ms_compiled")]  # fmt: skip
        lines.append(f"| {model} | " + " | ".join("-" if c is None else f"{c:g}" for c in cells) + " |")
    runs = summary["runs"]
    lines += ["", f"- run rc {runs.get('run_rc')}, rows {runs.get('run_rows')}, failed {runs.get('run_failed')}",
              f"- resume rc {runs.get('resume_rc')}: {runs.get('resume_said')}",
              f"- OOM run rc {runs.get('oom_rc')}: {runs.get('oom_rows')}",
              f"- batch search rc {runs.get('max_rc')}: {runs.get('max_rows')}",
              f"- whole zoo: {summary['extrapolation']}", "", "| step | rc | s |", "| --- | ---: | ---: |"]  # fmt: skip
    lines += [f"| {s['step']} | {s['rc']} | {s['seconds']} |" for s in summary["steps"]]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for summary.json, summary.md and the logs")
    parser.add_argument("--cpu-half", action="store_true", help="the same steps on the CPU, small sizes")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    device = "cpu" if args.cpu_half else "cuda"
    check = Check(args.out)
    runs = Path(os.environ.get("TMPDIR", "/tmp")) / f"cnnbench-gpu-check-{os.getpid()}"
    started = time.perf_counter()
    import torch

    summary: dict[str, Any] = {
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device == "cuda" else "CPU (the check's CPU half)",
        "torch": torch.__version__,
        "pytest_gpu": pytest_gpu(check) if device == "cuda" else "skipped on the CPU half",
    }
    if device == "cuda":
        summary["profile"] = profile_step(check, GPU_MODELS, "cuda", "1,256", 224)
    else:
        summary["profile"] = profile_step(check, CPU_MODELS, "cpu", "1,2", 64)
    summary["runs"] = run_steps(check, device, runs)
    summary["extrapolation"] = extrapolate_all(summary["runs"])
    summary["steps"] = check.steps
    summary["seconds"] = round(time.perf_counter() - started, 1)
    write_summary(args.out, summary)
    shutil.rmtree(runs, ignore_errors=True)
    print((args.out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
