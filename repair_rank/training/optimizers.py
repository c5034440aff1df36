"""The one optimiser builder: global-norm clipping then AdamW on a warm-up/cosine schedule."""
import functools
from typing import Any, Callable

import ml_collections
import optax


def warmup_cosine(peak: float, warmup_steps: int, total_steps: int) -> optax.Schedule:
  """Linear warm-up from 0 to `peak`, then cosine decay to 0 at `total_steps`."""
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=peak, warmup_steps=max(1, min(warmup_steps, total_steps - 1)),
      decay_steps=max(2, total_steps), end_value=0.0)


def adamw(config: ml_collections.ConfigDict, *,
          groups: tuple[tuple[str, float | None], ...] = (),
          labels: Callable[[Any], Any] | None = None) -> optax.GradientTransformation:
  """Clipping then AdamW from a job config (`warmup_steps`, `num_steps`, `weight_decay`, ...).

  Without `groups`: one group at `config.learning_rate`. With them, `labels(params)`
  names each param's group and every (name, peak) pair of `groups` gets its own
  clipping and AdamW at that peak, or is frozen where the peak is None.
  Cached by hyperparameters: `TrainState.tx` is static, so an equal-but-new
  optimiser object would make jax recompile the pmapped step on every run.
  """
  shared = (config.warmup_steps, config.num_steps, config.weight_decay, config.grad_clip_norm)
  if not groups:
    return _adamw(config.learning_rate, *shared)
  return _grouped(tuple(groups), labels, *shared)


@functools.lru_cache(maxsize=32)
def _adamw(peak: float, warmup_steps: int, total_steps: int, weight_decay: float,
           clip_norm: float) -> optax.GradientTransformation:
  return optax.chain(optax.clip_by_global_norm(clip_norm),
                     optax.adamw(warmup_cosine(peak, warmup_steps, total_steps),
                                 weight_decay=weight_decay))


@functools.lru_cache(maxsize=16)
def _grouped(groups: tuple[tuple[str, float | None], ...], labels: Callable[[Any], Any],
             warmup_steps: int, total_steps: int, weight_decay: float, clip_norm: float
             ) -> optax.GradientTransformation:
  return optax.multi_transform(
      {name: optax.set_to_zero() if peak is None else
       _adamw(peak, warmup_steps, total_steps, weight_decay, clip_norm)
       for name, peak in groups}, labels)
