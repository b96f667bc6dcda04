"""Split a document's text into overlapping chunks that respect its headings, paragraphs and words.

The text is cut into sections at Markdown headings (`#` … `######`); a chunk never spans two
sections and records the heading path it sits under ("Guide > Install"). Inside a section,
paragraphs (blocks between blank lines) are packed into chunks of at most `max_tokens`; each chunk
after the first of a section begins with the last ~`overlap` tokens of the one before. A paragraph
longer than a chunk is split at sentence ends, a sentence longer than a chunk between words.

Tokens here are an approximation that needs no tokenizer download: each run of word characters and
each punctuation mark counts one (`token_count`). For English prose that is close to a word count,
about 0.75 of what a BPE tokenizer counts, so 300 of them fit any embedding model's context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(r"\w+|[^\w\s]")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])[\"')\]]*\s+")
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkText:
    index: int
    text: str
    heading: str
    token_count: int


def token_count(text: str) -> int:
    """The approximate token count used for chunk sizes (see the module docstring)."""
    return len(TOKEN.findall(text))


def tokens_of(text: str) -> list[str]:
    """Lower-cased word tokens, for keyword (BM25) search."""
    return [t.lower() for t in re.findall(r"\w+", text)]


def sections(text: str) -> list[tuple[str, list[str]]]:
    """(heading path, paragraphs) in document order; text before the first heading has the path ""."""
    path: list[tuple[int, str]] = []
    result: list[tuple[str, list[str]]] = [("", [])]
    paragraph: list[str] = []
    in_fence = False

    def end_paragraph() -> None:
        if paragraph:
            block = "\n".join(paragraph).strip("\n")
            if block.strip():
                result[-1][1].append(block)
            paragraph.clear()

    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line)
        if match and match.group(2):
            end_paragraph()
            level, title = len(match.group(1)), match.group(2).strip()
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
            result.append((" > ".join(t for _, t in path), []))
        elif not line.strip() and not in_fence:
            end_paragraph()
        else:
            paragraph.append(line)
    end_paragraph()
    return [(heading, blocks) for heading, blocks in result if blocks or heading]


def _split_words(text: str, max_tokens: int) -> list[str]:
    """Pieces of at most max_tokens made of whole words (a single word longer than that is cut)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for word in WORD.findall(text):
        n = token_count(word)
        if n > max_tokens:  # a pathological "word" (a long URL, a base64 run): cut by characters
            if current:
                pieces.append(" ".join(current))
                current, size = [], 0
            pieces.extend(_cut_word(word, max_tokens))
            continue
        if size + n > max_tokens and current:
            pieces.append(" ".join(current))
            current, size = [], 0
        current.append(word)
        size += n
    if current:
        pieces.append(" ".join(current))
    return pieces


def _cut_word(word: str, max_tokens: int) -> list[str]:
    pieces, start = [], 0
    while start < len(word):
        end = start + 1
        while end < len(word) and token_count(word[start : end + 1]) <= max_tokens:
            end += 1
        pieces.append(word[start:end])
        start = end
    return pieces


def _split_block(block: str, max_tokens: int) -> list[str]:
    """A paragraph as pieces of at most max_tokens: itself, else its sentences, else runs of words."""
    if token_count(block) <= max_tokens:
        return [block]
    pieces: list[str] = []
    for sentence in SENTENCE_END.split(block):
        sentence = sentence.strip()
        if not sentence:
            continue
        if token_count(sentence) <= max_tokens:
            pieces.append(sentence)
        else:
            pieces.extend(_split_words(sentence, max_tokens))
    return pieces


def _tail(text: str, overlap: int) -> str:
    """The last whole words of `text` holding at most `overlap` tokens (empty when overlap is 0)."""
    if overlap <= 0:
        return ""
    words = list(WORD.finditer(text))
    start, size = len(text), 0
    for word in reversed(words):
        n = token_count(word.group())
        if size + n > overlap:
            break
        size += n
        start = word.start()
    return text[start:].strip()


def _join(parts: list[tuple[int, str]]) -> str:
    out = ""
    for i, (block_no, piece) in enumerate(parts):
        if i:
            out += " " if parts[i - 1][0] == block_no and "\n" not in piece else "\n\n"
        out += piece
    return out.strip()


def chunk_text(text: str, *, max_tokens: int = 300, overlap: int = 50) -> list[ChunkText]:
    """The chunks of `text` (see the module docstring); every chunk has at most max_tokens tokens."""
    if max_tokens < 10:
        raise ValueError("max_tokens must be at least 10")
    overlap = max(0, min(overlap, max_tokens // 2))
    chunks: list[ChunkText] = []

    def emit(parts: list[tuple[int, str]], heading: str) -> None:
        body = _join(parts)
        if body:
            chunks.append(ChunkText(len(chunks), body, heading, token_count(body)))

    for heading, blocks in sections(text):
        # (paragraph number, piece): pieces of one paragraph are joined by a space, paragraphs by a blank line
        pieces = [(i, p) for i, block in enumerate(blocks) for p in _split_block(block, max_tokens)]
        parts: list[tuple[int, str]] = []
        size = 0
        has_new = False  # the chunk holds more than the overlap carried over
        for block_no, piece in pieces:
            n = token_count(piece)
            if parts and size + n > max_tokens and has_new:
                emit(parts, heading)
                carried = _tail(_join(parts), min(overlap, max_tokens - n))
                parts = [(parts[-1][0], carried)] if carried else []
                size = token_count(carried)
                has_new = False
            parts.append((block_no, piece))
            size += n
            has_new = True
        if has_new:
            emit(parts, heading)
    return chunks
