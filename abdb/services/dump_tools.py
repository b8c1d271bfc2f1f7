"""The wheel's pg_dump and pg_restore 18, run with ``--verbose`` so that their per-table lines become progress
(tables done of tables to do); every other line is kept for the error message."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

from abdb.backends.embedded import binaries_dir

# (done, total, item): called once per table (dumped or restored) or index and constraint (restore builds)
TableProgress = Callable[[int, int, str], None]

# The items counted: tables' data, and on restore the indexes and constraints built after it. Serial runs name
# an item when they start it; parallel ones when a worker finishes it.
ITEM_KINDS = ("TABLE DATA", "INDEX", "CONSTRAINT", "FK CONSTRAINT")
_ITEM = re.compile(
    r"(?:(dumping contents of table|processing data for table)|creating (INDEX|CONSTRAINT|FK CONSTRAINT)) "
    r'"(?:[^"]*\.)?([^"]+)"|finished item \d+ (TABLE DATA|INDEX|CONSTRAINT|FK CONSTRAINT) (.+?)\s*$'
)
_WORTH_KEEPING = ("error:", "warning:", "detail:", "hint:", "fatal:")


def tool(name: str) -> str:
    return str(binaries_dir() / name)


def run_tool(command: list[str], env: dict[str, str], total: int, on_progress: TableProgress | None) -> tuple[int, str]:
    """Run the tool with --verbose; return its exit code and the lines of its stderr that are not progress.
    Interrupted (Ctrl-C, SIGTERM), the tool is killed before the interruption goes on."""
    seen: set[tuple[str, str]] = set()
    kept: list[str] = []
    process = subprocess.Popen(
        [*command, "--verbose"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, errors="replace",
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            found = _ITEM.search(line)
            if found:
                kind = "TABLE DATA" if found.group(1) else found.group(2) or found.group(4)
                name = found.group(3) or found.group(5)
                if (kind, name) not in seen:
                    seen.add((kind, name))
                    if on_progress is not None:
                        on_progress(min(len(seen), total), total, name if kind == "TABLE DATA" else f"{name} (index)")
            elif any(word in line.lower() for word in _WORTH_KEEPING):
                kept.append(line.rstrip("\n"))
        return process.wait(), "\n".join(kept)
    except BaseException:
        process.kill()
        process.wait()
        raise


def restore_items(source: str, env: dict[str, str]) -> int:
    """How many tables' data, indexes and constraints a dump holds (entries of its TOC): the restore's total."""
    listed = subprocess.run(
        [tool("pg_restore"), "--list", source], env=env, capture_output=True, text=True, check=False
    )
    entries = [line for line in listed.stdout.splitlines() if not line.startswith(";")]
    return sum(1 for line in entries if any(f" {kind} " in line for kind in ITEM_KINDS))
