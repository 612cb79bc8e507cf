"""How fast each page answers on a large portfolio: p50 and p95 of its HTTP requests.

    python benchmarks/app_latency.py                 # builds the 50,000-user demo once, then measures
    python benchmarks/app_latency.py --db FILE       # measures an existing build

Every page is served with a reviews store of --actions CSM actions (made once, beside the
demo, from the build's flags), since pages read it for review state and write the access log.

A script, not a test: it starts `adoption serve` on 127.0.0.1, then for a bounded number
of rounds sends each page's requests as the browser does (the page router's callback,
which runs the page's layout, and the page's own callbacks) and times them. The target (issue
16) is p95 <= 50 ms for every request; `--check` exits 1 when a request misses it. Only loopback
traffic; the loop stops after --rounds rounds or --max-seconds, whichever comes first.
"""
from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datetime import date, timedelta

import duckdb

from metrics.reviews.store import OUTCOMES, Action, ReviewStore

ADOPTION = str(Path(sys.executable).with_name("adoption"))
TARGET_P95_MS = 50.0
UNREADABLE = "could not be read"


def _run(*args: str) -> None:
    print("$ adoption", " ".join(args), flush=True)
    subprocess.run([ADOPTION, *args], check=True)


def demo_db(workdir: Path, users: int, sites: int) -> Path:
    """The large demo, built once into workdir and reused by later runs."""
    db = workdir / "demo.duckdb"
    if not db.exists():
        workdir.mkdir(parents=True, exist_ok=True)
        if not (workdir / "input").exists():
            _run("demo", "--out", str(workdir / "input"), "--users", str(users), "--sites", str(sites))
        _run("build", "--input", str(workdir / "input"), "--db", str(db))
    return db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reviews_store(db: Path, path: Path, n_actions: int) -> Path:
    """A store of n_actions CSM actions, made once: on the build's flags (contacts with every
    outcome, snoozes, undos) by their sites' owners, and the rest on earlier drops of the same
    users, as a store that has been used for months holds."""
    if path.exists():
        return path
    with duckdb.connect(str(db), read_only=True) as con:
        flags = con.execute(
            "select u.user_id, u.drop_week, u.site_id, u.status, coalesce(s.owner, 'local') from user_status u "
            "left join core.sites s using (site_id) where u.status in ('quiet', 'silent_churn') "
            "and u.drop_week is not null order by hash(u.user_id)").fetchall()
    store = ReviewStore(path)
    print(f"writing {n_actions:,} actions to {path}", flush=True)
    for i in range(n_actions):
        user, week, site, status, owner = flags[i % len(flags)]
        week = week - timedelta(weeks=4 * (i // len(flags)))  # past rounds: earlier drops
        if i % 3 == 0:
            action = Action(user, week, site, status, owner, "contacted", outcome=OUTCOMES[i % len(OUTCOMES)])
        else:
            action = Action(user, week, site, status, owner, "snoozed", snoozed_until=date.today() + timedelta(days=i % 30))
        action_id = store.record(action)
        if i % 50 == 49:
            store.record(Action(user, week, site, status, owner, "undone", undoes=action_id))
    return path


@contextmanager
def serving(db: Path, reviews: Path) -> Iterator[int]:
    """`adoption serve` in a child process, on loopback; yields its port once it answers."""
    port = _free_port()
    process = subprocess.Popen([ADOPTION, "serve", "--db", str(db), "--port", str(port), "--reviews", str(reviews)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("adoption serve did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _router(pathname: str, search: str = "") -> dict:
    """The callback the browser sends to render a page: Dash Pages' router, which runs its layout."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "changedPropIds": ["_pages_location.pathname", "_pages_location.search"],
    }


def _sites_filter(owner: str, risk: str) -> dict:
    return {
        "output": "sites-ranking.children",
        "outputs": {"id": "sites-ranking", "property": "children"},
        "inputs": [{"id": "sites-owner", "property": "value", "value": owner},
                   {"id": "sites-region", "property": "value", "value": ""},
                   {"id": "sites-risk", "property": "value", "value": risk}],
        "changedPropIds": ["sites-risk.value"],
    }


def _site_download(site_id: str) -> dict:
    return {
        "output": "..site-download.data...site-download-status.children..",
        "outputs": [{"id": "site-download", "property": "data"},
                    {"id": "site-download-status", "property": "children"}],
        "inputs": [{"id": "site-download-button", "property": "n_clicks", "value": 1}],
        "state": [{"id": "site-key", "property": "data", "value": site_id}],
        "changedPropIds": ["site-download-button.n_clicks"],
    }


def sample_sites(db: Path, n: int) -> tuple[list[str], str]:
    """Site ids to open (the most silent churn first, then spread over the rest) and one owner."""
    with duckdb.connect(str(db), read_only=True) as con:
        ids = [site for (site,) in con.execute(
            "select site_id from user_status group by site_id order by count(*) filter (where status = 'silent_churn') "
            "desc, site_id"
        ).fetchall()]
        [(owner,)] = con.execute("select min(owner) from core.sites").fetchall()
    step = max(len(ids) // n, 1)
    return ids[::step][:n], owner or ""


def requests(site_ids: list[str], owner: str) -> dict[str, list[tuple[str, str, dict | None]]]:
    """Per page, the requests a browser sends for it (method, path, JSON body)."""
    update = "/_dash-update-component"
    return {
        "index HTML": [("GET", "/", None)],
        "/ layout": [("POST", update, _router("/"))],
        "/sites layout": [("POST", update, _router("/sites"))],
        "/sites?risk=high layout": [("POST", update, _router("/sites", f"?risk=high&owner={owner}"))],
        "/sites filter callback": [("POST", update, _sites_filter(owner, "medium"))],
        "/sites/<id> layout": [("POST", update, _router(f"/sites/{site}")) for site in site_ids],
        "/sites/<id> CSV download": [("POST", update, _site_download(site)) for site in site_ids],
        "/training layout": [("POST", update, _router("/training"))],
        "/data layout": [("POST", update, _router("/data"))],
        "/queue layout": [("POST", update, _router("/queue"))],
        "/journey layout": [("POST", update, _router("/journey"))],
        "/journey?site=<id> layout": [("POST", update, _router("/journey", f"?site={site}")) for site in site_ids],
    }


def timed(connection: http.client.HTTPConnection, method: str, path: str, body: dict | None) -> float:
    """Milliseconds from sending the request to reading the whole answer."""
    payload = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if payload else {}
    start = time.perf_counter()
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    content = response.read()
    elapsed = (time.perf_counter() - start) * 1000
    if response.status != 200 or UNREADABLE.encode() in content:
        raise RuntimeError(f"{method} {path} answered {response.status}: {content[:300]!r}")
    return elapsed


def measure(port: int, plan: dict[str, list[tuple[str, str, dict | None]]], rounds: int, warmup: int,
            max_seconds: float) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Round-robin over every page's requests; the first `warmup` rounds are not counted. Also
    each page's first request after the server started (what a page reads once per process,
    /queue's flags, is read then)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    timings: dict[str, list[float]] = {name: [] for name in plan}
    first: dict[str, float] = {}
    deadline = time.monotonic() + max_seconds
    for round_ in range(warmup + rounds):
        if time.monotonic() > deadline:
            print(f"stopped after {round_} rounds: --max-seconds reached", flush=True)
            break
        for name, calls in plan.items():
            method, path, body = calls[round_ % len(calls)]
            elapsed = timed(connection, method, path, body)
            first.setdefault(name, elapsed)
            if round_ >= warmup:
                timings[name].append(elapsed)
    connection.close()
    return timings, first


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def report(timings: dict[str, list[float]], first: dict[str, float]) -> bool:
    """Print p50/p95/max per request, and the first after the start; True when every p95 meets
    the target."""
    print(f"\n{'request':<28}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'first ms':>10}")
    ok = True
    for name, values in timings.items():
        if not values:
            continue
        p95 = percentile(values, 95)
        ok &= p95 <= TARGET_P95_MS
        flag = "" if p95 <= TARGET_P95_MS else f"  over {TARGET_P95_MS:.0f} ms"
        print(f"{name:<28}{len(values):>5}{percentile(values, 50):>9.1f}{p95:>9.1f}{max(values):>9.1f}"
              f"{first[name]:>10.1f}{flag}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="an existing build to measure (default: build the demo)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "adoption-latency",
                        help="where the demo is built and kept between runs")
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--actions", type=int, default=10_000, help="CSM actions in the reviews store")
    parser.add_argument("--rounds", type=int, default=60, help="measured rounds over every page")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--check", action="store_true", help="exit 1 when a p95 is over its target")
    parser.add_argument("--clean", action="store_true", help="remove the workdir's demo after measuring")
    args = parser.parse_args()

    db = args.db or demo_db(args.workdir, args.users, args.sites)
    site_ids, owner = sample_sites(db, 20)
    with duckdb.connect(str(db), read_only=True) as con:
        [(users, sites)] = con.execute("select count(*), count(distinct site_id) from user_status").fetchall()
    print(f"Measuring {db} ({users:,} users, {sites:,} sites), {args.rounds} rounds after {args.warmup} warm-up.")
    reviews = reviews_store(db, db.with_name(f"{db.stem}.{args.actions}-actions.reviews.sqlite"), args.actions)
    with serving(db, reviews) as port:
        ok = report(*measure(port, requests(site_ids, owner), args.rounds, args.warmup, args.max_seconds))
    print(f"\ntarget p95 <= {TARGET_P95_MS:.0f} ms: {'met' if ok else 'MISSED'}")
    if args.clean and args.db is None:
        shutil.rmtree(args.workdir)
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
