"""Ranking instances as a TFDS dataset (array_record, read without TensorFlow).

The build_data job writes {train,valid,test}.jsonl ranking instances
(`repair_rank.data.instances`); this builder turns a directory of them into a
TFDS dataset with splits train / validation / test, reusing the pairs
builder's `build` / `load_split` (source fingerprints, no downloads).

  builder = ranking_dataset.build(tfds_dir, source_dir=instances_dir)
  valid = ranking_dataset.load_split("validation", tfds_dir)
  instance = ranking_dataset.to_instance(valid[0])
"""
import pathlib
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import tensorflow_datasets as tfds

from repair_rank.data import instances as instances_lib
from repair_rank.data import stackoverflow


class RankingInstances(tfds.core.GeneratorBasedBuilder):
  """(broken query, human repair, generator candidates best first) per StackOverflow pair."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: build_data job output.",
                   "1.1.0": "The first stage's prior parts per candidate and for the truth."}

  def __init__(self, *, source_dir: str | pathlib.Path | None = None, **kwargs):
    """`source_dir` holds {train,valid,test}.jsonl ranking instances (needed to build, not to read)."""
    self._source_dir = pathlib.Path(source_dir) if source_dir else None
    super().__init__(**kwargs)

  @property
  def source_dir(self) -> pathlib.Path:
    if self._source_dir is None:
      raise ValueError("RankingInstances needs source_dir (the build_data output) to be built")
    return self._source_dir

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            "Ranking instances: the broken query, the human repair (truth) and "
            "the candidate generator's list, best first by the Markov model, as "
            "space-separated tokens. generated_rank is the truth's index in that "
            "list, or -1 where the generator missed it."),
        features=tfds.features.FeaturesDict({
            "id": tfds.features.Text(),
            "query": tfds.features.Text(),
            "truth": tfds.features.Text(),
            "candidates": tfds.features.Sequence(tfds.features.Text()),
            "distance": np.int32,         # Token edit distance query -> truth.
            "generated_rank": np.int32,   # -1: the generator missed the truth.
            # (n-gram log-probability, channel log rate) per candidate and of the truth,
            # in units of 1e-4 nats (exactly the 4 decimals the JSONL keeps; TFDS would
            # store floats as float32); has_parts 0: the instances file had none.
            "parts": tfds.features.Tensor(shape=(None, 2), dtype=np.int64),
            "truth_parts": tfds.features.Tensor(shape=(2,), dtype=np.int64),
            "has_parts": np.int32,
        }),
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager
    self.info.metadata["source_dir"] = str(self.source_dir)
    self.info.metadata["source_sha256"] = stackoverflow.source_fingerprint(self.source_dir)
    return {split: self._generate_examples(self.source_dir / f"{stem}.jsonl")
            for split, stem in stackoverflow.SPLIT_FILES.items()}

  def _generate_examples(self, path: pathlib.Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, instance in enumerate(instances_lib.read_jsonl(path)):
      yield index, to_example(instance)


def to_example(instance: instances_lib.RankingInstance) -> dict[str, Any]:
  """A RankingInstance as a TFDS example."""
  rank = instance.generated_rank
  return {"id": instance.id, "query": " ".join(instance.query),
          "truth": " ".join(instance.truth),
          "candidates": [" ".join(c) for c in instance.candidates],
          "distance": instance.distance,
          "generated_rank": -1 if rank is None else rank,
          "parts": _to_units(instance.parts or np.zeros((0, 2))).reshape(-1, 2),
          "truth_parts": _to_units(instance.truth_parts or (0.0, 0.0)),
          "has_parts": int(instance.parts is not None)}


def to_instance(example: Mapping[str, Any]) -> instances_lib.RankingInstance:
  """Inverse of `to_example` on a decoded example (bytes text, numpy ints)."""
  def text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
  def seq(value) -> tuple[str, ...]:
    return tuple(text(value).split())
  return instances_lib.RankingInstance(
      id=text(example["id"]), query=seq(example["query"]), truth=seq(example["truth"]),
      candidates=tuple(seq(c) for c in example["candidates"]),
      distance=int(example["distance"]), **_parts(example))


def _parts(example: Mapping[str, Any]) -> dict[str, Any]:
  if not int(example.get("has_parts", 0)):
    return {}
  return {"parts": tuple((int(a) / _UNITS, int(b) / _UNITS)
                         for a, b in np.asarray(example["parts"])),
          "truth_parts": tuple(int(x) / _UNITS for x in np.asarray(example["truth_parts"]))}


_UNITS = 10_000  # Stored prior parts per nat.


def _to_units(values) -> np.ndarray:
  return np.rint(np.asarray(values, np.float64) * _UNITS).astype(np.int64)


def build(data_dir: str | pathlib.Path, source_dir: str | pathlib.Path,
          *, progress_bar: bool = False) -> RankingInstances:
  """Prepares (or reuses, if the source files are unchanged) the instances dataset."""
  return stackoverflow.build(data_dir, source_dir, progress_bar=progress_bar,
                             builder_cls=RankingInstances)


def load_split(split: str, data_dir: str | pathlib.Path) -> Sequence[dict[str, Any]]:
  """Random-access source over one prepared split; `to_instance` decodes an item."""
  return stackoverflow.load_split(split, data_dir, builder_cls=RankingInstances)
