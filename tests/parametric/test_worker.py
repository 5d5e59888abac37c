"""Training from memories through the real background path: the API writes the job, the relay hands it to
Celery, a worker process trains on the CPU and writes the adapter's next version; the API then serves it."""

from __future__ import annotations

from collections.abc import Callable

from tests.workers.background import BackgroundPath, wait_for
from tests.workers.conftest import background, redis_url  # noqa: F401  (fixtures)

MakeBackground = Callable[..., BackgroundPath]


def test_a_celery_worker_trains_an_adapter(background: MakeBackground) -> None:  # noqa: F811
    bg = background()
    _, auth, cube_id = bg.tenant_and_cube()
    texts = ["Alice moved to Lyon in May and works as a baker.", "Bob plays the cello every Sunday morning."]
    r = bg.client.post(f"/v1/cubes/{cube_id}/memories", headers=auth,
                       json={"memories": [{"content": t} for t in texts]})
    assert r.status_code == 201, r.text
    ids = [m["id"] for m in r.json()["memories"]]
    r = bg.client.post(f"/v1/cubes/{cube_id}/adapters/train", headers=auth,
                       json={"model": "tiny", "memory_ids": ids, "steps": 20})
    assert r.status_code == 202, r.text
    adapter_id, job_id = r.json()["adapter"]["id"], r.json()["job_id"]
    bg.relay.start()
    bg.start_worker()
    job = bg.wait_job(job_id, timeout=180)
    assert job.result is not None
    losses = job.result["losses"]
    assert len(losses) == 20
    assert job.result["final_loss"] < losses[0] - 1.0

    adapter = wait_for(lambda: (a := bg.client.get(f"/v1/adapters/{adapter_id}", headers=auth).json())["state"]
                       == "ready" and a, what="the adapter to be ready")
    assert adapter["source_memory_ids"] == ids
    assert adapter["source_memory_versions"] == [1, 1]
    r = bg.client.post(f"/v1/cubes/{cube_id}/generate", headers=auth,
                       json={"model": "tiny", "prompt": "Alice moved to", "max_new_tokens": 6,
                             "adapter_id": adapter_id})
    assert r.status_code == 200, r.text
    assert r.json()["used"]["adapter_version"] == adapter["version"] == 2
