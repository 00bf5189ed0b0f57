"""Uploads, hostile until read: each session's own folder, swept when the session or its TTL ends.

An upload lives in this session's own folder (a random name, mode 0700, outside every data folder
the DuckDB path box accepts), its type is read from its first bytes, and the folder goes when the
session's state does, or after UPLOAD_TTL_SECONDS unused (swept every few minutes while anyone uses
uploads), whichever comes first.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import streamlit as st

from prospect_core.infra.paths import UPLOAD_ROOT
from prospect_core.studio import keys

UPLOAD_TTL_SECONDS = 6 * 3600


class UploadFolder:
    """A session's private folder for uploads, removed when this object is garbage-collected."""

    def __init__(self, root: Path = UPLOAD_ROOT) -> None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if root.is_symlink() or not root.is_dir() or root.stat().st_uid != os.getuid():  # planted in /tmp by another user
            raise OSError(f"{root} is not a folder of this server's user; remove it and upload again")
        self.path = Path(tempfile.mkdtemp(dir=root, prefix="session-"))  # random name, mode 0700
        self._remove = weakref.finalize(self, shutil.rmtree, str(self.path), ignore_errors=True)

    def touch(self) -> None:
        """Mark the folder as in use, so the TTL sweep leaves it alone."""
        try:
            os.utime(self.path)
        except OSError:
            pass


def sweep_uploads(root: Path = UPLOAD_ROOT, *, ttl_seconds: float = UPLOAD_TTL_SECONDS) -> list[Path]:
    """Delete session folders unused for `ttl_seconds` (their session ended without cleaning up)."""
    removed = []
    cutoff = time.time() - ttl_seconds
    for folder in root.glob("session-*") if root.is_dir() else ():
        try:
            if folder.is_dir() and not folder.is_symlink() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        except OSError:
            continue
    return removed


_SWEEP_EVERY_SECONDS = 600
_last_sweep = [0.0]  # when this server last swept, shared by its sessions


def upload_folder() -> UploadFolder:
    """This session's upload folder, created on first use; every few minutes, old folders are swept."""
    if time.monotonic() - _last_sweep[0] > _SWEEP_EVERY_SECONDS:
        _last_sweep[0] = time.monotonic()
        sweep_uploads()
    folder = st.session_state.get(keys.UPLOAD_FOLDER)
    if folder is None or not folder.path.is_dir():
        folder = st.session_state[keys.UPLOAD_FOLDER] = UploadFolder()
    folder.touch()
    return folder


def own_upload(path: str | Path) -> Path | None:
    """The file at `path`, resolved, when it lies in this session's own upload folder; else None.

    Every session's folder sits under one root, so a path is not trusted for being an upload: only
    this session's folder is this session's. No folder is created to answer."""
    folder = st.session_state.get(keys.UPLOAD_FOLDER)
    if folder is None:
        return None
    try:
        resolved = Path(path).resolve()
        return resolved if resolved.is_relative_to(folder.path.resolve()) and resolved.is_file() else None
    except (OSError, ValueError, RuntimeError):  # a name too long, a NUL byte, a symlink loop
        return None


def display_name(name: str) -> str:
    """The uploaded file's own name, reduced to characters that are safe in a path and on screen."""
    kept = "".join(char if char.isalnum() or char in "._- " else "_" for char in Path(name).name).strip(" .")
    return kept[:100] or "upload"


def save_upload(upload: Any) -> Path:
    """Keep an upload in this session's folder under its own name; only the latest upload is kept."""
    data = upload.getvalue()
    folder = upload_folder().path
    place = folder / hashlib.sha256(data).hexdigest()[:16]  # the same file again reuses its load
    path = place / display_name(upload.name)
    for earlier in folder.iterdir():
        if earlier != place:
            shutil.rmtree(earlier, ignore_errors=True)
    if not path.is_file():
        place.mkdir(exist_ok=True)
        partial = place / ".partial"
        partial.write_bytes(data)
        partial.replace(path)
    return path
