"""Fixtures for the hallucination detector: the scripted fake server registered as a backend (deterministic
judge and regeneration behaviour: fake-judge, fake-right, fake-wrong, fake-cool, fake-grounded), the real
llama.cpp server with the test model, and a small source with a faithful and a falsified answer."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fakes.openai_server import RIGHT_ANSWER, WRONG_ANSWER
from tests.llm.conftest import MODEL, clean_gateway_state, fake, llama, llama2, llm_url_2, make_backend  # noqa: F401

SOURCE = (
    "The Eiffel Tower in Paris was completed in 1889 by the company of Gustave Eiffel for the World's Fair. "
    "It is 330 metres tall and was the tallest structure in the world until 1930."
)
QUESTION = "When was the Eiffel Tower completed and who built it?"
FAITHFUL = RIGHT_ANSWER
FALSIFIED = WRONG_ANSWER  # the same sentence with the year and the name changed


@pytest.fixture
def scripted(fake):  # noqa: F811 - the fixture of that name
    """The fake server as a backend: its models answer as tests/fakes/openai_server.scripted_answer says."""
    make_backend("scripted", fake.url)
    return fake


def bag_of_words_embedder(dimensions: int = 512):
    """A real (if simple) embedding function for the injected-embedder path: hashed word counts. Not a model:
    the tests check the detector's plumbing with it, not the quality of embeddings."""
    from hallucination.text import content_tokens

    async def embed(texts: list[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in content_tokens(text):
                matrix[row, hash(token) % dimensions] += 1.0
        return matrix

    return embed
