"""Tokens/s of the embedded demo models with the installed llama.cpp build, and optionally with another build.

    .venv/bin/python benchmarks/model_runtime.py [--quick] [--compare-python /path/to/other/venv/bin/python]

The installed build is the portable one the Makefile makes (AVX2/FMA/F16C, no AVX-512, no AMX). To see what
that costs against llama.cpp's default `-march=native` build on this machine, build one into another venv:

    python -m venv /tmp/native && /tmp/native/bin/pip install numpy diskcache jinja2 typing-extensions
    /tmp/native/bin/pip wheel --no-deps --no-binary llama-cpp-python -w /tmp/w llama-cpp-python==0.3.36
    /tmp/native/bin/pip install --no-deps /tmp/w/*.whl

and pass `--compare-python /tmp/native/bin/python`. Both builds run the same prompts, alternating, in one run
(the machine is noisy, so only figures from the same run are compared). A build that crashes is reported as
`..._crashed: 1` with its exit, not as a figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import embedded  # noqa: E402

CHILD = r"""
import json, sys, time
import llama_cpp
path, chat_format, rounds, max_tokens = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), int(sys.argv[4])
llm = llama_cpp.Llama(model_path=path, chat_format=chat_format, n_ctx=1024, n_threads=2, verbose=False, seed=1)
rates = []
for i in range(rounds):
    started = time.perf_counter()
    out = llm.create_chat_completion(
        messages=[{"role": "user", "content": "Write a short paragraph about the sea."}],
        max_tokens=max_tokens, temperature=0.7, seed=i,
    )
    rates.append(out["usage"]["completion_tokens"] / (time.perf_counter() - started))
print(json.dumps({"rates": rates}))
"""


def measure(python: str, path: Path, chat_format: str | None, rounds: int, max_tokens: int) -> list[float] | str:
    done = subprocess.run(
        [python, "-c", CHILD, str(path), chat_format or "", str(rounds), str(max_tokens)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        return embedded.exit_describe(done.returncode)
    return json.loads(done.stdout.strip().splitlines()[-1])["rates"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--compare-python", help="the python of a venv with another llama-cpp-python build")
    args = parser.parse_args()
    rounds, repeats, max_tokens = (2, 1, 48) if args.quick else (4, 3, 96)
    builds = {"portable": sys.executable}
    if args.compare_python:
        builds["other"] = args.compare_python
    data = ROOT / ".cache"
    for model in embedded.EMBEDDED_MODELS:
        path = model.path(data)
        name = model.alias.replace("-", "_").replace(".", "_")
        rates: dict[str, list[float]] = {b: [] for b in builds}
        crashed: dict[str, str] = {}
        for _ in range(repeats):  # alternate the builds, so both see the same noise
            for build, python in builds.items():
                if build in crashed:
                    continue
                result = measure(python, path, model.chat_format, rounds, max_tokens)
                if isinstance(result, str):
                    crashed[build] = result
                else:
                    rates[build].extend(result)
        for build in builds:
            if build in crashed:
                print(f"{build}_{name}_crashed: 1")
                print(f"{build} build, {model.alias}: {crashed[build]}", file=sys.stderr)
            else:
                print(f"{build}_{name}_tokens_per_s: {statistics.median(rates[build]):.1f}")
        if len(builds) == 2 and not crashed:
            ratio = statistics.median(rates["portable"]) / statistics.median(rates["other"])
            print(f"portable_vs_other_{name}_ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
