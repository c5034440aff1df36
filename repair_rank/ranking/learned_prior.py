"""A learned first stage: the noisy-channel prior's parts, recombined on the lists it ranks.

The noisy-channel prior scores a candidate by its n-gram log-probability plus
1.75 x the summed log rates of its edits. Both weights are fixed, and nothing
in it can say that, for this query, a three-edit repair is likelier than the
best one-edit repair: on valid it puts the truth first for 70% of the
distance-1 pairs but 18% of the distance-3 ones, where the plain n-gram order
does better. This ranker keeps the same parts and learns, listwise on the
prior's own top lists of cross-fitted training instances, a linear score over
them and over features of the list they sit in (`FEATURE_NAMES`): how many
one-edit repairs exist, how far the best of them is from the best overall, a
candidate's rank. It is a baseline row of its own and the first stage the
transformer reranks behind.
"""
import dataclasses
import functools
import json
import pathlib
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rapidfuzz.distance import Levenshtein

from repair_rank import paths
from repair_rank.data.instances import RankingInstance, token_distance
from repair_rank.generator import edit_stats as edit_stats_lib
from repair_rank.generator import ngram
from repair_rank.syntax import syntax_errors

DEFAULT_PATH = paths.ASSETS_DIR / "learned_prior.json"
FORMAT = "repair_rank.learned_prior/1"  # Linear: what the files without a hidden layer say.
FORMAT_HIDDEN = "repair_rank.learned_prior/2"  # With a hidden layer (`HiddenLayer`).
FEATURE_NAMES = (
    "log_prob",          # n-gram log-probability of the candidate (nats)
    "channel",           # summed log rates of its edits (nats)
    "distance_1", "distance_2", "distance_3+",   # one-hot token edit distance
    "insertions", "deletions", "substitutions",  # edits of each kind
    "log_prob_per_token",
    "log_rank",          # log(1 + rank) in the prior's order over the list
    "log_rank_in_distance",  # log(1 + rank) among candidates at the same distance
    "deep_x_log_distance1_count",  # [distance >= 2] x log(1 + number of one-edit repairs)
    "deep_x_best1_gap",  # [distance >= 2] x (best one-edit prior - best prior), nats
    "near_x_best2_gap",  # [distance == 1] x (best two-edit prior - best prior), nats
    "log_gap_to_error",  # log(1 + tokens from Python's reported error to the nearest edit)
    "log_edit_spread",   # log(1 + tokens between the first and the last edit)
    "edits_after_error",  # edits after the span Python blamed
)
_MISSING_GAP = -30.0  # The gap used when the list holds no candidate at that distance.


def parts_of(query: Sequence[str], candidates: Sequence[Sequence[str]],
             model: ngram.NgramModel, stats: edit_stats_lib.EditStats) -> np.ndarray:
  """`[n, 2]` (n-gram log-probability, channel log rate) of each candidate."""
  parts = np.zeros((len(candidates), 2), np.float64)
  if len(candidates):
    parts[:, 0] = model.log_probs(candidates)
    parts[:, 1] = [edit_stats_lib.channel_log_rate(stats, query, c) for c in candidates]
  return parts


def prior_score(parts: np.ndarray, channel_weight: float) -> np.ndarray:
  """The noisy-channel prior from its parts `[n, 2]` (log_prob, channel)."""
  return parts[:, 0] + channel_weight * parts[:, 1]


def features(query: Sequence[str], candidates: Sequence[Sequence[str]], parts: np.ndarray,
             channel_weight: float) -> np.ndarray:
  """float32 `[len(candidates), len(FEATURE_NAMES)]` for one query's list."""
  parts = np.asarray(parts, np.float64).reshape(-1, 2)
  n = len(candidates)
  counts = np.zeros((n, 3))
  error = syntax_errors.parse_error(query)
  where = (error.index, max(error.index, error.end_index)) if error else (len(query),) * 2
  placement = np.zeros((n, 3))
  for i, candidate in enumerate(candidates):
    ops = Levenshtein.editops(list(query), list(candidate))
    for op in ops:
      counts[i, ("insert", "delete", "replace").index(op.tag)] += 1
    if ops:
      positions = np.array([op.src_pos for op in ops])
      placement[i] = (np.log1p(np.abs(positions - where[0]).min()),
                      np.log1p(positions.max() - positions.min()), (positions > where[1]).sum())
  distance = np.minimum(counts.sum(1), 3)
  lengths = np.array([len(c) + 1 for c in candidates], np.float64)  # + </s>
  prior = prior_score(parts, channel_weight)
  rank = _ranks(prior)
  rank_in_distance = np.zeros(n)
  best = {}
  for d in (1, 2, 3):
    members = np.flatnonzero(distance == d)
    if len(members):
      rank_in_distance[members] = _ranks(prior[members])
      best[d] = prior[members].max()
  top = prior.max() if n else 0.0
  deep = (distance >= 2).astype(np.float64)
  near = (distance == 1).astype(np.float64)
  columns = [
      parts[:, 0], parts[:, 1],
      distance == 1, distance == 2, distance == 3,
      counts[:, 0], counts[:, 1], counts[:, 2],
      parts[:, 0] / lengths,
      np.log1p(rank), np.log1p(rank_in_distance),
      deep * np.log1p((distance == 1).sum()),
      deep * (best.get(1, top + _MISSING_GAP) - top),
      near * (best.get(2, top + _MISSING_GAP) - top),
      placement[:, 0], placement[:, 1], placement[:, 2],
  ]
  return np.stack([np.asarray(c, np.float64) for c in columns], 1).astype(np.float32)


def _ranks(values: np.ndarray) -> np.ndarray:
  order = np.argsort(-values, kind="stable")
  ranks = np.empty(len(values))
  ranks[order] = np.arange(len(values))
  return ranks


def gelu(x: np.ndarray) -> np.ndarray:
  """The tanh approximation of GELU, as jax.nn.gelu computes it (approximate=True)."""
  return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


@dataclasses.dataclass(frozen=True)
class HiddenLayer:
  """One GELU layer over the raw features beside the linear score:
  gelu(features @ w1 + b1) @ w2. A linear score cannot say, e.g., that an
  insertion right at Python's error is likelier than a deletion there."""
  w1: tuple[tuple[float, ...], ...]  # [len(FEATURE_NAMES), width]
  b1: tuple[float, ...]  # [width]
  w2: tuple[float, ...]  # [width]

  def __call__(self, x: np.ndarray) -> np.ndarray:
    w1 = np.asarray(self.w1, np.float64)
    return gelu(np.asarray(x, np.float64) @ w1 + np.asarray(self.b1, np.float64)) @ \
        np.asarray(self.w2, np.float64)

  def to_json(self) -> dict:
    return {"w1": [list(row) for row in self.w1], "b1": list(self.b1), "w2": list(self.w2)}

  @classmethod
  def from_json(cls, data: dict, where: str) -> "HiddenLayer":
    w1 = np.asarray(data["w1"], np.float64)
    b1, w2 = np.asarray(data["b1"], np.float64), np.asarray(data["w2"], np.float64)
    if (w1.ndim != 2 or w1.shape[0] != len(FEATURE_NAMES)
        or b1.shape != (w1.shape[1],) or w2.shape != (w1.shape[1],)):
      raise ValueError(f"{where}: hidden layer shapes w1 {w1.shape}, b1 {b1.shape}, "
                       f"w2 {w2.shape}; expected ({len(FEATURE_NAMES)}, H), (H,), (H,)")
    return cls(tuple(tuple(float(v) for v in row) for row in w1),
               tuple(float(v) for v in b1), tuple(float(v) for v in w2))

  def values(self) -> list[float]:
    return [v for row in self.w1 for v in row] + list(self.b1) + list(self.w2)


@dataclasses.dataclass(frozen=True)
class LearnedPrior:
  """Linear weights over `FEATURE_NAMES` (and optionally a `hidden` layer), applied to
  the first stage's top `list_size`."""
  weights: tuple[float, ...]
  channel_weight: float
  list_size: int
  hidden: HiddenLayer | None = None

  @classmethod
  def plain(cls, channel_weight: float, list_size: int) -> "LearnedPrior":
    """The noisy-channel prior itself (log_prob + channel_weight x channel)."""
    weights = np.zeros(len(FEATURE_NAMES))
    weights[0], weights[1] = 1.0, channel_weight
    return cls(tuple(float(w) for w in weights), channel_weight, list_size)

  def score_list(self, query: Sequence[str], candidates: Sequence[Sequence[str]],
                 parts: np.ndarray) -> np.ndarray:
    """Scores of a whole generator list: the learned score on the prior's top
    `list_size`, every other candidate below them in the prior's order."""
    parts = np.asarray(parts, np.float64).reshape(-1, 2)
    scores = np.empty(len(candidates), np.float64)
    if not len(candidates):
      return scores
    order = np.argsort(-prior_score(parts, self.channel_weight), kind="stable")
    top, rest = order[:self.list_size], order[self.list_size:]
    scores[top] = self.score_parts(query, [candidates[i] for i in top], parts[top])
    scores[rest] = scores[top].min() - 1.0 - np.arange(len(rest))
    return scores

  def score_parts(self, query: Sequence[str], candidates: Sequence[Sequence[str]],
                  parts: np.ndarray) -> np.ndarray:
    """Scores of one list whose (log_prob, channel) parts are known (float64)."""
    x = features(query, candidates, parts, self.channel_weight).astype(np.float64)
    scores = x @ np.asarray(self.weights, np.float64)
    if self.hidden is not None:
      scores = scores + self.hidden(x)
    return scores

  def values(self) -> list[float]:
    """Every number the scores depend on (for finiteness checks)."""
    return (list(self.weights) + [self.channel_weight]
            + (self.hidden.values() if self.hidden is not None else []))

  def to_json(self) -> dict:
    data = {"format": FORMAT if self.hidden is None else FORMAT_HIDDEN,
            "features": list(FEATURE_NAMES), "weights": list(self.weights),
            "channel_weight": self.channel_weight, "list_size": self.list_size}
    if self.hidden is not None:
      data["hidden"] = self.hidden.to_json()
    return data

  @classmethod
  def from_json(cls, data: dict, where: str = "learned prior") -> "LearnedPrior":
    expected = FORMAT_HIDDEN if "hidden" in data else FORMAT
    if data.get("format") != expected:
      raise ValueError(f"{where}: format {data.get('format')!r}, expected {expected!r}")
    if tuple(data.get("features", ())) != FEATURE_NAMES:
      raise ValueError(f"{where}: its features {data.get('features')} are not this code's "
                       f"{list(FEATURE_NAMES)}")
    hidden = HiddenLayer.from_json(data["hidden"], where) if "hidden" in data else None
    return cls(tuple(float(w) for w in data["weights"]), float(data["channel_weight"]),
               int(data["list_size"]), hidden)

  def save(self, path: str | pathlib.Path) -> None:
    pathlib.Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

  @classmethod
  def load(cls, path: str | pathlib.Path) -> "LearnedPrior":
    try:
      data = json.loads(pathlib.Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
      raise ValueError(f"{path}: cannot read a learned prior: {e}") from None
    return cls.from_json(data, str(path))


@functools.cache
def load_default() -> LearnedPrior:
  """The bundled learned prior (repair_rank/assets/learned_prior.json), loaded once."""
  return LearnedPrior.load(DEFAULT_PATH)


def first_stage_list(instance: RankingInstance, list_size: int, channel_weight: float,
                     rng: np.random.Generator | None = None, random_negatives: int = 0):
  """(candidates, parts, truth index) of the list the learned stage ranks for `instance`.

  The first stage's top `list_size` by the prior, the truth added where it fell
  outside (or the generator missed it), and `random_negatives` more drawn from
  the rest (training only: keeps the model sane on the tail).
  """
  candidates = list(instance.candidates)
  parts = list(instance.parts)
  if instance.truth not in candidates:
    candidates.append(instance.truth)
    parts.append(instance.truth_parts)
  parts = np.asarray(parts, np.float64)
  truth = candidates.index(instance.truth)
  chosen = _top_with_truth(prior_score(parts, channel_weight), list_size, truth,
                           random_negatives, rng)
  return [candidates[i] for i in chosen], parts[chosen], chosen.index(truth)


QUOTA_DISTANCES = (1, 2, 3)  # The token edit distances a per-distance quota covers.


def top_with_quota(order: Sequence[int], distances: Sequence[int] | Mapping[int, int],
                   k: int, per_distance: int) -> list[int]:
  """The first `k` of `order` (indices, best first), then, at each distance of
  QUOTA_DISTANCES, the best `per_distance` of the rest at that token edit distance
  (`distances[i]`: candidate i's; only those after the first `k` are read), in
  `order`'s order.

  The first stage's top 16 holds few three-edit repairs (on valid it holds the truth
  for 0.49 of the distance-3 queries; 0.62 with 4 of each distance added, BENCHMARKS.md),
  so a reranker behind it never sees most of them; the quota makes room for them.
  """
  chosen = list(order[:k])
  if per_distance > 0:
    taken = dict.fromkeys(QUOTA_DISTANCES, 0)
    for i in order[k:]:
      d = distances[i]
      if d in taken and taken[d] < per_distance:
        chosen.append(i)
        taken[d] += 1
  return chosen


def _top_with_truth(scores: np.ndarray, k: int, truth: int, random_negatives: int,
                    rng: np.random.Generator | None, distances: Sequence[int] | None = None,
                    per_distance: int = 0) -> list[int]:
  """Indices of the top `k` by `scores` (and `top_with_quota`'s `per_distance` more at
  each distance), `random_negatives` more drawn from the rest, and `truth` appended
  where it is not among them."""
  order = np.argsort(-scores, kind="stable")
  chosen = (top_with_quota(order, distances, k, per_distance) if per_distance
            else list(order[:k]))
  picked = set(chosen)
  rest = [i for i in order if i not in picked and i != truth]
  if random_negatives and rest:
    chosen += list(rng.choice(rest, size=min(random_negatives, len(rest)), replace=False))
  if truth not in chosen:
    chosen.append(truth)
  return chosen


def reranked_group(instance: RankingInstance, prior: LearnedPrior, group_size: int,
                   random_negatives: int = 0, rng: np.random.Generator | None = None,
                   per_distance: int = 0
                   ) -> tuple[list[tuple[str, ...]], np.ndarray, int]:
  """(candidates, learned-prior scores, truth index) of the list a reranker behind
  `prior` sees for `instance`: the prior's top `group_size` of its first-stage
  list (with `per_distance` > 0, `top_with_quota`'s more at each distance), the
  truth added where it fell outside (a case to measure: at inference it would be
  lost), and `random_negatives` more from the rest of that list.
  Scores are the stored, cross-fitted parts' (the instance must have them).
  """
  candidates, parts, truth = first_stage_list(instance, prior.list_size, prior.channel_weight)
  scores = prior.score_parts(instance.query, candidates, parts)
  distances = ([token_distance(instance.query, c) for c in candidates] if per_distance
               else None)
  chosen = _top_with_truth(scores, group_size, truth, random_negatives, rng, distances,
                           per_distance)
  return [candidates[i] for i in chosen], scores[chosen], chosen.index(truth)


def fit(instances: Sequence[RankingInstance], *, list_size: int = 64,
        channel_weight: float = edit_stats_lib.CHANNEL_WEIGHT,
        random_negatives: int = 0, tau: float = 1.0, l2: float = 1e-3, steps: int = 2000,
        learning_rate: float = 0.05, seed: int = 0,
        query_weights: np.ndarray | None = None, drop: Sequence[str] = (),
        hidden: int = 0) -> tuple[LearnedPrior, float]:
  """Fits the weights listwise (softmax cross-entropy of the truth, scores / tau).

  `query_weights` (one per instance) reweights the loss, e.g. to a target mix
  of distances. Features named in `drop` keep weight 0 (ablations). `hidden` > 0
  adds a GELU layer of that width beside the linear score (`HiddenLayer`; it starts
  at zero output). Features are standardised for the optimiser and the weights
  mapped back, so the result applies to raw features. Starts from the plain
  prior. Returns the fitted prior and its training loss (penalty included).
  """
  if hidden < 0:
    raise ValueError(f"hidden must be >= 0, got {hidden}")
  rng = np.random.default_rng(seed)
  kept = [i for i, inst in enumerate(instances) if inst.parts is not None]
  if not kept:
    raise ValueError("no instances with prior parts to fit on (build them with build_data)")
  lists = [first_stage_list(instances[i], list_size, channel_weight, rng, random_negatives)
           for i in kept]
  width = max(len(candidates) for candidates, _, _ in lists)
  x = np.zeros((len(lists), width, len(FEATURE_NAMES)), np.float32)
  mask = np.zeros((len(lists), width), bool)
  for row, (i, (candidates, parts, _)) in enumerate(zip(kept, lists)):
    x[row, :len(candidates)] = features(instances[i].query, candidates, parts, channel_weight)
    mask[row, :len(candidates)] = True
  labels = jnp.asarray([label for _, _, label in lists], jnp.int32)
  weights = (jnp.ones(len(kept)) if query_weights is None
             else jnp.asarray(np.asarray(query_weights, np.float32)[kept]))
  real = mask[..., None]
  mean = (x * real).sum((0, 1)) / mask.sum()
  std = np.sqrt((((x - mean) ** 2) * real).sum((0, 1)) / mask.sum()) + 1e-6
  unknown = set(drop) - set(FEATURE_NAMES)
  if unknown:
    raise ValueError(f"drop: unknown features {sorted(unknown)}; known: {FEATURE_NAMES}")
  used = np.array([name not in drop for name in FEATURE_NAMES])
  standard = jnp.asarray(np.where(real & used, (x - mean) / std, 0.0))
  start = np.zeros(len(FEATURE_NAMES), np.float32)
  start[0], start[1] = std[0], channel_weight * std[1]  # The plain prior.
  start = np.where(used, start, 0.0).astype(np.float32)
  mask = jnp.asarray(mask)
  params = {"linear": jnp.asarray(start)}
  if hidden:  # Small random inputs, zero output: the fit starts at the plain prior.
    params["w1"] = 0.1 * jax.random.normal(jax.random.PRNGKey(seed), (len(FEATURE_NAMES), hidden))
    params["b1"], params["w2"] = jnp.zeros(hidden), jnp.zeros(hidden)
  in_use = jnp.asarray(used, jnp.float32)[:, None]  # A dropped feature feeds nothing.

  def score(p):
    out = standard @ p["linear"]
    if hidden:
      out = out + jax.nn.gelu(standard @ (p["w1"] * in_use) + p["b1"]) @ p["w2"]
    return out

  def loss_fn(p):
    logits = jnp.where(mask, score(p) / tau, -1e9)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    penalty = sum(jnp.sum(v ** 2) for v in jax.tree_util.tree_leaves(p))
    return (losses * weights).sum() / weights.sum() + l2 * penalty

  optimizer = optax.adam(learning_rate)

  @jax.jit
  def step(w, state):
    loss, grads = jax.value_and_grad(loss_fn)(w)
    updates, state = optimizer.update(grads, state)
    return optax.apply_updates(w, updates), state, loss

  state = optimizer.init(params)
  for _ in range(steps):
    params, state, _ = step(params, state)
  loss = jax.jit(loss_fn)(params)  # Of the weights returned.
  std = std.astype(np.float64)
  raw = np.asarray(params["linear"], np.float64) / std  # The mean shift cancels in a list.
  layer = None
  if hidden:  # z = (x - mean) / std, so z @ w1 + b1 = x @ (w1 / std) + b1 - (mean / std) @ w1.
    w1 = np.asarray(params["w1"], np.float64) * used[:, None]
    b1 = np.asarray(params["b1"], np.float64) - (mean / std) @ w1
    layer = HiddenLayer(tuple(tuple(float(v) for v in row) for row in w1 / std[:, None]),
                        tuple(float(v) for v in b1),
                        tuple(float(v) for v in np.asarray(params["w2"], np.float64)))
  return (LearnedPrior(tuple(float(v) for v in raw), channel_weight, list_size, layer),
          float(loss))
