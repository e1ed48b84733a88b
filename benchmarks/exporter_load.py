# SPDX-License-Identifier: Apache-2.0
"""``diagnose --serve`` under load: scrape latency with many scrapers connecting at once.

Serves a replayed recording (no GPU needed) from a child process on loopback, then, in each round,
starts ``--clients`` threads together (a barrier), each making ``--scrapes`` GET /metrics on a new
connection each, in bursts: scrape i of every client is due at the same instant, ``--interval`` apart
(so every burst is ``--clients`` simultaneous connects, as scrapers that share a schedule make;
``--interval 0``: back to back, a saturating closed loop). Every scrape is timed from connect to the
last byte. Prints, per round and as the median and spread (min..max) over rounds: p50, p99 and max
latency, and errors (timeouts, refused connections, a status other than 200). Target (issue 23): p99
under 50 ms with 32 clients.

    python3 benchmarks/exporter_load.py [--recording FILE] [--clients 32] [--scrapes 20] [--interval 0.2]
                                        [--rounds 5] [--server waitbench|prometheus-client]

``--server prometheus-client`` serves the same collector from prometheus-client's ``start_http_server``
(listen backlog 5), the server diagnose used before, for comparison. The child serving the metrics
reads its stdin and exits when it closes, so it dies with this process.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RECORDING = ROOT / "tests" / "data" / "diagnose" / "h100-composed-4gpu.jsonl"
TARGET_P99_MS = 50.0
REQUEST_TIMEOUT_S = 10.0

SERVER = """
import sys
from waitbench.diagnose import replay_refreshes
from waitbench.diagnose.exporter import DiagnoseCollector, MetricsStore, serve
store = MetricsStore()
for ref in replay_refreshes(sys.argv[1]):
    store.update(ref)
if sys.argv[2] == "waitbench":
    url = serve("127.0.0.1:0", store).url
else:
    import prometheus_client
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(DiagnoseCollector(store))
    server, _ = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=registry)
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
print(url, flush=True)
sys.stdin.read()  # until the benchmark exits
"""


def scrape(host: str, port: int, path: str) -> tuple[float, str | None]:
    """One GET on a new connection: (seconds from connect to the last byte, None) or (seconds, the error)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        err = None if resp.status == 200 and body else f"HTTP {resp.status}"
    except OSError as exc:  # refused, reset, timed out
        err = type(exc).__name__
    finally:
        conn.close()
    return time.perf_counter() - t0, err


def one_round(url: str, clients: int, scrapes: int, interval: float) -> tuple[list[float], list[str]]:
    """Every client's scrapes, scrape i of each due ``i * interval`` after the common start: (latencies, errors)."""
    u = urllib.parse.urlsplit(url)
    start = threading.Barrier(clients)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait(timeout=30)
        t0 = time.monotonic()
        for i in range(scrapes):
            time.sleep(max(0.0, t0 + i * interval - time.monotonic()))
            dt, err = scrape(u.hostname, u.port, u.path)
            with lock:
                (errors.append(err) if err else lat.append(dt))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=(REQUEST_TIMEOUT_S + interval) * scrapes + 30)
    return lat, errors


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values`` in ms; NaN for none."""
    if not values:
        return float("nan")
    s = sorted(values)
    return 1e3 * s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print the figures; exit 0 (the figures are the result, not a pass/fail)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recording", type=Path, default=DEFAULT_RECORDING, help="a diagnose recording to serve")
    ap.add_argument("--clients", type=int, default=32, help="concurrent scrapers (default: 32)")
    ap.add_argument("--scrapes", type=int, default=20, help="scrapes per client per round (default: 20)")
    ap.add_argument("--interval", type=float, default=0.2,
                    help="seconds between one client's scrapes, the bursts aligned across clients; 0: back to back "
                         "(default: 0.2)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default: 5)")
    ap.add_argument("--server", choices=("waitbench", "prometheus-client"), default="waitbench")
    args = ap.parse_args(argv)
    for name in ("clients", "scrapes", "rounds"):
        if not 1 <= getattr(args, name) <= 10_000:
            ap.error(f"--{name} must be in [1, 10000]")
    if not 0.0 <= args.interval <= 60.0:
        ap.error("--interval must be in [0, 60] seconds")
    if not args.recording.is_file():
        ap.error(f"--recording {args.recording} is not a file")
    child = subprocess.Popen([sys.executable, "-c", SERVER, str(args.recording), args.server],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()
        if not url:
            print("the exporter did not start", file=sys.stderr)
            return 1
        size = len(scrape_body(url))
        print(f"{args.server} exporter at {url} ({size} bytes a scrape, {args.recording.name}); "
              f"{args.clients} clients x {args.scrapes} scrapes x {args.rounds} rounds, "
              + (f"bursts {args.interval:g} s apart" if args.interval else "back to back"))
        print(f"{'round':>5}  {'p50 ms':>8}  {'p99 ms':>8}  {'max ms':>8}  {'errors':>6}")
        rows = []
        for i in range(args.rounds):
            lat, errors = one_round(url, args.clients, args.scrapes, args.interval)
            row = (pct(lat, 50), pct(lat, 99), pct(lat, 100), len(errors))
            rows.append(row)
            kinds = f"  ({', '.join(sorted(set(errors)))})" if errors else ""
            print(f"{i:>5}  {row[0]:8.2f}  {row[1]:8.2f}  {row[2]:8.2f}  {row[3]:>6}{kinds}")
        for j, name in enumerate(("p50", "p99", "max")):
            col = [r[j] for r in rows]
            print(f"{name}: median {statistics.median(col):.2f} ms (spread {min(col):.2f}..{max(col):.2f} ms)")
        med_p99 = statistics.median(r[1] for r in rows)
        print(f"errors: {sum(r[3] for r in rows)} of {args.clients * args.scrapes * args.rounds} scrapes; "
              f"p99 target < {TARGET_P99_MS:g} ms: {'met' if med_p99 < TARGET_P99_MS else 'NOT met'}")
    finally:
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


def scrape_body(url: str) -> bytes:
    """One scrape's body, to say how large a scrape is."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request("GET", u.path)
        return conn.getresponse().read()
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
