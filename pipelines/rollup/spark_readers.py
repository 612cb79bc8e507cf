"""Open an input file in Spark as rows of its columns plus the row each came from, and the
rows that cannot be split into columns at all: what pipelines.load.readers does in DuckDB.

Row numbers are the build's: the 1-based row of a Parquet file (Spark's own row index),
the 1-based line of a JSON Lines file, and for a CSV file the 1-based record with the
header as 1, which is its line unless a quoted value spans lines (DuckDB's reader counts
records too). An unreadable CSV record gets the loader's reason for a wrong number of fields.
Not the same: a file that is not valid UTF-8 (DuckDB reads it again as Latin-1; Spark
reads the bad bytes as U+FFFD) and a stray quote inside a field (DuckDB rejects the line).
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.utils import AnalysisException

from pipelines.errors import InputError
from pipelines.load.input_files import InputFile
from pipelines.load.readers import PARQUET_SOURCE_FILE, SourceColumn, wrong_field_count_reason
from pipelines.rollup.spark_sql import to_spark

CORRUPT = "adoption__corrupt_record"
REJECT_COLUMNS = ["source_file", "row_number", "reason", "raw"]

DUCKDB_TYPES = {
    T.StringType: "VARCHAR",
    T.TimestampType: "TIMESTAMP",  # made naive UTC below, as DuckDB's reader leaves it
    T.TimestampNTZType: "TIMESTAMP",
    T.DateType: "DATE",
    T.LongType: "BIGINT",
    T.IntegerType: "INTEGER",
    T.ShortType: "SMALLINT",
    T.BooleanType: "BOOLEAN",
    T.DoubleType: "DOUBLE",
    T.FloatType: "FLOAT",
}


@dataclass(frozen=True)
class OpenedFile:
    rows: DataFrame  # the file's columns as Spark read them, and row_number
    columns: dict[str, SourceColumn]  # by normalised name, as readers._source_columns
    rejects: DataFrame | None  # REJECT_COLUMNS


def _normalised(name: str) -> str:
    return name.strip().lstrip("\ufeff").lower()


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _source_columns(schema: T.StructType) -> dict[str, SourceColumn]:
    return {
        _normalised(field.name): SourceColumn(field.name, DUCKDB_TYPES.get(type(field.dataType),
                                                                          field.dataType.simpleString().upper()))
        for field in schema.fields
        if field.name != "row_number"
    }


def with_row_index(frame: DataFrame) -> DataFrame:
    """frame with `row_index`: each row's 0-based place in the file, partitions in file order.

    Spark numbers rows within a partition (monotonically_increasing_id is the partition's
    index shifted left 33 bits plus the row's place in it); each partition's start comes from
    the sizes of the ones before, counted in one pass.
    """
    partition = F.spark_partition_id()
    tagged = frame.withColumn("adoption__partition", partition).withColumn(
        "adoption__local", F.monotonically_increasing_id() - F.shiftleft(partition.cast("long"), 33))
    sizes = sorted(tuple(row) for row in tagged.groupBy("adoption__partition").count().collect())
    starts, start = [], 0
    for index, size in sizes:
        starts.append((index, start))
        start += size
    spark = frame.sparkSession
    offsets = spark.createDataFrame(starts or [(0, 0)], "adoption__partition int, adoption__start long")
    return (tagged.join(F.broadcast(offsets), "adoption__partition")
            .withColumn("row_index", F.col("adoption__start") + F.col("adoption__local"))
            .drop("adoption__partition", "adoption__local", "adoption__start"))


def _parquet_columns(frame: DataFrame) -> list[Column]:
    """The file's own columns; a time with a zone as its naive UTC time, as DuckDB's loader has it."""
    return [
        F.col(_q(field.name)).cast("timestamp_ntz").alias(field.name)
        if isinstance(field.dataType, T.TimestampType) else F.col(_q(field.name))
        for field in frame.schema.fields if field.name not in ("row_number", PARQUET_SOURCE_FILE)
    ]


def _parquet(spark: SparkSession, file: InputFile) -> OpenedFile:
    frame = spark.read.parquet(str(file.path))
    rows = frame.select(*_parquet_columns(frame), (F.col("_metadata.row_index") + 1).alias("row_number"))
    return OpenedFile(rows, _source_columns(frame.schema), None)


def _spark_uri(file: InputFile) -> str:
    """The file as Spark names it in _metadata.file_path."""
    return "file:" + file.path.resolve().as_uri().removeprefix("file://")


def open_parquet_files(spark: SparkSession, files: list[InputFile]) -> OpenedFile:
    """Parquet files with the same columns in one scan, each row naming its file (as the build
    names it) in column PARQUET_SOURCE_FILE: one typing query instead of one per file."""
    frame = spark.read.parquet(*[str(file.path) for file in files])
    names = spark.createDataFrame([(_spark_uri(file), str(file.path)) for file in files],
                                  f"adoption__uri string, {PARQUET_SOURCE_FILE} string")
    rows = (frame.select(*_parquet_columns(frame), (F.col("_metadata.row_index") + 1).alias("row_number"),
                         F.col("_metadata.file_path").alias("adoption__uri"))
            .join(F.broadcast(names), "adoption__uri").drop("adoption__uri"))
    return OpenedFile(rows, _source_columns(frame.schema), None)


def parquet_schema(spark: SparkSession, file: InputFile) -> T.StructType | None:
    """The file's columns, or None when Spark cannot read it (it is then opened alone, to say why)."""
    try:
        return spark.read.parquet(str(file.path)).schema
    except AnalysisException:
        return None


def _csv_reason(record: str, expected: int) -> Column:
    return F.expr(to_spark(wrong_field_count_reason(record, expected)))


def _csv(spark: SparkSession, file: InputFile) -> OpenedFile:
    options = {"header": True, "multiLine": True, "quote": '"', "escape": '"', "mode": "PERMISSIVE"}
    header = spark.read.options(**options).csv(str(file.path)).columns
    schema = T.StructType([T.StructField(name, T.StringType()) for name in header]
                          + [T.StructField(CORRUPT, T.StringType())])
    read = spark.read.options(**options, columnNameOfCorruptRecord=CORRUPT, enforceSchema=True).schema(schema)
    # kept: Spark reads no query of the corrupt-record column alone from the file itself
    parsed = read.csv(str(file.path)).persist(StorageLevel.MEMORY_AND_DISK)
    numbered = with_row_index(parsed).withColumn("row_number", F.col("row_index") + 2)
    rows = numbered.where(F.col(CORRUPT).isNull()).select(*[F.col(_q(name)) for name in header], "row_number")
    rejects = numbered.where(F.col(CORRUPT).isNotNull()).select(
        F.lit(str(file.path)).alias("source_file"), "row_number",
        _csv_reason(CORRUPT, len(header)).alias("reason"), F.col(CORRUPT).alias("raw"))
    return OpenedFile(rows, _source_columns(T.StructType(schema.fields[:-1])), rejects)


def _jsonl(spark: SparkSession, file: InputFile) -> OpenedFile:
    lines = with_row_index(spark.read.text(str(file.path))).select(
        F.col("value").alias("line"), (F.col("row_index") + 1).alias("row_number"))
    lines = lines.where(F.trim(F.col("line")) != "").withColumn(
        "adoption__object", F.from_json("line", "map<string,string>", {"mode": "PERMISSIVE"}))
    keys = sorted(row[0] for row in lines.select(F.explode(F.map_keys("adoption__object"))).distinct().collect())
    objects = lines.where(F.col("adoption__object").isNotNull())
    rows = objects.select(*[F.col("adoption__object")[key].alias(key) for key in keys], "row_number")
    rejects = lines.where(F.col("adoption__object").isNull()).select(
        F.lit(str(file.path)).alias("source_file"), "row_number",
        F.lit("unreadable row: not a JSON object").alias("reason"), F.col("line").alias("raw"))
    schema = T.StructType([T.StructField(key, T.StringType()) for key in keys])
    return OpenedFile(rows, _source_columns(schema), rejects)


OPENERS = {"parquet": _parquet, "csv": _csv, "jsonl": _jsonl}


def open_file(spark: SparkSession, file: InputFile) -> OpenedFile:
    """The file's rows, columns and rejects; InputError when Spark cannot read it at all."""
    try:
        return OPENERS[file.format](spark, file)
    except AnalysisException as error:
        first_line = str(error).strip().splitlines()[0]
        raise InputError(f"{file.path}: cannot be read as {file.format.upper()}: {first_line}") from error
