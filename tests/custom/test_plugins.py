# SPDX-License-Identifier: Apache-2.0
"""Strategies shipped by other packages (waitbench.strategies loads them): real distributions (a .dist-info
with entry_points.txt) made in a temporary folder put on the path, found through importlib.metadata as
pip-installed ones are. Here beside the other research-strategy tests, whose fixture cleans the table.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

st = importlib.import_module("waitbench.strategies")

DEMO = '''
from waitbench.custom import Option, register_strategy


def register():
    @register_strategy("plug-sleep-poll", host=True,
                       options=(Option("sleep_us", int, 50, "sleep between polls", "us", 1, 100000),))
    def sleep_poll(ctx, sleep_us):
        """Sleeps between polls of the release (a plugin's host wait)."""
        return "released"
'''
MODULE_PLUGIN = '''
from waitbench.custom import register_strategy

register_strategy("plug-at-import", host_wait=lambda ctx: "released", doc="registered when imported")
'''
BROKEN = "import wbplug_no_such_module  # the plugin's own dependency is missing\n"
MODULES = ("wbplug_demo", "wbplug_mod", "wbplug_broken")


def make_dist(site: Path, dist: str, module: str, code: str, entry: str) -> None:
    """A minimal installed distribution: its module and a .dist-info with metadata and entry points."""
    (site / f"{module}.py").write_text(code)
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{st.PLUGIN_GROUP}]\n{entry}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_dist(tmp_path, "wbplug-demo", "wbplug_demo", DEMO, "demo = wbplug_demo:register")
    make_dist(tmp_path, "wbplug-mod", "wbplug_mod", MODULE_PLUGIN, "at-import = wbplug_mod")
    make_dist(tmp_path, "wbplug-broken", "wbplug_broken", BROKEN, "broken = wbplug_broken:register")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for m in MODULES:
        sys.modules.pop(m, None)


def test_entry_points_register_their_strategies_marked_with_the_distribution(site: Path,
                                                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="waitbench"):
        loaded = st.load_plugins()
    assert sorted(loaded) == ["at-import", "demo"]
    assert st.get("plug-sleep-poll").source == "plugin:wbplug-demo"
    assert st.get("plug-sleep-poll").doc == "Sleeps between polls of the release (a plugin's host wait)."
    assert st.get("plug-at-import").source == "plugin:wbplug-mod"
    assert st.resolve("plug-sleep-poll", sleep_us=7)[1] == {"sleep_us": 7, "timeout_s": 10.0}


def test_a_broken_plugin_costs_one_warning_line_and_nothing_else(site: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="waitbench"):
        st.load_plugins()
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "'broken' from wbplug-broken" in warnings[0] and "wbplug_no_such_module" in warnings[0]
    assert "spin" in {s.name for s in st.strategies()}


def test_a_plugin_that_clashes_with_a_builtin_is_skipped_with_a_warning(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    make_dist(tmp_path, "wbplug-clash", "wbplug_clash",
              "from waitbench.custom import register_strategy\n"
              "def register():\n    register_strategy('spin', host_wait=lambda ctx: 'released')\n",
              "clash = wbplug_clash:register")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    try:
        with caplog.at_level(logging.WARNING, logger="waitbench"):
            assert st.load_plugins() == []
    finally:
        sys.modules.pop("wbplug_clash", None)
    assert "name='spin' is invalid" in caplog.records[0].getMessage()
    assert st.get("spin").source == "builtin"


def test_discovery_is_lazy_and_happens_once(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "_plugins_loaded", False)
    assert "plug-sleep-poll" not in st._TABLE  # nothing was loaded at import
    assert st.get("plug-sleep-poll").name == "plug-sleep-poll"  # an unknown name triggers discovery
    assert st._plugins_loaded
    sys.modules.pop("wbplug_mod", None)
    st.remove("plug-at-import")
    st.strategies()  # a second listing does not load the group again
    assert "plug-at-import" not in st._TABLE


def test_the_cli_finds_a_plugin_strategy_and_says_one_line_about_a_broken_one(site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "waitbench", *args], capture_output=True, text=True,
                              timeout=120, env=env)

    listed = cli("strategies", "--json")
    assert listed.returncode == 0
    names = [s["name"] for s in json.loads(listed.stdout)]
    assert names[:2] == ["spin", "spin-backoff"] and {"plug-sleep-poll", "plug-at-import"} <= set(names)
    lines = listed.stderr.strip().splitlines()
    assert len(lines) == 1 and "skipped strategy plugin 'broken'" in lines[0]
    run = cli("run", "--strategies", "plug-sleep-poll,nope")
    assert run.returncode == 2 and "--strategies='nope' is invalid" in run.stderr
