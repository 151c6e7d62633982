"""The wall clock going back must not freeze the periodic jobs (APScheduler triggers are wall-clock times)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tests.support.recall import recall_config, running_app


def test_a_backward_clock_jump_reschedules_the_jobs_from_now(tiny_bundle: Path) -> None:
    with running_app(recall_config(tiny_bundle)) as app:
        assert app.scheduler is not None
        assert not app.check_clock()  # no jump
        # What the clock going back an hour does to the triggers: every next run is an hour away.
        for job in app.scheduler.get_jobs():
            job.modify(next_run_time=job.next_run_time + timedelta(hours=1))
        anchor_wall, anchor_mono = app._clock_anchor
        app._clock_anchor = (anchor_wall + 3600, anchor_mono)  # the wall clock now reads an hour earlier
        assert app.check_clock()
        soon = datetime.now().astimezone() + timedelta(seconds=2)
        assert all(job.next_run_time <= soon for job in app.scheduler.get_jobs())
