"""Retrieval tests call the API with server exceptions raised, so a failure shows its traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.state import AppState


@pytest.fixture
def client(app_state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(app_state), raise_server_exceptions=True) as c:
        yield c
