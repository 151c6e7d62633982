"""CPU and memory of a process from /proc: whole-process samples, per-thread CPU, resident memory by kind."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    at: float  # time.monotonic()
    cpu_s: float  # user + system CPU seconds of all the process's threads so far
    rss_kb: int
    hwm_kb: int  # peak RSS so far


def proc_sample(pid: int) -> ProcSample:
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of stat(5)
    memory = _status_kb(pid, ("VmRSS", "VmHWM"))
    return ProcSample(time.monotonic(), cpu, memory["VmRSS"], memory["VmHWM"])


@dataclass(frozen=True)
class TreeSample:
    """A process and all its descendants (the daemon and its OCR reader child) at one moment."""

    rss_kb: int  # VmRSS summed
    cpu_s: float  # user + system CPU seconds so far, summed (children already reaped included)
    processes: int
    own_rss_kb: int  # VmRSS of the process alone


def tree_sample(pid: int) -> TreeSample:
    """Fails if pid itself is gone; a descendant that ends while we look is left out."""
    own = proc_sample(pid)
    rss, cpu, count = own.rss_kb, _stat_cpu(pid, reaped=True), 1
    for member in descendants(pid):
        try:
            # A child that exited and was not yet waited for (a zombie) has no VmRSS but still its CPU
            # time, which moves to the parent's cutime only when it is reaped: count it until then.
            cpu += _stat_cpu(member)
            rss += _status_kb(member, ("VmRSS",)).get("VmRSS", 0)
        except (FileNotFoundError, ProcessLookupError):
            continue  # reaped while we looked: its time is in the parent's cutime from now on
        count += 1
    return TreeSample(rss, cpu, count, own.rss_kb)


def _stat_cpu(pid: int, reaped: bool = False) -> float:
    """utime + stime (fields 14, 15 of stat(5)); with reaped, plus cutime + cstime: children waited for."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name (field 2) may hold spaces
    ticks = sum(int(f) for f in fields[11 : 15 if reaped else 13])
    return ticks / CLK_TCK


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of pid (from /proc/PID/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def _status_kb(pid: int, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            found[key] = int(value.split()[0])
    return found


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each thread: {tid: (OS thread name, seconds)}."""
    out: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:
            continue  # the thread ended while we looked
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def cpu_percent(first: ProcSample, last: ProcSample) -> float:
    """Share of one core used between two samples, in percent."""
    return 100.0 * (last.cpu_s - first.cpu_s) / max(last.at - first.at, 1e-9)


def memory_breakdown(pid: int, top: int = 8) -> dict[str, Any]:
    """Resident memory by kind (anonymous / file-backed) and the largest file mappings, in MB."""
    kinds = _status_kb(pid, ("RssAnon", "RssFile", "RssShmem"))
    by_file: dict[str, int] = {}
    current = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and not parts[0].endswith(":"):  # a mapping's header: address perms offset dev inode [path]
            current = parts[5] if len(parts) > 5 else "[anonymous]"
        elif parts and parts[0] == "Rss:":
            by_file[current] = by_file.get(current, 0) + int(parts[1])
    largest = sorted(by_file.items(), key=lambda item: item[1], reverse=True)[:top]
    return {
        **{f"{key}_mb": round(kb / 1024, 1) for key, kb in kinds.items()},
        "largest_mb": {Path(name).name or name: round(kb / 1024, 1) for name, kb in largest},
    }
