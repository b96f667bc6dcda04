"""What each backend serves, asked the way each kind of server answers best.

LM Studio: its REST API (`/api/v1/models` with `loaded_instances`; `/api/v0/models` `state` on
older versions). Ollama: `/api/tags` (on disk) + `/api/ps` (in memory). llama.cpp: `/v1/models`,
plus the router mode's `/models` with per-model status. Anything else: `/v1/models`, all loaded.
Also load/unload where the kind supports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import httpx

from llm.models import Backend


class ManagementUnsupported(Exception):
    """The backend's kind cannot do this (e.g. unload on a plain OpenAI-compatible server)."""


class DiscoveryError(Exception):
    """The backend did not answer its model list; the message names the URL and the cause."""


@dataclass
class ModelInfo:
    id: str
    backend: str
    loaded: bool
    context_length: int | None = None
    kind: str = "llm"  # llm | embedding
    instances: list[str] = field(default_factory=list)
    manageable: bool = False  # the backend can load and unload it

    def to_dict(self) -> dict:
        return asdict(self)


def headers_for(backend: Backend) -> dict[str, str]:
    # The key goes only to this backend's own host: requests are built from its base URL alone.
    key = backend.api_key
    return {"Authorization": f"Bearer {key}"} if key else {}


def http_client(backend: Backend, timeout: float | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        headers=headers_for(backend),
        timeout=httpx.Timeout(timeout or 10.0, connect=backend.connect_timeout_s),
        follow_redirects=False,  # a redirect could carry the key to another host
    )


async def _get_json(http: httpx.AsyncClient, url: str) -> dict:
    response = await http.get(url)
    response.raise_for_status()
    return response.json()


async def _openai_models(http: httpx.AsyncClient, backend: Backend) -> list[ModelInfo]:
    data = await _get_json(http, f"{backend.base_url.rstrip('/')}/models")
    found = []
    for item in data.get("data", []):
        meta = item.get("meta") or {}
        found.append(
            ModelInfo(
                id=item["id"],
                backend=backend.name,
                loaded=True,
                context_length=meta.get("n_ctx_train") or item.get("context_length") or item.get("max_model_len"),
            )
        )
    return found


async def _lmstudio_models(http: httpx.AsyncClient, backend: Backend) -> list[ModelInfo]:
    root = backend.root_url
    try:
        data = await _get_json(http, f"{root}/api/v1/models")
        return [
            ModelInfo(
                id=m["key"],
                backend=backend.name,
                loaded=bool(m.get("loaded_instances")),
                context_length=m.get("max_context_length"),
                kind="embedding" if m.get("type") == "embedding" else "llm",
                instances=[i.get("id") for i in m.get("loaded_instances") or [] if i.get("id")],
                manageable=True,
            )
            for m in data.get("models", [])
        ]
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise
    data = await _get_json(http, f"{root}/api/v0/models")
    return [
        ModelInfo(
            id=m["id"],
            backend=backend.name,
            loaded=m.get("state") == "loaded",
            context_length=m.get("max_context_length"),
            kind="embedding" if m.get("type") == "embeddings" else "llm",
            manageable=True,
        )
        for m in data.get("data", [])
    ]


async def _ollama_models(http: httpx.AsyncClient, backend: Backend) -> list[ModelInfo]:
    root = backend.root_url
    tags = await _get_json(http, f"{root}/api/tags")
    running = await _get_json(http, f"{root}/api/ps")
    loaded = {m.get("name") or m.get("model"): m for m in running.get("models", [])}
    return [
        ModelInfo(
            id=m["name"],
            backend=backend.name,
            loaded=m["name"] in loaded,
            context_length=(loaded.get(m["name"]) or {}).get("context_length"),
            kind="embedding" if "bert" in ((m.get("details") or {}).get("family") or "") else "llm",
            manageable=True,
        )
        for m in tags.get("models", [])
    ]


async def _llamacpp_models(http: httpx.AsyncClient, backend: Backend) -> list[ModelInfo]:
    # Router mode (llama-server --models-dir) lists every model with its status at /models.
    try:
        response = await http.get(f"{backend.root_url}/models")
        if response.status_code == 200:
            data = response.json().get("data", [])
            if data and isinstance(data[0].get("status"), dict):
                return [
                    ModelInfo(
                        id=m["id"],
                        backend=backend.name,
                        loaded=m["status"].get("value") == "loaded",
                        context_length=(m.get("meta") or {}).get("n_ctx_train"),
                        manageable=True,
                    )
                    for m in data
                ]
    except (httpx.HTTPError, ValueError):
        pass
    return await _openai_models(http, backend)


LISTERS = {
    Backend.Kind.LMSTUDIO: _lmstudio_models,
    Backend.Kind.OLLAMA: _ollama_models,
    Backend.Kind.LLAMACPP: _llamacpp_models,
    Backend.Kind.OPENAI: _openai_models,
}


async def models_list(backend: Backend) -> list[ModelInfo]:
    """The backend's models; raises DiscoveryError naming the backend when it does not answer."""
    async with http_client(backend) as http:
        try:
            return await LISTERS[backend.kind](http, backend)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise DiscoveryError(f"{backend.name} ({backend.base_url}): {type(exc).__name__}: {exc}") from exc


async def model_load(backend: Backend, model: str) -> dict:
    """Load `model` into memory on the backend; ManagementUnsupported where the kind cannot."""
    async with http_client(backend, timeout=600) as http:
        if backend.kind == Backend.Kind.LMSTUDIO:
            response = await http.post(f"{backend.root_url}/api/v1/models/load", json={"model": model})
        elif backend.kind == Backend.Kind.OLLAMA:
            response = await http.post(
                f"{backend.root_url}/api/generate", json={"model": model, "keep_alive": -1, "stream": False}
            )
        elif backend.kind == Backend.Kind.LLAMACPP:
            response = await http.post(f"{backend.root_url}/models/load", json={"model": model})
            if response.status_code == 404:
                raise ManagementUnsupported(
                    f"{backend.name} is a single-model llama.cpp server (no router mode): its model is always loaded"
                )
        else:
            raise ManagementUnsupported(f"{backend.name} is a generic OpenAI-compatible server: it cannot load models")
        response.raise_for_status()
        return response.json() if response.content else {}


async def model_unload(backend: Backend, model: str, instances: list[str] | None = None) -> dict:
    """Free the model's memory on the backend; ManagementUnsupported where the kind cannot."""
    async with http_client(backend, timeout=120) as http:
        if backend.kind == Backend.Kind.LMSTUDIO:
            result = {}
            for instance_id in instances or [model]:
                response = await http.post(
                    f"{backend.root_url}/api/v1/models/unload", json={"instance_id": instance_id}
                )
                response.raise_for_status()
                result = response.json() if response.content else {}
            return result
        if backend.kind == Backend.Kind.OLLAMA:
            response = await http.post(
                f"{backend.root_url}/api/generate", json={"model": model, "keep_alive": 0, "stream": False}
            )
        elif backend.kind == Backend.Kind.LLAMACPP:
            response = await http.post(f"{backend.root_url}/models/unload", json={"model": model})
            if response.status_code == 404:
                raise ManagementUnsupported(f"{backend.name} is a single-model llama.cpp server: it cannot unload")
        else:
            raise ManagementUnsupported(
                f"{backend.name} is a generic OpenAI-compatible server: it cannot unload models"
            )
        response.raise_for_status()
        return response.json() if response.content else {}
