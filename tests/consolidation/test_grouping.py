"""A speaker's new sentences of one turn are one memory; their next turn joins it when it stays on the topic;
greetings and thanks are not stored; a doubtful match is added and linked ``may_update``."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memos.config import Settings
from memos.embedding import Embedder
from tests.consolidation.helpers import Auth, post, run
from tests.consolidation.test_attribution import by_content
from tests.consolidation.test_authority import links


def test_a_turns_sentences_and_its_follow_up_on_the_topic_are_one_memory(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    accepted = post(
        client, cube_id, auth,
        ("Caroline", "Hey Mel! Good to see you! How have you been?"),
        ("Melanie", "Hey Caroline! Good to see you! What's up with you?"),
        ("Caroline", "I went to a LGBTQ support group yesterday. It was so powerful."),
        ("Melanie", "Wow, that's cool! What happened?"),
        ("Caroline", "The transgender stories at the support group were so inspiring!"),
        ("Melanie", "I painted a lake sunrise last year. Painting is my favourite way to relax."),
        session_id="s1",
    )
    job = run(sessions, accepted["job_id"], settings, embedder)
    assert job.result is not None
    got = by_content(client, cube_id, auth)
    ids = accepted["message_ids"]
    support = next(m for c, m in got.items() if "support group" in c)
    # Two sentences of one turn and the same speaker's next turn on the same topic: one memory, both messages.
    assert support["content"] == ("Caroline went to a LGBTQ support group on 7 May 2023. It was so powerful. "
                                  "The transgender stories at the support group were so inspiring!")
    assert support["provenance"]["message_ids"] == [ids[2], ids[4]]
    assert support["role"] == "Caroline"
    painting = next(m for c, m in got.items() if "painted" in c)
    assert painting["provenance"]["message_ids"] == [ids[5]]
    # Greetings, questions and reactions are not memories.
    assert len(got) == 2
    for message_id in (ids[0], ids[1], ids[3]):
        assert not any(message_id in m["provenance"]["message_ids"] for m in got.values())


def test_a_doubtful_match_is_added_and_linked_may_update(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Mei", "I have been vegetarian for years."))
    run(sessions, first["job_id"], settings, embedder)
    job = run(sessions, post(client, cube_id, auth, ("Mei", "I've gone fully vegan since January."))["job_id"],
              settings, embedder)
    assert job.result is not None
    (d,) = job.result["decisions"]
    assert d["action"] == "ADD"
    old = by_content(client, cube_id, auth)["Mei has been vegetarian for years."]
    assert old["status"] == "active"  # on doubt nothing is superseded
    (link,) = [x for x in links(client, d["memory_id"], auth) if x["type"] == "may_update"]
    assert link["target_id"] == old["id"]
