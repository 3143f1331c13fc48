#!/usr/bin/env bash
# The 20b measurements on the GPU machine, in one call (see
# scripts/gpu-check.sh for staging): the user's five-shard layout made by
# mkmodel; a chat turn with `kchat run`; load time (process start to the first
# token, cold and warm page cache), peak host RSS and VRAM of kchat and of
# libllama on the same file (scripts/measure.py); then `kchat bench
# --vs-llama` rows; and the ncu kernel study. What to run: KCHAT_BENCH, a
# space-separated subset of "load gpu ram ncu" (default: "load gpu ram");
# KCHAT_THREADS: thread counts of the host-RAM rows (default: "4 8").
#   bash scripts/gpu-bench.sh
# shellcheck source=scripts/gpu-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/gpu-env.sh"
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
if has ramload; then
  for p in "--n-cpu-moe 12" "--cpu-moe"; do
    for e in kchat llama; do
      # shellcheck disable=SC2086
      python3 scripts/measure.py --label "$e $p" -- \
        $k bench -m $m --engine $e -ngl 999 $p -p 16 -n 1 -r 1
    done
  done | tee "$out/load-ram.jsonl"
fi
if has ncu; then
  # Kernel times of a few single-token steps of each engine; BENCHMARKS.md
  # reads one step between two runs of the output head.
  n="ncu --clock-control none --metrics gpu__time_duration.sum -c 3000"
  $n -o /tmp/ncu-kchat $k run -m $m -ngl 999 --raw -p Hello -n 4 > /dev/null 2>&1
  $n -o /tmp/ncu-llama $k bench -m $m --engine llama -ngl 999 -p 0 -n 2 -r 1 > /dev/null 2>&1
  for e in kchat llama; do
    ncu --import /tmp/ncu-$e.ncu-rep --csv --print-units base --page raw \
      --metrics gpu__time_duration.sum | gzip > "$out/ncu-$e.csv.gz"
  done
fi
