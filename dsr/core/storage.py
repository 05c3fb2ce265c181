"""Exported records on disk: encrypted, written and read as a stream.

A file is a sequence of frames, each ``[4-byte length][AES-GCM ciphertext]`` of a
batch of JSON lines, so neither writing nor reading holds more than one batch in
memory, and nothing is ever on disk in clear.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import msgspec
from django.conf import settings

from dsr.core.crypto import decrypt_bytes, encrypt_bytes

_PURPOSE = "export-file"
_BLOB_PURPOSE = "bundle-file"
_FRAME = struct.Struct(">I")
BATCH = 500
# JSON lines through msgspec (C): the same JSON the standard library writes, about five times
# faster both ways, which is most of the cost of a large export and its bundle. A value JSON
# has no form for is written as its text, as before.
_ENCODER = msgspec.json.Encoder(enc_hook=str)
_DECODER = msgspec.json.Decoder()


def export_root() -> Path:
    return Path(settings.DSR_EXPORT_DIR)


@dataclass
class WriteSummary:
    path: str
    records: int = 0
    sha256: str = ""
    by_category: dict[str, int] = field(default_factory=dict)


def write_records(relative: str, records: Iterable[dict[str, Any]]) -> WriteSummary:
    """Write ``records`` (dicts with ``category`` and ``fields``) to ``relative`` under the root."""
    path = export_root() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    summary = WriteSummary(path=relative)
    digest = hashlib.sha256()
    try:
        _write_frames(tmp, records, summary, digest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    summary.sha256 = digest.hexdigest()
    return summary


def _write_frames(tmp: Path, records: Iterable[dict[str, Any]], summary: WriteSummary, digest: Any) -> None:
    with open(tmp, "wb") as fh:
        batch: list[bytes] = []

        def flush() -> None:
            if not batch:
                return
            frame = encrypt_bytes(b"\n".join(batch), purpose=_PURPOSE)
            chunk = _FRAME.pack(len(frame)) + frame
            fh.write(chunk)
            digest.update(chunk)
            batch.clear()

        for record in records:
            batch.append(_ENCODER.encode(record))
            summary.records += 1
            category = record.get("category", "records")
            summary.by_category[category] = summary.by_category.get(category, 0) + 1
            if len(batch) >= BATCH:
                flush()
        flush()
        fh.flush()
        os.fsync(fh.fileno())


class Line(msgspec.Struct):
    """One exported record whose fields are left as the JSON they were written as."""

    category: Any = "records"
    fields: msgspec.Raw = msgspec.Raw(b"{}")


_LINES = msgspec.json.Decoder(Line)


def read_records(relative: str) -> Iterator[dict[str, Any]]:
    for _, records in read_frames(relative):
        yield from records


def read_frames(relative: str, offsets: Iterable[int] | None = None) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(offset, records) of each frame of an export file, or of the frames at ``offsets``.

    A reader that needs only some records (one category of many) notes the offsets of the
    frames that hold them, and reads just those again.
    """
    for offset, clear in _clear_frames(relative, offsets):
        yield offset, _DECODER.decode_lines(clear)


def read_lines(relative: str, offsets: Iterable[int] | None = None) -> Iterator[tuple[int, list[Line]]]:
    """Like :func:`read_frames`, with each record's fields kept as their JSON: to be copied, not read."""
    for offset, clear in _clear_frames(relative, offsets):
        yield offset, _LINES.decode_lines(clear)


def _clear_frames(relative: str, offsets: Iterable[int] | None) -> Iterator[tuple[int, bytes]]:
    with open(export_root() / relative, "rb") as fh:
        if offsets is None:
            while header := fh.read(_FRAME.size):
                (length,) = _FRAME.unpack(header)
                yield fh.tell() - _FRAME.size, decrypt_bytes(fh.read(length), purpose=_PURPOSE)
            return
        for offset in offsets:
            fh.seek(offset)
            (length,) = _FRAME.unpack(fh.read(_FRAME.size))
            yield offset, decrypt_bytes(fh.read(length), purpose=_PURPOSE)


def delete(relative: str) -> None:
    if relative:
        (export_root() / relative).unlink(missing_ok=True)


class EncryptedWriter:
    """A binary file written in encrypted frames of up to 1 MiB; never in clear on disk."""

    FRAME_BYTES = 1024 * 1024

    def __init__(self, relative: str) -> None:
        self.path = export_root() / relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_suffix(self.path.suffix + ".part")
        self.buffer = bytearray()
        self.fh: Any = None

    def __enter__(self) -> Self:
        self.fh = open(self.tmp, "wb")
        return self

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= self.FRAME_BYTES:
            self._frame(bytes(self.buffer[: self.FRAME_BYTES]))
            del self.buffer[: self.FRAME_BYTES]

    def _frame(self, chunk: bytes) -> None:
        frame = encrypt_bytes(chunk, purpose=_BLOB_PURPOSE)
        self.fh.write(_FRAME.pack(len(frame)) + frame)

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            if exc_type is None:
                if self.buffer:
                    self._frame(bytes(self.buffer))
                self.fh.flush()
                os.fsync(self.fh.fileno())
        finally:
            self.fh.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def read_decrypted(relative: str) -> Iterator[bytes]:
    """The clear bytes of an :class:`EncryptedWriter` file, a frame at a time."""
    with open(export_root() / relative, "rb") as fh:
        while header := fh.read(_FRAME.size):
            (length,) = _FRAME.unpack(header)
            yield decrypt_bytes(fh.read(length), purpose=_BLOB_PURPOSE)
