"""Seeded synthetic memories that read like real ones, and queries that paraphrase them.

Facts about a few thousand people (where they live, work, what they like, events, dates, pets, plans...)
come from templates with many slot values, so texts share vocabulary the way real notes do and their
embeddings cluster by topic and by person, unlike uniform random vectors (on which HNSW recall and
latency mean nothing). Each query paraphrases one generated fact, so "did the source fact come back"
is a rough sanity check of the search path.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words("""
Alice Bob Carla David Elena Farid Grace Hiro Ines Jamal Kira Liam Maya Noah Olga Pablo Quinn Rosa Samir
Tara Umar Vera Wei Ximena Yusuf Zoe Amir Bianca Chen Dmitri Esme Felix Gita Hannah Ivan Julia Kofi Lena Marco Nadia
Omar Priya Rafael Sofia Tomas Uma Viktor Wanda Yara Zane Aisha Bruno Clara Diego Emma Fatima Gabriel Helga Isaac
Jana Kenji Lucia Mateo Nina Oscar Paula Ravi Sara Theo Ulla Valeria Wen Xavier Yasmin Ahmed Beatriz Cyrus Daria
Emil Freya Goran Hana Ilya Joana Karim Leila Mikael Nora""")
LAST = _words("""
Johnson Okafor Silva Nakamura Petrov Garcia Müller Rossi Novak Haddad Kim Dubois Larsen Costa Ibrahim Walsh
Fischer Moreau Tanaka Kowalski Mendes Popescu Jensen Schmidt Ortiz Singh Ahmadi Bianchi Yilmaz Nguyen Andersen
Lopez Martins Suzuki Volkov Reyes Hughes Berg Castro Dimitrou Eriksen Ferreira Grant Hoffmann Ivanova Jovanovic
Keller Lindqvist Mwangi Olsen Park Quintero Romano Sato Torres Ueda Varga Weber Zhang""")
CITIES = ["Lisbon", "Berlin", "Tokyo", "Nairobi", "Toronto", "Melbourne", "Oslo", "Madrid", "Seoul", "Chicago",
          "Austin", "Prague", "Vienna", "Dublin", "Lyon", "Porto", "Kyoto", "Mumbai", "Cape Town", "Montreal",
          "Denver", "Seattle", "Boston", "Milan", "Krakow", "Helsinki", "Istanbul", "Lagos", "Lima", "Bogotá",
          "Copenhagen", "Edinburgh", "Zurich", "Singapore", "Bangkok", "Hanoi", "Auckland", "Vancouver",
          "Amsterdam", "Barcelona"]
COUNTRIES = _words("""
Japan Portugal Iceland Peru Morocco Vietnam Norway Mexico Greece Kenya Chile Italy Canada Scotland
Thailand Argentina Croatia Georgia Jordan Nepal""")
ROLES = ["data engineer", "product manager", "nurse", "high school teacher", "software developer", "architect",
         "graphic designer", "accountant", "chef", "civil engineer", "marketing lead", "research scientist",
         "physiotherapist", "sales director", "UX researcher", "lawyer", "pharmacist", "journalist",
         "site reliability engineer", "financial analyst"]
COMPANIES = ["Northwind", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Acme Robotics",
             "Blue Harbor Bank", "Lumen Labs", "Greenfield Foods", "Orbit Media", "Crescent Insurance",
             "Helix Biotech", "Summit Outdoor", "Atlas Consulting", "Pioneer Energy"]
FOODS = ["sushi", "spicy ramen", "mushroom risotto", "tacos al pastor", "pad thai", "falafel", "dark chocolate",
         "blue cheese", "oysters", "lasagna", "green curry", "pho", "croissants", "kimchi", "paella", "olives",
         "cilantro", "pineapple pizza", "lamb tagine", "avocado toast"]
HOBBIES = ["rock climbing", "playing the cello", "trail running", "painting watercolors", "baking sourdough",
           "playing chess online", "swimming laps", "birdwatching", "woodworking", "salsa dancing",
           "gardening", "practicing yoga", "cycling", "knitting", "photography", "playing tennis"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
RELATIONS = ["sister", "brother", "cousin", "best friend", "colleague", "neighbor", "niece", "nephew"]
ACTIVITIES = ["hike the coastal trails", "visit old friends", "attend a conference", "learn to surf",
              "see the northern lights", "take a cooking class", "photograph wildlife", "run a marathon"]
ALLERGENS = ["peanuts", "shellfish", "gluten", "lactose", "cats", "pollen", "penicillin", "sesame"]
PETS = ["dog", "cat", "parrot", "rabbit", "tortoise", "hamster"]
PET_NAMES = ["Biscuit", "Luna", "Pepper", "Milo", "Nala", "Ziggy", "Olive", "Captain", "Mochi", "Rex"]
LANGUAGES = ["Spanish", "Japanese", "German", "Portuguese", "Korean", "Italian", "Arabic", "Mandarin", "French"]
APPOINTMENTS = ["dentist", "physiotherapy", "eye exam", "haircut", "car service", "therapy", "vet"]
TRANSPORT = ["bike", "train", "bus", "car", "electric scooter", "ferry"]
PROJECTS = ["billing migration", "mobile app redesign", "data warehouse", "customer portal", "supply chain",
            "annual budget", "website relaunch", "fraud detection"]
GENRES = ["jazz", "k-pop", "classical piano", "techno", "folk", "hip hop", "bossa nova", "metal", "indie rock"]
PREFIXES = ["", "", "", "Note: ", "User mentioned that ", "Remember that ", "From our chat: ", "FYI, "]


@dataclass(frozen=True)
class Fact:
    content: str
    query: str
    topic: str
    person: str


def _a(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def _fact(r: random.Random) -> Fact:
    name = f"{r.choice(FIRST)} {r.choice(LAST)}"
    first = name.split()[0]
    year = r.randint(2008, 2025)
    month, day = r.choice(MONTHS), r.randint(1, 28)
    city = r.choice(CITIES)
    kind = r.randrange(14)
    if kind == 0:
        c = r.choice([f"{name} moved to {city} in {month} {year} and loves the neighborhood.",
                      f"{name} lives in {city} now, in a small flat near the river.",
                      f"After years abroad, {name} settled in {city} in {year}."])
        q = r.choice([f"Where does {name} live?", f"Which city did {first} move to?"])
        return Fact(c, q, "residence", name)
    if kind == 1:
        role, co = r.choice(ROLES), r.choice(COMPANIES)
        c = r.choice([f"{name} works as {_a(role)} at {co} in {city}.",
                      f"{name} started a new job as {role} at {co} in {month} {year}.",
                      f"{first} ({name}) has been {_a(role)} at {co} since {year}."])
        q = r.choice([f"What is {name}'s job?", f"Where does {name} work as {_a(role)}?"])
        return Fact(c, q, "work", name)
    if kind == 2:
        f1, f2 = r.sample(FOODS, 2)
        c = r.choice([f"{name} loves {f1} but can't stand {f2}.",
                      f"{name}'s favorite dish is {f1}; never order {f2} for them.",
                      f"When we had dinner, {name} said {f1} is the best food in the world."])
        q = r.choice([f"What food does {name} like?", f"What should I cook for {first} {name.split()[1]}?"])
        return Fact(c, q, "food", name)
    if kind == 3:
        hobby, wd = r.choice(HOBBIES), r.choice(WEEKDAYS)
        c = r.choice([f"{name} goes {hobby} every {wd} since {year}.",
                      f"{name} took up {hobby} last year and practices on {wd}s.",
                      f"On {wd} evenings {name} is usually busy {hobby}."])
        q = r.choice([f"What does {name} do on {wd}s?", f"What hobby does {name} have?"])
        return Fact(c, q, "hobby", name)
    if kind == 4:
        rel, other = r.choice(RELATIONS), r.choice(FIRST)
        c = f"{name}'s {rel} {other} is getting married in {city} on {month} {day}, {year}."
        q = r.choice([f"When is the wedding of {name}'s {rel}?", f"Whose wedding is {name} attending in {city}?"])
        return Fact(c, q, "event", name)
    if kind == 5:
        country, act = r.choice(COUNTRIES), r.choice(ACTIVITIES)
        c = r.choice([f"{name} is planning a trip to {country} in {month} to {act}.",
                      f"In {month} {year} {name} travelled to {country} to {act}."])
        q = r.choice([f"Where is {name} travelling in {month}?", f"Which country did {name} visit to {act}?"])
        return Fact(c, q, "travel", name)
    if kind == 6:
        c = r.choice([f"{name} was born on {month} {day}, {year - 30} in {city}.",
                      f"{name}'s birthday is {month} {day}; they grew up in {city}."])
        q = r.choice([f"When is {name}'s birthday?", f"Where was {name} born?"])
        return Fact(c, q, "birthday", name)
    if kind == 7:
        allergen, food = r.choice(ALLERGENS), r.choice(FOODS)
        c = f"{name} is allergic to {allergen}, so check the {food} before cooking for them."
        q = r.choice([f"What is {name} allergic to?", f"Does {first} have any allergies?"])
        return Fact(c, q, "health", name)
    if kind == 8:
        pet, pname = r.choice(PETS), r.choice(PET_NAMES)
        c = r.choice([f"{name} adopted {_a(pet)} named {pname} in {year}.",
                      f"{name}'s {pet} {pname} needs a walk or a feed twice a day."])
        q = r.choice([f"What is the name of {name}'s {pet}?", f"What pet does {name} have?"])
        return Fact(c, q, "pet", name)
    if kind == 9:
        lang = r.choice(LANGUAGES)
        c = r.choice([f"{name} is learning {lang} with a tutor from {city}.",
                      f"{name} speaks fluent {lang} after living in {city} for {r.randint(2, 9)} years."])
        q = r.choice([f"Which language is {name} studying?", f"Does {name} speak {lang}?"])
        return Fact(c, q, "language", name)
    if kind == 10:
        appt, wd, hour = r.choice(APPOINTMENTS), r.choice(WEEKDAYS), r.randint(8, 18)
        c = f"{name} has {_a(appt)} appointment on {wd} at {hour}:00 in {city}."
        q = r.choice([f"When is {name}'s {appt} appointment?", f"What appointment does {first} have on {wd}?"])
        return Fact(c, q, "appointment", name)
    if kind == 11:
        tr, mins = r.choice(TRANSPORT), r.randint(10, 75)
        c = f"{name} commutes to the office in {city} by {tr}, which takes about {mins} minutes."
        q = r.choice([f"How does {name} get to work?", f"How long is {name}'s commute?"])
        return Fact(c, q, "commute", name)
    if kind == 12:
        proj, co = r.choice(PROJECTS), r.choice(COMPANIES)
        c = f"The {proj} project that {name} leads at {co} is due on {month} {day}."
        q = r.choice([f"When is {name}'s {proj} project due?", f"Which project does {name} lead at {co}?"])
        return Fact(c, q, "project", name)
    genre = r.choice(GENRES)
    c = r.choice([f"{name} listens to {genre} while working and saw a live {genre} show in {city} in {year}.",
                  f"{name} plays {genre} records on Sunday mornings."])
    q = r.choice([f"What music does {name} like?", f"Which concert did {name} see in {city}?"])
    return Fact(c, q, "music", name)


def generate_facts(n: int, *, seed: int = 7) -> list[Fact]:
    """``n`` facts, the same for the same seed."""
    r = random.Random(seed)
    out: list[Fact] = []
    for _ in range(n):
        f = _fact(r)
        prefix = r.choice(PREFIXES)
        content = f.content
        if prefix and content.startswith("The "):
            content = "the " + content[4:]
        out.append(Fact(prefix + content, f.query, f.topic, f.person))
    return out


def memory_payload(f: Fact) -> dict[str, object]:
    """The JSON body item of ``POST /v1/cubes/{id}/memories`` for a fact."""
    return {"content": f.content, "metadata": {"topic": f.topic, "person": f.person}, "tags": [f.topic]}


def pick_queries(facts: list[Fact], n: int, *, seed: int = 11) -> list[tuple[int, str]]:
    """``n`` (index of the source fact, paraphrasing query) pairs."""
    r = random.Random(seed)
    idx = [r.randrange(len(facts)) for _ in range(n)]
    return [(i, facts[i].query) for i in idx]
