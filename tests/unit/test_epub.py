from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from orchestrator.artifacts.book import Book, BookChapter
from orchestrator.artifacts.epub import epub_bytes

NS = {
    "container": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xhtml": "http://www.w3.org/1999/xhtml",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
}
EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def make_book(language: str = "en", count: int = 3, **overrides: Any) -> Book:
    chapters = tuple(
        BookChapter(n, f"Title {n}", f"First of {n}.\n\nSecond of {n}.\n\nThird of {n}.")
        for n in range(1, count + 1)
    )
    base = Book(
        title="The Long Road",
        language=language,
        identifier="run-42",
        genre="Fantasy",
        premise="A courier crosses a kingdom.",
        chapters=chapters,
    )
    return replace(base, **overrides)


def open_epub(book: Book) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(epub_bytes(book)))


def parse(archive: zipfile.ZipFile, name: str) -> ET.Element:
    return ET.fromstring(archive.read(name))


def opf_path(archive: zipfile.ZipFile) -> str:
    rootfile = parse(archive, "META-INF/container.xml").find(".//container:rootfile", NS)
    assert rootfile is not None
    return rootfile.attrib["full-path"]


def manifest(archive: zipfile.ZipFile) -> dict[str, ET.Element]:
    package = parse(archive, opf_path(archive))
    return {item.attrib["id"]: item for item in package.iterfind(".//opf:manifest/opf:item", NS)}


def in_oebps(href: str) -> str:
    return posixpath.join("OEBPS", href)


def nav_links(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    nav = parse(archive, "OEBPS/nav.xhtml").find(".//xhtml:nav", NS)
    assert nav is not None
    assert nav.attrib[EPUB_TYPE] == "toc"
    return [("".join(a.itertext()), a.attrib["href"]) for a in nav.iterfind(".//xhtml:a", NS)]


def ncx_points(archive: zipfile.ZipFile) -> list[tuple[str, str, int]]:
    ncx = parse(archive, "OEBPS/toc.ncx")
    return [
        (
            point.findtext("ncx:navLabel/ncx:text", "", NS),
            point.find("ncx:content", NS).attrib["src"],  # type: ignore[union-attr]
            int(point.attrib["playOrder"]),
        )
        for point in ncx.iterfind(".//ncx:navPoint", NS)
    ]


def chapter_paragraphs(archive: zipfile.ZipFile, name: str) -> list[str]:
    page = parse(archive, name)
    return ["".join(p.itertext()) for p in page.iterfind(".//xhtml:p", NS)]


def test_mimetype_is_first_and_stored() -> None:
    data = epub_bytes(make_book())
    archive = zipfile.ZipFile(io.BytesIO(data))
    first = archive.infolist()[0]
    assert first.filename == "mimetype"
    assert first.compress_type == zipfile.ZIP_STORED
    assert first.extra == b""
    assert archive.read("mimetype") == b"application/epub+zip"
    # Readers sniff the type at a fixed offset of the raw file.
    assert data[30:38] == b"mimetype"
    assert data[38:58] == b"application/epub+zip"


def test_other_entries_are_deflated() -> None:
    archive = open_epub(make_book())
    rest = archive.infolist()[1:]
    assert rest
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in rest)


def test_container_points_to_the_package_document() -> None:
    archive = open_epub(make_book())
    assert opf_path(archive) == "OEBPS/content.opf"
    assert "OEBPS/content.opf" in archive.namelist()


def test_package_metadata() -> None:
    generated = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    archive = open_epub(make_book(generated=generated))
    package = parse(archive, "OEBPS/content.opf")
    assert package.attrib["version"] == "3.0"
    unique = package.attrib["unique-identifier"]
    identifier = package.find(f".//dc:identifier[@id='{unique}']", NS)
    assert identifier is not None
    assert identifier.text == "urn:orchestrator:run-42"
    assert package.findtext(".//dc:title", None, NS) == "The Long Road"
    assert package.findtext(".//dc:language", None, NS) == "en"
    modified = package.find(".//opf:meta[@property='dcterms:modified']", NS)
    assert modified is not None
    assert modified.text == "2024-05-06T07:08:09Z"


def test_modified_is_converted_to_utc_and_fixed_when_missing() -> None:
    east = timezone(timedelta(hours=8))
    archive = open_epub(make_book(generated=datetime(2024, 1, 1, 8, 0, tzinfo=east)))
    package = parse(archive, "OEBPS/content.opf")
    modified = package.find(".//opf:meta[@property='dcterms:modified']", NS)
    assert modified is not None
    assert modified.text == "2024-01-01T00:00:00Z"

    undated = parse(open_epub(make_book()), "OEBPS/content.opf")
    fallback = undated.find(".//opf:meta[@property='dcterms:modified']", NS)
    assert fallback is not None
    assert fallback.text == "1980-01-01T00:00:00Z"


def test_every_manifest_href_exists() -> None:
    archive = open_epub(make_book())
    names = set(archive.namelist())
    items = manifest(archive)
    assert all(in_oebps(item.attrib["href"]) in names for item in items.values())
    # ...and every file in OEBPS is declared, apart from the package document itself.
    declared = {in_oebps(item.attrib["href"]) for item in items.values()}
    assert {n for n in names if n.startswith("OEBPS/")} - declared == {"OEBPS/content.opf"}


def test_nav_and_ncx_are_declared() -> None:
    archive = open_epub(make_book())
    package = parse(archive, "OEBPS/content.opf")
    items = manifest(archive)
    nav = [item for item in items.values() if "nav" in item.attrib.get("properties", "").split()]
    assert [item.attrib["href"] for item in nav] == ["nav.xhtml"]
    spine = package.find(".//opf:spine", NS)
    assert spine is not None
    assert items[spine.attrib["toc"]].attrib["href"] == "toc.ncx"


def test_spine_is_title_page_then_chapters_in_order() -> None:
    chapters = tuple(BookChapter(n, f"T{n}", "x") for n in (5, 1, 3))
    archive = open_epub(make_book(chapters=chapters))
    items = manifest(archive)
    package = parse(archive, "OEBPS/content.opf")
    idrefs = [ref.attrib["idref"] for ref in package.iterfind(".//opf:spine/opf:itemref", NS)]
    assert all(idref in items for idref in idrefs)
    hrefs = [items[idref].attrib["href"] for idref in idrefs]
    assert hrefs == ["title.xhtml", "chapter-001.xhtml", "chapter-003.xhtml", "chapter-005.xhtml"]


def test_every_xhtml_file_is_well_formed_with_language() -> None:
    archive = open_epub(make_book())
    pages = [n for n in archive.namelist() if n.endswith(".xhtml")]
    assert len(pages) == 5  # nav, title page, three chapters
    for name in pages:
        root = parse(archive, name)
        assert root.attrib[XML_LANG] == "en"
        assert root.attrib["lang"] == "en"


def test_chapter_has_one_paragraph_per_paragraph() -> None:
    archive = open_epub(make_book())
    assert chapter_paragraphs(archive, "OEBPS/chapter-002.xhtml") == [
        "First of 2.",
        "Second of 2.",
        "Third of 2.",
    ]


def test_nav_lists_every_chapter_with_existing_files() -> None:
    archive = open_epub(make_book(count=4))
    links = nav_links(archive)
    names = set(archive.namelist())
    assert all(in_oebps(href) in names for _, href in links)
    chapter_links = [link for link in links if link[1].startswith("chapter-")]
    assert chapter_links == [
        (f"Chapter {n}: Title {n}", f"chapter-{n:03d}.xhtml") for n in range(1, 5)
    ]


def test_ncx_matches_nav() -> None:
    archive = open_epub(make_book(count=4))
    points = ncx_points(archive)
    assert [(label, src) for label, src, _ in points] == nav_links(archive)
    assert [order for _, _, order in points] == list(range(1, len(points) + 1))
    ncx = parse(archive, "OEBPS/toc.ncx")
    uid = ncx.find("ncx:head/ncx:meta[@name='dtb:uid']", NS)
    assert uid is not None
    assert uid.attrib["content"] == "urn:orchestrator:run-42"


def test_book_without_chapters_is_still_navigable() -> None:
    archive = open_epub(make_book(count=0))
    assert nav_links(archive) == [("The Long Road", "title.xhtml")]
    assert len(ncx_points(archive)) == 1


def test_special_characters_round_trip() -> None:
    title = 'Cats & <Dogs> "quoted"'
    prose = "Tom & Jerry <b>not bold</b> — 'apostrophe'\n\nA]]>B"
    chapters = (BookChapter(1, title, prose),)
    book = make_book(title="R&D <Notes>", identifier="a&b", chapters=chapters)
    archive = open_epub(book)
    package = parse(archive, "OEBPS/content.opf")
    assert package.findtext(".//dc:title", None, NS) == "R&D <Notes>"
    assert package.findtext(".//dc:identifier", None, NS) == "urn:orchestrator:a&b"
    assert chapter_paragraphs(archive, "OEBPS/chapter-001.xhtml") == [
        "Tom & Jerry <b>not bold</b> — 'apostrophe'",
        "A]]>B",
    ]
    assert nav_links(archive)[1][0] == f"Chapter 1: {title}"
    assert ncx_points(archive)[1][0] == f"Chapter 1: {title}"


def test_characters_xml_cannot_hold_are_dropped() -> None:
    chapters = (BookChapter(1, "Bell\x07", "Nul\x00 here\x1b."),)
    archive = open_epub(make_book(chapters=chapters))
    assert chapter_paragraphs(archive, "OEBPS/chapter-001.xhtml") == ["Nul here."]


def test_chinese_book() -> None:
    chapters = (BookChapter(1, "出发", "他走了。\n\n天黑了。"),)
    archive = open_epub(make_book("zh", title="长路", chapters=chapters))
    package = parse(archive, "OEBPS/content.opf")
    assert package.findtext(".//dc:language", None, NS) == "zh"
    assert package.attrib[XML_LANG] == "zh"
    page = parse(archive, "OEBPS/chapter-001.xhtml")
    assert page.attrib[XML_LANG] == "zh"
    assert page.attrib["lang"] == "zh"
    assert page.findtext(".//xhtml:h1", None, NS) == "第1章 出发"
    assert chapter_paragraphs(archive, "OEBPS/chapter-001.xhtml") == ["他走了。", "天黑了。"]
    assert nav_links(archive)[1] == ("第1章 出发", "chapter-001.xhtml")
    assert parse(archive, "OEBPS/toc.ncx").attrib[XML_LANG] == "zh"


def test_same_book_gives_same_bytes() -> None:
    generated = datetime(2024, 5, 6, tzinfo=UTC)
    assert epub_bytes(make_book(generated=generated)) == epub_bytes(make_book(generated=generated))


def test_entries_have_fixed_timestamps() -> None:
    archive = open_epub(make_book())
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize(
    ("number", "filename"), [(7, "chapter-007.xhtml"), (999, "chapter-999.xhtml")]
)
def test_chapter_file_names_are_zero_padded(number: int, filename: str) -> None:
    archive = open_epub(make_book(chapters=(BookChapter(number, "T", "x"),)))
    assert f"OEBPS/{filename}" in archive.namelist()


def test_more_than_999_chapters_get_longer_names_in_order() -> None:
    chapters = tuple(BookChapter(n, f"T{n}", "x") for n in range(1, 1002))
    archive = open_epub(make_book(chapters=chapters))
    names = set(archive.namelist())
    assert {
        "OEBPS/chapter-999.xhtml",
        "OEBPS/chapter-1000.xhtml",
        "OEBPS/chapter-1001.xhtml",
    } <= names
    items = manifest(archive)
    assert len(items) == len(set(items)) == 1001 + 4
    package = parse(archive, "OEBPS/content.opf")
    idrefs = [ref.attrib["idref"] for ref in package.iterfind(".//opf:spine/opf:itemref", NS)]
    assert [items[i].attrib["href"] for i in idrefs[-3:]] == [
        "chapter-999.xhtml",
        "chapter-1000.xhtml",
        "chapter-1001.xhtml",
    ]


@pytest.mark.parametrize(
    ("language", "title", "shown"),
    [("en", "   ", "Untitled"), ("zh", "\x07", "无题"), ("en", " Kept \x00", "Kept")],
)
def test_blank_title_gets_a_stand_in(language: str, title: str, shown: str) -> None:
    # epubcheck rejects an empty dc:title, an empty <title> and a nav link without text.
    archive = open_epub(make_book(language, title=title))
    package = parse(archive, "OEBPS/content.opf")
    assert package.findtext(".//dc:title", None, NS) == shown
    assert nav_links(archive)[0] == (shown, "title.xhtml")
    assert ncx_points(archive)[0][0] == shown
    assert parse(archive, "OEBPS/toc.ncx").findtext("ncx:docTitle/ncx:text", None, NS) == shown
    page = parse(archive, "OEBPS/title.xhtml")
    assert page.findtext(".//xhtml:title", None, NS) == shown
    assert page.findtext(".//xhtml:h1", None, NS) == shown


def test_metadata_that_cleans_to_nothing_is_left_out() -> None:
    archive = open_epub(make_book(genre=" \x07 ", premise="\x1b"))
    package = parse(archive, "OEBPS/content.opf")
    assert package.find(".//dc:subject", NS) is None
    assert package.find(".//dc:description", NS) is None
    assert parse(archive, "OEBPS/title.xhtml").find(".//xhtml:em", NS) is None
