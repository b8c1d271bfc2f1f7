"""The OAS paired-unit case of ``import_bench``: N paired antibodies with their ANARCI numbering (~31 rows
each: sequence, 2 chains, 2 domains, 14 regions, features) imported with ``abdb import oas``, against the
``psql \\copy`` ceiling of exactly the rows it stores, in one run; and the importer's peak RSS for a unit of
10,000 rows and for the whole unit (it must not grow with the file)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from abdb.domain.records import AntibodyRecord
from abdb.io.oas import OasOptions, read_oas_files
from abdb.numbering.anarci_engine import AnarciEngine
from abdb.numbering.engine import EngineSettings, NumberedDomain
from abdb.services.importing.rows import COLUMNS, RowContext, prepare
from benchmarks.synthetic import read_fasta
from benchmarks.synthetic_oas import PAIRED_HEADER, mutated, paired_row, write_unit

REPO = Path(__file__).resolve().parent.parent
METADATA = {
    "Run": "SRR9999999", "Link": "benchmark", "Author": "abdb", "Species": "human", "Age": "", "BSource": "PBMC",
    "BType": "Memory-B-Cells", "Vaccine": "None", "Disease": "None", "Subject": "Donor-1", "Longitudinal": "no",
    "Unique sequences": 0, "Total sequences": 0, "Isotype": "All", "Chain": "Paired",
}  # fmt: skip


def templates() -> list[tuple[NumberedDomain, NumberedDomain]]:
    """The therapeutics' heavy and light variable domains, numbered (IMGT) by abdb's engine."""
    chains = read_fasta()
    names = sorted({key.split("|")[0] for key in chains})
    engine = AnarciEngine()
    numbered = engine.number([chains[f"{n}|{c}"] for n in names for c in ("heavy", "light")], EngineSettings())
    pairs = []
    for index in range(0, len(numbered), 2):
        heavy, light = numbered[index].domains.get("imgt"), numbered[index + 1].domains.get("imgt")
        if heavy and light:
            pairs.append((heavy[0], light[0]))
    return pairs


def rows(pairs: list[tuple[NumberedDomain, NumberedDomain]], count: int, seed: int = 5) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for number in range(count):
        heavy, light = pairs[number % len(pairs)]
        yield paired_row(mutated(heavy, rng), mutated(light, rng), f"CELL{number:08d}-1", 1 + number % 7)


def write_units(folder: Path, count: int, small: int) -> tuple[Path, Path]:
    pairs = templates()
    whole, part = folder / "SRR9999999_1_Paired_All.csv", folder / "SRR9999998_1_Paired_All.csv"
    write_unit(whole, METADATA, PAIRED_HEADER, rows(pairs, count))
    write_unit(part, {**METADATA, "Run": "SRR9999998"}, PAIRED_HEADER, rows(pairs, small))
    return whole, part


def import_oas(url: URL, unit: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS in kB, rows stored) of ``abdb import oas`` of the unit, end to end."""
    peak = unit.with_suffix(".peak")
    command = [sys.executable, "-m", "benchmarks.peak_rss", str(peak), "--database-url"]
    started = time.perf_counter()
    completed = subprocess.run(
        [*command, url.render_as_string(hide_password=False), "import", "oas", str(unit), "--json", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"abdb import oas failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return seconds, int(peak.read_text()), int(json.loads(completed.stdout)["rows"])


def ceiling_files(unit: Path, folder: Path) -> dict[str, Path]:
    """The COPY text of exactly the rows the import stores, one file per table."""
    files = {table: folder / f"oas_{table}.tsv" for table in COLUMNS}
    handles = [path.open("w") for path in files.values()]
    context = RowContext(public=False, creator_id=None, run_id=None, sha256="0" * 64)
    for item in read_oas_files([(unit, str(unit))], OasOptions()):
        if isinstance(item, AntibodyRecord):
            for handle, text_rows in zip(handles, prepare(item, context).text, strict=True):
                handle.write(text_rows)
    for handle in handles:
        handle.close()
    return files
