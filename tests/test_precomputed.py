"""The results shipped for the bundled pair (data/precomputed) are keyed by the fingerprints of what they were
computed from: they serve the pocket pair as it is now, and nothing else."""

from __future__ import annotations

from benchmarks.analysis import heads, scoring
from benchmarks.core.data import load_sst2
from benchmarks.core.models import load_pair
from benchmarks.core.pairs import BUILTIN_PAIRS
from tests.conftest import needs_pocket


@needs_pocket
def test_the_shipped_results_match_the_bundled_pair_and_sst2_dev(tmp_path):
    pair, dev = load_pair(BUILTIN_PAIRS["pocket"]), load_sst2("validation")
    # An empty server cache: what is found comes from data/precomputed (rebuild: python -m benchmarks score --ship,
    # python -m benchmarks heads --sentences 200 --ship)
    scores = scoring.cached_scores(pair, dev, tmp_path / "scores")
    assert scores is not None and scores.data_hash == dev.fingerprint
    weights = (pair.teacher.fingerprint, pair.student.fingerprint)
    assert (scores.teacher.fingerprint, scores.student.fingerprint) == weights
    found = heads.stored(tmp_path, pair.teacher.fingerprint, pair.student.fingerprint, dev.head(200))
    assert found is not None and found.sentences == 200
    # Other sentences miss: they would be computed anew
    assert scoring.cached_scores(pair, dev.head(100), tmp_path / "scores") is None
    assert heads.stored(tmp_path, pair.teacher.fingerprint, pair.student.fingerprint, dev.head(100)) is None
