"""Export throughput against its ceiling, and the exporter's memory at two sizes, measured in one run.

    .venv/bin/python -m benchmarks.export_bench [--antibodies 100000] [--rss 10000,200000]

1. The 60 published therapeutics are imported and numbered by the real engine (IMGT); their abdb JSON
   export is the template. N annotated antibodies are made from it, each with CDR residues substituted
   (consistently in the chain, its domains, regions and numbering), and loaded with ``abdb import json``.
2. ``abdb export json`` and ``abdb export airr`` (subprocesses, end to end, to a file) are timed.
3. The ceilings, on the same database in the same run: ``psql \\copy (SELECT …) TO`` of the same columns —
   for JSON every column the export reads from each table of the tree, for AIRR one row per chain with its
   IMGT regions and V/J alleles — into files. The ratio is ceiling seconds ÷ export seconds (target ≥ 60%).
4. With ``--rss``, peak RSS of ``abdb export json`` and ``abdb export airr`` (``VmHWM``, see ``peak_rss``)
   after loading each size in turn: memory must not grow with the database.

Uses the embedded PostgreSQL in a temporary folder, or the server of ``ABDB_BENCH_DATABASE_URL`` when set.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from abdb.backends.embedded import binaries_dir
from benchmarks.import_bench import fresh_database, psql_environment, server

REPO = Path(__file__).resolve().parent.parent
THERAPEUTICS = REPO / "fixtures" / "good_therapeutics.fasta"
RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
JSON_CEILING = {  # the columns `abdb export json` reads, table by table
    "regions": "SELECT domain_id, region_type, start_position, end_position, sequence, confidence_score "
    "FROM antibody_regions",
    "domains": "SELECT id, chain_id, numbering_scheme, domain_type, start_position, end_position, sequence, "
    "confidence_score, numbering FROM antibody_domains",
    "chains": "SELECT antibody_sequence_id, id, name, chain_type, locus, sequence, description, metadata "
    "FROM antibody_chains",
    "features": "SELECT sequence_id, chain_id, feature_type, name, value, start_position, end_position, "
    "confidence_score, source, metadata FROM sequence_features",
    "results": "SELECT job_id, tool_name, tool_version, input_data, output_data, execution_time, success, "
    "error_details FROM external_tool_results",
    "jobs": "SELECT sequence_id, id, job_type, status, input_data, output_data, error_message, started_at, "
    "completed_at FROM processing_jobs",
    "sequences": "SELECT s.id, s.name, s.description, s.is_public, s.created_at, s.content_checksum, s.metadata, "
    "r.id, r.command, r.started_at FROM antibody_sequences s LEFT JOIN import_runs r ON r.id = s.import_run_id",
}
_REGIONS = ("FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4")
AIRR_CEILING = (  # a row per chain: what `abdb export airr` writes
    "SELECT s.id, s.name, c.name, c.locus, c.sequence, d.sequence, "
    + ", ".join(
        f"max(r.sequence) FILTER (WHERE r.region_type = '{region}'), "
        f"max(r.start_position) FILTER (WHERE r.region_type = '{region}'), "
        f"max(r.end_position) FILTER (WHERE r.region_type = '{region}')"
        for region in _REGIONS
    )
    + ", (SELECT string_agg(f.value, ',') FROM sequence_features f WHERE f.sequence_id = s.id AND f.chain_id = c.id "
    "AND f.name IN ('V allele', 'J allele')) "
    "FROM antibody_sequences s JOIN antibody_chains c ON c.antibody_sequence_id = s.id "
    "LEFT JOIN antibody_domains d ON d.antibody_sequence_id = c.antibody_sequence_id AND d.chain_id = c.id "
    "AND d.numbering_scheme = 'IMGT' AND d.domain_type = 'VARIABLE' "
    "LEFT JOIN antibody_regions r ON r.antibody_sequence_id = d.antibody_sequence_id AND r.domain_id = d.id "
    "GROUP BY s.id, c.antibody_sequence_id, c.id, d.antibody_sequence_id, d.id"
)


def abdb(url: URL, *arguments: str) -> tuple[float, int, str]:
    """Run ``abdb`` (through ``benchmarks.peak_rss``); (seconds, its peak RSS in kB, stdout)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ABDB_")}
    with tempfile.TemporaryDirectory(prefix="abdb-bench-rss-") as folder:
        peak = Path(folder) / "peak"
        command = [sys.executable, "-m", "benchmarks.peak_rss", str(peak)]
        started = time.perf_counter()
        completed = subprocess.run(
            [*command, "--database-url", url.render_as_string(hide_password=False), *arguments],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        seconds = time.perf_counter() - started
        if completed.returncode:
            raise SystemExit(f"abdb {' '.join(arguments)} failed ({completed.returncode}): {completed.stderr[-2000:]}")
        return seconds, int(peak.read_text()), completed.stdout


def psql(url: URL, script: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(binaries_dir() / "psql"), "--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-c", script],
        env=psql_environment(url),
        check=True,
    )
    return time.perf_counter() - started


def ceiling(url: URL, queries: list[str], folder: Path) -> float:
    """psql \\copy (SELECT …) TO files of every query, in one psql per query (as a user would)."""
    return sum(psql(url, f"\\copy ({query}) TO '{folder / f'ceiling_{i}.tsv'}'") for i, query in enumerate(queries))


def templates(url: URL, folder: Path) -> list[dict[str, Any]]:
    abdb(url, "import", "fasta", str(THERAPEUTICS), "--annotate", "--quiet")
    target = folder / "templates.jsonl"
    abdb(url, "export", "json", "-o", str(target))
    return [json.loads(line) for line in target.read_text().splitlines()]


def substitute(document: dict[str, Any], chain: dict[str, Any], position: int, residue: str) -> None:
    """Residue ``position`` (1-based) of ``chain`` becomes ``residue`` everywhere it is written."""
    sequence = chain["sequence"]
    chain["sequence"] = sequence[: position - 1] + residue + sequence[position:]
    for domain in chain["domains"]:
        if domain["start"] <= position <= domain["end"]:
            offset = position - domain["start"]
            domain["sequence"] = domain["sequence"][:offset] + residue + domain["sequence"][offset + 1 :]
            if domain["numbering"]:
                domain["numbering"][offset][2] = residue
            for region in domain["regions"]:
                if region["start"] <= position <= region["end"]:
                    at = position - region["start"]
                    region["sequence"] = region["sequence"][:at] + residue + region["sequence"][at + 1 :]
    document.pop("checksum", None)  # recomputed by the import


def variants(models: list[dict[str, Any]], first: int, count: int) -> list[str]:
    """Antibodies ``first`` … ``first + count - 1`` as abdb JSON lines: the models with three residues of
    each chain's CDRs substituted (the same numbers always give the same antibodies)."""
    rng = random.Random(first)
    lines = []
    for number in range(first, first + count):
        document = copy.deepcopy(models[number % len(models)])
        document["name"] = f"{document['name']}-{number:07d}"
        for chain in document["chains"]:
            cdrs = [
                region
                for domain in chain["domains"]
                if domain["scheme"] == "IMGT"
                for region in domain["regions"]
                if region["region_type"].startswith("CDR")
            ]
            for region in rng.sample(cdrs, min(3, len(cdrs))):
                substitute(document, chain, rng.randint(region["start"], region["end"]), rng.choice(RESIDUES))
        lines.append(json.dumps(document, separators=(",", ":")) + "\n")
    return lines


def load(url: URL, models: list[dict[str, Any]], count: int, folder: Path, first: int = 0) -> float:
    """Load antibodies ``first`` … ``first + count - 1`` with ``abdb import json``; its seconds."""
    path = folder / f"load_{first}.jsonl"
    with path.open("w") as handle:
        for start in range(first, first + count, 10_000):
            handle.writelines(variants(models, start, min(10_000, first + count - start)))
    seconds, _, _ = abdb(url, "import", "json", str(path), "--quiet")
    path.unlink()
    return seconds


def measure(url: URL, folder: Path) -> dict[str, tuple[float, int]]:
    found = {}
    for kind in ("json", "airr"):
        target = folder / f"export.{kind}"
        seconds, rss, _ = abdb(url, "export", kind, "-o", str(target))
        found[kind] = (seconds, rss)
        target.unlink()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--antibodies", type=int, default=100_000)
    parser.add_argument("--rss", default="", help="sizes to measure peak RSS at, e.g. 10000,200000")
    arguments = parser.parse_args()
    with server() as root, tempfile.TemporaryDirectory(prefix="abdb-bench-export-") as scratch:
        folder = Path(scratch)
        model_url = fresh_database(root, "abdb_bench_models")
        models = templates(model_url, folder)
        url = fresh_database(root, "abdb_bench_export")
        load_seconds = load(url, models, arguments.antibodies, folder)
        print(f"loaded {arguments.antibodies:,} annotated antibodies with abdb import json in {load_seconds:.1f} s")
        measured = measure(url, folder)
        ceilings = {
            "json": ceiling(url, list(JSON_CEILING.values()), folder),
            "airr": ceiling(url, [AIRR_CEILING], folder),
        }
        for kind, (seconds, rss) in measured.items():
            print(
                f"abdb export {kind}: {seconds:.2f} s (peak RSS {rss / 1024:.0f} MB); psql \\copy ceiling "
                f"{ceilings[kind]:.2f} s; ratio to the ceiling {ceilings[kind] / seconds:.0%} (target: at least 60%)"
            )
        if arguments.rss:
            rss_url = fresh_database(root, "abdb_bench_rss")
            loaded = 0
            for size in (int(s) for s in arguments.rss.split(",")):
                load(rss_url, models, size - loaded, folder, first=loaded)
                loaded = size
                for kind, (seconds, rss) in measure(rss_url, folder).items():
                    print(f"{size:>9,} antibodies: abdb export {kind} peak RSS {rss / 1024:.0f} MB ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
