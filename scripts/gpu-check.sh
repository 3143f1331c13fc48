#!/usr/bin/env bash
# Engine checks on the GPU machine (see ../shared/gpu/README.md), in one call:
#   1. the parity table: kchat under each placement against libllama under the
#      same placement and against kchat on the CPU (logits at chosen positions
#      of a 600-token prompt, greedy 64-token continuation), on the tiny model;
#   2. optionally (KCHAT_GPU_BENCH=1) the 20b --split 5 model: kchat bench
#      --vs-llama, all layers on the GPU.
# Stage first: ../shared/gpu/prepare.sh target/gpu/release/kchat
# Then: device run with carry [".gpu"]: bash scripts/gpu-check.sh
set -euo pipefail
out=${OUT:-/tmp/kchat-out}
mkdir -p "$out"
lib=$(bash .gpu/device-build.sh)
export LD_LIBRARY_PATH=$lib
k=.gpu/bin/kchat
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
$k devices
$k mkmodel --preset tiny -o /tmp/tiny.gguf > /dev/null
first=1
for p in "-ngl 0" "-ngl 1" "-ngl 2" "-ngl 4" "-ngl 999" "-ngl 999 -fa off" \
         "-ngl 999 --n-cpu-moe 2" "-ngl 999 --cpu-moe"; do
  hdr=""; [ $first = 1 ] && hdr="--header"; first=0
  # shellcheck disable=SC2086
  $k bench parity -m /tmp/tiny.gguf $p -t 4 $hdr
done | tee "$out/gpu-parity.md"
if [ "${KCHAT_GPU_BENCH:-0}" = 1 ]; then
  $k mkmodel --preset 20b --split 5 -o /tmp/k20b.gguf 2>&1 | tail -1
  $k bench -m /tmp/k20b-00001-of-00005.gguf -ngl 999 -p 512 -n 128 -r 3 --vs-llama \
    | tee "$out/gpu-bench-20b.md"
fi
