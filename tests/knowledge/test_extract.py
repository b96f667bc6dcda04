"""Text extraction decides the type by content: each supported type is read (headings kept as `#`), and
anything else, or a name that lies about its content, is refused with a message naming what was found."""

from __future__ import annotations

import io
import zipfile

import pytest

from knowledge import extract
from tests.fixtures.knowledge import docx_bytes, pdf_bytes


def test_plain_text_and_utf16_with_bom_are_read():
    assert extract.extract(b"Just some notes.\r\nSecond line.", "notes.txt").text == "Just some notes.\nSecond line."
    utf16 = "Caf\u00e9 au lait".encode("utf-16")
    got = extract.extract(utf16, "menu.txt")
    assert got.text == "Caf\u00e9 au lait" and got.detected.kind == "text"


def test_markdown_is_recognised_by_its_headings_or_its_name():
    assert extract.extract(b"# Title\n\nBody.", "whatever.txt").detected.kind == "markdown"
    assert extract.extract(b"no headings here", "readme.md").detected.kind == "markdown"
    assert extract.extract(b"no headings here", "readme.txt").detected.kind == "text"


def test_html_keeps_headings_lists_and_tables_and_drops_scripts_and_navigation():
    page = b"""<!DOCTYPE html><html><head><title>Field guide</title><script>steal()</script></head><body>
    <nav>Home | About</nav><h1>Birds</h1><p>The <b>heron</b> waits.</p><h2>Nests</h2>
    <ul><li>reeds</li><li>trees</li></ul><table><tr><th>bird</th><th>eggs</th></tr><tr><td>heron</td><td>4</td></tr>
    </table><style>p{color:red}</style></body></html>"""
    got = extract.extract(page, "guide.dat")
    assert got.detected.kind == "html" and got.title == "Field guide"
    assert (
        got.text
        == "# Birds\n\nThe heron waits.\n\n## Nests\n\n- reeds\n\n- trees\n\nbird | eggs\nheron | 4".replace(
            "eggs\nheron", "eggs\n\nheron"
        )
    )
    assert "steal" not in got.text and "Home" not in got.text and "color" not in got.text


def test_pdf_text_and_title_are_read():
    data = pdf_bytes(
        ["Tides follow the moon.", "Spring tides are the largest."], ["Page two (the end)."], title="Tides"
    )
    got = extract.extract(data, "tides.pdf")
    assert got.detected.kind == "pdf" and got.title == "Tides"
    assert got.text == "Tides follow the moon.\nSpring tides are the largest.\n\nPage two (the end)."


def test_docx_headings_become_markdown_headings():
    data = docx_bytes([("h1", "Bees"), ("p", "Bees make honey."), ("h2", "Hives"), ("li", "a queen")], title="B")
    got = extract.extract(data, "bees.docx")
    assert got.detected.kind == "docx" and got.title == "B"
    assert got.text == "# Bees\n\nBees make honey.\n\n## Hives\n\n- a queen"


def test_content_decides_not_the_name():
    # An HTML page named .txt is read as HTML, a PDF named .html as PDF.
    assert extract.detect(b"<html><body><p>x</p></body></html>", "page.txt").kind == "html"
    assert extract.detect(pdf_bytes(["x"]), "report.html").kind == "pdf"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
            "report.pdf",
            "report.pdf is named .pdf but its content is an ELF executable",
        ),
        (
            b"MZ\x90\x00\x03" + b"\x00" * 64,
            "letter.docx",
            "letter.docx is named .docx but its content is a Windows executable",
        ),
        (b"plain words", "paper.pdf", "paper.pdf is named .pdf but its content is plain text"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "photo.md", "photo.md is not a supported file: found a PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, "old.doc", "an old Office document"),
        (b"caf\xe9 latin-1", "notes.txt", "not valid UTF-8"),
        (b"", "empty.txt", "empty.txt is empty"),
    ],
)
def test_unsupported_or_mislabelled_content_is_refused_with_what_was_found(data, name, message):
    with pytest.raises(extract.ExtractError) as caught:
        extract.detect(data, name)
    assert message in str(caught.value)
    assert "upload txt, md, html, pdf or docx" in str(caught.value) or "empty" in message


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
    return out.getvalue()


def test_a_zip_that_is_not_a_word_document_is_refused():
    with pytest.raises(extract.ExtractError, match="found a zip archive"):
        extract.detect(_zip({"a.txt": b"hello"}), "archive.zip")
    with pytest.raises(extract.ExtractError, match=r"is named \.docx but its content is a zip archive"):
        extract.detect(_zip({"a.txt": b"hello"}), "fake.docx")


def test_a_docx_zip_bomb_is_refused_before_it_is_unpacked():
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\x00" * 50_000_000})
    assert len(bomb) < 100_000
    with pytest.raises(extract.ExtractError, match="looks like a zip bomb"):
        extract.detect(bomb, "bomb.docx")


def test_a_docx_declaring_more_than_the_unpacked_cap_is_refused(settings):
    settings.KNOWLEDGE_MAX_UNPACKED_MB = 1
    big = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": bytes(range(256)) * 8000})  # 2 MB
    with pytest.raises(extract.ExtractError, match=r"would unpack to 1 MB \(at most 1 MB\)|unpack to"):
        extract.detect(big, "big.docx")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Windows\\..\\evil.txt", "evil.txt"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("..", "upload"),
        ("", "upload"),
    ],
)
def test_display_names_are_sanitised_to_a_last_part_without_control_characters(name, shown):
    assert extract.display_name(name) == shown


def test_very_long_names_are_shortened_keeping_the_extension():
    shown = extract.display_name("a" * 1000 + ".pdf")
    assert len(shown) <= 255 and shown.endswith("….pdf")
