# SPDX-License-Identifier: Apache-2.0
"""Registering research strategies: the table, validation like the built-ins', name clashes, and
what the CLI shows (CPU: nothing here launches a kernel).
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import waitbench
from waitbench.custom import CudaSource, CustomStrategy, Launch, Option, register_strategy, unregister_strategy

st = importlib.import_module("waitbench.strategies")
SOURCE = CudaSource('extern "C" __global__ void w(const unsigned int*, const unsigned int*, wb::BlockSlot*, '
                    'unsigned long long, unsigned int, long long) {}', "w")
BLOCKS = Option("blocks", int, 2, "waiter blocks", "", 1, 64)


def poll(ctx, sleep_us: int = 10) -> str:
    """Polls with a sleep: the docstring's first paragraph is the strategy's doc."""
    return "released"


def test_a_device_strategy_joins_the_table_after_the_builtins_with_flag_and_timeout_added() -> None:
    spec = register_strategy("my-src", SOURCE, options=(BLOCKS,), launch=Launch(blocks="blocks"))
    names = [s.name for s in waitbench.strategies()]
    assert names[-1] == "my-src" and names[0] == "spin"
    assert isinstance(spec, CustomStrategy) and st.get("my-src") is spec
    assert spec.mechanism == "device" and spec.native == "external" and spec.source == "registered"
    assert [o.name for o in spec.options] == ["blocks", "flag", "timeout_s"]
    assert [o.name for o in spec.user_options()] == ["blocks"]
    assert spec.record_fields() == {"strategy_source": "registered", "host_wait_in_python": False}
    assert st.get("spin").record_fields() == {"strategy_source": "builtin", "host_wait_in_python": False}


@pytest.mark.cuda_build
def test_options_are_validated_like_the_builtins() -> None:
    register_strategy("my-src", SOURCE, options=(BLOCKS,), launch=Launch(blocks="blocks"))
    spec, opts = st.resolve("my-src", blocks="4", timeout_s=2)
    assert opts == {"blocks": 4, "flag": "host", "timeout_s": 2.0}
    assert spec.native_settings(opts) == {"kind": "external", "blocks": 4, "flag": "host", "timeout_s": 2.0}
    cfg = st.native_config(spec, opts)
    assert (cfg.kind.name, cfg.blocks, cfg.flag.name, cfg.timeout_s) == ("EXTERNAL", 4, "HOST", 2.0)
    with pytest.raises(ValueError, match=r"blocks=99 is invalid: expected int in \[1, 64\]"):
        st.resolve("my-src", blocks=99)
    with pytest.raises(ValueError, match="flag='gpu' is invalid: expected one of 'host', 'device'"):
        st.resolve("my-src", flag="gpu")
    with pytest.raises(ValueError, match="option='threads' is invalid: expected an option of my-src"):
        st.resolve("my-src", threads=64)


def test_cross_option_check_and_launch_shape_are_applied_on_resolve() -> None:
    def check(opts: dict) -> None:
        if opts["blocks"] == 3:
            raise ValueError("blocks=3 is invalid: expected anything but 3")

    register_strategy("shaped", SOURCE, options=(BLOCKS, Option("warps", int, 1, "warps", "", 1, 64)), check=check,
                      launch=Launch(blocks="blocks", threads=lambda o: 32 * o["warps"], pollers="warps"))
    assert st.get("shaped").launch.resolve(st.resolve("shaped", warps=4)[1]) == \
        {"blocks": 2, "threads": 128, "pollers": 4, "smem_bytes": 0}
    with pytest.raises(ValueError, match="expected anything but 3"):
        st.resolve("shaped", blocks=3)
    with pytest.raises(ValueError, match=r"threads=2048 is invalid: expected an int in \[1, 1024\] \(launch shape\)"):
        st.resolve("shaped", warps=64)


def test_host_strategy_by_decorator_keeps_the_function_and_takes_its_doc() -> None:
    deco = register_strategy("py-poll", host=True, options=(Option("sleep_us", int, 10, "sleep", "us", 1, 1000),))
    assert deco(poll) is poll
    spec = st.get("py-poll")
    assert spec.mechanism == "host" and spec.native == "python-host" and spec.host_wait is poll
    assert spec.doc == "Polls with a sleep: the docstring's first paragraph is the strategy's doc."
    assert [o.name for o in spec.options] == ["sleep_us", "timeout_s"]
    assert spec.record_fields()["host_wait_in_python"] is True
    assert spec.native_settings(st.resolve("py-poll")[1]) == {"kind": "python-host", "timeout_s": 10.0}


def test_a_kernel_factory_registers_without_importing_anything() -> None:
    def build():
        raise AssertionError("registration must not build the kernel")

    register_strategy("lazy", build)
    assert st.get("lazy").kernel is build


@pytest.mark.parametrize("kwargs,needle", [
    ({"name": "spin", "kernel": SOURCE}, "name='spin' is invalid: expected a name no built-in strategy has"),
    ({"name": "has space", "kernel": SOURCE}, "name='has space' is invalid"),
    ({"name": "a,b", "kernel": SOURCE}, "name='a,b' is invalid"),
    ({"name": "x", "kernel": 42}, "kernel=42 is invalid: expected a cupy RawKernel, a numba.cuda.jit kernel"),
    ({"name": "x", "kernel": SOURCE, "host_wait": poll}, "expected None when host_wait is given"),
    ({"name": "x", "host_wait": 3}, "host_wait=3 is invalid"),
    ({"name": "x", "host_wait": poll, "launch": Launch()}, "for a device kernel only"),
    ({"name": "x", "kernel": SOURCE, "options": (Option("flag", str, "a", "", choices=("a",)),)},
     "expected names other than flag, timeout_s"),
    ({"name": "x", "kernel": SOURCE, "options": (BLOCKS, BLOCKS)}, "expected distinct Python identifiers"),
    ({"name": "x", "kernel": SOURCE, "options": ("blocks",)}, "expected waitbench.strategies.Option instances"),
    ({"name": "x", "kernel": SOURCE, "options": (Option("mode", str, "a", ""),)}, "choices for a str option"),
    ({"name": "x", "kernel": SOURCE, "options": (Option("n", int, 0, "", "", 1, 4),)}, "n=0 is invalid"),
    ({"name": "x", "kernel": SOURCE, "launch": Launch(blocks="nblocks")},
     "blocks='nblocks' is invalid: expected an int, a function of the options, or the name of one"),
    ({"name": "x", "kernel": SOURCE, "launch": Launch(threads=32, pollers=64)}, "pollers=64 is invalid"),
])
def test_bad_registrations_raise_valueerror_naming_argument_value_and_range(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        register_strategy(**kwargs)
    assert "x" not in {s.name for s in waitbench.strategies()}


def test_a_name_clash_is_refused_unless_replace_and_unregister_frees_the_name() -> None:
    first = register_strategy("dup", SOURCE)
    with pytest.raises(ValueError, match=r"name='dup' is invalid: expected a name not registered yet .*registered"):
        register_strategy("dup", host_wait=poll)
    assert st.get("dup") is first
    second = register_strategy("dup", host_wait=poll, replace=True)
    assert st.get("dup") is second
    unregister_strategy("dup")
    with pytest.raises(ValueError, match="strategy='dup' is invalid"):
        st.get("dup")
    with pytest.raises(ValueError, match="name='spin' is invalid: expected a registered research strategy"):
        unregister_strategy("spin")


def test_register_strategy_is_served_from_the_package_root() -> None:
    assert waitbench.register_strategy is register_strategy


def test_cli_lists_a_registered_strategy_and_run_accepts_its_name(tmp_path: Path) -> None:
    script = tmp_path / "cli_with_custom.py"
    script.write_text(
        "import sys\n"
        "from waitbench.custom import register_strategy, Option\n"
        "register_strategy('py-poll', host_wait=lambda ctx, n: 'released', "
        "options=(Option('n', int, 1, 'polls', '', 1, 9),), doc='a test host wait')\n"
        "from waitbench.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    listed = subprocess.run([sys.executable, str(script), "strategies", "--json"], capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr
    entry = {s["name"]: s for s in json.loads(listed.stdout)}["py-poll"]
    assert entry["mechanism"] == "host" and entry["doc"] == "a test host wait"
    assert [o["name"] for o in entry["options"]] == ["n", "timeout_s"]
    bad = subprocess.run([sys.executable, str(script), "run", "--strategies", "py-poll,nope"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "--strategies='nope' is invalid" in bad.stderr  # py-poll itself was accepted
