"""Tests for repair_rank.training.pretrain: pmap equivalence, causality, learning, exact resume."""
import jax
import ml_collections
import numpy as np

import conftest
from repair_rank import distributed
from repair_rank.model import checkpoints
from repair_rank.model import features
from repair_rank.model import models
from repair_rank.training import pretrain
from repair_rank.training import writer


def _config(**overrides) -> ml_collections.ConfigDict:
  return conftest.tiny_config(**overrides)


# Steps compiled once per (model config, optimiser, devices) are shared by the tests below.
STEP_CONFIG = _config(learning_rate=1e-2, num_steps=40, warmup_steps=1)
STEP_CONFIG.model.dropout = 0.0  # Dropout masks differ per device; the pmap test needs none.
TINY = models.TransformerConfig.from_job_config(STEP_CONFIG)


def _sequences(n: int, seed: int = 0) -> list[np.ndarray]:
  rng = np.random.default_rng(seed)
  vocab = ["NAME", "(", ")", "=", "NUMBER", ",", ":", "NEWLINE"]
  out = []
  for _ in range(n):
    fixed = list(rng.choice(vocab, size=rng.integers(3, 10)))
    broken = fixed[:-1]
    out.append(features.lm_sequence(broken, fixed, 32))
  return out


def _state(config):
  return pretrain.create_train_state(jax.random.PRNGKey(0), TINY, config)


def _step_on(devices, state, global_inputs):
  p_train, _ = pretrain.compile_steps(TINY, devices)
  n = len(devices)
  batch = {"inputs": global_inputs.reshape(n, -1, global_inputs.shape[-1])}
  replicated = distributed.replicate(state, devices, pretrain.AXIS)
  rngs = distributed.replicate(jax.random.PRNGKey(1), devices, pretrain.AXIS)
  new_state, metrics = p_train(replicated, batch, rngs)
  return distributed.unreplicate(new_state), distributed.unreplicate(metrics)


def test_two_devices_match_one_device():
  assert jax.local_device_count() >= 2, "conftest.py should fake 2 CPU devices"
  config = STEP_CONFIG
  # Uneven target counts per device, so a per-device mean would differ from the global one.
  inputs = features.pad_to(_sequences(4), 16)
  one_state, one_metrics = _step_on(jax.local_devices()[:1], _state(config), inputs)
  two_state, two_metrics = _step_on(jax.local_devices()[:2], _state(config), inputs)
  np.testing.assert_allclose(pretrain.lm_scalars(one_metrics)["loss"],
                             pretrain.lm_scalars(two_metrics)["loss"], rtol=1e-6)
  for a, b in zip(jax.tree.leaves(one_state.params), jax.tree.leaves(two_state.params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  assert int(two_state.step) == 1


def test_causal_mask_hides_future_tokens():
  model = models.LanguageModel(TINY)
  inputs = features.pad_to(_sequences(1), 16)
  params = model.init(jax.random.PRNGKey(0), inputs)["params"]
  t = 6
  changed = inputs.copy()
  changed[0, t + 2:12] = features.TOKEN_TO_ID["if"]
  apply = jax.jit(model.apply)
  logits = apply({"params": params}, inputs)
  logits_changed = apply({"params": params}, changed)
  # Logits up to position t+1 depend only on tokens up to t+1.
  np.testing.assert_allclose(logits[0, :t + 2], logits_changed[0, :t + 2], atol=1e-6)
  assert not np.allclose(logits[0, t + 2:12], logits_changed[0, t + 2:12])
  # Hence the loss at position t (predicting token t+1) is unchanged.
  def loss_at(x, lg):
    return -jax.nn.log_softmax(lg[0, t])[x[0, t + 1]]
  np.testing.assert_allclose(loss_at(inputs, logits), loss_at(changed, logits_changed), atol=1e-6)


def test_loss_decreases_on_repeated_batch():
  config = STEP_CONFIG
  devices = jax.local_devices()[:1]
  p_train, _ = pretrain.compile_steps(TINY, devices)
  state = distributed.replicate(_state(config), devices, pretrain.AXIS)
  rngs = distributed.replicate(jax.random.PRNGKey(1), devices, pretrain.AXIS)
  batch = {"inputs": features.pad_to(_sequences(4), 16)[None]}
  losses = []
  for _ in range(40):
    state, metrics = p_train(state, batch, rngs)
    losses.append(pretrain.lm_scalars(distributed.unreplicate(metrics))["loss"])
  assert losses[-1] < 0.5 * losses[0]


def test_resume_equals_uninterrupted(tmp_path):
  sequences = _sequences(12)
  config = _config(num_steps=6)
  full = pretrain.train(config, tmp_path / "full", train_sequences=sequences,
                        valid_sequences=sequences[:3])
  # A kill after step 4 (last checkpoint at 3), then a resumed run to step 6.
  partial = pretrain.train(_config(num_steps=6, stop_after_steps=4), tmp_path / "split",
                           train_sequences=sequences, valid_sequences=sequences[:3])
  assert int(partial.step) == 4
  resumed = pretrain.train(config, tmp_path / "split", train_sequences=sequences,
                           valid_sequences=sequences[:3])
  assert int(resumed.step) == int(full.step) == 6
  for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(resumed.params)):
    np.testing.assert_array_equal(a, b)
  for a, b in zip(jax.tree.leaves(full.opt_state), jax.tree.leaves(resumed.opt_state)):
    np.testing.assert_array_equal(a, b)
  # Lines the killed run wrote after its checkpoint were dropped on resume.
  steps = [(r["step"], r["split"]) for r in writer.MetricWriter(tmp_path / "split").read()]
  assert len(steps) == len(set(steps))
  full_steps = [(r["step"], r["split"]) for r in writer.MetricWriter(tmp_path / "full").read()]
  assert steps == full_steps
  # Stage 2 loads the encoder by name from the pretraining workdir.
  params = checkpoints.load_params(tmp_path / "full")
  assert set(params) == {"encoder"}
  np.testing.assert_array_equal(params["encoder"]["token_embed"]["embedding"],
                                full.params["encoder"]["token_embed"]["embedding"])


def test_time_budget_stops_at_a_logging_step_with_a_checkpoint(tmp_path):
  sequences = _sequences(12)
  # A budget spent at once: the run stops at the first logging step (2 of 6), evaluated
  # and checkpointed there, and a later run without a budget resumes from it.
  stopped = pretrain.train(_config(num_steps=6, max_train_seconds=1e-9), tmp_path,
                           train_sequences=sequences, valid_sequences=sequences[:3])
  assert int(stopped.step) == 2
  records = writer.MetricWriter(tmp_path).read()
  assert [(r["step"], r["split"]) for r in records] == [(2, "train"), (2, "valid")]
  manager = checkpoints.checkpoint_manager(tmp_path / "checkpoints", keep=2)
  assert manager.latest_step() == 2
  resumed = pretrain.train(_config(num_steps=6), tmp_path, train_sequences=sequences)
  assert int(resumed.step) == 6
