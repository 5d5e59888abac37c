"""``memos search`` and ``memos context`` against a live server."""

from __future__ import annotations

from typer.testing import CliRunner

from memos.cli import app
from memos.client import MemOSClient
from tests.sdk.live import LiveServer

runner = CliRunner()


def test_search_and_context(live_server: LiveServer, tenant_key: str, client: MemOSClient) -> None:
    cube = client.create_cube("cli-search")
    client.add_memories(cube.id, [
        {"content": "I adopted a dog named Oscar.", "role": "Caroline", "session_id": "s1",
         "event_time": "2023-07-20T10:00:00Z"},
        {"content": "The budget meeting moved to Monday.", "role": "Melanie", "session_id": "s1",
         "event_time": "2023-07-20T10:00:00Z"},
    ])
    auth = ["--url", live_server.url, "--api-key", tenant_key]
    result = runner.invoke(app, ["search", "adopted dog", "--cube", "cli-search", "--top-k", "1", *auth])
    assert result.exit_code == 0, result.output
    assert "2023-07-20  Caroline: I adopted a dog named Oscar." in result.output
    result = runner.invoke(app, ["context", "adopted dog", "--cube", str(cube.id), "--token-budget", "200", *auth])
    assert result.exit_code == 0, result.output
    assert "- [2023-07-20] Caroline: I adopted a dog named Oscar." in result.output
    missing = runner.invoke(app, ["search", "x", "--cube", "no-such-cube", *auth])
    assert missing.exit_code != 0
