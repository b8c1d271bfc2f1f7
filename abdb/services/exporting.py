"""Data comes back out: `abdb export fasta|airr|json`, `abdb list` and `abdb show`.

Every read runs in one REPEATABLE READ, READ ONLY snapshot (an import running meanwhile is in it whole or
not at all) and walks the selection in keyset pages of ``PAGE`` antibodies, each loaded with one statement
per table: memory stays bounded by a page whatever the size of the database. Records go to a writer
function as they are made, so ``| head`` stops the export at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from abdb.config import Settings
from abdb.database import Database, using
from abdb.domain.exported import AirrChain, ExportedAntibody
from abdb.domain.selection import Selection
from abdb.domain.vocabulary import RegionType
from abdb.errors import ConfigurationError, NotFoundError
from abdb.io.airr_out import airr_line
from abdb.io.airr_out import header as airr_header
from abdb.io.fasta_out import WHAT_CHAINS, WHAT_VDOMAINS, FastaCounts, fasta_records
from abdb.repositories.exports import where_of
from abdb.services.snapshot_pages import PAGE, Loader, pages
from abdb.unit_of_work import UnitOfWork

SCHEMES = ("imgt", "kabat", "chothia")
T = TypeVar("T")


@dataclass
class ExportReport:
    antibodies: int = 0
    records: int = 0
    renamed: int = 0
    selected: int = 0  # antibodies the selection holds (counted first, for progress)


@dataclass(frozen=True)
class FastaOptions:
    what: str = WHAT_CHAINS  # chains, vdomains, or a region type (CDR3, FR1, …)
    scheme: str = "imgt"

    def checked(self) -> FastaOptions:
        what = self.what if self.what in (WHAT_CHAINS, WHAT_VDOMAINS) else self.what.upper()
        regions = [r.value for r in RegionType if r.value.startswith(("CDR", "FR"))]
        if what not in (WHAT_CHAINS, WHAT_VDOMAINS, *regions):
            raise ConfigurationError(f"--what {self.what}: choose chains, vdomains or a region ({', '.join(regions)})")
        if self.scheme.lower() not in SCHEMES:
            raise ConfigurationError(f"--scheme {self.scheme}: choose from {', '.join(SCHEMES)}")
        return FastaOptions(what, self.scheme.lower())


@dataclass(frozen=True)
class AntibodySummary:
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    is_public: bool
    chains: list[str] = field(default_factory=list)  # "heavy (HEAVY, IGH)"
    schemes: list[str] = field(default_factory=list)  # schemes with a variable domain


def _trees(scheme: str | None) -> Loader[ExportedAntibody]:
    return lambda uow, ids: uow.exports.load(ids, scheme)


def _airr(scheme: str) -> Loader[list[AirrChain]]:
    return lambda uow, ids: uow.exports.airr_chains(ids, scheme)


def _documents(uow: UnitOfWork, ids: list[uuid.UUID]) -> list[str]:
    return uow.documents.load(ids)


def _export(
    target: Database | Settings,
    selection: Selection,
    load: Loader[T],
    records: Callable[[T], Iterator[str]],
    write: Callable[[str], object],
    on_progress: Callable[[int, int], None] | None,
    jobs: int = 1,
) -> ExportReport:
    """Write ``records(antibody)`` of every selected antibody, from one snapshot, page by page (loaded by
    ``jobs`` connections sharing the snapshot)."""
    report = ExportReport()
    with using(target) as database:
        database.require_head("`abdb export`")
        with database.unit_of_work() as uow:
            uow.exports.begin_snapshot()
            where, params = where_of(selection)
            report.selected = uow.exports.count(where, params)
            for antibody in pages(database, uow, where, params, load, jobs):
                for record in records(antibody):
                    write(record)
                    report.records += 1
                report.antibodies += 1
                if on_progress is not None and report.antibodies % PAGE == 0:
                    on_progress(report.antibodies, report.selected)
    if on_progress is not None:
        on_progress(report.antibodies, report.selected)
    return report


def export_fasta(
    target: Database | Settings,
    selection: Selection,
    options: FastaOptions,
    write: Callable[[str], object],
    on_progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Write the selected antibodies' FASTA records with ``write``; ``on_progress(done, total)`` per page."""
    options = options.checked()
    counts = FastaCounts()
    scheme = None if options.what == WHAT_CHAINS else options.scheme.upper()
    report = _export(
        target,
        selection,
        _trees(scheme),
        lambda antibody: fasta_records(antibody, options.what, counts),
        write,
        on_progress,
    )
    report.renamed = counts.renamed
    return report


def export_airr(
    target: Database | Settings,
    selection: Selection,
    scheme: str,
    write: Callable[[str], object],
    on_progress: Callable[[int, int], None] | None = None,
) -> ExportReport:
    """Write AIRR Rearrangement TSV (a header, then a row per chain or variable domain) with ``write``."""
    if scheme.lower() not in SCHEMES:
        raise ConfigurationError(f"--scheme {scheme}: choose from {', '.join(SCHEMES)}")
    write(airr_header())
    upper = scheme.upper()
    return _export(target, selection, _airr(upper), lambda rows: map(airr_line, rows), write, on_progress)


def export_json(
    target: Database | Settings,
    selection: Selection,
    write: Callable[[str], object],
    on_progress: Callable[[int, int], None] | None = None,
    jobs: int = 2,
) -> ExportReport:
    """Write abdb JSON Lines (one whole antibody per line, ``"format": "abdb/1"``) with ``write``; the
    server builds the lines, on ``jobs`` connections sharing one snapshot."""
    if jobs < 1:
        raise ConfigurationError("--jobs must be at least 1")
    return _export(target, selection, _documents, lambda document: iter((document + "\n",)), write, on_progress, jobs)


def list_antibodies(target: Database | Settings, selection: Selection, limit: int | None) -> list[AntibodySummary]:
    with using(target) as database:
        database.require_head("`abdb list`")
        with database.unit_of_work() as uow:
            uow.exports.begin_snapshot()
            found: list[AntibodySummary] = []
            where, params = where_of(selection)
            for antibody in pages(database, uow, where, params, _trees(None), page=min(PAGE, limit or PAGE)):
                if limit is not None and len(found) >= limit:
                    break
                found.append(_summary(antibody))
            return found


def show_antibody(target: Database | Settings, wanted: str, scheme: str | None = None) -> list[ExportedAntibody]:
    """The antibodies named ``wanted`` (names are not unique), or the one with that id; exit 7 if none."""
    if scheme is not None and scheme.lower() not in SCHEMES:
        raise ConfigurationError(f"--scheme {scheme}: choose from {', '.join(SCHEMES)}")
    with using(target) as database:
        database.require_head("`abdb show`")
        with database.unit_of_work() as uow:
            uow.exports.begin_snapshot()
            ids = uow.exports.by_name_or_id(wanted)
            if not ids:
                raise NotFoundError(f"no antibody named {wanted!r} or with that id", hint="`abdb list` shows names")
            return uow.exports.load(ids, scheme.upper() if scheme else None)


def _summary(antibody: ExportedAntibody) -> AntibodySummary:
    chains = [
        f"{chain.name} ({chain.chain_type}{', ' + chain.locus if chain.locus else ''})" for chain in antibody.chains
    ]
    schemes = sorted(
        {domain.scheme for chain in antibody.chains for domain in chain.domains if domain.domain_type == "VARIABLE"}
    )
    return AntibodySummary(antibody.id, antibody.name, antibody.created_at, antibody.is_public, chains, schemes)
