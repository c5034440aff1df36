"""Reading and writing JSON and JSONL files, with read errors that name the file and line."""
import gzip
import json
import os
import pathlib
import uuid
import zlib
from typing import IO, Any, Iterator, Mapping, Sequence


class DataError(ValueError):
  """A malformed input record; the message names the file and 1-based line."""


def read_jsonl(path: str | pathlib.Path,
               required: Mapping[str, type | tuple[type, ...]] | None = None
               ) -> Iterator[tuple[int, dict[str, Any]]]:
  """Yields (line_number, record) for each non-blank line of a JSONL file.

  `required` maps field names to the type(s) each must have; a missing field,
  a wrong type or text that is not a JSON object raises `DataError` naming
  `path:line`, so nothing is silently dropped.
  """
  path = pathlib.Path(path)
  for number, line in _numbered_lines(path):
    if not line.strip():
      continue
    where = f"{path}:{number}"
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      raise DataError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(record, dict):
      raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for field, types in (required or {}).items():
      if field not in record:
        raise DataError(f"{where}: missing field {field!r}")
      if not isinstance(record[field], types):
        raise DataError(f"{where}: field {field!r} has type "
                        f"{type(record[field]).__name__}, expected {_type_names(types)}")
    yield number, record


def _numbered_lines(path: pathlib.Path) -> Iterator[tuple[int, str]]:
  """(1-based number, text) of each line; bytes that are not UTF-8 or a damaged gzip
  stream raise DataError naming the file (and the line), not a bare codec error."""
  number = 0
  try:
    with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as f:
      for number, raw in enumerate(f, start=1):
        try:
          yield number, raw.decode("utf-8")
        except UnicodeDecodeError as e:
          raise DataError(f"{path}:{number}: not UTF-8 (byte {e.start}: {e.reason})") from None
  except (EOFError, gzip.BadGzipFile, zlib.error) as e:
    raise DataError(f"{path}:{number + 1}: damaged gzip data ({type(e).__name__}: {e})") from None


def write_jsonl(path: str | pathlib.Path, records: Sequence[Mapping[str, Any]]) -> None:
  """Writes one compact JSON object per line (atomically: temp file, then rename).

  The temp file's name is the writer's own, so two writers of the same file (a
  retried or duplicated Beam bundle) never write into one temp file.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
  with open_text(tmp, "w", compress=path.suffix == ".gz") as f:
    for record in records:
      f.write(json.dumps(record, ensure_ascii=False) + "\n")
  tmp.replace(path)


def write_json(path: str | pathlib.Path, data: Any) -> None:
  """Writes one indented JSON document, creating parent directories."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(data, indent=2) + "\n")


def open_text(path: str | pathlib.Path, mode: str, *, compress: bool | None = None) -> IO[str]:
  """Opens a UTF-8 text file for "r" or "w", gzip-compressed if it ends in .gz."""
  path = pathlib.Path(path)
  if path.suffix == ".gz" if compress is None else compress:
    return gzip.open(path, mode + "t", encoding="utf-8")
  return path.open(mode, encoding="utf-8")


def _type_names(types: type | tuple[type, ...]) -> str:
  if isinstance(types, tuple):
    return " or ".join(t.__name__ for t in types)
  return types.__name__
