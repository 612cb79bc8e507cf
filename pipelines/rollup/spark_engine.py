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

from pyspark.errors import PySparkRuntimeError
from pyspark.sql import SparkSession

from pipelines.load.carried_quarantine import QUARANTINE_FILE
from pipelines.load.input_files import InputFolder
from pipelines.load.landing import FileLoad
from pipelines.rollup.spark_landing import file_loads, load
from pipelines.rollup.spark_sql import to_spark, view_name
from pipelines.rollup.stage import output_sql, stage_models

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
               .config("spark.ui.showConsoleProgress", "false")
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
    if spark.sparkContext.master.startswith("local"):
        # a few partitions per core: Spark's 200 cost more in scheduling than the work on one machine
        spark.conf.set("spark.sql.shuffle.partitions", str(4 * spark.sparkContext.defaultParallelism))
    return spark


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
        load(spark, folder, built_at)
        loads = file_loads(spark, folder)
        for model in stage_models():
            spark.sql(to_spark(model.sql)).createOrReplaceTempView(view_name(model.qualified_name))
        spark.createDataFrame([(str(f.path),) for f in folder.of("events")], "source_file string") \
            .createOrReplaceTempView(view_name("rollup.event_files"))
        spark.sql(to_spark(output_sql("event_days_item"))).write.partitionBy("month").parquet(str(target / "event_days"))
        spark.sql(to_spark(output_sql("quarantine_item"))).coalesce(1).write.parquet(str(work / "quarantine"))
        _single_file(work / "quarantine", target / QUARANTINE_FILE)
        _remove_checksums(target)
    finally:
        spark.catalog.clearCache()
    return loads
