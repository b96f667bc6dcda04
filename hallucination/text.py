"""Text pieces the signals share: sentences with exact offsets, content words, and the checkable specifics
(numbers, dates, names, URLs, citations) of a sentence. Plain regular expressions: nothing to download."""

from __future__ import annotations

import re
from dataclasses import dataclass


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that end with a period without ending the sentence.
ABBREVIATIONS = _wordset(
    "mr mrs ms dr prof st sr jr vs etc e.g i.e cf fig no nos vol approx ca inc ltd co corp dept est gen gov "
    "lt col sgt capt cmdr adm mt ft jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m al"
)
STOPWORDS = _wordset(
    "a an and are as at be been being but by can could did do does for from had has have he her hers him his "
    "how i if in into is it its itself me my of on or our she so than that the their them then there these "
    "they this those to too was we were what when where which while who whom why will with would you your "
    "also about after before over under more most much many very just not no only other such some any each "
    "all both one its it's"
)
# Capitalised words that start sentences without naming anything.
COMMON_CAPITALISED = (
    STOPWORDS
    | _wordset(
        "yes however although because during since until today yesterday tomorrow overall finally first second "
        "third later instead still here now thus hence therefore meanwhile moreover furthermore indeed unlike like "
        "according despite besides hope thanks sure certainly probably perhaps maybe"
    )
    | ABBREVIATIONS
)
MONTHS = _wordset("january february march april may june july august september october november december")
WEEKDAYS = _wordset("monday tuesday wednesday thursday friday saturday sunday")
NUMBER_WORDS = {
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "sixth": "6",
    "seventh": "7",
    "eighth": "8",
    "ninth": "9",
    "tenth": "10",
}

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_BOUNDARY = re.compile(r"[.!?…]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_LINE_PREFIX = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,3}[.)]\s+|>\s*|#{1,6}\s+)*")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
_BRACKET_CITATION = re.compile(r"\[(\d{1,3}(?:\s*[,\u2013-]\s*\d{1,3})*)\]")
_AUTHOR_YEAR = re.compile(r"\(([A-Z][\w'\u2019-]+)(?:\s+et\s+al\.?)?,?\s+(\d{4})[a-z]?\)")
_DOI = re.compile(r"\b(?:doi:\s*)?(10\.\d{4,9}/[^\s\"<>]+)", re.I)
_NUMBER = re.compile(r"(?<![\w.])[-\u2212]?\d+(?:[.,]\d+)*(?:st|nd|rd|th)?%?")
_APPROX = re.compile(
    r"\b(?:about|around|approximately|roughly|nearly|almost|some|over|under|more than|less than|~)\s*$", re.I
)
_NAME = re.compile(
    r"[A-Z][\w\u2019'-]*(?:\s+(?:(?:of|de|da|del|der|di|du|la|le|van|von|y|the|and)\s+)?[A-Z][\w\u2019'-]*)*"
)


@dataclass(frozen=True)
class Sentence:
    index: int
    text: str
    start: int
    end: int


def sentences_split(text: str) -> list[Sentence]:
    """Sentences (and list items, and lines) of `text` with exact offsets: text[start:end] == sentence.text.

    Fenced code blocks are left out: they are not claims. A period after an abbreviation, an initial or a
    number does not end a sentence."""
    out: list[Sentence] = []
    masked = _FENCE.sub(lambda m: "\n" * m.group().count("\n") + " " * (len(m.group()) - m.group().count("\n")), text)
    pos = 0
    for line in masked.split("\n"):
        line_start = pos
        pos += len(line) + 1
        prefix = _LINE_PREFIX.match(line)
        offset = prefix.end() if prefix else 0
        piece_start = offset
        for boundary in _BOUNDARY.finditer(line, offset):
            if _is_abbreviation(line, boundary.start()):
                continue
            _append(out, text, line_start + piece_start, line_start + boundary.end())
            piece_start = boundary.end()
        _append(out, text, line_start + piece_start, line_start + len(line))
    return out


def _is_abbreviation(line: str, dot: int) -> bool:
    if line[dot] != ".":
        return False
    before = re.search(r"([\w.]+)$", line[:dot])
    if not before:
        return False
    word = before.group(1).lower().rstrip(".")
    if word in ABBREVIATIONS:
        return True
    return len(word) == 1 and word.isalpha() and line[dot - 1].isupper()  # an initial: "J. R. R. Tolkien"


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(ch.isalnum() for ch in text[start:end]):
        out.append(Sentence(index=len(out), text=text[start:end], start=start, end=end))


def stem(word: str) -> str:
    """A light suffix strip so that "rivets"/"rivet" and "designed"/"design" meet (no language data)."""
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, keep in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith(("ss", "us", "is")):
            return word[: -len(suffix)] + keep
    return word


def words(text: str) -> list[str]:
    return [w.lower().replace("\u2019", "'") for w in _WORD.findall(text)]


def content_tokens(text: str) -> list[str]:
    """Stemmed words without stopwords; numbers normalised (1,200 → 1200; "three" → 3)."""
    out = []
    for word in words(_numbers_normalised(text)):
        if word.endswith("'s"):
            word = word[:-2]
        if word in STOPWORDS:
            continue
        out.append(NUMBER_WORDS.get(word, stem(word)))
    return out


def _numbers_normalised(text: str) -> str:
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)


def number_normalise(raw: str) -> str:
    value = raw.replace("\u2212", "-").rstrip("%")
    value = re.sub(r"(st|nd|rd|th)$", "", value)
    value = re.sub(r"(?<=\d),(?=\d{3}(?:\D|$))", "", value)
    if "," in value:  # a decimal comma
        value = value.replace(",", ".")
    if "." in value:
        value = value.rstrip("0").rstrip(".") or "0"
    return value


@dataclass(frozen=True)
class Specific:
    kind: str  # number | date | name | url | citation
    text: str  # as written in the sentence
    key: str  # normalised, what is looked for in the reference
    approx: bool = False  # "about 8,849": a number near one in the reference will do; "the 1880s": any year in them
    weak: bool = False  # a lone capitalised word opening the sentence: maybe a name, maybe just a capital


def specifics_extract(sentence: str) -> list[Specific]:
    """The checkable details of a sentence: what a model invents when it hallucinates."""
    found: list[Specific] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, match_text: str, key: str, span: tuple[int, int], **flags) -> None:
        if any(s < span[1] and span[0] < e for s, e in taken):
            return
        taken.append(span)
        found.append(Specific(kind, match_text, key, **flags))

    for m in _URL.finditer(sentence):
        url = m.group().rstrip(".,;:!?")
        add("url", url, re.sub(r"^(https?://)?(www\.)?", "", url.lower()).rstrip("/"), m.span())
    for m in _DOI.finditer(sentence):
        add("citation", m.group(), m.group(1).lower().rstrip(".,;"), m.span())
    for m in _BRACKET_CITATION.finditer(sentence):
        add("citation", m.group(), "[" + re.sub(r"\s+", "", m.group(1)) + "]", m.span())
    for m in _AUTHOR_YEAR.finditer(sentence):
        add("citation", m.group(), f"{m.group(1).lower()} {m.group(2)}", m.span())
    for m in _NUMBER.finditer(sentence):
        key = number_normalise(m.group())
        kind = "date" if re.fullmatch(r"1[0-9]{3}|20[0-9]{2}", m.group()) else "number"  # a year
        decade = kind == "date" and key.endswith("0") and sentence[m.end() : m.end() + 1] == "s"
        hedged = bool(_APPROX.search(sentence[max(0, m.start() - 20) : m.start()]))
        add(kind, m.group(), key, m.span(), approx=decade or hedged)
    for m in re.finditer(r"\b[A-Za-z]+\b", sentence):
        word = m.group().lower()
        if word in NUMBER_WORDS and word not in ("second",):
            add("number", m.group(), NUMBER_WORDS[word], m.span())
    for m in _NAME.finditer(sentence):
        parts = [(w.group(), m.start() + w.start()) for w in re.finditer(r"\S+", m.group())]
        # Leading capitalised common words ("The", "In") and trailing small words are not part of a name.
        while parts and _bare(parts[0][0]) in COMMON_CAPITALISED:
            parts = parts[1:]
        while parts and parts[-1][0].lower() in STOPWORDS:
            parts = parts[:-1]
        if not parts:
            continue
        start, end = parts[0][1], parts[-1][1] + len(parts[-1][0])
        name = sentence[start:end]
        keys = [_bare(p) for p, _ in parts]
        if len(keys) == 1 and keys[0] in (MONTHS | WEEKDAYS):
            add("date", name, keys[0], (start, end))
        elif len(keys) > 1 or not (len(keys[0]) == 1 or keys[0] in STOPWORDS or keys[0] in NUMBER_WORDS):
            add("name", name, " ".join(keys), (start, end), weak=len(keys) == 1 and not sentence[:start].strip())
    return found


def _bare(word: str) -> str:
    word = word.lower().replace("\u2019", "'")
    return word[:-2] if word.endswith("'s") else word


class Reference:
    """What specifics are checked against: the sources and the prompt, indexed once."""

    def __init__(self, texts: list[str], *, source_count: int = 0):
        self.text = _numbers_normalised(" ".join(texts)).lower().replace("\u2019", "'")
        self.words = set(words(self.text)) | {w[:-2] for w in words(self.text) if w.endswith("'s")}
        self.numbers = {number_normalise(m.group()) for m in _NUMBER.finditer(self.text)}
        self.numbers |= {NUMBER_WORDS[w] for w in self.words if w in NUMBER_WORDS}
        self.source_count = source_count

    def has(self, specific: Specific) -> bool:
        key = specific.key
        if specific.kind in ("number", "date") and re.fullmatch(r"-?[\d.]+", key):
            if key in self.numbers:
                return True
            if not specific.approx:
                return False
            value = float(key)
            if specific.kind == "date" and key.endswith("0"):  # "the 1880s"
                return any(value <= n < value + 10 for n in self._numeric())
            return any(abs(n - value) <= 0.02 * max(abs(value), 1.0) for n in self._numeric())
        if specific.kind == "citation" and key.startswith("["):
            numbers = [int(n) for n in re.findall(r"\d+", key)]
            return (bool(numbers) and all(1 <= n <= self.source_count for n in numbers)) or key in self.text
        if specific.kind == "url":
            return key in self.text
        if specific.kind == "citation":
            return all(part in self.words or part in self.text for part in key.split())
        # Names: every word of the name somewhere in the reference ("Eiffel" is in "Gustave Eiffel's company").
        return all(part in self.words for part in words(key) if part not in STOPWORDS)

    def _numeric(self) -> list[float]:
        out = []
        for n in self.numbers:
            try:
                out.append(float(n))
            except ValueError:
                continue
        return out
