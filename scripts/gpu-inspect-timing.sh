#!/usr/bin/env bash
# On the GPU machine (device tool, carry [".gpu"]): make the 20b split model, then
# time `kchat inspect` with a cold and a warm page cache (3 times), `kchat tokenize`
# on it, and `kchat bench tokenizer` on that machine's 16 cores.
# Stage first: ../shared/gpu/prepare.sh target/gpu/release/kchat (as .gpu/bin/kchat).
set -euo pipefail
export LD_LIBRARY_PATH=$(bash .gpu/device-build.sh)
.gpu/bin/kchat mkmodel --preset 20b --split 5 -o /tmp/k20b.gguf 2>&1 | tail -1
for i in 1 2 3; do
  sync; echo 3 > /proc/sys/vm/drop_caches
  /usr/bin/time -f "inspect cold: %e s wall, peak RSS %M KiB" .gpu/bin/kchat inspect /tmp/k20b-00001-of-00005.gguf > /dev/null
  /usr/bin/time -f "inspect warm: %e s wall, peak RSS %M KiB" .gpu/bin/kchat inspect /tmp/k20b-00001-of-00005.gguf > /dev/null
done
/usr/bin/time -f "tokenize: %e s wall, peak RSS %M KiB" .gpu/bin/kchat tokenize -m /tmp/k20b-00001-of-00005.gguf --ids "Hello, world"
.gpu/bin/kchat bench tokenizer --reps 7 2>&1 | tail -12
