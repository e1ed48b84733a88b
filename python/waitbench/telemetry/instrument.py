# SPDX-License-Identifier: Apache-2.0
"""Measure the instrument before trusting it: how often each NVML source really updates.

Why: a window shorter than a few update periods of its source holds one or two samples, and its
mean says little (the driver's utilization samples come every ~200 ms on an H100, so a 300 ms window
holds one). The periods are measured per device, once per process, and every window summary
carries them; windows shorter than :data:`MIN_PERIODS_PER_WINDOW` periods warn, or raise with
``strict=True``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..errors import NvmlError, invalid
from . import nvml
from .gpm import GPM_MIN_INTERVAL_S, GpmReader

# A window must span this many update periods of its slowest source. Five 200 ms utilization
# samples make the 1 s minimum window of the design (DESIGN.md, Statistics).
MIN_PERIODS_PER_WINDOW = 5
ENERGY_PROBE_S = 0.6  # how long to poll the energy counter for its update period
ENERGY_POLL_S = 0.001
GPM_PROBE_S = 0.5  # how long to take back-to-back GPM samples to see their refresh
GPM_PROBE_SPACING_S = 0.01


@dataclass(frozen=True)
class Periods:
    """Measured update periods of one device's sources (None + reason where not measurable)."""

    util_period_s: float | None
    energy_period_s: float | None
    gpm_interval_s: float | None
    reasons: dict[str, str] = field(default_factory=dict)

    def slowest_s(self) -> float:
        """The slowest known period; NVML's documented GPM floor stands in where nothing was measured."""
        known = [p for p in (self.util_period_s, self.energy_period_s, self.gpm_interval_s) if p]
        return max([*known, GPM_MIN_INTERVAL_S])

    def min_window_s(self) -> float:
        """The shortest window the instrument's rule allows: a few of its slowest periods."""
        return MIN_PERIODS_PER_WINDOW * self.slowest_s()


def _median_step(times: list[float]) -> float | None:
    steps = np.diff(np.asarray(sorted(times), dtype=float))
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else None


def util_period(dev: nvml.Device) -> tuple[float | None, str | None]:
    """Spacing of the driver's utilization samples: the median step of the buffer's timestamps.

    API: ``nvmlDeviceGetSamples(h, NVML_GPU_UTILIZATION_SAMPLES, 0)`` returns the driver's buffer with
    CPU timestamps in microseconds; no waiting needed.
    """
    nv = nvml.pynvml()
    try:
        _, samples = nvml.call("nvmlDeviceGetSamples", dev.handle, nv.NVML_GPU_UTILIZATION_SAMPLES, 0)
    except NvmlError as exc:
        return None, str(exc)
    step = _median_step([s.timeStamp / 1e6 for s in samples])
    return (step, None) if step else (None, f"the driver's buffer held {len(samples)} utilization sample(s)")


def energy_period(dev: nvml.Device, probe_s: float = ENERGY_PROBE_S) -> tuple[float | None, str | None]:
    """Update period of the energy counter: poll it every millisecond and time its changes.

    API: ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since driver load). An idle GPU still draws
    power, so the counter moves on any GPU that has it.
    """
    changes: list[float] = []
    last, reason = nvml.optional("nvmlDeviceGetTotalEnergyConsumption", dev.handle)
    if last is None:
        return None, reason
    end = time.monotonic() + probe_s
    while time.monotonic() < end:
        time.sleep(ENERGY_POLL_S)
        value, reason = nvml.optional("nvmlDeviceGetTotalEnergyConsumption", dev.handle)
        if value is None:
            return None, reason
        if value != last:
            changes.append(time.monotonic())
            last = value
    step = _median_step(changes)
    return (step, None) if step else (None, f"the energy counter changed {len(changes)} time(s) in {probe_s} s")


def gpm_interval(reader: GpmReader, probe_s: float = GPM_PROBE_S) -> tuple[float | None, str | None]:
    """Refresh period of GPM counters as seen from back-to-back samples 10 ms apart.

    A pair of samples with no counter refresh between them reads all zeros; the median time
    between pairs that read non-zero activity is the refresh period. An idle GPU shows no
    activity, so there the period cannot be seen (None + reason; NVML documents > 100 ms).
    """
    if not reader.available:
        return None, reader.reason
    refreshed: list[float] = []
    prev = reader.sample()
    end = time.monotonic() + probe_s
    try:
        while prev is not None and time.monotonic() < end:
            time.sleep(GPM_PROBE_SPACING_S)
            cur = reader.sample()
            values, _ = reader.metrics(prev, cur)
            if any(v for v in values.values()):
                refreshed.append(cur.t_s if cur else time.monotonic())
            reader.free(prev)
            prev = cur
    finally:
        reader.free(prev)
    step = _median_step(refreshed)
    if step is None:
        return None, (f"GPM refresh not visible ({len(refreshed)} active pair(s) in {probe_s} s, e.g. an idle GPU); "
                      f"NVML documents a refresh interval over {GPM_MIN_INTERVAL_S} s")
    return step, None


_cache: dict[str, Periods] = {}


def measure(dev: nvml.Device, reader: GpmReader | None = None, *, refresh: bool = False) -> Periods:
    """The device's periods, measured once per process (about a second) and cached by UUID."""
    if dev.uuid in _cache and not refresh:
        return _cache[dev.uuid]
    up, r_up = util_period(dev)
    with ThreadPoolExecutor(max_workers=1) as pool:  # the GPM probe runs while the energy counter is polled
        gpm_future = pool.submit(gpm_interval, reader if reader is not None else GpmReader(dev))
        ep, r_ep = energy_period(dev)
        gp, r_gp = gpm_future.result()
    reasons = {name: why for name, why in (("util_period_s", r_up), ("energy_period_s", r_ep),
                                           ("gpm_interval_s", r_gp)) if why}
    _cache[dev.uuid] = periods = Periods(up, ep, gp, reasons)
    return periods


def unmeasured(why: str) -> Periods:
    """Periods left unmeasured, each with the reason."""
    return Periods(None, None, None, dict.fromkeys(("util_period_s", "energy_period_s", "gpm_interval_s"),
                                                   f"instrument not measured ({why})"))


def check_window(window_s: float, periods: Periods, *, strict: bool = False) -> str | None:
    """A warning for a window too short for the instrument, or ValueError when ``strict``."""
    need = periods.min_window_s()
    if window_s >= need:
        return None
    msg = (f"window of {window_s:.3f} s is shorter than {MIN_PERIODS_PER_WINDOW} update periods of its slowest "
           f"source ({periods.slowest_s():.3f} s): its means rest on very few samples")
    if strict:
        raise invalid("window_s", round(window_s, 3), f">= {need:.3f} s for this GPU's sample periods")
    return msg
