"""Errors that carry a message meant for the person using the product.

Everything the CLI and the app show to a user derives from `UserError`: the message says what was
wrong and what is expected, so callers print `str(error)` and keep going. Any other exception is a
bug and is allowed to surface as one.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix by changing an input; the message says how."""


class SpecError(UserError, ValueError):
    """A `TrainingSpec` field is out of range or malformed."""


class SourceError(UserError):
    """A data source cannot be opened or queried."""


class DatasetError(UserError):
    """The training set cannot be used as asked (empty, one class, too small for a split)."""
