#!/usr/bin/env bash
# The GPU measurements of issue 12 in one go (about 5–9 minutes on one recent GPU).
#
#   bash benchmarks/gpu_suite.sh              # on a CUDA machine, from the repository root
#   bash benchmarks/gpu_suite.sh --dry-run    # the same steps, tiny, on the CPU (checks the script)
#
# Needs torch and torchvision, no internet and no installed kit: it runs `python` with
# PYTHONPATH set to the repository. Each step's output goes to $OUT/logs/<step>.log (OUT defaults to
# ./gpu_suite_out; its runs overwrite those of an earlier suite there); a step that fails or runs
# over its time limit is reported and the others go on; steps that would start after the overall
# limit (SUITE_LIMIT_S, default 540 s) are skipped. The summary at the end repeats each step's key
# lines.
#
# Steps: the SAGAN training step at the authors' full configuration in float32, bfloat16 and float16;
# SWSSL sliding-window features (wide_resnet50_2, 1024/128/32) in the three precisions; SWSSL training
# memory (resnet18 and wide_resnet50_2, float32/float16/bfloat16, with and without activation
# checkpointing); float16/bfloat16 against float32 over 20 steps for both methods; both demos, plain
# and with --amp (both hold out normals for calibration.json); and torchrun with 2 CPU processes (gloo)
# for both command lines, training with held-out normals, then SWSSL's predict (rank 0 alone).

set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/gpu_suite_out}
LOGS=$OUT/logs
WORK=$OUT/work
LIMIT=${SUITE_LIMIT_S:-540}
PYTHON=${PYTHON:-python}
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
mkdir -p "$LOGS" "$WORK"
START=$(date +%s)
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"

# run_step NAME TIMEOUT_S PATTERN COMMAND...: run, log, and keep the lines matching PATTERN for the summary.
run_step() {
    local name=$1 limit=$2 pattern=$3
    shift 3
    local elapsed=$(( $(date +%s) - START ))
    if [ "$elapsed" -ge "$LIMIT" ]; then
        printf '%-28s SKIPPED (suite limit %ss reached)\n' "$name" "$LIMIT" | tee -a "$SUMMARY"
        return
    fi
    [ $(( LIMIT - elapsed )) -lt "$limit" ] && limit=$(( LIMIT - elapsed ))
    echo "== $name (limit ${limit}s): $*"
    local t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$LOGS/$name.log" 2>&1
    local status=$?
    local seconds=$(( $(date +%s) - t0 ))
    local verdict=ok
    [ $status -eq 124 ] && verdict="TIMEOUT"
    [ $status -ne 0 ] && [ $status -ne 124 ] && verdict="FAILED (exit $status)"
    printf '%-28s %-18s %4ss  log: logs/%s.log\n' "$name" "$verdict" "$seconds" "$name" | tee -a "$SUMMARY"
    grep -E "$pattern" "$LOGS/$name.log" | sed 's/^/    /' >> "$SUMMARY"
    [ "$verdict" = ok ] || tail -n 5 "$LOGS/$name.log" | sed 's/^/    ! /' >> "$SUMMARY"
}

if [ $DRY -eq 1 ]; then
    DEVICE=cpu
    SAGAN_BENCH=(--iters 2 --amp bf16)
    FEATURES=(--sizes 128/32/16 --n_images 1 --chunks 64 --repeats 1 --skip_loop)
    MEMORY=(--backbones resnet18 --precisions fp32 --patch 32 --batches 2 4 --steps 1 --checkpoint both)
    MEMORY_300=(--backbones resnet18 --precisions bf16 --patch 32 --batches 3 6 --steps 1)
    AGREEMENT=(--steps 2 --precisions bf16 --sagan_batch 4)
    SAGAN_DEMO=(--num_iters 4 --g_conv_dim 4 --d_conv_dim 4 --g_repeat_num 1)
    SWSSL_DEMO=(--image_size 64 --patch_size 32 --step_size 16 --epochs 1)
    AMP_DTYPES=(bf16)
else
    DEVICE=cuda
    SAGAN_BENCH=(--full --iters 20 --amp bf16 fp16 --both_paths)
    FEATURES=(--backbone wide_resnet50_2 --sizes 1024/128/32 --n_images 4 --chunks 256 512 --repeats 2 --skip_loop)
    MEMORY=(--backbones resnet18 wide_resnet50_2 --precisions fp32 fp16 bf16 --batches 32 64 --steps 2 --checkpoint both)
    MEMORY_300=(--backbones wide_resnet50_2 --precisions fp32 fp16 --batches 150 300 --steps 1 --checkpoint both)
    AGREEMENT=(--precisions fp16 bf16 --sagan_conv_dim 64 --sagan_repeat_num 6 --swssl_backbone wide_resnet50_2
               --swssl_image 512 --swssl_patch 128 --swssl_batch 64)
    SAGAN_DEMO=()
    SWSSL_DEMO=()
    AMP_DTYPES=(bf16 fp16)
fi

run_step environment 60 "torch|cuda|GPU|Driver|MiB" bash -c \
    "nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv 2>/dev/null || echo 'no nvidia-smi';
     $PYTHON -c 'import torch, torchvision; print(\"torch\", torch.__version__, \"torchvision\", torchvision.__version__, \"cuda\", torch.version.cuda, \"GPU\", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'"

run_step sagan_train_step 180 "device|config|s/iteration|--amp" \
    $PYTHON benchmarks/sagan_train_step.py --device $DEVICE "${SAGAN_BENCH[@]}"

for dtype in fp32 "${AMP_DTYPES[@]}"; do
    run_step "swssl_features_$dtype" 120 "device|windows per image|ms/image" \
        $PYTHON benchmarks/swssl_features.py --device $DEVICE "${FEATURES[@]}" --amp_dtype $dtype
done

run_step swssl_train_memory 240 "device|backbone|resnet|per patch" \
    $PYTHON benchmarks/swssl_train_memory.py --device $DEVICE "${MEMORY[@]}" --json "$OUT/swssl_train_memory.json"
# The authors' setting itself: wide_resnet50_2 at batch 150 and 300 (does 300 fit a 15 GB T4?).
run_step swssl_train_memory_300 180 "device|backbone|resnet|per patch" \
    $PYTHON benchmarks/swssl_train_memory.py --device $DEVICE "${MEMORY_300[@]}" --json "$OUT/swssl_train_memory_300.json"

run_step amp_agreement 240 "device|SAGAN|SWSSL|loss|skipped|Δ" \
    $PYTHON benchmarks/amp_agreement.py --device $DEVICE "${AGREEMENT[@]}"

run_step sagan_demo 240 "reduced config|AUC|s in all|precision" \
    $PYTHON -m sagan_lib --mode demo --device $DEVICE --save_dir "$WORK/sagan_demo" --overwrite --quiet "${SAGAN_DEMO[@]}"
run_step sagan_demo_amp 240 "AUC|s in all|precision" \
    $PYTHON -m sagan_lib --mode demo --device $DEVICE --save_dir "$WORK/sagan_demo_amp" --overwrite --quiet --amp "${SAGAN_DEMO[@]}"
run_step swssl_demo 240 "reduced setting|scoring: AUC|wall time|precision" \
    $PYTHON -m swssl_lib --mode demo --device $DEVICE --save_dir "$WORK/swssl_demo" --overwrite --no-progress "${SWSSL_DEMO[@]}"
for dtype in "${AMP_DTYPES[@]}"; do
    run_step "swssl_demo_$dtype" 240 "scoring: AUC|wall time|precision" \
        $PYTHON -m swssl_lib --mode demo --device $DEVICE --save_dir "$WORK/swssl_demo_$dtype" --overwrite --no-progress \
        --amp_dtype $dtype "${SWSSL_DEMO[@]}"
done

# torchrun with 2 CPU processes (gloo): the launcher path of both command lines (a GPU per process needs 2 GPUs).
$PYTHON -m anomaly_lib phantoms --layout medad --out "$WORK/medad" --image-size 32 --count train_normal=12 \
    --count unlabeled_normal=6 --count unlabeled_abnormal=8 --count test_normal=4 --count test_abnormal=4 > /dev/null
$PYTHON -m anomaly_lib phantoms --layout chest --out "$WORK/chest" --image-size 64 --count train_normal=10 \
    --count test_normal=3 --count test_abnormal=3 > /dev/null
run_step torchrun_sagan 180 "training SAGAN|synthetic-val|Error" \
    $PYTHON -m torch.distributed.run --nproc_per_node 2 -m sagan_lib --mode train --device cpu --dataset folder \
    --data_root "$WORK/medad" --image_size 32 --g_conv_dim 4 --d_conv_dim 4 --g_repeat_num 1 --d_repeat_num 5 \
    --batch_size 4 --num_iters 4 --model_save_step 2 --log_step 2 --select_on synthetic-val --val_holdout 2 \
    --model_save_dir "$WORK/torchrun_sagan/models" --sample_dir "$WORK/torchrun_sagan/samples" --overwrite --quiet
run_step torchrun_swssl 180 "processes|held out|epoch|AUC|Error" \
    $PYTHON -m torch.distributed.run --nproc_per_node 2 -m swssl_lib --device cpu --dataset_path "$WORK/chest" \
    --save_dir "$WORK/torchrun_swssl" --image_size 64 --patch_size 32 --step_size 16 --backbone resnet18 \
    --no-pretrained --batch_size 4 --num_workers 0 --no-progress --epochs 1 --scoring both --val_holdout 2 --overwrite
# predict runs in rank 0 alone under torchrun, on the bank and held-out scores the 2 processes wrote.
run_step torchrun_swssl_predict 120 "one process|threshold|abnormal|Error" \
    $PYTHON -m torch.distributed.run --nproc_per_node 2 -m swssl_lib --mode predict --device cpu \
    --checkpoint "$WORK/torchrun_swssl/last.pt" --input "$WORK/chest/test" --save_dir "$WORK/torchrun_swssl_predict" \
    --specificity 0.5 --overwrite --no-progress

echo
echo "=============================== summary ($(( $(date +%s) - START )) s) ==============================="
cat "$SUMMARY"
echo "logs: $LOGS"
