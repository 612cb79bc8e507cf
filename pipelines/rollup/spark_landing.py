"""The Spark rollup's landing: every stage item's files read by Spark (spark_readers), typed
and checked by the loader's own SELECT transpiled, as temp views named like the build's
landing tables (landing__events, ...), and the rows read and rejected per file."""
from __future__ import annotations

import functools
from datetime import datetime

import duckdb
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from pipelines.errors import InputError
from pipelines.load.input_files import InputFile, InputFolder
from pipelines.load.input_spec import ITEMS
from pipelines.load.landing import FileLoad, create_landing
from pipelines.load.readers import PARQUET_SOURCE_FILE, reserved_column
from pipelines.load.validation import typed_rows_sql
from pipelines.rollup.spark_readers import REJECT_COLUMNS, OpenedFile, open_file, open_parquet_files, parquet_schema
from pipelines.rollup.spark_sql import to_spark, view_name
from pipelines.rollup.stage import STAGE_ITEMS, landing_reads, stage_models
from pipelines.sql_runner import bound


def _typed(spark: SparkSession, item: str, rows: DataFrame, columns: dict, source_file: str | None,
           built_at: datetime) -> DataFrame:
    """rows typed and checked by the loader's SELECT; source_file None: each row names its file."""
    rows.createOrReplaceTempView("input_file")
    sql = typed_rows_sql(ITEMS[item], "input_file", columns, source_file)
    params = {"source_file": source_file, "built_at": f"{built_at:%Y-%m-%d %H:%M:%S.%f}"}
    return spark.sql(to_spark(sql), args=bound(sql, params))


def _parquet_runs(spark: SparkSession, files: list[InputFile]) -> tuple[list[list[InputFile]], list[InputFile]]:
    """Readable Parquet files grouped by their columns, and every other file."""
    runs: dict[str, list[InputFile]] = {}
    others = []
    for file in files:
        schema = parquet_schema(spark, file) if file.format == "parquet" else None
        if schema is not None and PARQUET_SOURCE_FILE in schema.fieldNames():
            raise reserved_column(file)
        if schema is None:
            others.append(file)
        else:
            runs.setdefault(schema.json(), []).append(file)
    return list(runs.values()), others


def _check_columns(item: str, opened: OpenedFile, files: list[InputFile]) -> None:
    missing = [c.name for c in ITEMS[item].columns if c.required and c.name not in opened.columns]
    if missing:
        raise InputError(f"{files[0].path}: required column '{missing[0]}' is missing "
                         f"(the file has: {', '.join(opened.columns) or 'no columns'})")


def _landing_columns() -> dict[str, list[tuple[str, str]]]:
    """Every landing table's columns and DuckDB types, as the build creates them."""
    with duckdb.connect() as con:
        con.execute("attach ':memory:' as landing")
        create_landing(con)
        rows = con.execute("""select table_name, column_name, data_type from duckdb_columns()
            where database_name = 'landing' order by table_name, column_index""").fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        columns.setdefault(table, []).append((column, data_type))
    return columns


def _create_empty_landing(spark: SparkSession) -> None:
    """An empty view for every landing table the stage's models read: what a full build has
    for an item without files and for an incremental build's carried counts."""
    read = landing_reads(stage_models()) | {"rejects"}
    for table, columns in _landing_columns().items():
        if table in read:
            select = ", ".join(f'cast(null as {data_type}) as "{column}"' for column, data_type in columns)
            spark.sql(to_spark(f"select {select} where false")).createOrReplaceTempView(view_name(f"landing.{table}"))


def load(spark: SparkSession, folder: InputFolder, built_at: datetime) -> None:
    """landing__<item> for the stage's items, landing__rejects, and the other landing tables the
    models read, empty; typed rows kept (memory, then disk) since the models read them several times."""
    _create_empty_landing(spark)
    rejects: list[DataFrame] = []
    for item in STAGE_ITEMS:
        frames = []
        runs, others = _parquet_runs(spark, folder.of(item))
        for run in runs:
            opened = open_parquet_files(spark, run)
            _check_columns(item, opened, run)
            frames.append(_typed(spark, item, opened.rows, opened.columns, None, built_at))
        for file in others:
            opened = open_file(spark, file)
            _check_columns(item, opened, [file])
            frames.append(_typed(spark, item, opened.rows, opened.columns, str(file.path), built_at))
            rejects += [opened.rejects] if opened.rejects is not None else []
        if frames:
            _union(frames).persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(view_name(f"landing.{item}"))
    if rejects:
        _union([frame.select(*REJECT_COLUMNS) for frame in rejects]).persist(StorageLevel.MEMORY_AND_DISK) \
            .createOrReplaceTempView(view_name("landing.rejects"))


def _union(frames: list[DataFrame]) -> DataFrame:
    return functools.reduce(DataFrame.unionByName, frames)


def file_loads(spark: SparkSession, folder: InputFolder) -> list[FileLoad]:
    """Rows read and rejected per file, as the build counts them; InputError for a file with
    rows and none usable, naming its first bad row (landing._file_load)."""
    landed = " union all ".join(
        f"select source_file, reason, true as typed from {view_name(f'landing.{item}')}" for item in STAGE_ITEMS)
    counts = {
        path: (typed_rows, mistyped, unreadable)
        for path, typed_rows, mistyped, unreadable in spark.sql(
            f"""select source_file, count_if(typed), count_if(typed and reason is not null), count_if(not typed)
            from ({landed} union all select source_file, reason, false from {view_name('landing.rejects')})
            group by source_file""").collect()
    }
    loads = []
    for file in folder.files:
        typed, mistyped, unreadable = counts.get(str(file.path), (0, 0, 0))
        if typed + unreadable > 0 and typed == mistyped:
            [(row, reason)] = spark.sql(
                f"""select row_number, reason from (
                    select row_number, reason from {view_name(f'landing.{file.item}')} where source_file = :f
                    union all select row_number, reason from {view_name('landing.rejects')} where source_file = :f)
                order by row_number limit 1""", args={"f": str(file.path)}).collect()
            raise InputError(f"{file.path}: none of its {typed + unreadable} rows is usable; row {row}: {reason}")
        loads.append(FileLoad(str(file.path), file.item, typed + unreadable, mistyped + unreadable))
    return loads
