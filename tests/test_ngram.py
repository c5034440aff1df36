"""Tests for repair_rank.generator.ngram on tiny hand-made corpora (seconds)."""
import math

import numpy as np
import pytest

from repair_rank.data import corpora
from repair_rank.generator import ngram

CORPUS = [
    "import NAME NEWLINE".split(),
    "import NAME . NAME NEWLINE".split(),
    "NAME = NAME ( NAME ) NEWLINE".split(),
    "NAME = NAME ( NAME , NUMBER ) NEWLINE".split(),
    "def NAME ( NAME ) : NEWLINE INDENT return NAME NEWLINE DEDENT".split(),
    "def NAME ( ) : NEWLINE INDENT pass NEWLINE DEDENT".split(),
    "for NAME in NAME : NEWLINE INDENT NAME ( NAME ) NEWLINE DEDENT".split(),
    "NAME ( STRING ) NEWLINE".split(),
    "NAME ( STRING ) NEWLINE".split(),
]
ORDERS = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def models():
  return {n: ngram.NgramModel.fit(CORPUS, n) for n in ORDERS}


def _contexts():
  """Histories to probe: seen, partly seen and unseen."""
  return [[], ["import"], ["NAME", "="], ["def", "NAME", "("],
          "NAME = NAME ( NAME".split(), ["yield", "await", "%"],
          "for NAME in NAME : NEWLINE INDENT NAME".split()]


@pytest.mark.parametrize("order", ORDERS)
def test_next_token_distribution_sums_to_one(models, order):
  model = models[order]
  for context in _contexts():
    state = model.initial_state()
    for tok in context:
      state = model.advance(state, tok)
    probs = np.exp(model.next_log_probs(state))
    assert probs.shape == (len(ngram.VOCAB),)
    assert np.all(probs > 0)
    assert math.isclose(probs.sum(), 1.0, rel_tol=1e-9), (order, context)
    # The same, through the single-token call.
    total = sum(math.exp(model.next_log_prob(state, tok)) for tok in ngram.VOCAB)
    assert math.isclose(total, 1.0, rel_tol=1e-9)


@pytest.mark.parametrize("order", (3, 5))
def test_pruned_distribution_sums_to_one(order):
  model = ngram.NgramModel.fit(CORPUS, order, min_counts=[1, 1, 2, 2, 2])
  full = ngram.NgramModel.fit(CORPUS, order)
  assert sum(model.num_ngrams) < sum(full.num_ngrams)
  for context in _contexts():
    state = model.initial_state()
    for tok in context:
      state = model.advance(state, tok)
    assert math.isclose(np.exp(model.next_log_probs(state)).sum(), 1.0, rel_tol=1e-9)


def test_incremental_state_api_agrees_with_log_prob(models):
  for model in models.values():
    for seq in CORPUS + [["print", "(", "NAME", ")"], []]:
      state, total = model.initial_state(), 0.0
      for tok in seq:
        total += model.next_log_prob(state, tok)
        state = model.advance(state, tok)
      total += model.next_log_prob(state, ngram.EOS)
      assert math.isclose(total, model.log_prob(seq), rel_tol=1e-12)
      per_token = model.token_log_probs(seq)
      assert per_token.shape == (len(seq) + 1,)
      assert math.isclose(per_token.sum(), model.log_prob(seq), rel_tol=1e-12)


def test_perplexity_on_training_data_decreases_with_order(models):
  perplexities = [models[n].perplexity(CORPUS) for n in ORDERS]
  assert all(a > b for a, b in zip(perplexities, perplexities[1:])), perplexities
  # A seen sentence beats the same tokens shuffled.
  model = models[4]
  seq = CORPUS[4]
  assert model.log_prob(seq) > model.log_prob(seq[::-1])


def test_unknown_token_does_not_crash(models):
  for model in models.values():
    value = model.log_prob(["NAME", "<unknown>", "(", ")"])
    assert np.isfinite(value) and value < 0
    assert np.isfinite(model.next_log_prob(model.initial_state(), "nonsense"))
  with pytest.raises(ValueError):
    ngram.NgramModel.fit([["NAME", "nonsense"]], 3)


def test_save_load_round_trip(models, tmp_path):
  for order in (1, 3, 6):
    path = tmp_path / f"model{order}.npz"
    models[order].save(path)
    loaded = ngram.NgramModel.load(path)
    assert loaded.order == order
    probe = CORPUS + [["print", "NAME"], ["while", "True", ":"]]
    np.testing.assert_array_equal(loaded.log_probs(probe), models[order].log_probs(probe))


def test_extra_ngrams_add_types_and_counts(tmp_path):
  csv = tmp_path / "ngrams_X_5.csv"
  csv.write_text("BOS NEWLINE import NAME NEWLINE ::: 5\n"
                 "NAME . NAME ( ) ::: 3\n"
                 "NAME ) NEWLINE DEDENT EOS ::: 2\n"
                 "NAME weird NAME NAME NAME ::: 9\n")  # Skipped: unknown token.
  extra = ngram.read_ngram_csv(csv)
  assert extra.order == 5 and len(extra.codes) == 3 and extra.total == 10
  for order in (3, 5, 6):
    plain = ngram.NgramModel.fit(CORPUS, order)
    mixed = ngram.NgramModel.fit(CORPUS, order, extra_ngrams=extra, extra_weight=1.0)
    seq = "NAME . NAME ( )".split()
    assert mixed.log_prob(seq) > plain.log_prob(seq)
    state = mixed.initial_state()
    for tok in seq:
      state = mixed.advance(state, tok)
    assert math.isclose(np.exp(mixed.next_log_probs(state)).sum(), 1.0, rel_tol=1e-9)


def test_bundled_default_model_loads_once_and_scores():
  model = ngram.load_default()
  assert ngram.load_default() is model
  good = "import NAME NEWLINE NAME = NAME . NAME ( NAME ) NEWLINE".split()
  bad = "import NAME NEWLINE NAME = NAME . NAME ( NAME NEWLINE".split()
  assert np.isfinite(model.log_prob(good))
  assert model.log_prob(good) > model.log_prob(bad)
