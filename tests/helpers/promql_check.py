# SPDX-License-Identifier: Apache-2.0
"""Check a PromQL query against the series a real scrape has: every metric exists, with every label the query uses.

No Prometheus server runs here, so a query is parsed with promql-parser (a real PromQL parser, the
Rust one of GreptimeDB under Python) and its AST walked: each selector's metric must be in the scrape
(or be a dcgm-exporter series, which carries dcgm-exporter's GPU labels), each label matcher must
name a label that metric has, and each ``by (...)`` / ``on (...)`` / ``group_left (...)`` must name
labels present on every series it applies to (else the grouping or join silently matches nothing).
Grafana's variables are replaced first: ``$__rate_interval`` and friends by a duration, any other
``$name`` or ``${name}`` by ``.*`` (they sit inside regex matchers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

DURATION_VARIABLES = ("$__rate_interval", "$__interval", "$__range")
DCGM_PREFIX = "DCGM_FI_"


def substitute(expr: str) -> str:
    """``expr`` with Grafana's variables replaced so that it parses as PromQL."""
    for var in DURATION_VARIABLES:
        expr = expr.replace(var, "5m")
    return re.sub(r"\$\{\w+(?::\w+)?\}|\$\w+", ".*", expr)


def check(expr: str, series: Mapping[str, set[str]], dcgm_labels: set[str]) -> list[str]:
    """Problems of ``expr`` against ``series`` (metric name -> its label names); empty if none."""
    return result_labels(expr, series, dcgm_labels)[1]


def result_labels(expr: str, series: Mapping[str, set[str]], dcgm_labels: set[str]) -> tuple[set[str], list[str]]:
    """(the labels of ``expr``'s result, its problems): what a recording rule's series will carry."""
    import promql_parser

    problems: list[str] = []
    labels = _labels(promql_parser.parse(substitute(expr)), series, dcgm_labels, problems)
    return labels or set(), problems


def _labels(node, series, dcgm, problems) -> set[str] | None:
    """The labels every series of ``node``'s result has (None for a scalar), noting problems on the way."""
    import promql_parser as p

    if isinstance(node, p.VectorSelector):
        name = node.name
        have = dcgm if name and name.startswith(DCGM_PREFIX) else series.get(name)
        if have is None:
            problems.append(f"{name}: no such metric in the scrape")
            return set()
        for m in node.matchers.matchers:
            if m.name != "__name__" and m.name not in have:
                problems.append(f"{name}: no label {m.name!r} (it has {sorted(have)})")
        return set(have)
    if isinstance(node, p.MatrixSelector):
        return _labels(node.vector_selector, series, dcgm, problems)
    if isinstance(node, (p.ParenExpr, p.UnaryExpr, p.SubqueryExpr)):
        return _labels(node.expr, series, dcgm, problems)
    if isinstance(node, (p.NumberLiteral, p.StringLiteral)):
        return None
    if isinstance(node, p.Call):
        vectors = [x for x in (_labels(a, series, dcgm, problems) for a in node.args) if x is not None]
        return vectors[0] if vectors else None  # time(), scalar(): a scalar; rate(), abs(): their vector's labels
    if isinstance(node, p.AggregateExpr):
        inner = _labels(node.expr, series, dcgm, problems) or set()
        mod = node.modifier
        if mod is None:
            return set()
        if mod.type == p.AggModifierType.By:
            _need(set(mod.labels), inner, "by", problems)
            return set(mod.labels)
        return inner - set(mod.labels)
    if isinstance(node, p.BinaryExpr):
        lhs = _labels(node.lhs, series, dcgm, problems)
        rhs = _labels(node.rhs, series, dcgm, problems)
        if lhs is None or rhs is None:
            return rhs if lhs is None else lhs
        mod = node.modifier
        if mod is not None and mod.matching is not None and mod.matching.type == p.LabelModifierType.Include:
            _need(set(mod.matching.labels), lhs, "on (left side)", problems)
            _need(set(mod.matching.labels), rhs, "on (right side)", problems)
        one_to_many = mod is not None and mod.card == p.VectorMatchCardinality.OneToMany
        if mod is not None and mod.group_labels:  # copied from the "one" side
            _need(set(mod.group_labels), lhs if one_to_many else rhs, "group_left/group_right", problems)
        if str(node.op) == "or":
            return lhs & rhs
        return rhs if one_to_many else lhs
    problems.append(f"{type(node).__name__}: not understood by this check")
    return set()


def _need(wanted: set[str], have: set[str], where: str, problems: list[str]) -> None:
    missing = wanted - have
    if missing:
        problems.append(f"{where}: label(s) {sorted(missing)} not on the series it applies to ({sorted(have)})")
