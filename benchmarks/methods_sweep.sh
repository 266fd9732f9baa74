#!/bin/bash
mkdir -p runs/methods/models runs/methods/eval
# The issue-14 comparison (run from the repository root; writes runs/methods) on the quick synthetic digits (data/synth_quick, --size quick).
set -x
# first look, one seed: quick_plain.toml (then quick.toml) as shipped (6 epochs) and 3 ANN + 6 SNN epochs
benchmarks/methods_run.sh bptt 0
benchmarks/methods_run.sh ann 0 --set train.method=ann_pretrain --set train.ann_epochs=3
for seed in 0 1 2; do
  benchmarks/methods_run.sh bptt12 $seed --set train.epochs=12
  benchmarks/methods_run.sh ann3p9 $seed --set train.method=ann_pretrain --set train.ann_epochs=3 --set train.epochs=9
  benchmarks/methods_run.sh leaky12 $seed --set train.epochs=12 --set model.surrogate=leaky_approx
done
for r in runs/methods/*_s?/; do
  n=$(basename $r)
  [ -f $r/best.pt ] || continue
  OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD /work/main/.venv/bin/python -m bridge.cli export $r/best.pt --out runs/methods/models/$n.h5 --quiet
  OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD /work/main/.venv/bin/python -m bridge.cli evaluate runs/methods/models/$n.h5 data/synth_quick/synth_test.h5 --engines exact,grid,torch --out runs/methods/eval/$n --quiet > runs/methods/eval_$n.log 2>&1
done
echo done
