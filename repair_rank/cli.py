"""The `repair-rank` console script: the jobs people run by hand, as subcommands.

  repair-rank repair broken.py [--top_k 5] [--min_confidence 0.5]   # - reads stdin
  repair-rank serve [--port 8080]
  repair-rank lsp
  repair-rank run configs/finetune.py [--workdir DIR]                # any job's config

Each subcommand runs the job of the same name exactly as
`python -m repair_rank.main --config <its config file>` would (`main.main`), so
every `--config.key=value` override, `--workdir` and `--verbosity` work here too;
the few options above are shorthands for config fields. `repair` exits 3 when it
abstains (its best repair's confidence is below min_confidence). `repair` and
`lsp` log warnings only unless `--verbosity` says otherwise (their output is the
point); the libraries' INFO logs need `--verbosity=1` everywhere (`main.py`).

The config files: `configs/<job>.py` of the checkout, which setup.py also
installs inside the package as `repair_rank.configs`, so an editable install
reads the checkout's files and a non-editable one its own copies.
"""
import argparse
import importlib.util
import pathlib
import sys
from typing import Optional, Sequence

# Subcommand -> (job config module, {shorthand option: (config field, type, help)}).
COMMANDS = {
    "repair": ("repair", {
        "top_k": ("top_k", int, "how many repairs to print"),
        "min_confidence": ("min_confidence", float,
                           "abstain (exit 3) below this confidence of the best repair"),
        "scorer": ("scorer", str, "scorer name (model, lm or a baseline)"),
        "endpoint": ("endpoint", str, "score with a running endpoint at this URL"),
        "color": ("color", str, "auto, always or never"),
    }),
    "serve": ("serve", {
        "port": ("port", int, "TCP port (0: any free one)"),
        "host": ("host", str, "interface to bind"),
        "scorer": ("scorer", str, "scorer name (model, lm or a baseline)"),
    }),
    "lsp": ("lsp", {}),
}


# Subcommands whose output is the point: warnings only unless --verbosity is given.
QUIET = ("repair", "lsp")


def config_file(job: str) -> pathlib.Path:
  """The config file of `job`: the installed `repair_rank.configs`, else the checkout's."""
  spec = importlib.util.find_spec("repair_rank.configs")
  directories = list(spec.submodule_search_locations or []) if spec else []
  checkout = str(pathlib.Path(__file__).resolve().parents[1] / "configs")
  if checkout not in directories:
    directories.append(checkout)
  for directory in directories:
    path = pathlib.Path(directory) / f"{job}.py"
    if path.is_file():
      return path
  raise FileNotFoundError(f"the {job} job is not in this installation (no {job}.py in "
                          f"{', '.join(directories)})")


def parser() -> argparse.ArgumentParser:
  top = argparse.ArgumentParser(
      prog="repair-rank", description="Rank candidate repairs of broken Python.",
      epilog="Every subcommand also takes --config.<field>=<value> (see its configs/<job>.py), "
             "--workdir=DIR and --verbosity=N (1: the libraries' INFO logs too).")
  commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
  for name, (job, options) in COMMANDS.items():
    sub = commands.add_parser(name, help=f"the {job} job (configs/{job}.py)")
    if name == "repair":
      sub.add_argument("file", help="the broken Python file; - reads standard input")
    for option, (_, kind, text) in options.items():
      sub.add_argument(f"--{option}", type=kind, help=text)
  run = commands.add_parser("run", help="any job: a config file, as python -m repair_rank.main")
  run.add_argument("config", help="a config file, e.g. configs/finetune.py or configs/finetune.py:full")
  return top


def absl_argv(argv: Sequence[str]) -> list[str]:
  """The repair_rank.main command line of a `repair-rank` one."""
  known, rest = parser().parse_known_args(argv)
  if known.command == "run":
    return ["repair-rank", f"--config={known.config}", *rest]
  job, options = COMMANDS[known.command]
  try:
    path = config_file(job)
  except FileNotFoundError as e:
    raise SystemExit(f"repair-rank {known.command}: {e}") from None
  out = ["repair-rank", f"--config={path}"]
  if known.command in QUIET and not any(a.startswith(("--verbosity", "-v")) for a in rest):
    out.append("--verbosity=-1")
  if known.command == "repair":
    out.append(f"--config.file={known.file}")
  for option, (field, _, _) in options.items():
    value = getattr(known, option)
    if value is not None:
      out.append(f"--config.{field}={value}")
  return out + list(rest)


def main(argv: Optional[Sequence[str]] = None) -> None:
  """The console script's entry point (setup.py)."""
  args = absl_argv(sys.argv[1:] if argv is None else argv)
  from absl import app  # pylint: disable=g-import-not-at-top
  from repair_rank import main as main_lib  # pylint: disable=g-import-not-at-top
  # config_flags reads its --config.<field> overrides from sys.argv itself.
  sys.argv = args
  app.run(main_lib.main, argv=args)


if __name__ == "__main__":
  main()
