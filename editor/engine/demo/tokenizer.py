"""A tiny CLIP tokenizer covering the demo captions, written as vocab.json + merges.txt.

Every caption word becomes a single token. The merges are derived the way BPE training derives
them (repeatedly merge the most frequent adjacent pair; ties broken alphabetically), so applying
them by rank reproduces one token per word. Words outside the vocabulary fall back to single
letters, which are all in the vocabulary, so no prompt fails to tokenize.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from pathlib import Path

from .shapes import COLOR_NAMES, SHAPES

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
EOW = "</w>"
MAX_LENGTH = 77
WORDS: tuple[str, ...] = tuple(
    sorted({"a", "an", "on", "and", "background", "gradient", *COLOR_NAMES, *SHAPES})
)


def _derive_merges(words: tuple[str, ...]) -> list[tuple[str, str]]:
    pieces = {w: [*w[:-1], w[-1] + EOW] for w in words}
    merges: list[tuple[str, str]] = []
    while any(len(p) > 1 for p in pieces.values()):
        counts: Counter[tuple[str, str]] = Counter()
        for p in pieces.values():
            counts.update(zip(p, p[1:]))
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        for w, p in pieces.items():
            out, i = [], 0
            while i < len(p):
                if i + 1 < len(p) and (p[i], p[i + 1]) == best:
                    out.append(p[i] + p[i + 1])
                    i += 2
                else:
                    out.append(p[i])
                    i += 1
            pieces[w] = out
    return merges


def vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Return (token -> id, merges) for the demo tokenizer."""
    merges = _derive_merges(WORDS)
    tokens: list[str] = []
    for ch in string.ascii_lowercase + string.digits + ",.":
        tokens += [ch, ch + EOW]
    for a, b in merges:
        if a + b not in tokens:
            tokens.append(a + b)
    tokens += [BOS, EOS]
    return {t: i for i, t in enumerate(tokens)}, merges


def write_tokenizer(folder: str | Path) -> Path:
    """Write a CLIPTokenizer folder (vocab.json, merges.txt, configs) and return its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = vocabulary()
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=1) + "\n", encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MAX_LENGTH,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": EOS,
        "pad_token": EOS,
        "do_lower_case": True,
        "clean_up_tokenization_spaces": False,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    special = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
    return folder


def special_ids() -> dict[str, int]:
    vocab, _ = vocabulary()
    return {"bos": vocab[BOS], "eos": vocab[EOS], "size": len(vocab)}
