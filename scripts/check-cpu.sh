#!/usr/bin/env bash
# The embedded llama.cpp is built for x86-64 CPUs with AVX2, FMA and F16C (every Intel CPU since Haswell, 2013,
# every AMD since Excavator/Zen). On an older CPU its first instruction would kill the model server (SIGILL), so
# say so before compiling, and how to build for this CPU instead.
set -euo pipefail
[ "$(uname -m)" = "x86_64" ] || exit 0
[ -r /proc/cpuinfo ] || exit 0
[ -n "${LLAMA_CMAKE_ARGS_OVERRIDDEN:-}" ] && exit 0
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
missing=()
for flag in avx2 fma f16c; do
	grep -qw "$flag" <<<"$flags" || missing+=("$flag")
done
if [ ${#missing[@]} -gt 0 ]; then
	cat >&2 <<MSG
This CPU lacks ${missing[*]}, which the embedded model runtime (llama.cpp) is built for by default, so its model
server would crash on the first instruction. Build it for this CPU instead:
    make run LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_AVX512=OFF"
(slower, but it runs), or point LLM_BACKENDS at a model server elsewhere and run with ORCH_EMBEDDED_LLM=false.
MSG
	exit 1
fi
