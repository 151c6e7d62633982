"""Each tool's arguments as a strict pydantic model: the JSON schema agents see, and the validation they get."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screenrecall.errors import ScreenrecallError
from screenrecall.recall.when import parse_when

TIME_HELP = "a time: ISO 8601 (2026-11-28T14:00, local when no zone), a duration ago (90s, 15m, 2h, 3d), today, now"


class ArgumentError(ScreenrecallError):
    """A tool was called with arguments it cannot use; the message names the argument."""


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


ArgumentsT = TypeVar("ArgumentsT", bound=_Arguments)


class SearchScreen(_Arguments):
    query: str = Field(min_length=1, max_length=1000, description="what was seen, in words (matched by look and text)")
    since: str | None = Field(None, description=f"only moments still visible at or after this time; {TIME_HELP}")
    until: str | None = Field(None, description=f"only moments that began at or before this time; {TIME_HELP}")
    app: str | None = Field(None, max_length=200, description="regex on the window's application class, e.g. firefox")
    monitor: int | None = Field(None, ge=1, le=64, description="1-based monitor number")
    source: Literal["screen", "folder"] | None = Field(None, description="screen captures or watched-folder images")
    mode: Literal["hybrid", "visual", "text"] = Field(
        "hybrid", description="hybrid: look and words fused; visual: by look only; text: by words only"
    )
    limit: int = Field(10, ge=1, le=50, description="most moments returned")


class GetMoment(_Arguments):
    id: str = Field(min_length=1, max_length=200, description="a moment's id, as search_screen and others return it")
    include_image: bool = Field(True, description="also return the frame as an image")


class RecentActivity(_Arguments):
    minutes: float = Field(30, gt=0, le=24 * 60, description="how far back to look, in minutes (up to a day)")


class CurrentScreen(_Arguments):
    monitor: int | None = Field(None, ge=1, le=64, description="1-based monitor number; all monitors when absent")


class Forget(_Arguments):
    since: str = Field(description=f"start of the range to delete; {TIME_HELP}")
    until: str = Field(description=f"end of the range to delete; {TIME_HELP}")


def parsed(model: type[ArgumentsT], arguments: dict[str, Any] | None) -> ArgumentsT:
    """The arguments as the model, or ArgumentError saying which argument is wrong and why."""
    try:
        return model.model_validate(arguments or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"]) or "arguments"
            problems.append(f"{where}: {error['msg']}")
        raise ArgumentError("; ".join(problems)) from None


def epoch_ms(name: str, text: str | None) -> int | None:
    """A time argument as epoch milliseconds."""
    if text is None:
        return None
    try:
        return parse_when(text)
    except ScreenrecallError as exc:
        raise ArgumentError(f"{name}: {exc}") from None


def time_range(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    start, end = epoch_ms("since", since), epoch_ms("until", until)
    if start is not None and end is not None and start > end:
        raise ArgumentError("since must not be after until")
    return start, end


def input_schema(model: type[_Arguments]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema
