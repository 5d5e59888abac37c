"""Tiny helper for the hand-written update cases (see README.md).

Each case is written individually in make_updates_dev.py / make_updates_heldout.py;
this module only fills in ids, speakers of existing facts and event times
(the message times increase case by case; existing facts come weeks before).
"""
import datetime as _dt
import json

_CODES = {"A": "ADD", "U": "UPDATE", "N": "NOOP"}


class Builder:
    def __init__(self, prefix, start):
        self.prefix = prefix
        self.clock = _dt.datetime.fromisoformat(start)
        self.cases = []

    @staticmethod
    def _ts(t):
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def c(self, category, speaker, existing, text, expected):
        """existing: list of str or (content, speaker); expected: list of
        (fact, 'A') | (fact, 'U', target) | (fact, 'N', target)."""
        n = len(self.cases)
        self.clock += _dt.timedelta(hours=19 + (n * 7) % 41, minutes=(n * 13) % 60)
        msg_t = self.clock
        ex = []
        for j, e in enumerate(existing):
            content, who = (e, speaker) if isinstance(e, str) else e
            t = msg_t - _dt.timedelta(days=9 * (len(existing) - j) + (n % 5), hours=(j * 5) % 11)
            ex.append({"content": content, "speaker": who, "event_time": self._ts(t)})
        exp = []
        for e in expected:
            fact, code = e[0], _CODES[e[1]]
            target = e[2] if len(e) > 2 else None
            exp.append({"fact": fact, "decision": code, "target": target})
        self.cases.append({
            "id": f"{self.prefix}-{n + 1:03d}", "category": category, "speaker": speaker,
            "existing": ex,
            "message": {"speaker": speaker, "text": text, "event_time": self._ts(msg_t)},
            "expected": exp,
        })

    def dump(self, path):
        with open(path, "w", encoding="utf-8") as f:
            for case in self.cases:
                f.write(json.dumps(case, ensure_ascii=False) + "\n")
        return len(self.cases)
