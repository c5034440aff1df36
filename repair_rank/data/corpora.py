"""Token corpora: the bundled splits, the 5-gram count files and the standard library.

What the n-gram model (`repair_rank.generator.ngram`), synthetic data and the
launch scripts are fitted or evaluated on.
"""
import json
import logging
import pathlib
import sysconfig
from typing import Optional, Sequence

from repair_rank import paths
from repair_rank.data import stackoverflow
from repair_rank.generator import ngram
from repair_rank.syntax import tokens as tokens_lib


def split_pairs(split: str) -> list[dict]:
  """The (validated) pairs of a bundled StackOverflow split."""
  return stackoverflow.read_pairs(paths.split_path(split))


def read_split(split: str, field: str = "fixed") -> list[list[str]]:
  """Token sequences of one field of a bundled StackOverflow split."""
  with open(paths.split_path(split)) as f:
    return [json.loads(line)[field].split() for line in f if line.strip()]


def read_ngram_files(names: Sequence[str] = ("BIFI", "PY150")) -> ngram.NgramCounts:
  """The summed 5-gram counts of data/ngrams/ngrams_{name}_5.csv."""
  return ngram.NgramCounts.merge(
      [ngram.read_ngram_csv(paths.NGRAMS_DIR / f"ngrams_{n}_5.csv") for n in names])


def stdlib_sequences(max_files: Optional[int] = None,
                     max_bytes: int = 200_000) -> list[list[str]]:
  """The standard library's Python sources, one token sequence per file.

  Files larger than `max_bytes`, unreadable ones and ones the lexer fails on
  (or that yield a token outside the alphabet) are skipped. Needs `tokens.lex`.
  """
  root = pathlib.Path(sysconfig.get_paths()["stdlib"])
  files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
  out = []
  for path in files:
    if max_files is not None and len(out) >= max_files:
      break
    try:
      if path.stat().st_size > max_bytes:
        continue
      toks = tokens_lib.lex(path.read_text(encoding="utf-8"))
      tokens_lib.check_tokens(toks)
    except Exception as e:  # pylint: disable=broad-except
      logging.debug("skipping %s: %s", path, e)
      continue
    if toks:
      out.append(list(toks))
  return out
