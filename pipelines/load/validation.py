"""Type every input row and say, in plain words, what is wrong with it if anything.

The loader inserts each file's rows into `landing.<item>`: the typed columns, the
file and row they came from, a `reason` (null for a good row) and, for a bad row
only, the row's original values as JSON so it can be shown in `quarantine`.

The typing is one SELECT (`typed_rows_sql`) written in the part of DuckDB's SQL that
Spark shares once transpiled (`pipelines.rollup.spark_sql`), so `adoption rollup --engine
spark` types rows by the same rules. Where the engines' casts disagree (Spark reads
'yesterday', '2024' or ' 2024-01-02' as timestamps), a text value must first look like
ISO 8601 (ISO_DATE_TIME), so both reject what either would.
"""
from __future__ import annotations

from datetime import datetime

import duckdb

from pipelines.load.input_spec import Column, ColumnType, Item
from pipelines.load.readers import PARQUET_SOURCE_FILE, SourceColumn
from pipelines.sql_runner import bound

SQL_TYPES: dict[ColumnType, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "json": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
}

TYPE_WORDS: dict[ColumnType, str] = {
    "timestamp": "an ISO 8601 timestamp",
    "date": "a YYYY-MM-DD date",
    "integer": "a whole number",
    "boolean": "true or false",
}

# Timestamps that must have happened by the time of the build: a future event or
# invitation would move `as_of` into the future and turn every user into a churner.
NOT_IN_FUTURE = {
    ("events", "timestamp"), ("tickets", "created_at"), ("users", "invited_at"), ("event_days", "day"),
}
EARLIEST_PLAUSIBLE = "1990-01-01"
# Ids that differ on almost every row: dictionary compression cannot shrink them, and
# trying took about a fifth of the time to load the events. Landing is scratch (see
# pipelines.load.landing), so they are stored as they are.
DISTINCT_PER_ROW = {("events", "event_id"), ("tickets", "ticket_id")}
SHOWN_CHARS = 60
# Types whose typed value is the trimmed text, null when empty.
TEXT_TYPES: set[ColumnType] = {"id", "text", "json"}
# A date, or a date and time with an optional offset or zone name: the text a timestamp or
# date must look like before it is cast. Anchored, for both DuckDB's and Spark's regex search.
ISO_DATE_TIME = (
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?| [A-Za-z][A-Za-z_/]*)?$"
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def landing_ddl(item: Item) -> str:
    columns = ", ".join(
        f"{_q(c.name)} {SQL_TYPES[c.type]}"
        + (" using compression uncompressed" if (item.name, c.name) in DISTINCT_PER_ROW else "")
        for c in item.columns
    )
    return (
        f"create table landing.{item.name} ({columns}, source_file VARCHAR, "
        "row_number BIGINT, reason VARCHAR, raw VARCHAR)"
    )
def _source(column: Column) -> str:
    return _q(column.name + "__source")


def _text(column: Column) -> str:
    """The value as trimmed text, for text formats (NULL when empty)."""
    return f"nullif(trim(cast({_source(column)} as varchar)), '')"


def _present(column: Column, source: SourceColumn | None) -> str:
    """True when the file holds a value; cheap for Parquet's own types (no text round trip).

    Text read into a text column is its typed value already: trimming it again took 0.17 s
    of 1.9 over the 20M demo's Parquet events.
    """
    if source is None:
        return "false"
    if source.is_text and column.type in TEXT_TYPES:
        return f"({_q(column.name)} is not null)"
    return f"({_text(column)} is not null)" if source.is_text else f"({_source(column)} is not null)"


def _iso(value: str, cast: str) -> str:
    """`cast` of a value that looks like ISO 8601; null otherwise."""
    return f"case when regexp_matches(cast({value} as varchar), '{ISO_DATE_TIME}') then {cast} end"


def _typed(column: Column, source: SourceColumn | None) -> str:
    if source is None:
        return f"null::{SQL_TYPES[column.type]}"
    value, text = _source(column), _text(column)
    match column.type:
        case "timestamp" if source.sql_type == "TIMESTAMP":
            return value  # a naive timestamp in Parquet is UTC already
        case "timestamp" if source.sql_type == "TIMESTAMP WITH TIME ZONE":
            # the same instant in UTC; a cast goes through ICU's calendar, five times slower
            return f"case when isfinite({value}) then make_timestamp(epoch_us({value})) else {value}::timestamp end"
        case "timestamp":
            return _iso(value, f"try_cast(try_cast({value} as timestamptz) as timestamp)")
        case "date" if source.sql_type == "DATE":
            return value
        case "date":
            return _iso(value, f"coalesce(try_cast({value} as date), try_cast(try_cast({value} as timestamptz) as date))")
        case "integer":  # "12.7" is not a seat count; DuckDB would round it
            return f"try_cast(case when regexp_matches({text}, '^[+-]?[0-9]+$') then {text} end as bigint)"
        case "boolean":
            return f"try_cast({text} as boolean)"
        case _:
            return text


def _as_text(column: Column, source: SourceColumn) -> str:
    """The value as the file has it, in text; a time with a zone as its naive UTC time, as
    Spark shows it too (the session's zone is UTC)."""
    value = _source(column)
    if source.sql_type == "TIMESTAMP WITH TIME ZONE":
        return f"cast(cast({value} as timestamp) as varchar)"
    return f"cast({value} as varchar)"


def _checks(item: Item, column: Column, source: SourceColumn | None) -> list[str]:
    """SQL expressions that give a reason text when this column makes the row bad.

    Messages quote the value as the file has it; that text is made for failing rows only.
    """
    name, present = _q(column.name), _present(column, source)
    shown = f"trim(left({_as_text(column, source)}, {SHOWN_CHARS}))" if source else "''"
    quoted = f"'''' || {shown} || ''''"
    checks = []
    if column.required:
        checks.append(f"case when not {present} then '{column.name} is missing' end")
    if column.type in TYPE_WORDS:
        checks.append(
            f"case when {present} and {name} is null then "
            f"'{column.name} ' || {quoted} || ' is not {TYPE_WORDS[column.type]}' end"
        )
    if column.type == "timestamp":
        checks.append(
            f"case when {name} < TIMESTAMP '{EARLIEST_PLAUSIBLE}' then "
            f"'{column.name} ' || {shown} || ' is before {EARLIEST_PLAUSIBLE}' end"
        )
    if (item.name, column.name) in NOT_IN_FUTURE:
        checks.append(
            f"case when {name} > $built_at then "
            f"'{column.name} ' || {shown} || ' is in the future (after the build started)' end"
        )
    if column.type == "integer":
        checks.append(f"case when {name} < 0 then '{column.name} ' || {shown} || ' is negative' end")
    return checks


def typed_rows_sql(item: Item, view: str, source_columns: dict[str, SourceColumn], source_file: str | None) -> str:
    """The SELECT of landing.<item>'s columns over the rows of view `view`, typed and checked.

    Every row comes from the file bound as `$source_file`, or, when `source_file` is None,
    from the file its view names in column PARQUET_SOURCE_FILE. `$built_at` bounds what
    may not be in the future.
    """
    file_column = "$source_file" if source_file is not None else _q(PARQUET_SOURCE_FILE)
    sources = {c.name: source_columns.get(c.name) for c in item.columns}
    present = [c for c in item.columns if sources[c.name]]
    originals = "".join(f"{_q(sources[c.name].name)} as {_source(c)}, " for c in present)
    typed = ", ".join(f"{_typed(c, sources[c.name])} as {_q(c.name)}" for c in item.columns)
    checks = ", ".join(check for c in item.columns for check in _checks(item, c, sources[c.name]))
    raw = ", ".join(f"{_q(c.name)} := {_as_text(c, sources[c.name])}" for c in present)
    columns = ", ".join(_q(c.name) for c in item.columns)
    return f"""select {columns}, source_file__source as source_file, row_number, reason,
               case when reason is not null then to_json(struct_pack({raw})) end as raw
        from (
            select *, nullif(concat_ws('; ', {checks}), '') as reason
            from (select *, {typed} from (
                select {originals}{file_column} as source_file__source, row_number from {view}
            ))
        )"""


def load_file(
    con: duckdb.DuckDBPyConnection,
    item: Item,
    view: str,
    source_columns: dict[str, SourceColumn],
    source_file: str | None,
    built_at: datetime,
) -> None:
    """Insert the rows of temp view `view` into landing.<item>, typed and checked (typed_rows_sql)."""
    sql = f"insert into landing.{item.name} {typed_rows_sql(item, view, source_columns, source_file)}"
    con.execute(sql, bound(sql, {"source_file": source_file, "built_at": built_at}))
