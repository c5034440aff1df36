"""The bundled model scores what it scored when it was bundled, on any CPU.

tests/fixtures/bundled_scores.json holds `repair_rank.scorer.load().score(query,
candidates)` on a few sample instances and one generated list longer than the
bundle's first stage keeps (float32, written with float.hex()); any change to
features, the model, the first stage or the ensemble shows up here. XLA's CPU
kernels are not bit-identical across CPU models (a fresh clone on an AMD EPYC
differed by 1.9e-6 on a score of 17), so the scores are compared within what
float32 reassociation allows, and the order of the candidates exactly: the
recorded scores are far further apart than that tolerance, so the order cannot
flip on another machine unless the model changed. A new bundle is recorded with
launch/analysis/record_bundled_scores.py.
"""
import json
import pathlib

import numpy as np

from repair_rank import scorer

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "bundled_scores.json"
# float32 has a 6e-8 unit roundoff; a few hundred reassociated sums in the encoder and the
# first stage stay well inside 1e-5 relative. A changed feature or weight moves scores by
# far more (the smallest gap between two recorded scores is 2.6e-3).
RTOL, ATOL = 1e-5, 1e-4


def _cases():
  return json.loads(FIXTURE.read_text())["cases"]


def _recorded(case) -> np.ndarray:
  return np.array([float.fromhex(h) for h in case["scores_hex"]], dtype=np.float32)


def test_recorded_scores_are_further_apart_than_the_tolerance():
  # Else an order that flips on another CPU would fail the order check below.
  for case in _cases():
    want = np.sort(_recorded(case).astype(np.float64))
    # Two scores each off by their tolerance could swap only if closer than twice it.
    tolerance = ATOL + RTOL * np.maximum(np.abs(want[:-1]), np.abs(want[1:]))
    assert np.all(np.diff(want) > 2 * tolerance), case["id"]


def test_bundled_model_scores_unchanged_within_float32_tolerance():
  cases = _cases()
  model = scorer.load()
  assert any(len(case["candidates"]) > model.prefilter_k for case in cases)
  for case in cases:
    got = np.asarray(model.score(case["query"].split(),
                                 [c.split() for c in case["candidates"]]), dtype=np.float32)
    want = _recorded(case)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=case["id"])
    # The ranking a user sees, compared exactly.
    np.testing.assert_array_equal(np.argsort(-got, kind="stable"),
                                  np.argsort(-want, kind="stable"), err_msg=case["id"])
