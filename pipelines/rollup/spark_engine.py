"""The events stage on Apache Spark: files read by Spark's readers, rows typed and checked by
the loader's own SELECT and counted by the build's own models, all transpiled from DuckDB's
SQL (pipelines.rollup.spark_sql), then the rollup's files written by Spark.

Local mode (`local[*]`) by default, any cluster by its master URL. The output folder must be
one the driver can rename (a local or mounted path), since the rollup renames it into place.
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from pyspark import StorageLevel
from pyspark.errors import PySparkRuntimeError
from pyspark.sql import DataFrame, SparkSession

from pipelines.errors import InputError
from pipelines.load.carried_quarantine import QUARANTINE_FILE
from pipelines.load.input_files import InputFile, InputFolder
from pipelines.load.input_spec import ITEMS
from pipelines.load.landing import FileLoad
from pipelines.load.validation import typed_rows_sql
from pipelines.rollup.spark_readers import REJECT_COLUMNS, open_file
from pipelines.rollup.spark_sql import to_spark, view_name
from pipelines.rollup.stage import STAGE_ITEMS, output_sql, stage_models

# Settings the models rely on: times in UTC, null fields kept in to_json (DuckDB's raw
# keeps them), a repeated JSON key keeps its last value instead of failing the job.
SQL_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.jsonGenerator.ignoreNullFields": "false",
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
DRIVER_MEMORY = os.environ.get("ADOPTION_SPARK_DRIVER_MEMORY", "4g")


def spark_session(master: str | None = None) -> SparkSession:
    """The process's Spark session (made on first use); RuntimeError when Spark cannot start."""
    builder = (SparkSession.builder.master(master or "local[*]").appName("adoption rollup")
               .config("spark.ui.enabled", "false")
               .config("spark.driver.memory", DRIVER_MEMORY)
               .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"))
    try:
        spark = builder.getOrCreate()
    except PySparkRuntimeError as error:
        raise RuntimeError("Spark could not start: it needs Java 17 or newer (java on the PATH, or JAVA_HOME); "
                           f"{error}") from error
    spark.sparkContext.setLogLevel("ERROR")
    for key, value in SQL_SETTINGS.items():
        spark.conf.set(key, value)
    return spark


def _typed(spark: SparkSession, file: InputFile, rows: DataFrame, columns: dict, built_at: datetime) -> DataFrame:
    rows.createOrReplaceTempView("input_file")
    sql = to_spark(typed_rows_sql(ITEMS[file.item], "input_file", columns, str(file.path)))
    return spark.sql(sql, args={"source_file": str(file.path), "built_at": f"{built_at:%Y-%m-%d %H:%M:%S.%f}"})


def _empty_landing(spark: SparkSession, item: str) -> DataFrame:
    spark.sql("select cast(null as bigint) as row_number where false").createOrReplaceTempView("input_file")
    sql = to_spark(typed_rows_sql(ITEMS[item], "input_file", {}, ""))
    return spark.sql(sql, args={"source_file": "", "built_at": "2000-01-01 00:00:00"})


def _load(spark: SparkSession, folder: InputFolder, built_at: datetime) -> None:
    """landing__<item> for every item the models read, landing__rejects; typed rows kept
    (memory, then disk) since the models read them several times."""
    rejects: list[DataFrame] = []
    for item in (*STAGE_ITEMS, "event_days"):
        frames = []
        for file in folder.of(item):
            opened = open_file(spark, file)
            missing = [c.name for c in ITEMS[item].columns if c.required and c.name not in opened.columns]
            if missing:
                raise InputError(f"{file.path}: required column '{missing[0]}' is missing "
                                 f"(the file has: {', '.join(opened.columns) or 'no columns'})")
            frames.append(_typed(spark, file, opened.rows, opened.columns, built_at))
            rejects += [opened.rejects] if opened.rejects is not None else []
        landing = _empty_landing(spark, item)
        for frame in frames:
            landing = landing.unionByName(frame)
        landing.persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(view_name(f"landing.{item}"))
    all_rejects = spark.createDataFrame([], "source_file string, row_number long, reason string, raw string")
    for frame in rejects:
        all_rejects = all_rejects.unionByName(frame.select(*REJECT_COLUMNS))
    all_rejects.persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(view_name("landing.rejects"))


def _file_loads(spark: SparkSession, folder: InputFolder) -> list[FileLoad]:
    """Rows read and rejected per file, as the build counts them; InputError for a file with
    rows and none usable, naming its first bad row (landing._file_load)."""
    counts: dict[str, list[int]] = {}
    for item in STAGE_ITEMS:
        for path, typed, mistyped in spark.sql(
                f"select source_file, count(*), count(reason) from {view_name(f'landing.{item}')} group by source_file"
        ).collect():
            counts[path] = [typed, mistyped, 0]
    for path, unreadable in spark.sql(
            f"select source_file, count(*) from {view_name('landing.rejects')} group by source_file").collect():
        counts.setdefault(path, [0, 0, 0])[2] = unreadable
    loads = []
    for file in folder.files:
        typed, mistyped, unreadable = counts.get(str(file.path), [0, 0, 0])
        if typed + unreadable > 0 and typed == mistyped:
            [(row, reason)] = spark.sql(
                f"""select row_number, reason from (
                    select row_number, reason from {view_name(f'landing.{file.item}')} where source_file = :f
                    union all select row_number, reason from {view_name('landing.rejects')} where source_file = :f)
                order by row_number limit 1""", args={"f": str(file.path)}).collect()
            raise InputError(f"{file.path}: none of its {typed + unreadable} rows is usable; row {row}: {reason}")
        loads.append(FileLoad(str(file.path), file.item, typed + unreadable, mistyped + unreadable))
    return loads


def _single_file(folder: Path, target: Path) -> None:
    """Move the one part file Spark wrote into folder to target."""
    [part] = [path for path in folder.iterdir() if path.name.startswith("part-")]
    part.rename(target)
    shutil.rmtree(folder)


def _remove_checksums(folder: Path) -> None:
    """Hadoop's local file system writes a hidden .crc beside every file; nothing reads them."""
    for path in folder.rglob(".*.crc"):
        path.unlink()


def roll_up(folder: InputFolder, built_at: datetime, work: Path, target: Path, master: str | None = None) -> list[FileLoad]:
    """Load the stage's files, run its models and write event_days/ and the quarantined rows into target."""
    spark = spark_session(master)
    try:
        _load(spark, folder, built_at)
        loads = _file_loads(spark, folder)
        for model in stage_models():
            spark.sql(to_spark(model.sql)).createOrReplaceTempView(view_name(model.qualified_name))
        spark.createDataFrame([(str(f.path),) for f in folder.of("events")] or [("",)], "source_file string") \
            .createOrReplaceTempView(view_name("rollup.event_files"))
        spark.sql(to_spark(output_sql("event_days_item"))).write.partitionBy("month").parquet(str(target / "event_days"))
        spark.sql(to_spark(output_sql("quarantine_item"))).coalesce(1).write.parquet(str(work / "quarantine"))
        _single_file(work / "quarantine", target / QUARANTINE_FILE)
        _remove_checksums(target)
    finally:
        spark.catalog.clearCache()
    return loads
