"""Interpolated modified Kneser–Ney n-gram model over Python lexical tokens.

The Markov model of the pipeline (README.md): it orders repair candidates and is a
baseline for the neural ranker. Chen & Goodman (1998) interpolated modified
Kneser–Ney, three discounts D1, D2, D3+ per order from the count-of-counts,
n-gram codes packed into int64 (7 bits per token) and all counting done with
numpy. Sentences are padded with `<s>` x (order - 1) in front and `</s>` at the
end; `</s>` is predicted and counted in perplexity. The lowest order
interpolates with a uniform distribution over the vocabulary (`ALL_TOKENS` +
`</s>`), so no token, not even one outside the alphabet, gets probability zero.

Lower-order counts are continuation counts (distinct left extensions), also
for n-grams that start with `<s>` (whose left extension is more padding).
KenLM and SRILM keep raw counts there instead (`bos_raw_counts=True`); on
valid that is slightly worse (order 6: 2.942 against 2.924), and the
continuation-count variant is the one that reproduces the independent
cross-check perplexities quoted in BENCHMARKS.md (3.70 / 3.37 / 3.05 / 2.92 at orders 3-6).

Scoring walks a lazily built automaton: a state is the longest suffix of the
history that was seen as a context, and each state caches one row of next-token
log-probabilities and one row of successor states (the cache grows with the
states visited; `clear_cache` empties it). Scoring a sequence is then two array
lookups per token, and the state API (`initial_state`, `next_log_prob`,
`next_log_probs`, `advance`) lets a search score prefixes incrementally.

Pruning (`min_counts`) keeps each distribution normalised: the discounted mass
of dropped n-grams moves to their context's backoff weight.
"""
import array
import dataclasses
import functools
import json
import math
import os
import pathlib
from typing import Iterable, Optional, Sequence

import numpy as np

from repair_rank import paths
from repair_rank.syntax import tokens as tokens_lib

BOS = "<s>"
EOS = "</s>"
# The predicted vocabulary: the uniform base distribution is over these.
VOCAB: tuple[str, ...] = (*tokens_lib.ALL_TOKENS, EOS)
_EOS_ID = len(tokens_lib.ALL_TOKENS)
_BOS_ID = _EOS_ID + 1
_UNK_ID = _EOS_ID + 2  # Any token outside VOCAB; scored like an unseen token.
_NUM_IDS = _UNK_ID + 1
_BITS = 7  # Bits per token id in a packed n-gram code.
_ID_MASK = (1 << _BITS) - 1
MAX_ORDER = 63 // _BITS  # 9: the longest n-gram that fits an int64 code.
_TOKEN_TO_ID = {tok: i for i, tok in enumerate(VOCAB)}
_FORMAT_VERSION = 1
DEFAULT_PATH = paths.ASSETS_DIR / "ngram_default.npz"
assert _NUM_IDS <= 1 << _BITS


def _mask(k: int) -> int:
  """Bit mask keeping the last k tokens of a packed code."""
  return (1 << (_BITS * k)) - 1


def _ids(tokens: Sequence[str]) -> list[int]:
  return [_TOKEN_TO_ID.get(tok, _UNK_ID) for tok in tokens]


# --- Counting -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NgramCounts:
  """Weighted counts of packed n-grams of one length (e.g. the 5-gram CSVs).

  Each n-gram counts the corpus positions whose `order` tokens ending there are
  that n-gram, so its k-suffixes give the k-gram counts of the same positions.
  """
  order: int
  codes: np.ndarray  # int64 [N], sorted, unique.
  counts: np.ndarray  # int64 [N], >= 1.

  @property
  def total(self) -> int:
    return int(self.counts.sum())

  def scaled(self, weight: float) -> "NgramCounts":
    """Counts times `weight`, rounded; n-grams rounding to zero are dropped."""
    counts = np.rint(self.counts * weight).astype(np.int64)
    keep = counts > 0
    return NgramCounts(self.order, self.codes[keep], counts[keep])

  def suffix_counts(self, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes and summed counts of the k-token suffixes."""
    codes, inverse = np.unique(self.codes & _mask(k), return_inverse=True)
    return codes, np.bincount(inverse, weights=self.counts).astype(np.int64)

  @classmethod
  def merge(cls, parts: Sequence["NgramCounts"]) -> "NgramCounts":
    """The sum of several count tables of the same order."""
    if len({p.order for p in parts}) != 1:
      raise ValueError("can only merge n-gram counts of one order")
    codes, inverse = np.unique(
        np.concatenate([p.codes for p in parts]), return_inverse=True)
    counts = np.bincount(
        inverse, weights=np.concatenate([p.counts for p in parts]))
    return cls(parts[0].order, codes, counts.astype(np.int64))


def read_ngram_csv(path: os.PathLike | str) -> NgramCounts:
  """Reads `tok tok tok tok tok ::: count` lines (data/ngrams/ngrams_*_5.csv).

  `BOS`/`EOS` map to `<s>`/`</s>`. Lines with a token outside the alphabet, or
  with `<s>`/`</s>` where padding cannot put them, are skipped.
  """
  rename = {"BOS": BOS, "EOS": EOS}
  codes, counts, order = [], [], None
  with open(path) as f:
    for line_number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        gram, count = line.rsplit(":::", 1)
        count = int(count)
      except ValueError as e:
        raise ValueError(f"{path}:{line_number}: bad n-gram line {line!r}") from e
      toks = [rename.get(t, t) for t in gram.split()]
      if order is None:
        order = len(toks)
      if len(toks) != order:
        raise ValueError(f"{path}:{line_number}: expected {order} tokens")
      ids = [_BOS_ID if t == BOS else _TOKEN_TO_ID.get(t, _UNK_ID) for t in toks]
      if _UNK_ID in ids or _EOS_ID in ids[:-1] or ids[-1] == _BOS_ID:
        continue
      first_real = next(i for i, t in enumerate(ids) if t != _BOS_ID)
      if _BOS_ID in ids[first_real:]:
        continue
      code = 0
      for i in ids:
        code = (code << _BITS) | i
      codes.append(code)
      counts.append(count)
  if order is None:
    raise ValueError(f"{path}: no n-grams")
  return NgramCounts.merge(
      [NgramCounts(order, np.array(codes, np.int64), np.array(counts, np.int64))])


def _window_codes(sequences: Iterable[Sequence[str]], order: int):
  """Packed codes of the windows of length 1..order ending at each predicted token."""
  pieces, pad = [], [_BOS_ID] * (order - 1)
  for tokens in sequences:
    ids = _ids(tokens)
    if _UNK_ID in ids or _EOS_ID in ids:
      bad = next(t for t in tokens if t not in _TOKEN_TO_ID or t == EOS)
      raise tokens_lib.UnknownTokenError(f"unknown token {bad!r} in training data")
    pieces.append(pad + ids + [_EOS_ID])
  if not pieces:
    raise ValueError("no training sequences")
  ids = np.fromiter((i for p in pieces for i in p), np.int64)
  predicted = ids != _BOS_ID
  windows = [ids]
  for _ in range(order - 1):
    # Windows never cross sentences: every sentence starts with order-1 <s>.
    shifted = np.concatenate([[0], windows[-1][:-1]])
    windows.append((shifted << _BITS) | ids)
  return [np.unique(w[predicted], return_counts=True) for w in windows]


def window_counts(sequences: Iterable[Sequence[str]], order: int) -> NgramCounts:
  """Counts of the `order`-token windows (with padding) ending at each token."""
  codes, counts = _window_codes(sequences, order)[-1]
  return NgramCounts(order, codes, counts.astype(np.int64))


def _discounts(counts: np.ndarray) -> np.ndarray:
  """Chen & Goodman's D1, D2, D3+ from the count-of-counts, clipped to be usable."""
  n = [np.count_nonzero(counts == i) for i in range(1, 5)]
  y = n[0] / (n[0] + 2 * n[1]) if n[0] and n[1] else 0.5
  out = []
  for i, default in zip(range(1, 4), (0.5, 1.0, 1.5)):
    d = i - (i + 1) * y * n[i] / n[i - 1] if n[i - 1] and n[i] else default
    out.append(min(max(d, 0.05), i - 0.05))
  return np.array(out)


def _lookup(sorted_codes: np.ndarray, keys: np.ndarray):
  """Index of each key in sorted_codes and whether it is there."""
  idx = np.searchsorted(sorted_codes, keys)
  idx = np.minimum(idx, max(len(sorted_codes) - 1, 0))
  found = (sorted_codes[idx] == keys) if len(sorted_codes) else np.zeros(len(keys), bool)
  return idx, found


# --- The model --------------------------------------------------------------------


class NgramModel:
  """An interpolated modified Kneser–Ney model; build with `fit` or `load`."""

  def __init__(self, order: int, codes: list[np.ndarray], counts: list[np.ndarray],
               context_codes: list[np.ndarray], context_totals: list[np.ndarray],
               discounts: np.ndarray, metadata: Optional[dict] = None):
    """From stored arrays; index k-1 of each list holds order k.

    codes/counts: the kept k-grams and their (adjusted) counts; context_codes/
    context_totals: each context with a kept k-gram and its total count before
    pruning, so that pruned mass goes to the backoff.
    """
    self.order = order
    self.metadata = dict(metadata or {})
    self._arrays = dict(codes=codes, counts=counts, context_codes=context_codes,
                        context_totals=context_totals, discounts=discounts)
    self._build(codes, counts, context_codes, context_totals, discounts)

  # -- construction --

  @classmethod
  def fit(cls, sequences: Iterable[Sequence[str]], order: int = 6, *,
          extra_ngrams: NgramCounts | Sequence[NgramCounts] | None = None,
          extra_weight: float = 0.0,
          min_counts: Optional[Sequence[int]] = None,
          bos_raw_counts: bool = False,
          metadata: Optional[dict] = None) -> "NgramModel":
    """Fits a model of `order` on token sequences (without `<s>`/`</s>`).

    extra_ngrams: counts of fixed-length n-grams from other corpora (e.g. the
      5-gram CSVs, which hold only frequent n-grams, or `window_counts` of the
      standard library). Their k-suffixes add
      n-gram types, hence continuation counts, at every order below the model's;
      at the model's own order (if not above theirs) their suffix counts times
      `extra_weight` add to the raw counts. A type with no known left extension
      gets continuation count 1.
    extra_weight: the weight of extra raw counts (0: only types are used).
    min_counts: per order (index k-1), drop k-grams whose adjusted count is below
      it (pruning), keeping every suffix and prefix of a kept longer n-gram.
    bos_raw_counts: lower-order n-grams starting with `<s>` keep raw counts
      (KenLM's rule) instead of continuation counts.
    """
    if not 1 <= order <= MAX_ORDER:
      raise ValueError(f"order must be in 1..{MAX_ORDER}, got {order}")
    raw = _window_codes(sequences, order)
    if isinstance(extra_ngrams, NgramCounts):
      extra_ngrams = [extra_ngrams]
    for extra in extra_ngrams or ():
      for k in range(1, min(order, extra.order) + 1):
        ext_codes, ext_counts = extra.suffix_counts(k)
        if k == order:  # Raw counts, weighted; below the top only types count.
          ext_counts = np.rint(ext_counts * extra_weight).astype(np.int64)
          ext_codes, ext_counts = ext_codes[ext_counts > 0], ext_counts[ext_counts > 0]
        merged = NgramCounts.merge([NgramCounts(k, *raw[k - 1]),
                                    NgramCounts(k, ext_codes, ext_counts)])
        raw[k - 1] = (merged.codes, merged.counts)

    # Adjusted counts: raw at the top order, else the number of distinct left
    # extensions (or raw for n-grams starting with <s> if bos_raw_counts).
    adjusted = [None] * order
    adjusted[order - 1] = raw[order - 1][1]
    for k in range(order - 1, 0, -1):
      codes = raw[k - 1][0]
      suffixes, continuation = np.unique(raw[k][0] & _mask(k), return_counts=True)
      idx, found = _lookup(suffixes, codes)
      counts = np.where(found, continuation[idx], 0)
      if bos_raw_counts:
        starts_bos = (codes >> (_BITS * (k - 1))) == _BOS_ID
        counts = np.where(starts_bos, raw[k - 1][1], counts)
      adjusted[k - 1] = np.maximum(counts, 1).astype(np.int64)
    discounts = np.stack([_discounts(c) for c in adjusted])

    # Pruning, closed under suffixes and prefixes of kept n-grams.
    keep = [np.ones(len(c), bool) for c in adjusted]
    if min_counts is not None:
      for k, m in enumerate(min_counts[:order], 1):
        keep[k - 1] = adjusted[k - 1] >= m
      for k in range(order, 1, -1):
        kept = raw[k - 1][0][keep[k - 1]]
        prefixes = kept >> _BITS
        prefixes = prefixes[(prefixes & _ID_MASK) != _BOS_ID]
        needed = np.union1d(kept & _mask(k - 1), prefixes)
        keep[k - 2] |= np.isin(raw[k - 2][0], needed)

    codes, counts, context_codes, context_totals = [], [], [], []
    for k in range(1, order + 1):
      all_contexts, inverse = np.unique(raw[k - 1][0] >> _BITS, return_inverse=True)
      totals = np.bincount(inverse, weights=adjusted[k - 1]).astype(np.int64)
      kept_codes = raw[k - 1][0][keep[k - 1]]
      ctx = np.unique(kept_codes >> _BITS)
      codes.append(kept_codes)
      counts.append(adjusted[k - 1][keep[k - 1]])
      context_codes.append(ctx)
      context_totals.append(totals[np.searchsorted(all_contexts, ctx)])
    return cls(order, codes, counts, context_codes, context_totals, discounts, metadata)

  def _build(self, codes, counts, context_codes, context_totals, discounts):
    """Interpolated log-probs of the kept n-grams and the automaton's states.

    States are the contexts with a kept n-gram, level j holding j-token
    contexts; state 0 is the empty context.
    """
    order = self.order
    uniform = 1.0 / len(VOCAB)
    self._level_codes, self._offsets = [], []
    log_gamma, suffix, starts, ends, words, logps = [], [], [], [], [], []
    lower_codes = lower_probs = None
    offset = 0
    for k in range(1, order + 1):
      c, ctx, totals = codes[k - 1], context_codes[k - 1], context_totals[k - 1]
      cnt = counts[k - 1].astype(np.float64)
      d = np.asarray(discounts[k - 1])[np.minimum(counts[k - 1], 3) - 1]
      ctx_index = np.searchsorted(ctx, c >> _BITS)
      alpha = np.maximum(cnt - d, 0.0) / totals[ctx_index]
      gamma = 1.0 - np.bincount(ctx_index, weights=alpha, minlength=len(ctx))
      # Float rounding aside, gamma > 0 because every discount is > 0.
      gamma = np.maximum(gamma, 1e-12)
      if k == 1:
        lower = np.full(len(c), uniform)
      else:
        idx, found = _lookup(lower_codes, c & _mask(k - 1))
        assert found.all(), "suffix of a kept n-gram was pruned"
        lower = lower_probs[idx]
      probs = alpha + gamma[ctx_index] * lower
      lower_codes, lower_probs = c, probs
      self._level_codes.append(ctx)
      self._offsets.append(offset)
      offset += len(ctx)
      log_gamma.append(np.log(gamma))
      if k == 1:
        suffix.append(np.zeros(1, np.int64))
      else:
        idx, found = _lookup(self._level_codes[k - 2], ctx & _mask(k - 2))
        assert found.all(), "suffix of a context is not a context"
        suffix.append(idx + self._offsets[k - 2])
      bounds = np.searchsorted(c >> _BITS, ctx)
      starts.append(bounds + sum(len(w) for w in words))
      ends.append(np.append(bounds[1:], len(c)) + sum(len(w) for w in words))
      words.append(c & _ID_MASK)
      logps.append(np.log(probs))
    self._num_states = offset
    self._log_gamma = np.concatenate(log_gamma)
    self._suffix = np.concatenate(suffix)
    self._starts = np.concatenate(starts)
    self._ends = np.concatenate(ends)
    self._words = np.concatenate(words)
    self._logps = np.concatenate(logps)
    self._state_codes = np.concatenate(self._level_codes)
    self._state_levels = np.concatenate(
        [np.full(len(c), j) for j, c in enumerate(self._level_codes)])
    start_code = 0
    for _ in range(order - 1):
      start_code = (start_code << _BITS) | _BOS_ID
    self._start = self._find_state(start_code, order - 1)
    self.clear_cache()

  def _find_state(self, code: int, length: int) -> int:
    """The state of the longest seen suffix of a packed history."""
    for level in range(min(length, self.order - 1), 0, -1):
      idx, found = _lookup(self._level_codes[level], np.array([code & _mask(level)]))
      if found[0]:
        return int(idx[0]) + self._offsets[level]
    return 0

  def clear_cache(self) -> None:
    """Drops the cached rows of visited states (they are rebuilt on demand)."""
    self._rows: list = [None] * self._num_states
    self._trans: list = [None] * self._num_states

  def _build_row(self, state: int) -> array.array:
    suffix = int(self._suffix[state])
    if state and self._rows[suffix] is None:
      self._build_row(suffix)
    base = (np.frombuffer(self._rows[suffix], np.float64) + self._log_gamma[state]
            if state else np.full(_NUM_IDS, self._log_gamma[0] - math.log(len(VOCAB))))
    s, e = self._starts[state], self._ends[state]
    base[self._words[s:e]] = self._logps[s:e]
    row = array.array("d", base.tobytes())
    self._rows[state] = row
    return row

  def _build_trans(self, state: int) -> array.array:
    code = int(self._state_codes[state])
    level = int(self._state_levels[state])
    extended = (np.int64(code) << _BITS) | np.arange(_NUM_IDS, dtype=np.int64)
    result = np.zeros(_NUM_IDS, np.int64)
    unresolved = np.ones(_NUM_IDS, bool)
    for lvl in range(min(level + 1, self.order - 1), 0, -1):
      idx, found = _lookup(self._level_codes[lvl], extended & _mask(lvl))
      found &= unresolved
      result[found] = idx[found] + self._offsets[lvl]
      unresolved &= ~found
    row = array.array("q", result.tobytes())
    self._trans[state] = row
    return row

  # -- incremental scoring --

  def initial_state(self) -> int:
    """The state before the first token (the `<s>` padding)."""
    return self._start

  def next_log_prob(self, state: int, token: str) -> float:
    """log P(token | state); token may be `</s>` to end the sequence."""
    row = self._rows[state] or self._build_row(state)
    return row[_TOKEN_TO_ID.get(token, _UNK_ID)]

  def next_log_probs(self, state: int) -> np.ndarray:
    """log P(w | state) for every w in `VOCAB`, in that order (sums to one)."""
    row = self._rows[state] or self._build_row(state)
    return np.frombuffer(row, np.float64)[:len(VOCAB)].copy()

  def advance(self, state: int, token: str) -> int:
    """The state after reading `token`."""
    trans = self._trans[state] or self._build_trans(state)
    return trans[_TOKEN_TO_ID.get(token, _UNK_ID)]

  # -- whole sequences --

  def log_prob(self, tokens: Sequence[str]) -> float:
    """Natural log-probability of the whole sequence, `</s>` included."""
    rows, trans = self._rows, self._trans
    state, total = self._start, 0.0
    get = _TOKEN_TO_ID.get
    for tok in tokens:
      w = get(tok, _UNK_ID)
      row = rows[state] or self._build_row(state)
      total += row[w]
      t = trans[state] or self._build_trans(state)
      state = t[w]
    row = rows[state] or self._build_row(state)
    return total + row[_EOS_ID]

  def log_probs(self, sequences: Iterable[Sequence[str]]) -> np.ndarray:
    """`log_prob` of each sequence."""
    return np.array([self.log_prob(s) for s in sequences], np.float64)

  def token_log_probs(self, tokens: Sequence[str]) -> np.ndarray:
    """Log-probability of each token given its history, then of `</s>`."""
    out = np.empty(len(tokens) + 1)
    state = self._start
    for i, w in enumerate(_ids(tokens)):
      row = self._rows[state] or self._build_row(state)
      out[i] = row[w]
      state = (self._trans[state] or self._build_trans(state))[w]
    out[-1] = (self._rows[state] or self._build_row(state))[_EOS_ID]
    return out

  def perplexity(self, sequences: Iterable[Sequence[str]]) -> float:
    """Per-token perplexity, each sequence's `</s>` counted as a token."""
    total, count = 0.0, 0
    for s in sequences:
      total += self.log_prob(s)
      count += len(s) + 1
    return math.exp(-total / count)

  @property
  def num_ngrams(self) -> list[int]:
    """Stored n-grams per order."""
    return [len(c) for c in self._arrays["codes"]]

  # -- storage (no pickle) --

  def save(self, path: os.PathLike | str) -> None:
    """Writes a compressed .npz of integer count arrays plus JSON metadata.

    Sorted codes are delta-encoded so they compress well; probabilities are
    recomputed on load by the same code as after `fit`, so a round trip gives
    identical scores.
    """
    arrays = {"discounts": np.asarray(self._arrays["discounts"], np.float64)}
    for k in range(1, self.order + 1):
      for name in ("codes", "context_codes"):
        arrays[f"{name}_{k}"] = np.diff(self._arrays[name][k - 1], prepend=0)
      for name in ("counts", "context_totals"):
        values = self._arrays[name][k - 1]
        dtype = np.uint32 if values.size == 0 or values.max() < 2**32 else np.int64
        arrays[f"{name}_{k}"] = values.astype(dtype)
    meta = {"format_version": _FORMAT_VERSION, "order": self.order,
            "vocab": list(VOCAB), "bits": _BITS, "metadata": self.metadata}
    arrays["meta_json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
      np.savez_compressed(f, **arrays)

  @classmethod
  def load(cls, path: os.PathLike | str) -> "NgramModel":
    """Reads a model written by `save`."""
    with np.load(path, allow_pickle=False) as data:
      meta = json.loads(data["meta_json"].tobytes().decode())
      if meta.get("format_version") != _FORMAT_VERSION or meta.get("bits") != _BITS:
        raise ValueError(f"{path}: unsupported n-gram model format {meta}")
      if tuple(meta["vocab"]) != VOCAB:
        raise ValueError(f"{path}: the model's vocabulary differs from VOCAB")
      order = int(meta["order"])
      lists = {n: [] for n in ("codes", "counts", "context_codes", "context_totals")}
      for k in range(1, order + 1):
        for name in ("codes", "context_codes"):
          lists[name].append(np.cumsum(data[f"{name}_{k}"].astype(np.int64)))
        for name in ("counts", "context_totals"):
          lists[name].append(data[f"{name}_{k}"].astype(np.int64))
      discounts = data["discounts"]
    return cls(order, discounts=discounts, metadata=meta["metadata"], **lists)


@functools.lru_cache(maxsize=None)
def load_default() -> NgramModel:
  """The bundled model (repair_rank/assets/ngram_default.npz), loaded once."""
  return NgramModel.load(DEFAULT_PATH)
