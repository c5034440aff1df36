"""Token corpora: the bundled splits, the 5-gram count files, the standard library and
any directory of .py files.

What the n-gram model (`repair_rank.generator.ngram`), synthetic data and the
launch scripts are fitted or evaluated on.
"""
import functools
import json
import logging
import pathlib
import sysconfig
from typing import Optional, Sequence

from repair_rank import paths
from repair_rank.data import jsonl
from repair_rank.data import pipelines
from repair_rank.data import stackoverflow
from repair_rank.data import synthetic
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


def python_files(directories: Sequence[str | pathlib.Path]) -> list[pathlib.Path]:
  """The .py files under each directory (or the file itself), sorted, each once."""
  files = set()
  for directory in directories:
    if not str(directory).strip():  # Path("") is the current directory: never meant
      raise ValueError(f"empty corpus directory name in {list(map(str, directories))!r}")
    directory = pathlib.Path(directory)
    if directory.is_file():
      files.add(directory)
    elif directory.is_dir():
      files.update(p for p in directory.rglob("*.py") if p.is_file())
    else:
      raise FileNotFoundError(f"corpus directory {directory} does not exist")
  return sorted(files)


def stdlib_files() -> list[pathlib.Path]:
  """The standard library's .py files (not site-packages), sorted."""
  root = pathlib.Path(sysconfig.get_paths()["stdlib"])
  return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


def read_python(path: pathlib.Path, max_bytes: int = 200_000) -> Optional[list[str]]:
  """A Python file's tokens; None if it is larger than `max_bytes`, unreadable, or the
  lexer fails on it (or yields a token outside the alphabet)."""
  try:
    if path.stat().st_size > max_bytes:
      return None
    toks = tokens_lib.lex(path.read_text(encoding="utf-8"))
    tokens_lib.check_tokens(toks)
  except Exception as e:  # pylint: disable=broad-except
    logging.debug("skipping %s: %s", path, e)
    return None
  return list(toks) if toks else None


def stdlib_sequences(max_files: Optional[int] = None,
                     max_bytes: int = 200_000) -> list[list[str]]:
  """The standard library's Python sources, one token sequence per file (see read_python)."""
  out = []
  for path in stdlib_files():
    if max_files is not None and len(out) >= max_files:
      break
    sequence = read_python(path, max_bytes)
    if sequence is not None:
      out.append(sequence)
  return out


# How `read_corpus` cuts a file: whole, or into snippet-sized units (synthetic.units).
CUTS = ("file", "units")


def _corpus_shard(job: tuple[pathlib.Path, list[str]], *, cut: str, min_tokens: int,
                  max_tokens: int) -> None:
  """Writes one shard of a corpus: per file, its sequences as token strings."""
  shard_path, files = job
  if shard_path.exists():  # written by an earlier attempt
    return
  records = []
  for name in files:
    sequence = read_python(pathlib.Path(name))
    if sequence is None:
      pieces = []
    elif cut == "file":
      pieces = [sequence]
    else:
      pieces = synthetic.units(sequence, min_tokens, max_tokens)
    records.append({"file": name, "sequences": [" ".join(p) for p in pieces]})
  jsonl.write_jsonl(shard_path, records)


def read_corpus(files: Sequence[pathlib.Path], shard_dir: pathlib.Path, *, cut: str = "units",
                min_tokens: int = 4, max_tokens: int = 80, files_per_shard: int = 64,
                runner: str = "beam", workers: int = 0, beam_options: str = "",
                progress: bool = False) -> list[list[list[str]]]:
  """Each file's token sequences (`cut`: the whole file, or its snippet-sized units).

  Files are lexed and cut in shards of `files_per_shard` under `shard_dir`, on
  Beam or a process pool (repair_rank.data.pipelines), resumably; the result
  is in the order of `files` whatever ran them. A file that cannot be read or
  lexed gives none.
  """
  if cut not in CUTS:
    raise ValueError(f"cut={cut!r}: one of {CUTS}")
  names = [str(f) for f in files]
  pipelines.check_manifest(shard_dir, {"files": names, "cut": cut, "min_tokens": min_tokens,
                                       "max_tokens": max_tokens,
                                       "files_per_shard": files_per_shard})
  shards = [(shard_dir / f"{i // files_per_shard:05d}.jsonl", names[i:i + files_per_shard])
            for i in range(0, len(names), files_per_shard)]
  work = functools.partial(_corpus_shard, cut=cut, min_tokens=min_tokens,
                           max_tokens=max_tokens)
  pipelines.run_shards(work, [s for s in shards if not s[0].exists()], runner=runner,
                       workers=workers, beam_options=beam_options, progress=progress,
                       desc="corpus", name=f"corpus {shard_dir.name}")
  pipelines.check_written([path for path, _ in shards])
  out = []
  for shard_path, _ in shards:
    for _, record in jsonl.read_jsonl(shard_path):
      out.append([text.split() for text in record["sequences"]])
  return out
