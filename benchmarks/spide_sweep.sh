#!/bin/bash
# SPIDE with the feedback restriction (train.spide_feedback_norm = "spectral",
# spide_feedback_max = 0.9) on the 8x8 digits, seeds 0-2, each run exported and evaluated in
# the exact, grid and torch engines. Run from the repository root with data/digits8x8 made
# (python -m training.data.sklearn_digits --out data/digits8x8). Usage:
#     benchmarks/spide_sweep.sh [seeds...]
set -e
mkdir -p runs/spide/models runs/spide/eval
AX="env OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD ${PYTHON:-python} -m bridge.cli"
for seed in ${@:-0 1 2}; do
  n=d8_spide10sn09_s$seed
  $AX train training/configs/spide_digits8x8.toml --out runs/spide/$n --set train.seed=$seed \
    --set train.spide_feedback_norm=spectral --set train.spide_feedback_max=0.9 > runs/spide/$n.log 2>&1
  $AX export runs/spide/$n/best.pt --out runs/spide/models/$n.h5 --quiet
  $AX evaluate runs/spide/models/$n.h5 data/digits8x8/digits_test.h5 --engines exact,grid,torch \
    --out runs/spide/eval/$n --quiet > runs/spide/eval_$n.log 2>&1
done
