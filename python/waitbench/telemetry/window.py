# SPDX-License-Identifier: Apache-2.0
"""Collection of one GPU's NVML and GPM readings over one window, and their summary.

Why separate from the sampler thread: this is where each metric's source, period and meaning live;
the thread only decides when to call :meth:`GpuWindow.poll_fast` / :meth:`GpuWindow.poll_slow`.
Cheap calls run every tick; the driver's sample buffer, clocks and temperature once a second; the
process list (slow: it holds the driver's lock) only at begin and end.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from typing import Any

from ..errors import NvmlError
from ..metrics import SUMMARIZED
from . import nvml
from .gpm import GPM_FIELDS, GPM_MIN_INTERVAL_S, GpmReader, GpmSample
from .instrument import Periods
from .summary import PERCENTILE_SERIES, WindowSummary, series_stats

# Clock-event ("throttle") reason bits of nvmlDeviceGetCurrentClocksEventReasons, by name.
THROTTLE_BITS = {
    0x1: "gpu_idle", 0x2: "applications_clocks", 0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x10: "sync_boost",
    0x20: "sw_thermal", 0x40: "hw_thermal", 0x80: "hw_power_brake", 0x100: "display_clock",
}
_VALUE_FIELDS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def throttle_names(mask: int) -> list[str]:
    """The names of the clock-event reasons set in ``mask``."""
    return [name for bit, name in THROTTLE_BITS.items() if mask & bit]


def _proc_name(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="backslashreplace") as fh:  # any bytes: prctl sets it
            return fh.read().strip()
    except OSError:
        return None  # another PID namespace (containers) or gone


class GpuWindow:
    """Readings of one GPU between begin() and end(); owns its GPM sample buffers."""

    def __init__(self, dev: nvml.Device, periods: Periods, gpm: GpmReader, period_s: float) -> None:
        self.dev = dev
        self.periods = periods
        self.gpm = gpm
        self.gpm_spacing_s = max(period_s, 2 * GPM_MIN_INTERVAL_S)
        self.series: dict[str, list[list[float]]] = {}
        self.reasons: dict[str, str] = {}
        self.throttle_mask = 0
        self.processes: dict[int, dict[str, Any]] = {}
        self._gpm_first: GpmSample | None = None
        self._gpm_last: GpmSample | None = None
        self._t0 = self._wall0_us = 0.0
        self._energy0: tuple[float, float] | None = None
        self._energy_last: tuple[float, float] | None = None
        self._util_ts = {"nvml_util_pct": 0, "nvml_mem_util_pct": 0}
        self.start_time_utc = ""
        limit, why = nvml.optional("nvmlDeviceGetEnforcedPowerLimit", dev.handle)
        self.power_limit_w = None if limit is None else limit / 1000.0
        self.power_limit_reason = why

    # --- collection -------------------------------------------------------------------------

    def _add(self, name: str, t: float, value: float | None, reason: str | None = None) -> None:
        if value is None:
            self.reasons.setdefault(name, reason or "not measured")
        else:
            self.series.setdefault(name, []).append([round(t - self._t0, 6), float(value)])

    def begin(self) -> None:
        """Start a window: clear the series and read the counters' starting values."""
        self.series, self.reasons, self.throttle_mask, self.processes = {}, {}, 0, {}
        self.start_time_utc = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
        self._t0, self._wall0_us = time.monotonic(), time.time() * 1e6
        # A utilization sample covers the driver period before its timestamp: keep only samples whose
        # period lies inside the window, or the window would report what ran before it.
        period_us = int((self.periods.util_period_s or 0.0) * 1e6)
        self._util_ts = dict.fromkeys(self._util_ts, int(self._wall0_us) + period_us)
        self._read_processes()
        energy, why = nvml.optional("nvmlDeviceGetTotalEnergyConsumption", self.dev.handle)
        self._energy0 = self._energy_last = None if energy is None else (self._t0, float(energy))
        if energy is None:
            self.reasons["power_w"] = f"energy counter: {why}"
        self._gpm_first = self._gpm_last = self.gpm.sample()
        self.poll_slow()

    def poll_fast(self) -> None:
        """Every tick: energy counter, instantaneous power, a periodic GPM sample."""
        h, now = self.dev.handle, time.monotonic()
        # Energy counter (nvmlDeviceGetTotalEnergyConsumption, mJ since driver load; updates every
        # energy_period_s, measured; no nvidia-smi query field; DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION).
        energy, why = nvml.optional("nvmlDeviceGetTotalEnergyConsumption", h)
        if energy is not None and self._energy_last is not None and energy != self._energy_last[1]:
            t_prev, e_prev = self._energy_last
            self._add("power_energy_w", now, (energy - e_prev) / 1000.0 / max(now - t_prev, 1e-9))
            self._energy_last = (now, float(energy))
        elif energy is None:
            self.reasons.setdefault("power_energy_w", why or "")
        # Instantaneous power (nvmlDeviceGetPowerUsage, mW; a trailing ~1 s average on recent
        # drivers; nvidia-smi --query-gpu=power.draw). Secondary: the energy delta is the figure.
        power, why = nvml.optional("nvmlDeviceGetPowerUsage", h)
        self._add("power_instant_w", now, None if power is None else power / 1000.0, why)
        # GPM (see gpm.py): one interval per gpm_spacing_s, for statistics over the window.
        if self._gpm_last is not None and now - self._gpm_last.t_s >= self.gpm_spacing_s:
            cur = self.gpm.sample()
            if cur is not None:
                values, _ = self.gpm.metrics(self._gpm_last, cur)
                mid = (self._gpm_last.t_s + cur.t_s) / 2
                for name, value in values.items():
                    if value is not None:
                        self._add(name, mid, value)
                if self._gpm_last is not self._gpm_first:
                    self.gpm.free(self._gpm_last)
                self._gpm_last = cur

    def poll_slow(self) -> None:
        """Once a second: the driver's utilization buffer, SM and memory clocks, temperature, clock-event reasons."""
        h, now = self.dev.handle, time.monotonic()
        nv = nvml.pynvml()
        # Utilization (nvmlDeviceGetSamples, NVML_GPU_UTILIZATION_SAMPLES / _MEMORY_: percent of each
        # driver period (~200 ms on H100) a kernel was resident / device memory was read or written;
        # nvidia-smi --query-gpu=utilization.gpu,utilization.memory shows the same, averaged).
        for name, kind in (("nvml_util_pct", nv.NVML_GPU_UTILIZATION_SAMPLES),
                           ("nvml_mem_util_pct", nv.NVML_MEMORY_UTILIZATION_SAMPLES)):
            self._read_util(name, kind)
        # SM clock (nvmlDeviceGetClockInfo NVML_CLOCK_SM, MHz, instantaneous; nvidia-smi clocks.sm).
        clock, why = nvml.optional("nvmlDeviceGetClockInfo", h, nv.NVML_CLOCK_SM)
        self._add("sm_clock_mhz", now, clock, why)
        # Memory clock (nvmlDeviceGetClockInfo NVML_CLOCK_MEM, MHz, instantaneous; nvidia-smi clocks.mem).
        clock, why = nvml.optional("nvmlDeviceGetClockInfo", h, nv.NVML_CLOCK_MEM)
        self._add("mem_clock_mhz", now, clock, why)
        # Temperature (nvmlDeviceGetTemperature NVML_TEMPERATURE_GPU, C; nvidia-smi temperature.gpu).
        temp, why = nvml.optional("nvmlDeviceGetTemperature", h, nv.NVML_TEMPERATURE_GPU)
        self._add("temperature_c", now, temp, why)
        # Clock-event reasons (nvmlDeviceGetCurrentClocksEventReasons, bitmask, instantaneous;
        # nvidia-smi clocks_event_reasons.active). Older drivers only have the "Throttle" name.
        mask, why = nvml.optional("nvmlDeviceGetCurrentClocksEventReasons", h)
        if mask is None:
            mask, why = nvml.optional("nvmlDeviceGetCurrentClocksThrottleReasons", h)
        self._add("throttle_reasons", now, mask, why)
        self.throttle_mask |= int(mask or 0)
        # PCIe throughput (nvmlDeviceGetPcieThroughput, KB/s over a 20 ms sample; every GPU, no GPM needed;
        # nvidia-smi dmon -s t). A waiter polling host-mapped memory reads the bus even when nothing works.
        for name, counter in (("pcie_tx_mib_s", nv.NVML_PCIE_UTIL_TX_BYTES),
                              ("pcie_rx_mib_s", nv.NVML_PCIE_UTIL_RX_BYTES)):
            kb, why = nvml.optional("nvmlDeviceGetPcieThroughput", h, counter)
            self._add(name, now, None if kb is None else kb / 1024.0, why)

    def _read_util(self, name: str, kind: int) -> None:
        try:
            vtype, samples = nvml.call("nvmlDeviceGetSamples", self.dev.handle, kind, self._util_ts[name])
        except NvmlError as exc:
            if exc.code != nvml.pynvml().NVML_ERROR_NOT_FOUND:  # NOT_FOUND: no new sample yet
                self.reasons.setdefault(name, str(exc))
            return
        attr = _VALUE_FIELDS.get(vtype, "uiVal")
        for s in samples:
            if s.timeStamp <= self._util_ts[name]:
                continue
            self._util_ts[name] = s.timeStamp
            t_s = self._t0 + (s.timeStamp - self._wall0_us) / 1e6
            self._add(name, t_s, float(getattr(s.sampleValue, attr)))

    def _read_processes(self) -> None:
        # Compute processes (nvmlDeviceGetComputeRunningProcesses; slow, holds the driver's lock:
        # begin and end only; nvidia-smi --query-compute-apps=pid,used_memory).
        procs, why = nvml.optional("nvmlDeviceGetComputeRunningProcesses", self.dev.handle)
        if procs is None:
            self.reasons["processes"] = why or ""
            return
        for p in procs:
            used = getattr(p, "usedGpuMemory", None)
            self.processes[int(p.pid)] = {"pid": int(p.pid), "name": _proc_name(int(p.pid)),
                                          "used_memory_bytes": None if used is None else int(used)}

    # --- summary ----------------------------------------------------------------------------

    def end(self, *, observer_pid: int | None = None) -> WindowSummary:
        """End the window and summarize it (``observer_pid``: the process that measured)."""
        self.poll_slow()
        self.poll_fast()
        self._read_processes()
        t1 = time.monotonic()
        s = WindowSummary(uuid=self.dev.uuid, index=self.dev.cuda_index, name=self.dev.name, window_s=t1 - self._t0,
                          nvml_index=self.dev.nvml_index, pci_bus_id=self.dev.pci_bus_id,
                          start_time_utc=self.start_time_utc, power_limit_w=self.power_limit_w,
                          processes=sorted(self.processes.values(), key=lambda p: p["pid"]),
                          observer_pid=observer_pid if observer_pid is not None else os.getpid(),
                          throttle_reasons=throttle_names(self.throttle_mask), series=self.series)
        if self.power_limit_w is None:
            s.null_reasons["power_limit_w"] = self.power_limit_reason or ""
        self._summarize_util(s)
        self._summarize_gpm(s)
        self._summarize_power(s, t1)
        for name, how in (*((m.window, m.summarize) for m in SUMMARIZED), ("temperature_c", "max"),
                          ("pcie_tx_mib_s", "mean"), ("pcie_rx_mib_s", "mean")):
            st = series_stats(self.series.get(name, []), percentiles=False)
            if st:
                s.stats[name] = st
                setattr(s, name, st[how])
            else:
                s.null(name, self.reasons.get(name, "no reading in the window"))
        for name in self.series:
            if name not in s.stats:
                s.stats[name] = series_stats(self.series[name], percentiles=name in PERCENTILE_SERIES)
        if "processes" in self.reasons:
            s.warnings.append(f"process list unavailable: {self.reasons['processes']}")
        s.util_period_s, s.energy_period_s, s.gpm_interval_s = (self.periods.util_period_s,
                                                                self.periods.energy_period_s,
                                                                self.periods.gpm_interval_s)
        for name, why in self.periods.reasons.items():
            s.null_reasons[name] = why
        return s

    def _summarize_util(self, s: WindowSummary) -> None:
        up = self.periods.util_period_s
        for name in ("nvml_util_pct", "nvml_mem_util_pct"):
            points = self.series.get(name, [])
            values = [v for _, v in points]
            if not values:
                every = f" (the driver samples every {up:.2f} s)" if up else ""
                s.null(name, self.reasons.get(name) or f"no utilization sample in the {s.window_s:.2f} s window{every}")
            elif max(values) > 100.5:
                s.null(name, f"a utilization sample read {max(values):g}, above 100: unexpected unit from this driver")
            else:
                setattr(s, name, sum(values) / len(values))

    def _summarize_gpm(self, s: WindowSummary) -> None:
        last = self.gpm.sample() if self._gpm_first is not None else None
        values, reasons = self.gpm.metrics(self._gpm_first, last)
        for name in GPM_FIELDS:
            if values[name] is None:
                s.null(name, reasons.get(name) or self.gpm.reason or "not measured")
            else:
                setattr(s, name, values[name])
        self.gpm.free(last)
        if self._gpm_last is not None and self._gpm_last is not self._gpm_first:
            self.gpm.free(self._gpm_last)
        self.gpm.free(self._gpm_first)
        self._gpm_first = self._gpm_last = None

    def _summarize_power(self, s: WindowSummary, t1: float) -> None:
        # Mean power = energy counter delta / time (nvmlDeviceGetTotalEnergyConsumption, mJ). Each end
        # of the window is uncertain by one energy_period_s; windows span >= 5 of them.
        energy, why = nvml.optional("nvmlDeviceGetTotalEnergyConsumption", self.dev.handle)
        if energy is None or self._energy0 is None:
            s.null("power_w", self.reasons.get("power_w") or f"energy counter: {why}")
        else:
            t0, e0 = self._energy0
            s.power_w = (float(energy) - e0) / 1000.0 / max(t1 - t0, 1e-9)
        inst = self.series.get("power_instant_w", [])
        if inst:
            s.power_instant_w = sum(v for _, v in inst) / len(inst)
        else:
            s.null("power_instant_w", self.reasons.get("power_instant_w", "no reading in the window"))

    def close(self) -> None:
        """Free any GPM buffers of a window that was never ended."""
        for sample in {id(x): x for x in (self._gpm_first, self._gpm_last) if x is not None}.values():
            self.gpm.free(sample)
        self._gpm_first = self._gpm_last = None
