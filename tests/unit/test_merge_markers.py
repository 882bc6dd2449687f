"""No tracked text file keeps a merge conflict's marker lines (two once stayed in CHANGELOG.md and
bench/README.md after merges: a diff3 base line ``||||||| <commit>``, which nothing else flagged)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import ROOT

# git's conflict markers: ours, the diff3 base, the separator, theirs (seven characters, then a space or the end)
MARKER = re.compile(rb"^(?:<{7}|\|{7}|={7}|>{7})(?: |$)", re.MULTILINE)


def marker_lines(path: Path) -> list[int]:
    """The 1-based numbers of the lines of ``path`` that are conflict markers (none for a binary file)."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return []
    return [data.count(b"\n", 0, m.start()) + 1 for m in MARKER.finditer(data)]


def test_the_check_finds_each_kind_of_marker(tmp_path):
    planted = tmp_path / "CHANGELOG.md"
    planted.write_bytes(b"# Changes\n<<<<<<< HEAD\nours\n||||||| 747fbd1\nbase\n=======\ntheirs\n>>>>>>> tail\n"
                        b"a line with ======= inside, and <<<<<<<< eight\n")
    assert marker_lines(planted) == [2, 4, 6, 8]
    binary = tmp_path / "blob.parquet"
    binary.write_bytes(b"PAR1\0\n||||||| x\n")
    assert marker_lines(binary) == []


def test_no_tracked_file_holds_a_merge_marker():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    names = [name.decode() for name in listed.split(b"\0") if name]
    assert len(names) > 100  # the repository's files, not an empty listing
    found = {name: lines for name in names if (ROOT / name).is_file() and (lines := marker_lines(ROOT / name))}
    assert found == {}
