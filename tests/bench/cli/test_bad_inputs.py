"""Bad input over every command, as one table: exit 2, one stderr line, no traceback, nothing changed.

Each case names the command, what is wrong and a fragment of the expected message. Before the
command runs, every file under the test's folder (pre-existing run directories, caches, files
in the way) is hashed; afterwards the same files must hold the same bytes and nothing may have
been added. Every case fails before a model is trained (the damaged-checkpoint case trains one in
its setup) and almost all before any data is read, so the table is fast.

The table with the exit codes each case gave, for notes and reviews:

    BENCH_BAD_INPUTS_TABLE=cases.md python -m pytest tests/bench/cli/test_bad_inputs.py -p no:cacheprovider
"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from bench import writable
from bench.cli.main import build_parser, main
from bench.cli.run_cmd import build_config
from bench.errors import EXIT_USAGE
from bench.results.schema import make_row
from bench.results.store import ResultStore

# The run every resume case continues: lenet5, baseline and int8, batch size 1, on the CPU.
RUN = ["--models", "lenet5", "--prune", "none", "--quantize", "int8", "--batch-sizes", "1", "--device", "cpu"]
CPU_OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 40000000000 bytes. Error code 12"
RESULTS: list[tuple[str, str, int, str]] = []  # (command, case, exit code, stderr), for the table


@dataclass
class Env:
    """What a case may set up under its own ``tmp`` folder before the command runs."""

    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    make_immutable: Callable[[Path], Path]
    make_readonly: Callable[[Path], Path]
    hold_lock: Callable[[Path], object]
    flip_exponent_bits: Callable[[Path], int]
    holder_pid: int | None = None
    _made: dict[str, Path] = field(default_factory=dict)

    def file(self) -> Path:
        """A regular file where a directory is expected."""
        path = self.tmp / "a-file"
        path.write_text("not a directory\n")
        return path

    def run_dir(self, name: str = "run") -> Path:
        """A finished run of ``RUN`` (one stored cell, exported), written without training."""
        if name in self._made:
            return self._made[name]
        out = self.tmp / name
        config = build_config(build_parser().parse_args(["run", *RUN, "--out", str(out)]))
        where = {"model": "lenet5", "dataset": "digits", "input_size": "1x32x32", "device": "cpu", "batch_size": 1}
        with ResultStore(out) as store:
            store.set_run_info({"argv": ["bench", "run", *RUN], "config": config.to_dict()})
            store.commit_cell("lenet5|baseline", [make_row(**where, variant="baseline", precision="fp32", top1=98.9)])
            store.export()
        self._made[name] = out
        return out

    def readonly(self) -> Path:
        """A read-only mount holding a finished run (``run``) and nothing else."""
        source = self.tmp / "mnt"
        source.mkdir()
        self.tmp, real = source, self.tmp
        self.run_dir()
        self.tmp, self._made = real, {}
        return self.make_readonly(source)

    def immutable(self, name: str = "locked") -> Path:
        path = self.tmp / name
        if not path.exists():
            path.mkdir()
        return self.make_immutable(path)

    def held(self) -> Path:
        """A finished run whose lock another live process holds (as a `bench run` would)."""
        run_dir = self.run_dir()
        self.holder_pid = self.hold_lock(run_dir).pid
        return run_dir

    def evil_pickle(self, *, archive: bool = False) -> Path:
        """A weights file that would run ``touch pwned`` here if it were unpickled (it never is:
        the snapshot would show the file). ``archive``: inside torch's zip format, else a raw pickle."""
        path = self.tmp / "evil.pt"
        evil = _Evil(self.tmp / "pwned")
        if archive:
            torch.save({"conv.weight": torch.zeros(1), "trap": evil}, path)
        else:
            path.write_bytes(pickle.dumps(evil, protocol=4))
        return path

    def garbage(self) -> Path:
        path = self.tmp / "garbage.pt"
        path.write_bytes(bytes(range(1, 128)) * 4)
        return path

    def folder(self, *, classes: tuple[str, ...] = ("a", "b"), val: tuple[str, ...] | None = None) -> Path:
        """An image folder of 8x8 grey PNGs: ``classes`` in train/, ``val`` (default: the same) in val/."""
        from PIL import Image

        root = self.tmp / "images"
        for split, names in (("train", classes), ("val", classes if val is None else val)):
            for name in names:
                (root / split / name).mkdir(parents=True)
                for i in range(2):
                    Image.new("L", (8, 8), color=40 * i).save(root / split / name / f"{i}.png")
        return root

    def damaged_cache(self) -> Path:
        """The cache `bench train lenet5 --epochs 1 --device cpu` fills, its checkpoint's floats flipped."""
        from bench.training import DataRequest, TrainingRequest, obtain_model

        cache = self.tmp / "cache"
        training = TrainingRequest(epochs=1, device="cpu", cache_dir=cache)
        trained = obtain_model("lenet5", data=DataRequest("digits"), training=training)
        self.flip_exponent_bits(trained.checkpoint_path)
        return cache

    def deny_writes(self) -> None:
        """What a non-root user sees in a folder without write permission (root bypasses the bits)."""

        def refuse(**kwargs: object) -> None:
            raise PermissionError(errno.EACCES, "Permission denied")

        self.monkeypatch.setattr(writable.tempfile, "mkstemp", refuse)


class _Evil:
    """Pickles as a call of os.system (pickling it runs nothing)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@dataclass(frozen=True)
class Case:
    command: str
    case: str
    argv: Callable[[Env], list[str]]
    expect: str | Callable[[Env], str]
    needs_no_gpu: bool = False


def _oom_listing(env: Env) -> list[str]:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError(CPU_OOM)

    env.monkeypatch.setattr("bench.profiling.catalog.model_row", fail)
    return ["list", "--models", "lenet5"]


def _denied_cache(env: Env) -> list[str]:
    env.deny_writes()
    return ["train", "lenet5", "--cache-dir", str(env.tmp)]


def _crowded_out(env: Env) -> list[str]:
    env.file()
    return ["run", *RUN, "--out", str(env.tmp)]


def _held_by(env: Env) -> str:
    return f"is being written by bench run (pid {env.holder_pid})"


def _new(env: Env) -> str:
    return str(env.tmp / "new")


def _damaged(env: Env) -> list[str]:
    cache = env.damaged_cache()
    return ["train", "lenet5", "--epochs", "1", "--device", "cpu", "--cache-dir", str(cache), "--damaged-cache", "stop"]


FOLDER = ["--dataset", "imagefolder", "--data-dir"]
EVIL = "a raw pickle (protocol 4) that calls unsupported global posix.system, refused as loading it would run code"


T = ["--threads"]
CASES = [
    # bench profile
    Case("profile", "unknown model", lambda e: ["profile", "lenet6"], "unknown model 'lenet6' (did you mean lenet5"),
    Case("profile", "--input-size 100000: needs more memory than is free", lambda e: ["profile", "lenet5", "--input-size", "100000", "--device", "cpu"], "lenet5 at 1x100000x100000, batch 1, needs ~"),
    Case("profile", "--batch-sizes 10000000: needs more memory than is free", lambda e: ["profile", "lenet5", "--batch-sizes", "10000000", "--device", "cpu"], "batch 10000000, needs ~388.6 GiB, this machine has"),
    Case("profile", "--batch-sizes with a non-number", lambda e: ["profile", "lenet5", "--batch-sizes", "1,x"], "bad batch size 'x'"),
    Case("profile", "--runtime unknown", lambda e: ["profile", "lenet5", "--runtime", "eager,tensorrt"], "unknown runtime 'tensorrt'"),
    Case("profile", "--runtime empty", lambda e: ["profile", "lenet5", "--runtime", ","], "--runtime is empty"),
    Case("profile", "--runtime openvino on CUDA", lambda e: ["profile", "lenet5", "--runtime", "openvino", "--device", "cuda"], "cuda"),
    Case("profile", "--batch-sizes 0", lambda e: ["profile", "lenet5", "--batch-sizes", "0"], "batch size must be positive, got 0"),
    Case("profile", "--threads 0", lambda e: ["profile", "lenet5", *T, "0"], "--threads must be positive, got 0"),
    Case("profile", "--threads that is not a number", lambda e: ["profile", "lenet5", *T, "two"], "'two' is not an integer"),
    Case("profile", "--prune ratio out of (0, 1)", lambda e: ["profile", "lenet5", "--prune", "1.5"], "between 0 and 1"),
    Case("profile", "--prune that is not a number", lambda e: ["profile", "lenet5", "--prune", "half"], "not a number"),
    Case("profile", "--prune-target without a kind", lambda e: ["profile", "lenet5", "--prune-target", "2"], "is not a latency goal"),
    Case("profile", "--prune-target speedup not above 1", lambda e: ["profile", "lenet5", "--prune-target", "speedup:0.5"], "above 1"),
    Case("profile", "--prune-target latency outside (0, 1)", lambda e: ["profile", "lenet5", "--prune-target", "latency:2"], "strictly between 0 and 1"),
    Case("profile", "--prune-budget zero", lambda e: ["profile", "lenet5", "--prune-target", "speedup:2", "--prune-budget", "0"], "--prune-budget must be a number of seconds above 0"),
    Case("run", "--prune-budget nan", lambda e: ["run", *RUN, "--prune-target", "speedup:2", "--prune-budget", "nan", "--out", _new(e)], "--prune-budget must be"),
    Case("profile", "--prune-target with a batch criterion", lambda e: ["profile", "lenet5", "--prune-target", "speedup:2", "--importance", "taylor"], "needs batches"),
    Case("profile", "--quantize int4", lambda e: ["profile", "lenet5", "--quantize", "int4"], "not a supported quantization"),
    Case("profile", "--engine tpu", lambda e: ["profile", "lenet5", "--quantize", "int8", "--engine", "tpu"], "quantized engine 'tpu' is not supported"),
    Case("profile", "--importance magic (checked without --prune too)", lambda e: ["profile", "lenet5", "--importance", "magic"], "unknown pruning criterion"),
    Case("profile", "--device tpu", lambda e: ["profile", "lenet5", "--device", "tpu"], "unknown device 'tpu'"),
    Case("profile", "unknown data set", lambda e: ["profile", "lenet5", "--dataset", "cifar11"], "unknown data set 'cifar11'"),
    Case("profile", "--precision fp64", lambda e: ["profile", "lenet5", "--precision", "fp64"], "unknown precision 'fp64'"),
    Case("profile", "--num-classes 0", lambda e: ["profile", "lenet5", "--num-classes", "0"], "--num-classes must be positive, got 0"),
    Case("profile", "--format xml", lambda e: ["profile", "lenet5", "--format", "xml"], "invalid choice: 'xml'"),
    Case("profile", "--max-drop -1", lambda e: ["profile", "lenet5", "--quantize", "int8", "--max-drop", "-1"], "--max-drop must be a number of top-1 points >= 0, got -1.0"),
    Case("profile", "--max-drop nan", lambda e: ["profile", "lenet5", "--quantize", "int8", "--max-drop", "nan"], "--max-drop must be a number of top-1 points >= 0, got nan"),
    # bench train
    Case("train", "unknown model", lambda e: ["train", "lenet6"], "unknown model 'lenet6'"),
    Case("train", "--dataset mnist without --data-dir", lambda e: ["train", "lenet5", "--dataset", "mnist"], "no data directory was given"),
    Case("train", "--data-dir that does not exist", lambda e: ["train", "lenet5", "--dataset", "imagefolder", "--data-dir", "/nonexistent/x"], "does not exist"),
    Case("train", "--cache-dir is a file", lambda e: ["train", "lenet5", "--cache-dir", str(e.file())], "is a file, not a directory"),
    Case("train", "--cache-dir below a file", lambda e: ["train", "lenet5", "--cache-dir", str(e.file() / "cache")], "cannot be created: "),
    Case("train", "--cache-dir on a read-only file system", lambda e: ["train", "lenet5", "--cache-dir", str(e.readonly())], "is on a read-only file system"),
    Case("train", "--cache-dir immutable (chattr +i)", lambda e: ["train", "lenet5", "--cache-dir", str(e.immutable())], "is immutable (chattr +i)"),
    Case("train", "--cache-dir without write permission", _denied_cache, "is not writable (permission denied)"),
    Case("train", "--input-size 100000: needs more memory than is free", lambda e: ["train", "lenet5", "--input-size", "100000", "--device", "cpu"], "training lenet5 at 1x100000x100000, batch 32, needs ~"),
    Case("train", "--epochs 0", lambda e: ["train", "lenet5", "--epochs", "0"], "--epochs must be positive, got 0"),
    Case("train", "unknown --preset", lambda e: ["train", "lenet5", "--preset", "fast"], "unknown preset 'fast'"),
    Case("train", "--weights file that does not exist", lambda e: ["train", "lenet5", "--weights", "/nonexistent/w.pt"], "does not exist"),
    Case("train", "--dropout out of range", lambda e: ["train", "vgg11", "--dropout", "1.5"], "--dropout 1.5 is out of range"),
    Case("train", "--weights: a pickle that would call os.system", lambda e: ["train", "lenet5", "--weights", str(e.evil_pickle())], EVIL),
    Case("train", "--weights: os.system inside a torch archive", lambda e: ["train", "lenet5", "--weights", str(e.evil_pickle(archive=True))], "a torch archive that calls unsupported global posix.system"),
    Case("train", "--weights: a garbage file", lambda e: ["train", "lenet5", "--weights", str(e.garbage())], "garbage.pt: not a zip or pickle file"),
    Case("train", "a damaged cached checkpoint with --damaged-cache stop", _damaged, "is damaged: its tensors do not match the digest written when it was saved; rerun with --retrain"),
    Case("train", "--damaged-cache maybe", lambda e: ["train", "lenet5", "--damaged-cache", "maybe"], "invalid choice: 'maybe'"),
    Case("train", "image folder with one class", lambda e: ["train", "lenet5", *FOLDER, str(e.folder(classes=("a",)))], "holds one class folder (a): a classifier needs at least two classes"),
    Case("train", "image folder whose val/ lacks a class", lambda e: ["train", "lenet5", *FOLDER, str(e.folder(val=("a",)))], "val lacks class folders that train/ has: b"),
    Case("train", "--augment heavy", lambda e: ["train", "lenet5", "--augment", "heavy"], "invalid choice: 'heavy'"),
    Case("train", "--augment imagenet on 32x32 digits", lambda e: ["train", "lenet5", "--augment", "imagenet"], "--augment imagenet crops full-resolution photos"),
    # bench run
    Case("run", "--out is a file", lambda e: ["run", *RUN, "--out", str(e.file())], "is a file, not a directory"),
    Case("run", "--out on a read-only file system", lambda e: ["run", *RUN, "--out", str(e.readonly() / "new")], "is on a read-only file system"),
    Case("run", "--out inside an immutable directory", lambda e: ["run", *RUN, "--out", str(e.immutable() / "new")], "is immutable (chattr +i)"),
    Case("run", "--cache-dir is a file", lambda e: ["run", *RUN, "--out", _new(e), "--cache-dir", str(e.file())], "is a file, not a directory"),
    Case("run", "--batch-sizes 10000000: needs more memory than is free", lambda e: ["run", *RUN, "--batch-sizes", "10000000", "--out", _new(e)], "batch 10000000, needs ~"),
    Case("run", "--input-size 100000: needs more memory than is free", lambda e: ["run", *RUN, "--input-size", "100000", "--out", _new(e)], "at 1x100000x100000, batch 32, needs ~"),
    Case("run", "--threads 0", lambda e: ["run", *RUN, *T, "0", "--out", _new(e)], "--threads must be positive, got 0"),
    Case("run", "--calib-images 0", lambda e: ["run", *RUN, "--calib-images", "0", "--out", _new(e)], "--calib-images must be positive"),
    Case("run", "unknown model", lambda e: ["run", "--models", "lenet", "--out", _new(e)], "did you mean"),
    Case("run", "--runtime unknown", lambda e: ["run", *RUN, "--runtime", "openvino,tvm", "--out", _new(e)], "unknown runtime 'tvm'"),
    Case("run", "--prune ratio out of (0, 1)", lambda e: ["run", *RUN, "--prune", "1.5", "--out", _new(e)], "between 0 and 1"),
    Case("run", "--prune-target not a number", lambda e: ["run", *RUN, "--prune-target", "speedup:fast", "--out", _new(e)], "'fast' is not a number"),
    Case("run", "--prune-target unknown kind", lambda e: ["run", *RUN, "--prune-target", "macs:0.5", "--out", _new(e)], "is not a latency goal"),
    Case("run", "--quantize int4", lambda e: ["run", *RUN, "--quantize", "int4", "--out", _new(e)], "--quantize"),
    Case("run", "--engine nope", lambda e: ["run", *RUN, "--engine", "nope", "--out", _new(e)], "quantized engine 'nope'"),
    Case("run", "--max-drop -0.5", lambda e: ["run", *RUN, "--max-drop", "-0.5", "--out", _new(e)], "--max-drop must be a number of top-1 points >= 0, got -0.5"),
    Case("run", "--max-drop nan", lambda e: ["run", *RUN, "--max-drop", "nan", "--out", _new(e)], "--max-drop must be a number of top-1 points >= 0, got nan"),
    Case("run", "--resume without --out", lambda e: ["run", *RUN, "--resume"], "--resume needs --out"),
    Case("run", "--resume of a directory without a run", lambda e: ["run", *RUN, "--resume", "--out", str(e.tmp)], "has no results.db"),
    Case("run", "--out already holds a run (no --resume)", lambda e: ["run", *RUN, "--out", str(e.run_dir())], "already holds a run"),
    Case("run", "--out holds other files", _crowded_out, "exists and is not empty"),
    Case("run", "--resume with other --batch-sizes", lambda e: ["run", *RUN, "--batch-sizes", "1,32", "--resume", "--out", str(e.run_dir())], "batch_sizes [1] -> [1, 32]"),
    Case("run", "--resume with another --engine", lambda e: ["run", *RUN, "--engine", "qnnpack", "--resume", "--out", str(e.run_dir())], "engine 'x86' -> 'qnnpack'"),
    Case("run", "--resume with another --importance", lambda e: ["run", *RUN, "--importance", "l2", "--resume", "--out", str(e.run_dir())], "importance 'l1' -> 'l2'"),
    Case("run", "--resume with other --calib-images", lambda e: ["run", *RUN, "--calib-images", "64", "--resume", "--out", str(e.run_dir())], "calib_images 512 -> 64"),
    Case("run", "--resume with another --max-drop (it shapes the int8 cells)", lambda e: ["run", *RUN, "--max-drop", "1", "--resume", "--out", str(e.run_dir())], "max_drop none -> 1.0"),
    Case("run", "--resume with other timing", lambda e: ["run", *RUN, "--min-iters", "7", "--resume", "--out", str(e.run_dir())], "timing.min_iters"),
    Case("run", "--resume naming each of several differences", lambda e: ["run", *RUN, "--seed", "1", "--epochs", "2", "--resume", "--out", str(e.run_dir())], "epochs none -> 2; seed 0 -> 1"),
    Case("run", "--out locked by a live run", lambda e: ["run", *RUN, "--out", str(e.held())], _held_by),
    Case("run", "--resume while a live run holds the directory", lambda e: ["run", *RUN, "--resume", "--out", str(e.held())], _held_by),
    Case("run", "--baseline that does not exist", lambda e: ["run", *RUN, "--baseline", str(e.tmp / "none.json"), "--out", _new(e)], "no results found"),
    Case("run", "--weights: a pickle that would call os.system", lambda e: ["run", *RUN, "--weights", str(e.evil_pickle()), "--out", _new(e)], EVIL),
    Case("run", "--weights: a garbage file", lambda e: ["run", *RUN, "--weights", str(e.garbage()), "--out", _new(e)], "garbage.pt: not a zip or pickle file"),
    Case("run", "image folder with one class", lambda e: ["run", *RUN, *FOLDER, str(e.folder(classes=("a",))), "--out", _new(e)], "a classifier needs at least two classes"),
    Case("run", "image folder whose val/ lacks a class", lambda e: ["run", *RUN, *FOLDER, str(e.folder(val=("b",))), "--out", _new(e)], "val lacks class folders that train/ has: a"),
    Case("run", "--resume with another --augment", lambda e: ["run", *RUN, "--augment", "none", "--resume", "--out", str(e.run_dir())], "augment none -> 'none'"),
    Case("run", "--resume with --hflip", lambda e: ["run", *RUN, "--hflip", "--resume", "--out", str(e.run_dir())], "hflip none -> True"),
    Case("run", "--device cuda without a GPU", lambda e: ["run", *RUN, "--device", "cuda", "--out", _new(e)], "no CUDA GPU", needs_no_gpu=True),
    # bench report
    Case("report", "RUN_DIR does not exist", lambda e: ["report", str(e.tmp / "missing")], "does not exist"),
    Case("report", "RUN_DIR without results.db", lambda e: ["report", str(e.tmp)], "has no results.db"),
    Case("report", "RUN_DIR on a read-only file system", lambda e: ["report", str(e.readonly() / "run")], "is on a read-only file system"),
    Case("report", "RUN_DIR immutable (chattr +i)", lambda e: ["report", str(e.make_immutable(e.run_dir()))], "is immutable (chattr +i)"),
    Case("report", "RUN_DIR being written by a live run", lambda e: ["report", str(e.held())], _held_by),
    # bench tune
    Case("tune", "--out is an existing directory", lambda e: ["tune", "lenet5", "--grid", "lr=0.1", "--out", str(e.tmp)], "is a directory, not a file"),
    Case("tune", "--out below a file", lambda e: ["tune", "lenet5", "--grid", "lr=0.1", "--out", str(e.file() / "x.json")], "cannot be created: "),
    Case("tune", "--threads 0", lambda e: ["tune", "lenet5", "--grid", "lr=0.1", *T, "0"], "--threads must be positive, got 0"),
    Case("tune", "unknown --grid key", lambda e: ["tune", "lenet5", "--grid", "lr_rate=0.1"], "unknown grid key 'lr_rate'"),
    Case("tune", "--grid batch_size=10000000: needs more memory than is free", lambda e: ["tune", "lenet5", "--grid", "batch_size=10000000", "--device", "cpu", "--out", str(e.tmp / "b.json")], "training lenet5 at 1x32x32, batch 10000000, needs ~"),
    # bench viz
    Case("viz", "--out is a file", lambda e: ["viz", "lenet5", "--out", str(e.file())], "is a file, not a directory"),
    Case("viz", "--cache-dir is a file", lambda e: ["viz", "lenet5", "--out", _new(e), "--cache-dir", str(e.file())], "is a file, not a directory"),
    Case("viz", "--images 0", lambda e: ["viz", "lenet5", "--images", "0"], "--images must be positive, got 0"),
    Case("viz", "unknown --variant", lambda e: ["viz", "lenet5", "--variant", "pruned", "--out", _new(e)], "unknown variant 'pruned'"),
    # bench list, summary, compare, and what is left of an allocation failure
    Case("list", "unknown data set", lambda e: ["list", "--dataset", "cifar11"], "unknown data set 'cifar11'"),
    Case("list", "--format xml", lambda e: ["list", "--format", "xml"], "invalid choice: 'xml'"),
    Case("summary", "unknown model", lambda e: ["summary", "lenet6"], "unknown model 'lenet6'"),
    Case("compare", "BASE that does not exist", lambda e: ["compare", str(e.tmp / "a.json"), str(e.tmp / "b.json")], "no results found"),
    Case("list", "an allocation failure the estimate let through", _oom_listing, "out of memory: an allocation of ~37.3 GiB failed"),
]  # fmt: skip


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with its content's hash."""
    seen = {}
    for path in sorted(root.rglob("*")):
        seen[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return seen


@pytest.fixture(scope="module", autouse=True)
def _table() -> Iterator[None]:
    yield
    target = os.environ.get("BENCH_BAD_INPUTS_TABLE")
    if target and RESULTS:
        lines = ["| # | command | case | exit | stderr |", "| --- | --- | --- | --- | --- |"]
        for index, (command, case, code, err) in enumerate(RESULTS, 1):
            lines.append(f"| {index} | {command} | {case} | {code} | {err.replace('|', '/')} |")
        Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_table_covers_every_command_with_at_least_40_cases() -> None:
    assert len(CASES) >= 40
    assert {c.command for c in CASES} >= {"profile", "train", "run", "report", "tune", "viz", "list", "summary"}


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}: {c.case}" for c in CASES])
def test_bad_input_is_exit_2_one_line_and_changes_nothing(
    case: Case,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_immutable,
    make_readonly,
    hold_lock,
    flip_exponent_bits,
) -> None:
    if case.needs_no_gpu and torch.cuda.is_available():
        pytest.skip("checks the no-GPU error")
    monkeypatch.chdir(tmp_path)  # a default output folder would land here, and be seen
    env = Env(tmp_path, monkeypatch, make_immutable, make_readonly, hold_lock, flip_exponent_bits)
    argv = case.argv(env)
    before = _snapshot(tmp_path)
    code = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    RESULTS.append((case.command, case.case, code, err))
    expect = case.expect(env) if callable(case.expect) else case.expect
    assert code == EXIT_USAGE, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"bench {case.command}: error: ") and expect in err, err
    assert "Traceback" not in captured.err and captured.out == ""
    assert _snapshot(tmp_path) == before
