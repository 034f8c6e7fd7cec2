"""The book as an EPUB 3 file, with an EPUB 2 NCX so older readers find the chapters.

Built with :mod:`zipfile` alone: the format is a ZIP whose first entry is an
uncompressed ``mimetype``, a ``META-INF/container.xml`` that names the package
document, and XHTML content. The XML skeletons below are deliberately small
templates; every piece of book text goes through :func:`_text` or
:func:`_attr`, which escape it and drop characters XML 1.0 cannot hold.

Output is deterministic: fixed ZIP timestamps and attributes, and a fixed
``dcterms:modified`` when the book has no ``generated`` time, so the same book
always gives the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape as html_escape

from agents.text import paragraphs
from orchestrator.artifacts.book import (
    Book,
    BookChapter,
    chapter_count_text,
    chapter_heading,
    contents_heading,
    is_chinese,
)

MIMETYPE = "application/epub+zip"
OPF_PATH = "OEBPS/content.opf"
# ZIP cannot express dates before 1980; any fixed value makes the bytes reproducible.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FALLBACK_MODIFIED = datetime(1980, 1, 1, tzinfo=UTC)
# Unix host and rw-r--r--, set explicitly because ZipInfo's defaults vary by platform.
_ZIP_CREATE_SYSTEM = 3
_ZIP_FILE_MODE = 0o100644 << 16

# Control characters (other than tab and newlines), lone surrogates and the two
# non-characters are not allowed anywhere in an XML 1.0 document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Stands in for a title that is blank once cleaned (the project file allows "   "):
# epubcheck rejects an empty dc:title, an empty <title> and a nav link without text.
_UNTITLED = {"en": "Untitled", "zh": "无题"}

_CONTAINER = """\
<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="{opf}" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""

_OPF = """\
<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="book-id" \
xml:lang="{lang}">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
{metadata}
  </metadata>
  <manifest>
{manifest}
  </manifest>
  <spine toc="ncx">
{spine}
  </spine>
</package>
"""

_NCX = """\
<?xml version="1.0" encoding="UTF-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1" xml:lang="{lang}">
  <head>
    <meta name="dtb:uid" content="{uid}"/>
    <meta name="dtb:depth" content="1"/>
    <meta name="dtb:totalPageCount" content="0"/>
    <meta name="dtb:maxPageNumber" content="0"/>
  </head>
  <docTitle><text>{title}</text></docTitle>
  <navMap>
{points}
  </navMap>
</ncx>
"""

_XHTML = """\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" \
xml:lang="{lang}" lang="{lang}">
<head>
  <meta charset="UTF-8"/>
  <title>{title}</title>
  <link rel="stylesheet" type="text/css" href="style.css"/>
</head>
<body>
{body}
</body>
</html>
"""

_STYLE = """\
body { margin: 0 5%; line-height: 1.5; }
h1 { text-align: center; margin: 2em 0 1em; }
p { margin: 0; text-indent: 2em; }
section.titlepage p { text-indent: 0; text-align: center; margin: 1em 0; }
nav ol { list-style: none; padding: 0; }
"""


def epub_bytes(book: Book) -> bytes:
    """The book as a complete EPUB file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # The OCF spec requires mimetype first and uncompressed, so readers can
        # sniff the format from a fixed offset.
        _add(archive, "mimetype", MIMETYPE, zipfile.ZIP_STORED)
        _add(archive, "META-INF/container.xml", _CONTAINER.format(opf=OPF_PATH))
        for name, content in _package_files(book):
            _add(archive, f"OEBPS/{name}", content)
    return buffer.getvalue()


def chapter_filename(chapter: BookChapter) -> str:
    """The chapter's file inside ``OEBPS``: ``chapter-007.xhtml``, ``chapter-1234.xhtml``."""
    return f"chapter-{chapter.number:03d}.xhtml"


def modified_timestamp(book: Book) -> str:
    """``dcterms:modified`` as EPUB 3 wants it: UTC, to the second, ``Z`` suffix."""
    moment = book.generated or FALLBACK_MODIFIED
    if moment.tzinfo is None:  # the Book contract says UTC; a naive value is taken as such
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _package_files(book: Book) -> list[tuple[str, str]]:
    """Every file under OEBPS, the package document first."""
    files = [
        ("content.opf", _opf(book)),
        ("nav.xhtml", _nav(book)),
        ("toc.ncx", _ncx(book)),
        ("style.css", _STYLE),
        ("title.xhtml", _title_page(book)),
    ]
    files.extend((chapter_filename(c), _chapter_page(c, book.language)) for c in book.chapters)
    return files


def _add(
    archive: zipfile.ZipFile,
    name: str,
    content: str,
    compression: int = zipfile.ZIP_DEFLATED,
) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = compression
    info.create_system = _ZIP_CREATE_SYSTEM
    info.external_attr = _ZIP_FILE_MODE
    archive.writestr(info, content.encode("utf-8"))


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as entities: what ``xml.sax.saxutils.escape`` does, without
    its import of ``urllib.request`` and ``http.client`` (about 15 ms of every run)."""
    return html_escape(text, quote=False)


def _clean(value: str) -> str:
    """Book text without the characters XML 1.0 cannot hold."""
    return _XML_INVALID.sub("", value)


def _text(value: str) -> str:
    """Book text made safe for XML character data."""
    return escape(_clean(value))


def _attr(value: str) -> str:
    """Book text made safe for a double-quoted XML attribute."""
    return escape(_clean(value)).replace('"', "&quot;")


def _title(book: Book) -> str:
    """The title the EPUB shows: never blank, which epubcheck would reject."""
    return _clean(book.title).strip() or _UNTITLED["zh" if is_chinese(book.language) else "en"]


def _uid(book: Book) -> str:
    return f"urn:orchestrator:{book.identifier}"


def _toc_entries(book: Book) -> list[tuple[str, str]]:
    """(label, href) for the title page and every chapter, in reading order.

    The title page leads so the nav's list and the NCX's navMap are never
    empty, which both formats forbid, even for a book without chapters.
    """
    entries = [(_title(book), "title.xhtml")]
    entries.extend((chapter_heading(c, book.language), chapter_filename(c)) for c in book.chapters)
    return entries


def _opf(book: Book) -> str:
    return _OPF.format(
        lang=_attr(book.language),
        metadata=_lines(_metadata(book), indent=4),
        manifest=_lines(_manifest(book), indent=4),
        spine=_lines(_spine(book), indent=4),
    )


def _metadata(book: Book) -> list[str]:
    lines = [
        f'<dc:identifier id="book-id">{_text(_uid(book))}</dc:identifier>',
        f"<dc:title>{_text(_title(book))}</dc:title>",
        f"<dc:language>{_text(book.language)}</dc:language>",
    ]
    # Optional elements are left out rather than written empty, which epubcheck rejects.
    if genre := _clean(book.genre).strip():
        lines.append(f"<dc:subject>{escape(genre)}</dc:subject>")
    if premise := _clean(book.premise).strip():
        lines.append(f"<dc:description>{escape(premise)}</dc:description>")
    lines.append(f'<meta property="dcterms:modified">{modified_timestamp(book)}</meta>')
    return lines


def _manifest(book: Book) -> list[str]:
    xhtml = "application/xhtml+xml"
    lines = [
        f'<item id="nav" href="nav.xhtml" media-type="{xhtml}" properties="nav"/>',
        '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>',
        '<item id="css" href="style.css" media-type="text/css"/>',
        f'<item id="title" href="title.xhtml" media-type="{xhtml}"/>',
    ]
    lines.extend(
        f'<item id="{_item_id(c)}" href="{chapter_filename(c)}" media-type="{xhtml}"/>'
        for c in book.chapters
    )
    return lines


def _spine(book: Book) -> list[str]:
    idrefs = ["title", *(_item_id(c) for c in book.chapters)]
    return [f'<itemref idref="{idref}"/>' for idref in idrefs]


def _item_id(chapter: BookChapter) -> str:
    # Ids must be XML names, so they may not start with a digit: reuse the file stem.
    return chapter_filename(chapter).removesuffix(".xhtml")


def _nav(book: Book) -> str:
    heading = contents_heading(book.language)
    items = [
        f'<li><a href="{_attr(href)}">{_text(label)}</a></li>' for label, href in _toc_entries(book)
    ]
    body = "\n".join(
        [
            '<nav epub:type="toc" id="toc">',
            f"  <h1>{_text(heading)}</h1>",
            "  <ol>",
            _lines(items, indent=4),
            "  </ol>",
            "</nav>",
        ]
    )
    return _XHTML.format(lang=_attr(book.language), title=_text(heading), body=body)


def _ncx(book: Book) -> str:
    points = [
        f'<navPoint id="navpoint-{order}" playOrder="{order}">'
        f"<navLabel><text>{_text(label)}</text></navLabel>"
        f'<content src="{_attr(href)}"/></navPoint>'
        for order, (label, href) in enumerate(_toc_entries(book), start=1)
    ]
    return _NCX.format(
        lang=_attr(book.language),
        uid=_attr(_uid(book)),
        title=_text(_title(book)),
        points=_lines(points, indent=4),
    )


def _title_page(book: Book) -> str:
    title = _title(book)
    lines = [f"<h1>{_text(title)}</h1>"]
    if genre := _clean(book.genre).strip():
        lines.append(f"<p><em>{escape(genre)}</em></p>")
    lines.extend(f"<p>{_text(p)}</p>" for p in paragraphs(book.premise))
    lines.append(f"<p>{_text(chapter_count_text(len(book.chapters), book.language))}</p>")
    body = _section('epub:type="titlepage" class="titlepage"', lines)
    return _XHTML.format(lang=_attr(book.language), title=_text(title), body=body)


def _chapter_page(chapter: BookChapter, language: str) -> str:
    heading = chapter_heading(chapter, language)
    lines = [f"<h1>{_text(heading)}</h1>"]
    lines.extend(f"<p>{_text(p)}</p>" for p in paragraphs(chapter.text))
    body = _section(f'epub:type="chapter" id="{_item_id(chapter)}"', lines)
    return _XHTML.format(lang=_attr(language), title=_text(heading), body=body)


def _section(attributes: str, lines: Iterable[str]) -> str:
    return "\n".join([f"<section {attributes}>", _lines(lines, indent=2), "</section>"])


def _lines(lines: Iterable[str], *, indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + line for line in lines)
