"""Sentences with exact offsets (the page highlights answer[start:end]) and the specifics a model invents."""

from __future__ import annotations

from hallucination.text import Reference, sentences_split, specifics_extract

ANSWER = """The Eiffel Tower was completed in 1889. It is 330 m tall, i.e. taller than Mr. Smith's house! Dr. J. R. R. Tolkien never wrote about it. Its price was 7.5 million francs.

- First item: 1,200 rivets.
- Second item ends here
1. A numbered point? Yes.
```python
x = 1. This is code. Not a claim.
```
> A quoted line. Another one.
## A heading"""


def test_every_sentence_is_the_exact_slice_of_the_answer():
    sentences = sentences_split(ANSWER)
    for sentence in sentences:
        assert ANSWER[sentence.start : sentence.end] == sentence.text
    assert [s.index for s in sentences] == list(range(len(sentences)))


def test_abbreviations_initials_decimals_lists_and_code_do_not_break_sentences_wrongly():
    texts = [s.text for s in sentences_split(ANSWER)]
    assert texts == [
        "The Eiffel Tower was completed in 1889.",
        "It is 330 m tall, i.e. taller than Mr. Smith's house!",
        "Dr. J. R. R. Tolkien never wrote about it.",
        "Its price was 7.5 million francs.",
        "First item: 1,200 rivets.",
        "Second item ends here",
        "A numbered point?",
        "Yes.",
        "A quoted line.",
        "Another one.",
        "A heading",
    ]


def test_an_empty_or_blank_answer_has_no_sentences():
    assert sentences_split("") == []
    assert sentences_split("  \n\n ... \n") == []


def test_numbers_dates_names_urls_and_citations_are_extracted():
    found = specifics_extract(
        "On March 31, 1889, Gustave Eiffel's company had used 1,200 rivets (Smith et al., 2020) [3], "
        "see https://example.com/tower/ and doi:10.1000/xyz123."
    )
    kinds = {(s.kind, s.key) for s in found}
    assert ("date", "march") in kinds
    assert ("number", "31") in kinds
    assert ("date", "1889") in kinds
    assert ("number", "1200") in kinds  # the thousands separator is not part of the number
    assert ("name", "gustave eiffel") in kinds
    assert ("citation", "smith 2020") in kinds
    assert ("citation", "[3]") in kinds
    assert ("url", "example.com/tower") in kinds
    assert ("citation", "10.1000/xyz123") in kinds


def test_capitalised_common_words_are_not_names():
    found = specifics_extract("However, The report says that It was fine.")
    assert [s for s in found if s.kind == "name"] == []


def test_the_reference_matches_specifics_the_way_sources_write_them():
    reference = Reference(
        [
            "Gustave Eiffel's company finished the tower in 1889 with 1200 rivets; it is 8,848.86 m high. "
            "The X-ray unit was built in the 1880s."
        ],
        source_count=2,
    )

    def has(sentence: str) -> list[bool]:
        return [reference.has(s) for s in specifics_extract(sentence)]

    assert has("Eiffel built it in 1889.") == [True, True]
    assert has("It used 1,200 rivets.") == [True]
    assert has("It was finished in 1925.") == [False]
    assert has("Gustave Martin built it.") == [False]
    assert has("It is about 8,849 metres high.") == [True]  # "about": a near number will do
    assert has("It is 8,849 metres high.") == [False]  # a bare number must be the reference's
    assert has("Its X-ray unit is old.") == [True]
    assert has("It cites [2] and [3].") == [True, False]  # only two sources were given
