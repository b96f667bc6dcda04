"""Text out of an uploaded document, with its type decided by the content, never by the file name.

Supported: PDF (pypdf), Word .docx (python-docx, after zip-bomb checks), HTML (lxml, headings kept as
Markdown `#`), Markdown and plain text (UTF-8, or UTF-16 with a byte-order mark). Everything else is
refused with an ExtractError that says what was found and what to upload instead.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from django.conf import settings

SUPPORTED = "upload txt, md, html, pdf or docx"
NAME_MAX = 255
PDF_MAX_PAGES = 5000
ZIP_MAX_ENTRIES = 2000
# A deflated entry may expand this many times; real .docx XML stays well under 100:1, a run of zeros
# (the classic bomb) reaches 1000:1. Small entries are exempt: they cannot hurt whatever their ratio.
ZIP_MAX_RATIO = 200
ZIP_RATIO_EXEMPT_BYTES = 1024 * 1024


class ExtractError(ValueError):
    """The document cannot be read; the message names the file, what was found and what to do."""


@dataclass(frozen=True)
class Detected:
    kind: str  # pdf | docx | html | markdown | text
    mime: str
    ext: str


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str
    detected: Detected


PDF = Detected("pdf", "application/pdf", "pdf")
DOCX = Detected("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
HTML = Detected("html", "text/html", "html")
MARKDOWN = Detected("markdown", "text/markdown", "md")
TEXT = Detected("text", "text/plain", "txt")

# What a file that is none of ours turns out to be, by its first bytes: named in the error.
MAGIC: list[tuple[bytes, str]] = [
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable (MZ)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document (.doc/.xls/.ppt; save it as .docx)"),
    (b"{\\rtf", "an RTF document (save it as .docx)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xca\xfe\xba\xbe", "a Java class or Mach-O binary"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"%!PS", "a PostScript document"),
    (b"OggS", "an Ogg media file"),
    (b"ID3", "an MP3 audio file"),
    (b"fLaC", "a FLAC audio file"),
    (b"\x00asm", "a WebAssembly module"),
]
HEADING_LINE = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
HTML_START = re.compile(
    rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL
)
HTML_TAGS = re.compile(rb"<(html|head|body|title|meta|div|p|h[1-6]|article|section|table|ul|br)[\s>/]", re.IGNORECASE)


def display_name(name: str | None) -> str:
    """The upload's name as shown: its last path part, without control characters, at most 255 characters.

    Only ever displayed; files are stored under generated names, so a name such as `../../etc/passwd`
    reaches no file system path."""
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".").strip()
    if len(name) > NAME_MAX:
        _stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        name = name[: NAME_MAX - len(ext) - 2] + "…" + (f".{ext}" if ext else "")
    return name or "upload"


def _extension(name: str) -> str:
    base = display_name(name)
    return base.rpartition(".")[2].lower() if "." in base else ""


def _found(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "a zip archive"
    if data.startswith(b"%PDF-"):
        return "a PDF document"
    for magic, what in MAGIC:
        if data.startswith(magic):
            return what
    if data[4:8] == b"ftyp":
        return "an MP4/QuickTime media file"
    if data.startswith(b"RIFF"):
        return "a RIFF media file (WAV/AVI/WebP)"
    if b"\x00" in data[:8192]:
        return "binary data"
    return "text that is not valid UTF-8 (save it as UTF-8)"


def _decode_text(data: bytes) -> str | None:
    """The text of a UTF-8 (or BOM-marked UTF-16) file, or None when it is not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    else:
        if b"\x00" in data:
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    if "\x00" in text:
        return None
    # Text with many control characters is a binary format that happens to decode.
    controls = sum(1 for c in text[:65536] if ord(c) < 32 and c not in "\t\n\r\f\v")
    if controls > max(8, len(text[:65536]) // 100):
        return None
    return text


def _is_docx(zf: zipfile.ZipFile) -> bool:
    names = set(zf.namelist())
    return "[Content_Types].xml" in names and "word/document.xml" in names


def _zip_check(zf: zipfile.ZipFile, label: str) -> None:
    """Refuse archives that would unpack to far more than they weigh, before anything is unpacked.

    zipfile stops reading an entry at its declared size (and fails its CRC check past it), so the
    declared sizes checked here bound what parsing can ever unpack."""
    infos = zf.infolist()
    if len(infos) > ZIP_MAX_ENTRIES:
        raise ExtractError(f"{label} was refused: it holds {len(infos)} files (at most {ZIP_MAX_ENTRIES})")
    cap = settings.KNOWLEDGE_MAX_UNPACKED_MB * 1024 * 1024
    total = sum(i.file_size for i in infos)
    if total > cap:
        raise ExtractError(
            f"{label} was refused: it would unpack to {total // (1024 * 1024)} MB "
            f"(at most {settings.KNOWLEDGE_MAX_UNPACKED_MB} MB); it looks like a zip bomb"
        )
    for info in infos:
        if info.file_size > ZIP_RATIO_EXEMPT_BYTES and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
            raise ExtractError(
                f"{label} was refused: {info.filename!r} expands {info.file_size // max(info.compress_size, 1)} times "
                f"(at most {ZIP_MAX_RATIO}); it looks like a zip bomb"
            )


def detect(data: bytes, name: str = "") -> Detected:
    """The document's type from its content; raises ExtractError for anything not supported.

    A name claiming PDF or Word for other content is refused (naming both), since such a file was
    mislabelled by mistake or by design; other names are hints only (.md for Markdown)."""
    label = display_name(name)
    if not data:
        raise ExtractError(f"{label} is empty")
    claimed = _extension(name)
    detected: Detected | None = None
    if data.startswith(b"%PDF-"):
        detected = PDF
    elif data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if _is_docx(zf):
                    _zip_check(zf, label)
                    detected = DOCX
        except zipfile.BadZipFile:
            raise ExtractError(f"{label} is a damaged zip archive; {SUPPORTED}") from None
    else:
        text = _decode_text(data)
        if text is not None:
            if HTML_START.match(data[:4096].lstrip(b"\xef\xbb\xbf")) or (
                claimed in ("html", "htm", "xhtml") and HTML_TAGS.search(data[:4096])
            ):
                detected = HTML
            elif claimed in ("md", "markdown") or HEADING_LINE.search(text[:65536]):
                detected = MARKDOWN
            else:
                detected = TEXT
    if detected is None:
        what = _found(data)
        if claimed in ("pdf", "docx"):
            raise ExtractError(f"{label} is named .{claimed} but its content is {what}; {SUPPORTED}")
        raise ExtractError(f"{label} is not a supported file: found {what}; {SUPPORTED}")
    if claimed in ("pdf", "docx") and claimed != detected.ext:
        raise ExtractError(
            f"{label} is named .{claimed} but its content is {_describe(detected)}; rename it or {SUPPORTED}"
        )
    return detected


def _describe(detected: Detected) -> str:
    return {
        "pdf": "a PDF document",
        "docx": "a Word document",
        "html": "HTML",
        "markdown": "Markdown text",
        "text": "plain text",
    }[detected.kind]


def extract(data: bytes, name: str = "") -> Extracted:
    """Detect the type (see detect()) and return the text, with headings as Markdown `#` lines."""
    detected = detect(data, name)
    label = display_name(name)
    if detected.kind == "pdf":
        text, title = _pdf(data, label)
    elif detected.kind == "docx":
        text, title = _docx(data, label)
    elif detected.kind == "html":
        text, title = html_to_text(_decode_text(data) or "")
    else:
        text, title = _decode_text(data) or "", ""
    text = normalise(text)
    if not text.strip():
        raise ExtractError(f"{label} has no text to index ({_describe(detected)} without readable text)")
    return Extracted(text=text, title=title, detected=detected)


def normalise(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _pdf(data: bytes, label: str) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractError(f"{label} is a password-protected PDF; remove the password and upload it again")
        if len(reader.pages) > PDF_MAX_PAGES:
            raise ExtractError(f"{label} has {len(reader.pages)} pages (at most {PDF_MAX_PAGES}); split it")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = ""
        try:
            title = str((reader.metadata or {}).get("/Title") or "").strip()
        except Exception:  # noqa: BLE001 - a broken metadata dictionary must not lose the text
            title = ""
    except ExtractError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise ExtractError(
            f"{label} is a damaged PDF that cannot be read ({type(exc).__name__}: {exc})"[:500]
        ) from None
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise ExtractError(f"{label} is a PDF without a text layer (a scan?); text recognition (OCR) is not supported")
    return text, title


def _docx(data: bytes, label: str) -> tuple[str, str]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds for a broken file
        raise ExtractError(f"{label} is a damaged Word document ({type(exc).__name__}: {exc})"[:500]) from None
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            level = _heading_level(style)
            if level:
                blocks.append(f"{'#' * level} {' '.join(text.split())}")
            elif style.lower().startswith("list"):
                blocks.append(f"- {text}")
            else:
                blocks.append(text)
        elif isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                blocks.append("\n".join(rows))
    title = (document.core_properties.title or "").strip()
    return "\n\n".join(blocks), title


def _heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.fullmatch(r"Heading ([1-6])", style)
    return int(match.group(1)) if match else 0


SKIP_TAGS = {
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "footer",
    "form",
    "svg",
    "iframe",
    "button",
    "select",
    "object",
    "canvas",
    "head",
}
BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "pre",
    "li",
    "tr",
    "dt",
    "dd",
    "figcaption",
    "table",
    "ul",
    "ol",
    "dl",
    "body",
    "address",
    "details",
    "summary",
    "hr",
    "br",
}


def html_to_text(html: str) -> tuple[str, str]:
    """The visible text of an HTML document, headings as Markdown `#` lines, and its title.

    Our own walk over lxml's tree rather than trafilatura: trafilatura guesses the "main content" and
    drops short documents whole, which an uploaded file must never suffer."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return "", ""
    title_el = root.find(".//title")
    title = " ".join((title_el.text_content() if title_el is not None else "").split())
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = " ".join("".join(current).split())
        if text:
            blocks.append(text)
        current.clear()

    def walk(el) -> None:
        if not isinstance(el.tag, str) or el.tag.lower() in SKIP_TAGS:  # comments, scripts, navigation
            if el.tail:
                current.append(el.tail)
            return
        tag = el.tag.lower()
        if re.fullmatch(r"h[1-6]", tag):
            flush()
            text = " ".join(el.text_content().split())
            if text:
                blocks.append(f"{'#' * int(tag[1])} {text}")
        elif tag == "pre":
            flush()
            text = el.text_content().strip("\n")
            if text.strip():
                blocks.append(text)
        else:
            is_block = tag in BLOCK_TAGS
            if is_block:
                flush()
                if tag == "li":
                    current.append("- ")
            if el.text:
                current.append(el.text)
            for child in el:
                walk(child)
            if tag in ("td", "th"):
                current.append(" | ")
            if is_block:
                flush()
        if el.tail:
            current.append(el.tail)

    body = root.find("body")
    walk(body if body is not None else root)
    flush()
    text = "\n\n".join(b.rstrip(" |") for b in blocks if b.strip(" |-"))
    return text, title
