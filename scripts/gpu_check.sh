#!/usr/bin/env bash
# GPU check: one GPU in fp32, one GPU in 16-mixed and, when more than one GPU is visible, DDP
# over all of them (checked: rank 0 must report one process per visible GPU), each on generated MNIST-shaped data (data=synthetic). Prints throughput
# (samples/s over epochs 2..3) and the test figures; then fp32 again with the NaN guard off and
# with data.steps_per_batch=1 (what the guard and the step grouping cost), and bp-bench's GPU
# table (epoch and optimizer rows, --quick). Each run is cut off after RUN_TIMEOUT seconds and
# the bench after BENCH_TIMEOUT, so the whole check stays under 8 minutes.
#
#   PYTHONPATH=/path/with/hydra-core/and/omegaconf bash scripts/gpu_check.sh
#
# Runs bp_app from this checkout (python3 -m bp_app.train, no pip install): the machine needs
# torch and pytorch-lightning, plus hydra-core and omegaconf (wheels on PYTHONPATH will do).
# GPU_CHECK_DRY_RUN=1 runs the same steps on the CPU with tiny data, to check the script itself.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
PY="${PYTHON:-python3}"
OUT_DIR="${GPU_CHECK_DIR:-$REPO/outputs/gpu_check}"
RUN_TIMEOUT="${RUN_TIMEOUT:-90}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-180}"

if ! "$PY" -c "import hydra, omegaconf, pytorch_lightning, torch" 2>/dev/null; then
    echo "gpu_check: error: $PY cannot import torch, pytorch_lightning, hydra and omegaconf;" \
        "put hydra-core and omegaconf (with antlr4-python3-runtime 4.9.3) on PYTHONPATH" >&2
    exit 2
fi

if [[ "${GPU_CHECK_DRY_RUN:-0}" == 1 ]]; then
    GPUS=2  # pretend: exercises the DDP branch with 2 CPU processes
    SINGLE=(trainer=cpu) MULTI=(trainer=ddp_cpu)
    BENCH=(--smoke --device cpu)
    SIZE=(data.num_train=2048 data.num_val=256 data.num_test=256 model.hidden_sizes=[64])
else
    GPUS="$("$PY" -c "import torch; print(torch.cuda.device_count())")"
    if [[ "$GPUS" -lt 1 ]]; then
        echo "gpu_check: error: torch sees no GPU (torch.cuda.device_count() = 0)" >&2
        exit 2
    fi
    SINGLE=(trainer=gpu) MULTI=(trainer=ddp)
    BENCH=(--quick --device cuda)
    SIZE=(data.num_train=60000 data.num_val=5000 data.num_test=10000 model.hidden_sizes=[1024,1024])
    nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader || true
fi
"$PY" -c "import torch, pytorch_lightning as pl, hydra; print(f'torch {torch.__version__}, \
lightning {pl.__version__}, hydra {hydra.__version__}, cuda {torch.version.cuda}, GPUs visible: \
{torch.cuda.device_count()}')"

COMMON=(data=synthetic model=mlp optimizer=adam "${SIZE[@]}" data.batch_size=512
    trainer.max_epochs=3 trainer.enable_progress_bar=false trainer.enable_model_summary=false
    "+callbacks.throughput._target_=bp_app.callbacks.throughput.Throughput")

declare -a SUMMARY=()
run() {  # run NAME OVERRIDES...: one bp-train run, its log in OUT_DIR/NAME.log
    local name="$1"
    shift
    local log="$OUT_DIR/$name.log"
    echo "=== $name: bp-train ${*}"
    local start=$SECONDS
    timeout "$RUN_TIMEOUT" "$PY" -m bp_app.train "${COMMON[@]}" "$@" \
        "hydra.run.dir=$OUT_DIR/$name" >"$log" 2>&1
    local rc=$?
    local throughput finished
    throughput="$(grep -m1 '^throughput:' "$log" || echo 'throughput: (none)')"
    finished="$(grep -m1 '^bp-train finished:' "$log" | sed 's/ (run directory.*//' || true)"
    echo "$throughput"
    echo "${finished:-no test figures} [exit $rc, $((SECONDS - start)) s]"
    [[ $rc -eq 0 ]] || tail -n 25 "$log"
    SUMMARY+=("$(printf '%-10s exit %-3s %s | %s' "$name" "$rc" "${throughput#throughput: }" \
        "${finished#bp-train finished: }")")
}

mkdir -p "$OUT_DIR"
run single_fp32 "${SINGLE[@]}" trainer.precision=32-true
run single_16mixed "${SINGLE[@]}" trainer.precision=16-mixed
if [[ "$GPUS" -gt 1 ]]; then
    run ddp_fp32 "${MULTI[@]}" trainer.precision=32-true
    # trainer=ddp takes every visible GPU (devices: -1): rank 0 reports the world it joined.
    ranks="$(grep -o -m1 'Starting with [0-9]* processes' "$OUT_DIR/ddp_fp32.log" | tr -dc 0-9)"
    [[ "$ranks" == "$GPUS" ]] && ranks_rc=0 || ranks_rc=1
    echo "ddp ranks: ${ranks:-none} of $GPUS GPUs"
    SUMMARY+=("$(printf '%-10s exit %-3s %s' ddp_ranks "$ranks_rc" "${ranks:-none} of $GPUS")")
else
    echo "=== ddp: skipped, one GPU visible"
fi
# Target: the guard costs <= 2 % of fp32 throughput; steps_per_batch=1 shows the grouping's gain.
run fp32_no_guard "${SINGLE[@]}" trainer.precision=32-true callbacks.nan_guard=null
run fp32_k1 "${SINGLE[@]}" trainer.precision=32-true data.steps_per_batch=1

echo "=== bp-bench ${BENCH[*]} --only epoch,optimizers (the GPU table)"
timeout "$BENCH_TIMEOUT" "$PY" -m bp_app.bench "${BENCH[@]}" --only epoch,optimizers \
    --out "$OUT_DIR/bench.json" >"$OUT_DIR/bench.log" 2>&1
bench_rc=$?
grep -v -i warn "$OUT_DIR/bench.log" | tail -n 45
SUMMARY+=("$(printf '%-10s exit %-3s %s' bp-bench "$bench_rc" "$OUT_DIR/bench.json")")

echo "=== summary (logs and run directories in $OUT_DIR)"
printf '%s\n' "${SUMMARY[@]}"
! printf '%s\n' "${SUMMARY[@]}" | grep -qv ' exit 0 '
