#!/usr/bin/env python3
"""Checks the PromQL of docs/monitoring/ against what the programs export.

    monitoring_exprs.py DASHBOARD.json ALERTS.yml SCRAPE.prom...

Every panel target's expression of the Grafana dashboard (rows and nested
panels included) and every alert rule's expression are written as
recording rules into a temporary rules file and parsed by `promtool check
rules` (Grafana's interval variables replaced by a duration first), so a
panel whose query does not parse fails here. Then every metric name they
use must be one the programs export: a name sampled or declared (# TYPE;
a histogram's _bucket, _count and _sum) in the scraped /metrics files of a
running pipeline (http_metrics.sh saves them), or Prometheus's own `up`.

Prints one PASS or FAIL line per check (the caller counts them); exit
status 1 when anything failed. No Debian or npm package validates a
Grafana dashboard offline (Grafana's schema needs Grafana or its
TypeScript/CUE toolchain), so this checks what a dashboard can get wrong
against the programs: its queries.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

NAME = "http_metrics:monitoring"
# PromQL words that look like metric names but are not.
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and",
    "or", "unless", "bool", "offset", "le", "inf", "nan",
}


def dashboard_exprs(path):
    """(where, expr) for every target of every panel, rows included."""
    out = []

    def walk(panels):
        for p in panels or []:
            for i, t in enumerate(p.get("targets") or []):
                if t.get("expr"):
                    out.append(("panel %r target %d" % (p.get("title"), i),
                                t["expr"]))
            walk(p.get("panels"))

    with open(path, encoding="utf-8") as f:
        walk(json.load(f).get("panels"))
    return out


def alert_exprs(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [("rule %r" % (r.get("alert") or r.get("record")), r["expr"])
            for g in doc.get("groups", []) for r in g.get("rules", [])]


def grafana_vars(expr):
    """Grafana's variables replaced by what Prometheus would get."""
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    return re.sub(r"\$\{?[A-Za-z_]\w*\}?", ".*", expr)


def exported(paths):
    names = {"up"}
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"# TYPE (\S+) (\S+)", line)
                if m:
                    names.add(m.group(1))
                    if m.group(2) == "histogram":
                        names.update(m.group(1) + s
                                     for s in ("_bucket", "_count", "_sum"))
                    continue
                m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)[{ ]", line)
                if m:
                    names.add(m.group(1))
    return names


def metric_names(expr):
    """Names in metric position: not inside {...}, not a function or an
    aggregation (a name before "(" or before by/without), not a keyword,
    not a label list after by/without/on."""
    body = re.sub(r"\{[^}]*\}", "{}", expr)
    body = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*"
                  r"\([^)]*\)", r"\1 ()", body)
    body = re.sub(r"\[[^\]]*\]", "[]", body)
    body = re.sub(r'"[^"]*"', '""', body)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", body):
        word = m.group(0)
        rest = body[m.end():].lstrip()
        if (word.lower() in KEYWORDS or rest.startswith("(") or
                re.match(r"(by|without)\b", rest)):
            continue  # a keyword, a function, an aggregation's name
        if re.fullmatch(r"\d", body[m.start() - 1:m.start()] or "x"):
            continue  # the e of 1e3
        names.add(word)
    return names


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    dash, alerts, proms = sys.argv[1], sys.argv[2], sys.argv[3:]
    exprs = dashboard_exprs(dash) + alert_exprs(alerts)
    failed = False
    if not dashboard_exprs(dash):
        print("FAIL %s: no panel expressions in %s" % (NAME, dash))
        return 1
    rules = {"groups": [{"name": "monitoring_exprs", "rules": [
        {"record": "sluice_check:expr_%d" % i, "expr": grafana_vars(e)}
        for i, (_, e) in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(rules, f)  # YAML is a superset of JSON.
    try:
        r = subprocess.run(["promtool", "check", "rules", f.name],
                           capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if r.returncode == 0:
        print("PASS %s: promtool parses all %d dashboard and alert "
              "expressions" % (NAME, len(exprs)))
    else:
        failed = True
        print("FAIL %s: promtool check rules on the expressions: %s" %
              (NAME, (r.stdout + r.stderr).strip()[:1500]))
    known = exported(proms)
    missing = []
    for where, e in exprs:
        for n in sorted(metric_names(e) - known):
            missing.append("%s uses %s" % (where, n))
    if missing:
        failed = True
        print("FAIL %s: metrics the programs do not export: %s" %
              (NAME, "; ".join(missing)))
    else:
        print("PASS %s: every metric the dashboard and the alerts use is "
              "exported" % NAME)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
