"""Prompt composition syntax: "a red circle AND a blue square", "a house NOT snow", "a cat :1.2 AND a hat :0.8".

Composable Diffusion (Liu et al. 2022, arXiv 2206.01714) combines one noise prediction per
term: eps = eps_uncond + guidance * sum_i w_i (eps_i - eps_uncond). This module only turns
the text into terms (text, weight); the engine does the arithmetic.

Syntax (docs/prompt-syntax.md):
- ``AND`` and ``NOT`` are operators only as whole words in capitals, so "salt and pepper" and
  "Not today" stay plain text. ``AND NOT`` means the same as ``NOT``.
- A term may end with a weight, a separate word ``:number`` ("a cat :1.2"); it must lie in
  (0, MAX_WEIGHT]. A NOT term's weight is negated. "16:9" (no space before the colon) is text.
- A prompt may start with NOT ("NOT snow": only a negative term).
- A prompt without operators or weight is one term of weight 1 and renders exactly as before;
  the empty prompt is allowed (fills from context).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WEIGHT = 10.0
OPERATORS = ("AND", "NOT")
_WORD = re.compile(r"\S+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class PromptSyntaxError(ValueError):
    """A prompt that does not parse. ``position`` is the 0-based character index of the problem;
    the message names the problem and the (1-based) character."""

    def __init__(self, problem: str, position: int):
        self.problem = problem
        self.position = int(position)
        super().__init__(f"{problem} (at character {self.position + 1})")


@dataclass(frozen=True)
class Term:
    text: str
    weight: float  # negative for NOT terms


@dataclass(frozen=True)
class ParsedPrompt:
    terms: tuple[Term, ...]
    plain: bool  # no operator and no weight: the prompt is used as typed

    @property
    def composed(self) -> bool:
        """Whether the prompt needs one noise prediction per term (anything but one term of weight 1)."""
        return len(self.terms) != 1 or self.terms[0].weight != 1.0


def parse_prompt(prompt: str) -> ParsedPrompt:
    """Split a prompt into weighted terms; raises PromptSyntaxError naming the problem and position."""
    words = [(m.group(), m.start()) for m in _WORD.finditer(prompt)]
    # Groups of words between operators: (operator or None, its position, [(word, pos), ...]).
    groups: list[tuple[str | None, int, list]] = [(None, 0, [])]
    i = 0
    while i < len(words):
        word, pos = words[i]
        if word in OPERATORS:
            op = word
            if word == "AND" and i + 1 < len(words) and words[i + 1][0] == "NOT":
                op, i = "NOT", i + 1  # "AND NOT" reads as NOT
            groups.append((op, pos, []))
        else:
            groups[-1][2].append((word, pos))
        i += 1
    if len(groups) == 1:
        group = groups[0][2]
        return ParsedPrompt((_term(group, 1.0, prompt),), plain=not group or not _is_weight_word(group[-1][0]))

    terms = []
    for index, (op, pos, group) in enumerate(groups):
        if index == 0:
            if not group:
                if groups[1][0] == "AND":
                    raise PromptSyntaxError("'AND' needs a term before it", groups[1][1])
                continue  # a leading NOT: only negative terms
        elif not group:
            nxt = groups[index + 1] if index + 1 < len(groups) else None
            if nxt is None:
                raise PromptSyntaxError(f"'{op}' needs a term after it", pos)
            raise PromptSyntaxError(f"empty term between '{op}' and '{nxt[0]}'", pos)
        terms.append(_term(group, -1.0 if op == "NOT" else 1.0, prompt))
    return ParsedPrompt(tuple(terms), plain=False)


def _is_weight_word(word: str) -> bool:
    return word.startswith(":")


def _term(words: list, sign: float, prompt: str) -> Term:
    if not words:
        return Term("", sign)
    weight = 1.0
    last, pos = words[-1]
    if _is_weight_word(last):
        weight = _weight(last, pos)
        words = words[:-1]
        if not words:
            raise PromptSyntaxError(f"the weight '{last}' has no text before it", pos)
    start, end = words[0][1], words[-1][1] + len(words[-1][0])
    return Term(prompt[start:end], sign * weight)


def _weight(word: str, pos: int) -> float:
    value = word[1:]
    if not value:
        raise PromptSyntaxError("':' must be followed by a weight such as :1.2", pos)
    if not _NUMBER.fullmatch(value):
        raise PromptSyntaxError(f"bad weight '{word}': expected a number such as :1.2", pos)
    weight = float(value)
    if weight < 0:
        raise PromptSyntaxError(f"negative weight '{word}': use NOT for a negative term", pos)
    if not 0.0 < weight <= MAX_WEIGHT:
        raise PromptSyntaxError(f"weight {value} out of range: it must be more than 0 and at most "
                                f"{MAX_WEIGHT:g}", pos)
    return weight


def check_prompt(prompt: str) -> str | None:
    """The error message for an invalid prompt, None when it parses (for validators)."""
    try:
        parse_prompt(prompt)
    except PromptSyntaxError as exc:
        return str(exc)
    return None


__all__ = ["parse_prompt", "check_prompt", "ParsedPrompt", "Term", "PromptSyntaxError", "MAX_WEIGHT"]
