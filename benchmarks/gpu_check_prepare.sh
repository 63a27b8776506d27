#!/usr/bin/env bash
# Prepare what benchmarks/gpu_check.py needs on a bare GPU machine (no registry there):
# wheels for Python 3.12 of what its image lacks (fvcore, iopath, yacs, termcolor,
# torch-pruning), this project as a wheel, and timm's own benchmark.py as a peer (read from
# a checkout of timm's repository, never committed here). Everything lands in .whl/, which
# .gitignore ignores and the device call carries:
#   bash benchmarks/gpu_check_prepare.sh PATH/TO/timm/benchmark.py
# then on the device (carry [".whl"]):
#   python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
#     && PYTHONPATH=/tmp/site python3 benchmarks/gpu_check.py "$OUT"
set -euo pipefail
cd "$(dirname "$0")/.."
timm_benchmark="${1:?usage: gpu_check_prepare.sh PATH/TO/timm/benchmark.py}"
rm -rf .whl && mkdir -p .whl
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
for spec in fvcore==0.1.5.post20221221 iopath==0.1.10 yacs==0.1.8 termcolor torch-pruning; do
    python -m pip download -q --no-deps --python-version 3.12 --implementation cp "${platforms[@]}" \
        --only-binary=:all: -d .whl "$spec" 2>/dev/null \
        || python -m pip download -q --no-deps --no-binary=:none: -d .whl "$spec"
done
# sdists (fvcore, iopath ship no wheels) become wheels here: pure Python, any platform
for sdist in .whl/*.tar.gz; do
    [ -e "$sdist" ] || continue
    python -m pip wheel -q --no-deps -w .whl "$sdist" && rm "$sdist"
done
python -m pip wheel -q --no-deps -w .whl .
cp "$timm_benchmark" .whl/timm_benchmark.py
du -sh .whl && ls .whl
