"""Tests for repair_rank.model.models: shapes, parameter names shared by stage 1 and 2."""
import jax
import numpy as np
import pytest

from repair_rank.model import features as ip
from repair_rank.model import models

# The non-default pooling and attention here; the scorer tests cover "mean" and causal.
TINY = models.TransformerConfig(dim=16, heads=2, layers=1, mlp_dim=32, max_len=32,
                                pooling="last", causal_scorer=False)


def _pair_batch():
  features = [ip.pair_features(["NAME", "("], ["NAME", "(", ")"], 32),
              ip.pair_features(["NAME", "("], ["NAME"], 32)]
  return ip.stack_pairs(features, 16)


def test_scorer_encoder_has_the_language_model_param_names():
  lm_params = jax.eval_shape(models.LanguageModel(TINY).init, jax.random.PRNGKey(0),
                                              np.ones((1, 8), np.int32))["params"]
  scorer_params = jax.eval_shape(models.PairScorer(TINY).init, jax.random.PRNGKey(0),
                                 **_pair_batch())["params"]
  assert jax.tree.structure(lm_params["encoder"]) == jax.tree.structure(scorer_params["encoder"])
  assert set(scorer_params) == {"encoder", "edit_embed", "distance_embed", "score_head",
                                "lm_weight"}
  untied = TINY.replace(tied_output=False, edit_channel=False, distance_feature=False)
  untied_lm = jax.eval_shape(models.LanguageModel(untied).init, jax.random.PRNGKey(0),
                                                np.ones((1, 8), np.int32))["params"]
  untied_scorer = jax.eval_shape(models.PairScorer(untied).init, jax.random.PRNGKey(0),
                                 **_pair_batch())["params"]
  assert set(untied_lm) == {"encoder", "lm_head"}
  assert set(untied_scorer) == {"encoder", "lm_head", "score_head", "lm_weight"}


@pytest.fixture(name="scorer_and_params", scope="module")
def fixture_scorer_and_params():
  model = models.PairScorer(TINY)
  return model, jax.jit(model.init)(jax.random.PRNGKey(0), **_pair_batch())


def test_scorer_shapes_and_batch_dims(scorer_and_params):
  batch = _pair_batch()
  model, params = scorer_and_params
  scores = jax.jit(model.apply)(params, **batch)
  assert scores.shape == (2,) and scores.dtype == np.float32
  grouped = {k: v[None] for k, v in batch.items()}
  np.testing.assert_allclose(jax.jit(model.apply)(params, **grouped)[0], scores, rtol=1e-5)


def test_zero_initialised_extras_leave_the_encoder_input_unchanged(scorer_and_params):
  # At init, the edit channel and distance add nothing, so the pretrained encoder sees
  # what it saw in stage 1: scores do not depend on the edit labels or distance.
  batch = _pair_batch()
  model, params = scorer_and_params
  other = dict(batch, edits=np.zeros_like(batch["edits"]), distance=batch["distance"] + 3)
  apply = jax.jit(model.apply)
  np.testing.assert_allclose(apply(params, **batch), apply(params, **other), rtol=1e-6)


@pytest.mark.parametrize("causal", [True, False])
def test_causal_encoder_hides_later_tokens(causal):
  """Under the causal mask a position's hidden state depends on no later token; without
  it, it does (so the first half of the test can fail)."""
  config = TINY.replace(causal_scorer=causal)
  encoder = models.Encoder(config)
  inputs = np.array([[1, 7, 9, 12, 15, 20, 22, 30]], np.int32)
  changed = inputs.copy()
  changed[0, 5:] = [40, 41, 42]
  params = encoder.init(jax.random.PRNGKey(0), inputs, causal=causal)
  apply = jax.jit(lambda p, x: encoder.apply(p, x, causal=causal))
  hidden, hidden_changed = apply(params, inputs), apply(params, changed)
  earlier_same = np.allclose(hidden[0, :5], hidden_changed[0, :5], atol=1e-6)
  assert earlier_same == causal
  assert not np.allclose(hidden[0, 5:], hidden_changed[0, 5:])

