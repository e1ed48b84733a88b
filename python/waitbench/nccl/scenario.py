# SPDX-License-Identifier: Apache-2.0
"""One rank's program for one mode: warm up, then per cell let one rank arrive late and measure the wait.

Per rank, once: the client and its process groups, the instruments (telemetry, concurrent workloads
built and calibrated on the idle GPU), and an idle telemetry window taken after a settle (the power
baseline: warm, with the clocks of a live context, as the single-GPU runner takes it).
Per cell (protocol x collective x size), every rank:
  1. the cell's communicator and buffers, a warm-up collective, the NCCL kernel's shape (profiled);
  2. solo runs of each workload, then a settle, so the window does not read their heat;
  3. a gloo barrier and a common start time ``t0`` from rank 0 through the store; at ``t0`` every rank
     but ``late_rank`` reaches the collective (a comm thread does it, as the user's code would);
     ``late_rank`` reaches it at ``t0 + late_s``; meanwhile the main thread measures a telemetry window,
     then one run of each workload, ending a margin before the late rank arrives (a run not done by
     then was held up by the wait: a stall);
  4. the collective completes; solo runs again (solo throughput drifts: the ratio uses the median);
  5. wake-up trials: short episodes where the late rank arrives a few ms late, and aligned ones.
A side-call run (``cfg.calls``) instead makes one common CUDA call per episode during the wait.

Cross-process timing uses ``time.time_ns()`` (CLOCK_REALTIME): the ranks of one host read the same
clock, so the late rank's arrival stamp can be subtracted from another rank's completion stamp.
Ranks on different hosts are not comparable that way, and the record says so instead.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ..workloads import Throughput
from .clients import Client, make_client
from .config import Cell, ScenarioConfig, validate_config
from .instruments import Instruments, Window, held_up, sleep_until
from .merge import store_get
from .modes import get_mode
from .records import base_fields, episode_records, error_record, gpu_fields, side_call_record

IDLE_WINDOW_S = 1.0  # baseline window; the driver's utilization samples come every 200 ms
SETTLE_S = 1.0  # quiet time before a window, after our own GPU work (power and clocks come down)
TELEMETRY_FRACTION = 0.5  # share of the wait given to telemetry; the workloads share the rest
MARGIN_S = 0.2  # the measurements end this long (at most 10% of late_s) before the late rank arrives
START_LEAD_S = 0.05  # t0 is this far after rank 0 publishes it, so every rank has read it
# Each concurrent run aims at its share of the time left divided by this, so a run slowed by the wait
# (not stopped) still ends within its stall timeout.
WORKLOAD_HEADROOM = 1.25
WAKE_GAP_S = 0.005  # how late the late rank is in a wake-up trial: the others' kernels are spinning by then
CALL_AT_FRACTION = 0.25  # a side call is made this far into the wait


def margin_s(late_s: float) -> float:
    """How long before the late rank arrives the measurements end (at most 10% of the wait)."""
    return min(MARGIN_S, 0.1 * late_s)


class _CommThread(threading.Thread):
    """Reaches the collective at ``enter_at_ns`` and stamps entry, return of the call and completion."""

    def __init__(self, client: Client, store: Any, late: bool, enter_at_ns: int, timeout_s: float, key: str) -> None:
        # daemon: a collective that never completes cannot keep the process alive
        super().__init__(name="waitbench-comm", daemon=True)
        self.client, self.store, self.late, self.enter_at_ns = client, store, late, enter_at_ns
        self.timeout_s, self.key = timeout_s, key
        self.measured = threading.Event()  # set by the main thread when its window is over
        self.t_entry = self.t_returned = self.t_done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.client.bind_thread()
            sleep_until(self.enter_at_ns)
            self.t_entry = time.time_ns()
            if self.late:
                self.store.set(self.key, json.dumps({"t_ns": self.t_entry, "host": socket.gethostname()}))
            self.client.enter()
            self.t_returned = time.time_ns()
            # Completion is detected only after the main thread's window: a synchronize spins a core,
            # which is this tool's cost, not the mode's.
            self.measured.wait(self.timeout_s)
            self.client.complete()
            self.t_done = time.time_ns()
        except BaseException as exc:  # noqa: BLE001 - reported in the record by the main thread
            self.error = exc


def stall_timeout_s(now_ns: int, arrival_ns: int, late_s: float) -> float:
    """How long a concurrent run may take from ``now_ns`` before it is a stall.

    Until half the margin before the late rank arrives, so a stalled run gives up while the wait still
    lasts.
    """
    return (arrival_ns - now_ns) / 1e9 - margin_s(late_s) / 2


def workload_seconds(cfg: ScenarioConfig, n_workloads: int) -> float:
    """How long one run of each workload is sized to: its share of the wait after the window."""
    span_s = cfg.late_s - margin_s(cfg.late_s)
    return span_s * (1 - TELEMETRY_FRACTION) / max(n_workloads, 1) / WORKLOAD_HEADROOM


def run_rank(cfg: ScenarioConfig, store: Any, *, rank: int, world_size: int,
             local_rank: int) -> dict[str, Any]:
    """Run ``cfg.mode`` as ``rank``: ``{"records": [...], "windows": [...]}`` (an error record on failure).

    ``store`` is a torch.distributed Store shared by the ranks of this mode (a PrefixStore of the run);
    ``windows`` are telemetry windows for a recording (``waitbench nccl --record``).
    """
    validate_config(cfg, world_size)
    gpu = local_rank if cfg.backend == "nccl" else None
    identity: dict[str, Any] = {}
    client: Client | None = None
    inst: Instruments | None = None
    windows: list[dict[str, Any]] = []
    try:
        identity = gpu_fields(gpu, cfg.run_id)
        client = make_client(get_mode(cfg.mode), backend=cfg.backend, store=store, rank=rank,
                             world_size=world_size, gpu=gpu, root=cfg.late_rank, timeout_s=cfg.timeout_s)
        nccl_version = client.nccl_version()
        inst = Instruments(gpu, () if cfg.calls else cfg.workloads)
        run = _Rank(cfg, client, inst, store, rank, world_size, {**identity, "nccl_version": nccl_version}, windows)
        records = run.side_calls() if cfg.calls else run.cells()
    except Exception as exc:  # noqa: BLE001
        rec = error_record(cfg, rank, world_size, f"{type(exc).__name__}: {exc}")
        rec.update({k: v for k, v in identity.items() if k in rec})
        records = [rec]
    finally:
        if inst is not None:
            inst.close()
        if client is not None:
            client.close()
    return {"records": records, "windows": windows}


class _Rank:
    """The episodes of one rank: shared state of run_rank kept in one place."""

    def __init__(self, cfg: ScenarioConfig, client: Client, inst: Instruments, store: Any, rank: int,
                 world_size: int, identity: dict[str, Any], windows: list[dict[str, Any]]) -> None:
        self.cfg, self.client, self.inst, self.store, self.rank = cfg, client, inst, store, rank
        self.world_size, self.identity, self.windows = world_size, identity, windows
        self.late = rank == cfg.late_rank
        self.mode = get_mode(cfg.mode)

    def _base(self, cell: Cell) -> dict[str, Any]:
        return {**base_fields(self.cfg, self.rank, self.world_size, cell), **self.identity}

    def _error(self, cell: Cell, detail: str) -> dict[str, Any]:
        return {**error_record(self.cfg, self.rank, self.world_size, detail, cell), **self.identity}

    def _start(self, key: str) -> tuple[int, int]:
        """Line the ranks up and agree on t0; returns (t0, the late rank's arrival time)."""
        self.client.host_barrier()
        if self.rank == 0:
            self.store.set(key, str(time.time_ns() + int(START_LEAD_S * 1e9)))
        # Clamped: on another host rank 0's clock may run ahead; waiting for it would skew the schedule more.
        t0 = min(int(store_get(self.store, key, self.cfg.timeout_s)), time.time_ns() + int(4 * START_LEAD_S * 1e9))
        return t0, t0 + int(self.cfg.late_s * 1e9)

    def _warm_up(self, cell: Cell, *, lined_up: bool = False) -> None:
        """Use ``cell`` and run its collective once (connections, communicator); ``lined_up``: after a barrier."""
        self.client.set_cell(cell)
        self.client.prepare()
        if lined_up:
            self.client.host_barrier()
        self.client.enter()
        self.client.complete()

    def _begin_episode(self, tag: str) -> tuple[int, int, _CommThread]:
        """Agree on t0 and start the comm thread that reaches the collective (late, for the late rank).

        Returns (t0, the late rank's arrival time, the started thread); ``tag`` names the episode's keys.
        """
        t0, arrival_ns = self._start(f"t0/{tag}")
        comm = _CommThread(self.client, self.store, self.late, arrival_ns if self.late else t0, self.cfg.timeout_s,
                           f"arrival/{tag}")
        comm.start()
        return t0, arrival_ns, comm

    def _arrival(self, tag: str) -> dict[str, Any]:
        """The late rank's arrival stamp of episode ``tag``: ``{"t_ns", "host"}``."""
        return json.loads(store_get(self.store, f"arrival/{tag}", self.cfg.timeout_s))

    def _join(self, comm: _CommThread) -> str | None:
        comm.join(self.cfg.timeout_s)
        if comm.is_alive() or comm.error is not None:
            return (f"{type(comm.error).__name__}: {comm.error}" if comm.error is not None
                    else f"the collective did not complete within {self.cfg.timeout_s:g} s")
        return None

    def _settle(self) -> None:
        if self.inst.gpu is not None:  # a CPU dry run has no power or clocks to settle
            time.sleep(SETTLE_S)

    def _idle_window(self) -> Window:
        self._settle()
        return self.inst.window_until(time.time_ns() + int(min(IDLE_WINDOW_S, self.cfg.late_s) * 1e9))

    def _keep_window(self, label: str, window: Window, expected: str, baseline: str | None) -> None:
        if window.summary is not None:
            self.windows.append({"scenario": label, "expected_verdict": expected, "baseline_scenario": baseline,
                                 "summary": window.summary.to_dict()})

    # --- cells ------------------------------------------------------------------------------------

    def cells(self) -> list[dict[str, Any]]:
        cells = self.cfg.cells()
        self._warm_up(cells[0])  # NCCL connections, the gloo group, the barrier's own collective
        self.inst.calibrate(workload_seconds(self.cfg, len(self.cfg.workloads)))
        idle = self._idle_window()
        idle_label = f"nccl:{self.cfg.mode}/idle-warm/rank{self.rank}"
        self._keep_window(idle_label, idle, "idle", None)
        out: list[dict[str, Any]] = []
        for i, cell in enumerate(cells):
            out.extend(self._cell(i, cell, idle, idle_label))
        return out

    def _cell(self, index: int, cell: Cell, idle: Window, idle_label: str) -> list[dict[str, Any]]:
        client, inst, cfg = self.client, self.inst, self.cfg
        base = self._base(cell)
        self._warm_up(cell, lined_up=True)
        client.prepare()
        client.host_barrier()
        shape, shape_reason = inst.kernel_shape(lambda: (client.enter(), client.complete()))
        solo: dict[str, list[Throughput]] = {w: [inst.workload(w)] for w in inst.workloads}
        client.prepare()
        self._settle()
        t0, arrival_ns, comm = self._begin_episode(str(index))
        conc: dict[str, Throughput] = {}
        try:
            span_ns = int((cfg.late_s - margin_s(cfg.late_s)) * 1e9)
            work = bool(inst.workloads)
            sleep_until(t0)
            window = inst.window_until(t0 + (int(span_ns * TELEMETRY_FRACTION) if work else span_ns))
            for name in inst.workloads:
                conc[name] = held_up(inst.workload(name, stall_timeout_s(time.time_ns(), arrival_ns, cfg.late_s)),
                                     arrival_ns)
        finally:
            comm.measured.set()
        failure = self._join(comm)
        inst.drain()
        if failure is not None:
            return [self._error(cell, failure)]
        result_ok = client.check()
        for name in inst.workloads:
            solo[name].append(inst.workload(name))
        wake = self._wake_trials(index)
        arrival = self._arrival(str(index))
        same_host = arrival["host"] == socket.gethostname()
        role = "late" if self.late else "waiting"
        label = f"nccl:{cfg.mode}/{cell.label()}/{role}"
        expected = "busy-waiting" if role == "waiting" and self.mode.entry != "host-barrier" else "idle"
        self._keep_window(label, window, expected, idle_label)
        return episode_records(
            base, wait_s=(comm.t_done - comm.t_entry) / 1e9, host_blocked_s=(comm.t_returned - comm.t_entry) / 1e9,
            completion_after_late_us=(comm.t_done - arrival["t_ns"]) / 1e3 if same_host else None,
            completion_reason=None if same_host else
            f"the late rank ran on {arrival['host']}: clocks of different hosts are not comparable",
            idle=idle, window=window, solo=solo, conc=conc, result_ok=result_ok, shape=shape,
            shape_reason=shape_reason, wake=wake, wake_reason=self._wake_reason(same_host),
            no_work_reason="; ".join(dict.fromkeys(inst.workload_reasons.values()))
            or "no concurrent workload asked for (--workloads none)")

    def _wake_reason(self, same_host: bool) -> str:
        if self.late:
            return "the late rank is the one that arrives: wake-up is measured on the waiting ranks"
        if not self.cfg.wake_trials:
            return "no wake-up trials asked for (--wake-trials 0)"
        return "ranks on several hosts: their clocks are not comparable" if not same_host else "no wake-up trials"

    def _wake_trials(self, index: int) -> tuple[list[float], list[float], list[float]]:
        """Late-arrival and aligned trials, in us each (late rank's call -> this rank sees completion).

        For the late-arrival trials also from the late rank's call *returning* (its launch enqueued).

        The late rank's own rows are empty: it is the one that arrives.
        """
        client, late_calls, late_enqueued, done = self.client, [], [], []
        for _ in range(self.cfg.wake_trials):
            for gap_s in (WAKE_GAP_S, 0.0):
                client.prepare()
                client.host_barrier()
                if self.late:
                    until = time.perf_counter() + gap_s
                    while time.perf_counter() < until:  # a busy wait: sleep() overshoots by ~0.1 ms
                        pass
                    late_calls.append(time.time_ns())
                    client.enter()
                    late_enqueued.append(time.time_ns())
                    client.complete()
                else:
                    client.enter()
                    client.complete()
                    done.append(time.time_ns())
        key = f"wake/{index}"
        if self.late:
            self.store.set(key, json.dumps({"host": socket.gethostname(), "calls": late_calls,
                                            "enqueued": late_enqueued}))
            return [], [], []
        got = json.loads(store_get(self.store, key, self.cfg.timeout_s)) if self.cfg.wake_trials else {"calls": []}
        if got.get("host", socket.gethostname()) != socket.gethostname():
            return [], [], []
        lat = [(d - c) / 1e3 for d, c in zip(done, got["calls"], strict=False)]  # another rank may have stopped early
        after_enqueue = [(d - e) / 1e3 for d, e in zip(done, got.get("enqueued", []), strict=False)]
        return lat[0::2], lat[1::2], after_enqueue[0::2]

    # --- side calls -------------------------------------------------------------------------------

    def side_calls(self) -> list[dict[str, Any]]:
        """One episode per call: the waiting ranks make the call a little into the wait."""
        cfg, client = self.cfg, self.client
        cell = cfg.cells()[0]
        self._warm_up(cell)
        out: list[dict[str, Any]] = []
        for index, call in enumerate(cfg.calls):
            make: Callable[[], tuple[int, int]] | None = None if self.late else self.inst.side_call(call)
            client.prepare()
            t0, _, comm = self._begin_episode(f"call/{index}")
            stamps = None
            try:
                if make is not None:
                    sleep_until(t0 + int(CALL_AT_FRACTION * cfg.late_s * 1e9))
                    stamps = make()
            finally:
                comm.measured.set()
            failure = self._join(comm)
            if stamps is None:
                continue  # the late rank makes no call
            base = self._base(cell)
            if failure is not None:
                out.append(self._error(cell, failure))
                continue
            arrival = self._arrival(f"call/{index}")
            out.append(side_call_record(base, call=call, start_ns=stamps[0], return_ns=stamps[1],
                                        arrival_ns=arrival["t_ns"], wait_s=(comm.t_done - comm.t_entry) / 1e9,
                                        result_ok=client.check()))
            make = None  # frees what the call left (after the wait: it may synchronise)
        return out
