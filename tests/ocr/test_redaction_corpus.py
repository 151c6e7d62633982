"""The labelled corpus: every secret kind is found, and ordinary lines (git SHAs, UUIDs, paths) stay."""

from __future__ import annotations

from screenrecall.ocr.redact import KINDS, Redactor
from tests.support.redaction_corpus import load, score

# Lines written after the patterns, without tuning them afterwards: what they still get wrong.
KNOWN_MISSES = {
    "sshpass -f ~/.pw -p 'My Pass 1' ssh host",  # an option with an argument before -p
    "Use 739201 to sign in to Example",  # a code with no label and no "is your ... code"
}
KNOWN_WRONG = {
    "Cookie: _ga=GA1.2.1234567890.1700000000; _session_id=f3a9c2e1b7d84a6c",  # every long cookie value is masked
    "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)",
}


def test_every_kind_is_in_the_corpus_with_positive_and_negative_lines() -> None:
    cases = load()
    assert {case.kind for case in cases} == {*KINDS, "-"}
    assert sum(case.kind == "-" for case in cases) >= 50


def test_no_secret_in_the_corpus_survives_but_the_known_misses() -> None:
    scores = score(load())
    missed = {line for kind_score in scores.values() for line in kind_score.missed}
    assert missed <= KNOWN_MISSES


def test_nothing_is_masked_where_there_is_no_secret_but_the_known_cases() -> None:
    scores = score(load())
    wrong = {line for kind_score in scores.values() for line in kind_score.wrong}
    assert wrong <= KNOWN_WRONG


def test_precision_and_recall_per_kind() -> None:
    for kind, kind_score in score(load()).items():
        assert kind_score.recall >= 0.85, kind
        assert kind_score.precision >= 0.95, kind


def test_git_shas_uuids_and_digests_stay_searchable_with_every_kind_on() -> None:
    redactor = Redactor(KINDS)
    for line in [
        "commit 3f786850e387550fdab836ed7e6dc881de23001f (HEAD -> main)",
        "request 550e8400-e29b-41d4-a716-446655440000 took 12 ms",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "AbstractSingletonProxyFactoryBeanImplementation2 extends Base",
    ]:
        assert redactor.redact_text(line) == (line, [])


def test_prose_after_a_key_whose_end_line_is_not_on_screen_stays_readable() -> None:
    text = "\n".join(
        [
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
            "Remember to rotate this configuration before deploying",
            "deployment checklist and handover notes",
        ]
    )
    out = Redactor().redact_text(text)[0].split("\n")
    assert out[:2] == ["[redacted:token]", "[redacted:token]"]
    assert out[2:] == text.split("\n")[2:]
