#!/usr/bin/env bash
# The CUDA parity table, on the GPU machine (see ../shared/gpu/README.md), in
# one call: kchat under each placement against libllama under the same
# placement and against kchat on the CPU (logits at chosen positions of a
# 600-token prompt, then a greedy 64-token continuation fed token by token),
# on the tiny model (4 layers) and on the mid model (24 layers: the real
# depth, experts and head grouping), plus a prompt fed one token at a time
# (-ub 1) so that every logit row comes from single-token steps.
# Stage: ../shared/gpu/prepare.sh target/gpu/release/kchat (and optionally
# .gpu/prebuilt, see scripts/gpu-libs.sh); then device run, carry [".gpu"]:
#   bash scripts/gpu-check.sh
# shellcheck source=scripts/gpu-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$k devices 2>/dev/null
table() {
  local model=$1; shift
  local first=1
  echo "### $(basename "$model")"
  for p in "$@"; do
    hdr=""; [ $first = 1 ] && hdr="--header"; first=0
    # shellcheck disable=SC2086
    if ! $k bench parity -m "$model" $p -t 8 $hdr 2> /tmp/parity.err; then
      echo "| $p | failed: $(grep -v '^ *[0-9.]* */' /tmp/parity.err | tail -1) |"
      { echo "== $model $p"; tail -40 /tmp/parity.err; } >> "$out/parity-errors.log"
    fi
  done
}
$k mkmodel --preset tiny -o /tmp/tiny.gguf > /dev/null
$k mkmodel --preset mid -o /tmp/mid.gguf > /dev/null
{
  table /tmp/tiny.gguf "-ngl 0" "-ngl 1" "-ngl 2" "-ngl 999" "-ngl 999 -fa off" \
    "-ngl 999 --n-cpu-moe 2" "-ngl 999 --cpu-moe" "-ngl 999 -ub 1 --prompt-tokens 40"
  table /tmp/mid.gguf "-ngl 0" "-ngl 1" "-ngl 12" "-ngl 999" "-ngl 999 -fa off" \
    "-ngl 999 --n-cpu-moe 12" "-ngl 999 --cpu-moe" "-ngl 999 -ub 1 --prompt-tokens 40"
} | tee "$out/gpu-parity.md"
