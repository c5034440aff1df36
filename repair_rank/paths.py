"""Where the bundled data and assets live, relative to the checkout."""
import pathlib

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
# Bundled assets (default n-gram model, default scorer) ship inside the package.
ASSETS_DIR = PACKAGE_DIR / "assets"
# The bundled StackOverflow splits live at the top of the checkout (see data/README.md).
DATA_DIR = PACKAGE_DIR.parent / "data"
STACKOVERFLOW_DIR = DATA_DIR / "stackoverflow"
NGRAMS_DIR = DATA_DIR / "ngrams"


def split_path(split: str) -> pathlib.Path:
  """The bundled JSONL file of one split: 'train', 'valid' or 'test'."""
  path = STACKOVERFLOW_DIR / f"{split}.jsonl"
  if not path.exists():
    raise FileNotFoundError(f"no bundled split {split!r}: {path} does not exist")
  return path
