"""The AND / NOT / weight prompt syntax: terms, plain prompts, and the error messages users see."""
import pytest

from editor.core.prompt_syntax import MAX_WEIGHT, PromptSyntaxError, Term, check_prompt, parse_prompt


@pytest.mark.parametrize("prompt", ["a cat", "", "   ", "salt and pepper", "Not today, And never", "ratio 16:9",
                                    "a cat :1.2 on a mat", "BAND NOTE ANDROID"])
def test_plain_prompts_are_one_term_used_as_typed(prompt):
    parsed = parse_prompt(prompt)
    assert parsed.plain and not parsed.composed
    assert len(parsed.terms) == 1 and parsed.terms[0].weight == 1.0
    assert parsed.terms[0].text == prompt.strip()


@pytest.mark.parametrize("prompt, terms", [
    ("a red circle AND a blue square", [("a red circle", 1.0), ("a blue square", 1.0)]),
    ("a house NOT snow", [("a house", 1.0), ("snow", -1.0)]),
    ("a cat :1.2 AND a hat :0.8", [("a cat", 1.2), ("a hat", 0.8)]),
    ("a house AND NOT snow :0.5", [("a house", 1.0), ("snow", -0.5)]),
    ("NOT snow", [("snow", -1.0)]),
    ("  a  cat   AND\tthe sky  ", [("a  cat", 1.0), ("the sky", 1.0)]),
    ("a cat :.5", [("a cat", 0.5)]),
    (f"a cat :{MAX_WEIGHT:g}", [("a cat", MAX_WEIGHT)]),
    ("red and blue AND green", [("red and blue", 1.0), ("green", 1.0)]),
])
def test_composed_prompts(prompt, terms):
    parsed = parse_prompt(prompt)
    assert parsed.composed and not parsed.plain
    assert parsed.terms == tuple(Term(t, w) for t, w in terms)


def test_weight_one_on_a_single_term_is_not_composed():
    parsed = parse_prompt("a cat :1")
    assert not parsed.composed and not parsed.plain and parsed.terms == (Term("a cat", 1.0),)


@pytest.mark.parametrize("prompt, position, message", [
    ("a cat AND", 6, "'AND' needs a term after it (at character 7)"),
    ("AND a cat", 0, "'AND' needs a term before it (at character 1)"),
    ("NOT", 0, "'NOT' needs a term after it (at character 1)"),
    ("a house NOT", 8, "'NOT' needs a term after it (at character 9)"),
    ("a AND AND b", 2, "empty term between 'AND' and 'AND' (at character 3)"),
    ("a cat :abc", 6, "bad weight ':abc': expected a number such as :1.2 (at character 7)"),
    ("a cat :", 6, "':' must be followed by a weight such as :1.2 (at character 7)"),
    ("a cat :-1", 6, "negative weight ':-1': use NOT for a negative term (at character 7)"),
    ("a cat :0", 6, "weight 0 out of range: it must be more than 0 and at most 10 (at character 7)"),
    ("a cat :11 AND b", 6, "weight 11 out of range: it must be more than 0 and at most 10 (at character 7)"),
    ("a cat :nan", 6, "bad weight ':nan'"),
    ("a AND :2", 6, "the weight ':2' has no text before it (at character 7)"),
])
def test_errors_name_the_problem_and_position(prompt, position, message):
    with pytest.raises(PromptSyntaxError) as info:
        parse_prompt(prompt)
    assert info.value.position == position
    assert str(info.value).startswith(message)
    assert check_prompt(prompt) == str(info.value)


def test_check_prompt_accepts_valid_prompts():
    assert check_prompt("a cat AND a hat") is None
    assert check_prompt("") is None
