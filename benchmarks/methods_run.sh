#!/bin/bash
# usage: run.sh NAME SEED [--set ...]
name=$1; seed=$2; shift 2
D=data/synth_quick
OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD /work/main/.venv/bin/python -m bridge.cli train training/configs/quick_plain.toml \
  --out runs/methods/${name}_s${seed} --set data.train=$D/synth_train.h5 --set data.valid=$D/synth_valid.h5 --set data.test=$D/synth_test.h5 \
  --set train.num_threads=1 --set train.seed=$seed "$@" > runs/methods/${name}_s${seed}.log 2>&1
