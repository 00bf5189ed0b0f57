"""Every file the studio writes (demo database, training set, model, card, events cache) goes through here.

A write happens in a private scratch folder beside the target, is flushed to disk (`fsync`), checked
(the bytes are all there; a Parquet file reads back with its row count; a DuckDB file opens), and only
then renamed over the target in one step. So two runs writing one path, a full disk or a write cut
short by `ulimit -f` leave the old file or the new one, never a corrupt one.

The rename replaces whatever stands at the path, which as root would turn `/dev/null` or a FIFO into
a regular file. So the target must be missing or a regular file: a device, FIFO, socket, directory or
symbolic link is refused in one line before any work starts, and again just before the rename. A
symbolic link is written through (its target replaced, the link kept) only when the caller asks.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from prospect_core.infra.errors import UserError, write_failure

T = TypeVar("T")

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class WriteTargetError(UserError):
    """The output path is not a place a file may be written: it names something other than a regular file."""


def output_path(path: str | os.PathLike[str], *, what: str = "the file", follow_symlinks: bool = False) -> Path:
    """The path to write `what` to: `path` itself, or the file it links to when `follow_symlinks`.

    Refuses (WriteTargetError) a path that exists and is not a regular file. Call it before the work
    that produces the output, so a wrong path is said at once; `write_file` calls it again.
    """
    target = Path(path)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    except OSError as error:
        raise UserError(write_failure(what, target, error)) from None
    if stat.S_ISLNK(mode):
        if not follow_symlinks:
            raise WriteTargetError(
                f"cannot write {what} at {target}: it is a symbolic link, and writing would replace the link; "
                "give the path of the file itself, or ask to follow links (--follow-symlinks)"
            )
        return output_path(target.resolve(), what=what)
    for is_kind, kind in _KINDS:
        if is_kind(mode):
            raise WriteTargetError(
                f"cannot write {what} at {target}: it is {kind}, not a regular file; give a file path "
                "(a new file, or a regular file to replace)"
            )
    return target


def write_file(
    path: str | os.PathLike[str],
    write: Callable[[Path], T],
    *,
    what: str = "the file",
    verify: Callable[[Path, T], str | None] | None = None,
    follow_symlinks: bool = False,
) -> T:
    """Run `write(scratch_path)`, then fsync, verify and rename the scratch file to `path`; `write`'s result.

    `verify(scratch_path, result)` returns None when the file is complete, else what is wrong. An error
    from `write` (OSError, a DuckDB IOException) propagates unchanged once the scratch folder is gone,
    so callers keep their own messages; `path` is untouched whenever anything fails.
    """
    target = output_path(path, what=what, follow_symlinks=follow_symlinks)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as scratch:
        building = Path(scratch) / target.name
        result = write(building)
        _fsync(building)
        problem = verify(building, result) if verify else None
        if problem:
            raise UserError(f"cannot write {what} at {target}: the written file is incomplete ({problem}); "
                            "the earlier file, if any, is unchanged")
        output_path(target, what=what)  # something may have been put there meanwhile
        os.replace(building, target)
    with contextlib.suppress(OSError):  # make the rename durable where the file system can (not all fsync folders)
        _fsync(target.parent)
    return result


def write_bytes(path: str | os.PathLike[str], data: bytes, *, what: str = "the file",
                follow_symlinks: bool = False) -> None:
    """Write `data` to `path` as `write_file` does; any OS error becomes one UserError saying why."""

    def write(building: Path) -> int:
        with os.fdopen(os.open(building, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb") as file:
            file.write(data)
        return len(data)

    def verify(building: Path, size: int) -> str | None:
        written = building.stat().st_size
        return None if written == size else f"{written:,} of {size:,} bytes"

    try:
        write_file(path, write, what=what, verify=verify, follow_symlinks=follow_symlinks)
    except OSError as error:
        raise UserError(write_failure(what, path, error)) from None


def write_parquet(path: str | os.PathLike[str], frame, *, what: str = "the training set",
                  follow_symlinks: bool = False) -> None:
    """Write a DataFrame as Parquet through `write_file`, checking the file reads back with every row."""
    def verify(building: Path, _: None) -> str | None:
        try:
            rows = pq.read_metadata(building).num_rows
        except (OSError, pa.ArrowException) as error:
            return str(error).splitlines()[0][:200]
        return None if rows == len(frame) else f"{rows:,} of {len(frame):,} rows"

    try:
        write_file(path, lambda building: frame.to_parquet(building, index=False), what=what, verify=verify,
                   follow_symlinks=follow_symlinks)
    except OSError as error:  # pyarrow's own I/O errors are OSErrors too
        raise UserError(write_failure(what, path, error)) from None


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
