"""The StackOverflow (broken, fixed) pairs as a TFDS dataset, and a plain reader.

The bundled JSONL splits (data/stackoverflow/{train,valid,test}.jsonl) are the
single source of truth. `read_pairs` validates and returns one file's pairs as
plain dicts; the `StackoverflowRepairs` builder writes them as TFDS
`array_record` files, which `load_split` reads back with `as_data_source()`:
random access, no TensorFlow needed (`as_dataset()` and `tfrecord` would need
it, so this module never uses them).

  builder = stackoverflow.build("/tmp/tensorflow_datasets")
  valid = stackoverflow.load_split("validation", "/tmp/tensorflow_datasets")
  pair = stackoverflow.to_pair(valid[0])  # same dict as read_pairs gives
"""
import hashlib
import pathlib
import shutil
import tempfile
from typing import Any, Iterator, Mapping, Sequence

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from repair_rank import paths
from repair_rank.syntax import tokens
from repair_rank.data import jsonl

# TFDS split name -> JSONL file stem in the source directory.
SPLIT_FILES: dict[str, str] = {"train": "train", "validation": "valid", "test": "test"}
# The record fields of the JSONL files and the types each must have.
FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "broken": str,
    "fixed": str,
    "distance": int,
    "length": int,
    "broken_src": (str, type(None)),
    "fixed_src": (str, type(None)),
}

_CITATION = """\
@article{sakkas2022seq2parse,
  title={Seq2Parse: Neurosymbolic Parse Error Repair},
  author={Sakkas, Georgios and Endres, Madeline and Guo, Philip J. and
          Weimer, Westley and Jhala, Ranjit},
  journal={Proceedings of the ACM on Programming Languages},
  volume={6},
  number={OOPSLA2},
  year={2022}
}"""


def read_pairs(path: str | pathlib.Path) -> list[dict[str, Any]]:
  """Reads and validates one JSONL split; returns its pairs in file order.

  Each pair is a dict with exactly the keys of `FIELDS` (null sources stay
  None). Any malformed line raises `jsonl.DataError` naming `path:line`: bad
  JSON, a missing field or wrong type, a token outside the alphabet, tokens not
  separated by single spaces, `length` != number of broken tokens, a distance
  outside [0, max(len(broken), len(fixed))], or a repeated id.
  """
  pairs = []
  seen_ids: dict[str, int] = {}
  for line, record in jsonl.read_jsonl(path, required=FIELDS):
    where = f"{path}:{line}"
    pair = {field: record[field] for field in FIELDS}
    for field in ("distance", "length"):
      if isinstance(pair[field], bool):  # bool is an int subclass in Python.
        raise jsonl.DataError(f"{where}: field {field!r} is a bool, expected int")
    if not pair["id"]:
      raise jsonl.DataError(f"{where}: field 'id' is empty")
    if pair["id"] in seen_ids:
      raise jsonl.DataError(f"{where}: id {pair['id']!r} already used on line "
                            f"{seen_ids[pair['id']]}")
    seen_ids[pair["id"]] = line
    broken = _split_tokens(pair["broken"], "broken", where)
    fixed = _split_tokens(pair["fixed"], "fixed", where)
    if pair["length"] != len(broken):
      raise jsonl.DataError(f"{where}: length is {pair['length']} but broken has "
                            f"{len(broken)} tokens")
    if not 0 <= pair["distance"] <= max(len(broken), len(fixed)):
      raise jsonl.DataError(f"{where}: distance {pair['distance']} is outside "
                            f"[0, {max(len(broken), len(fixed))}]")
    pairs.append(pair)
  return pairs


def _split_tokens(text: str, field: str, where: str) -> list[str]:
  """Splits a space-separated token string, checking every token."""
  sequence = text.split(" ")
  if "" in sequence:
    raise jsonl.DataError(f"{where}: field {field!r} is empty or not single-space "
                          f"separated: {text[:60]!r}")
  try:
    tokens.check_tokens(sequence)
  except tokens.UnknownTokenError as e:
    raise jsonl.DataError(f"{where}: field {field!r}: {e}") from None
  return sequence


def source_fingerprint(source_dir: str | pathlib.Path | None = None) -> dict[str, str]:
  """SHA-256 of each split's JSONL file, keyed by TFDS split name."""
  source_dir = pathlib.Path(source_dir or paths.STACKOVERFLOW_DIR)
  return {split: hashlib.sha256((source_dir / f"{stem}.jsonl").read_bytes()).hexdigest()
          for split, stem in SPLIT_FILES.items()}


class StackoverflowRepairs(tfds.core.GeneratorBasedBuilder):
  """Real Python syntax errors from StackOverflow and their human fixes."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release: the bundled train/valid/test JSONL pairs, "
               "null sources kept as has_*_src flags.",
  }

  def __init__(self, *, source_dir: str | pathlib.Path | None = None, **kwargs):
    """`source_dir` holds {train,valid,test}.jsonl; default the bundled data."""
    self._source_dir = pathlib.Path(source_dir or paths.STACKOVERFLOW_DIR)
    super().__init__(**kwargs)

  @property
  def source_dir(self) -> pathlib.Path:
    """The directory the JSONL splits are (or would be) read from."""
    return self._source_dir

  def _info(self) -> tfds.core.DatasetInfo:
    # DatasetInfo directly, not dataset_info_from_configs: the latter looks for
    # README/CITATIONS files next to this module, which we do not keep.
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            "Pairs of (broken, fixed) Python token sequences from StackOverflow "
            "(Seq2Parse), tokens separated by single spaces. broken_src and "
            "fixed_src are the original source text, or '' with has_*_src "
            "False where it did not survive."),
        features=tfds.features.FeaturesDict({
            "id": tfds.features.Text(),
            "broken": tfds.features.Text(),
            "fixed": tfds.features.Text(),
            "distance": np.int32,  # Token-level Levenshtein distance.
            "length": np.int32,  # Number of broken tokens.
            "broken_src": tfds.features.Text(),
            "fixed_src": tfds.features.Text(),
            "has_broken_src": np.bool_,
            "has_fixed_src": np.bool_,
        }),
        homepage="https://github.com/breandan/cstk",
        citation=_CITATION,
        # Filled with the source files' SHA-256 when generated (see `build`).
        metadata=tfds.core.MetadataDict(),
        # Keep file order: index i of a split is line i of its JSONL file.
        # Shuffling is the input pipeline's job.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # The data is local; nothing is downloaded.
    self.info.metadata["source_dir"] = str(self._source_dir)
    self.info.metadata["source_sha256"] = source_fingerprint(self._source_dir)
    return {split: self._generate_examples(self._source_dir / f"{stem}.jsonl")
            for split, stem in SPLIT_FILES.items()}

  def _generate_examples(self, path: pathlib.Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, pair in enumerate(read_pairs(path)):
      yield index, to_example(pair)


def to_example(pair: Mapping[str, Any]) -> dict[str, Any]:
  """A `read_pairs` dict as a TFDS example (None sources -> '' plus a flag)."""
  example = dict(pair)
  for field in ("broken_src", "fixed_src"):
    example[f"has_{field}"] = pair[field] is not None
    example[field] = pair[field] or ""
  return example


def to_pair(example: Mapping[str, Any]) -> dict[str, Any]:
  """Inverse of `to_example` on a decoded example: str fields, ints, None sources."""
  pair = {}
  for field in FIELDS:
    value = example[field]
    if isinstance(value, bytes):
      value = value.decode("utf-8")
    elif isinstance(value, np.generic):
      value = value.item()
    pair[field] = value
  for field in ("broken_src", "fixed_src"):
    if not example[f"has_{field}"]:
      pair[field] = None
  return pair


def build(data_dir: str | pathlib.Path,
          source_dir: str | pathlib.Path | None = None,
          *,
          progress_bar: bool = False,
          builder_cls: type[tfds.core.GeneratorBasedBuilder] = StackoverflowRepairs,
          ) -> tfds.core.GeneratorBasedBuilder:
  """Prepares the dataset under `data_dir` as array_record; returns the builder.

  Reuses an existing build when it was made from identical source files and
  regenerates it otherwise, so pointing one `data_dir` at another `source_dir`
  never serves stale data. `progress_bar` sets TFDS's process-wide tqdm switch
  (off by default: a build takes seconds and the bars flood logs).
  """
  tfds.display_progress_bar(progress_bar)
  builder = builder_cls(data_dir=str(data_dir), source_dir=source_dir,
                        file_format="array_record")
  if (_is_prepared(builder) and
      builder.info.metadata.get("source_sha256") != source_fingerprint(builder.source_dir)):
    logging.warning("%s was built from other source files; regenerating it from %s.",
                    builder.data_dir, builder.source_dir)
    shutil.rmtree(builder.data_dir)
    builder = builder_cls(data_dir=str(data_dir), source_dir=source_dir,
                          file_format="array_record")
  # Nothing is downloaded, but TFDS still makes a download dir; keep it out of data_dir.
  with tempfile.TemporaryDirectory(prefix="tfds_downloads_") as download_dir:
    builder.download_and_prepare(download_dir=download_dir)
  return builder


def _is_prepared(builder: tfds.core.DatasetBuilder) -> bool:
  # Not `builder.is_prepared()`: that logs a warning whenever the answer is no.
  return (builder.data_path / "dataset_info.json").exists()


def load_split(split: str, data_dir: str | pathlib.Path, *,
               builder_cls: type[tfds.core.GeneratorBasedBuilder] = StackoverflowRepairs,
               ) -> Sequence[dict[str, Any]]:
  """A random-access data source over one prepared split (no TensorFlow).

  `split` is 'train', 'validation' (or 'valid'), 'test', or a TFDS slice such
  as 'train[:100]'. Items are dicts of numpy values with text as bytes;
  `to_pair` turns one into the `read_pairs` form.
  """
  if split == "valid" or split.startswith("valid["):
    split = "validation" + split[len("valid"):]
  builder = builder_cls(data_dir=str(data_dir))
  if not _is_prepared(builder):
    raise FileNotFoundError(
        f"no prepared {builder.name} {builder.version} under {data_dir}; run "
        "the job that builds it (configs/prepare_data.py for the pairs, "
        "configs/build_data.py for ranking instances) or `build()` first")
  return builder.as_data_source(split=split)


def spread(items: Sequence[Any], limit: int) -> list[Any]:
  """`limit` items evenly spaced over `items` (all if limit is 0 or larger).

  The bundled splits are sorted by distance and length, so the first few pairs
  would all be short distance-1 ones; an even spread sees every distance.
  """
  if not limit or limit >= len(items):
    return list(items)
  return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))]
