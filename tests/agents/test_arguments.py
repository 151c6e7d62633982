"""Tool arguments: strict models whose errors name the argument, and times as people type them."""

from __future__ import annotations

import time

import pytest

from screenrecall.agents.arguments import (
    ArgumentError,
    CurrentScreen,
    SearchScreen,
    input_schema,
    parsed,
    time_range,
)


def test_every_problem_is_named_in_one_message() -> None:
    with pytest.raises(ArgumentError) as caught:
        parsed(SearchScreen, {"query": " ", "limit": 99, "extra": 1})
    assert str(caught.value) == (
        "query: String should have at least 1 character; limit: Input should be less than or equal to 50; "
        "extra: Extra inputs are not permitted"
    )


def test_defaults_fill_what_is_not_given() -> None:
    args = parsed(SearchScreen, {"query": "an invoice"})
    assert (args.mode, args.limit, args.since, args.app) == ("hybrid", 10, None, None)
    assert parsed(CurrentScreen, None).monitor is None


def test_times_accept_durations_words_and_iso_and_must_be_in_order() -> None:
    since, until = time_range("2h", "now")
    assert since is not None and until is not None
    assert abs(until - since - 2 * 3600 * 1000) < 2000 and abs(until - time.time() * 1000) < 2000
    assert time_range("2026-11-28T14:00", None)[0] is not None
    with pytest.raises(ArgumentError, match="since must not be after until"):
        time_range("now", "1h")
    with pytest.raises(ArgumentError, match="until: bad time 'soonish'"):
        time_range(None, "soonish")


def test_the_schema_agents_see_is_closed_and_described() -> None:
    schema = input_schema(SearchScreen)
    assert schema["additionalProperties"] is False and schema["required"] == ["query"]
    assert all(field.get("description") for field in schema["properties"].values())
    assert schema["properties"]["limit"]["maximum"] == 50
