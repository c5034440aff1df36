"""The model's inputs: vocabulary, sequence encoding, edit alignment, padding.

What both the scorer at inference and the training batches (`batches`) need:
  pretraining  [BOS] broken [SEP] fixed [EOS]          (causal LM targets)
  ranking      [BOS] query [SEP] candidate [EOS]       (+ edit channel, distance)
"""
import dataclasses
from typing import Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from repair_rank.syntax import tokens

# --- Vocabulary -----------------------------------------------------------------

PAD, BOS, SEP, EOS = 0, 1, 2, 3
NUM_SPECIAL = 4
# Token id = NUM_SPECIAL + index in tokens.ALL_TOKENS (a fixed order).
TOKEN_TO_ID: dict[str, int] = {t: NUM_SPECIAL + i for i, t in enumerate(tokens.ALL_TOKENS)}
VOCAB_SIZE = NUM_SPECIAL + len(tokens.ALL_TOKENS)
# Bump when the id layout changes; stored in scorer bundles and checked on load.
VOCAB_VERSION = f"specials4-alphabet{tokens.CHARIFY_ALPHABET_VERSION}"

# --- Edit-alignment channel -------------------------------------------------------
# Candidate-side labels (one per candidate position, plus one for EOS):
EDIT_NONE, EDIT_KEPT, EDIT_INSERTED, EDIT_SUBSTITUTED = 0, 1, 2, 3
# Added to a candidate label when query tokens were deleted just before it.
EDIT_DELETED_BEFORE = 4
# Query-side labels: what became of each query token in the candidate.
EDIT_QUERY_KEPT, EDIT_QUERY_DELETED, EDIT_QUERY_SUBSTITUTED = 8, 9, 10
EDIT_VOCAB_SIZE = 11


def encode(sequence: Sequence[str]) -> np.ndarray:
  """Token ids (int32) of a token sequence; unknown tokens raise KeyError."""
  return np.fromiter((TOKEN_TO_ID[t] for t in sequence), dtype=np.int32, count=len(sequence))


def edit_labels(query: Sequence[str], candidate: Sequence[str]
                ) -> tuple[np.ndarray, np.ndarray, int]:
  """Per-position edit labels from a minimal Levenshtein alignment query -> candidate.

  Returns `(candidate_labels, query_labels, distance)`: `candidate_labels` has
  len(candidate) + 1 entries (the last one, for EOS, only ever carries the
  "deleted before" flag: deletions at the end of the query); values are
  EDIT_KEPT / EDIT_INSERTED / EDIT_SUBSTITUTED, plus EDIT_DELETED_BEFORE when
  query tokens were deleted immediately before that position. `query_labels`
  has len(query) entries in EDIT_QUERY_*. `distance` is the token edit distance.
  """
  candidate_labels = np.full(len(candidate) + 1, EDIT_KEPT, dtype=np.int32)
  candidate_labels[-1] = EDIT_NONE
  query_labels = np.full(len(query), EDIT_QUERY_KEPT, dtype=np.int32)
  ops = Levenshtein.editops(list(query), list(candidate))
  deleted_before = np.zeros(len(candidate) + 1, dtype=bool)
  for op in ops:
    if op.tag == "replace":
      candidate_labels[op.dest_pos] = EDIT_SUBSTITUTED
      query_labels[op.src_pos] = EDIT_QUERY_SUBSTITUTED
    elif op.tag == "insert":
      candidate_labels[op.dest_pos] = EDIT_INSERTED
    else:  # delete
      query_labels[op.src_pos] = EDIT_QUERY_DELETED
      deleted_before[op.dest_pos] = True
  candidate_labels += EDIT_DELETED_BEFORE * deleted_before
  return candidate_labels, query_labels, len(ops)


def lm_sequence(broken: Sequence[str], fixed: Sequence[str], max_len: int) -> np.ndarray:
  """`[BOS] broken [SEP] fixed [EOS]`, truncated to `max_len` ids."""
  ids = np.concatenate([[BOS], encode(broken), [SEP], encode(fixed), [EOS]]).astype(np.int32)
  return ids[:max_len]


@dataclasses.dataclass(frozen=True)
class PairFeatures:
  """Model inputs of one (query, candidate) pair, unpadded.

  inputs: `[BOS] query [SEP] candidate [EOS]` ids.
  edits: edit-channel label per position (EDIT_NONE on BOS/SEP).
  targets: 1 at positions whose *next* token is a candidate token or EOS
    (where the causal LM's log-likelihood of the candidate is read).
  distance: token edit distance query -> candidate.
  """
  inputs: np.ndarray
  edits: np.ndarray
  targets: np.ndarray
  distance: int


def edit_window(query: Sequence[str], candidate: Sequence[str], margin: int
                ) -> tuple[slice, slice]:
  """(query slice, candidate slice): each side's edited span plus `margin` tokens around it.

  Outside their edited spans the two sequences are the same tokens, so the
  windows hold every difference and the same context on both sides; the
  window pair's edit distance is the whole pair's.
  """
  ops = Levenshtein.editops(list(query), list(candidate))
  if not ops:
    return slice(0, len(query)), slice(0, len(candidate))
  query_start = min(op.src_pos for op in ops)
  candidate_start = min(op.dest_pos for op in ops)
  # One past the last position each side's edits touch (an insertion touches no query token).
  query_end = max(op.src_pos + (op.tag != "insert") for op in ops)
  candidate_end = max(op.dest_pos + (op.tag != "delete") for op in ops)
  return (slice(max(0, query_start - margin), min(len(query), query_end + margin)),
          slice(max(0, candidate_start - margin), min(len(candidate), candidate_end + margin)))


def pair_length(query: Sequence[str], candidate: Sequence[str], max_len: int,
                window: int = 0) -> int:
  """The length of `pair_features(query, candidate, max_len, window).inputs`."""
  if window:
    query_slice, candidate_slice = edit_window(query, candidate, window)
    query, candidate = query[query_slice], candidate[candidate_slice]
  return min(len(query) + len(candidate) + 3, max_len)


def pair_features(query: Sequence[str], candidate: Sequence[str], max_len: int,
                  window: int = 0) -> PairFeatures:
  """Encodes one pair; over-long pairs keep the head of query and candidate (half each).

  `window` > 0 encodes only the edited span of each side and `window` tokens
  of context around it (`edit_window`): candidates differ from their query
  only near the edits, and the cost of a pair grows with its length squared.
  """
  if window:
    query_slice, candidate_slice = edit_window(query, candidate, window)
    query, candidate = query[query_slice], candidate[candidate_slice]
  candidate_labels, query_labels, distance = edit_labels(query, candidate)
  query_ids, candidate_ids = encode(query), encode(candidate)
  if len(query) + len(candidate) + 3 > max_len:
    # Rare (the data's pairs fit 256); the tail of each side is dropped.
    half = (max_len - 3) // 2
    keep_query = min(len(query), max(half, max_len - 3 - len(candidate)))
    keep_candidate = max_len - 3 - keep_query
    query_ids, query_labels = query_ids[:keep_query], query_labels[:keep_query]
    candidate_ids = candidate_ids[:keep_candidate]
    candidate_labels = np.concatenate([candidate_labels[:keep_candidate], [EDIT_NONE]])
  inputs = np.concatenate([[BOS], query_ids, [SEP], candidate_ids, [EOS]]).astype(np.int32)
  edits = np.concatenate([[EDIT_NONE], query_labels, [EDIT_NONE], candidate_labels]
                         ).astype(np.int32)
  targets = np.zeros(len(inputs), dtype=np.int32)
  targets[len(query_ids) + 1:len(inputs) - 1] = 1  # From SEP up to the last candidate token.
  return PairFeatures(inputs=inputs, edits=edits, targets=targets, distance=distance)


def bucket_length(length: int, buckets: Sequence[int]) -> int:
  """The smallest bucket >= length (the last bucket if none is)."""
  for bucket in buckets:
    if length <= bucket:
      return bucket
  return buckets[-1]


def pad_to(arrays: Sequence[np.ndarray], length: int) -> np.ndarray:
  """Stacks 1-D arrays, right-padded with 0 (= PAD / EDIT_NONE) to `length`."""
  out = np.zeros((len(arrays), length), dtype=np.int32)
  for i, array in enumerate(arrays):
    out[i, :len(array)] = array[:length]
  return out


def stack_pairs(features: Sequence[PairFeatures], length: int) -> dict[str, np.ndarray]:
  """Pads pair features to `length`: inputs/edits/targets `[n, length]`, distance `[n]`."""
  return {
      "inputs": pad_to([f.inputs for f in features], length),
      "edits": pad_to([f.edits for f in features], length),
      "targets": pad_to([f.targets for f in features], length),
      "distance": np.array([f.distance for f in features], dtype=np.int32),
  }
