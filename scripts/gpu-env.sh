# Sourced by the GPU-machine scripts: strict mode, the repository root as the
# working directory, $out for results ($OUT there), the CUDA ggml libraries on
# LD_LIBRARY_PATH (scripts/gpu-libs.sh) and $k, the staged kchat binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-/tmp/kchat-out}
mkdir -p "$out"
LD_LIBRARY_PATH=$(bash scripts/gpu-libs.sh)
export LD_LIBRARY_PATH
k=.gpu/bin/kchat
