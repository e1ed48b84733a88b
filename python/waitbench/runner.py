# SPDX-License-Identifier: Apache-2.0
"""The interference benchmark: each strategy alone, its wake-up latency, and what it costs real work.

For each strategy, in one process on one GPU: the waiter alone (reported vs real utilization, power,
host CPU, verdict), its wake-up latency, and each workload's throughput solo vs beside it. Records
are written as they are made; measuring never prints.

A :class:`Session` holds what strategies share (the idle baseline, calibrated workloads and their
ceilings, the telemetry sampler); :func:`measure` is the one-strategy convenience.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import checks, results
from .errors import WaitbenchError, invalid
from .machine import now_utc, run_identity
from .strategies import resolve
from .throughput import PairPolicy, measure_pairs, summarize
from .waiter import Waiter
from .wake import DEFAULT_TRIALS, wake_latency
from .workloads import BUILTIN, TimedWorkload, Workload

Progress = Callable[[str], None]
# A telemetry window must not see what ran before it: NVML's utilization samples cover the ~200 ms
# before their timestamp and GPM counters refresh every ~100 ms (both measured on the H100), so a
# waiter-alone window opens this long after arming (first device runs read 15% "utilization" for
# host-side waits whose windows opened right after the previous workload).
SETTLE_S = 0.3
MAX_REPETITIONS = 1000
SWEEP_MAX_S = 1.0  # the sweep's time cap per point, by default


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure (``quick`` is the ``waitbench run`` default)."""

    window_s: float = 2.0
    wake_trials: int = DEFAULT_TRIALS
    pairs: PairPolicy = field(default_factory=PairPolicy)

    @classmethod
    def quick(cls) -> Settings:
        """``waitbench run``'s default: short windows and pair series, 2000 wake-up trials."""
        # Windows of 5 periods of the 200 ms utilization samples (the instrument's rule), with 20%
        # to spare for a period measured a little longer; pairs open no window (workload_record).
        return cls(window_s=1.2, wake_trials=2000, pairs=PairPolicy(min_pairs=5, min_s=0.3, max_s=2.0,
                                                                     spread_target_pct=1.0, run_s=0.03))

    @classmethod
    def sweep(cls, max_s: float = SWEEP_MAX_S) -> Settings:
        """``waitbench sweep``'s settings: no wake-up trials, short pairs, each point capped at ``max_s``.

        A sweep point is a workload beside the waiter; it has no waiter-alone window and no wake-up trials.
        """
        return cls(window_s=1.0, wake_trials=0, pairs=PairPolicy(min_pairs=3, min_s=0.1, max_s=max_s,
                                                                  spread_target_pct=1.0, run_s=0.02))

    def capped(self, max_s: float) -> Settings:
        """These settings with each workload point capped at ``max_s``."""
        return dataclasses.replace(self, pairs=dataclasses.replace(self.pairs, max_s=float(max_s)))


class _Telemetry:
    """The sampler, or the reason there is none (then every telemetry field is None with it)."""

    def __init__(self, gpu: int) -> None:
        self.sampler: Any = None
        self.reason: str | None = None
        try:
            from .telemetry import Sampler

            self.sampler = Sampler(gpus=[gpu])
            self.sampler.start()
        except Exception as exc:  # noqa: BLE001 - telemetry is optional: its absence is a recorded reason
            self.reason = f"telemetry unavailable: {exc}"

    def window(self, seconds: float) -> Any:
        """One window of ``seconds`` for our GPU: its summary (None without telemetry)."""
        if self.sampler is None:
            time.sleep(seconds)
            return None
        self.sampler.begin()
        time.sleep(seconds)
        summaries = self.sampler.end()
        return next(iter(summaries.values()), None)

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()


class Session:
    """One GPU, one run: measure several strategies against the same baseline and workloads.

    Each step it starts is announced to ``progress`` (one call a step): :meth:`steps` counts them.
    """

    SETUP_STEPS = 2  # calibrating the workloads, the idle baseline
    STRATEGY_STEPS = 2  # per strategy, before its workloads: the waiter alone, its wake-up latency

    @classmethod
    def steps(cls, workloads: int, strategies: int = 0, sweep_points: int = 0) -> int:
        """The progress steps of a session (each a call of its ``progress``).

        Its setup; then per strategy measured (:meth:`measure`) the waiter, its wake-up latency and each of
        ``workloads``; and per sweep point each workload.
        """
        return cls.SETUP_STEPS + strategies * (cls.STRATEGY_STEPS + workloads) + sweep_points * workloads

    def __init__(self, gpu: int = 0, workloads: Sequence[str | Workload] = BUILTIN, settings: Settings | None = None,
                 writer: results.ResultsWriter | None = None, progress: Progress | None = None,
                 run_id: str | None = None) -> None:
        self.gpu = checks.gpu_index("gpu", gpu)
        workloads = check_workloads(workloads)
        self.settings = settings or Settings()
        self.writer = writer
        self.progress = progress or (lambda _msg: None)
        self.identity = run_identity(gpu, run_id)
        self.telemetry = _Telemetry(gpu)
        self.records: list[dict[str, Any]] = []
        try:
            self.progress("calibrating workloads")
            self.workloads = [TimedWorkload(w, gpu) for w in workloads]
            for tw in self.workloads:
                if not tw.calibrate(self.settings.pairs.run_s):
                    raise WaitbenchError(f"workload {tw.workload.name} did not finish one launch in 60 s on an idle "
                                         "GPU: is another process holding every SM?")
            for tw in self.workloads:  # on the idle GPU, before the baseline: what each ceiling needs
                tw.workload.measure_ceiling(self.settings.pairs.run_s)
            # The idle baseline is taken right after activity, so its clocks match the windows that
            # follow: an H100 left idle drops to low clocks (~74 W here) that no measured window sees,
            # and a "power over idle" against that would charge every strategy for the clock state.
            self.progress("idle baseline")
            time.sleep(SETTLE_S)
            self.idle = self.telemetry.window(self.settings.window_s)
        except BaseException:
            self.telemetry.close()
            raise

    def _new(self, **values: Any) -> dict[str, Any]:
        return results.new_record(time_utc=now_utc(), **self.identity, **values)

    def _emit(self, rec: dict[str, Any]) -> dict[str, Any]:
        results.validate(rec)
        self.records.append(rec)
        if self.writer is not None:
            self.writer.write(rec)
        return rec

    def measure(self, strategy: str, repetition: int = 0, **options: Any) -> list[dict[str, Any]]:
        """Measure one strategy: waiter record first, then one record per workload."""
        spec, opts = resolve(strategy, **options)
        subject = {"strategy": spec.name, "preset": opts.get("preset"), "options": opts, "repetition": repetition,
                   **spec.record_fields()}
        out = [self._waiter_record(spec.mechanism, subject, opts)]
        for tw in self.workloads:
            self.progress(f"{spec.name}: {tw.workload.name} beside the waiter")
            out.append(self.workload_record(tw, subject, opts))
        return out

    # -- the waiter alone, then its wake-up latency ---------------------------------------------
    def _waiter_record(self, mechanism: str, subject: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
        name = subject["strategy"]
        self.progress(f"{name}: waiter alone")
        with Waiter(name, gpu=self.gpu, **opts) as w:
            time.sleep(SETTLE_S)
            summary = self.telemetry.window(self.settings.window_s)
            shape = w.shape
        # __exit__ released and waited; the outcome of that one long wait gives the host CPU.
        fields: dict[str, Any] = {"record_kind": "waiter", "status": "ok", **subject}
        fields.update(_shape_fields(shape))
        self.progress(f"{name}: wake-up latency")
        wake = wake_latency(name, gpu=self.gpu, trials=self.settings.wake_trials, **opts)
        fields.update(wake.record_fields())
        if wake.expired or wake.aborted:
            fields["status"] = "expired" if wake.expired else "aborted"
            fields["status_detail"] = f"{wake.expired} expired and {wake.aborted} aborted of the wake-up trials"
        rec = self._new(**fields)
        self._fill_telemetry(rec, summary)
        self._fill_host_cpu(rec, mechanism, wake.host_cpu_pct)
        if mechanism != "device":
            results.set_null(rec, "not a device-resident waiter: no launch shape", *_SHAPE_KEYS)
        return self._emit(rec)

    def _fill_telemetry(self, rec: dict[str, Any], summary: Any) -> None:
        if summary is None:
            names = [f.name for f in results.TELEMETRY_FIELDS if f.name != "host_cpu_pct"]
            results.set_null(rec, self.telemetry.reason or "no telemetry window", *names)
            return
        from .telemetry import classify

        summary.fill_record(rec, idle=self.idle, verdict=classify(summary, self.idle))

    @staticmethod
    def _fill_host_cpu(rec: dict[str, Any], mechanism: str, pct: float | None) -> None:
        if mechanism == "host":
            rec["host_cpu_pct"] = rec["wait_host_cpu_pct"] = pct
        else:
            results.set_null(rec, "the wait happens on the GPU: no host thread waits", "host_cpu_pct",
                             "wait_host_cpu_pct")

    # -- a workload beside the waiter -----------------------------------------------------------
    def workload_record(self, tw: TimedWorkload, subject: dict[str, Any], opts: dict[str, Any],
                        record_kind: str = "workload") -> dict[str, Any]:
        """One workload beside the waiter (``record_kind`` 'sweep' for a launch-shape sweep point)."""
        policy = self.settings.pairs
        fields: dict[str, Any] = {"record_kind": record_kind, "workload": tw.workload.name, **subject,
                                  "tput_unit": tw.workload.unit}
        # No telemetry window here: pairs last a fraction of a second (shorter than the instrument's
        # rule of 5 update periods), and the one figure they needed, the SM clock behind the FMA
        # ceiling, the FMA kernel now measures itself.
        waiter = Waiter(subject["strategy"], gpu=self.gpu, **opts)  # re-armed for each concurrent run
        try:
            pr = measure_pairs(tw, waiter, policy)
            fields.update(_shape_fields(waiter.shape))
        finally:
            waiter.close()
        fields.update(summarize(pr, policy))
        fields["status"] = "stalled" if pr.stalled else "ok"
        if pr.stalled:
            fields["status_detail"] = (f"{tw.workload.name} did not finish within {pr.stall_ms:.0f} ms while the "
                                       "waiter was resident; it ran once the waiter was released")
        elif pr.waiter_status != "released":
            fields["status"], fields["status_detail"] = "error", f"the waiter ended {pr.waiter_status} during a run"
        victim = tw.workload.victim_shape()
        if victim:
            fields.update(victim_grid=victim["grid"], victim_block=victim["block"],
                          victim_regs_per_thread=victim["regs"], victim_smem_bytes=victim["smem"])
            if victim.get("kernel"):
                fields["extra"] = {"victim_kernel": victim["kernel"]}
        rec = self._new(**fields)
        if not victim:
            results.set_null(rec, "launch shape of this workload's kernels is not read (library kernel)",
                             "victim_grid", "victim_block", "victim_regs_per_thread", "victim_smem_bytes")
        self._fill_ceiling(rec, tw, pr.solo_clock_mhz)
        if not fields.get("waiter_blocks"):
            results.set_null(rec, "not a device-resident waiter: no launch shape", *_SHAPE_KEYS)
        return self._emit(rec)

    def _fill_ceiling(self, rec: dict[str, Any], tw: TimedWorkload, solo_clock_mhz: list[float]) -> None:
        """tput_ceiling and tput_peak_fraction from the workload's own ceiling (how it got it, in extra)."""
        ceiling, solo = tw.workload.ceiling(self.identity, solo_clock_mhz), rec["tput_solo"]
        if ceiling.extra:
            rec["extra"] = {**(rec["extra"] or {}), **ceiling.extra}
        if ceiling.value and solo:
            rec["tput_ceiling"], rec["tput_peak_fraction"] = ceiling.value, solo / ceiling.value
        else:
            results.set_null(rec, ceiling.reason or "no solo throughput", "tput_ceiling", "tput_peak_fraction")

    def close(self) -> None:
        """Stop the telemetry sampler."""
        self.telemetry.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SHAPE_KEYS = ("waiter_blocks", "waiter_threads", "waiter_pollers", "waiter_regs_per_thread", "waiter_smem_bytes",
               "waiter_sm_ids", "waiter_distinct_sms")


def _shape_fields(shape: dict[str, Any]) -> dict[str, Any]:
    if not shape:
        return {}
    ids = shape.get("sm_ids", [])
    return {"waiter_blocks": shape["blocks"], "waiter_threads": shape["threads"], "waiter_pollers": shape["pollers"],
            "waiter_regs_per_thread": shape["regs_per_thread"], "waiter_smem_bytes": shape["smem_bytes"],
            "waiter_sm_ids": ids, "waiter_distinct_sms": len(set(ids))}


def measure(strategy: str, *, workloads: Sequence[str | Workload] = BUILTIN, gpu: int = 0,
            seconds: float | None = None, repetitions: int = 1, out: str | os.PathLike[str] | None = None,
            settings: Settings | None = None, **options: Any) -> list[dict[str, Any]]:
    """Measure one strategy with every metric; returns its records (and appends them to ``out``).

    Args:
        strategy: a name from :func:`waitbench.strategies`; ``options`` are its options.
        workloads: concurrent workloads: names ('gemm', 'fma', 'stream') or Workload objects.
        gpu: CUDA device index.
        seconds: time cap per workload point (default: the settings' cap).
        repetitions: how many times to repeat the whole measurement.
        out: JSON Lines file to append records to as they are made.
        settings: windows, wake-up trials and pair policy (default: :class:`Settings`).
        **options: the strategy's options (see ``waitbench strategies``).
    """
    spec_workloads = check_workloads(workloads)
    checks.gpu_index("gpu", gpu)
    repetitions = checks.count("repetitions", repetitions, 1, MAX_REPETITIONS)
    if settings is not None and not isinstance(settings, Settings):
        raise invalid("settings", settings, "a waitbench.runner.Settings, or None")
    settings = settings or Settings()
    if seconds is not None:
        settings = settings.capped(checks.number("seconds", seconds, 0.05, 3600.0))
    resolve(strategy, **options)  # every argument is checked before the GPU is looked for
    writer = results.ResultsWriter(out) if out is not None else None
    try:
        with Session(gpu, spec_workloads, settings, writer) as s:
            for rep in range(repetitions):
                s.measure(strategy, rep, **options)
            return s.records
    finally:
        if writer is not None:
            writer.close()


def check_workloads(workloads: Any) -> list[str | Workload]:
    """The workloads as a list: built-in names or Workload objects (ValueError naming the bad one)."""
    valid = "a list of workload names (" + ", ".join(BUILTIN) + ") or waitbench.workloads.Workload objects"
    if isinstance(workloads, (str, bytes)) or not isinstance(workloads, abc.Iterable):
        raise invalid("workloads", workloads, valid)
    out = list(workloads)
    if not out:
        raise invalid("workloads", workloads, valid + ", at least one")
    for w in out:
        if not isinstance(w, Workload) and (not isinstance(w, str) or w not in BUILTIN):
            raise invalid("workloads", w, valid)
    return out

