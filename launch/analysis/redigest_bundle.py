"""Adds sha256 digests to a scorer bundle saved before digests were recorded.

  .venv/bin/python launch/analysis/redigest_bundle.py path/to/bundle [more bundles]

Such a bundle loads with a warning and its files are not checked against damage.
This loads it (every other check must pass), then records the digests of its
files as they are now (`repair_rank.scorer.add_digests`), as `Scorer.save` does.
Run it only on a bundle you trust: what it records is what later loads compare to.
"""
import sys

from repair_rank import scorer


def main(paths: list[str]) -> int:
  status = 0
  for path in paths:
    try:
      digests = scorer.add_digests(path)
    except (scorer.BundleError, OSError) as e:
      print(f"{path}: not re-digested: {e}", file=sys.stderr)
      status = 1
      continue
    print(f"{path}: recorded {len(digests)} digests")
  return status


if __name__ == "__main__":
  if len(sys.argv) < 2:
    raise SystemExit(__doc__)
  raise SystemExit(main(sys.argv[1:]))
