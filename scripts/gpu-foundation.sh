#!/usr/bin/env bash
# Issue 2 checks on the GPU machine (see ../shared/gpu/README.md), in one call:
#   - kchat mkmodel --preset 20b --split 5: wall time and peak RSS;
#   - kchat inspect on the five shards: wall time (cold and warm cache) and peak RSS;
#   - libllama (built there from the same pinned sources) loads the file and decodes,
#     on the CPU (mmap) and with every layer on the GPU.
# Stage first: ../shared/gpu/prepare.sh target/gpu/release/kchat
# Then: device run with carry [".gpu"]: bash scripts/gpu-foundation.sh
set -euo pipefail
out=${OUT:-/tmp/kchat-out}
mkdir -p "$out"
lib=$(bash .gpu/device-build.sh)
export LD_LIBRARY_PATH=$lib
cc -O2 -o /tmp/llama-load scripts/llama-load.c -I.gpu/llama.cpp/include -I.gpu/llama.cpp/ggml/include \
  -L"$lib" -lllama -lggml -lggml-base -lm
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
echo "cores: $(nproc), disk free: $(df -h /tmp | awk 'NR==2{print $4}')"

measure() { # measure LABEL CMD...: wall time and peak RSS of CMD
  local label=$1; shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "$label: %e s wall, peak RSS %M KiB" "$@"
  else
    local t0=$(date +%s.%N); "$@"; echo "$label: $(echo "$(date +%s.%N) - $t0" | bc) s wall (no /usr/bin/time)"
  fi
}

.gpu/bin/kchat --version
measure "mkmodel 20b --split 5" .gpu/bin/kchat mkmodel --preset 20b --split 5 -o /tmp/k20b.gguf 2>&1 | tail -4
ls -l /tmp/k20b-*.gguf
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo "page cache dropped" || echo "cannot drop page cache"
measure "inspect (cold)" .gpu/bin/kchat inspect --no-tensors /tmp/k20b-00001-of-00005.gguf > "$out/inspect-20b.txt"
measure "inspect (warm)" .gpu/bin/kchat inspect /tmp/k20b-00001-of-00005.gguf > /dev/null
measure "inspect --json" .gpu/bin/kchat inspect --json /tmp/k20b-00001-of-00005.gguf > "$out/inspect-20b.json"
tail -8 "$out/inspect-20b.txt"
measure "libllama load+decode, CPU" /tmp/llama-load /tmp/k20b-00001-of-00005.gguf 0 2>"$out/llama-cpu.log"
measure "libllama load+decode, -ngl 999" /tmp/llama-load /tmp/k20b-00001-of-00005.gguf 999 2>"$out/llama-gpu.log"
