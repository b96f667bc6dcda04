"""The embedded model runtime: built for every x86-64 CPU (no -march=native, no AMX), proven at install time."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

from core import embedded, smoke
from tests.fixtures.stack import ROOT


def test_the_installed_llama_cpp_build_has_no_amx_or_avx512_kernels():
    # The native build's AMX kernels segfaulted on the first token on a Xeon VM (issue 14); a change of the
    # Makefile's flags that brings them back must fail here, whatever CPU this test runs on.
    info = smoke.system_info()
    assert "AMX" not in info, info
    assert "AVX512" not in info, info
    if platform.machine() == "x86_64":
        assert "AVX2 = 1" in info and "FMA = 1" in info and "F16C = 1" in info, info


def _smoke(data) -> subprocess.CompletedProcess:
    env = {**os.environ, "ORCH_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "core.smoke"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_the_install_time_smoke_test_generates_with_both_demo_models(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf").symlink_to(embedded.model_path(ROOT / ".cache"))
    done = _smoke(tmp_path)
    assert done.returncode == 0, done.stderr
    for model in embedded.EMBEDDED_MODELS:
        line = next(line for line in done.stdout.splitlines() if line.strip().startswith(f"{model.alias}:"))
        assert " tokens at " in line and "tokens/s" in line


def test_a_model_that_cannot_generate_fails_the_smoke_test_with_what_to_do(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf").write_bytes(b"GGUF" + b"\0" * 4096)  # a broken file
    done = _smoke(tmp_path)
    assert done.returncode == 1
    assert "failed on this machine: loading gemma-3-270m" in done.stderr
    assert "ORCH_EMBEDDED_LLM=false" in done.stderr  # what to do
    assert "LLAMA_CMAKE_ARGS" in done.stderr
