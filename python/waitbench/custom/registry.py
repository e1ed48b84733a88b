# SPDX-License-Identifier: Apache-2.0
"""Registering research strategies into waitbench's one strategy table.

A registered strategy is a :class:`waitbench.strategies.Strategy` like the built-ins (same typed
options, same validation, same CLI, runner and reports); it adds how it waits: a device kernel the
core launches at each arm (cupy, numba or CUDA C++ compiled by NVRTC), or a Python host-side wait.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import checks
from ..errors import invalid
from ..strategies import FLAG, TIMEOUT, Option, Strategy, add, loading_source, remove
from .guard import DeviceWaiter
from .host import PythonHostWaiter
from .kernels import kernel_kind

ShapeValue = int | str | Callable[[Mapping[str, Any]], int]
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
PROVIDED = (FLAG.name, TIMEOUT.name)  # options waitbench adds itself (the core uses them)
_SHAPE_LIMITS = {"blocks": (1, 65535), "threads": (1, 1024), "pollers": (1, 1024), "smem_bytes": (0, 232448)}


@dataclass(frozen=True)
class Launch:
    """Launch shape of a device strategy.

    Each value is an int, the name of one of the strategy's options that gives it, or a function of the
    options; ``pollers`` (threads per block that poll) is reported in records, so that shapes compare
    with the built-ins'.
    """

    blocks: ShapeValue = 1
    threads: ShapeValue = 32
    pollers: ShapeValue = 1
    smem_bytes: ShapeValue = 0

    def resolve(self, opts: Mapping[str, Any]) -> dict[str, int]:
        """The shape for one set of options; ValueError naming the value that is out of range."""
        shape = {}
        for key, (lo, hi) in _SHAPE_LIMITS.items():
            value = getattr(self, key)
            if isinstance(value, str) and value not in opts:
                raise invalid(key, value, "an int, a function of the options, or the name of one of the strategy's "
                              "options: " + ", ".join(opts))
            value = opts[value] if isinstance(value, str) else value(opts) if callable(value) else value
            shape[key] = int(checks.number(key, value, lo, hi, integer=True,
                                           valid=f"an int in [{lo}, {hi}] (launch shape)"))
        if shape["pollers"] > shape["threads"]:
            raise invalid("pollers", shape["pollers"], f"at most threads={shape['threads']} (launch shape)")
        return shape


@dataclass(frozen=True)
class CustomStrategy(Strategy):
    """A research strategy: a Strategy plus how it waits (``kernel`` or ``host_wait``)."""

    kernel: Any = None  # cupy RawKernel, numba.cuda.jit kernel, CudaSource, or a function returning one
    host_wait: Callable[..., str] | None = None  # Python host-side wait: fn(ctx, **options) -> outcome
    launch: Launch = field(default_factory=Launch)
    check: Callable[[dict[str, Any]], None] | None = None  # cross-option validation (raise ValueError)

    def user_options(self) -> tuple[Option, ...]:
        """The options the strategy declared (those its kernel or wait function receives)."""
        return tuple(o for o in self.options if o.name not in PROVIDED)

    def validate(self, opts: dict[str, Any]) -> None:
        """The registration's own check, and the launch shape the options give (device kernels)."""
        if self.check is not None:
            self.check(opts)
        if self.kernel is not None:
            self.launch.resolve(opts)

    def native_settings(self, opts: Mapping[str, Any]) -> dict[str, Any]:
        """What the core's external waiter needs: its kind, timeout and, for a kernel, blocks and flag."""
        if self.kernel is None:
            return {"kind": self.native, "timeout_s": opts["timeout_s"]}
        return {"kind": self.native, "blocks": self.launch.resolve(opts)["blocks"], "flag": opts["flag"],
                "timeout_s": opts["timeout_s"]}

    def create_waiter(self, opts: Mapping[str, Any], gpu: int) -> DeviceWaiter | PythonHostWaiter:
        """The object waitbench.Waiter drives (the interface of a native waiter)."""
        if self.kernel is not None:
            return DeviceWaiter(self, dict(opts), gpu)
        return PythonHostWaiter(self, dict(opts), gpu)

    def run_trials(self, waiter: Any, n: int, gap_ns: int) -> dict[str, Any]:
        """The waiter's own trial loop: the core's, under watch (a kernel), or in Python (a host wait)."""
        return waiter.run_trials(n, gap_ns)


def _check_options(name: str, options: Any) -> tuple[Option, ...]:
    if isinstance(options, (str, bytes, Option)) or not isinstance(options, Iterable):
        raise invalid("options", options, "an iterable of waitbench.strategies.Option")
    opts = tuple(options)
    seen: set[str] = set()
    for o in opts:
        if not isinstance(o, Option):
            raise invalid("options", o, "waitbench.strategies.Option instances")
        if not isinstance(o.name, str) or o.name in seen or not o.name.isidentifier():
            raise invalid("options", o.name, "distinct Python identifiers")
        if o.name in PROVIDED:
            raise invalid("options", o.name, f"names other than {', '.join(PROVIDED)} (waitbench adds those)")
        if o.type not in (int, float, str, bool):
            raise invalid(f"{name}: option {o.name} type", getattr(o.type, "__name__", o.type),
                          "int, float, str or bool")
        if o.type is str and o.choices is None:
            raise invalid(f"{name}: option {o.name}", "no choices", "choices for a str option (kernels get its index)")
        for bound in ("min", "max"):
            if getattr(o, bound) is not None:
                checks.number(f"{name}: option {o.name} {bound}", getattr(o, bound))
        if o.min is not None and o.max is not None and o.min > o.max:
            raise invalid(f"{name}: option {o.name} max", o.max, f">= its min ({o.min})")
        if o.choices is not None and (not isinstance(o.choices, tuple) or not o.choices):
            raise invalid(f"{name}: option {o.name} choices", o.choices, "a non-empty tuple")
        if o.multiple_of is not None:
            checks.count(f"{name}: option {o.name} multiple_of", o.multiple_of, 1, 1 << 30)
        if not isinstance(o.doc, str) or not isinstance(o.unit, str):
            raise invalid(f"{name}: option {o.name} doc/unit", (o.doc, o.unit), "strings")
        o.check(o.default)  # a default outside its own range is a bug in the registration
        seen.add(o.name)
    return opts


def _doc(obj: Any, doc: str) -> str:
    target = getattr(obj, "py_func", obj)  # a numba kernel keeps its Python function here
    text = doc or (inspect.getdoc(target) if inspect.isfunction(target) else "") or ""
    return text.strip().split("\n\n")[0].replace("\n", " ") if text else "a research strategy (no description)"


def _check_arguments(name: Any, host: Any, doc: Any, check: Any, replace: Any) -> None:
    """The plain arguments of register_strategy, checked before anything is registered or decorated."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise invalid("name", name, "1-64 characters: letters, digits and _.+- (not first)")
    checks.flag("host", host)
    checks.flag("replace", replace)
    if not isinstance(doc, str):
        raise invalid("doc", doc, "a one-line description (str), or '' for the docstring's first paragraph")
    checks.optional_callable("check", check, "a function check(options) that raises ValueError, or None")


def register_strategy(name: str, kernel: Any = None, *, host_wait: Callable[..., str] | None = None,
                      host: bool = False, options: Any = (), launch: Launch | None = None, doc: str = "",
                      check: Callable[[dict[str, Any]], None] | None = None, replace: bool = False) -> Any:
    """Add a research strategy to waitbench's strategy table.

    Give exactly one of ``kernel`` (a device waiter: a cupy ``RawKernel``, a ``numba.cuda.jit``
    kernel, a :class:`~waitbench.custom.CudaSource`, or a function that returns one of those when
    first needed, so heavy imports wait until then) or ``host_wait`` (a Python function that waits
    on the host: ``fn(ctx, **options) -> 'released' | 'expired' | 'aborted'``). With neither, this
    returns a decorator: ``@register_strategy("x")`` registers the decorated kernel, and
    ``@register_strategy("x", host=True)`` the decorated host wait; the decorated object is returned.

    Args:
        name: public name (letters, digits, ``_.+-``); built-in names cannot be taken.
        kernel: the device waiter, or a function that returns it when first needed.
        host_wait: the host-side wait function, ``fn(ctx, **options) -> outcome``.
        host: in decorator form, whether the decorated object is a host wait (else a kernel).
        options: :class:`~waitbench.strategies.Option` s, validated like the built-ins'; ``flag``
            (device strategies) and ``timeout_s`` are added by waitbench.
        launch: the launch shape of a device kernel (:class:`Launch`).
        doc: one line for ``waitbench strategies`` (default: the first paragraph of the docstring).
        check: called with every option filled in; raises ValueError for combinations that are invalid.
        replace: replace a research strategy already registered under ``name``.

    Returns:
        The :class:`CustomStrategy` (or, in decorator form, a decorator).
    """
    _check_arguments(name, host, doc, check, replace)
    options = _check_options(name, options)
    if launch is not None and not isinstance(launch, Launch):
        raise invalid("launch", launch, "a waitbench.custom.Launch, for a device kernel only")
    if kernel is None and host_wait is None:
        def decorate(obj: Any) -> Any:
            register_strategy(name, None if host else obj, host_wait=obj if host else None, options=options,
                              launch=launch, doc=doc, check=check, replace=replace)
            return obj

        return decorate
    if kernel is not None and host_wait is not None:
        raise invalid("kernel", kernel, "None when host_wait is given (a strategy waits on the device or the host)")
    if host_wait is not None and not callable(host_wait):
        raise invalid("host_wait", host_wait, "a function fn(ctx, **options) -> outcome name")
    if kernel is not None:
        kernel_kind(kernel)  # ValueError for anything that is no kernel we can launch
    if launch is not None and (host_wait is not None or not isinstance(launch, Launch)):
        raise invalid("launch", launch, "a waitbench.custom.Launch, for a device kernel only")
    user = options
    device = kernel is not None
    spec = CustomStrategy(
        name=name, mechanism="device" if device else "host", native="external" if device else "python-host",
        doc=_doc(kernel if device else host_wait, doc),
        options=user + ((FLAG, TIMEOUT) if device else (TIMEOUT,)),
        source=loading_source.get() or "registered", kernel=kernel, host_wait=host_wait,
        launch=launch or Launch(), check=check)
    spec.validate(spec.defaults())  # the defaults must make a valid strategy
    add(spec, replace=replace)
    return spec


def unregister_strategy(name: str) -> None:
    """Remove a research strategy registered earlier (built-ins cannot be removed)."""
    remove(name)
