"""What a file is, from its bytes; names cleaned; uploads refused with a reason."""
import base64
import io
import zipfile

import pytest

from services.claim_documents import (DOCX, JPEG, MAX_BYTES, PDF, PNG, TEXT, XLSX, DocumentError, check_file,
                                      clean_filename, detect, from_data_url)

PDF_BYTES = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"\x00" * 40


def office(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.writestr(n, "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize("data, expected", [
    (PDF_BYTES, PDF), (PNG_BYTES, PNG), (JPEG_BYTES, JPEG),
    (office("[Content_Types].xml", "word/document.xml"), DOCX),
    (office("[Content_Types].xml", "xl/workbook.xml"), XLSX),
    ("Dear adjuster,\nthe estimate is attached. — Ünal".encode(), TEXT),
])
def test_detects_what_the_bytes_are(data, expected):
    assert detect(data) is expected


@pytest.mark.parametrize("data", [
    b"MZ\x90\x00\x03" + b"\x00" * 60,                                     # a Windows program
    office("[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"),  # a macro document
    office("readme.txt"),                                                  # a plain zip
    b"\xff\xfe\x00\x00binary",                                             # not UTF-8 text
])
def test_refuses_what_it_does_not_keep(data):
    assert detect(data) is None


def test_names_lose_paths_and_control_characters_and_keep_their_extension():
    assert clean_filename("C:\\Users\\me\\Desktop\\estimate.pdf") == "estimate.pdf"
    assert clean_filename("../../etc/passwd.txt") == "passwd.txt"
    assert clean_filename("bad\u202ename\x07.pdf") == "badname.pdf"
    long = clean_filename("x" * 300 + ".jpeg")
    assert len(long) == 200 and long.endswith(".jpeg")
    with pytest.raises(DocumentError):
        clean_filename(" . ")
    with pytest.raises(DocumentError):
        clean_filename(None)


def test_a_name_that_says_another_type_is_refused_with_what_the_file_is():
    with pytest.raises(DocumentError, match=r"“photo.pdf” is a PNG image, but its name ends in .pdf"):
        check_file("photo.pdf", PNG_BYTES)
    with pytest.raises(DocumentError, match="no extension"):
        check_file("estimate", PDF_BYTES)
    assert check_file("Estimate.PDF", PDF_BYTES).type is PDF  # case does not matter


def test_empty_and_oversized_files_are_refused():
    with pytest.raises(DocumentError, match="empty"):
        check_file("a.pdf", b"")
    with pytest.raises(DocumentError, match="at most 10 MB"):
        check_file("a.pdf", PDF_BYTES + b"0" * MAX_BYTES)


def test_data_urls_are_decoded_strictly():
    assert from_data_url("data:application/pdf;base64," + base64.b64encode(PDF_BYTES).decode()) == PDF_BYTES
    # The browser's type is not trusted, only the bytes.
    assert from_data_url("data:text/html;base64," + base64.b64encode(PNG_BYTES).decode()) == PNG_BYTES
    for bad in ("not a data url", "data:application/pdf;base64,@@@@", None, 42):
        with pytest.raises(DocumentError):
            from_data_url(bad)


def test_a_zip_of_a_huge_directory_is_refused_before_zipfile_parses_it():
    """zipfile makes an object per directory entry before listing names: 10 MB of entries took
    seconds of CPU and ~80 MB per file. A real Word file of many parts still passes."""
    import time

    many = office("[Content_Types].xml", "word/document.xml", *(str(i) for i in range(40_000)))
    assert len(many) < MAX_BYTES
    started = time.perf_counter()
    assert detect(many) is None
    assert time.perf_counter() - started < 0.05  # refused from the end record, unparsed
    with pytest.raises(DocumentError, match="not a kind of file"):
        check_file("report.docx", many)
    parts = office("[Content_Types].xml", "word/document.xml", *(f"word/media/image{i}.png" for i in range(1500)))
    assert detect(parts) is DOCX
    # With a ZIP64 end record (some writers always add one) zipfile reads the directory's size
    # there: that one counts, and a locator without its record is refused, as is a cut-off end.
    assert detect(zip64(office("[Content_Types].xml", "word/document.xml"))) is DOCX
    assert detect(zip64(many)) is None
    lying = zip64(many)  # the classic end record claims a small directory; zipfile believes the ZIP64 one
    end = lying.rfind(b"PK\x05\x06")
    lying = lying[:end + 12] + (100).to_bytes(4, "little") + lying[end + 16:]
    assert detect(lying) is None
    docx = office("[Content_Types].xml", "word/document.xml")
    end = docx.rfind(b"PK\x05\x06")
    assert detect(docx[:end] + b"PK\x06\x07" + b"\x00" * 16 + docx[end:]) is None
    assert detect(docx[:-10]) is None


def zip64(data: bytes) -> bytes:
    """The same ZIP with a ZIP64 end record and locator before its end record, as zipfile reads them."""
    import struct

    end = data.rfind(b"PK\x05\x06")
    entries, size, offset = struct.unpack_from("<HII", data, end + 10)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    return data[:end] + record + locator + data[end:]
