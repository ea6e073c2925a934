#!/usr/bin/python3
"""Checks the shipped Grafana dashboard and Prometheus alert rules against a
running daemon's /consent/metrics: every metric they name is exported, every
label they select, group by, print or template is one of that metric's
labels, and every label value they select exactly is one the daemon shows.

usage: monitoring_check.py METRICS.txt DASHBOARD.json RULES.yml
Prints one problem a line, then a count of what it checked on stderr.
"""
import json
import re
import sys

import yaml

# Prometheus' own series and the labels it adds to every scraped one
PROMETHEUS_METRICS = {"up"}
TARGET_LABELS = {"instance", "job"}
SELECTOR = re.compile(r'\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?')
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r'\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)')
FUNCTIONS = {"sum", "min", "max", "avg", "count", "rate", "increase", "delta", "irate", "by",
             "without", "on", "ignoring", "group_left", "group_right", "label_values", "absent",
             "histogram_quantile", "topk", "bottomk", "and", "or", "unless", "bool", "offset"}


def exported(path):
    """{metric: {label: {values}}} from the exposition text (TYPE lines too)"""
    metrics = {}
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# TYPE "):
            metrics.setdefault(line.split()[2], {})
        elif line and not line.startswith("#"):
            m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ', line)
            labels = metrics.setdefault(m.group(1), {})
            for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""):
                labels.setdefault(k, set()).add(v)
    return metrics


def check(where, expr, texts, metrics, problems, seen):
    """expr: PromQL; texts: legends and annotations whose {{x}} / $labels.x name labels"""
    named = []
    stripped = re.sub(r'"[^"]*"', '""', expr)  # no names inside strings
    for name, _ in SELECTOR.findall(GROUPING.sub("", stripped)):
        if name in FUNCTIONS or re.fullmatch(r'[0-9.]+|[smhdwy]', name):
            continue
        if name.startswith("$") or name.startswith("__"):
            continue
        named.append(name)
    sel_re = re.compile(r'\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}')
    for name in named:
        seen.add(name)
        if name not in metrics and name not in PROMETHEUS_METRICS:
            problems.append(f"{where}: metric {name} is not in /consent/metrics")
    for name, body in sel_re.findall(expr):
        labels = metrics.get(name, {})
        for label, op, value in MATCHER.findall(body):
            if label in TARGET_LABELS:
                continue
            if label not in labels:
                problems.append(f"{where}: {name} has no label {label}")
            elif op == "=" and value not in labels[label]:
                problems.append(f"{where}: {name}{{{label}=\"{value}\"}}: no such value "
                                f"(seen: {sorted(labels[label])})")
    available = set(TARGET_LABELS)
    for name in named:
        available |= set(metrics.get(name, {}))
    used = set()
    for group in GROUPING.findall(stripped):
        used |= {g.strip() for g in group.split(",") if g.strip()}
    for text in texts:
        used |= set(re.findall(r'\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}', text))
        used |= set(re.findall(r'\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)', text))
    for label in sorted(used - available):
        problems.append(f"{where}: label {label} is on none of {sorted(set(named))}")


def dashboard(path, metrics, problems, seen):
    d = json.load(open(path))
    ids = [p["id"] for p in d["panels"]]
    if len(ids) != len(set(ids)):
        problems.append(f"{path}: panel ids repeat")
    n = 0
    for p in d["panels"]:
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}" or not p.get("targets"):
            problems.append(f"panel {p['title']}: no query on the dashboard's data source")
        for t in p.get("targets", []):
            n += 1
            check(f"panel {p['title']!r}", t["expr"], [t.get("legendFormat", "")], metrics, problems, seen)
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            n += 1
            m = re.fullmatch(r'label_values\((\w+),\s*(\w+)\)', v["definition"])
            if not m or m.group(1) not in metrics:
                problems.append(f"variable {v['name']}: {v['definition']} names no exported metric")
            seen.add(m.group(1) if m else "")
    return n


def rules(path, metrics, problems, seen):
    n = 0
    for group in yaml.safe_load(open(path))["groups"]:
        for r in group["rules"]:
            n += 1
            texts = list(r.get("annotations", {}).values())
            check(f"rule {r.get('alert') or r.get('record')}", r["expr"], texts, metrics, problems, seen)
    return n


def main():
    metrics = exported(sys.argv[1])
    problems, seen = [], set()
    n = dashboard(sys.argv[2], metrics, problems, seen) + rules(sys.argv[3], metrics, problems, seen)
    for p in problems:
        print(p)
    print(f"checked {n} queries naming {len(seen)} metrics", file=sys.stderr)


main()
