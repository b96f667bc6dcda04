"""A scripted OpenAI-compatible server, only for faults a real one cannot show on cue.

Behaviour is chosen by the model name (`fake-ok`, `fake-500`, `fake-429`, `fake-cut`,
`fake-slow-first`, `fake-stall`, `fake-empty`, `fake-repeat`, `fake-length`) and, for the breaker
tests, by a global switch (`POST /_control {"fail": true}` makes every call answer 500). It also
speaks LM Studio's (`/api/v1/models`, `/api/v1/models/load|unload`) and Ollama's (`/api/tags`,
`/api/ps`, `/api/generate` with `keep_alive`) documented management endpoints, and counts calls.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODELS = [
    "fake-ok",
    "fake-500",
    "fake-429",
    "fake-cut",
    "fake-slow-first",
    "fake-stall",
    "fake-empty",
    "fake-repeat",
    "fake-length",
]
# The hallucination detector's scripted models (see scripted_answer below).
MODELS += ["fake-judge", "fake-right", "fake-wrong", "fake-cool", "fake-grounded"]
# The orchestrator's scripted models (see orchestration_answer below).
# A server that echoes its API key in its errors (the scrubbing tests).
MODELS += ["fake-echo-key", "fake-echo-key-500"]
MODELS += ["fake-agree-1", "fake-agree-2", "fake-agree-3", "fake-disagree", "fake-orch-judge", "fake-garbage"]
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "and",
    "keeps",
    "running",
    "far",
    "away",
]


RIGHT_ANSWER = "The Eiffel Tower was completed in 1889 by the company of Gustave Eiffel."
WRONG_ANSWER = "The Eiffel Tower was completed in 1925 by the company of Gustave Martin."


def scripted_answer(model: str, body: dict) -> str | None:
    """Deterministic answers for the hallucination detector's tests, or None for the other models.

    fake-judge: "yes" when every number and capitalised word of the SENTENCE is in the SOURCES, else "no".
    fake-right / fake-wrong: a faithful / an invented answer, always. fake-cool: the invented one unless
    the temperature is at most 0.3. fake-grounded: repeats source [1] when the messages carry numbered
    sources, else the invented answer."""
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    if model == "fake-judge":
        sources = text.split("SENTENCE", 1)[0]
        sentence = re.search(r"SENTENCE[^:]*:\s*(.*)", text)
        details = re.findall(r"\d+|(?<!^)\b[A-Z][a-z]+", sentence.group(1).strip()) if sentence else ["?"]
        return "yes" if all(d in sources for d in details) else "no"
    if model == "fake-right":
        return RIGHT_ANSWER
    if model == "fake-wrong":
        return WRONG_ANSWER
    if model == "fake-cool":
        temperature = body.get("temperature")
        return RIGHT_ANSWER if temperature is not None and temperature <= 0.3 else WRONG_ANSWER
    if model == "fake-grounded":
        source = re.search(r"^\[1\]\s*(.+)$", text, re.M)
        return source.group(1).strip() if source else WRONG_ANSWER
    return None


ORCH_RIGHT = "Paris is the capital of France."
ORCH_WRONG = "Lyon is the capital of France."


def orchestration_answer(model: str, body: dict) -> str | None:
    """Deterministic replies for the orchestrator's tests, or None for the other models.

    Each model believes one thing: fake-agree-* and fake-orch-judge that Paris is the capital of France,
    fake-disagree that it is Lyon. Asked the question, a model states its belief; asked to check an answer
    (orchestration/verdicts.py's review prompt) it agrees exactly when the answer states its belief; asked
    for a ballot or a ruling it names the letter of the first answer that states its belief. fake-garbage
    writes the same non-JSON text to everything (unreadable reviews)."""
    if model not in (
        "fake-agree-1",
        "fake-agree-2",
        "fake-agree-3",
        "fake-disagree",
        "fake-orch-judge",
        "fake-garbage",
    ):
        return None
    if model == "fake-garbage":
        return "lorem ipsum dolor sit amet, the answer is perhaps something"
    messages = body.get("messages", [])
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    belief = "Lyon" if model == "fake-disagree" else "Paris"
    if "check another assistant's answer" in system:
        answer = user.split("ANSWER TO CHECK:", 1)[-1].strip()
        verdict = "agree" if belief in answer else "disagree"
        return json.dumps(
            {
                "verdict": verdict,
                "claims": [{"claim": answer, "verdict": verdict, "reason": f"The capital is {belief}."}],
                "reasons": f"The capital of France is {belief}.",
            }
        )
    if "You are the judge" in system or "Pick the best answer" in system:
        answers = re.findall(r"ANSWER ([A-Z]+):\n(.*?)(?=\n\n[A-Z]|$)", user, re.S)
        pick = next((letter for letter, text in answers if belief in text), answers[0][0] if answers else "A")
        key, why = ("winner", "reasoning") if "You are the judge" in system else ("best", "reason")
        return json.dumps({key: pick, why: f"Answer {pick} says {belief}, which is right."})
    return ORCH_RIGHT if belief == "Paris" else ORCH_WRONG


class State:
    def __init__(self, tokens_per_s: float = 500.0, answer_tokens: int = 20):
        self.fail = False
        self.calls = 0
        self.embedding_calls = 0
        self.chat_calls: list[str] = []
        self.tokens_per_s = tokens_per_s
        self.answer_tokens = answer_tokens
        self.slow_first_s = 3.0
        self.lmstudio_loaded: dict[str, list[str]] = {"fake-ok": ["fake-ok"]}
        self.ollama_loaded: set[str] = set()
        self.requests: list[tuple[str, dict]] = []
        self.auth_headers: list[str] = []


def build_app(state: State) -> Starlette:
    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model"} for m in MODELS]})

    def chunk(model: str, delta: dict, finish=None, usage=None) -> bytes:
        payload = {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage:
            payload["usage"] = usage
        return f"data: {json.dumps(payload)}\n\n".encode()

    async def chat(request: Request) -> Response:
        body = await request.json()
        model = body.get("model", "fake-ok")
        state.calls += 1
        state.chat_calls.append(model)
        state.requests.append(("chat", body))
        state.auth_headers.append(request.headers.get("authorization", ""))
        if model.startswith("fake-echo-key"):
            # A server that repeats the key it was sent in its error, as OpenAI's "Incorrect API key" does
            # (fake-echo-key-500: in a server error, which counts against the backend and is kept as last_error).
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            return JSONResponse(
                {"error": {"message": f"Incorrect API key provided: {key}. Check your key."}},
                status_code=500 if model.endswith("-500") else 401,
            )
        if state.fail or model == "fake-500":
            return JSONResponse({"error": {"message": "scripted failure"}}, status_code=500)
        if model == "fake-429":
            return JSONResponse({"error": {"message": "slow down"}}, status_code=429)
        n = state.answer_tokens
        words = (
            ["" for _ in range(n)]
            if model == "fake-empty"
            else [
                ("loop " if model == "fake-repeat" else WORDS[i % len(WORDS)] + " ")
                for i in range(n if model != "fake-repeat" else 200)
            ]
        )
        finish = "length" if model == "fake-length" else "stop"
        scripted = scripted_answer(model, body)
        if scripted is not None:
            words = re.findall(r"\S+\s*", scripted)
        orchestrated = orchestration_answer(model, body)
        if orchestrated is not None:
            words = re.findall(r"\S+\s*", orchestrated)
        interval = 1.0 / state.tokens_per_s

        async def stream():
            if model == "fake-slow-first":
                await asyncio.sleep(state.slow_first_s)
            yield chunk(model, {"role": "assistant", "content": ""})
            start = time.perf_counter()
            for i, word in enumerate(words):
                if model == "fake-cut" and i == n // 2:
                    raise RuntimeError("scripted cut")  # the connection drops mid-stream
                if model == "fake-stall" and i == 3:
                    await asyncio.sleep(30)
                yield chunk(model, {"content": word})
                delay = start + (i + 1) * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield chunk(model, {}, finish)
            yield chunk(
                model, {}, usage={"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)}
            )
            yield b"data: [DONE]\n\n"

        if body.get("stream"):
            return StreamingResponse(stream(), media_type="text/event-stream")
        content = "".join(words)
        return JSONResponse(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)},
            }
        )

    async def embeddings(request: Request) -> Response:
        # LM Studio with only a chat model loaded: the embeddings endpoint answers 404.
        state.embedding_calls += 1
        model = (await request.json()).get("model")
        return JSONResponse({"error": {"message": f"Model '{model}' is not an embedding model"}}, status_code=404)

    async def control(request: Request) -> Response:
        body = await request.json()
        for key in ("fail", "tokens_per_s", "answer_tokens", "slow_first_s"):
            if key in body:
                setattr(state, key, body[key])
        return JSONResponse({"ok": True, "calls": state.calls})

    # LM Studio REST API v1
    async def lms_models(request: Request) -> Response:
        return JSONResponse(
            {
                "models": [
                    {
                        "type": "llm",
                        "key": m,
                        "display_name": m,
                        "max_context_length": 8192,
                        "loaded_instances": [
                            {"id": i, "config": {"context_length": 4096}} for i in state.lmstudio_loaded.get(m, [])
                        ],
                    }
                    for m in ("fake-ok", "fake-cold")
                ]
            }
        )

    async def lms_load(request: Request) -> Response:
        body = await request.json()
        state.requests.append(("lms_load", body))
        model = body.get("model")
        if model not in ("fake-ok", "fake-cold"):
            return JSONResponse({"error": {"message": f"model {model} not found"}}, status_code=404)
        state.lmstudio_loaded.setdefault(model, []).append(model)
        return JSONResponse({"type": "llm", "instance_id": model, "status": "loaded", "load_time_seconds": 0.1})

    async def lms_unload(request: Request) -> Response:
        body = await request.json()
        state.requests.append(("lms_unload", body))
        instance = body.get("instance_id")
        for instances in state.lmstudio_loaded.values():
            if instance in instances:
                instances.remove(instance)
                return JSONResponse({"instance_id": instance})
        return JSONResponse({"error": {"message": f"no instance {instance}"}}, status_code=404)

    # Ollama
    async def ollama_tags(request: Request) -> Response:
        return JSONResponse(
            {"models": [{"name": m, "model": m, "details": {"family": "llama"}} for m in ("llama3:8b", "qwen:4b")]}
        )

    async def ollama_ps(request: Request) -> Response:
        return JSONResponse(
            {"models": [{"name": m, "model": m, "context_length": 8192} for m in sorted(state.ollama_loaded)]}
        )

    async def ollama_generate(request: Request) -> Response:
        body = await request.json()
        state.requests.append(("ollama_generate", body))
        if body.get("keep_alive") == 0:
            state.ollama_loaded.discard(body["model"])
            return JSONResponse({"model": body["model"], "done": True, "done_reason": "unload"})
        state.ollama_loaded.add(body["model"])
        return JSONResponse({"model": body["model"], "done": True, "done_reason": "load"})

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/_control", control, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/api/v1/models", lms_models),
            Route("/api/v1/models/load", lms_load, methods=["POST"]),
            Route("/api/v1/models/unload", lms_unload, methods=["POST"]),
            Route("/api/tags", ollama_tags),
            Route("/api/ps", ollama_ps),
            Route("/api/generate", ollama_generate, methods=["POST"]),
        ]
    )


class FakeServer:
    """Runs the fake in a background thread on 127.0.0.1:<free port>."""

    def __init__(self, port: int, **state_kwargs):
        self.state = State(**state_kwargs)
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        config = uvicorn.Config(build_app(self.state), host="127.0.0.1", port=port, log_level="error", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> FakeServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def main() -> None:
    """Run the fake in its own process: `python -m tests.fakes.openai_server --port P`."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens-per-s", type=float, default=500.0)
    parser.add_argument("--answer-tokens", type=int, default=20)
    args = parser.parse_args()
    state = State(tokens_per_s=args.tokens_per_s, answer_tokens=args.answer_tokens)
    uvicorn.run(build_app(state), host="127.0.0.1", port=args.port, log_level="error", lifespan="off")


if __name__ == "__main__":
    main()
