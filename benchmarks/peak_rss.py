"""Run one ``abdb`` command in this process and write its peak RSS (``VmHWM``, kB) to a file:

    python -m benchmarks.peak_rss OUT_FILE [abdb arguments…]

``wait4``'s ``ru_maxrss`` cannot be used for this: Linux carries a forked child's pre-``exec`` size (a copy
of the benchmark holding its data) into it. ``VmHWM`` belongs to the address space ``exec`` made anew.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    out, arguments = Path(sys.argv[1]), sys.argv[2:]
    sys.argv = ["abdb", *arguments]
    from abdb.cli.app import main as abdb_main

    try:
        abdb_main()
    finally:
        out.write_text(str(_peak_kb()))


if __name__ == "__main__":
    main()
