"""The bundled model scores exactly what it scored when it was bundled.

tests/fixtures/bundled_scores.json holds `repair_rank.scorer.load().score(query,
candidates)` on a few sample instances and one generated list longer than the
bundle's first stage keeps (float32, written with float.hex()); any change to
features, the model, the first stage or the ensemble shows up here to the last bit.
A new bundle is recorded with launch/record_bundled_scores.py.
"""
import json
import pathlib

import numpy as np

from repair_rank import scorer

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "bundled_scores.json"


def test_bundled_model_scores_unchanged_to_the_last_bit():
  cases = json.loads(FIXTURE.read_text())["cases"]
  model = scorer.load()
  assert any(len(case["candidates"]) > model.prefilter_k for case in cases)
  for case in cases:
    got = np.asarray(model.score(case["query"].split(),
                                 [c.split() for c in case["candidates"]]), dtype=np.float32)
    want = np.array([float.fromhex(h) for h in case["scores_hex"]], dtype=np.float32)
    np.testing.assert_array_equal(got, want, err_msg=case["id"])
