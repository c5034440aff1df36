"""Cross-fitted priors: n-gram and edit statistics that have not seen a pair's fix.

The bundled n-gram and edit statistics are fitted on all of train, so on a
training pair they have already seen the true repair: the truth's per-token
perplexity is 2.23 there against 2.75 on valid, and a ranker trained on top of
such a prior learns to trust it more than it deserves on unseen code. Training
instances are therefore generated and scored fold by fold, with models fitted
on the other folds' pairs only (k-fold cross-fitting). The
models used for serving stay fitted on all of train.

A pair's fold is a hash of its id, so it does not depend on the order of the
file or on which other pairs are present.
"""
import pathlib
import zlib
from typing import Any, Sequence

from repair_rank.data import corpora
from repair_rank.generator import edit_stats as edit_stats_lib
from repair_rank.generator import ngram

# The bundled n-gram's recipe (BENCHMARKS.md, "n-gram Markov model"): train's fixed
# side plus the 5-gram files' types, order 9, singletons dropped from order 7 up.
NGRAM_ORDER = 9
NGRAM_PRUNE_FROM = 7


def fold_of(pair_id: str, folds: int) -> int:
  """The fold (0..folds-1) of a pair, a stable hash of its id."""
  return zlib.crc32(pair_id.encode("utf-8")) % folds


def fit_ngram(pairs: Sequence[dict[str, Any]], extra: ngram.NgramCounts | None = None,
              order: int = NGRAM_ORDER, prune_from: int = NGRAM_PRUNE_FROM
              ) -> ngram.NgramModel:
  """An n-gram fitted like the bundled one, on the fixed side of `pairs`."""
  min_counts = [1 if k < prune_from else 2 for k in range(1, order + 1)]
  return ngram.NgramModel.fit([p["fixed"].split() for p in pairs], order,
                              extra_ngrams=[extra] if extra is not None else None,
                              min_counts=min_counts)


def fit_edit_stats(pairs: Sequence[dict[str, Any]]) -> edit_stats_lib.EditStats:
  """Edit statistics of `pairs`, as launch/analysis/fit_edit_stats.py fits the bundled ones."""
  return edit_stats_lib.EditStats.fit((p["broken"].split(), p["fixed"].split()) for p in pairs)


def fold_model_paths(directory: pathlib.Path, fold: int) -> tuple[pathlib.Path, pathlib.Path]:
  """Where fold `fold`'s held-out n-gram (.npz) and edit statistics (.json) are saved."""
  return directory / f"fold{fold}.ngram.npz", directory / f"fold{fold}.edit_stats.json"


def write_fold_models(pairs: Sequence[dict[str, Any]], folds: int,
                      directory: pathlib.Path, with_ngram_files: bool = True) -> None:
  """Fits and saves, for each fold, the models of all pairs outside it (skips existing ones)."""
  directory.mkdir(parents=True, exist_ok=True)
  extra = corpora.read_ngram_files() if with_ngram_files else None
  for fold in range(folds):
    ngram_path, stats_path = fold_model_paths(directory, fold)
    if ngram_path.exists() and stats_path.exists():
      continue
    rest = [p for p in pairs if fold_of(p["id"], folds) != fold]
    fit_edit_stats(rest).save(stats_path)
    model = fit_ngram(rest, extra)
    model.metadata.update(crossfit_fold=fold, folds=folds, pairs=len(rest))
    model.save(ngram_path)


def load_fold_models(directory: pathlib.Path, fold: int
                     ) -> tuple[ngram.NgramModel, edit_stats_lib.EditStats]:
  ngram_path, stats_path = fold_model_paths(directory, fold)
  return ngram.NgramModel.load(ngram_path), edit_stats_lib.EditStats.load(stats_path)
