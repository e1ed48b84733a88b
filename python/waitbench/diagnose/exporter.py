# SPDX-License-Identifier: Apache-2.0
"""A Prometheus endpoint for diagnose: per-GPU reported vs real activity, the verdict, the late rank.

Why a custom Collector over a store: a scrape must never sample (NVML calls hold driver locks, and
a window needs >= 1 s), so the background loop (``diagnose --serve``: the Sampler's thread plus one
window after another) writes each judged window into a :class:`MetricsStore`, and each scrape only
reads the latest one. Names are ``waitbench_*``, ratios are 0..1, and every per-GPU series carries
dcgm-exporter's own labels with its meanings (:data:`GPU_LABELS`), so a query joins waitbench's
series with DCGM's ``on(UUID)`` or ``on(Hostname, gpu)``; every help text names the NVML call and DCGM
field it matches, so a dashboard can put both side by side.
Needs prometheus-client: ``pip install 'waitbench[exporter]'``.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import importlib
import os
import platform
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..errors import WaitbenchError
from ..metrics import GAUGED
from ..profiler.collector import WaitCounters
from ..results import SCHEMA_VERSION
from ..telemetry.gpm import GPM_METRICS
from ..telemetry.nvml import nvml_bus_id
from ..telemetry.verdict import VERDICTS
from . import endpoint
from .refresh import Refresh
from .rows import VerdictRow

# dcgm-exporter's labels of a GPU series (its render_metrics.go template), with its meanings: ``gpu`` the
# NVML (nvidia-smi) index, ``UUID`` NVML's "GPU-..." string, ``pci_bus_id`` NVML's form "00000000:3B:00.0",
# ``device`` "nvidia<gpu>", ``modelName`` nvmlDeviceGetName, ``Hostname`` $NODE_NAME or the host name.
GPU_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname")
NATIVE_MODULES = (("native_host", "_host"), ("native_cuda", "_C"))  # build-info label, compiled module


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


def _table_value(attr: str, scale: float) -> Callable[[VerdictRow], float | None]:
    """A gauge's value from the window summary behind the row (a metric table entry's ``window``)."""
    def value(r: VerdictRow) -> float | None:
        v = getattr(r.summary, attr, None) if r.summary else None
        return None if v is None else v * scale

    return value


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
    *(Metric(m.gauge.name, m.gauge.help, _table_value(m.window, m.gauge.scale))
      for m in GAUGED if m.gauge and m.window),
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
    """The NVML index, as dcgm-exporter's ``gpu``; empty (absent) where a recording does not say it."""
    index = r.summary.nvml_index if r.summary else None
    return str(index) if index is not None and index >= 0 else ""


def gpu_label_values(r: VerdictRow, hostname: str) -> list[str]:
    """The values of :data:`GPU_LABELS` for ``r``'s GPU; an unknown one is empty (absent, to Prometheus)."""
    gpu = _gpu_label(r)
    bus = r.summary.pci_bus_id if r.summary else None
    return [gpu, r.uuid, nvml_bus_id(bus) if bus else "", f"nvidia{gpu}" if gpu.isdigit() else "", r.name,
            hostname]


def exporter_hostname() -> str:
    """The ``Hostname`` label: ``$NODE_NAME`` where set (a Kubernetes pod), else this host's name, as dcgm-exporter."""
    return os.environ.get("NODE_NAME") or socket.gethostname()


def build_labels() -> dict[str, str]:
    """The labels of ``waitbench_build_info``: versions, and which compiled modules this install can import."""
    labels = {"version": __version__, "schema_version": str(SCHEMA_VERSION), "python": platform.python_version()}
    for label, module in NATIVE_MODULES:
        try:
            importlib.import_module(f"waitbench.{module}")
        except ImportError:
            labels[label] = "false"
        else:
            labels[label] = "true"
    return labels


class MetricsStore:
    """The latest judged window of every GPU, its busy-waiting time summed, and profiled jobs' NCCL waits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, VerdictRow] = {}
        self._waiting_s: dict[str, float] = {}
        self.windows = 0
        self.nccl = WaitCounters()

    def update(self, refresh: Refresh) -> None:
        """Keep the rows of ``refresh`` and add its busy-waiting time to each GPU's total."""
        with self._lock:
            for r in refresh.rows:
                self._rows[r.uuid] = r
                self._waiting_s[r.uuid] = self._waiting_s.get(r.uuid, 0.0) + (
                    r.window_s if r.verdict == "busy-waiting" else 0.0)
            for w in refresh.waits:
                self.nccl.add(w.job, w.accounting, w.rings)
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

    def __init__(self, store: MetricsStore, hostname: str | None = None) -> None:
        self.store = store
        self.hostname = exporter_hostname() if hostname is None else hostname
        self.build = build_labels()  # what is installed does not change while serving

    def collect(self) -> Iterator[Any]:
        """The metric families of the latest window (a Collector's one method); unknown values are absent."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        rows, waiting_s, windows = self.store.snapshot()
        labels = {r.uuid: gpu_label_values(r, self.hostname) for r in rows}
        for m in GAUGES:
            fam = GaugeMetricFamily(m.name, m.help, labels=GPU_LABELS)
            for r in rows:
                value = m.value(r)
                if value is not None:  # unknown is absent, never 0
                    fam.add_metric(labels[r.uuid], float(value))
            yield fam
        verdict = GaugeMetricFamily("waitbench_verdict", "1 for the last window's verdict, 0 for the others: "
                                    + ", ".join(VERDICTS) + " (waitbench's verdict; no NVML or DCGM field)",
                                    labels=[*GPU_LABELS, "verdict"])
        for r in rows:
            for v in VERDICTS:
                verdict.add_metric([*labels[r.uuid], v], 1.0 if r.verdict == v else 0.0)
        yield verdict
        total = CounterMetricFamily("waitbench_busy_waiting_seconds", "Seconds of windows judged busy-waiting since "
                                    "the exporter started (no NVML or DCGM field)", labels=GPU_LABELS)
        for r in rows:
            total.add_metric(labels[r.uuid], waiting_s.get(r.uuid, 0.0))
        yield total
        yield CounterMetricFamily("waitbench_windows", "Windows judged since the exporter started", value=windows)
        info = GaugeMetricFamily("waitbench_build_info", "Always 1: the installed waitbench's version, its results "
                                 "schema, the Python it runs on and which compiled modules it has",
                                 labels=list(self.build))
        info.add_metric(list(self.build.values()), 1.0)
        yield info
        yield from self.store.nccl.families(self.hostname)  # none unless a job ran with the profiler plugin


class MetricsRender:
    """What a scrape gets: the registry rendered once per judged window, those bytes served to every scrape.

    Why: the store changes once a window (seconds), scrapes come far more often and at once (several
    Prometheus replicas, dashboards, probes); rendering every scrape under the GIL made 32 concurrent
    scrapers wait ~60 ms each on two cores. Each (window, format, gzip) is rendered once; prometheus-client
    chooses the format from Accept (text or OpenMetrics) and gzip from Accept-Encoding, as its own server does.
    """

    def __init__(self, registry: Any, store: MetricsStore) -> None:
        self.registry = registry
        self.store = store
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, str, bool], bytes] = {}

    def __call__(self, accept: str | None, accept_encoding: str | None) -> tuple[bytes, list[tuple[str, str]]]:
        """The scrape's body and headers for these Accept and Accept-Encoding headers."""
        from prometheus_client.exposition import choose_encoder, gzip_accepted

        encoder, content_type = choose_encoder(accept or "")
        gz = gzip_accepted(accept_encoding or "")
        key = (self.store.windows, content_type, gz)  # read before rendering: a window judged meanwhile re-renders
        with self._lock:
            body = self._cache.get(key)
        if body is None:
            body = encoder(self.registry)
            if gz:
                body = gzip.compress(body)
            with self._lock:
                self._cache = {k: v for k, v in self._cache.items() if k[0] == key[0]}
                self._cache[key] = body
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        return body, [*headers, ("Content-Encoding", "gzip")] if gz else headers


def serve(address: str, store: MetricsStore, *, argument: str = "address", public: bool = False,
          hostname: str | None = None) -> endpoint.Endpoint:
    """Serve the store's metrics at ``address`` (``[ADDR:]PORT``, loopback unless told) from a daemon thread.

    The server is :mod:`waitbench.diagnose.endpoint`'s (a deep listen backlog, HEAD answered) around
    :class:`MetricsRender` (rendered once per window). An address that is not loopback-only is refused unless ``public``
    (the CLI's ``--serve-public``): the metrics tell which GPUs of this host wait and how many
    processes hold them, which should not reach every host that can reach this one by accident. A
    malformed address, a host that does not resolve or a port that cannot be bound raises ValueError
    naming ``argument``. ``hostname`` sets the ``Hostname`` label (default: :func:`exporter_hostname`).
    """
    pc = _prometheus()
    registry = pc.CollectorRegistry(auto_describe=False)
    registry.register(DiagnoseCollector(store, hostname))
    return endpoint.start(address, MetricsRender(registry, store), argument=argument, public=public)
