# SPDX-License-Identifier: Apache-2.0
"""The one table of wait strategies: names (public API), mechanisms, typed options, presets.

``waitbench.strategies()``, the CLI's ``--help`` and option validation all read this table, so a
strategy or option exists in exactly one place, and the native core trusts it: it checks only the
limits that depend on the device (threads a block can hold with the kernel's registers, blocks that
can be resident at once, shared memory), when a waiter is created on it.

Research strategies join the same table at run time (:func:`waitbench.register_strategy`, or a
package's ``waitbench.strategies`` entry point, discovered once on first use), so every consumer of
the table (CLI, runner, reports) measures them exactly like the built-ins; built-in names cannot be
taken. A strategy makes its own waiter (:meth:`Strategy.create_waiter`): the table's built-ins a
native one, a research strategy (:mod:`waitbench.custom`, a subclass) its own.

Plugins: a package declares, in its pyproject.toml::

    [project.entry-points."waitbench.strategies"]
    my-strategies = "my_package.waits:register"

and the entry point names a module (importing it registers its strategies) or a function that
takes no argument and registers them. The group is loaded once, the first time the table is listed
or a name is looked up that it does not hold. A plugin that fails to load costs one warning line
and is skipped: the built-ins and the other plugins still work.

Names: ``waitbench.strategies`` (the package's attribute) is the function :func:`strategies`, the
public API; this module keeps its name, which the entry-point group shares. Reach the module's
other names with ``from waitbench.strategies import Option`` (or ``importlib.import_module``);
``import waitbench.strategies as x`` binds the function, as the attribute reads.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

from ._native import native, require_gpu
from .checks import number
from .errors import invalid

PLUGIN_GROUP = "waitbench.strategies"
log = logging.getLogger("waitbench")
# "plugin:<distribution>" while an entry point is being loaded, so its registrations say so.
loading_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("waitbench_loading_source", default=None)


@dataclass(frozen=True)
class Option:
    """A typed strategy option with its default, unit and valid range (or choices)."""

    name: str
    type: type
    default: Any
    doc: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    multiple_of: int | None = None

    def valid_range(self) -> str:
        """The valid values in words, as error messages and ``--help`` say them."""
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        if self.type in (int, float) and (self.min is not None or self.max is not None):
            lo = "-inf" if self.min is None else self.min
            hi = "inf" if self.max is None else self.max
            rng = f"{self.type.__name__} in [{lo}, {hi}]"
        else:
            rng = "a finite float" if self.type is float else self.type.__name__
        if self.multiple_of:
            rng += f", a multiple of {self.multiple_of}"
        return rng

    def parse(self, text: str) -> Any:
        """``text`` from a command line (``-o KEY=VALUE``) as a checked value of this option.

        Numbers and choices go through :meth:`check`; a bool option takes true/false, yes/no, on/off, 1/0.
        """
        if self.type is bool:
            word = text.strip().lower()
            if word in ("true", "yes", "on", "1"):
                return True
            if word in ("false", "no", "off", "0"):
                return False
            raise invalid(self.name, text, "a bool: true or false")
        return self.check(text)

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to the option's type, or raise ValueError naming it.

        Numbers must be finite (NaN passes every ``<``/``>`` test, so :func:`waitbench.checks.number`
        decides); a string (from the command line) is converted only when it is ASCII.
        """
        if isinstance(value, str) and value.isascii() and self.type in (int, float):
            with contextlib.suppress(ValueError):  # not a number: check() names it below
                value = self.type(value)
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type in (int, float):
            value = number(self.name, value, self.min, self.max, integer=self.type is int,
                           valid=self.valid_range())
        elif not isinstance(value, self.type):
            raise invalid(self.name, value, self.valid_range())
        if self.choices is not None and value not in self.choices:
            raise invalid(self.name, value, self.valid_range())
        if self.multiple_of and value % self.multiple_of:
            raise invalid(self.name, value, self.valid_range())
        return value


@dataclass(frozen=True)
class Strategy:
    """A wait strategy: how it waits (``mechanism``), which native waiter runs it, its options."""

    name: str
    mechanism: str  # "device" (resident on SMs), "front-end" (stream waits, no SM), "host"
    native: str  # the native waiter kind: a waitbench._C.WaiterKind in the table's spelling ("device-spin")
    doc: str
    options: tuple[Option, ...]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    preset_docs: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)  # native settings the user does not choose
    source: str = "builtin"  # "builtin", "registered" (register_strategy) or "plugin:<distribution>"

    def option(self, name: str) -> Option:
        """The option called ``name``; ValueError listing the strategy's options otherwise."""
        for opt in self.options:
            if opt.name == name:
                return opt
        raise invalid("option", name, f"an option of {self.name}: {', '.join(o.name for o in self.options)}")

    def defaults(self) -> dict[str, Any]:
        """Every option at its default."""
        return {o.name: o.default for o in self.options}

    def validate(self, opts: dict[str, Any]) -> None:
        """Checks that involve several options (single options were checked by their Option)."""
        if "pollers" in opts and "threads" in opts and opts["pollers"] > opts["threads"]:
            raise invalid("pollers", opts["pollers"], f"at most threads={opts['threads']}")
        if opts.get("backoff") == "exp" and opts["backoff_cap_ns"] < opts["backoff_ns"]:
            raise invalid("backoff_cap_ns", opts["backoff_cap_ns"], f">= backoff_ns={opts['backoff_ns']}")

    def native_settings(self, opts: Mapping[str, Any]) -> dict[str, Any]:
        """The flat settings the native waiter takes: options, preset shape and fixed values merged."""
        cfg: dict[str, Any] = {"kind": self.native, **self.fixed}
        cfg.update({k: v for k, v in opts.items() if k != "preset"})
        if self.presets:
            cfg.update(self.presets[opts["preset"]])
        return cfg

    def record_fields(self) -> dict[str, Any]:
        """What a record says about where the strategy comes from (research strategies are marked)."""
        return {"strategy_source": self.source, "host_wait_in_python": self.native == "python-host"}

    def create_waiter(self, opts: Mapping[str, Any], gpu: int) -> Any:
        """The object :class:`waitbench.Waiter` drives for ``opts`` on GPU ``gpu``: a native waiter."""
        return require_gpu(gpu).Waiter(native_config(self, opts, gpu))

    def run_trials(self, waiter: Any, n: int, gap_ns: int) -> dict[str, Any]:
        """``n`` timed arm/release/wait trials of a waiter this strategy created, in the core's C++ loop."""
        return native().run_trials(waiter, n, gap_ns)


TIMEOUT = Option("timeout_s", float, 10.0, "deadline: the wait ends by itself (status 'expired') after this long",
                 "s", 0.001, 3600.0)
POLL = Option("poll", str, "volatile", "how pollers load the flag: volatile loads (NCCL's Simple protocol), or "
              "a system-scope acquire load every poll", choices=("volatile", "acquire"))
FLAG_LINES = Option("flag_lines", str, "shared", "every poller polls one word, or each poller its own 16-byte line "
                    "(as NCCL LL threads poll the lines they own)", choices=("shared", "per-poller"))
FLAG = Option("flag", str, "host", "where the release word lives: host-mapped pinned memory (as NCCL over PCIe/SHM) "
              "or device memory (as a peer writing over NVLink)", choices=("host", "device"))


def _shape_options(blocks: int = 1, threads: int = 32, pollers: int = 1, registers: int = 32,
                   smem_bytes: int = 0) -> tuple[Option, ...]:
    return (
        Option("blocks", int, blocks, "waiter blocks (NCCL: one per channel)", "", 1, 65535),
        Option("threads", int, threads, "threads per block", "", 32, 1024, multiple_of=32),
        Option("pollers", int, pollers, "threads per block that poll the flag; the rest park at a block barrier",
               "", 1, 1024),
        Option("registers", int, registers, "most registers each thread holds while waiting, as -maxrregcount "
               "(NCCL: 96); the largest compiled variant under it that fits the block is used, and records "
               "report the registers really allocated", "", choices=(32, 64, 96, 128)),
        Option("smem_bytes", int, smem_bytes, "dynamic shared memory per block (NCCL: per-warp scratch)", "B", 0,
               232448),
        Option("check_every", int, 10000, "polls between reads of the abort word and the clock (NCCL >= 2.26: 10000)",
               "", 1, 1_000_000),
        FLAG,
        FLAG_LINES,
        POLL,
        TIMEOUT,
    )


# NCCL launch shapes (NVIDIA/nccl src/device and src/enqueue.cc, 2.2x): Simple ring kernels launch
# NCCL_MAX_NTHREADS (512) + one sync warp = 544 threads per channel with one polling thread per
# peer; LL launches 512 threads that all poll their data lines; LL128 launches 640 threads whose
# warps poll and vote. Kernels are compiled with -maxrregcount=96. Dynamic shared memory is a
# per-warp scratch of 8 uint64 per thread (LL128) for 640 threads: 20 warps x 2 KiB = 40 KiB.
# Every poller polls its own word: a Simple channel its connection's step counter, an LL/LL128 thread
# the line it owns (flag_lines="per-poller"; on the H100 one shared host word made 16 channels wake
# ~27 us after release instead of ~4 us, benchmarks/results/h100/pollers.json).
# Channels: ~2 on a PCIe pair, 16 on H100 NVSwitch, 24 on HGX A100, 32 as a high setting.
_NCCL_SMEM = 40960
NCCL_PRESETS: dict[str, dict[str, Any]] = {
    name: dict(shape, registers=96, smem_bytes=_NCCL_SMEM, flag_lines="per-poller") for name, shape in {
        "simple-2ch": dict(blocks=2, threads=544, pollers=1),
        "simple-16ch": dict(blocks=16, threads=544, pollers=1),
        "simple-24ch": dict(blocks=24, threads=544, pollers=1),
        "simple-32ch": dict(blocks=32, threads=544, pollers=1),
        "ll-16ch": dict(blocks=16, threads=512, pollers=512),
        "ll128-16ch": dict(blocks=16, threads=640, pollers=640),
        "tiny": dict(blocks=1, threads=128, pollers=128),
    }.items()
}
NCCL_PRESET_DOCS: dict[str, str] = {
    "simple-2ch": "Simple protocol ring, 2 channels: a PCIe pair such as the seed report's 2x RTX 3090",
    "simple-16ch": "Simple protocol ring, 16 channels: H100 with NVSwitch",
    "simple-24ch": "Simple protocol ring, 24 channels: HGX A100",
    "simple-32ch": "Simple protocol ring, 32 channels: a high NCCL_MIN_NCHANNELS setting",
    "ll-16ch": "LL protocol, 16 channels: every thread polls its data line (small messages)",
    "ll128-16ch": "LL128 protocol, 16 channels: warps poll and vote (medium messages on NVLink)",
    "tiny": "one block of 128 threads, all polling: a tiny message such as broadcast_object_list's size tensor",
}

_TABLE: dict[str, Strategy] = {}


def _add(s: Strategy) -> None:
    _TABLE[s.name] = s


_add(Strategy(
    "spin", "device", "device-spin",
    "A resident kernel: pollers load the flag in a hot loop, other threads park at a block barrier.",
    _shape_options(),
    fixed={"backoff": "none", "backoff_ns": 0, "backoff_cap_ns": 0},
))
_add(Strategy(
    "spin-backoff", "device", "device-spin",
    "spin with __nanosleep between polls, fixed or doubling up to a cap (NCCL does not do this).",
    (
        *_shape_options(),
        Option("backoff", str, "exp", "fixed sleep, or exponential (doubling) up to backoff_cap_ns",
               choices=("fixed", "exp")),
        Option("backoff_ns", int, 100, "first (or fixed) sleep between polls", "ns", 1, 1_000_000),
        Option("backoff_cap_ns", int, 10_000, "largest sleep for exponential backoff", "ns", 1, 1_000_000),
    ),
))
_add(Strategy(
    "nccl-shaped", "device", "device-spin",
    "spin with the launch shape, registers and shared memory of an NCCL kernel waiting for a peer.",
    (Option("preset", str, "simple-16ch", "which NCCL configuration", choices=tuple(NCCL_PRESETS)),
     Option("check_every", int, 10000, "polls between reads of the abort word and the clock (NCCL >= 2.26)",
            "", 1, 1_000_000),
     FLAG, POLL, TIMEOUT),
    presets=NCCL_PRESETS,
    preset_docs=NCCL_PRESET_DOCS,
    fixed={"backoff": "none", "backoff_ns": 0, "backoff_cap_ns": 0},
))
_add(Strategy(
    "stream-wait-value", "front-end", "stream-wait-value",
    "cuStreamWaitValue32 blocks the stream in the GPU's front end (no SM) until the flag is written; "
    "then the work kernel runs. NCCL >= 2.28's zero-SM collectives wait this way.",
    (FLAG, TIMEOUT),
))
_add(Strategy(
    "host-spin", "host", "host-spin",
    "A host thread spins on an atomic, then enqueues the work (vLLM/SGLang before sleep-on-idle).",
    (Option("spin_us", int, -1, "spin this long, then block on a futex (-1: spin until released)", "us", -1,
            10_000_000), TIMEOUT),
))
_add(Strategy(
    "host-yield", "host", "host-yield",
    "A host thread polls with sched_yield between polls (vLLM's shm_broadcast), then enqueues the work.",
    (TIMEOUT,),
))
_add(Strategy(
    "host-block", "host", "host-block",
    "A host thread blocks on a futex until released (a multiprocessing.Barrier: the LMDeploy fix).",
    (TIMEOUT,),
))
_add(Strategy(
    "event-blocking-sync", "host", "event-sync",
    "A host thread waits in cudaEventSynchronize for an event behind a stream wait; 'blocking' creates the "
    "event with cudaEventBlockingSync (the thread sleeps), 'spin' is the runtime's default spin-sync.",
    (Option("sync", str, "blocking", "how cudaEventSynchronize waits", choices=("blocking", "spin")), TIMEOUT),
))


_BUILTIN_NAMES = tuple(_TABLE)
_plugins_loaded = False


def _load_plugins() -> None:
    """Import the ``waitbench.strategies`` entry points, once per process (first listing or lookup)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True  # set first: a plugin that lists strategies while loading must not recurse
    load_plugins()


def load_plugins() -> list[str]:
    """Load every entry point of the plugin group; returns the names of those that loaded."""
    loaded = []
    for ep in metadata.entry_points(group=PLUGIN_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        token = loading_source.set(f"plugin:{dist}")
        try:
            target = ep.load()
            if inspect.isfunction(target):
                target()
            elif not isinstance(target, ModuleType):
                raise TypeError(f"{ep.value} is a {type(target).__name__}: expected a module or a function that "
                                "registers strategies")
            loaded.append(ep.name)
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not take the others (or the CLI) down
            log.warning("waitbench: skipped strategy plugin %r from %s (%s): %s: %s", ep.name, dist, ep.value,
                        type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        finally:
            loading_source.reset(token)
    return loaded


def add(spec: Strategy, *, replace: bool = False) -> None:
    """Put a research strategy into the table (``waitbench.register_strategy`` is the public way)."""
    if spec.name in _BUILTIN_NAMES:
        raise invalid("name", spec.name, f"a name no built-in strategy has (built-ins: {', '.join(_BUILTIN_NAMES)})")
    if spec.name in _TABLE and not replace:
        raise invalid("name", spec.name, f"a name not registered yet (it is, {_TABLE[spec.name].source}); pass "
                      "replace=True to replace it")
    _TABLE[spec.name] = spec


def remove(name: str) -> None:
    """Take a research strategy out of the table (built-ins stay)."""
    if not isinstance(name, str) or name in _BUILTIN_NAMES or name not in _TABLE:
        registered = [n for n in _TABLE if n not in _BUILTIN_NAMES]
        raise invalid("name", name, "a registered research strategy: " + (", ".join(registered) or "none is"))
    del _TABLE[name]


def strategies() -> list[Strategy]:
    """Every strategy: built-ins in the table's order, then research strategies as registered.

    The table's order is the order of reports and ``waitbench run``.
    """
    _load_plugins()
    return list(_TABLE.values())


def get(name: str) -> Strategy:
    """The strategy called ``name``; ValueError listing the valid names otherwise."""
    if not isinstance(name, str):
        raise invalid("strategy", name, "a strategy name (str): one of " + ", ".join(_TABLE))
    if name not in _TABLE:
        _load_plugins()
    try:
        return _TABLE[name]
    except KeyError:
        raise invalid("strategy", name, "one of " + ", ".join(_TABLE)) from None


def resolve(name: str, **options: Any) -> tuple[Strategy, dict[str, Any]]:
    """Validate ``options`` for strategy ``name``; return it with every option filled in."""
    spec = get(name)
    opts = spec.defaults()
    for key, value in options.items():
        opts[key] = spec.option(key).check(value)
    spec.validate(opts)
    return spec, opts


def native_config(spec: Strategy, opts: Mapping[str, Any], gpu: int = 0) -> Any:
    """The native waiter's settings (``waitbench._C.WaiterConfig``) for ``opts`` of ``spec`` on GPU ``gpu``.

    The values were checked by this table; a string names a member of the native field's enum, in
    the table's spelling ('per-poller' is ``FlagLines.PER_POLLER``). A key or choice the core does
    not know is a bug in the table (AttributeError, KeyError): a CPU test builds every choice.
    """
    cfg = native().WaiterConfig()
    cfg.device = gpu
    for key, value in spec.native_settings(opts).items():
        if isinstance(value, str):
            value = type(getattr(cfg, key)).__members__[value.upper().replace("-", "_")]
        setattr(cfg, key, value)
    return cfg
