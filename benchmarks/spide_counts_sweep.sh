#!/bin/bash
# SPIDE on the synthetic digits' time-averaged channel counts (training/configs/
# spide_synth_counts.toml), seeds 0-2, and BPTT on the same input (model.recurrent = false)
# for comparison; each run exported and evaluated in the exact, grid and torch engines.
# Needs data/synth_counts (python -m training.data.channel_counts --src data/synth_quick
# --out data/synth_counts). Usage: [EPOCHS=60] benchmarks/spide_counts_sweep.sh [seeds...]
# Another counts folder: DATA=data/keywords_counts TEST=data/keywords_counts/synth_test_family.h5
# TAG=kwcnt (run names <TAG>_spide<E>_s<seed>; default DATA=data/synth_counts, TEST=$DATA/synth_test.h5, TAG=cnt).
set -e
mkdir -p runs/spide/models runs/spide/eval
E=${EPOCHS:-60}
DATA=${DATA:-data/synth_counts}
TEST=${TEST:-$DATA/synth_test.h5}
TAG=${TAG:-cnt}
AX="env OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD ${PYTHON:-python} -m bridge.cli"
run() { n=$1; seed=$2; shift 2
  $AX train training/configs/spide_synth_counts.toml --out runs/spide/$n --set train.seed=$seed --set train.epochs=$E \
    --set data.train=$DATA/synth_train.h5 --set data.valid=$DATA/synth_valid.h5 --set data.test=$TEST "$@" \
    > runs/spide/$n.log 2>&1
  $AX export runs/spide/$n/best.pt --out runs/spide/models/$n.h5 --quiet
  $AX evaluate runs/spide/models/$n.h5 $TEST --engines exact,grid,torch \
    --out runs/spide/eval/$n --quiet > runs/spide/eval_$n.log 2>&1
}
for seed in ${@:-0 1 2}; do
  run ${TAG}_spide${E}_s$seed $seed
  run ${TAG}_bptt${E}_s$seed $seed --set train.method=bptt --set model.recurrent=false \
    --set train.spide_feedback_norm=none --set train.spide_feedback_max=0
done
