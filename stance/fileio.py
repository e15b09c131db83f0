"""Files that survive a crash: atomic replacement, line-wise appends, JSON Lines reading."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from stance.errors import InputError


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path`, then rename it over `path`: readers see the old
    file or the complete new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_writer(path) as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=False)
        handle.write("\n")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def dumps_line(record: dict[str, Any]) -> str:
    """One JSON Lines line (with its newline)."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def iter_jsonl(path: str | Path, what: str = "records") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line raises InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; expected a JSON Lines file of {what}")
    with path.open("r", encoding="utf-8-sig") as handle:
        line_no = 0
        while True:
            try:
                line = handle.readline()
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}:{line_no + 1}: not valid UTF-8 ({exc.reason}); expected UTF-8 JSON Lines") from None
            if not line:
                break
            line_no += 1
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno}); expected one JSON object per line") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{line_no}: is a JSON {type(record).__name__}; expected a JSON object")
            yield line_no, record


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
