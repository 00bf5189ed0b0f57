"""Errors that carry a message meant for the person using the product.

Everything the CLI and the app show to a user derives from `UserError`: the message says what was
wrong and what is expected, so callers print `str(error)` and keep going. Any other exception is a
bug and is allowed to surface as one.
"""

from __future__ import annotations

import errno


class UserError(Exception):
    """A problem the user can fix by changing an input; the message says how."""


class SpecError(UserError, ValueError):
    """A `TrainingSpec` field is out of range or malformed."""


class SourceError(UserError):
    """A data source cannot be opened or queried."""


class DatasetError(UserError):
    """The training set cannot be used as asked (empty, one class, too small for a split)."""


def shown(value: object, *, limit: int = 80, quote: bool = True) -> str:
    """`value` as a message shows it: repr'd (or as text with quote=False), cut to `limit` characters.

    User-provided values are echoed so people can find them, but a 5 MB field must not become a 5 MB
    error box.
    """
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def first_line(error: object) -> str:
    """The first line of an exception's text: drivers put the gist there and a dump below it."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def write_failure(what: str, path: object, error: BaseException) -> str:
    """A message for a failed write of `what` at `path`: disk full, read-only or no permission, else the OS's words."""
    code = getattr(error, "errno", None)
    text = str(error)
    if code == errno.ENOSPC or "No space left" in text:
        reason = "the disk is full (no space left on device); free some space and try again"
    elif code == errno.EROFS or "Read-only file system" in text:
        reason = "the file system is read-only; choose a writable location"
    elif code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        reason = "permission denied; choose a location this user may write to"
    else:
        reason = getattr(error, "strerror", None) or first_line(error)
    return f"cannot write {what} at {path}: {reason}"
