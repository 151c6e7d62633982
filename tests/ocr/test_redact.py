"""Secrets in OCR lines are masked as [redacted:KIND]; everything else is left exactly as read."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screenrecall.ocr.engine import Line
from screenrecall.ocr.redact import KINDS, Redaction, Redactor

BOX = (100, 10, 900, 30)
GHP = "ghp_" + "aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0zA1bC3"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


def masked(text: str, kinds: tuple[str, ...] = KINDS) -> str:
    return Redactor(kinds).redact_text(text)[0]


def test_masks_aws_access_key_in_terminal_export() -> None:
    assert masked("$ export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE") == "$ export AWS_ACCESS_KEY_ID=[redacted:token]"


def test_masks_secrets_in_env_file_and_leaves_other_settings() -> None:
    env = "\n".join(
        [
            "DEBUG=true",
            "PORT=8080",
            "DB_PASSWORD=s3cr3t!x",
            "API_KEY=Zm9vYmFyYmF6cXV4MTIzNDU2",
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "DATABASE_URL_HOST=db.internal",
        ]
    )
    assert masked(env).split("\n") == [
        "DEBUG=true",
        "PORT=8080",
        "DB_PASSWORD=[redacted:password]",
        "API_KEY=[redacted:token]",
        "AWS_SECRET_ACCESS_KEY=[redacted:token]",
        "DATABASE_URL_HOST=db.internal",
    ]


def test_masks_email_in_chat_line() -> None:
    line = "[14:02] Dana: sure, mail it to alice.smith+work@example.co.uk, thanks!"
    assert masked(line) == "[14:02] Dana: sure, mail it to [redacted:email], thanks!"


@pytest.mark.parametrize(
    "number",
    ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5555 5555 5555 4444", "3782 822463 10005"],
)
def test_masks_card_number_in_checkout_form_but_not_expiry_or_cvc(number: str) -> None:
    assert masked(f"Card number {number} 12/27 CVC 123") == "Card number [redacted:card] 12/27 CVC 123"


def test_masks_bearer_token_in_curl_command() -> None:
    line = 'curl -s -H "Authorization: Bearer 7f3kQ9xZpL2mW8vR4tY6uN1bC5" https://api.example.com/v1/me'
    assert masked(line) == 'curl -s -H "Authorization: Bearer [redacted:token]" https://api.example.com/v1/me'


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ASIAY34FZKBOKMUTVV7A", "[redacted:token]"),
        (f"remote: token {GHP} ok", "remote: token [redacted:token] ok"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[redacted:token]"),
        ("OPENAI=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl", "OPENAI=[redacted:token]"),
        ("slack xoxb-123456789012-abcdefABCDEF done", "slack [redacted:token] done"),
        ("key=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q&q=x", "key=[redacted:token]&q=x"),
        (f"jwt: {JWT}", "jwt: [redacted:token]"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "[redacted:token]"),
        ('{"token": "Zm9vYmFyYmF6cXV4MTIzNDU2"}', '{"token": "[redacted:token]"}'),
        ("X-Auth-Token: 0123456789abcdef0123", "X-Auth-Token: [redacted:token]"),
        ("gh auth login --api-key 0123456789abcdefXYZ", "gh auth login --api-key [redacted:token]"),
    ],
)
def test_masks_token_shapes(line: str, expected: str) -> None:
    assert masked(line) == expected


def test_masks_private_key_body_until_its_end_line() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7x9Yk2Lq\nAbCd==\n-----END RSA PRIVATE KEY-----\nhello"
    assert masked(pem) == "[redacted:token]\n[redacted:token]\n[redacted:token]\n-----END RSA PRIVATE KEY-----\nhello"


def test_masks_private_key_inlined_in_json() -> None:
    line = r'"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\nBgkqhkiG9w0=\n-----END PRIVATE KEY-----\n",'
    assert masked(line) == r'"private_key": "[redacted:token]\n-----END PRIVATE KEY-----\n",'


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("password:hunter2", "password:[redacted:password]"),  # OCR dropped the space
        ("Password: hunter2", "Password: [redacted:password]"),
        ("PASSWORD = hunter2 # dev only", "PASSWORD = [redacted:password] # dev only"),
        ("your password is hunter2", "your password is [redacted:password]"),
        ('{"password": "correct horse battery"}', '{"password": "[redacted:password]"}'),
        ("passwd=x9!k", "passwd=[redacted:password]"),
        ("pwd: Tr0ub4dor&3", "pwd: [redacted:password]"),
        ("client_secret: abc123", "client_secret: [redacted:password]"),
        ("Passphrase:  two words", "Passphrase:  [redacted:password] words"),
        ("mysql --password hunter2 -u root", "mysql --password [redacted:password] -u root"),
    ],
)
def test_masks_password_value_and_keeps_label(line: str, expected: str) -> None:
    assert masked(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "def area(width: int, height: int) -> int:  # 2024-03-15",
        "The quick brown fox jumps over the lazy dog, 42 times in 3.5 s.",
        "Order #1234 5678 9012 3456 shipped",  # fails Luhn
        "Order 4111111111111112 shipped",  # fails Luhn
        "run 41111111111111110000 done",  # a card inside a longer digit run
        "ID4111111111111111 and 4111111111111111x",  # glued to a word
        "sent at 1700000000007 ms",  # epoch milliseconds pass Luhn but start with 1
        "pi = 3.4111111111111111",
        "call +1 (555) 010-4477 or 0800 123 4567",
        "commit 3f786850e387550fdab836ed7e6dc881de23001f (HEAD -> main)",
        "request 550e8400-e29b-41d4-a716-446655440000 took 12 ms",
        "if password == expected: return True",
        "tokenizer: bert-base-uncased-whole-word",
        "Author: Alexandrovich-Rimsky-Korsakov",
        "secretary: Jane",
        "$ cd $(pwd)/build && make -j2",
        "alice@laptop:~/src$ ls",
        "@dataclass(frozen=True, slots=True)",
        "see https://example.com/docs/auth?lang=en",
        "password: [redacted:password]",
        "",
    ],
)
def test_leaves_ordinary_text_unchanged(line: str) -> None:
    assert Redactor().redact_text(line) == (line, [])


def test_reports_spans_in_the_original_text_and_boxes_inside_the_line() -> None:
    # 17 characters over 170 px: 10 px each.
    lines = [Line("nothing here", (0, 0, 120, 20), 0.9), Line("password: hunter2", (100, 10, 270, 30), 0.8)]
    out, redactions = Redactor().redact(lines)
    assert out[0] is lines[0]
    assert out[1] == Line("password: [redacted:password]", (100, 10, 270, 30), 0.8)
    # Half a character wider each side, but never outside the line's box.
    assert redactions == [Redaction("password", 1, 10, 17, (195, 10, 270, 30))]
    assert lines[1].text[10:17] == "hunter2"


def test_box_of_a_span_in_the_middle_of_a_line() -> None:
    text = "card 4111 1111 1111 1111 ok"  # 27 characters over 270 px
    _, redactions = Redactor().redact([Line(text, (0, 50, 270, 70))])
    assert [(r.start, r.end, r.box) for r in redactions] == [(5, 24, (45, 50, 245, 70))]


def test_redact_text_spans_count_across_lines() -> None:
    text = "hello\nmail bob@example.org\npassword:x"
    out, spans = Redactor().redact_text(text)
    assert out == "hello\nmail [redacted:email]\npassword:[redacted:password]"
    assert spans == [("email", 11, 26), ("password", 36, 37)]
    assert [text[s:e] for _, s, e in spans] == ["bob@example.org", "x"]


def test_overlapping_finds_are_masked_once_as_their_union_under_the_first_kind() -> None:
    # The labelled token value stops at "@", the e-mail starts with it: one mask, kind token.
    out, spans = Redactor().redact_text("token: abcdefghijklmnop1@example.com end")
    assert (out, spans) == ("token: [redacted:token] end", [("token", 7, 36)])
    assert masked("password: bob@example.org") == "password: [redacted:password]"
    assert masked(f"GITHUB_TOKEN={GHP}") == "GITHUB_TOKEN=[redacted:token]"


def test_disabled_kinds_are_left_alone() -> None:
    line = "bob@example.org password:hunter2 4111 1111 1111 1111 AKIAIOSFODNN7EXAMPLE"
    assert masked(line, ("email",)) == "[redacted:email] password:hunter2 4111 1111 1111 1111 AKIAIOSFODNN7EXAMPLE"
    assert masked(line, ("card", "password")) == (
        "bob@example.org password:[redacted:password] [redacted:card] AKIAIOSFODNN7EXAMPLE"
    )
    assert masked(line, ()) == line
    assert masked("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0", ("card",)).endswith("G9w0")


def test_priority_does_not_depend_on_configured_order() -> None:
    assert Redactor(("email", "password")).kinds == ("password", "email")


def test_unknown_kind_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'ssn'"):
        Redactor(("card", "ssn"))
    with pytest.raises(TypeError):
        Redactor("card")


def test_redacting_masked_lines_again_finds_nothing() -> None:
    lines = [Line(f"Authorization: Bearer {JWT}", BOX), Line("password:hunter2 bob@example.org", BOX)]
    redactor = Redactor()
    once, _ = redactor.redact(lines)
    assert redactor.redact(once) == (once, [])


FRAGMENTS = [
    "password", "Password: ", "pwd=", "secret is ", "token", "api_key=", "Authorization: Bearer ", '"', "'", ":",
    "=", " ", "-", "4111", "1111", "4111 1111 1111 1111", "5555555555554444", "12/27", "@", "bob", "example.com",
    ".", "AKIAIOSFODNN7EXAMPLE", GHP, JWT, "-----BEGIN PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0", "sk-",
    "abcdefghijklmnopqrstu", "0123456789", "[redacted:card]", "hunter2", "é", "\t",
]  # fmt: skip
line_texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=12).map("".join)


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(line_texts, min_size=1, max_size=4))
def test_only_reported_spans_change_and_a_second_pass_changes_nothing(texts: list[str]) -> None:
    redactor = Redactor()
    lines = [Line(text, BOX) for text in texts]
    once, redactions = redactor.redact(lines)
    for index, (line, out) in enumerate(zip(lines, once, strict=True)):
        mine = [r for r in redactions if r.line_index == index]
        expected, done = "", 0
        for r in mine:
            assert done <= r.start < r.end <= len(line.text)  # sorted, disjoint, inside the text
            expected += line.text[done : r.start] + f"[redacted:{r.kind}]"
            done = r.end
        assert out.text == expected + line.text[done:]
        assert out.box == line.box
    assert redactor.redact(once) == (once, [])


def test_redacts_a_screen_of_text_well_under_a_millisecond_per_line() -> None:
    samples = [
        "    def _cards_in_chain(text: str, chain: list[Span]) -> Iterator[Span]:  # left to right",
        "2024-11-28 15:02:11 INFO writer: flushed 64 records in 12.5 ms (queue 0/256) ok",
        "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE; export AWS_DEFAULT_REGION=eu-west-1",
        "Card number 4111 1111 1111 1111   Expiry 12/27   CVC 123   Name on card: A SMITH",
        "From: alice.smith@example.co.uk  To: bob@example.org  Subject: quarterly numbers",
    ]
    lines = [Line((samples[i % len(samples)] + " " * 80)[:80], BOX) for i in range(100)]
    redactor = Redactor()
    best = min(_timed(redactor, lines) for _ in range(5))
    assert best / len(lines) < 0.5e-3


def _timed(redactor: Redactor, lines: list[Line]) -> float:
    started = time.perf_counter()
    redactor.redact(lines)
    return time.perf_counter() - started


def test_a_form_field_read_as_its_own_line_after_a_password_label_is_masked() -> None:
    from screenrecall.ocr.engine import Line

    lines = [
        Line("Username", (20, 100, 110, 120)),
        Line("bob", (200, 100, 240, 120)),
        Line("Password", (20, 140, 110, 160)),
        Line("hunter2", (200, 140, 280, 160)),  # the field, on the label's row
        Line("Password:", (20, 200, 120, 220)),
        Line("s3cr3t-value", (20, 226, 150, 246)),  # the field, just below its label
        Line("Remember me", (20, 300, 150, 320)),
    ]
    masked, redactions = Redactor().redact(lines)
    assert [line.text for line in masked] == [
        "Username",
        "bob",
        "Password",
        "[redacted:password]",
        "Password:",
        "[redacted:password]",
        "Remember me",
    ]
    assert [(r.kind, r.line_index) for r in redactions] == [("password", 3), ("password", 5)]


def test_a_field_value_read_before_its_label_is_still_masked() -> None:
    from screenrecall.ocr.engine import Line

    # OCR's reading order put the field first: its box starts a few pixels above the label's row.
    lines = [Line("Thistle-misty-24!", (981, 446, 1114, 475)), Line("Password", (975, 419, 1052, 444))]
    masked, _ = Redactor().redact(lines)
    assert [line.text for line in masked] == ["[redacted:password]", "Password"]
