# SPDX-License-Identifier: Apache-2.0
"""The Prometheus endpoint: served from the committed COMPOSED recording (real H100 windows laid out as four
GPUs, tests/data/diagnose/make_composed.py), scraped over HTTP with urllib and parsed with prometheus-client's
parser; bad addresses; and, on a GPU, live values while a waiter runs in another process.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import waitbench
from helpers.composed_windows import COMPOSED_4GPU

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from waitbench.diagnose import replay_refreshes  # noqa: E402
from waitbench.diagnose.endpoint import parse_address  # noqa: E402
from waitbench.diagnose.exporter import GAUGES, MetricsStore, serve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PKG_PATH = str(Path(waitbench.__file__).resolve().parents[1])  # subprocesses import the waitbench this test does


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """Metric name -> {(gpu, UUID[, verdict]): value} from one real HTTP scrape."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        text = resp.read().decode()
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(text):
        assert fam.name.startswith("waitbench_"), fam.name
        assert fam.documentation
        for s in fam.samples:
            key = tuple(s.labels.get(k) for k in ("gpu", "UUID", "verdict") if k in s.labels)
            out.setdefault(s.name, {})[key] = s.value
    return out


def store_of(path: Path) -> MetricsStore:
    store = MetricsStore()
    for ref in replay_refreshes(path):
        store.update(ref)
    return store


@pytest.mark.parametrize("text, expected", [
    ("9400", ("127.0.0.1", 9400)), ("0.0.0.0:9400", ("0.0.0.0", 9400)), ("[::1]:0", ("::1", 0)),
    ("localhost:65535", ("localhost", 65535)),
])
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "70000", ":9400", "::1:9400", "host:", "9400:host", "-1", "1.2.3.4:x",
                                  "９４００", "127.0.0.1:９４００", "٩٤٠٠"])
def test_parse_address_rejects(text):
    with pytest.raises(ValueError, match="PORT"):
        parse_address(text, "--serve")


def test_help_texts_name_their_nvml_or_dcgm_field():
    for m in GAUGES:
        assert "NVML" in m.help or "DCGM" in m.help or "nvml" in m.help, m.name
        assert m.name.startswith("waitbench_")


def test_endpoint_serves_a_replayed_composed_recording():
    endpoint = serve("127.0.0.1:0", store_of(COMPOSED_4GPU))
    try:
        assert endpoint.host == "127.0.0.1" and endpoint.port > 0
        got = scrape(endpoint.url)
    finally:
        endpoint.close()
    uuids = {key[1] for key in got["waitbench_busy_waiting"]}
    assert len(uuids) == 4
    by_gpu = {key[0]: v for key, v in got["waitbench_busy_waiting"].items()}
    # The last refresh: GPUs 0, 2, 3 in waiting kernels, GPU 1's process blocked on the host.
    assert by_gpu == {"0": 1.0, "1": 0.0, "2": 1.0, "3": 1.0}
    assert {k[0]: v for k, v in got["waitbench_likely_late_rank"].items()} == {"0": 0.0, "1": 1.0, "2": 0.0, "3": 0.0}
    for name, samples in got.items():
        if name.endswith("_ratio"):
            assert all(0.0 <= v <= 1.0 for v in samples.values()), name
    assert got["waitbench_reported_utilization_ratio"][("0", "GPU-5051221a-12da-e73c-23f6-fc0066ce3d00")] > 0.9
    verdicts = got["waitbench_verdict"]
    assert verdicts[("1", "GPU-5051221a-12da-e73c-23f6-fc0066ce3d01", "idle")] == 1.0
    assert sum(v for k, v in verdicts.items() if k[0] == "1") == 1.0
    # GPU 0 waited in refreshes 1 and 2 of the recording; GPU 1 never did.
    waited = {k[0]: v for k, v in got["waitbench_busy_waiting_seconds_total"].items()}
    assert waited["1"] == 0.0 and 4.0 < waited["0"] < 6.0
    assert got["waitbench_windows_total"][()] == 3.0
    assert "waitbench_probe_speed_ratio" not in got  # no probe in the recording: absent, never 0


def test_every_gpu_series_carries_dcgm_exporters_labels_with_its_meanings():
    """dcgm-exporter's GPU labels (render_metrics.go): gpu = NVML index, UUID "GPU-...", pci_bus_id in NVML's form,
    device "nvidia<gpu>", modelName, Hostname ($NODE_NAME first): a join ``on(UUID)`` or ``on(Hostname, gpu)``
    with DCGM_FI_* series matches.
    """
    endpoint = serve("127.0.0.1:0", store_of(COMPOSED_4GPU), hostname="gpu-node-7")
    try:
        with urllib.request.urlopen(endpoint.url, timeout=10) as resp:
            text = resp.read().decode()
    finally:
        endpoint.close()
    samples = [s for fam in text_string_to_metric_families(text) for s in fam.samples]
    per_gpu = [s for s in samples if s.name != "waitbench_windows_total" and s.name != "waitbench_build_info"]
    assert per_gpu
    for s in per_gpu:
        labels = {k: v for k, v in s.labels.items() if k != "verdict"}
        assert set(labels) == {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"}, s
        assert labels["UUID"].startswith("GPU-") and labels["Hostname"] == "gpu-node-7"
        assert labels["device"] == f"nvidia{labels['gpu']}"
        assert re.fullmatch(r"[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-9A-F]", labels["pci_bus_id"]), labels
        assert labels["modelName"] == "NVIDIA H100 80GB HBM3 (composed)"
    # the recording's GPU 3 (nvml_index 3, bus 0000:00:09.0) keeps those identities
    gpu3 = {s.labels["pci_bus_id"] for s in per_gpu if s.labels["gpu"] == "3"}
    assert gpu3 == {"00000000:00:09.0"}


def test_hostname_label_is_node_name_first(monkeypatch):
    from waitbench.diagnose.exporter import exporter_hostname

    monkeypatch.setenv("NODE_NAME", "k8s-node-3")
    assert exporter_hostname() == "k8s-node-3"
    monkeypatch.delenv("NODE_NAME")
    assert exporter_hostname() == socket.gethostname()


def test_build_info_says_version_schema_and_native_modules():
    from waitbench.results import SCHEMA_VERSION

    endpoint = serve("127.0.0.1:0", MetricsStore())
    try:
        with urllib.request.urlopen(endpoint.url, timeout=10) as resp:
            fams = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    finally:
        endpoint.close()
    (sample,) = fams["waitbench_build_info"].samples
    assert sample.value == 1.0
    assert sample.labels["version"] == waitbench.__version__
    assert sample.labels["schema_version"] == str(SCHEMA_VERSION)
    assert sample.labels["native_host"] in ("true", "false") and sample.labels["native_cuda"] in ("true", "false")


def test_head_is_get_without_a_body_and_other_methods_are_405():
    endpoint = serve("127.0.0.1:0", store_of(COMPOSED_4GPU))
    try:
        with urllib.request.urlopen(endpoint.url, timeout=10) as resp:
            get_len = len(resp.read())
            get_type = resp.headers["Content-Type"]
        with urllib.request.urlopen(urllib.request.Request(endpoint.url, method="HEAD"), timeout=10) as resp:
            assert resp.status == 200 and resp.read() == b""
            assert int(resp.headers["Content-Length"]) == get_len and resp.headers["Content-Type"] == get_type
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(endpoint.url, data=b"x", method="POST"), timeout=10)
        assert err.value.code == 405 and "GET" in err.value.headers["Allow"]
        with urllib.request.urlopen(urllib.request.Request(endpoint.url, method="OPTIONS"), timeout=10) as resp:
            assert resp.status == 200 and resp.headers["Allow"] == "GET, HEAD, OPTIONS" and resp.read() == b""
    finally:
        endpoint.close()


def test_gzip_and_openmetrics_are_negotiated_and_cached_per_window():
    import gzip

    store = store_of(COMPOSED_4GPU)
    endpoint = serve("127.0.0.1:0", store)
    try:
        req = urllib.request.Request(endpoint.url, headers={"Accept-Encoding": "gzip",
                                                             "Accept": "application/openmetrics-text"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            text = gzip.decompress(resp.read()).decode()
        assert text.rstrip().endswith("# EOF") and "waitbench_busy_waiting{" in text
        before = scrape(endpoint.url)["waitbench_windows_total"][()]
        store.update(next(iter(replay_refreshes(COMPOSED_4GPU))))  # a new window: the next scrape shows it
        assert scrape(endpoint.url)["waitbench_windows_total"][()] == before + 1
    finally:
        endpoint.close()


def test_concurrent_connects_are_all_served():
    """More simultaneous connects than the old backlog of 5: every one is answered (timing is the benchmark's)."""
    import threading

    endpoint = serve("127.0.0.1:0", store_of(COMPOSED_4GPU))
    statuses: list[int] = []
    start = threading.Barrier(40)

    def client() -> None:
        start.wait(timeout=30)
        with urllib.request.urlopen(endpoint.url, timeout=30) as resp:
            resp.read()
            statuses.append(resp.status)

    threads = [threading.Thread(target=client) for _ in range(40)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        endpoint.close()
    assert statuses == [200] * 40


def test_a_public_address_needs_to_be_asked_for():
    with pytest.raises(ValueError, match=r"expected a loopback address .* unless --serve-public"):
        serve("0.0.0.0:0", MetricsStore(), argument="--serve")
    endpoint = serve("0.0.0.0:0", MetricsStore(), public=True)  # scraped here over loopback only
    try:
        assert endpoint.host == "0.0.0.0"
        assert scrape(f"http://127.0.0.1:{endpoint.port}/metrics")["waitbench_windows_total"][()] == 0.0
    finally:
        endpoint.close()


def test_empty_store_serves_no_gpu_series():
    endpoint = serve("127.0.0.1:0", MetricsStore())
    try:
        got = scrape(endpoint.url)
    finally:
        endpoint.close()
    assert "waitbench_busy_waiting" not in got and got["waitbench_windows_total"][()] == 0.0


def start_cli_server(*args: str, env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``waitbench diagnose --serve 127.0.0.1:0 ...`` in a subprocess; returns it and its /metrics URL."""
    env = dict(os.environ, PYTHONPATH=PKG_PATH, **(env_extra or {}))
    proc = subprocess.Popen([sys.executable, "-m", "waitbench", "diagnose", "--serve", "127.0.0.1:0", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            if "serving metrics on " in line:
                return proc, line.split("serving metrics on ")[1].split()[0]
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"no endpoint announced; exit {proc.poll()}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_serves_a_replay_and_stops_cleanly_on_sigterm():
    proc, url = start_cli_server("--replay", str(COMPOSED_4GPU))
    try:
        got = scrape(url)
    finally:
        code = stop(proc)
    assert code == 0
    assert {k[0]: v for k, v in got["waitbench_busy_waiting"].items()}["3"] == 1.0


def test_cli_bad_bind_is_one_line_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for address, needle in ((f"127.0.0.1:{port}", "an address and port this process can bind"),
                                ("nosuchhost.invalid:9400", "does not resolve")):
            proc = subprocess.run([sys.executable, "-m", "waitbench", "diagnose", "--replay", str(COMPOSED_4GPU),
                                   "--serve", address], capture_output=True, text=True, timeout=60, cwd=ROOT,
                                  env=dict(os.environ, PYTHONPATH=PKG_PATH))
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode == 2 and len(lines) == 1, proc.stderr
            assert lines[0].startswith(f"waitbench: --serve={address!r} is invalid") and needle in lines[0]


WAITER = """
import sys, waitbench
with waitbench.Waiter("spin", gpu=0, timeout_s=60.0):
    print("armed", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.gpu
def test_live_endpoint_while_a_waiter_runs_in_another_process():
    from waitbench._native import native

    uuid = str(native().device_info(0)["uuid"])
    env = dict(os.environ, PYTHONPATH=PKG_PATH)
    waiter = subprocess.Popen([sys.executable, "-c", WAITER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
    server = None
    try:
        assert waiter.stdout.readline().strip() == "armed"
        server, url = start_cli_server("--gpus", uuid, "--seconds", "1")
        deadline, got = time.monotonic() + 15, {}
        while time.monotonic() < deadline and not got.get("waitbench_busy_waiting"):
            time.sleep(0.5)
            got = scrape(url)
        (value,) = got["waitbench_busy_waiting"].values()
        assert value == 1.0, got.get("waitbench_verdict")
        (reported,) = got["waitbench_reported_utilization_ratio"].values()
        assert reported > 0.5
        assert next(iter(got["waitbench_busy_waiting"]))[1] == uuid
    finally:
        if server is not None:
            assert stop(server) == 0
        waiter.stdin.write("\n")
        waiter.stdin.flush()
        waiter.wait(timeout=30)
