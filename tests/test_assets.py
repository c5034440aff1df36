"""Every file shipped in repair_rank/assets/ loads through the code that reads it, and works.

A new asset fails `test_every_asset_has_a_loader_test` until a loader is added here.
"""
import numpy as np

from repair_rank import paths
from repair_rank.generator import edit_stats
from repair_rank.generator import ngram
from repair_rank.model import checkpoints
from repair_rank.ranking import learned_prior
from repair_rank.ranking import scorer

QUERY = "NAME = NAME ( NAME".split()
CANDIDATES = ["NAME = NAME ( NAME )".split(), "NAME = NAME ( NAME ( )".split()]


def _scorer_default():
  model = scorer.load()
  scores = model.score(QUERY, CANDIDATES)
  assert scores.shape == (2,) and np.isfinite(scores).all()
  assert scores[0] > scores[1]  # the plain closer first


def _pretrained_default():
  params = checkpoints.load_params(paths.ASSETS_DIR / "pretrained_default")
  assert "encoder" in params and not checkpoints.non_finite_leaves(params)
  lm = scorer.load_language_model()
  scores = lm.score(QUERY, CANDIDATES)
  assert np.isfinite(scores).all() and (scores < 0).all()  # log-likelihoods


def _ngram_default():
  model = ngram.load_default()
  log_probs = model.log_probs(CANDIDATES)
  assert np.isfinite(log_probs).all() and log_probs[0] > log_probs[1]


def _edit_stats():
  stats = edit_stats.load_default()
  assert stats.pairs > 0
  assert stats.log_rate(edit_stats.Edit("insert", 0, None, ")")) > stats.log_rate(
      edit_stats.Edit("insert", 0, None, "def"))


def _learned_prior():
  prior = learned_prior.load_default()
  assert np.isfinite(prior.weights).all() and prior.list_size > 0


def _file_ranking():
  from repair_rank.repair import file_ranking  # pylint: disable=import-outside-toplevel
  ranking = file_ranking.FileRanking.load()
  assert ranking.calibration is not None
  assert ranking.hint_weight > 0 and ranking.preferred_weight > 0
  probabilities = ranking.calibration.probabilities(np.array([0.0, -5.0]))
  assert 0 < probabilities.sum() <= 1 and probabilities[0] > probabilities[1]


LOADERS = {
    "scorer_default": _scorer_default,
    "pretrained_default": _pretrained_default,
    "ngram_default.npz": _ngram_default,
    "edit_stats.json": _edit_stats,
    "learned_prior.json": _learned_prior,
    "file_ranking.json": _file_ranking,
    "file_confidence.json": _file_ranking,
}


def test_every_asset_has_a_loader_test():
  shipped = {p.name for p in paths.ASSETS_DIR.iterdir() if not p.name.startswith((".", "_"))}
  assert shipped - set(LOADERS) == set(), "add a loader to tests/test_assets.py"


def test_shipped_assets_load_and_work():
  shipped = {p.name for p in paths.ASSETS_DIR.iterdir()}
  for name, loader in LOADERS.items():
    if name in shipped:  # learned_prior.json ships once the first stage is fitted
      loader()
