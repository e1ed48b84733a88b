# SPDX-License-Identifier: Apache-2.0
"""A Prometheus endpoint for diagnose: per-GPU reported vs real activity, the verdict, the late rank.

Why a custom Collector over a store: a scrape must never sample (NVML calls hold driver locks, and
a window needs >= 1 s), so the background loop (``diagnose --serve``: the Sampler's thread plus one
window after another) writes each judged window into a :class:`MetricsStore`, and each scrape only
reads the latest one. Names are ``waitbench_*``, ratios are 0..1, every series has ``gpu`` (the
nvidia-smi index, as DCGM's exporter labels it) and ``uuid`` labels, and every help text names the
NVML call and DCGM field it matches, so a dashboard can put both side by side.
Needs prometheus-client: ``pip install 'waitbench[exporter]'``.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import WaitbenchError, invalid
from ..telemetry.gpm import GPM_METRICS
from ..telemetry.verdict import VERDICTS
from .refresh import Refresh
from .rows import VerdictRow

DEFAULT_HOST = "127.0.0.1"
ADDRESS_RANGE = "[ADDR:]PORT with PORT in [0, 65535] (0: any free port) and ADDR a local address, IPv6 in brackets"


def _ratio(pct: float | None) -> float | None:
    return None if pct is None else pct / 100.0


@dataclass(frozen=True)
class Metric:
    """One per-GPU gauge: its name, help text (with its NVML/DCGM match) and how a row gives its value."""

    name: str
    help: str
    value: Callable[[VerdictRow], float | None]


def _gpm(field: str) -> Metric:
    m = next(g for g in GPM_METRICS if g.field == field)
    short = field.removeprefix("gpm_").removesuffix("_util_pct").removesuffix("_pct")
    special = {"sm": "sm_active", "sm_occupancy": "sm_occupancy", "dram_bw": "dram_active"}
    name = special.get(short, f"pipe_{short}_active")

    def value(r: VerdictRow) -> float | None:
        return _ratio(r.pipes_pct.get(field) if field in r.pipes_pct else getattr(r, field, None))

    return Metric(f"waitbench_{name}_ratio", f"{m.doc[0].upper()}{m.doc[1:]}, 0..1, over the last window "
                                             f"(NVML GPM {m.nvml_name}; DCGM {m.dcgm})", value)


GAUGES: tuple[Metric, ...] = (
    Metric("waitbench_reported_utilization_ratio",
           "Share of the last window a kernel was resident, as NVML reports it, 0..1 (nvmlDeviceGetSamples "
           "NVML_GPU_UTILIZATION_SAMPLES = nvidia-smi utilization.gpu; DCGM_FI_DEV_GPU_UTIL); a waiting kernel "
           "reads 1",
           lambda r: _ratio(r.nvml_util_pct)),
    Metric("waitbench_memory_utilization_ratio",
           "Share of the last window device memory was read or written, 0..1 (nvmlDeviceGetSamples "
           "NVML_MEMORY_UTILIZATION_SAMPLES = nvidia-smi utilization.memory; DCGM_FI_DEV_MEM_COPY_UTIL)",
           lambda r: _ratio(r.summary.nvml_mem_util_pct if r.summary else None)),
    _gpm("gpm_sm_util_pct"), _gpm("gpm_sm_occupancy_pct"), _gpm("gpm_tensor_util_pct"), _gpm("gpm_fp64_util_pct"),
    _gpm("gpm_fp32_util_pct"), _gpm("gpm_fp16_util_pct"), _gpm("gpm_int_util_pct"), _gpm("gpm_dram_bw_util_pct"),
    Metric("waitbench_power_watts",
           "Mean power over the last window from the energy counter (nvmlDeviceGetTotalEnergyConsumption delta / "
           "window; the rate of DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION; DCGM_FI_DEV_POWER_USAGE is a trailing average)",
           lambda r: r.power_w),
    Metric("waitbench_busy_waiting",
           "1 when the last window's verdict is busy-waiting: a kernel resident (DCGM_FI_DEV_GPU_UTIL high) while no "
           "pipe (DCGM_FI_PROF_PIPE_*_ACTIVE), DRAM (DCGM_FI_PROF_DRAM_ACTIVE) or power shows work; else 0",
           lambda r: 1.0 if r.verdict == "busy-waiting" else 0.0),
    Metric("waitbench_compute_processes",
           "Compute processes on the GPU in the last window (nvmlDeviceGetComputeRunningProcesses = nvidia-smi "
           "--query-compute-apps; no DCGM field)", lambda r: float(len(r.processes))),
    Metric("waitbench_probe_speed_ratio",
           "Throughput of waitbench's probe kernel / its idle baseline, 0..1, clamped at 1 (diagnose --probe; no NVML "
           "or DCGM field: what concurrent work could still get)", lambda r: _probe_ratio(r)),
    Metric("waitbench_likely_late_rank",
           "1 when this GPU does not wait while other GPUs of the host busy-wait: the likely late rank (waitbench's "
           "inference from the verdicts; no NVML or DCGM field)",
           lambda r: None if r.likely_late is None else float(r.likely_late)),
    Metric("waitbench_window_seconds", "Length of the last window, over which the values above are means (no NVML "
           "or DCGM field: waitbench's sampling window)", lambda r: r.window_s),
    Metric("waitbench_window_end_timestamp_seconds",
           "Unix time the last window ended, to alert on staleness (no NVML or DCGM field)", lambda r: _end_time(r)),
)


def _probe_ratio(r: VerdictRow) -> float | None:
    ratio = (r.probe or {}).get("ratio")
    return None if ratio is None else min(float(ratio), 1.0)


def _end_time(r: VerdictRow) -> float | None:
    start = r.summary.start_time_utc if r.summary else None
    if not start:
        return None
    return _dt.datetime.fromisoformat(start).timestamp() + r.window_s


def _gpu_label(r: VerdictRow) -> str:
    index = r.summary.nvml_index if r.summary else None
    return str(index) if index is not None and index >= 0 else r.gpu


class MetricsStore:
    """The latest judged window of every GPU, and the busy-waiting time accumulated per GPU (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, VerdictRow] = {}
        self._waiting_s: dict[str, float] = {}
        self.windows = 0

    def update(self, refresh: Refresh) -> None:
        """Keep the rows of ``refresh`` and add its busy-waiting time to each GPU's total."""
        with self._lock:
            for r in refresh.rows:
                self._rows[r.uuid] = r
                self._waiting_s[r.uuid] = self._waiting_s.get(r.uuid, 0.0) + (
                    r.window_s if r.verdict == "busy-waiting" else 0.0)
            self.windows += 1

    def snapshot(self) -> tuple[list[VerdictRow], dict[str, float], int]:
        """The latest rows, the busy-waiting seconds per GPU and the windows judged, consistently."""
        with self._lock:
            return list(self._rows.values()), dict(self._waiting_s), self.windows


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise WaitbenchError("the metrics endpoint needs prometheus-client: "
                             "pip install 'waitbench[exporter]'") from None
    return prometheus_client


class DiagnoseCollector:
    """A prometheus-client Collector that reads a :class:`MetricsStore` (never samples)."""

    def __init__(self, store: MetricsStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        """The metric families of the latest window (a Collector's one method); unknown values are absent."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        rows, waiting_s, windows = self.store.snapshot()
        labels = ["gpu", "uuid"]
        for m in GAUGES:
            fam = GaugeMetricFamily(m.name, m.help, labels=labels)
            for r in rows:
                value = m.value(r)
                if value is not None:  # unknown is absent, never 0
                    fam.add_metric([_gpu_label(r), r.uuid], float(value))
            yield fam
        verdict = GaugeMetricFamily("waitbench_verdict", "1 for the last window's verdict, 0 for the others: "
                                    + ", ".join(VERDICTS) + " (waitbench's verdict; no NVML or DCGM field)",
                                    labels=[*labels, "verdict"])
        for r in rows:
            for v in VERDICTS:
                verdict.add_metric([_gpu_label(r), r.uuid, v], 1.0 if r.verdict == v else 0.0)
        yield verdict
        total = CounterMetricFamily("waitbench_busy_waiting_seconds", "Seconds of windows judged busy-waiting since "
                                    "the exporter started (no NVML or DCGM field)", labels=labels)
        for r in rows:
            total.add_metric([_gpu_label(r), r.uuid], waiting_s.get(r.uuid, 0.0))
        yield total
        yield CounterMetricFamily("waitbench_windows", "Windows judged since the exporter started", value=windows)


def parse_address(text: str, argument: str = "address") -> tuple[str, int]:
    """``'9400'`` -> ``('127.0.0.1', 9400)``; ``'0.0.0.0:9400'``, ``'[::1]:9400'``, ``'localhost:0'``.

    Only ASCII digits make a port (``str.isdigit`` would take '９４００').
    """
    if not isinstance(text, str):
        raise invalid(argument, text, ADDRESS_RANGE)
    m = re.fullmatch(r"(?:\[([0-9A-Fa-f:.%\w]+)\]:|([^:\[\]\s]+):)?([0-9]{1,5})", text.strip(), re.ASCII)
    if not m or int(m.group(3)) > 65535:
        raise invalid(argument, text, ADDRESS_RANGE)
    return (m.group(1) or m.group(2) or DEFAULT_HOST), int(m.group(3))


def _loopback_only(host: str, port: int) -> bool:
    """Whether every address ``host`` resolves to is a loopback one (127.0.0.0/8, ::1)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def bind_address(address: str, *, argument: str = "address", public: bool = False) -> tuple[str, int]:
    """(host, port) to bind for ``address``: parsed, resolved, and loopback-only unless ``public``.

    ValueError naming ``argument`` for a malformed address, a host that does not resolve, or an
    address that is not loopback without ``public`` (the CLI's ``--serve-public``).
    """
    host, port = parse_address(address, argument)
    try:
        loopback = _loopback_only(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise invalid(argument, address, f"{ADDRESS_RANGE} ({host!r} does not resolve: {why})") from None
    if not loopback and not public:
        raise invalid(argument, address, "a loopback address (127.0.0.1, ::1, localhost) unless --serve-public is "
                      "also given: it serves the metrics to every host that can reach this one")
    return host, port


@dataclass
class Endpoint:
    """A running endpoint: where it listens, and how to stop it."""

    server: Any  # prometheus_client's WSGI server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        """Where the metrics are served (``http://ADDR:PORT/metrics``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5.0)


def serve(address: str, store: MetricsStore, *, argument: str = "address", public: bool = False) -> Endpoint:
    """Serve the store's metrics at ``address`` (``[ADDR:]PORT``, loopback unless told) from a daemon thread.

    The server is prometheus-client's own (``start_http_server``, a threaded WSGI server). An address
    that is not loopback-only is refused unless ``public`` (the CLI's ``--serve-public``): metrics
    name processes and command lines, which should not reach every host that can reach this one by
    accident. A malformed address, a host that does not resolve or a port that cannot be bound
    raises ValueError naming ``argument``.
    """
    pc = _prometheus()
    host, port = bind_address(address, argument=argument, public=public)
    registry = pc.CollectorRegistry(auto_describe=False)
    registry.register(DiagnoseCollector(store))
    try:
        server, thread = pc.start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise invalid(argument, address, f"an address and port this process can bind ({exc.strerror or exc})") from None
    thread.name = "waitbench-exporter"
    bound = server.server_address
    return Endpoint(server, thread, str(bound[0]), int(bound[1]))
