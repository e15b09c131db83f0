"""Files that survive a crash: atomic replacement, line-wise appends, JSON Lines reading."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from stance.errors import InputError, StanceError


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
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_writer(path) as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=False)
        handle.write("\n")


def fsync_dir(directory: Path) -> None:
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


def read_utf8(path: str | Path, what: str, error: type[StanceError] = InputError) -> str:
    """The text of a UTF-8 file (a BOM is dropped); `error` names the file, the bad byte and what was expected."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path} cannot be read ({exc.strerror}); expected {what}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 4]
        raise error(f"{path}: not valid UTF-8 at byte {exc.start} (bytes {bad!r}); expected {what} in UTF-8: re-save it as UTF-8") from None


def json_error_at(exc: json.JSONDecodeError) -> str:
    """`<what is wrong> at column <n>` for a JSON text of one line (parsed without its newline, so
    that an error at its end is not reported at "column 1" of the next line)."""
    return f"{exc.msg.removesuffix(' at')} at column {exc.pos + 1}"


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
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{line_no}: not valid JSON ({json_error_at(exc)}); expected one JSON object per line") from None
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


_DISK_FULL_TEXTS = ("No space left on device", "Disk quota exceeded", "os error 28", "os error 122")


def disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk (or the user's quota) is full: an OSError saying so, or a library's
    own error that wraps one (safetensors and tokenizers report `I/O error: ... (os error 28)`)."""
    import errno

    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return any(text in str(exc) for text in _DISK_FULL_TEXTS)


def describe_os_error(exc: OSError) -> str:
    """What a failed file operation means for the user: the file, what went wrong, what to do."""
    import errno

    names = " -> ".join(str(n) for n in (exc.filename, exc.filename2) if n is not None)
    where = f"{names}: " if names else ""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}no space left on the device; free some space and run the same command again (finished files are kept)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{where}{reason}; expected a file or folder this user may read and write"
    if exc.errno == errno.EEXIST:
        return f"{where}a file is in the way; expected a folder (or nothing yet) there"
    if exc.errno == errno.EISDIR:
        return f"{where}is a folder; expected a file"
    if exc.errno == errno.ENOTDIR:
        return f"{where}a part of this path is a file; expected folders up to the last part"
    if exc.errno == errno.ENAMETOOLONG:
        return f"{where}the name is too long for the file system; expected a shorter path"
    return f"{where}{reason}"

