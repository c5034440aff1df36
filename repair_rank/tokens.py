"""Public face of `repair_rank.syntax.tokens`: lexing, validity, the charified form, rendering.

  from repair_rank import tokens
  tokens.lex(source); tokens.is_valid(seq); tokens.charify(seq); tokens.uncharify(text)

Outside users import this module; code inside the package imports the subpackage.
"""
from repair_rank.syntax.tokens import *  # pylint: disable=wildcard-import,unused-wildcard-import
