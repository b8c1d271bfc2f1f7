"""What an annotation run is asked to do, and what it did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from abdb.numbering.engine import EngineSettings


@dataclass(frozen=True)
class AnnotateOptions:
    schemes: tuple[str, ...] = ("imgt",)
    species: tuple[str, ...] = ("human", "mouse")
    workers: int = 1
    limit: int | None = None
    batch_size: int = 50
    bit_score_threshold: float = 80.0
    import_run_id: uuid.UUID | None = None  # only the jobs of antibodies this import run stored

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(self.schemes, self.species, self.bit_score_threshold)


@dataclass(frozen=True)
class AnnotateProgress:
    jobs: int  # jobs just finished
    total: int  # jobs this run will take at most (pending when it started, or --limit)


@dataclass
class AnnotateReport:
    completed: int = 0
    failed: int = 0
    chains: int = 0
    seconds: float = 0.0
    engine_seconds: float = 0.0
    startup_seconds: float = 0.0  # loading the engine (models, germlines), once per worker
    workers: int = 1
    failures: list[tuple[str, str]] = field(default_factory=list)  # (job id, error message), first few
    interrupted: bool = False
    stop_signal: int = 2  # SIGINT (Ctrl-C) or 15 (SIGTERM), when interrupted
    # claimed jobs whose results were not written: re-queued, deleted or finished elsewhere meanwhile
    dropped: int = 0

    @property
    def jobs(self) -> int:
        return self.completed + self.failed

    @property
    def chains_per_second(self) -> float:
        return self.chains / self.seconds if self.seconds else 0.0

    def add(self, other: AnnotateReport) -> None:
        self.completed += other.completed
        self.failed += other.failed
        self.chains += other.chains
        self.engine_seconds += other.engine_seconds
        self.startup_seconds = max(self.startup_seconds, other.startup_seconds)
        self.failures.extend(other.failures[: max(0, 20 - len(self.failures))])
        if other.interrupted:
            self.stop_signal = other.stop_signal
        self.interrupted = self.interrupted or other.interrupted
        self.dropped += other.dropped
