"""The streaming inventory parser: encodings, delimiters, headers, workbooks, JSON, and
every kind of broken upload a user can produce (each refused with a plain sentence)."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import random
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import psutil
import pytest
from defusedxml import EntitiesForbidden

from portal.discovery.parsing import (
    InventoryFileError,
    InventoryTooLargeError,
    ParsedFile,
    ParseLimits,
    SourceRow,
    open_inventory,
)

SAMPLES = Path(__file__).parent / "samples"
ACCENTED = [("srv-é1", "José Müller", "Zürich"), ("srv-ü2", "Renée Brontë", "Besançon")]


def write(tmp_path: Path, data: bytes | str) -> Path:
    """The upload as stored: a server-chosen file name, never the user's."""
    path = tmp_path / f"upload-{len(list(tmp_path.iterdir()))}.bin"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def parse(tmp_path: Path, name: str, data: bytes | str, **limits) -> ParsedFile:
    return open_inventory(write(tmp_path, data), name, ParseLimits(**limits))


def refusal(tmp_path: Path, name: str, data: bytes | str, **limits) -> str:
    with pytest.raises(InventoryFileError) as caught:
        parse(tmp_path, name, data, **limits)
    return str(caught.value)


def values(parsed: ParsedFile) -> list[tuple[str | None, ...]]:
    return [row.values for row in parsed.rows()]


def accented_csv(extra_header: str = "", extra_value: str = "") -> str:
    lines = [f"Name,Owner,Location{extra_header}"]
    lines += [",".join(row) + extra_value for row in ACCENTED]
    return "\r\n".join(lines) + "\r\n"


# --- encodings ------------------------------------------------------------------------

@pytest.mark.parametrize(("encode", "detected"), [
    (lambda text: text.encode("utf-8"), "utf-8"),
    (lambda text: codecs.BOM_UTF8 + text.encode("utf-8"), "utf-8-sig"),
    (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "utf-16"),
    (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "utf-16"),
    (lambda text: text.encode("utf-16-le"), "utf-16-le"),
    (lambda text: text.encode("cp1252"), "cp1252"),
    (lambda text: text.encode("latin-1"), "cp1252"),
], ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-16-le-no-bom",
        "cp1252", "latin-1"])
def test_each_encoding_round_trips_accented_names(tmp_path, encode, detected):
    parsed = parse(tmp_path, "servers.csv", encode(accented_csv()))
    assert parsed.encoding == detected
    assert parsed.columns == ["Name", "Owner", "Location"]
    assert values(parsed) == ACCENTED


def test_cp1252_euro_sign_and_bytes_undefined_in_cp1252_are_kept(tmp_path):
    data = "Name,Cost,Note\nweb,12 €,ok\n".encode("cp1252") + b"db,3 \x80,x\x81y\n"
    parsed = parse(tmp_path, "costs.csv", data)
    assert parsed.encoding == "cp1252"
    assert values(parsed) == [("web", "12 €", "ok"), ("db", "3 €", "x\x81y")]


def test_windows_1252_bytes_past_the_detection_sample_do_not_break_a_utf8_file(tmp_path):
    body = "".join(f"srv{i:05d},Paris\n" for i in range(6000))  # > 64 KB of ASCII
    data = ("Name,City\n" + body).encode("utf-8") + "late,Zürich\n".encode("cp1252")
    parsed = parse(tmp_path, "late.csv", data)
    assert parsed.encoding == "utf-8"
    assert list(parsed.rows())[-1] == SourceRow(6002, ("late", "Zürich"))


# --- delimiters, header, quoting ------------------------------------------------------

@pytest.mark.parametrize(("delimiter", "file_type"),
                         [(",", "csv"), (";", "csv"), ("\t", "tsv"), ("|", "csv")])
def test_delimiter_is_sniffed(tmp_path, delimiter, file_type):
    rows = [["Name", "IP", "Note"], ["web", "10.0.0.1", "a, b; c|d"], ["db", "10.0.0.2", ""]]
    text = "\n".join(delimiter.join(f'"{cell}"' if cell.count(delimiter) else cell
                                    for cell in row) for row in rows) + "\n"
    parsed = parse(tmp_path, "servers.txt", text)
    assert (parsed.delimiter, parsed.file_type) == (delimiter, file_type)
    assert values(parsed) == [("web", "10.0.0.1", "a, b; c|d"), ("db", "10.0.0.2", None)]


def test_semicolon_file_with_decimal_commas_is_split_on_semicolons(tmp_path):
    parsed = parse(tmp_path, "eu.csv", "Name;CPU %;RAM GB\nweb;12,5;8\ndb;3,25;16,5\n")
    assert parsed.delimiter == ";"
    assert values(parsed) == [("web", "12,5", "8"), ("db", "3,25", "16,5")]


def test_tsv_extension_prefers_tab_when_commas_split_as_well(tmp_path):
    text = "Name\tLocation, City\nweb\tParis, FR\n"
    assert parse(tmp_path, "servers.tsv", text).delimiter == "\t"
    assert parse(tmp_path, "servers.csv", text).delimiter == ","


def test_single_column_file_is_one_column(tmp_path):
    parsed = parse(tmp_path, "names.csv", "Hostname\nweb-01\ndb-01\n")
    assert parsed.columns == ["Hostname"]
    assert values(parsed) == [("web-01",), ("db-01",)]


def test_preamble_lines_before_the_header_are_skipped(tmp_path):
    parsed = open_inventory(SAMPLES / "export_with_preamble.csv", "export_with_preamble.csv")
    assert parsed.header_row == 4
    assert parsed.columns == ["Name", "IP Address", "Operating System", "CPU Cores",
                              "RAM (MB)", "Owner"]
    rows = list(parsed.rows())
    assert [row.number for row in rows] == [6, 7, 9]  # lines where the records start
    assert rows[1].values == ("db-01", "10.0.1.21", "Red Hat Enterprise Linux 8\n(Ootpa)",
                              "16", "65536", "Smith, John")
    assert rows[2].values[-1] is None
    assert all(row.problem is None for row in rows)


def test_spreadsheet_style_preamble_padded_with_delimiters_is_skipped(tmp_path):
    text = "Server report,,,\n,,,\nGroup: all,,,\nName,IP,OS,Owner\nweb,10.0.0.1,Linux,ops\n"
    parsed = parse(tmp_path, "report.csv", text)
    assert (parsed.header_row, parsed.columns) == (4, ["Name", "IP", "OS", "Owner"])
    assert [row.number for row in parsed.rows()] == [5]


def test_quoted_fields_keep_delimiters_quotes_and_newlines(tmp_path):
    text = ('Name,Description,Owner\n'
            '"web, front","line one\nline two ""quoted""",ops\n'
            'db,plain,dba\n')
    parsed = parse(tmp_path, "quoted.csv", text)
    assert list(parsed.rows()) == [
        SourceRow(2, ("web, front", 'line one\nline two "quoted"', "ops")),
        SourceRow(4, ("db", "plain", "dba")),
    ]


def test_ragged_rows_are_padded_or_cut_and_flagged_not_dropped(tmp_path):
    text = ("Name,IP,OS\n"
            "short,10.0.0.1\n"
            "long,10.0.0.2,Linux,extra\n"
            "trailing,10.0.0.3,Linux,,\n"  # empty cells past the header: not a problem
            ",,\n"                         # an empty row: skipped
            "   \n"
            "ok,10.0.0.4,Linux\n")
    rows = list(parse(tmp_path, "ragged.csv", text).rows())
    assert rows == [
        SourceRow(2, ("short", "10.0.0.1", None), "row has 2 values but the header has 3"),
        SourceRow(3, ("long", "10.0.0.2", "Linux"), "row has 4 values but the header has 3"),
        SourceRow(4, ("trailing", "10.0.0.3", "Linux")),
        SourceRow(7, ("ok", "10.0.0.4", "Linux")),
    ]


def test_trailing_delimiters_on_the_header_or_the_rows_are_not_columns(tmp_path):
    parsed = parse(tmp_path, "trailing.csv", "Name,IP,\nweb,10.0.0.1\ndb,10.0.0.2,,\n")
    assert parsed.columns == ["Name", "IP"]
    assert list(parsed.rows()) == [SourceRow(2, ("web", "10.0.0.1")),
                                   SourceRow(3, ("db", "10.0.0.2"))]


def test_values_are_stripped_and_blank_values_are_none(tmp_path):
    parsed = parse(tmp_path, "spaces.csv", "Name, IP ,Note\n  web  ,\t10.0.0.1 ,   \n")
    assert parsed.columns == ["Name", "IP", "Note"]
    assert values(parsed) == [("web", "10.0.0.1", None)]


def test_duplicate_and_blank_headers_are_renamed(tmp_path):
    text = 'Name,,Name,"IP\n Address",Name,Column 2\na,b,c,d,e,f\n'
    assert parse(tmp_path, "dupes.csv", text).columns == [
        "Name", "Column 2", "Name (2)", "IP Address", "Name (3)", "Column 2 (2)"]


def test_header_only_file_has_columns_and_no_rows(tmp_path):
    parsed = parse(tmp_path, "header.csv", "Name,IP,OS\n")
    assert parsed.columns == ["Name", "IP", "OS"]
    assert list(parsed.rows()) == [] and parsed.sample() == []


def test_rows_can_be_iterated_twice_with_the_same_result(tmp_path):
    parsed = parse(tmp_path, "twice.csv", accented_csv())
    first = list(parsed.rows())
    assert list(parsed.rows()) == first and len(first) == 2
    assert parsed.sample(1) == first[:1]
    still_open = [f.path for f in psutil.Process().open_files() if str(tmp_path) in f.path]
    assert still_open == []  # sample() closed the file it stopped reading


# --- broken text files ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["empty.csv", "empty.xlsx", "empty.json", "empty.tsv"])
def test_empty_file_is_refused(tmp_path, name):
    assert refusal(tmp_path, name, b"") == "The file is empty."


def test_file_with_only_a_byte_order_mark_is_empty(tmp_path):
    assert refusal(tmp_path, "bom.csv", codecs.BOM_UTF8) == "The file is empty."


def test_file_with_only_blank_lines_has_no_header(tmp_path):
    assert refusal(tmp_path, "blank.csv", "\r\n\n   \n\t\n") == (
        "No header row was found: the file contains only blank lines.")


def test_binary_junk_renamed_csv_is_refused(tmp_path):
    junk = b"\x89PNG\r\n\x1a\n" + random.Random(4).randbytes(4000)
    assert refusal(tmp_path, "servers.csv", junk) == (
        "The file does not look like a text file (it contains binary data); "
        "upload a CSV, TSV, TXT, XLSX or JSON export.")


def test_control_characters_without_nul_are_binary_too(tmp_path):
    junk = bytes(range(1, 32)) * 50
    assert "does not look like a text file" in refusal(tmp_path, "servers.csv", junk)


def test_unbalanced_quote_in_a_small_file_is_refused_with_its_line(tmp_path):
    text = 'Name,IP\nweb,10.0.0.1\ndb,"10.0.0.2\napp,10.0.0.3\n'
    assert refusal(tmp_path, "quote.csv", text) == (
        'The file has an unbalanced quote (") starting on line 3: everything after it would '
        "be read as one value; fix the quote and upload the file again.")


@pytest.mark.parametrize("rows_after", [50, 5000], ids=["runs-to-the-end", "overflows-a-cell"])
def test_unbalanced_quote_past_the_sample_stops_rows_with_its_line(tmp_path, rows_after):
    before = "".join(f"srv{i:05d},10.0.{i % 250}.1\n" for i in range(4000))  # > 64 KB
    after = "".join(f"late{i},10.1.0.{i % 250}\n" for i in range(rows_after))
    parsed = parse(tmp_path, "late-quote.csv", "Name,IP\n" + before + 'bad,"10.9.9.9\n' + after)
    assert parsed.sample(2)[0].values == ("srv00000", "10.0.0.1")
    with pytest.raises(InventoryFileError, match="unbalanced quote .* starting on line 4002:"):
        list(parsed.rows())


def test_value_longer_than_a_cell_may_hold_is_refused(tmp_path):
    text = "Name,Note\nweb," + "x" * 200 + "\n"
    assert refusal(tmp_path, "long.csv", text, max_cell_chars=100) == (
        "A value on line 2 is longer than 100 characters, the most one cell may hold.")


def test_text_without_line_breaks_is_not_read_into_memory(tmp_path):
    text = "Name,IP\n" + "a," * 5000
    assert refusal(tmp_path, "oneline.csv", text, max_line_chars=1000) == (
        "Line 2 is longer than 1,000 characters; the file does not look like a table export.")


def test_text_whose_first_line_exceeds_the_detection_sample_is_refused(tmp_path):
    assert refusal(tmp_path, "wide.csv", "a," * 40_000 + "\n") == (
        "The first line of the file is longer than 64 KB; the file does not look like a "
        "table export.")


def test_too_many_columns_are_refused(tmp_path):
    text = ",".join(f"c{i}" for i in range(12)) + "\n"
    assert refusal(tmp_path, "wide.csv", text, max_columns=10) == (
        "The file has 12 columns; at most 10 are supported.")


def test_file_over_the_size_limit_is_refused_as_too_large(tmp_path):
    with pytest.raises(InventoryTooLargeError) as caught:
        parse(tmp_path, "big.csv", "Name\n" + "x\n" * 3000, max_bytes=4096)
    assert str(caught.value) == "The file is 5.9 KB, more than the 4 KB limit for one upload."


# --- file names and content that disagree ---------------------------------------------

@pytest.mark.parametrize(("name", "message"), [
    ("servers.xls", "Old Excel .xls files are not accepted; save the workbook as .xlsx or "
                    "CSV and upload it again."),
    ("servers.pdf", "Files of type .pdf are not accepted; upload a CSV, TSV, TXT, XLSX or "
                    "JSON file."),
    ("servers", "The file name has no extension; upload a CSV, TSV, TXT, XLSX or JSON file."),
])
def test_unaccepted_file_names_are_refused(tmp_path, name, message):
    assert refusal(tmp_path, name, "Name\nweb\n") == message


def test_only_the_extension_of_the_original_name_is_used(tmp_path):
    name = "C:\\Users\\jane\\..\\..\\etc\\passwd.CSV"
    assert parse(tmp_path, name, "Name\nweb\n").columns == ["Name"]


def test_xlsx_name_with_csv_content_is_refused(tmp_path):
    assert refusal(tmp_path, "servers.xlsx", "Name,IP\nweb,10.0.0.1\n") == (
        "The file is not a valid XLSX workbook (it contains plain text).")


def test_xlsx_name_with_json_content_is_refused(tmp_path):
    assert refusal(tmp_path, "servers.xlsx", '[{"name": "web"}]') == (
        "The file is not a valid XLSX workbook (it contains JSON text).")


def test_csv_name_with_workbook_content_is_refused(tmp_path):
    workbook = make_workbook(tmp_path, [["Name"], ["web"]])
    assert refusal(tmp_path, "servers.csv", workbook.read_bytes()) == (
        "The file is named .csv but contains a ZIP archive such as an Excel workbook, not "
        "text; upload the workbook as .xlsx or export it as CSV.")


def test_csv_name_with_json_content_is_refused(tmp_path):
    assert refusal(tmp_path, "servers.csv", '[{"name": "web"}]') == (
        "The file is named .csv but contains JSON; rename it to .json and upload it again.")


def test_csv_whose_first_header_is_bracketed_is_not_mistaken_for_json(tmp_path):
    assert parse(tmp_path, "servers.csv", "[Name],[IP]\nweb,10.0.0.1\n").columns == [
        "[Name]", "[IP]"]


def test_json_name_with_csv_content_is_refused(tmp_path):
    assert refusal(tmp_path, "servers.json", "Name,IP\nweb,10.0.0.1\n") == (
        "The file is named .json but does not contain a JSON list of records "
        "(it looks like CSV or plain text).")


def test_old_or_password_protected_excel_file_is_refused(tmp_path):
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000)
    assert refusal(tmp_path, "servers.xlsx", ole2) == (
        "The file is an Excel 97-2003 (.xls) or password-protected workbook; save it as "
        ".xlsx without a password, or as CSV, and upload it again.")


# --- XLSX -----------------------------------------------------------------------------

def make_workbook(tmp_path: Path, *sheets: list[list[object]], titles: list[str] | None = None,
                  name: str = "book.xlsx") -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for index, rows in enumerate(sheets):
        sheet = workbook.create_sheet(titles[index] if titles else f"Sheet{index + 1}")
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    workbook.save(path)
    return path


def test_openpyxl_reads_xml_through_defusedxml():
    from openpyxl.xml import functions

    assert openpyxl.DEFUSEDXML is True
    assert functions.iterparse.__module__.startswith("defusedxml")


def test_workbook_with_preamble_and_typed_cells(tmp_path):
    path = make_workbook(tmp_path, [], [
        ["Server inventory"],
        [],
        ["Name", "Cores", "RAM GB", "Load", "Active", "Created", "Patched", "", "Name",
         "Since"],
        ["  web-01 ", 4, 8.0, 0.1 + 0.2, True, dt.datetime(2024, 3, 5),
         dt.datetime(2024, 3, 5, 14, 30, 15), "x", "dup", dt.date(2020, 1, 2)],
        [None, None, None, None, None, None, None, None, None, None],
        ["db-01", 16, 12.75, 1e-7, False, None, None, "   ", None, None],
    ], titles=["Notes", "Servers"])
    parsed = open_inventory(path, "book.xlsx")
    assert (parsed.file_type, parsed.sheet, parsed.header_row) == ("xlsx", "Servers", 3)
    assert (parsed.encoding, parsed.delimiter) == (None, None)
    assert parsed.columns == ["Name", "Cores", "RAM GB", "Load", "Active", "Created",
                              "Patched", "Column 8", "Name (2)", "Since"]
    assert list(parsed.rows()) == [
        SourceRow(4, ("web-01", "4", "8", "0.3", "true", "2024-03-05", "2024-03-05T14:30:15",
                      "x", "dup", "2020-01-02")),
        SourceRow(6, ("db-01", "16", "12.75", "1e-07", "false", None, None, None, None, None)),
    ]


def test_workbook_prefers_the_rvtools_vinfo_sheet(tmp_path):
    path = make_workbook(tmp_path, [["Host"], ["esx1"]], [["VM", "Powerstate"], ["vm1", "on"]],
                         titles=["vHost", "vInfo"])
    parsed = open_inventory(path, "rvtools.xlsx")
    assert parsed.sheet == "vInfo"
    assert values(parsed) == [("vm1", "on")]


def test_workbook_extra_cells_past_the_header_are_flagged(tmp_path):
    path = make_workbook(tmp_path, [["Name", "IP"], ["web"], ["db", "10.0.0.2", "stray"]])
    assert list(open_inventory(path, "book.xlsx").rows()) == [
        SourceRow(2, ("web", None)),  # empty trailing cells are simply not stored
        SourceRow(3, ("db", "10.0.0.2"), "row has 3 values but the header has 2"),
    ]


def test_workbook_whose_sheets_are_all_empty_is_refused(tmp_path):
    path = make_workbook(tmp_path, [], [[None, None]])
    with pytest.raises(InventoryFileError, match="^The workbook contains no data: every sheet "
                                                 "is empty.$"):
        open_inventory(path, "book.xlsx")


def test_workbook_rows_twice_and_files_closed_after_partial_reads(tmp_path):
    path = make_workbook(tmp_path, [["Name"]] + [[f"vm{i}"] for i in range(30)])
    parsed = open_inventory(path, "book.xlsx")
    assert list(parsed.rows()) == list(parsed.rows())
    assert [row.values for row in parsed.sample(2)] == [("vm0",), ("vm1",)]
    rows = parsed.rows()
    next(rows)
    rows.close()
    assert str(path) not in {item.path for item in psutil.Process().open_files()}


def stream_zip(path: Path, members: dict[str, bytes], bomb: str | None = None,
               bomb_mb: int = 0) -> Path:
    """A ZIP with small members plus one of `bomb_mb` MB of zeros, written in chunks."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if bomb:
            with archive.open(bomb, "w", force_zip64=True) as member:
                chunk = bytes(1024 * 1024)
                for _ in range(bomb_mb):
                    member.write(chunk)
    return path


WORKBOOK_PARTS = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}


@pytest.fixture
def openpyxl_must_not_load(monkeypatch):
    def refuse(*args, **kwargs):
        pytest.fail("openpyxl.load_workbook was called for a file that should be refused")
    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


def test_zip_bomb_renamed_xlsx_is_refused_before_openpyxl(tmp_path, openpyxl_must_not_load):
    bomb = stream_zip(tmp_path / "bomb.bin", WORKBOOK_PARTS, "xl/worksheets/sheet1.xml", 20)
    assert bomb.stat().st_size < 100 * 1024
    with pytest.raises(InventoryTooLargeError) as caught:
        open_inventory(bomb, "inventory.xlsx")
    assert str(caught.value) == (
        "The workbook expands to more than 100 times its compressed size when unpacked "
        "(possible zip bomb), so it was not opened.")


def test_workbook_expanding_past_the_size_limit_is_refused(tmp_path, openpyxl_must_not_load):
    bomb = stream_zip(tmp_path / "big.bin", WORKBOOK_PARTS, "xl/worksheets/sheet1.xml", 3)
    with pytest.raises(InventoryTooLargeError) as caught:
        open_inventory(bomb, "inventory.xlsx", ParseLimits(max_uncompressed_bytes=2 * 1024 * 1024,
                                                           max_compression_ratio=1e9))
    assert str(caught.value) == ("The workbook expands to more than 2 MB when unpacked "
                                 "(possible zip bomb), so it was not opened.")


@pytest.mark.parametrize(("members", "found"), [
    ({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}, "a Word document"),
    ({"notes.txt": b"hello", "data.csv": b"a,b"}, "a ZIP archive of other files"),
])
def test_zip_that_is_not_a_workbook_is_refused(tmp_path, openpyxl_must_not_load, members, found):
    path = stream_zip(tmp_path / "other.bin", members)
    with pytest.raises(InventoryFileError) as caught:
        open_inventory(path, "inventory.xlsx")
    assert str(caught.value) == f"The file is not an XLSX workbook (it is {found})."


def test_damaged_zip_is_refused(tmp_path, openpyxl_must_not_load):
    assert refusal(tmp_path, "inventory.xlsx", b"PK\x03\x04" + bytes(300)) == (
        "The file is not a valid XLSX workbook (its ZIP structure is damaged).")


def test_workbook_with_an_xml_entity_bomb_is_refused(tmp_path):
    source = make_workbook(tmp_path, [["Name"], ["web"]])
    hostile = tmp_path / "hostile.bin"
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(hostile, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = laughs + data.replace(b"<t>web</t>", b"<t>&lol2;</t>")
            copy.writestr(item, data)
    with pytest.raises(InventoryFileError) as caught:
        open_inventory(hostile, "inventory.xlsx")
    assert str(caught.value) == ("The workbook could not be opened; it may be damaged or not "
                                 "really an Excel workbook.")
    with hostile.open("rb") as handle, pytest.raises(ValueError) as direct:
        openpyxl.load_workbook(handle, read_only=True)  # it is defusedxml that stops it
    assert isinstance(direct.value.__cause__, EntitiesForbidden)


def test_sheet_damaged_past_the_first_rows_stops_rows_with_a_sentence(tmp_path):
    source = make_workbook(tmp_path, [["Name"]] + [[f"vm{i:04d}"] for i in range(1500)])
    damaged = tmp_path / "damaged.bin"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(damaged, "w") as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: data.index(b"vm1200")] + b"<<broken"
            copy.writestr(item, data)
    parsed = open_inventory(damaged, "inventory.xlsx")
    assert parsed.sample(1)[0].values == ("vm0000",)
    with pytest.raises(InventoryFileError) as caught:
        list(parsed.rows())
    assert str(caught.value) == ('The sheet "Sheet1" is damaged somewhere after row 1,000 and '
                                 "could not be read to the end.")


def test_truncated_workbook_is_refused(tmp_path):
    data = make_workbook(tmp_path, [["Name"], ["web"]]).read_bytes()
    assert "not a valid XLSX workbook" in refusal(tmp_path, "cut.xlsx", data[: len(data) // 2])


# --- JSON -----------------------------------------------------------------------------

RECORDS = [{"name": "web", "ip": "10.0.0.1", "cores": 4, "ram_gb": 7.5, "active": True},
           {"name": "db", "ip": None, "cores": 16, "tags": ["a", "b"], "active": False}]


def test_json_array_of_objects(tmp_path):
    parsed = parse(tmp_path, "servers.json", json.dumps(RECORDS))
    assert (parsed.file_type, parsed.encoding, parsed.header_row) == ("json", "utf-8", 0)
    assert parsed.columns == ["name", "ip", "cores", "ram_gb", "active", "tags"]
    assert list(parsed.rows()) == [
        SourceRow(1, ("web", "10.0.0.1", "4", "7.5", "true", None)),
        SourceRow(2, ("db", None, "16", None, "false", '["a","b"]')),
    ]
    assert list(parsed.rows()) == list(parsed.rows())


@pytest.mark.parametrize("wrapper", ["data", "items", "records", "rows", "result", "value"])
def test_json_records_wrapped_in_an_object(tmp_path, wrapper):
    document = {"count": 2, "meta": {"data": [1]}, wrapper: RECORDS}
    parsed = parse(tmp_path, "export.json", json.dumps(document))
    assert [row.values[0] for row in parsed.rows()] == ["web", "db"]


def test_json_in_utf16_with_bom(tmp_path):
    data = codecs.BOM_UTF16_LE + json.dumps([{"Owner": "José Müller"}],
                                            ensure_ascii=False).encode("utf-16-le")
    parsed = parse(tmp_path, "owners.json", data)
    assert parsed.encoding == "utf-16"
    assert values(parsed) == [("José Müller",)]


def test_json_fields_first_seen_late_are_reported_once(tmp_path):
    records = [{"name": f"srv{i}"} for i in range(1000)]
    records += [{"name": "late", "rack": "R1"}, {"name": "later", "rack": "R2"}, {},
                {"x": None, "y": 1}]
    rows = list(parse(tmp_path, "late.json", json.dumps(records)).rows())
    assert rows[1000:] == [
        SourceRow(1001, ("late",), "unexpected field 'rack' ignored"),
        SourceRow(1002, ("later",)),
        # the empty record 1003 is skipped like a blank line
        SourceRow(1004, (None,), "unexpected fields 'x', 'y' ignored"),
    ]


def test_json_item_that_is_not_an_object_is_flagged(tmp_path):
    rows = list(parse(tmp_path, "mixed.json", '[{"name": "web"}, 42]').rows())
    assert rows[1] == SourceRow(2, (None,), "item is a numeric value, not a record with "
                                            "named fields")


@pytest.mark.parametrize(("document", "message"), [
    ('{"name": "web", "ip": "10.0.0.1"}',
     "The JSON file is an object with the fields 'name', 'ip', not a list of records "
     '(expected a list, or a field such as "data" or "items" holding one).'),
    ("[1, 2, 3]", "The JSON list holds numeric values, not records with named fields."),
    ("[]", "The JSON list is empty: there are no records to import."),
    ('{"name": "web", "ip": }',
     "The file is not valid JSON: it is damaged or cut short near the start; export it "
     "again and upload the complete file."),
    ('[{"name": "web"}, {"name": "db"}, {"name": ',
     "The file is not valid JSON: it is damaged or cut short after record 2; export it "
     "again and upload the complete file."),
    ("   \n\n", "The file contains no JSON data, only blank lines."),
])
def test_json_that_is_not_a_list_of_records_is_refused(tmp_path, document, message):
    assert refusal(tmp_path, "bad.json", document) == message


def test_json_scalar_document_is_refused(tmp_path):
    assert "does not contain a JSON list of records" in refusal(tmp_path, "n.json", "42")


def test_json_damaged_past_the_first_records_stops_rows(tmp_path):
    document = json.dumps([{"name": f"srv{i}"} for i in range(1500)])[:-40]
    parsed = parse(tmp_path, "cut.json", document)
    with pytest.raises(InventoryFileError, match="cut short after record 1,49"):
        list(parsed.rows())


# --- memory and robustness ------------------------------------------------------------

def _rows_by_the_csv_module(text: str, width: int) -> list[SourceRow]:
    """What reading the whole text at once with the csv module gives, cleaned like data
    rows: the oracle for the block-wise reader."""
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    rows, start = [], 1
    for record in reader:
        cells = tuple(cell.strip() or None for cell in record)
        if start > 1 and any(cells):
            problem = None
            if len(cells) > width and any(cells[width:]) or len(cells) < width:
                problem = f"row has {len(cells)} values but the header has {width}"
            rows.append(SourceRow(start, (cells + (None,) * width)[:width], problem))
        start = reader.line_num + 1
    return rows


def test_records_across_read_blocks_keep_their_values_and_line_numbers(tmp_path):
    rng = random.Random(11)
    cells = ["plain", "with space ", " lead", "", '"quoted, comma"', '"two\nlines"',
             '"three\r\nline\nvalue"', '"a ""quote"""', "Zürich", "10.0.0.1"]
    endings = ["\n", "\r\n"]
    lines = ["Name,IP,Note"]
    for i in range(40_000):  # several 256 KB blocks
        width = rng.choice([3, 3, 3, 3, 2, 4])
        lines.append(",".join([f"srv{i}"] + [rng.choice(cells) for _ in range(width - 1)]))
        if i % 997 == 0:
            lines.append("")  # blank lines count as lines
    text = "".join(line + rng.choice(endings) for line in lines)
    parsed = parse(tmp_path, "blocks.csv", text)
    assert parsed.columns == ["Name", "IP", "Note"]
    expected = _rows_by_the_csv_module(text, 3)
    assert list(parsed.rows()) == expected
    batches = list(parsed.batches())
    assert len(batches) > 3
    assert [row for batch in batches for row in batch.rows()] == expected


def test_regular_blocks_read_fast_give_what_the_csv_module_gives(tmp_path):
    rows = [f"srv{i}, 10.0.0.{i % 250} ,{'' if i % 3 else 'x y'}" for i in range(30_000)]
    rows[20_000:20_002] = ["short,row", ""]  # one irregular block among regular ones
    rows[5_000] = " , ,"  # a blank row in a regular block
    text = "Name, IP ,Note\r\n" + "".join(row + "\r\n" for row in rows)
    parsed = parse(tmp_path, "regular.csv", text)
    assert list(parsed.rows()) == _rows_by_the_csv_module(text, 3)


@pytest.mark.parametrize("odd_line", [
    "srv-x,10.0.0.1,clean", " srv-x,10.0.0.1,a", "srv-x,10.0.0.1,a ", "srv-x ,10.0.0.1,a",
    "srv-x,\t10.0.0.1,a", "srv-x,10.0.0.1,\xa0a", "srv-x,10.0.0.1\u3000,a", ",10.0.0.1,a",
    "srv-x,,a", "srv-x,10.0.0.1,", "srv-x,10.0.0.1,\x1fa"],
    ids=["clean", "lead", "trail", "before-comma", "tab", "nbsp", "ideographic", "first-empty",
         "middle-empty", "last-empty", "unit-separator"])
def test_odd_cells_in_regular_blocks_read_as_the_csv_module_reads_them(tmp_path, odd_line):
    rows = [f"srv{i},10.0.{i // 250 % 250}.{i % 250},Linux Server" for i in range(20_000)]
    rows[10_000] = odd_line
    text = "Name,IP,Note\n" + "\n".join(rows) + "\n"
    parsed = parse(tmp_path, "clean.csv", text)
    assert list(parsed.rows()) == _rows_by_the_csv_module(text, 3)


def test_rows_stream_with_bounded_memory(tmp_path):
    path = tmp_path / "big.bin"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("Name,IP,OS,Cores,RAM (MB),Owner,Location,Notes\n")
        for i in range(200_000):
            out.write(f"srv{i:06d},10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255},Linux,4,8192,"
                      f"ops,Zürich,\"note, {i}\"\n")
    tracemalloc.start()
    try:
        parsed = open_inventory(path, "big.csv")
        count = sum(1 for _ in parsed.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert path.stat().st_size > 12 * 1000 * 1000
    assert peak < 20 * 1024 * 1024, f"peak traced memory {peak / 1024 / 1024:.1f} MB"


@pytest.mark.parametrize("name", ["servers.csv", "servers.json", "servers.xlsx"])
def test_cut_or_corrupted_files_only_ever_raise_inventory_file_error(tmp_path, name):
    if name.endswith(".xlsx"):
        data = make_workbook(tmp_path, [["Name", "IP"], ["web", "10.0.0.1"]]).read_bytes()
    elif name.endswith(".json"):
        data = json.dumps(RECORDS).encode()
    else:
        data = accented_csv().encode("utf-8")
    noise = random.Random(7)
    for attempt in range(40):
        damaged = bytearray(data[: noise.randrange(1, len(data))])
        for _ in range(attempt % 4):
            damaged[noise.randrange(len(damaged))] = noise.randrange(256)
        try:
            parsed = parse(tmp_path, name, bytes(damaged))
            list(parsed.rows())
        except InventoryFileError as error:
            assert str(error).endswith(".")
