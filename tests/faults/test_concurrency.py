"""Four imports of overlapping files, two annotation workers and a verify, all at once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from abdb.config import Settings
from abdb.domain.checks import Severity
from abdb.services.verify import VerifyOptions, verify
from tests.faults.helpers import antibodies, scalar, start_abdb

POOL = 400


def test_overlapping_imports_annotation_and_verify_at_once_leave_no_duplicates_and_no_errors(
    fresh: URL, tmp_path: Path
) -> None:
    pool = antibodies(POOL, seed=41)
    files = []
    for index in range(4):  # each file shares half of its antibodies with the next one
        chosen = pool[index * 80 : index * 80 + 160]
        path = tmp_path / f"part{index}.fasta"
        path.write_text(
            "".join(f">{a.name}|heavy\n{a.heavy.chain}\n>{a.name}|light\n{a.light.chain}\n" for a in chosen)
        )
        files.append(path)
    expected = len({a.name for i in range(4) for a in pool[i * 80 : i * 80 + 160]})

    processes = [start_abdb(fresh, "import", "fasta", str(path), "--batch-size", "20", "--quiet") for path in files]
    processes.append(start_abdb(fresh, "annotate", "--workers", "2", "--batch-size", "5", "--quiet"))
    processes.append(start_abdb(fresh, "verify", "--format", "json"))
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "deadlock" not in stderr.lower()

    final = start_abdb(fresh, "annotate", "--quiet")  # whatever the imports queued after the workers ran dry
    assert final.wait(timeout=300) == 0, final.communicate()
    assert scalar(fresh, "SELECT count(*) FROM antibody_sequences") == expected
    assert scalar(fresh, "SELECT count(DISTINCT name) FROM antibody_sequences") == expected
    assert scalar(fresh, "SELECT count(*) FROM antibody_chains") == 2 * expected
    assert scalar(fresh, "SELECT count(*) FROM processing_jobs WHERE status = 'COMPLETED'") == expected
    assert scalar(fresh, "SELECT count(*) FROM external_tool_results") == expected  # every job done once
    assert scalar(fresh, "SELECT count(*) FROM antibody_domains WHERE domain_type = 'VARIABLE'") == 2 * expected
    report = verify(Settings(database_url=fresh, home=tmp_path), VerifyOptions(fail_on=Severity.WARNING))
    assert not report.violations, [(r.check.name, r.count) for r in report.violations]
