# SPDX-License-Identifier: Apache-2.0
"""`waitbench run`, `sweep` and `strategies` from the command line: exit codes and one-line errors (CPU)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from waitbench._native import gpu_unavailable_reason

NO_GPU = gpu_unavailable_reason() is not None


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "waitbench", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,needle", [
    (["run", "--strategies", "spin,bogus"], "--strategies='bogus' is invalid: expected one of spin"),
    (["run", "--workloads", "matmul"], "--workloads='matmul' is invalid"),
    (["run", "--trials", "0"], "--trials=0 is invalid"),
    (["sweep", "--threads", "33"], "threads=33 is invalid"),
    (["sweep", "--blocks", "x"], "--blocks='x' is invalid: expected comma-separated integers"),
    (["sweep", "--flags", "gpu"], "--flags='gpu' is invalid"),
    (["run", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["run", "-o", "blocks"], "-o='blocks' is invalid: expected KEY=VALUE with KEY one of"),
    (["run", "-o", "nope=1"], "-o='nope=1' is invalid"),
    (["run", "-o", "blocks=1", "-o", "blocks=2"], "each option once"),
    (["run", "-o", "blocks=0"], "blocks=0 is invalid: expected int in [1, 65535]"),
    (["run", "--strategies", "host-block", "-o", "blocks=4"], "none of --strategies host-block does"),
    (["run", "-o", "flag=device"], "give flag with --flags"),
    (["sweep", "-o", "threads=64"], "-o='threads' is invalid: expected an option of spin that is not a sweep axis"),
    (["sweep", "-o", "registers=97"], "registers=97 is invalid: expected one of 32, 64, 96, 128"),
    (["sweep", "-o", "pollers=64"], "pollers=64 is invalid: expected at most threads=32"),
    (["sweep", "--polls", "relaxed"], "--polls='relaxed' is invalid: expected one of volatile, acquire"),
    (["sweep", "--flag-lines", "own"], "--flag-lines='own' is invalid: expected one of shared, per-poller"),
])
def test_bad_input_prints_one_line_and_exits_2(args: list[str], needle: str) -> None:
    r = cli(*args)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.skipif(not NO_GPU, reason="a GPU is present")
@pytest.mark.parametrize("sub", ["run", "sweep"])
def test_without_a_gpu_run_says_why_and_points_to_the_reference_results(sub: str) -> None:
    r = cli(sub, "--workloads", "fma")
    assert r.returncode == 1
    line = r.stderr.strip()
    assert gpu_unavailable_reason() in line and "waitbench report --reference" in line
    assert len(line.splitlines()) == 1 and "Traceback" not in r.stderr


def test_strategies_lists_every_strategy_with_options() -> None:
    r = cli("strategies", "--json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert [d["name"] for d in data][:3] == ["spin", "spin-backoff", "nccl-shaped"]
    spin = data[0]
    assert {o["name"] for o in spin["options"]} >= {"blocks", "threads", "pollers", "registers", "flag", "timeout_s"}
    nccl = next(d for d in data if d["name"] == "nccl-shaped")
    assert "simple-16ch" in nccl["presets"]


def test_help_lists_every_subcommand() -> None:
    r = cli("--help")
    assert r.returncode == 0
    for sub in ("run", "sweep", "strategies"):
        assert sub in r.stdout


def test_presets_and_flags_expand_only_where_a_strategy_has_them() -> None:
    from waitbench.cli.main import build_parser
    from waitbench.cli.run import cases

    args = build_parser().parse_args(["run", "--strategies", "spin,nccl-shaped,host-block",
                                      "--presets", "simple-2ch,tiny", "--flags", "host,device"])
    got = cases(args)
    assert ("host-block", {}) in got
    assert [o for n, o in got if n == "spin"] == [{"flag": "host"}, {"flag": "device"}]
    assert len([1 for n, _ in got if n == "nccl-shaped"]) == 4


def test_options_go_to_every_strategy_that_has_them() -> None:
    from waitbench.cli.main import build_parser
    from waitbench.cli.run import cases

    args = build_parser().parse_args(["run", "--strategies", "spin,nccl-shaped,host-spin", "--flags", "host,device",
                                      "-o", "blocks=4", "-o", "timeout_s=30", "-o", "spin_us=5"])
    got = cases(args)
    assert [o for n, o in got if n == "spin"] == [{"blocks": 4, "timeout_s": 30.0, "flag": f}
                                                  for f in ("host", "device")]
    assert [o for n, o in got if n == "nccl-shaped"] == [{"timeout_s": 30.0, "flag": f} for f in ("host", "device")]
    assert [o for n, o in got if n == "host-spin"] == [{"timeout_s": 30.0, "spin_us": 5}]


def test_sweep_points_take_the_fixed_options_and_the_table_defaults() -> None:
    from waitbench.sweep import points

    pts = points([1, 2], [64], fixed={"registers": 96, "pollers": 64})
    shapes = [(p["blocks"], p["threads"], p["pollers"], p["registers"]) for p in pts]
    assert shapes == [(1, 64, 64, 96), (2, 64, 64, 96)]
    assert {(p["flag"], p["poll"], p["flag_lines"]) for p in pts} == {("host", "volatile", "shared")}


def test_a_bad_preset_is_one_line_exit_2() -> None:
    r = cli("run", "--presets", "ring-99")
    assert r.returncode == 2 and "--presets='ring-99' is invalid" in r.stderr
