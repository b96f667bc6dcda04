"""The Models page's long work as core Job rows (benchmarks, long texts): owned, with progress, a log,
a heartbeat, cancel and the admin, like every other job. The handlers sequence; llm.services works."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async

from core.jobs import Reporter
from core.models import Job
from llm import services
from llm.models import Backend, BenchmarkResult

KINDS = ("llm.benchmark", "llm.long_text")


def _progress(report: Reporter):
    """The services' `progress(fraction, message)`: saved, published, logged, and where a cancel stops the work."""

    def save(fraction: float, message: str) -> None:
        report.check_cancelled()
        report.update(progress=fraction, log_line=message)

    return sync_to_async(save)


def benchmark_result_json(result: BenchmarkResult) -> dict:
    return {
        "backend": result.backend.name,
        "model": result.model,
        "runs": result.runs,
        "ttft_ms": [result.ttft_ms_min, result.ttft_ms_median, result.ttft_ms_max],
        "tokens_per_s": [result.tokens_per_s_min, result.tokens_per_s_median, result.tokens_per_s_max],
        "latency_ms": [result.latency_ms_min, result.latency_ms_median, result.latency_ms_max],
    }


def benchmark_job(job: Job, report: Reporter) -> dict:
    params = job.params
    backend = Backend.objects.get(name=params["backend"])
    report.log(f"benchmark of {params['model']} on {backend.name}, {params['runs']} runs")
    result = asyncio.run(
        services.benchmark_run(
            backend=backend, model=params["model"], runs=params["runs"], user=job.user, progress=_progress(report)
        )
    )
    result = BenchmarkResult.objects.select_related("backend").get(pk=result.pk)
    return {"message": "done", "result_id": result.pk, "benchmark": benchmark_result_json(result)}


def long_text_job(job: Job, report: Reporter) -> dict:
    """Map/reduce over a text too long for the model's context; the text is the job's (params), not a message's."""
    params = job.params
    report.log(f"{len(params['text']):,} characters for {params['model']}")
    out = asyncio.run(
        services.long_text_process(
            model=params["model"], text=params["text"], instruction=params["instruction"], progress=_progress(report)
        )
    )
    return {"message": f"done: {out['chunks']} chunks", "result": out["result"], "chunks": out["chunks"]}
