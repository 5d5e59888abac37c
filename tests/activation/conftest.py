"""The tiny model, loaded once per test session (about 0.2 s, plus the tokenizer)."""

from __future__ import annotations

import pytest

from memos.activation.backend import TransformersBackend
from memos.activation.models import LoadedModel, ModelRegistry
from memos.config import Settings


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    return ModelRegistry(Settings(models={}, activation_device="cpu"))


@pytest.fixture(scope="session")
def tiny(registry: ModelRegistry) -> LoadedModel:
    return registry.load("tiny")


@pytest.fixture(scope="session")
def backend() -> TransformersBackend:
    return TransformersBackend()
