"""The fast scan (flush-to-zero, exact per-chain F3 pruning, profiles built once) numbers every chain of the
identity corpus exactly as the reference scan (pyhmmer's hmmscan with HMMER's defaults) and as ANARCI driven by
the real hmmscan program: every field of every domain, bit score and E-value included, FTZ on and off."""

from __future__ import annotations

import math
import threading
from importlib import metadata
from typing import Any

import numpy as np
import pytest
from pyhmmer.easel import Alphabet, TextSequence

from abdb.numbering.anarci_engine import AnarciEngine, _hmms
from abdb.numbering.engine import ChainNumbering, EngineSettings
from abdb.numbering.flush_to_zero import AVAILABLE, current_mxcsr, flush_to_zero
from abdb.numbering.forward_bound import (
    DEFAULT_F3,
    ModelFilters,
    bias_log_odds,
    bias_log_odds_of_chains,
    forward_thresholds,
    length_term,
)
from abdb.numbering.hmmer_scan import ProfileScanner, reference_scan
from tests.numbering.identity_corpus import identity_corpus

THREE_SCHEMES = EngineSettings(schemes=("imgt", "kabat", "chothia"))
IMGT = EngineSettings(schemes=("imgt",))


def _number(engine: AnarciEngine, chains: list[str], settings: EngineSettings) -> list[ChainNumbering]:
    results: list[ChainNumbering] = []
    for start in range(0, len(chains), 2):  # as a worker calls it: an antibody's chains at a time
        results += engine.number(chains[start : start + 2], settings)
    return results


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    return identity_corpus()


@pytest.fixture(scope="module")
def reference(corpus: list[tuple[str, str]]) -> list[ChainNumbering]:
    return _number(AnarciEngine(fast=False), [chain for _, chain in corpus], THREE_SCHEMES)


def _only(numbering: ChainNumbering, scheme: str) -> ChainNumbering:
    kept = {scheme: numbering.domains[scheme]}
    refused = {scheme: numbering.not_numbered[scheme]} if scheme in numbering.not_numbered else {}
    return ChainNumbering(kept, refused)


def test_the_corpus_holds_every_shape_and_path(corpus: list[tuple[str, str]], reference: list[ChainNumbering]) -> None:
    assert len(corpus) >= 2000
    domains = [len(n.domains["imgt"]) for n in reference]
    assert domains.count(0) >= 30 and sum(1 for d in domains if d >= 2) >= 60 and max(domains) >= 4
    long_cdr3 = [n for (label, _), n in zip(corpus, reference, strict=True) if label.startswith("long CDR3")]
    assert sum(1 for n in long_cdr3 if n.domains["imgt"]) == len(long_cdr3)  # the J rescue numbers them all


@pytest.mark.parametrize("ftz", [True, False], ids=["ftz on", "ftz off"])
@pytest.mark.parametrize("settings", [IMGT, THREE_SCHEMES], ids=["imgt", "imgt+kabat+chothia"])
def test_the_fast_scan_numbers_the_corpus_exactly_as_the_reference(
    corpus: list[tuple[str, str]], reference: list[ChainNumbering], ftz: bool, settings: EngineSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if ftz:
        assert AVAILABLE, "flush-to-zero must be available on the x86-64 Linux machines abdb is tested on"
    scans: list[int] = []  # models per scan: 14 (human, mouse), 29 (the all-species fallback), ...
    original = ProfileScanner.scan

    def counting(self: ProfileScanner, sequences: Any, hmms: Any, threshold: float) -> Any:
        scans.append(len(hmms))
        return original(self, sequences, hmms, threshold)

    monkeypatch.setattr(ProfileScanner, "scan", counting)
    fast = _number(AnarciEngine(ftz=ftz), [chain for _, chain in corpus], settings)
    assert scans.count(len(_hmms())) >= 30  # the fallback and the J rescue ran on the fast path too
    expected = reference if settings == THREE_SCHEMES else [_only(n, "imgt") for n in reference]
    differing = [label for (label, _), mine, theirs in zip(corpus, fast, expected, strict=True) if mine != theirs]
    assert not differing, f"{len(differing)} chains differ, first {differing[:5]}"


def test_flush_to_zero_is_on_inside_the_block_and_restored_after() -> None:
    before = current_mxcsr()
    with flush_to_zero() as on:
        assert on and current_mxcsr() is not None and current_mxcsr() & 0x8000  # type: ignore[operator]
        assert 2.0**-1070 * 0.5 == 0.0  # a subnormal result is flushed
    assert current_mxcsr() == before and 2.0**-1070 * 0.5 > 0.0
    with flush_to_zero(False) as on:
        assert not on and 2.0**-1070 * 0.5 > 0.0


def test_no_domain_scores_above_its_chains_bound(corpus: list[tuple[str, str]]) -> None:
    """The bound the pruning rests on: a domain's bits <= the chain's uncorrected Forward bits + delta(n).
    If HMMER or pyhmmer ever changes so that this fails, the pruning is no longer exact: stop and re-derive."""
    alphabet = Alphabet.amino()
    chains = [chain for _, chain in corpus]
    digital = [TextSequence(name=str(i).encode(), sequence=c).digitize(alphabet) for i, c in enumerate(chains)]
    with flush_to_zero():  # as hmmscan runs (and twice as fast)
        scanned = reference_scan(digital, list(_hmms()), len(_hmms()))
    checked = 0
    for chain, reported in zip(chains, scanned, strict=True):
        for hit, domain in reported:
            assert domain.score <= hit.pre_score + length_term(len(chain)), (chain[:30], hit.name, domain.score)
            checked += 1
    assert checked >= 3000


def test_pyhmmer_is_the_minor_version_the_bound_mirrors() -> None:
    major, minor, *_ = metadata.version("pyhmmer").split(".")
    assert (major, minor) == ("0", "12"), "the F3 bound mirrors HMMER 3.4 as pyhmmer 0.12 runs it: re-check"


def test_the_bias_filter_log_odds_equals_a_plain_forward_sum() -> None:
    """The pairwise matrix reduction against the textbook recursion, on chains short and long, one at a time
    and all at once."""
    rng = np.random.default_rng(3)
    models, codes_count = 3, 29
    filters = ModelFilters(
        rng.uniform(0.2, 3.0, (models, codes_count)), np.array([14.0, 15.5, 12.25]), np.zeros(3), np.ones(3)
    )
    chains, sums = [], []
    for n in (1, 2, 3, 7, 128, 1001):
        codes = rng.integers(0, 20, n)
        expected = []
        for m in range(models):
            p1, q = n / (n + 1), 1 / (filters.biased_length[m] + 1)
            normal, biased = 0.999, 0.001 * filters.odds[m, codes[0]]
            log_scale = 0.0
            for code in codes[1:]:
                normal, biased = (
                    normal * p1 + biased * q,
                    (normal * (1 - p1) + biased * (1 - q)) * filters.odds[m, code],
                )
                scale = max(normal, biased)
                normal, biased, log_scale = normal / scale, biased / scale, log_scale + math.log(scale)
            expected.append(math.log(normal + biased) + log_scale)
        assert np.allclose(bias_log_odds(codes, filters), expected, rtol=1e-12, atol=1e-9), n
        chains.append(codes)
        sums.append(expected)
    # every chain of a call at once, the shorter ones padded: the same sums
    assert np.allclose(bias_log_odds_of_chains(chains, filters), sums, rtol=1e-12, atol=1e-9)
    assert forward_thresholds([np.array([], dtype=np.uint8)], filters, 80.0) == [DEFAULT_F3]
    # thresholds stay with their chains whatever the grouping: chains of a call mixed with an empty one, alone
    mixed = [chains[4], np.array([], dtype=np.uint8), chains[5], chains[0], chains[3]]
    together = forward_thresholds(mixed, filters, 80.0)
    assert together == [forward_thresholds([codes], filters, 80.0)[0] for codes in mixed]
    assert together[1] == DEFAULT_F3 and len(set(together)) > 2


def test_pruning_stops_models_that_cannot_reach_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lever is real: on a full-length chain F3 is set far below HMMER's 1e-5."""
    seen: list[float] = []
    original = ProfileScanner.scan

    def recording(self: ProfileScanner, sequences: Any, hmms: Any, threshold: float) -> Any:
        found = original(self, sequences, hmms, threshold)
        seen.append(self.pipeline.F3)
        return found

    monkeypatch.setattr(ProfileScanner, "scan", recording)
    chain = identity_corpus()[0][1]
    AnarciEngine().number([chain], IMGT)
    assert seen and seen[0] < 1e-8


def test_an_engine_shared_by_threads_numbers_each_chain_as_it_does_alone(
    corpus: list[tuple[str, str]], reference: list[ChainNumbering]
) -> None:
    """HMMER's pipeline changes with every chain and model: one engine's threads used to share one, and broke
    each other's scans (wrong domains, SystemErrors from pyhmmer); each thread now has its own."""
    chains = [chain for _, chain in corpus][:120]
    expected = [_only(numbering, "imgt") for numbering in reference[:120]]
    engine = AnarciEngine()
    found: list[ChainNumbering | None] = [None] * len(chains)
    errors: list[BaseException] = []

    def number(first: int) -> None:
        try:
            for index in range(first, len(chains), 3):
                found[index] = engine.number([chains[index]], IMGT)[0]
        except BaseException as error:  # reported below, with the chains compared
            errors.append(error)

    threads = [threading.Thread(target=number, args=(first,)) for first in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [index for index, (got, want) in enumerate(zip(found, expected, strict=True)) if got != want] == []


def test_a_species_list_that_names_no_model_falls_back_to_all_species_as_the_reference_does() -> None:
    """The fast scan built a profile block of no models and failed (IndexError) where ANARCI falls back."""
    chain = identity_corpus()[0][1]
    for species in (("Human",), ("dog",)):
        settings = EngineSettings(schemes=("imgt",), species=species)
        assert AnarciEngine().number([chain], settings) == AnarciEngine(fast=False).number([chain], settings)


def test_a_chain_too_long_to_bound_keeps_hmmers_threshold_without_arrays_of_hundreds_of_mb() -> None:
    """A 100,000-residue chain took 255 MB more for its bound; one that long now keeps HMMER's default F3,
    and is numbered as the reference numbers it."""
    import tracemalloc

    hmms = list(_hmms())
    scanner = ProfileScanner(Alphabet.amino(), len(hmms))
    _, filters = scanner._block(hmms)
    antibody = identity_corpus()[0][1]
    long_chain = antibody + "GSTKGPSVFPLAPSSKSTSGGTAALGCLVKDYFPEPVTVSWNSGALTSGVHTFPAVLQSSGLYSLSSVVTVPSSSLGTQTY" * 250
    codes = np.frombuffer(bytes(TextSequence(sequence=long_chain).digitize(Alphabet.amino()).sequence), np.uint8)
    tracemalloc.start()
    try:
        assert forward_thresholds([codes], filters, 80.0) == [DEFAULT_F3]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert AnarciEngine().number([long_chain], IMGT) == AnarciEngine(fast=False).number([long_chain], IMGT)


def test_a_child_forked_while_a_thread_scans_numbers_its_chains() -> None:
    """pyhmmer locks each profile of a block while a scan sets it to the chain's length: a child forked then
    inherited the lock of a thread it does not have, and its first scan waited for ever (5 children of 8)."""
    import faulthandler
    import os

    chains = [chain for _, chain in identity_corpus()[:40]]
    engine = AnarciEngine()
    expected = engine.number(chains[:1], IMGT)
    scanning = threading.Event()
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            engine.number(chains, IMGT)
            scanning.set()

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    scanning.wait(60)
    outcomes = []
    try:
        for _ in range(8):
            child = os.fork()
            if child == 0:  # the child: exit 0 if it numbered the chain as the parent did (1 if not, or stuck)
                faulthandler.dump_traceback_later(20, exit=True)
                os._exit(0 if engine.number(chains[:1], IMGT) == expected else 1)
            _, status = os.waitpid(child, 0)
            outcomes.append(os.waitstatus_to_exitcode(status))
    finally:
        stop.set()
        thread.join()
    assert outcomes == [0] * 8
