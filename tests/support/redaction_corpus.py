"""The labelled redaction corpus (tests/data/redaction_corpus.tsv) and its precision/recall per kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from screenrecall.ocr.redact import KINDS, Redactor

CORPUS = Path(__file__).resolve().parent.parent / "data" / "redaction_corpus.tsv"


@dataclass(frozen=True)
class Case:
    kind: str  # "-" for a line with nothing to mask
    secrets: tuple[str, ...]
    text: str  # OCR lines joined by newlines


def load(path: Path = CORPUS) -> list[Case]:
    cases = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw or raw.startswith("#"):
            continue
        kind, secrets, text = raw.split("\t")
        cases.append(Case(kind, tuple(s for s in secrets.split(" && ") if s), text.replace("⏎", "\n")))
    return cases


@dataclass
class Score:
    found: int = 0  # secrets of this kind no longer readable
    missed: list[str] = field(default_factory=list)  # lines whose secret survived
    masks: int = 0  # masks of this kind
    wrong: list[str] = field(default_factory=list)  # lines masked where no secret was

    @property
    def recall(self) -> float:
        total = self.found + len(self.missed)
        return self.found / total if total else 1.0

    @property
    def precision(self) -> float:
        return (self.masks - len(self.wrong)) / self.masks if self.masks else 1.0


def score(cases: Sequence[Case], kinds: Sequence[str] = KINDS) -> dict[str, Score]:
    """Recall: a case counts as found when none of its secrets can be read in the output (whatever
    kind masked it). Precision: a mask is right when it overlaps one of its line's secrets."""
    redactor = Redactor(kinds)
    scores = {kind: Score() for kind in kinds}
    for case in cases:
        out, spans = redactor.redact_text(case.text)
        if case.kind in scores:
            if any(secret in out for secret in case.secrets):
                scores[case.kind].missed.append(case.text)
            else:
                scores[case.kind].found += 1
        targets = [(i, i + len(s)) for s in case.secrets for i in _all(case.text, s)]
        for kind, start, end in spans:
            scores[kind].masks += 1
            if not any(start < t_end and t_start < end for t_start, t_end in targets):
                scores[kind].wrong.append(case.text)
    return scores


def _all(text: str, secret: str) -> list[int]:
    found, at = [], text.find(secret)
    while at >= 0:
        found.append(at)
        at = text.find(secret, at + 1)
    return found
