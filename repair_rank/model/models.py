"""Flax transformer encoder, the causal language model and the pairwise scorer.

`LanguageModel` (stage 1) and `PairScorer` (stage 2) both hold an `Encoder`
submodule named "encoder" (and, for an untied output, a Dense named "lm_head"),
so stage-1 params load into stage 2 by name. Everything the scorer adds (edit
channel, distance embedding, score head) lives outside the encoder and is
zero-initialised where it is added to the encoder's input, so a pretrained
encoder starts stage 2 seeing exactly what it saw in stage 1.
"""
import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from repair_rank.model import features

POOLINGS = ("mean", "last")
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def resolve_dtype(name: str) -> Any:
  """"auto" -> bfloat16 on GPU/TPU, float32 on CPU; else the named dtype."""
  if name == "auto":
    return jnp.float32 if jax.default_backend() == "cpu" else jnp.bfloat16
  if name not in DTYPES:
    raise ValueError(f"config.model.dtype must be 'auto' or one of {sorted(DTYPES)}, got {name!r}")
  return DTYPES[name]


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
  """Hyperparameters of the encoder and the heads (see configs/default.py for units)."""
  vocab_size: int = features.VOCAB_SIZE
  dim: int = 128
  heads: int = 4
  layers: int = 2
  mlp_dim: int = 512
  max_len: int = 256
  dropout: float = 0.1
  attention_dropout: float = 0.1
  dtype: Any = jnp.float32
  tied_output: bool = True
  # Scorer only:
  edit_channel: bool = True
  edit_vocab_size: int = features.EDIT_VOCAB_SIZE
  distance_feature: bool = True
  max_distance: int = 8
  causal_scorer: bool = True
  pooling: str = "mean"
  lm_feature: bool = True
  pair_window: int = 0
  residual_init: bool = False
  deterministic: bool = True

  def replace(self, **changes: Any) -> "TransformerConfig":
    return dataclasses.replace(self, **changes)

  @classmethod
  def from_job_config(cls, config: ml_collections.ConfigDict, **overrides: Any
                      ) -> "TransformerConfig":
    """The model config of a job config's `model` block (dtype "auto" resolved here)."""
    fields = dict(config.model.to_dict())
    fields["dtype"] = resolve_dtype(fields["dtype"])
    fields.update(overrides)
    return cls(**fields)

  def to_json(self) -> dict[str, Any]:
    """A JSON-serialisable dict (dtype by name, train-time flags dropped)."""
    fields = {k: v for k, v in vars(self).items() if k != "deterministic"}
    fields["dtype"] = jnp.dtype(self.dtype).name
    return fields

  @classmethod
  def from_json(cls, fields: Mapping[str, Any], **overrides: Any) -> "TransformerConfig":
    """Inverse of `to_json`; `overrides` replace fields."""
    fields = dict(fields)
    fields["dtype"] = DTYPES[fields["dtype"]]
    fields.update(overrides)
    return cls(**fields)


class MlpBlock(nn.Module):
  """Position-wise feed-forward block."""
  config: TransformerConfig

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    config = self.config
    y = nn.Dense(config.mlp_dim, dtype=config.dtype, name="fc1")(x)
    y = nn.gelu(y)
    y = nn.Dropout(config.dropout)(y, deterministic=config.deterministic)
    y = nn.Dense(x.shape[-1], dtype=config.dtype, name="fc2")(y)
    return nn.Dropout(config.dropout)(y, deterministic=config.deterministic)


class EncoderBlock(nn.Module):
  """Pre-LN transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""
  config: TransformerConfig

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
    config = self.config
    y = nn.LayerNorm(dtype=config.dtype, name="ln_attention")(x)
    y = nn.MultiHeadDotProductAttention(
        num_heads=config.heads, dtype=config.dtype, dropout_rate=config.attention_dropout,
        deterministic=config.deterministic, name="attention")(y, y, mask=mask)
    x = x + nn.Dropout(config.dropout)(y, deterministic=config.deterministic)
    y = nn.LayerNorm(dtype=config.dtype, name="ln_mlp")(x)
    return x + MlpBlock(config, name="mlp")(y)


class Encoder(nn.Module):
  """Token + learned position embeddings, pre-LN blocks, final LayerNorm.

  `__call__(inputs, causal, extra_embeddings)` gives hidden states
  `[batch, length, dim]`; PAD (id 0) positions are masked out as keys.
  `attend(hidden)` gives tied-output logits over the vocabulary.
  """
  config: TransformerConfig

  def setup(self):
    config = self.config
    self.token_embed = nn.Embed(config.vocab_size, config.dim,
                                embedding_init=nn.initializers.normal(stddev=1.0),
                                name="token_embed")
    self.position_embed = self.param("position_embed", nn.initializers.normal(stddev=0.02),
                                     (config.max_len, config.dim))
    self.blocks = [EncoderBlock(config, name=f"block_{i}") for i in range(config.layers)]
    self.final_norm = nn.LayerNorm(dtype=config.dtype, name="final_norm")
    self.dropout = nn.Dropout(config.dropout)

  def __call__(self, inputs: jax.Array, *, causal: bool,
               extra_embeddings: jax.Array | None = None) -> jax.Array:
    config = self.config
    length = inputs.shape[-1]
    x = self.token_embed(inputs) + self.position_embed[None, :length]
    if extra_embeddings is not None:
      x = x + extra_embeddings
    x = self.dropout(x, deterministic=config.deterministic)
    x = x.astype(config.dtype)
    mask = nn.make_attention_mask(inputs > 0, inputs > 0)
    if causal:
      mask = nn.combine_masks(mask, nn.make_causal_mask(inputs))
    for block in self.blocks:
      x = block(x, mask)
    return self.final_norm(x)

  def attend(self, hidden: jax.Array) -> jax.Array:
    """Logits through the transposed token embedding, scaled by 1/sqrt(dim) as in lm1b (float32)."""
    logits = self.token_embed.attend(hidden.astype(jnp.float32))
    return logits / jnp.sqrt(hidden.shape[-1]).astype(jnp.float32)


class LanguageModel(nn.Module):
  """Causal next-token model: `inputs [batch, length]` -> logits `[batch, length, vocab]`."""
  config: TransformerConfig

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    encoder = Encoder(self.config, name="encoder")
    hidden = encoder(inputs, causal=True)
    return output_logits(self.config, encoder, hidden)


def output_logits(config: TransformerConfig, encoder: Encoder, hidden: jax.Array) -> jax.Array:
  """The LM head: tied embedding or a Dense named "lm_head" (called inside a compact module)."""
  if config.tied_output:
    return encoder.attend(hidden)
  return nn.Dense(config.vocab_size, dtype=config.dtype, name="lm_head")(hidden).astype(
      jnp.float32)


class PairScorer(nn.Module):
  """Scores `[BOS] query [SEP] candidate [EOS]` sequences: higher is a better repair.

  Inputs (leading dims `...` are any batch shape): inputs/edits/targets
  int32[..., length], distance int32[...]; returns float32 scores `[...]`.
  The score is Dense(1) of the pooled hidden states, plus (if `lm_feature`)
  a learned weight times the LM's log-likelihood of the candidate (and EOS)
  given the query, read through the pretrained LM head.
  """
  config: TransformerConfig

  @nn.compact
  def __call__(self, inputs: jax.Array, edits: jax.Array, targets: jax.Array,
               distance: jax.Array) -> jax.Array:
    config = self.config
    batch_shape = inputs.shape[:-1]
    inputs = inputs.reshape(-1, inputs.shape[-1])
    edits = edits.reshape(inputs.shape)
    targets = targets.reshape(inputs.shape)
    distance = distance.reshape(-1)

    extra = jnp.zeros(inputs.shape + (config.dim,), jnp.float32)
    if config.edit_channel:
      extra += nn.Embed(config.edit_vocab_size, config.dim, embedding_init=nn.initializers.zeros,
                        name="edit_embed")(edits)
    if config.distance_feature:
      # Added at BOS, so every position (also under a causal mask) can read it.
      clipped = jnp.clip(distance, 0, config.max_distance)
      distance_vector = nn.Embed(config.max_distance + 1, config.dim,
                                 embedding_init=nn.initializers.zeros,
                                 name="distance_embed")(clipped)
      extra = extra.at[:, 0].add(distance_vector)

    encoder = Encoder(config, name="encoder")
    hidden = encoder(inputs, causal=config.causal_scorer, extra_embeddings=extra)
    real = (inputs > 0).astype(jnp.float32)
    if config.pooling == "mean":
      pooled = (hidden.astype(jnp.float32) * real[..., None]).sum(1) / jnp.maximum(
          real.sum(1, keepdims=True), 1.0)
    elif config.pooling == "last":
      last = jnp.maximum(real.sum(1).astype(jnp.int32) - 1, 0)
      pooled = jnp.take_along_axis(hidden, last[:, None, None], axis=1)[:, 0].astype(jnp.float32)
    else:
      raise ValueError(f"pooling must be one of {POOLINGS}, got {config.pooling!r}")
    pooled = nn.Dropout(config.dropout)(pooled, deterministic=config.deterministic)
    # A zero residual at init: a model trained on top of a prior starts at the prior.
    head_init = nn.initializers.zeros if config.residual_init else nn.initializers.lecun_normal()
    score = nn.Dense(1, kernel_init=head_init, name="score_head")(pooled)[:, 0]

    if config.lm_feature:
      logits = output_logits(config, encoder, hidden)
      next_tokens = jnp.concatenate([inputs[:, 1:], jnp.zeros_like(inputs[:, :1])], axis=1)
      log_probs = jax.nn.log_softmax(logits)
      token_log_probs = jnp.take_along_axis(log_probs, next_tokens[..., None], axis=-1)[..., 0]
      weights = targets.astype(jnp.float32)
      log_likelihood = (token_log_probs * weights).sum(1)
      lm_weight = self.param(
          "lm_weight", nn.initializers.zeros if config.residual_init else nn.initializers.ones, ())
      score = score + lm_weight * log_likelihood
    return score.reshape(batch_shape)


ENCODER_COLLECTIONS = ("encoder", "lm_head")


def is_encoder_param(path: tuple[str, ...]) -> bool:
  """Whether a param path (top-level name first) belongs to the pretrained part."""
  return path[0] in ENCODER_COLLECTIONS
