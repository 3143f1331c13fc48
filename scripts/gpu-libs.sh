#!/usr/bin/env bash
# On the GPU machine: make the CUDA ggml + libllama shared libraries ready and
# print their directory (for LD_LIBRARY_PATH). The device machine is bare on
# every start and building ggml there takes about 5 minutes, so a build is
# packed once into $OUT/ggml-libs.tar.xz.partNN (each under the device tool's
# 16 MiB file limit); copied into .gpu/prebuilt/ here and carried along with
# .gpu, the next machine unpacks them in seconds instead of building.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gpu=$here/.gpu
if [ ! -e "$gpu/build/bin/libggml-cuda.so" ] && ls "$gpu"/prebuilt/ggml-libs.tar.xz.part* > /dev/null 2>&1; then
  mkdir -p "$gpu/build"
  cat "$gpu"/prebuilt/ggml-libs.tar.xz.part* | tar -xJf - -C "$gpu/build"
  echo "gpu-libs: unpacked the prebuilt libraries" >&2
fi
if [ ! -e "$gpu/build/bin/libggml-cuda.so" ]; then
  bash "$gpu/device-build.sh" > /dev/null
  if [ -n "${OUT:-}" ]; then
    (cd "$gpu/build" && tar -cf - bin/*.so* | xz -T0 -6 | split -b 15M -d - "$OUT/ggml-libs.tar.xz.part")
    echo "gpu-libs: packed $(du -ch "$OUT"/ggml-libs.tar.xz.part* | tail -1 | cut -f1) into \$OUT" >&2
  fi
fi
echo "$gpu/build/bin"
