"""A seeded synthetic conversation stream with ground truth for consolidation.

Several people talk about themselves over time: where they live and work, what they do, their favourite
things, what they like, their pets, events with relative dates, and small talk. The generator keeps each
person's true state and labels every message with the decision a correct consolidator makes: ADD (new),
NOOP (restated, in another phrasing), UPDATE (a single-valued attribute changed), DELETE (a retraction of
something currently true), or None (small talk: no fact). Phrasings are drawn from several templates per
operation so that no rule can key on one sentence shape; keep a held-out seed for honest figures.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

NAMES = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Farah", "Gustav", "Hana", "Ivan", "Jade", "Kofi", "Lena"]
CITIES = ["Paris", "Berlin", "Lisbon", "Toronto", "Nairobi", "Osaka", "Denver", "Madrid", "Oslo", "Dublin",
          "Seoul", "Austin", "Prague", "Lima"]
COMPANIES = ["Acme", "Initech", "Globex", "Umbrella Labs", "Stark Industries", "Hooli", "Vandelay", "Wayne Tech",
             "Cyberdyne", "Soylent", "Tyrell", "Massive Dynamic"]
JOBS = ["nurse", "teacher", "software engineer", "architect", "chef", "journalist", "pilot", "accountant",
        "photographer", "dentist"]
FAVOURITES = {
    "color": ["blue", "green", "red", "yellow", "purple", "orange", "teal"],
    "food": ["sushi", "pizza", "ramen", "tacos", "curry", "dumplings", "paella"],
    "movie": ["Inception", "Amelie", "Parasite", "Casablanca", "Alien", "Heat"],
    "band": ["Radiohead", "ABBA", "Queen", "Daft Punk", "Coldplay", "Muse"],
}
LIKES = ["jazz", "hiking", "chess", "gardening", "pottery", "climbing", "board games", "salsa dancing",
         "birdwatching", "sourdough baking", "tennis", "photography", "knitting", "surfing"]
PETS = [("dog", "Rex"), ("cat", "Miso"), ("parrot", "Kiwi"), ("rabbit", "Clover"), ("dog", "Bella"),
        ("cat", "Luna"), ("tortoise", "Sheldon")]
EVENTS = ["I went to a {x} concert yesterday.", "I ran a half marathon last Sunday.",
          "I visited my grandmother in {c} last week.", "I finished reading a novel about {x} two days ago.",
          "I cooked {f} for my neighbours on Friday.", "I took a pottery class in {c} last month.",
          "My sister is getting married in {c} next Saturday.", "I bought a new bike three weeks ago."]
SMALL_TALK = ["Hi there!", "How are you doing today?", "Haha, that's hilarious.", "Thanks for the advice!",
              "What do you think I should cook tonight?", "Good morning!", "Sounds good to me.",
              "Do you have any book recommendations?", "Okay, talk soon.", "That makes sense, thank you."]
PREFIX = ["", "", "", "Oh, ", "By the way, ", "Well, ", "Just so you know, ", "Fun fact: "]

T = {
    "residence": ["I live in {v}.", "I'm based in {v}.", "I've been living in {v} for a few years.",
                  "These days I live in {v}."],
    "residence_update": ["I moved to {v} last month.", "I just relocated to {v}.", "I live in {v} now.",
                         "I've moved to {v}."],
    "employer": ["I work at {v}.", "I'm working for {v}.", "I work for {v}.", "I'm employed at {v}."],
    "employer_update": ["I started a new job at {v}.", "I joined {v} last week.", "I work for {v} now.",
                        "I got a job at {v}."],
    "employer_delete": ["I no longer work at {v}.", "I quit my job at {v}.", "I left my job at {v} yesterday.",
                        "I'm not working at {v} anymore."],
    "occupation": ["I'm a {v}.", "I work as a {v}.", "My job is {v}."],
    "occupation_update": ["I became a {v}.", "I work as a {v} now.", "I'm now a {v}."],
    "favourite": ["My favourite {k} is {v}.", "My favorite {k} is {v}.", "My all-time favourite {k} is {v}."],
    "favourite_update": ["My favourite {k} is now {v}.", "These days my favourite {k} is {v}.",
                         "My favorite {k} is now {v}."],
    "likes": ["I love {v}.", "I really enjoy {v}.", "I'm a big fan of {v}.", "I like {v}."],
    "likes_delete": ["I don't like {v} anymore.", "I'm not into {v} anymore.", "I no longer enjoy {v}.",
                     "I don't enjoy {v} any more."],
    "pet": ["I have a {k} named {v}.", "I adopted a {k} called {v}.", "I've got a {k} named {v}."],
}


@dataclass
class Person:
    name: str
    residence: str | None = None
    employer: str | None = None
    occupation: str | None = None
    favourites: dict[str, str] = field(default_factory=dict)
    likes: list[str] = field(default_factory=list)
    pets: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class LabelledMessage:
    name: str
    content: str
    timestamp: datetime
    expected: str | None  # ADD / UPDATE / DELETE / NOOP, None for small talk
    kind: str


def _fill(rng: random.Random, key: str, **kw: str) -> str:
    text = rng.choice(T[key]).format(**kw)
    prefix = rng.choice(PREFIX)
    return prefix + (text[0].lower() + text[1:] if prefix and not text.startswith("I") else text)


def _step(rng: random.Random, p: Person) -> tuple[str, str | None, str]:
    """One message by ``p``: (content, expected action, kind)."""
    ops: list[str] = ["small_talk", "event", "like"]
    for attr in ("residence", "employer", "occupation"):
        ops += [attr] if getattr(p, attr) is None else [f"{attr}_update", f"{attr}_dup"]
    ops += ["employer_delete"] if p.employer else []
    ops += ["favourite"] + (["favourite_update", "favourite_dup"] if p.favourites else [])
    ops += (["likes_delete", "likes_dup"] if p.likes else []) + (["pet"] if len(p.pets) < 2 else [])
    op = rng.choice(ops)
    if op == "small_talk":
        return rng.choice(SMALL_TALK), None, op
    if op == "event":
        text = rng.choice(EVENTS).format(x=rng.choice(LIKES), c=rng.choice(CITIES),
                                         f=rng.choice(FAVOURITES["food"]))
        return rng.choice(PREFIX) + text if not text.startswith("My") else text, "ADD", op
    pools = {"residence": CITIES, "employer": COMPANIES, "occupation": JOBS}
    for attr, pool in pools.items():
        current = getattr(p, attr)
        if op == attr:
            setattr(p, attr, rng.choice(pool))
            return _fill(rng, attr, v=getattr(p, attr)), "ADD", op
        if op == f"{attr}_dup":
            return _fill(rng, attr, v=current), "NOOP", op
        if op == f"{attr}_update":
            setattr(p, attr, rng.choice([x for x in pool if x != current]))
            return _fill(rng, f"{attr}_update", v=getattr(p, attr)), "UPDATE", op
    if op == "employer_delete":
        old, p.employer = p.employer, None
        return _fill(rng, "employer_delete", v=old or ""), "DELETE", op
    if op == "favourite":
        k = rng.choice(list(FAVOURITES))
        new = k not in p.favourites
        p.favourites[k] = rng.choice([v for v in FAVOURITES[k] if v != p.favourites.get(k)])
        return _fill(rng, "favourite" if new else "favourite_update", k=k, v=p.favourites[k]), \
            "ADD" if new else "UPDATE", op
    if op == "favourite_update":
        k = rng.choice(list(p.favourites))
        p.favourites[k] = rng.choice([v for v in FAVOURITES[k] if v != p.favourites[k]])
        return _fill(rng, "favourite_update", k=k, v=p.favourites[k]), "UPDATE", op
    if op == "favourite_dup":
        k = rng.choice(list(p.favourites))
        return _fill(rng, "favourite", k=k, v=p.favourites[k]), "NOOP", op
    if op == "like":
        fresh = [x for x in LIKES if x not in p.likes]
        x = rng.choice(fresh)
        p.likes.append(x)
        return _fill(rng, "likes", v=x), "ADD", op
    if op == "likes_dup":
        return _fill(rng, "likes", v=rng.choice(p.likes)), "NOOP", op
    if op == "likes_delete":
        x = rng.choice(p.likes)
        p.likes.remove(x)
        return _fill(rng, "likes_delete", v=x), "DELETE", op
    kind, pet = rng.choice([pt for pt in PETS if pt not in p.pets])
    p.pets.append((kind, pet))
    return _fill(rng, "pet", k=kind, v=pet), "ADD", op


def generate(seed: int, *, people: int = 6, messages: int = 400, batch: int = 8,
             start: datetime = datetime(2023, 3, 6, 9, tzinfo=UTC)) -> list[list[LabelledMessage]]:
    """``messages`` labelled messages in batches of ``batch`` (one speaker's turns stay in time order)."""
    rng = random.Random(seed)
    cast = [Person(n) for n in rng.sample(NAMES, people)]
    out: list[LabelledMessage] = []
    now = start
    for _ in range(messages):
        p = rng.choice(cast)
        content, expected, kind = _step(rng, p)
        now += timedelta(minutes=rng.randint(1, 600))
        out.append(LabelledMessage(p.name, content, now, expected, kind))
    return [out[i:i + batch] for i in range(0, len(out), batch)]
