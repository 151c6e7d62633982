"""Process resource limits the daemon sets for itself at start-up."""

from __future__ import annotations

import logging
import resource

logger = logging.getLogger(__name__)

# Chroma's files, the model, the API's connections (capped at 128) and inotify watches all take
# descriptors; the common soft limit of 1024 is close enough to reach under load.
WANTED_OPEN_FILES = 8192


def raise_open_files_limit(wanted: int = WANTED_OPEN_FILES) -> int:
    """Raises the soft RLIMIT_NOFILE towards `wanted` (never past the hard limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open-files limit from %d (%s)", soft, exc)
    return soft
