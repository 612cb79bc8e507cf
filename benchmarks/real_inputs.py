"""Real public data sets as Adoption Radar input folders, for benchmarks/real_data_check.py.

CDNOW_master (Fader, Hardie & Lee): every purchase of the 23,570 customers who first bought
at CDNOW in 1997-Q1, to 1998-06-30. It is not ours to redistribute, so it is fetched from the
`lifetimes` wheel on PyPI with pip, checked against a known sha256, and converted locally.
Run: python benchmarks/real_inputs.py [OUT_DIR]
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import polars as pl

CACHE = Path.home() / ".cache" / "adoption-radar"
LIFETIMES = "lifetimes==0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"
CDNOW_SHA256 = "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef"
ROW = r"^\s*(?<customer_id>\d+)\s+(?<date>\d{8})\s+(?<number_of_cds>\d+)\s+(?<dollar_value>[0-9.]+)\s*$"

SOURCE = """# cdnow_master: CDNOW_master as an Adoption Radar input folder

Source: the CDNOW data set of Fader, Hardie & Lee ("Counting your customers the easy way:
an alternative to the Pareto/NBD model", Marketing Science 24(2), 2005), the full master
file: every purchase of the 23,570 customers who first bought at CDNOW in 1997-01..03,
to 1998-06-30. Taken from `{member}`
in the PyPI wheel `{wheel}` (`pip download --no-deps {spec}`),
sha256 of the text file {sha256}.
Not ours: keep this note with any copy.

Converted by benchmarks/real_inputs.py (polars):
- sites.csv: one site, `cdnow`.
- users.csv: user_id = `c` + customer_id as written (zero-padded), site_id `cdnow`,
  invited_at = the customer's first purchase date at 00:00:00Z.
- events.csv: one event per purchase row ({rows:,} rows, {users:,} customers), timestamp =
  the date at 12:00:00Z, event_name `purchase`, event_id = `r` + the row's 1-based number
  after the header, so that two identical rows stay two purchases. number_of_cds and
  dollar_value are not used.
"""


def _wheel(cache: Path) -> Path:
    """The lifetimes wheel in the cache, downloaded with pip when it is not there yet."""
    found = sorted(cache.glob("[Ll]ifetimes-0.11.3-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--quiet", LIFETIMES, "-d", str(cache)], check=True)
        found = sorted(cache.glob("[Ll]ifetimes-0.11.3-*.whl"))
    if not found:
        raise FileNotFoundError(f"pip download {LIFETIMES} left no wheel in {cache}")
    return found[0]


def cdnow_purchases(cache: Path = CACHE) -> tuple[pl.DataFrame, str]:
    """The master file's rows (customer_id, date, row), checked by sha256, and the wheel's name."""
    wheel = _wheel(cache)
    raw = zipfile.ZipFile(wheel).read(MEMBER)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CDNOW_SHA256:
        raise ValueError(f"{wheel}!{MEMBER}: sha256 {digest}, expected {CDNOW_SHA256}")
    rows = (
        pl.DataFrame({"line": raw.decode("ascii").splitlines()[1:]})
        .with_row_index("row", offset=1)
        .select("row", pl.col("line").str.extract_groups(ROW).alias("f"))
        .unnest("f")
    )
    if rows["customer_id"].null_count():
        raise ValueError(f"{wheel}!{MEMBER}: {rows['customer_id'].null_count()} lines do not parse")
    return rows.select("row", "customer_id", pl.col("date").str.to_date("%Y%m%d")), wheel.name


def write_cdnow_folder(out_dir: Path | None = None, cache: Path = CACHE) -> Path:
    """Write CDNOW_master as an input folder (sites, users, events, SOURCE.md); return it."""
    out_dir = out_dir or cache / "cdnow_master"
    rows, wheel = cdnow_purchases(cache)
    out_dir.mkdir(parents=True, exist_ok=True)
    user_id = (pl.lit("c") + pl.col("customer_id")).alias("user_id")
    pl.DataFrame({"site_id": ["cdnow"], "name": ["CDNOW"]}).write_csv(out_dir / "sites.csv")
    users = rows.group_by("customer_id").agg(pl.col("date").min()).sort("customer_id").select(
        user_id, pl.lit("cdnow").alias("site_id"),
        (pl.col("date").dt.strftime("%Y-%m-%d") + "T00:00:00Z").alias("invited_at"),
    )
    users.write_csv(out_dir / "users.csv")
    rows.select(
        user_id,
        (pl.col("date").dt.strftime("%Y-%m-%d") + "T12:00:00Z").alias("timestamp"),
        pl.lit("purchase").alias("event_name"),
        (pl.lit("r") + pl.col("row").cast(pl.String)).alias("event_id"),
    ).write_csv(out_dir / "events.csv")
    (out_dir / "SOURCE.md").write_text(SOURCE.format(member=MEMBER, wheel=wheel, spec=LIFETIMES, sha256=CDNOW_SHA256,
                                                     rows=rows.height, users=users.height))
    return out_dir


if __name__ == "__main__":
    print(write_cdnow_folder(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
