# SPDX-License-Identifier: Apache-2.0
"""deploy/grafana/waitbench.json and the docs' rules against a real scrape of the exporter serving replayed recordings.

Every PromQL query of the dashboard (panel targets and template variables) is parsed with promql-parser
and checked by tests/helpers/promql_check.py: each waitbench metric exists in the scrape with every
label the query matches, groups or joins on; each dcgm-exporter metric is one of its default counters
and uses only the labels dcgm-exporter puts on a GPU series (the labels the exporter shares with it).
The alert and recording rules of docs/DIAGNOSE.md, docs/DEPLOY.md and docs/PROFILER.md are checked the same
way, in order, each recording rule's series (with the labels its expression leaves) available to the rules after
it. The scrape serves the composed recording and a profiled one (tests/data/diagnose/make_profiled.py: a
SYNTHETIC job's NCCL waits), so the waitbench_nccl_* series are in it too.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("promql_parser")
pytest.importorskip("prometheus_client")
yaml = pytest.importorskip("yaml")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from helpers.composed_windows import COMPOSED_4GPU  # noqa: E402
from helpers.promql_check import DCGM_PREFIX, check, result_labels  # noqa: E402
from waitbench.diagnose import replay_refreshes  # noqa: E402
from waitbench.diagnose.exporter import GPU_LABELS, MetricsStore, serve  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "waitbench.json"
PROFILED = ROOT / "tests" / "data" / "diagnose" / "profiled-composed-2gpu.jsonl"
# dcgm-exporter's default counters the dashboard may use (its etc/default-counters.csv).
DCGM_DEFAULT_COUNTERS = {"DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL",
                         "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_FB_USED"}


@pytest.fixture(scope="module")
def series() -> dict[str, set[str]]:
    """Sample name -> label names, from one HTTP scrape of the exporter serving the composed recording."""
    store = MetricsStore()
    for path in (COMPOSED_4GPU, PROFILED):
        for ref in replay_refreshes(path):
            store.update(ref)
    endpoint = serve("127.0.0.1:0", store)
    try:
        with urllib.request.urlopen(endpoint.url, timeout=10) as resp:
            text = resp.read().decode()
    finally:
        endpoint.close()
    out: dict[str, set[str]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, set()).update(s.labels)
    return out


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable (label_values' selector)."""
    dash = json.loads(DASHBOARD.read_text())
    out = []

    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))  # rows hold panels

    out.extend((f"panel {p['title']!r} {t['refId']}", t["expr"]) for p in panels(dash["panels"])
               for t in p.get("targets", []))
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["query"]["query"])
            assert m, var
            out.append((f"variable {var['name']}", f"group by ({m.group(2)}) ({m.group(1)})"))
    return out


def test_the_dashboard_is_grafana_json_with_panels():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    assert all(t["datasource"]["uid"] == "${datasource}" for p in dash["panels"] for t in p["targets"])


@pytest.mark.parametrize("where, expr", dashboard_queries())
def test_every_dashboard_query_matches_the_scrape(where, expr, series):
    dcgm_names = set(re.findall(rf"\b{DCGM_PREFIX}\w+", expr))
    assert dcgm_names <= DCGM_DEFAULT_COUNTERS, (where, dcgm_names)
    assert check(expr, series, set(GPU_LABELS)) == [], where


def test_the_check_catches_a_missing_metric_a_missing_label_and_a_bad_join(series):
    assert check("waitbench_no_such_metric", series, set(GPU_LABELS))
    assert check('waitbench_busy_waiting{uuid="x"}', series, set(GPU_LABELS))  # lower-case uuid is gone
    assert check("sum by (instance_type) (waitbench_power_watts)", series, set(GPU_LABELS))
    assert check("waitbench_power_watts * on (UUID) waitbench_windows_total", series, set(GPU_LABELS))
    assert check("DCGM_FI_DEV_POWER_USAGE * on (UUID) group_left (verdict) waitbench_busy_waiting", series,
                 set(GPU_LABELS))
    assert not check("DCGM_FI_DEV_POWER_USAGE * on (UUID) group_left (verdict) waitbench_verdict", series,
                     set(GPU_LABELS))


def doc_rules() -> list[tuple[str, list[dict]]]:
    """(where, its rules in order) of every rule group in the docs' YAML blocks."""
    out = []
    for doc in ("DIAGNOSE.md", "DEPLOY.md", "PROFILER.md"):
        text = (ROOT / "docs" / doc).read_text()
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
            data = yaml.safe_load(block)
            groups = data.get("groups", []) if isinstance(data, dict) else []
            out.extend((f"{doc} {group['name']}", group["rules"]) for group in groups)
    return out


def test_the_docs_have_the_nccl_wait_rules():
    names = {rule.get("alert") or rule.get("record") for _, rules in doc_rules() for rule in rules}
    assert {"waitbench:nccl_wait_share:rate5m", "NcclRankHoldsOthersUp", "NcclLateRankAcrossNodes"} <= names


@pytest.mark.parametrize("where, rules", doc_rules())
def test_every_documented_rule_matches_the_scrape(where, rules, series):
    known = dict(series)
    for rule in rules:
        labels, problems = result_labels(rule["expr"], known, set(GPU_LABELS))
        assert problems == [], (where, rule.get("alert") or rule.get("record"))
        if "record" in rule:
            known[rule["record"]] = labels


def test_the_check_catches_an_nccl_rule_grouped_by_a_label_the_series_lack(series):
    assert "waitbench_nccl_wait_seconds_total" in series
    assert check("sum by (job_id, on_rank) (rate(waitbench_nccl_wait_seconds_total[5m]))", series, set(GPU_LABELS))
    assert not check("sum by (profiler_job, on_rank) (rate(waitbench_nccl_wait_seconds_total[5m]))", series,
                     set(GPU_LABELS))
