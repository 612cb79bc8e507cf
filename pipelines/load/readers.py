"""Open an input file (or several Parquet files alike) in DuckDB as a view of its columns
plus the row each came from.

Every reader yields `row_number`: the 1-based line in a CSV (the header is line 1) or
JSON Lines file, or the 1-based row of a Parquet file, so that a message or a
quarantined row can be found in the file by hand. Rows the reader cannot split into
columns at all (broken quoting, too many fields, invalid UTF-8) are written to
`landing.rejects` with their line.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.errors import InputError
from pipelines.load.input_files import InputFile

JSONL_LINE_DELIMITER = "\x1f"  # never appears unescaped in valid JSON
# The column of a Parquet view that names each row's file; unlikely to be one of the
# file's own columns.
PARQUET_SOURCE_FILE = "adoption__source_file"


@dataclass(frozen=True)
class SourceColumn:
    name: str  # as spelled in the file
    sql_type: str  # VARCHAR for text formats; Parquet keeps its own types

    @property
    def is_text(self) -> bool:
        return self.sql_type == "VARCHAR"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source_columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, SourceColumn]:
    """Map each column's normalised name (lower case, trimmed) to its name and type in the file."""
    result = con.execute(f"select * from {view} limit 0")
    columns = [(d[0], str(d[1])) for d in result.description]
    result.fetchall()
    return {
        name.strip().lstrip("\ufeff").lower(): SourceColumn(name, sql_type)
        for name, sql_type in columns
        if name not in ("row_number", PARQUET_SOURCE_FILE)
    }


def wrong_field_count_reason(line: str, expected: int) -> str:
    """SQL for why a CSV record with too many or too few fields is unreadable, its fields
    counted from its text (commas inside quotes aside), so that Spark's reader
    (pipelines.rollup.spark_readers) gives the same reason."""
    unquoted = f"""regexp_replace({line}, '"[^"]*"', '', 'g')"""
    fields = f"(length({unquoted}) - length(replace({unquoted}, ',', '')) + 1)"
    return (f"'unreadable row: ' || case when {fields} > {expected} then 'too many columns' else 'missing columns' end "
            f"|| ' (Expected Number of Columns: {expected} Found: ' || {fields} || ')'")


def _record_rejects(con: duckdb.DuckDBPyConnection, file: InputFile, rejects: str, columns: int | None) -> None:
    """Copy the reader's rejects to landing.rejects, each with its line as the file has it
    (DuckDB keeps the line break before it) and a reason; `columns` is a CSV file's number of
    columns, None for JSON Lines."""
    line = "trim(csv_line, chr(13) || chr(10))"
    generic = "'unreadable row: ' || lower(replace(error_type, '_', ' ')) || ' (' || error_message || ')'"
    reason = generic if columns is None else (
        f"case when error_type in ('MISSING COLUMNS', 'TOO MANY COLUMNS') then {wrong_field_count_reason(line, columns)} "
        f"else {generic} end")
    con.execute(f"insert into landing.rejects select ?, line, {reason}, {line} from {rejects}", [str(file.path)])


def _numbered_lines(con: duckdb.DuckDBPyConnection, scan: str, rejects: str, first_line: int) -> str:
    """SQL for the accepted rows of `scan` with their file line restored.

    The reader skips rejected lines, so the n-th accepted row sits on line
    first_line + n - 1 plus the number of rejected lines before it; rejected line r_i
    (the i-th in order) shifts every accepted row n >= r_i - i - first_line + 2. Rejected
    lines in a row shift from the same rank: the last of them counts them all.
    """
    return f"""
        with shifts as (
            select from_rank, max(n_before) as n_before
            from (
                select line - row_number() over (order by line) - {first_line} + 2 as from_rank,
                       row_number() over (order by line) as n_before
                from {rejects}
            )
            group by from_rank
        )
        select scan.* exclude (accepted_rank),
               scan.accepted_rank + {first_line - 1} + coalesce(shifts.n_before, 0) as row_number
        from {scan} as scan
        asof left join shifts on scan.accepted_rank >= shifts.from_rank
    """


def _encoding(path: Path) -> str:
    """UTF-16 when the file starts with its byte-order mark; otherwise try UTF-8 first."""
    with open(path, "rb") as head:
        return "utf-16" if head.read(2) in (b"\xff\xfe", b"\xfe\xff") else "utf-8"


def _scan_text(con: duckdb.DuckDBPyConnection, file: InputFile, view: str, reader_sql: str) -> None:
    """Scan a text file into the temp table `<view>_scan`, in the encoding it turns out to have.

    A file that is not valid UTF-8 is read again as Latin-1, the usual encoding of legacy
    spreadsheet exports, rather than rejecting every row with an accented name.
    """
    scan, rejects = f"{view}_scan", f"{view}_rejects"
    encoding = _encoding(file.path)
    for attempt in (encoding, "latin-1"):
        _drop_previous(con, view)
        con.execute(
            f"""create or replace temp table {scan} as
            {reader_sql.format(options=f"encoding = '{attempt}', store_rejects = true, rejects_table = '{rejects}', "
                                       f"rejects_scan = '{view}_reject_scans', rejects_limit = 0")}""",
            [str(file.path)],
        )
        [(invalid,)] = con.execute(
            f"select count(*) from {rejects} where error_type = 'INVALID ENCODING'"
        ).fetchall()
        if not invalid or encoding != "utf-8":
            break
    # DuckDB reports a line with two extra fields twice (found 4, then found 5 of 3 columns):
    # one row per line, the last report, or the lines after it would be numbered one too far.
    con.execute(
        f"""delete from {rejects} where exists (
            select 1 from {rejects} as later where later.line = {rejects}.line and later.column_idx > {rejects}.column_idx)"""
    )


def _open_csv(con: duckdb.DuckDBPyConnection, file: InputFile, view: str) -> None:
    scan, rejects = f"{view}_scan", f"{view}_rejects"
    _scan_text(
        con, file, view,
        "select *, row_number() over () as accepted_rank "
        "from read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', {options})",
    )
    _record_rejects(con, file, rejects, len(con.execute(f"select * exclude (accepted_rank) from {scan} limit 0").description))
    con.execute(f"create or replace temp view {view} as {_numbered_lines(con, scan, rejects, 2)}")


def _open_jsonl(con: duckdb.DuckDBPyConnection, file: InputFile, view: str) -> None:
    scan, rejects = f"{view}_scan", f"{view}_rejects"
    _scan_text(
        con, file, view,
        "select line, row_number() over () as accepted_rank "
        "from read_csv(?, columns = {{'line': 'VARCHAR'}}, header = false, auto_detect = false, "
        f"delim = '{JSONL_LINE_DELIMITER}', quote = '', escape = '', {{options}})",
    )
    _record_rejects(con, file, rejects, None)
    con.execute(
        f"""insert into landing.rejects
        select ?, row_number, 'unreadable row: not a JSON object', line
        from ({_numbered_lines(con, scan, rejects, 1)})
        where line is not null and trim(line) <> '' and not coalesce(json_type(try_cast(line as json)) = 'OBJECT', false)""",
        [str(file.path)],
    )
    keys = [
        k
        for (k,) in con.execute(
            f"""select distinct unnest(json_keys(try_cast(line as json))) from {scan}
            where json_type(try_cast(line as json)) = 'OBJECT' order by 1"""
        ).fetchall()
    ]
    key_columns = ", ".join(
        f"json_extract_string(j, '$.' || {_sql_string(_quote(k))}) as {_quote(k)}" for k in keys
    )
    con.execute(
        f"""create or replace temp view {view} as
        select {key_columns + ',' if key_columns else ''} row_number
        from (select try_cast(line as json) as j, row_number
              from ({_numbered_lines(con, scan, rejects, 1)}))
        where json_type(j) = 'OBJECT'"""
    )


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _open_parquet(con: duckdb.DuckDBPyConnection, file: InputFile, view: str) -> None:
    _parquet_view(con, [file], view)


def _parquet_view(con: duckdb.DuckDBPyConnection, files: list[InputFile], view: str) -> None:
    paths = ", ".join(_sql_string(str(file.path)) for file in files)
    con.execute(
        f"""create or replace temp view {view} as
        select * exclude (file_row_number), file_row_number + 1 as row_number
        from read_parquet([{paths}], file_row_number = true, filename = '{PARQUET_SOURCE_FILE}')"""
    )


def open_parquet_files(con: duckdb.DuckDBPyConnection, files: list[InputFile], view: str) -> dict[str, SourceColumn]:
    """Create temp view `view` over Parquet files with the same columns, in one scan.

    Each row names its file in column PARQUET_SOURCE_FILE; the files have been opened
    one by one before, so a file that cannot be read is not among them.
    """
    _drop_previous(con, view)
    _parquet_view(con, files, view)
    return _source_columns(con, view)


def reserved_column(file: InputFile) -> InputError:
    """The error for a Parquet file with a column named like the loader's own."""
    return InputError(f"{file.path}: has a column named '{PARQUET_SOURCE_FILE}', a name the loader keeps "
                      "for itself; rename that column")


OPENERS = {"csv": _open_csv, "jsonl": _open_jsonl, "parquet": _open_parquet}


def _drop_previous(con: duckdb.DuckDBPyConnection, view: str) -> None:
    """Reject tables are not replaced by a new scan, so clear the last file's first."""
    con.execute(f"drop view if exists {view}")
    for table in (f"{view}_scan", f"{view}_rejects", f"{view}_reject_scans"):
        con.execute(f"drop table if exists {table}")


def open_file(con: duckdb.DuckDBPyConnection, file: InputFile, view: str) -> dict[str, SourceColumn]:
    """Create temp view `view` over the file; return its columns by normalised name."""
    _drop_previous(con, view)
    try:
        OPENERS[file.format](con, file, view)
        return _source_columns(con, view)
    except duckdb.Error as error:
        if PARQUET_SOURCE_FILE in str(error):
            raise reserved_column(file) from error
        first_line = str(error).strip().splitlines()[0]
        raise InputError(f"{file.path}: cannot be read as {file.format.upper()}: {first_line}") from error
