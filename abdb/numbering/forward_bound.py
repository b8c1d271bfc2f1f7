"""Exact per-chain pruning: the Forward filter's P-value threshold (F3) that lets through every model that can
still give a domain of ``threshold`` bits, and stops the others before Backward, domain definition and
alignment (where HMMER spends its time). The facts and their derivation: ../shared/design/numbering-speed.md.

The bound. Every unihit envelope parse is also a parse of the whole chain under the multihit model, and the
domain bias correction is never negative, so every domain of a chain of ``n`` residues scores

    bits <= (fwd - null) / ln 2 + delta(n),   delta(n) = [n ln((n+3)/(n+2)) - 2 ln(3(n+2)/(2(n+3))) + ln 2] / ln 2

(about 1.27 bits). HMMER's Forward filter compares ``seq_score = (fwd - filtersc) / ln 2`` with F3, where
``filtersc`` is the bias filter's null score; ``filtersc - null`` is the log-odds ``fh`` of HMMER's two-state
bias-filter HMM (``p7_bg_SetFilter`` + ``p7_bg_SetLength``). A model can reach the threshold only when
``seq_score >= X = threshold - 0.1 - delta(n) - fh / ln 2 - 0.5`` (0.1: ANARCI compares the score rounded to
0.1 bit; 0.5: float32 against float64), that is when its Forward P-value is at most
``exp(-lambda (X - tau))``. F3 = min(1e-5, the largest of those over the models) passes every such model and
is never looser than HMMER's default. ``fh`` is computed here in float64; for ambiguity codes (X, B, Z, ...)
the largest odds of the residues they stand for is used, which can only raise ``fh`` and loosen F3.

This mirrors the pipeline of HMMER 3.4 as pyhmmer 0.12 runs it: pyhmmer is pinned to 0.12.x, and a test fails
if a domain ever scores above its chain's bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_F3 = 1e-5  # HMMER's Forward filter threshold
ROUNDING_BITS = 0.1
FLOAT_MARGIN_BITS = 0.5
_FILTER_START = (0.999, 0.001)  # p7_bg_SetFilter: pi of the normal and the biased state
_LN2 = math.log(2.0)

# Easel's amino alphabet, ACDEFGHIKLMNPQRSTVWY then -, the ambiguity codes, * and ~ (Alphabet.amino().symbols)
_AMINO = "ACDEFGHIKLMNPQRSTVWY"
_AMBIGUOUS = {"B": "DN", "J": "IL", "Z": "EQ", "O": "K", "U": "C", "X": _AMINO}


def length_term(n: int) -> float:
    """delta(n) in bits: what a domain can score beyond the chain's uncorrected Forward score."""
    return (n * math.log((n + 3) / (n + 2)) - 2 * math.log(3 * (n + 2) / (2 * (n + 3))) + _LN2) / _LN2


@dataclass(frozen=True)
class ModelFilters:
    """What the bound needs of each model of a scan, in the order of the scan's profile block."""

    odds: np.ndarray  # (models, codes): the biased state's emission odds against the background, per code
    biased_length: np.ndarray  # (models,): L1 = M / 8, the biased segments' mean length
    tau: np.ndarray  # (models,): the Forward filter's exponential tail location
    lam: np.ndarray  # (models,): and its slope

    @classmethod
    def of(
        cls, compositions: Sequence[Sequence[float]], lengths: Sequence[int], background: Sequence[float],
        tail: Sequence[tuple[float, float]], symbols: str,
    ) -> ModelFilters:  # fmt: skip
        """From each model's residue composition and length M, the background's residue frequencies, each
        model's (f_tau, f_lambda) and the alphabet's symbols (the digital codes' order)."""
        compo = np.asarray(compositions, dtype=np.float64)
        frequencies = np.asarray(background, dtype=np.float64)
        residue_odds = compo[:, : len(_AMINO)] / frequencies[: len(_AMINO)]
        odds = np.ones((compo.shape[0], len(symbols)), dtype=np.float64)  # gap, *, ~: odds 1 (HMMER's too)
        for code, symbol in enumerate(symbols):
            if symbol in _AMINO:
                odds[:, code] = residue_odds[:, _AMINO.index(symbol)]
            elif symbol in _AMBIGUOUS:
                members = [_AMINO.index(residue) for residue in _AMBIGUOUS[symbol]]
                odds[:, code] = residue_odds[:, members].max(axis=1)
        taus, lambdas = zip(*tail, strict=True)
        return cls(
            odds,
            np.asarray(lengths, dtype=np.float64) / 8.0,
            np.asarray(taus, dtype=np.float64),
            np.asarray(lambdas, dtype=np.float64),
        )


def bias_log_odds(codes: np.ndarray, filters: ModelFilters) -> np.ndarray:
    """fh per model, in nats, for one chain (``bias_log_odds_of_chains`` of that chain alone)."""
    log_odds: np.ndarray = bias_log_odds_of_chains([codes], filters)[0]
    return log_odds


# Levels of the reduction between rescalings: a product of 8 steps of odds below ~50 stays far inside float64,
# and after a rescaling (entries <= 1) three levels give entries <= 2^7.
RESCALE_EVERY = 3
# Chains reduced together share one padded width: at most this many steps in all (chains x width) per group,
# so that a call with many chains does not build arrays of every chain at the longest width (29 models x
# 16,384 steps x 8 bytes: 3.8 MB an array). A chain longer than that keeps HMMER's own F3: its arrays would
# take hundreds of MB (255 MB more at 100,000 residues), for chains no antibody is as long as.
STEPS_PER_GROUP = 1 << 14


def bias_log_odds_of_chains(chains: Sequence[np.ndarray], filters: ModelFilters) -> np.ndarray:
    """fh per chain and model (chains, models), in nats: log of the Forward sum of the bias-filter HMM over
    each chain's ``codes`` (digital), emissions as odds against the background (the normal state's are 1),
    transitions as HMMER sets them for a chain of that length.

    The Forward sum is the start vector times the product of one 2x2 matrix per residue after the first;
    the products are reduced pairwise, every chain and model at once (shorter chains padded with the
    identity), each matrix held as its four entries (elementwise products: numpy's batched matmul is slow on
    2x2), rescaled every RESCALE_EVERY levels with the scale kept per matrix."""
    models = filters.odds.shape[0]
    width = _padded_steps(max(len(codes) for codes in chains))
    stay = filters.biased_length / (filters.biased_length + 1.0)  # biased -> biased
    a = np.ones((len(chains), models, width))  # normal -> normal
    b = np.zeros_like(a)  # normal -> biased, times the odds
    c = np.zeros_like(a)  # biased -> normal
    d = np.ones_like(a)  # biased -> biased, times the odds
    start = np.empty((len(chains), models, 2))
    for index, codes in enumerate(chains):
        n = len(codes)
        emitted = filters.odds[:, codes]  # (models, n): the biased state's odds at each residue
        start[index, :, 0], start[index, :, 1] = _FILTER_START[0], _FILTER_START[1] * emitted[:, 0]
        p1 = n / (n + 1.0)
        a[index, :, : n - 1] = p1
        b[index, :, : n - 1] = (1.0 - p1) * emitted[:, 1:]
        c[index, :, : n - 1] = (1.0 - stay)[:, None]
        d[index, :, : n - 1] = stay[:, None] * emitted[:, 1:]
    scales = np.zeros_like(a)
    level = 0
    while a.shape[2] > 1:
        a1, b1, c1, d1 = a[:, :, 0::2], b[:, :, 0::2], c[:, :, 0::2], d[:, :, 0::2]
        a2, b2, c2, d2 = a[:, :, 1::2], b[:, :, 1::2], c[:, :, 1::2], d[:, :, 1::2]
        a, b, c, d = a1 * a2 + b1 * c2, a1 * b2 + b1 * d2, c1 * a2 + d1 * c2, c1 * b2 + d1 * d2
        scales = scales[:, :, 0::2] + scales[:, :, 1::2]
        level += 1
        if level % RESCALE_EVERY == 0 or a.shape[2] == 1:
            largest = np.maximum(np.maximum(a, b), np.maximum(c, d))
            a, b, c, d = a / largest, b / largest, c / largest, d / largest
            scales = scales + np.log(largest)
    normal = start[:, :, 0] * a[:, :, 0] + start[:, :, 1] * c[:, :, 0]
    biased = start[:, :, 0] * b[:, :, 0] + start[:, :, 1] * d[:, :, 0]
    log_odds: np.ndarray = np.log(normal + biased) + scales[:, :, 0]  # end transitions are 1: length imposed outside
    return log_odds


def forward_thresholds(chains: Sequence[np.ndarray], filters: ModelFilters, threshold_bits: float) -> list[float]:
    """F3 for each chain (digital codes): passes every model that could give a domain of ``threshold_bits``."""
    fh_bits = [np.empty(0)] * len(chains)
    bounded = [
        index for index, codes in enumerate(chains) if len(codes) > 0 and _padded_steps(len(codes)) <= STEPS_PER_GROUP
    ]
    for group in _groups(bounded, chains):
        for index, log_odds in zip(group, bias_log_odds_of_chains([chains[i] for i in group], filters), strict=True):
            fh_bits[index] = log_odds / _LN2
    thresholds = []
    for codes, bits in zip(chains, fh_bits, strict=True):
        if not len(bits):  # empty, or too long to bound
            thresholds.append(DEFAULT_F3)
            continue
        needed = threshold_bits - ROUNDING_BITS - length_term(len(codes)) - bits - FLOAT_MARGIN_BITS
        # esl_exp_surv: P(score >= x) = exp(-lambda (x - tau)) above tau, 1 below (exp(0): no exp overflows on
        # the side np.where would have discarded, with a RuntimeWarning on stderr)
        survival = np.exp(-filters.lam * np.maximum(needed - filters.tau, 0.0))
        thresholds.append(float(min(DEFAULT_F3, survival.max())))
    return thresholds


def _groups(indices: list[int], chains: Sequence[np.ndarray]) -> list[list[int]]:
    """The chains (by index) in groups reduced together, shortest first: a group's chains times the padded
    width of its longest stay within STEPS_PER_GROUP."""
    groups: list[list[int]] = []
    for index in sorted(indices, key=lambda i: len(chains[i])):
        width = _padded_steps(len(chains[index]))
        if groups and (len(groups[-1]) + 1) * width <= STEPS_PER_GROUP:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _padded_steps(residues: int) -> int:
    """The steps of a chain of ``residues`` (one per residue after the first), padded to a power of two."""
    return 1 << max(residues - 2, 0).bit_length()
