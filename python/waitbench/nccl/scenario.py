# SPDX-License-Identifier: Apache-2.0
"""One rank's program for one mode: warm up, line up, let one rank arrive late, measure the wait.

Timeline (all ranks, after a warm-up collective that sets up every connection):
  1. solo workload run, then an idle telemetry window (the baseline: nothing enqueued);
  2. a gloo barrier, then a common start time ``t0`` published by rank 0 through the store;
  3. at ``t0`` every rank but ``late_rank`` reaches the collective; ``late_rank`` reaches it at
     ``t0 + late_s`` (a comm thread does the reaching, as the user's code would);
  4. meanwhile the main thread measures: a telemetry window and host CPU over the first part of the
     wait, then the concurrent workload, both ending a margin before the late rank arrives (a
     workload not done by then is recorded as a stall: the wait held it up);
  5. the collective completes; a second solo workload run follows (solo throughput drifts, so the
     ratio uses the mean of the runs before and after).

Cross-process timing uses ``time.time_ns()`` (CLOCK_REALTIME): the ranks of one host read the same
clock, so the late rank's arrival stamp (published in the store) can be subtracted from another
rank's completion stamp. Ranks on different hosts are not comparable that way (their clocks differ by
NTP's error), and the record says so instead of giving a number.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

from .clients import Client, make_client
from .config import ScenarioConfig, validate_config
from .merge import store_get
from .modes import get_mode
from .probes import Probe, Throughput, held_up, sleep_until
from .records import base_fields, finish_record, gpu_fields, measured_record

IDLE_WINDOW_S = 1.0  # baseline window; the driver's utilization samples come every 200 ms
TELEMETRY_FRACTION = 0.6  # share of the wait given to telemetry; the workload gets the rest
MARGIN_S = 0.2  # the measurements end this long (at most 10% of late_s) before the late rank arrives
START_LEAD_S = 0.05  # t0 is this far after rank 0 publishes it, so every rank has read it
# The concurrent run aims at its time left divided by this, so a run slowed by the wait (not stopped)
# still ends within its stall timeout: run_timed calibrates in the same conditions just before.
WORKLOAD_HEADROOM = 1.25


def margin_s(late_s: float) -> float:
    return min(MARGIN_S, 0.1 * late_s)


class _CommThread(threading.Thread):
    """Reaches the collective at ``enter_at_ns`` and stamps entry, return of the call and completion."""

    def __init__(self, client: Client, store: Any, late: bool, enter_at_ns: int, timeout_s: float) -> None:
        # daemon: a collective that never completes cannot keep the process alive
        super().__init__(name="waitbench-comm", daemon=True)
        self.client, self.store, self.late, self.enter_at_ns = client, store, late, enter_at_ns
        self.timeout_s = timeout_s
        self.measured = threading.Event()  # set by the main thread when its window is over
        self.t_entry = self.t_returned = self.t_done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.client.bind_thread()
            sleep_until(self.enter_at_ns)
            self.t_entry = time.time_ns()
            if self.late:
                self.store.set("arrival", json.dumps({"t_ns": self.t_entry, "host": socket.gethostname()}))
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
    """How long the concurrent run may take from ``now_ns`` before it is a stall: until half the
    margin before the late rank arrives, so a stalled probe gives up while the wait still lasts."""
    return (arrival_ns - now_ns) / 1e9 - margin_s(late_s) / 2


def _concurrent(probe: Probe, end_ns: int, arrival_ns: int, late_s: float) -> Throughput:
    """The workload run during the wait: aimed to end before ``end_ns``, a stall if not done before arrival."""
    now = time.time_ns()
    aim_s = (end_ns - now) / 1e9 / WORKLOAD_HEADROOM
    conc = probe.workload(aim_s, timeout_s=stall_timeout_s(now, arrival_ns, late_s))
    return held_up(conc, arrival_ns)


def run_rank(cfg: ScenarioConfig, store: Any, *, rank: int, world_size: int, local_rank: int) -> dict[str, Any]:
    """Run ``cfg.mode`` as ``rank`` and return its record (status 'error' with the reason on failure).

    ``store`` is a torch.distributed Store shared by the ranks of this mode (a PrefixStore of the run).
    """
    validate_config(cfg, world_size)
    gpu = local_rank if cfg.backend == "nccl" else None
    base = base_fields(cfg, rank, world_size)
    client: Client | None = None
    probe: Probe | None = None
    try:
        base.update(gpu_fields(gpu, cfg.run_id))
        client = make_client(get_mode(cfg.mode), backend=cfg.backend, collective=cfg.collective, store=store,
                             rank=rank, world_size=world_size, gpu=gpu, root=cfg.late_rank,
                             timeout_s=cfg.timeout_s, numel=cfg.numel)
        base["nccl_version"] = client.nccl_version()
        probe = Probe(gpu)
        return _measure(cfg, client, probe, store, rank, base)
    except Exception as exc:  # noqa: BLE001
        return finish_record(base, status="error", detail=f"{type(exc).__name__}: {exc}", reason="the rank failed")
    finally:
        if probe is not None:
            probe.close()
        if client is not None:
            client.close()


def _measure(cfg: ScenarioConfig, client: Client, probe: Probe, store: Any, rank: int,
             base: dict[str, Any]) -> dict[str, Any]:
    client.prepare()
    client.enter()  # warm-up: NCCL connections, the gloo group, the barrier's own collective
    client.complete()
    if not client.check():
        return finish_record(base, status="error", detail="the warm-up collective returned wrong values",
                             reason="warm-up failed")
    span_s = cfg.late_s - margin_s(cfg.late_s)
    gpu_work = probe.workload_reason is None
    work_s = span_s * (1 - TELEMETRY_FRACTION) if gpu_work else 0.0
    solo = [probe.workload(work_s)]
    idle = probe.window_until(time.time_ns() + int(min(IDLE_WINDOW_S, cfg.late_s) * 1e9))
    client.prepare()
    client.host_barrier()
    if rank == 0:
        store.set("t0", str(time.time_ns() + int(START_LEAD_S * 1e9)))
    # Clamped: on another host rank 0's clock may run ahead; waiting for it would skew the schedule more.
    t0 = min(int(store.get("t0")), time.time_ns() + int(4 * START_LEAD_S * 1e9))
    late = rank == cfg.late_rank
    arrival_ns = t0 + int(cfg.late_s * 1e9)
    comm = _CommThread(client, store, late, arrival_ns if late else t0, cfg.timeout_s)
    comm.start()
    try:
        end_ns = t0 + int(span_s * 1e9)
        tel_end_ns = t0 + int(span_s * TELEMETRY_FRACTION * 1e9) if gpu_work else end_ns
        sleep_until(t0)
        window = probe.window_until(tel_end_ns)
        conc = _concurrent(probe, end_ns, arrival_ns, cfg.late_s) if gpu_work else solo[0]
    finally:
        comm.measured.set()
    comm.join(cfg.timeout_s)
    if comm.is_alive() or comm.error is not None:
        detail = (f"{type(comm.error).__name__}: {comm.error}" if comm.error is not None
                  else f"the collective did not complete within {cfg.timeout_s:g} s")
        return finish_record(base, status="error", detail=detail, reason="the collective failed")
    solo.append(probe.workload(work_s))
    arrival = json.loads(store_get(store, "arrival", cfg.timeout_s))
    same_host = arrival["host"] == socket.gethostname()
    return measured_record(
        base, wait_s=(comm.t_done - comm.t_entry) / 1e9,
        host_blocked_s=(comm.t_returned - comm.t_entry) / 1e9,
        completion_after_late_us=(comm.t_done - arrival["t_ns"]) / 1e3 if same_host else None,
        completion_reason=None if same_host else
        f"the late rank ran on {arrival['host']}: clocks of different hosts are not comparable",
        idle=idle, window=window, solo=solo, conc=conc, result_ok=client.check())
