from __future__ import annotations

import os

import pytest

from core import embedded
from tests.fixtures.stack import ROOT


@pytest.fixture
def serve_env(tmp_path) -> dict[str, str]:
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    # The model is the test stack's copy (same file the runner would assemble), to save 250 MB of writes.
    (data / "models" / "gemma-3-270m-q4_k_m.gguf").symlink_to(embedded.model_path(ROOT / ".cache"))
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(
        ORCH_DATA_DIR=str(data),
        DEBUG="true",
        ORCH_ADMIN_PASSWORD="serve-test-password",
        # Nothing answers here, so the runner must start the embedded model server.
        LLM_BACKENDS=f"nothing:lmstudio=http://127.0.0.1:{embedded.free_port()}/v1",
        ORCH_EMBEDDED_LLM_PORT=str(embedded.free_port()),
        ORCH_EMBEDDED_LLM_PORT_2=str(embedded.free_port()),
        CELERY_CONCURRENCY="1",
    )
    return env
