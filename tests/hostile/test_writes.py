"""Hostile output paths: every file the studio writes replaces only a regular file, all at once.

Special files are made in the test's own folder (a device node like /dev/null, a FIFO, a socket), so
a regression replaces those, never the machine's /dev/null. Writes run through the real CLI and the
real `safe_io` helper; interruptions are real (`ulimit -f` in a child process, racing threads).
"""

from __future__ import annotations

import os
import re
import resource
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from prospect_core.infra import safe_io
from prospect_core.infra.errors import UserError
from tests.hostile.test_cli import AS_OF, REPO, error_line, run_cli


def device(folder: Path) -> Path:
    path = folder / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the same device as /dev/null
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


def fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe")
    return folder / "pipe"


def unix_socket(folder: Path) -> Path:
    path = folder / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


def directory(folder: Path) -> Path:
    (folder / "dir").mkdir()
    return folder / "dir"


def symlink(folder: Path) -> Path:
    (folder / "real.bin").write_bytes(b"the file the link points to")
    (folder / "link").symlink_to(folder / "real.bin")
    return folder / "link"


def symlink_to_a_device(folder: Path) -> Path:
    (folder / "link").symlink_to(device(folder))
    return folder / "link"


# (case, makes the target, expected message, how the target must look afterwards)
SPECIAL_TARGETS = [
    ("character device", device, "is a character device, not a regular file", stat.S_ISCHR),
    ("FIFO", fifo, "is a FIFO (named pipe), not a regular file", stat.S_ISFIFO),
    ("socket", unix_socket, "is a socket, not a regular file", stat.S_ISSOCK),
    ("directory", directory, "is a directory, not a regular file", stat.S_ISDIR),
    ("symbolic link", symlink, "is a symbolic link, and writing would replace the link", stat.S_ISLNK),
]


def still(path: Path, is_kind) -> bool:
    return is_kind(os.lstat(path).st_mode)


@pytest.mark.parametrize("case, make, message, is_kind", SPECIAL_TARGETS, ids=[row[0] for row in SPECIAL_TARGETS])
def test_safe_io_refuses_special_targets_in_one_line(tmp_path, case, make, message, is_kind):
    target = make(tmp_path)
    with pytest.raises(safe_io.WriteTargetError, match=re.escape(message)) as refused:
        safe_io.write_bytes(target, b"data", what="the model artifact")
    assert "\n" not in str(refused.value) and str(target) in str(refused.value)
    assert still(target, is_kind)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no scratch left


def cli_commands(target: Path, db: Path, as_of: list[str] = AS_OF) -> dict[str, list[str]]:
    source = ["--source", f"duckdb:{db}", *as_of]
    return {
        "demo-data --db": ["demo-data", "--db", str(target), "--users", "20"],
        "dataset --out": ["dataset", *source, "--out", str(target)],
        "train --out": ["train", *source, "--out", str(target)],
        "train --card": ["train", *source, "--out", str(target.parent / "m.joblib"), "--card", str(target)],
    }


@pytest.mark.parametrize("command", ["demo-data --db", "dataset --out", "train --out", "train --card"])
@pytest.mark.parametrize("case, make, message, is_kind", SPECIAL_TARGETS, ids=[row[0] for row in SPECIAL_TARGETS])
def test_every_cli_output_refuses_special_targets_before_working(capsys, tmp_path, hostile_db, command, case, make,
                                                                  message, is_kind):
    target = make(tmp_path)
    code, out, err = run_cli(capsys, cli_commands(target, hostile_db)[command])
    assert code == 2 and out == ""
    assert message in error_line(err)
    assert "building the training set" not in err and "writing demo events" not in err  # refused before any work
    assert still(target, is_kind) and not (tmp_path / "m.joblib").exists()


@pytest.mark.parametrize("command", ["demo-data --db", "dataset --out", "train --out"])
def test_follow_symlinks_replaces_the_file_the_link_points_to(capsys, tmp_path, tiny_demo_db, command):
    link = symlink(tmp_path)
    quick = ["--n-estimators", "3"] if command.startswith("train") else []
    code, _, err = run_cli(capsys, [*cli_commands(link, tiny_demo_db, as_of=[])[command], "--follow-symlinks", *quick])
    assert code == 0, err
    assert link.is_symlink() and (tmp_path / "real.bin").read_bytes() != b"the file the link points to"
    assert (tmp_path / "real.bin").stat().st_size > 1000


def test_follow_symlinks_still_refuses_a_link_to_a_device(capsys, tmp_path, hostile_db):
    link = symlink_to_a_device(tmp_path)
    code, _, err = run_cli(capsys, ["dataset", "--source", f"duckdb:{hostile_db}", *AS_OF, "--out", str(link),
                                    "--follow-symlinks"])
    assert code == 2 and "is a character device, not a regular file" in error_line(err)
    assert stat.S_ISCHR(os.stat(link).st_mode)


def test_a_write_that_fails_verification_leaves_the_old_file(tmp_path):
    target = tmp_path / "model.joblib"
    target.write_bytes(b"the complete earlier file")

    def write(building: Path) -> int:
        building.write_bytes(b"half")
        return 100  # what should have been written

    with pytest.raises(UserError, match=r"the written file is incomplete \(4 of 100 bytes\); the earlier file"):
        safe_io.write_file(target, write, what="the model artifact",
                           verify=lambda building, size: None if building.stat().st_size == size else
                           f"{building.stat().st_size} of {size} bytes")
    assert target.read_bytes() == b"the complete earlier file"
    assert [p.name for p in tmp_path.iterdir()] == ["model.joblib"]


def frame_of(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"event_id": [f"e{i}" for i in range(rows)], "value": range(rows)})


def test_racing_parquet_writes_leave_one_complete_file_and_readers_never_see_a_partial_one(tmp_path):
    """Eight writers of different sizes race on one path while a reader reads it the whole time."""
    target = tmp_path / "set.parquet"
    safe_io.write_parquet(target, frame_of(10))
    sizes = [1_000 * (index + 1) for index in range(8)]
    stop, problems, reads = threading.Event(), [], [0]

    def read_all_the_time() -> None:
        while not stop.is_set():
            try:
                rows = len(pd.read_parquet(target))
            except Exception as error:  # any failure here is the bug this test looks for
                problems.append(repr(error))
            else:
                reads[0] += 1
                if rows not in {10, *sizes}:
                    problems.append(f"{rows} rows")

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    writers = [threading.Thread(target=lambda n=n: [safe_io.write_parquet(target, frame_of(n)) for _ in range(5)])
               for n in sizes]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()
    assert problems == [] and reads[0] > 10
    assert len(pd.read_parquet(target)) in sizes
    assert [p.name for p in tmp_path.iterdir()] == ["set.parquet"]


def dataset_command(db: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "prospect_core", "dataset", "--source", f"duckdb:{db}", "--out", str(out)]


def test_two_cli_dataset_runs_on_one_path_leave_a_readable_file(tmp_path, tiny_demo_db):
    out = tmp_path / "set.parquet"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen(dataset_command(tiny_demo_db, out), cwd=REPO, env=environment, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert all(code == 0 for code, _, _ in results), results
    assert len(pd.read_parquet(out)) > 100 and [p.name for p in tmp_path.iterdir()] == ["set.parquet"]


def test_a_dataset_write_cut_short_by_ulimit_keeps_the_old_file(tmp_path, tiny_demo_db):
    """`ulimit -f` stops the write half-way (Python ignores SIGXFSZ, so the write fails with EFBIG)."""
    out = tmp_path / "set.parquet"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(dataset_command(tiny_demo_db, out), cwd=REPO, env=environment, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before, size = out.read_bytes(), out.stat().st_size

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    cut = subprocess.run(dataset_command(tiny_demo_db, out), cwd=REPO, env=environment,
                         capture_output=True, text=True, timeout=300, preexec_fn=limit_file_size)
    assert cut.returncode != 0 and "Traceback" not in cut.stderr, cut.stderr
    assert "cannot write the training set at" in error_line(cut.stderr) and "File too large" in cut.stderr
    assert out.read_bytes() == before and len(pd.read_parquet(out)) > 100
    assert [p.name for p in tmp_path.iterdir()] == ["set.parquet"]


def test_the_demo_database_on_a_fifo_is_refused_without_blocking(tmp_path):
    """A FIFO used to make the write block until a reader came; now it is refused at once."""
    from prospect_core.events.demo_data import write_demo_db

    pipe = fifo(tmp_path)
    with pytest.raises(safe_io.WriteTargetError, match="is a FIFO"):
        write_demo_db(pipe, n_users=20)
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
