"""Tests for repair_rank.tokens: lexing, charify, rendering and validity."""
import json
import random
import warnings

import pytest

from repair_rank import paths
from repair_rank import tokens


def _pairs(split):
  with paths.split_path(split).open() as f:
    return [json.loads(line) for line in f]


@pytest.mark.parametrize("split", ["train", "valid", "test"])
@pytest.mark.parametrize("side,min_agreement", [("fixed", 0.99), ("broken", 0.97)])
def test_lex_agrees_with_the_data_on_a_sample(split, side, min_agreement):
  with_source = [p for p in _pairs(split) if p[f"{side}_src"] is not None]
  sample = random.Random(0).sample(with_source, min(400, len(with_source)))
  agree = sum(tokens.lex(p[f"{side}_src"]) == p[side].split() for p in sample)
  assert agree / len(sample) >= min_agreement


@pytest.mark.parametrize("source,expected", [
    ("print(x)", "NAME ( NAME )"),
    ("x = 1\n", "NAME = NUMBER NEWLINE"),
    ("if a:\n    return True", "if NAME : NEWLINE INDENT return True NEWLINE DEDENT"),
    ("# comment\nx", "NEWLINE NAME"),
    ("x\n# trailing comment", "NAME"),
    ("    x = 1", "NEWLINE INDENT NAME = NUMBER NEWLINE DEDENT"),
    ("f(a,\n  b)", "NAME ( NAME , NAME )"),
    ("x = 0091", "NAME = NUMBER NUMBER"),  # leading zeros split, as in the data
    ("d = {'a':=1}", "NAME = { STRING : = NUMBER }"),  # no walrus in the data's lexer
    ("s = '''a\nb'''\ny", "NAME = STRING NEWLINE NAME"),
    ("s = r'\\d' + b\"x\" + f'{y}'", "NAME = STRING + STRING + STRING"),
    ("x = 1e-3 + .5j + 0xFF + 1_000", "NAME = NUMBER + NUMBER + NUMBER + NUMBER"),
    ("a -> b ... c **= d", "NAME -> NAME ... NAME **= NAME"),
    ("print foo.bar", "NAME NAME . NAME"),
    ("match = case = 1", "NAME = NAME = NUMBER"),  # soft keywords are names
    ("f(x))\ny", "NAME ( NAME ) ) NEWLINE NAME"),  # unbalanced closer
])
def test_lex_conventions(source, expected):
  assert tokens.lex(source) == expected.split()


@pytest.mark.parametrize("source", [
    "print('unterminated",
    "s = '''never closed\nx = 1",
    "f(((",
    ")))]]}",
    "if x:\n        a\n    b\n  c",  # inconsistent dedent
    "\tif x:\n\t\ty\n        z",     # tabs and spaces
    "x = 1\f\ny = 2",               # form feed
    "naïve = 'ünïcode' + π € $ ? ` !",
    "x = \\\n  1\\",
    "",
    "\n\n\n",
    "\x00\x01 weird bytes",
    "'\\\n",
])
def test_lex_never_raises_on_broken_code(source):
  result = tokens.lex(source)
  tokens.check_tokens(result)  # only alphabet tokens come out


def test_lex_keeps_non_ascii_names_and_strings():
  assert tokens.lex("π = 'ü'") == ["NAME", "=", "STRING"]


def test_charify_round_trip_over_every_token():
  every = list(tokens.ALL_TOKENS)
  text = tokens.charify(every)
  assert len(text) == len(every) == len(set(text)) == 88
  assert all(c.isascii() and c.isprintable() and c != " " for c in text)
  assert tokens.uncharify(text) == every
  shuffled = random.Random(1).choices(every, k=500)
  assert tokens.uncharify(tokens.charify(shuffled)) == shuffled


def test_charify_covers_the_grammar_tokens_and_is_versioned():
  import keyword
  import token as pytoken
  assert set(keyword.kwlist) <= set(tokens.ALL_TOKENS)
  grammar_ops = set(pytoken.EXACT_TOKEN_TYPES) - {"!"}  # `!` is an f-string detail in 3.12
  assert grammar_ops <= set(tokens.ALL_TOKENS)
  assert tokens.CHARIFY_ALPHABET_VERSION == 1


def test_charify_unknown_token_and_character_raise_clear_errors():
  with pytest.raises(tokens.UnknownTokenError, match=r"'FOO' at position 1"):
    tokens.charify(["NAME", "FOO"])
  with pytest.raises(tokens.UnknownTokenError, match=r"' ' at position 2"):
    tokens.uncharify("n( )")


def test_is_valid_accepts_every_fixed_sequence_of_valid():
  for pair in _pairs("valid"):
    assert tokens.is_valid(pair["fixed"].split()), pair["id"]


def test_is_valid_rejects_broken_sequences():
  pairs = _pairs("valid")
  rejected = sum(not tokens.is_valid(p["broken"].split()) for p in pairs)
  assert rejected / len(pairs) >= 0.995


@pytest.mark.parametrize("sequence", [
    "NAME ( NEWLINE )",                       # NEWLINE inside brackets
    "NAME ( INDENT NAME )",
    "if NAME : INDENT NAME",                  # INDENT not after NEWLINE
    "NAME NEWLINE DEDENT NAME",               # DEDENT without INDENT
    "if NAME : NEWLINE INDENT NAME DEDENT",   # DEDENT mid-line
])
def test_is_valid_rejects_layout_the_lexer_never_emits(sequence):
  assert not tokens.is_valid(sequence.split())


def test_is_valid_accepts_comment_newlines_and_emits_no_warnings():
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    assert tokens.is_valid("NEWLINE NAME = NUMBER NEWLINE NEWLINE".split())
    assert tokens.is_valid("NAME = NUMBER is NUMBER".split())  # compiler would warn
    assert tokens.is_valid("NAME = NUMBER ( NAME )".split())


def test_render_is_readable_and_parses():
  seq = "def NAME ( NAME ) : NEWLINE INDENT return NAME [ NUMBER ] . NAME ( STRING ) NEWLINE DEDENT".split()
  assert tokens.render(seq, pretty=True) == "def x(x):\n    return x[1].x('s')\n"
  assert tokens.lex(tokens.render(seq)) == seq


def test_lex_lexemes_carry_source_text_and_position():
  source = "x = '''a\nb''' + f(12)\nif y:\n  z"
  lexemes = tokens.lex_lexemes(source)
  assert [l.token for l in lexemes] == tokens.lex(source)
  visible = [(l.text, l.line, l.column) for l in lexemes if l.text]
  assert visible[:3] == [("x", 1, 0), ("=", 1, 2), ("'''a\nb'''", 1, 4)]
  assert ("12", 2, 9) in visible and ("z", 4, 2) in visible
