"""Where the studio keeps its files: the repository, the demo database, caches and uploads.

Each place can be moved with an environment variable, so a server (or a test) can keep its data
outside the clone. Nothing here creates a folder: the code that writes there does.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # prospect_core/infra/paths.py
DATA_DIR = REPO_ROOT / "data"  # git-ignored


def demo_db_path() -> Path:
    """Where the embedded demo database lives: $PROSPECT_DEMO_DB, else data/demo.duckdb."""
    return Path(os.environ.get("PROSPECT_DEMO_DB") or DATA_DIR / "demo.duckdb")


def events_cache_dir() -> Path:
    """Where loaded events files are cached as DuckDB databases: $PROSPECT_CACHE_DIR, else data/cache."""
    return Path(os.environ.get("PROSPECT_CACHE_DIR") or DATA_DIR / "cache")


# The app's per-session upload folders: under the system's temporary folder, outside every data
# folder the DuckDB path box accepts (prospect_core.studio.uploads).
UPLOAD_ROOT = Path(tempfile.gettempdir()) / "prospect-studio-uploads"
