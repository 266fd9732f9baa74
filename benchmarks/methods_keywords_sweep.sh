#!/bin/bash
# The issue-14 comparison on the synthetic keywords (training/configs/keywords.toml; the 35 GSC
# words, test = held-out voice families), with a reduced budget: 5 SNN epochs for BPTT and the
# leak-aware derivative, 2 ANN + 5 SNN epochs for ANN pretraining; everything else as the config.
# Each run is exported and evaluated in the exact, grid and torch engines on the config's test file.
# Needs data/keywords_robust (the command is in training/configs/keywords.toml).
# Run from the repository root; writes runs/methods.
# Usage: [EPOCHS=5] benchmarks/methods_keywords_sweep.sh [seeds...]   (EPOCHS: SNN epochs; the config's own is 15)
set -e
mkdir -p runs/methods/models runs/methods/eval
E=${EPOCHS:-5}
AX="env OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD ${PYTHON:-python} -m bridge.cli"
run() { n=$1; seed=$2; shift 2
  $AX train training/configs/keywords.toml --out runs/methods/${n}_s$seed --set train.seed=$seed \
    --set train.num_threads=1 "$@" > runs/methods/${n}_s$seed.log 2>&1
  $AX export runs/methods/${n}_s$seed/best.pt --out runs/methods/models/${n}_s$seed.h5 --quiet
  $AX evaluate runs/methods/models/${n}_s$seed.h5 data/keywords_robust/synth_test_family.h5 \
    --engines exact,grid,torch --out runs/methods/eval/${n}_s$seed --quiet > runs/methods/eval_${n}_s$seed.log 2>&1
}
for seed in ${@:-0 1 2}; do
  run kw_bptt$E $seed --set train.epochs=$E
  run kw_ann2p$E $seed --set train.method=ann_pretrain --set train.ann_epochs=2 --set train.epochs=$E
  run kw_leaky$E $seed --set train.epochs=$E --set model.surrogate=leaky_approx
done
