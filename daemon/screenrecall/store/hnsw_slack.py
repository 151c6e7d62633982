"""Zeroes the unused capacity of Chroma's vector-index files.

Chroma 1.5's HNSW index (its hnswlib fork) allocates room for `max_elements` vectors with malloc and
writes the whole allocation to data_level0.bin (and a length per slot to length.bin). The slots past
the elements in use hold whatever the process's heap held before: measured, freed SQLite pages with
the OCR text of records that were since forgotten. The header's element count bounds every read of
those files, so zeroing the slack while no Chroma has the store open changes nothing Chroma sees;
it runs when the store is opened and again after it is closed.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

logger = logging.getLogger(__name__)

# header.bin, version 1: version, offsetLevel0, max_elements, cur_element_count, size_data_per_element,
# label_offset, offsetData, maxlevel, enterpoint_node, maxM, maxM0, M, mult, ef_construction.
_HEADER = struct.Struct("<iQQQQQQiIQQQdQ")
_LENGTH_BYTES = 4  # length.bin: one uint32 per slot


def zero_slack(store_dir: Path) -> int:
    """Zeroes the unused slots of every vector index under store_dir; returns the bytes zeroed.
    Call only while no Chroma client has the store open (the process lock is held)."""
    zeroed = 0
    for header in store_dir.glob("*/header.bin"):
        try:
            zeroed += _zero_index(header.parent)
        except (OSError, struct.error, ValueError) as exc:
            logger.warning("could not clear the unused part of %s: %s", header.parent.name, exc)
    if zeroed:
        logger.debug("zeroed %d bytes of unused vector-index slots", zeroed)
    return zeroed


def _zero_index(index_dir: Path) -> int:
    raw = (index_dir / "header.bin").read_bytes()
    if len(raw) != _HEADER.size:
        return 0  # another layout: leave it alone
    version, _, max_elements, count, per_element, *_ = _HEADER.unpack(raw)
    if version != 1 or per_element <= 0 or not 0 <= count <= max_elements:
        return 0
    data, lengths = index_dir / "data_level0.bin", index_dir / "length.bin"
    zeroed = 0
    if data.exists() and data.stat().st_size == max_elements * per_element:
        zeroed += _zero_tail(data, count * per_element)
    if lengths.exists() and lengths.stat().st_size == max_elements * _LENGTH_BYTES:
        zeroed += _zero_tail(lengths, count * _LENGTH_BYTES)
    return zeroed


def _zero_tail(path: Path, start: int) -> int:
    with path.open("r+b") as handle:
        handle.seek(start)
        tail = handle.read()
        if not any(tail):
            return 0
        handle.seek(start)
        handle.write(bytes(len(tail)))
    return len(tail)
