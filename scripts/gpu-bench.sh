#!/usr/bin/env bash
# The 20b measurements on the GPU machine, in one call (see
# scripts/gpu-check.sh for staging): the user's five-shard layout made by
# mkmodel; a chat turn with `kchat run`; load time (process start to the first
# token, cold and warm page cache), peak host RSS and VRAM of kchat and of
# libllama on the same file (scripts/measure.py); then `kchat bench
# --vs-llama` rows. What to run: KCHAT_BENCH=all (default), or a
# space-separated subset of: load gpu ram ncu.
#   bash scripts/gpu-bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-/tmp/kchat-out}
mkdir -p "$out"
lib=$(bash scripts/gpu-libs.sh)
export LD_LIBRARY_PATH=$lib
k=.gpu/bin/kchat
want=${KCHAT_BENCH:-load gpu ram}
has() { [[ " $want " == *" $1 "* ]]; }
m=/tmp/k20b-00001-of-00005.gguf
if [ ! -e /tmp/k20b-00005-of-00005.gguf ]; then
  t0=$(date +%s)
  $k mkmodel --preset 20b --split 5 -o /tmp/k20b.gguf > /dev/null
  echo "mkmodel 20b --split 5: $(( $(date +%s) - t0 )) s; $(du -ch /tmp/k20b-0000*.gguf | tail -1)"
fi
lscpu | grep -E "^(Model name|CPU\(s\)|Thread|Core)" || true
if has load; then
  $k run -m $m -ngl 999 -p "Hello! Who are you?" -n 48 --json 2>/dev/null \
    | tee "$out/chat-turn.json" | grep -vE '^    [0-9]' 
  for e in kchat llama; do
    for c in --cold ""; do
      # shellcheck disable=SC2086
      python3 scripts/measure.py $c --label "$e" -- \
        $k bench -m $m --engine $e -ngl 999 -p 16 -n 1 -r 1
    done
  done | tee "$out/load.jsonl"
fi
if has gpu; then
  $k bench -m $m -ngl 999 -p 512,2048 -n 0 -r 5 --vs-llama 2>/dev/null | tee "$out/bench-pp.md"
  $k bench -m $m -ngl 999 -p 0 -n 128 -d 0,4096,32768 -r 3 --vs-llama 2>/dev/null | tee "$out/bench-tg.md"
fi
if has ram; then
  for t in ${KCHAT_THREADS:-4 8}; do
    $k bench -m $m -ngl 999 --n-cpu-moe 12 -p 512 -n 64 -r 3 -t "$t" --vs-llama 2>/dev/null
    $k bench -m $m -ngl 999 --cpu-moe -p 512 -n 64 -r 3 -t "$t" --vs-llama 2>/dev/null
  done | tee "$out/bench-ram.md"
fi
