"""A record's pictures, the thumbnail and the readable full-size frame: written only once redaction
ran on that very frame, and removed together when the record goes."""

from __future__ import annotations

from screenrecall.pipeline.frame_archive import FrameArchive
from screenrecall.pipeline.messages import Record
from screenrecall.pipeline.text_pairing import Pair
from screenrecall.pipeline.thumbnails import ThumbnailStore


class RecordPictures:
    """Used on the writer's thread only (the archive itself is thread-safe for the API's reads)."""

    def __init__(self, thumbnails: ThumbnailStore | None, frames: FrameArchive | None) -> None:
        self._thumbnails = thumbnails
        self._frames = frames  # readable full-size frames; follow the thumbnails' life exactly

    def write(self, record_id: str, pair: Pair) -> str:
        """Writes the pictures with the frame's secrets already hidden and returns the thumbnail's
        path; none when redaction could not run on this frame."""
        item, found = pair.item, pair.text
        if item.text_expected and (found is None or found.status != "read"):
            return ""  # OCR (and so redaction) did not run on this frame: no picture of it
        hidden = found.redacted_boxes if found is not None else ()
        if self._frames is not None and item.full_pixels is not None:
            frame = item.frame
            stream = f"{frame.source}:{frame.monitor}" if frame.source == "screen" else ""
            self._frames.write(record_id, item.full_pixels, hidden, (item.width, item.height), stream)
        if self._thumbnails is None:
            return ""
        size = found.frame_size if found is not None else (item.width, item.height)
        return self._thumbnails.write(record_id, item.frame.pixels, hidden, size)

    def remove_thumbnail(self, record: Record) -> None:
        """A version of a record replaced before it was written: its successor has its own thumbnail."""
        if self._thumbnails is not None:
            self._thumbnails.remove(record.thumbnail)

    def remove_all(self, record: Record) -> None:
        """Every picture of a record that is gone (forgotten, or given up unwritten)."""
        self.remove_thumbnail(record)
        if self._frames is not None:
            self._frames.remove(record.id)
