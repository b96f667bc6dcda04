"""Proof at install time that the embedded model runtime works on this machine: `python -m core.smoke`.

Loads each embedded model once and generates a few tokens, each in a child process, so that a build that
crashes on this CPU (llama.cpp's AMX kernels segfaulted on some Xeon VMs, issue 14) is reported in one
paragraph saying what to do, instead of killing the first chat. Runs in seconds; the Makefile runs it once
per build of llama.cpp, before `make run` says anything is running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from core import embedded

PROMPT = "Say hello in one short sentence."
TIMEOUT_S = 180


def _one(model_path: str, chat_format: str | None) -> None:
    """In the child: load, generate, print one JSON line."""
    import llama_cpp

    started = time.perf_counter()
    llm = llama_cpp.Llama(model_path=model_path, chat_format=chat_format, n_ctx=512, n_threads=2, verbose=False)
    loaded = time.perf_counter()
    out = llm.create_chat_completion(messages=[{"role": "user", "content": PROMPT}], max_tokens=8, temperature=0)
    done = time.perf_counter()
    tokens = out["usage"]["completion_tokens"]
    print(
        json.dumps(
            {
                "load_s": round(loaded - started, 2),
                "tokens": tokens,
                "tokens_per_s": round(tokens / max(1e-6, done - loaded), 1),
                "text": out["choices"][0]["message"]["content"][:80],
            }
        )
    )


def system_info() -> str:
    """What llama.cpp was built with and found on this CPU (its own words)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info()
    return info.decode() if isinstance(info, bytes) else str(info)


def cpu_lacks() -> list[str]:
    """The instruction sets the portable build needs that this CPU does not have (x86-64 Linux only)."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    import platform

    if platform.machine() not in {"x86_64", "AMD64"}:
        return []
    have = set(flags.split(":", 1)[1].split())
    return [f for f in ("avx2", "fma", "f16c") if f not in have]


ADVICE = (
    "The app itself works without it: point LLM_BACKENDS at LM Studio or another OpenAI-compatible server and "
    "run with ORCH_EMBEDDED_LLM=false. To rebuild the runtime for this CPU, run "
    '`rm -f .venv/.installed-llama-* && make run LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF"` (a plain build, slower) '
    "and, if it still fails, report the line above with the output of `grep -m1 flags /proc/cpuinfo`."
)


def main() -> int:
    data = Path(os.environ.get("ORCH_DATA_DIR") or "data")
    lacks = cpu_lacks()
    if lacks:
        print(
            f"The embedded model runtime was built for x86-64 CPUs with AVX2, FMA and F16C; this CPU lacks "
            f"{', '.join(lacks)}, so its model server would crash on the first instruction. {ADVICE}",
            file=sys.stderr,
        )
        return 1
    print("==> checking the embedded model runtime: each demo model generates a few tokens", flush=True)
    for model in embedded.EMBEDDED_MODELS:
        path = model.path(data)
        code = f"from core.smoke import _one; _one({str(path)!r}, {model.chat_format!r})"
        try:
            done = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                cwd=Path(__file__).resolve().parent.parent,
            )
        except subprocess.TimeoutExpired:
            print(
                f"\nThe embedded model {model.alias} did not answer within {TIMEOUT_S} s on this machine (is it "
                f"very busy, or short of memory?). {ADVICE}",
                file=sys.stderr,
            )
            return 1
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            print(
                f"\nThe embedded model runtime (llama.cpp) failed on this machine: loading {model.alias} and generating "
                f"a few tokens {embedded.exit_describe(done.returncode)}"
                f"{' (' + ' / '.join(tail) + ')' if tail else ''}. A crash here means the build does not suit this "
                f"CPU ({system_info_safe()}). {ADVICE}",
                file=sys.stderr,
            )
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"    {model.alias}: loaded in {result['load_s']} s, {result['tokens']} tokens at "
            f"{result['tokens_per_s']} tokens/s",
            flush=True,
        )
    return 0


def system_info_safe() -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from core.smoke import system_info; print(system_info())"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return done.stdout.strip() or "llama.cpp's system info could not be read"


if __name__ == "__main__":
    sys.exit(main())
