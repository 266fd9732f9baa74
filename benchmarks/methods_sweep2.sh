#!/bin/bash
mkdir -p runs/methods/models runs/methods/eval
# The issue-14 comparison on scikit-learn's 8x8 digits (data/digits8x8).
set -x
tr() { name=$1; seed=$2; shift 2
  OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD /work/main/.venv/bin/python -m bridge.cli train training/configs/spide_digits8x8.toml \
    --out runs/methods/${name}_s${seed} --set train.seed=$seed "$@" > runs/methods/${name}_s${seed}.log 2>&1; }
for seed in 0 1 2; do
  tr d8_spide10 $seed
  tr d8_bptt10 $seed --set train.method=bptt --set model.recurrent=false
  tr d8_ann3p7 $seed --set train.method=ann_pretrain --set model.recurrent=false --set train.ann_epochs=3 --set train.epochs=7
  tr d8_leaky10 $seed --set train.method=bptt --set model.recurrent=false --set model.surrogate=leaky_approx
done
for r in runs/methods/d8_*_s?/; do
  n=$(basename $r)
  OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD /work/main/.venv/bin/python -m bridge.cli export $r/best.pt --out runs/methods/models/$n.h5 --quiet
  OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD /work/main/.venv/bin/python -m bridge.cli evaluate runs/methods/models/$n.h5 data/digits8x8/digits_test.h5 --engines exact,grid,torch --out runs/methods/eval/$n --quiet > runs/methods/eval_$n.log 2>&1 \
    || OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD /work/main/.venv/bin/python -m bridge.cli evaluate runs/methods/models/$n.h5 data/digits8x8/digits_test.h5 --engines grid,torch --out runs/methods/eval/$n --quiet > runs/methods/eval_${n}_grid.log 2>&1
done
echo done2
