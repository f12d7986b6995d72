"""Segment files: the entries themselves, length-prefixed and checksummed, in sequence order.

A segment is named for the sequence number of its first entry (`00000000000000000042.seg`) and
holds records of `length (4 bytes, big-endian) || CRC-32 of the payload (4 bytes) || payload`.
The CRC tells a torn write (a crash mid-append) from a complete record; it is no defence against
tampering — the Merkle tree and the signed checkpoints are.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zerogate.audit._entry import MAX_ENTRY_BYTES

_FRAME = struct.Struct(">II")
FRAME_SIZE = _FRAME.size
SUFFIX = ".seg"


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


def segment_paths(directory: Path) -> list[tuple[int, Path]]:
    """(first seq, path) of every segment, in order; other files are ignored."""
    found = []
    for path in directory.glob(f"*{SUFFIX}"):
        stem = path.stem
        if len(stem) == 20 and stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Scan:
    """The complete records of one segment, where they end, and why scanning stopped early."""

    records: list[bytes]
    offsets: list[int]
    end: int  # bytes of complete, checksummed records
    size: int  # bytes in the file
    problem: str = ""  # empty when every byte belongs to a good record


def scan(data: bytes) -> Scan:
    """Split a segment's bytes into records, stopping at the first one that is not whole."""
    records: list[bytes] = []
    offsets: list[int] = []
    view = memoryview(data)
    pos, size = 0, len(data)
    unpack = _FRAME.unpack_from
    crc32 = zlib.crc32
    problem = ""
    while pos < size:
        if size - pos < FRAME_SIZE:
            problem = "a record header is cut short"
            break
        length, crc = unpack(view, pos)
        if length > MAX_ENTRY_BYTES:
            problem = f"a record claims {length} bytes (the limit is {MAX_ENTRY_BYTES})"
            break
        body = pos + FRAME_SIZE
        if body + length > size:
            problem = "a record is cut short"
            break
        payload = bytes(view[body : body + length])
        if crc32(payload) != crc:
            problem = "a record's checksum does not match"
            break
        records.append(payload)
        offsets.append(pos)
        pos = body + length
    return Scan(records, offsets, pos, size, problem)


def read_segment(path: Path) -> Scan:
    return scan(path.read_bytes())


def first_payload(path: Path) -> bytes | None:
    """The first record of a segment, reading only it (None if the segment has none yet)."""
    with path.open("rb") as src:
        head = src.read(FRAME_SIZE)
        if len(head) < FRAME_SIZE:
            return None
        length, crc = _FRAME.unpack(head)
        payload = src.read(min(length, MAX_ENTRY_BYTES))
    return payload if len(payload) == length and zlib.crc32(payload) == crc else None


def payload_at(path: Path, index: int) -> bytes | None:
    """Record `index` of a segment, stepping over the ones before it by their headers only."""
    data = path.read_bytes()
    pos = 0
    for _ in range(index):
        if len(data) - pos < FRAME_SIZE:
            return None
        pos += FRAME_SIZE + _FRAME.unpack_from(data, pos)[0]
    if len(data) - pos < FRAME_SIZE:
        return None
    length, crc = _FRAME.unpack_from(data, pos)
    payload = data[pos + FRAME_SIZE : pos + FRAME_SIZE + length]
    return payload if len(payload) == length and zlib.crc32(payload) == crc else None


def iter_payloads(directory: Path, *, start_seq: int = 0) -> Iterator[tuple[int, bytes]]:
    """(seq, payload) of every complete record from `start_seq` on, by segment order; a torn
    tail of the last segment ends the iteration (readers run beside a live writer)."""
    paths = segment_paths(directory)
    for index, (first, path) in enumerate(paths):
        following = paths[index + 1][0] if index + 1 < len(paths) else None
        if following is not None and following <= start_seq:
            continue
        for offset, payload in enumerate(read_segment(path).records):
            seq = first + offset
            if seq >= start_seq:
                yield seq, payload
