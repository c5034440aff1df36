"""Valid-set perplexity of the n-gram model per corpus mix and order.

Fits repair_rank.generator.ngram on each mix of valid-code corpora (the fixed side of
train, the standard library lexed with tokens.lex, the types of the
data/ngrams 5-gram counts) and prints a markdown table of per-token perplexity
on valid `fixed` (with `</s>`). With --bundle it also writes the bundled
default model.

  .venv/bin/python launch/benchmarks/ngram_perplexity.py
  .venv/bin/python launch/benchmarks/ngram_perplexity.py --mixes train+ngrams --orders 6 \
      --bundle train+ngrams:6 --prune_from 0
"""
import argparse
import os
import sys
import time

from repair_rank.data import corpora
from repair_rank.generator import ngram
from repair_rank import paths
from repair_rank import tokens

# stdlib: its files are counted like train; stdlib_types: only its n-gram types
# are added (continuation counts below the top order), like the 5-gram CSVs.
MIXES = ("train", "train+ngrams", "train+stdlib", "train+stdlib_types",
         "train+stdlib_types+ngrams")


def _parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--orders", type=int, nargs="+", default=[3, 4, 5, 6],
                      help="n-gram orders to fit")
  parser.add_argument("--mixes", nargs="+", default=list(MIXES), choices=MIXES,
                      help="corpus mixes to fit")
  parser.add_argument("--eval_split", default="valid", help="split scored (fixed side)")
  parser.add_argument("--extra_weight", type=float, default=0.0,
                      help="weight of the 5-gram CSV counts at the model's own order "
                      "(0: their n-gram types only, the best on valid)")
  parser.add_argument("--train_repeat", type=int, default=1,
                      help="how many times train is counted in stdlib mixes")
  parser.add_argument("--stdlib_max_files", type=int, default=None,
                      help="at most this many stdlib files (default: all)")
  parser.add_argument("--stdlib_max_bytes", type=int, default=200_000,
                      help="skip stdlib files larger than this many bytes")
  parser.add_argument("--bundle", default=None, metavar="MIX:ORDER",
                      help="also fit this model and write it as the bundled default")
  parser.add_argument("--prune_from", type=int, default=0,
                      help="for --bundle: drop n-grams seen once at orders >= this "
                      "(0: no pruning)")
  parser.add_argument("--bundle_path", default=str(ngram.DEFAULT_PATH),
                      help="where --bundle writes the model")
  return parser.parse_args(argv)


def _corpus(mix, args, cache):
  """(sequences, extra n-grams of an order) of a mix; None without tokens.lex."""
  if "train" not in cache:
    cache["train"] = corpora.read_split("train")
  sequences = list(cache["train"])
  if "stdlib" in mix:
    if not hasattr(tokens, "lex"):
      return None
    if "stdlib" not in cache:
      start = time.time()
      cache["stdlib"] = corpora.stdlib_sequences(args.stdlib_max_files, args.stdlib_max_bytes)
      print(f"# stdlib: {len(cache['stdlib'])} files, "
            f"{sum(map(len, cache['stdlib']))} tokens, lexed in {time.time() - start:.0f}s",
            file=sys.stderr)
    if "stdlib_types" not in mix:
      sequences = sequences * args.train_repeat + cache["stdlib"]
  if "ngrams" in mix and "ngrams" not in cache:
    cache["ngrams"] = corpora.read_ngram_files()

  def extras(order):
    out = []
    if "stdlib_types" in mix:
      out.append(ngram.window_counts(cache["stdlib"], order))
    if "ngrams" in mix:
      out.append(cache["ngrams"])
    return out

  return sequences, extras


def _fit(corpus, order, args, min_counts=None):
  sequences, extras = corpus
  return ngram.NgramModel.fit(sequences, order, extra_ngrams=extras(order),
                              extra_weight=args.extra_weight, min_counts=min_counts)


def main(argv=None):
  args = _parse_args(argv)
  evaluation = corpora.read_split(args.eval_split)
  cache = {}
  print(f"Per-token perplexity on {args.eval_split} fixed (with </s>), "
        f"interpolated modified Kneser-Ney.\n")
  print("| mix | tokens | " + " | ".join(f"order {n}" for n in args.orders) + " |")
  print("|---|---:|" + "---:|" * len(args.orders))
  for mix in args.mixes:
    corpus = _corpus(mix, args, cache)
    if corpus is None:
      print(f"| {mix} | - | " + " | ".join("n/a (no tokens.lex)" for _ in args.orders) + " |")
      continue
    size = sum(len(s) + 1 for s in corpus[0])
    cells = [f"{_fit(corpus, n, args).perplexity(evaluation):.4f}" for n in args.orders]
    print(f"| {mix} | {size} | " + " | ".join(cells) + " |", flush=True)

  if args.bundle:
    mix, order = args.bundle.rsplit(":", 1)
    order = int(order)
    corpus = _corpus(mix, args, cache)
    if corpus is None:
      raise SystemExit(f"--bundle {args.bundle}: tokens.lex is not available")
    min_counts = None
    if args.prune_from:
      min_counts = [1 if k < args.prune_from else 2 for k in range(1, order + 1)]
    model = _fit(corpus, order, args, min_counts)
    model.metadata.update(mix=mix, order=order, prune_from=args.prune_from,
                          extra_weight=args.extra_weight, train_repeat=args.train_repeat,
                          eval_split=args.eval_split,
                          eval_perplexity=round(model.perplexity(evaluation), 4))
    model.save(args.bundle_path)
    print(f"\nbundled {mix} order {order} (prune_from={args.prune_from}): "
          f"{sum(model.num_ngrams)} n-grams, {os.path.getsize(args.bundle_path)} bytes, "
          f"{args.eval_split} perplexity {model.metadata['eval_perplexity']:.4f} "
          f"-> {os.path.relpath(args.bundle_path, paths.PACKAGE_DIR.parent)}")


if __name__ == "__main__":
  main()
