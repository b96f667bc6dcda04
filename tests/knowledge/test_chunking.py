"""Chunking: headings are boundaries recorded on each chunk, neighbouring chunks overlap, no chunk passes
the limit, and words are never cut."""

from __future__ import annotations

import itertools
import re

from knowledge.chunking import chunk_text, sections, token_count

LONG = " ".join(f"Sentence {i} talks about the topic at some length." for i in range(80))
DOC = f"""Preface text before any heading.

# Guide

Short intro.

## Install

{LONG}

## Use

Run it.

# Appendix

```
# not a heading inside a code fence
```
"""


def test_sections_follow_the_heading_path_and_ignore_code_fences():
    assert [h for h, _b in sections(DOC)] == ["", "Guide", "Guide > Install", "Guide > Use", "Appendix"]
    assert sections(DOC)[-1][1] == ["```\n# not a heading inside a code fence\n```"]


def test_no_chunk_crosses_a_heading_and_each_records_its_heading():
    chunks = chunk_text(DOC, max_tokens=60, overlap=10)
    by_heading = {}
    for chunk in chunks:
        by_heading.setdefault(chunk.heading, []).append(chunk.text)
    assert by_heading[""] == ["Preface text before any heading."]
    assert by_heading["Guide"] == ["Short intro."]
    assert by_heading["Guide > Use"] == ["Run it."]
    assert len(by_heading["Guide > Install"]) > 3
    assert all("Run it" not in text and "intro" not in text for text in by_heading["Guide > Install"])
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_no_chunk_is_over_the_limit_and_counts_are_right():
    for limit in (20, 60, 300):
        for chunk in chunk_text(DOC, max_tokens=limit, overlap=limit // 5):
            assert chunk.token_count == token_count(chunk.text) <= limit


def test_neighbouring_chunks_of_a_section_overlap():
    install = [c.text for c in chunk_text(DOC, max_tokens=60, overlap=10) if c.heading == "Guide > Install"]
    for before, after in itertools.pairwise(install):
        head = " ".join(after.split()[:3])
        assert head in before, (before[-80:], after[:80])
    without = [c.text for c in chunk_text(DOC, max_tokens=60, overlap=0) if c.heading == "Guide > Install"]
    assert without[1].startswith("Sentence")


def test_words_are_never_cut():
    words = set(re.findall(r"\S+", DOC))
    for chunk in chunk_text(DOC, max_tokens=25, overlap=8):
        for word in re.findall(r"\S+", chunk.text):
            assert word in words, word


def test_all_the_text_is_kept():
    chunks = chunk_text(DOC, max_tokens=40, overlap=0)
    kept = " ".join(" ".join(c.text.split()) for c in chunks)
    for i in range(80):
        assert f"Sentence {i} talks" in kept


def test_a_paragraph_longer_than_a_chunk_splits_at_sentence_ends():
    chunks = chunk_text(LONG, max_tokens=50, overlap=0)
    assert all(c.text.endswith("length.") for c in chunks)


def test_a_sentence_without_ends_splits_between_words_and_a_monster_word_by_characters():
    run = " ".join(["word"] * 500)
    chunks = chunk_text(run, max_tokens=100, overlap=0)
    assert [c.token_count for c in chunks] == [100] * 5
    monster = chunk_text("x" * 5000 + "." * 300, max_tokens=100, overlap=0)
    assert all(c.token_count <= 100 for c in monster)
    assert "".join(c.text for c in monster) == "x" * 5000 + "." * 300
