"""Middle stage: takes frames and files from the inbox, reads and letterboxes them, and runs the
image encoder; each embedding goes on to the writer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from screenrecall.capture.untrusted_image import BadImage
from screenrecall.encode.image import EncodeError, ImageEncoder
from screenrecall.encode.letterbox import letterbox
from screenrecall.encode.runtime import ModelRuntime
from screenrecall.encode.tiles import Gathering, tile_views
from screenrecall.pipeline.frame_archive import FullFrameBudget
from screenrecall.pipeline.in_order import InOrder
from screenrecall.pipeline.inbox import EncodeInbox
from screenrecall.pipeline.messages import Embedded, Embedding, FileJob, Frame, Pixels
from screenrecall.pipeline.stage import Stage
from screenrecall.pipeline.thumbnails import shrink
from screenrecall.pipeline.writer import Writer

logger = logging.getLogger(__name__)

FileReader = Callable[[FileJob], Frame]
SkipHandler = Callable[[str, str], None]  # (file path, reason): a folder file that was not embedded
# After stop, keep draining for at most this long; files left over are caught up at next start.
DRAIN_S = 5.0


class TextReader(Protocol):
    """The OCR stage as the embedder sees it: offers that never wait."""

    def offer(self, frame: Frame) -> None: ...

    def offer_file(self, job: FileJob) -> None: ...


@dataclass
class EmbedderStats:
    encoded: int = 0
    encode_errors: int = 0
    files_rejected: int = 0
    last_frame_ms: int = 0


@dataclass(frozen=True, slots=True)
class _Pending:
    frame: Frame  # pixels already shrunk to thumbnail size
    width: int
    height: int
    gathering: Gathering | None = None  # with tiles: collects the frame's parts
    part: int = 0  # 0: the whole frame; 1..: a tile
    full: Pixels | None = None  # the full frame, for the readable-frame archive
    ticket: int = 0  # the frame's place in submission order (its tiles share it)


class Embedder(Stage):
    """One thread feeding the AsyncInferQueue; `submit` blocking is the backpressure on the inbox."""

    def __init__(
        self,
        inbox: EncodeInbox,
        runtime: ModelRuntime,
        writer: Writer,
        read_file: FileReader,
        *,
        thumbnail_px: int,
        on_skipped: SkipHandler | None = None,
        on_rejected: Callable[[FileJob], None] | None = None,
        text_reader: TextReader | None = None,
        tile_grid: int = 0,
        full_frames: FullFrameBudget | None = None,
    ) -> None:
        self._inbox = inbox
        self._writer = writer
        self._read_file = read_file
        self._thumbnail_px = thumbnail_px
        self._side = runtime.image_side
        self._on_skipped = on_skipped
        self._on_rejected = on_rejected  # a file that will never be a usable image as it is
        self._text_reader = text_reader
        self._tile_grid = tile_grid  # 0: whole frames only; 2: also a 2x2 grid of tiles
        self._full_frames = full_frames  # None: no readable-frame archive
        self._encoder: ImageEncoder[_Pending] = runtime.image_encoder(self._on_result, self._on_error)
        self._in_order: InOrder[Embedded] = InOrder(writer.put)
        self._stopping = threading.Event()
        self.stats = EmbedderStats()
        super().__init__("embedder")

    def stop(self) -> None:
        """Closes the inbox; the thread drains it (up to DRAIN_S), waits for inference, then ends."""
        self._stopping.set()
        self._inbox.close()

    @property
    def in_flight(self) -> int:
        return self._encoder.in_flight

    def _run(self) -> None:
        deadline: float | None = None
        try:
            while True:
                self._beat()
                if self._stopping.is_set() and deadline is None:
                    deadline = time.monotonic() + DRAIN_S
                if deadline is not None and time.monotonic() > deadline:
                    logger.info("stopping: leaving the rest of the inbox for the next start")
                    break
                item = self._inbox.get(timeout=0.5)
                if item is None:
                    if self._stopping.is_set():
                        break
                    continue
                self._process(item)
        finally:
            self._encoder.wait_all()

    def _process(self, item: Frame | FileJob) -> None:
        if isinstance(item, FileJob):
            try:
                frame = self._read_file(item)
            except BadImage as exc:
                self._reject(item, str(exc))
                return
        else:
            frame = item
        width, height = frame.size
        small = replace(frame, pixels=shrink(frame.pixels, self._thumbnail_px))
        # One pass over the full frame, not two: the model's 224 square is made from the (320 px)
        # thumbnail when that is big enough; embeddings differ by < 0.0002 in cosine, and it saves
        # ~2.7 ms a frame, which on 2 busy cores is inference time.
        source = small.pixels if max(small.size) >= self._side else frame.pixels
        square = letterbox(source, self._side)
        full = self._full_frames.take(frame.pixels) if self._full_frames is not None else None
        ticket = self._in_order.ticket()
        if self._tile_grid < 2:
            self._encoder.submit(square, _Pending(small, width, height, full=full, ticket=ticket))
        else:
            tiles = tile_views(frame.pixels, self._tile_grid)
            gathering = Gathering(1 + len(tiles))
            self._encoder.submit(square, _Pending(small, width, height, gathering, 0, full, ticket))
            for part, tile in enumerate(tiles, start=1):
                pending = _Pending(small, width, height, gathering, part, full, ticket)
                self._encoder.submit(letterbox(tile, self._side), pending)
        # Full-size pixels live on only in OCR's small inbox; files are re-read from disk there.
        if self._text_reader is not None:
            if isinstance(item, FileJob):
                self._text_reader.offer_file(item)
            else:
                self._text_reader.offer(frame)

    def _reject(self, job: FileJob, reason: str) -> None:
        self.stats.files_rejected += 1
        self._inbox.file_done()
        logger.warning("skipped a file that is not a usable image: %s", reason)
        logger.debug("the skipped file: %s", job.path)  # paths only at DEBUG: they can be private
        if self._on_rejected is not None:
            try:
                self._on_rejected(job)
            except Exception:  # a caller's bug must not kill the stage
                logger.exception("on_rejected handler failed")
        self._skipped(job.path, reason)

    def _skipped(self, path: str, reason: str) -> None:
        if self._on_skipped is None:
            return
        try:
            self._on_skipped(path, reason)
        except Exception:  # a caller's bug must not kill the stage
            logger.exception("on_skipped handler failed")

    def _on_result(self, pending: _Pending, embedding: Embedding) -> None:
        # OpenVINO's thread: short, and never raises (the encoder catches and routes to _on_error).
        gathering = pending.gathering
        if gathering is None:
            self._deliver(pending, embedding, ())
        elif gathering.add(pending.part, embedding):
            self._complete(pending, gathering)

    def _complete(self, pending: _Pending, gathering: Gathering) -> None:
        whole = gathering.whole
        if whole is None:
            self._failed(pending, EncodeError("the whole frame could not be embedded"))
        else:
            self._deliver(pending, whole, gathering.tiles)

    def _deliver(self, pending: _Pending, embedding: Embedding, tiles: tuple[Embedding, ...]) -> None:
        self.stats.encoded += 1
        self.stats.last_frame_ms = pending.frame.captured_at_ms
        expects_text = self._text_reader is not None
        embedded = Embedded(pending.frame, pending.width, pending.height, embedding, tiles, expects_text, pending.full)
        self._in_order.finish(pending.ticket, embedded)

    def _on_error(self, pending: _Pending, exc: Exception) -> None:
        gathering = pending.gathering
        if gathering is None:
            self._failed(pending, exc)
        elif gathering.add(pending.part, None):
            self._complete(pending, gathering)

    def _failed(self, pending: _Pending, exc: Exception) -> None:
        self._in_order.finish(pending.ticket, None)
        self.stats.encode_errors += 1
        logger.warning("a %s frame could not be embedded: %s", pending.frame.source, exc)
        if pending.frame.source == "folder":
            self._inbox.file_done()
            self._skipped(pending.frame.path, str(exc))
