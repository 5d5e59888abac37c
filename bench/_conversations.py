"""A seeded synthetic conversation stream with ground truth for consolidation.

Several people talk about themselves over time: where they live and work, what they do, their favourite
things, what they like, their pets, events with relative dates, and small talk. The generator keeps each
person's true state and labels every message with the decision a correct consolidator makes: ADD (new),
NOOP (restated, in another phrasing, or an event
said again about the same date), UPDATE (a single-valued attribute changed), DELETE (a retraction of
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
# Events: (template, when). ``when`` is a relative phrase the generator resolves itself (``_event_day``),
# so a repeat on another date is a new event (ADD) and a repeat about the same date is a restatement (NOOP).
EVENTS = [("I went to a {x} concert {w}.", "yesterday"), ("I ran a half marathon {w}.", "last Sunday"),
          ("I visited my grandmother in {c} {w}.", "last week"),
          ("I finished reading a novel about {x} {w}.", "two days ago"),
          ("I cooked {f} for my neighbours {w}.", "on Friday"), ("I took a pottery class in {c} {w}.", "last month"),
          ("My sister is getting married in {c} {w}.", "next Saturday"),
          ("I bought a new bike {w}.", "three weeks ago"),
          ("I saw a {x} exhibition {w}.", "yesterday"), ("I had dinner with my parents {w}.", "last Sunday")]
SMALL_TALK = ["Hi there!", "How are you doing today?", "Haha, that's hilarious.", "Thanks for the advice!",
              "What do you think I should cook tonight?", "Good morning!", "Sounds good to me.",
              "Do you have any book recommendations?", "Okay, talk soon.", "That makes sense, thank you."]
PREFIX = ["", "", "", "Oh, ", "By the way, ", "Well, ", "Just so you know, ", "Fun fact: "]

T = {
    "residence": ["I live in {v}.", "I'm based in {v}.", "I've been living in {v} for a few years.",
                  "These days I live in {v}.", "Home for me is {v}.", "I reside in {v}.", "I call {v} home."],
    "residence_update": ["I moved to {v} last month.", "I just relocated to {v}.", "I live in {v} now.",
                         "I've moved to {v}.", "I'm in {v} now.", "Home for me is {v} now.",
                         "I'm living in {v} these days."],
    "employer": ["I work at {v}.", "I'm working for {v}.", "I work for {v}.", "I'm employed at {v}.",
                 "My employer is {v}.", "I'm employed by {v}."],
    "employer_update": ["I started a new job at {v}.", "I joined {v} last week.", "I work for {v} now.",
                        "I got a job at {v}.", "I got hired by {v}.", "I accepted a position at {v}.",
                        "These days I work at {v}."],
    "employer_delete": ["I no longer work at {v}.", "I quit my job at {v}.", "I left my job at {v} yesterday.",
                        "I'm not working at {v} anymore.", "I don't work at {v} anymore.",
                        "I got laid off from {v}.", "I resigned from {v}.", "I stopped working for {v}."],
    "occupation": ["I'm a {v}.", "I work as a {v}.", "My job is {v}.", "My profession is {v}."],
    "occupation_update": ["I became a {v}.", "I work as a {v} now.", "I'm now a {v}.",
                          "I'm working as a {v} these days."],
    "favourite": ["My favourite {k} is {v}.", "My favorite {k} is {v}.", "My all-time favourite {k} is {v}."],
    "favourite_update": ["My favourite {k} is now {v}.", "These days my favourite {k} is {v}.",
                         "My favorite {k} is now {v}.", "{V} is my new favourite {k}."],
    "likes": ["I love {v}.", "I really enjoy {v}.", "I'm a big fan of {v}.", "I like {v}.", "I'm into {v}.",
              "I'm passionate about {v}."],
    "likes_delete": ["I don't like {v} anymore.", "I'm not into {v} anymore.", "I no longer enjoy {v}.",
                     "I don't enjoy {v} any more.", "I lost interest in {v}.", "I gave up {v}."],
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
    events: set[tuple[str, str]] = field(default_factory=set)  # (event text without its date, resolved date)
    last_event: str | None = None


@dataclass
class LabelledMessage:
    name: str
    content: str
    timestamp: datetime
    expected: str | None  # ADD / UPDATE / DELETE / NOOP, None for small talk
    kind: str


def _event_day(when: str, now: datetime) -> str:
    """The date a relative phrase names, as a reader would take it (the ground truth's own reading)."""
    today = now.date()
    wd = today.weekday()
    if when == "yesterday":
        return str(today - timedelta(days=1))
    if when == "two days ago":
        return str(today - timedelta(days=2))
    if when in ("last Sunday", "on Friday"):  # the most recent one before today
        target = 6 if when == "last Sunday" else 4
        return str(today - timedelta(days=(wd - target) % 7 or 7))
    if when == "next Saturday":  # the coming one
        return str(today + timedelta(days=(5 - wd) % 7 or 7))
    if when == "last week":
        return "week " + str(today - timedelta(days=wd + 7))
    if when == "three weeks ago":
        d = today - timedelta(weeks=3)
        return "week " + str(d - timedelta(days=d.weekday()))
    if when == "last month":
        first = today.replace(day=1) - timedelta(days=1)
        return f"month {first.year}-{first.month}"
    raise ValueError(when)


def _fill(rng: random.Random, key: str, **kw: str) -> str:
    kw = {**kw, **{k.upper(): v[:1].upper() + v[1:] for k, v in kw.items()}}
    text = rng.choice(T[key]).format(**kw)
    prefix = rng.choice(PREFIX)
    return prefix + (text[0].lower() + text[1:] if prefix and not text.startswith("I") else text)


def _step(rng: random.Random, p: Person, now: datetime) -> tuple[str, str | None, str]:
    """One message by ``p`` at ``now``: (content, expected action, kind)."""
    ops: list[str] = ["small_talk", "event", "like"] + (["event_repeat"] if p.last_event else [])
    for attr in ("residence", "employer", "occupation"):
        ops += [attr] if getattr(p, attr) is None else [f"{attr}_update", f"{attr}_dup"]
    ops += ["employer_delete"] if p.employer else []
    ops += ["favourite"] + (["favourite_update", "favourite_dup"] if p.favourites else [])
    ops += (["likes_delete", "likes_dup"] if p.likes else []) + (["pet"] if len(p.pets) < 2 else [])
    op = rng.choice(ops)
    if op == "small_talk":
        return rng.choice(SMALL_TALK), None, op
    if op in ("event", "event_repeat"):
        # A repeat is the person's last event said again (same words): the same occurrence if its date
        # resolves to the same day/week/month as before, another one (a second run...) otherwise.
        if op == "event" or p.last_event is None:
            template, when = rng.choice(EVENTS)
            p.last_event = template.format(x=rng.choice(LIKES), c=rng.choice(CITIES),
                                           f=rng.choice(FAVOURITES["food"]), w="{w}") + "|" + when
        body, when = p.last_event.split("|")
        key = (body, _event_day(when, now))
        expected = "NOOP" if key in p.events else "ADD"
        p.events.add(key)
        text = body.format(w=when)
        return (rng.choice(PREFIX) + text if not text.startswith("My") else text), expected, op
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
        now += timedelta(minutes=rng.randint(1, 600))
        content, expected, kind = _step(rng, p, now)
        out.append(LabelledMessage(p.name, content, now, expected, kind))
    return [out[i:i + batch] for i in range(0, len(out), batch)]
