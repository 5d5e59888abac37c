from fastapi.testclient import TestClient


def test_health_and_write_read(client: TestClient, auth: dict[str, str], cube_id: str) -> None:
    assert client.get("/healthz").json()["database"] == "ok"
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "Alice likes tea"}]},
                    headers=auth)
    assert r.status_code == 201, r.text
    memory = r.json()["memories"][0]
    got = client.get(f"/v1/memories/{memory['id']}", headers=auth).json()
    assert got["content"] == "Alice likes tea"
    assert got["version"] == 1
