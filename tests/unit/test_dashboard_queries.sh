#!/usr/bin/env bash
# test_dashboard_queries - the Grafana dashboard the Helm chart ships
# (helm/seam/dashboards/seam.json) and the metric contract (docs/metrics.md).
#
#   1. The dashboard's structure: a ${datasource} Prometheus variable, the
#      `consumer` variable from label_values(seam_consumer_up, consumer),
#      unique panel ids, a grid without overlaps, every panel with a
#      description and the ${datasource} data source.
#   2. Every PromQL expression (panel targets and variable queries), with
#      Grafana's variables replaced by concrete values, is written as a
#      recording rule and checked with `promtool check rules`: a syntax
#      error in any query fails here.
#   3. Every metric name used by the dashboard and by the alert rules is a
#      family of docs/metrics.md (or a histogram's _bucket/_sum/_count): a
#      typo fails here. The series of the alert unit tests carry exactly the
#      labels docs/metrics.md lists (plus the target labels job, instance,
#      namespace, pod).
#   4. Every dashboard query returns data when evaluated by
#      `promtool test rules` over series generated from docs/metrics.md
#      (its label names and documented values): a wrong label name or value
#      in a selector (outcome="handeled") fails here.
#
# Needs promtool (Debian package `prometheus`) and python3 with PyYAML
# (Debian package `python3-yaml`); a missing one is a FAILURE, not a skip.
set -euo pipefail

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

command -v promtool >/dev/null 2>&1 ||
        fail "promtool not found; install it with: apt-get install -y prometheus"
command -v python3 >/dev/null 2>&1 ||
        fail "python3 not found; install it with: apt-get install -y python3 python3-yaml"
python3 -c 'import yaml' 2>/dev/null ||
        fail "python3 cannot import yaml; install it with: apt-get install -y python3-yaml"

src=${SEAM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
dashboard=$src/helm/seam/dashboards/seam.json
rules=$src/helm/seam/alerts/seam-rules.yaml
metrics_doc=$src/docs/metrics.md
for f in "$dashboard" "$rules" "$metrics_doc"; do
        [[ -f $f ]] || fail "$f not found"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seam-dashboard-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The Python part checks 1 and 3 itself and writes the files for 2 and 4:
# check.json (recording rules), eval_rules.json + eval_test.json (one
# absent() alert per query, and a test expecting none to fire), and
# queries.txt (rule name -> panel, for the messages below). JSON is YAML,
# so promtool reads these without PyYAML writing them.
python3 - "$dashboard" "$rules" "$metrics_doc" "$src/helm/seam/alerts/tests" "$tmp" <<'PY'
import glob
import itertools
import json
import os
import re
import sys

import yaml

dash_path, rules_path, doc_path, alert_tests_dir, out = sys.argv[1:6]
errors = []

# ------------------------------------------------------------ the contract
FAMILY_ROW = re.compile(r"^\|\s*`(seam_[a-z0-9_]+)`\s*\|\s*(counter|gauge|histogram)\s*\|([^|]*)\|(.*)\|\s*$")
families = {}
with open(doc_path) as f:
    for line in f:
        m = FAMILY_ROW.match(line)
        if not m:
            continue
        name, mtype, labels, meaning = m.groups()
        label_names = re.findall(r"`([a-z_]+)`", labels)
        # The values a label takes are the backticked words of the meaning
        # column (outcome, class, op); other labels take generated values.
        words = [w for w in re.findall(r"`([a-z_]+)`", meaning) if w not in label_names]
        families[name] = {"type": mtype, "labels": label_names, "values": words}
if len(families) < 10 or "seam_consumer_up" not in families:
    sys.exit(f"FAIL: could not read the families table of {doc_path} "
             f"(found {len(families)} rows like | `seam_x` | gauge | `label` | meaning |)")

HIST_SUFFIXES = ("_bucket", "_sum", "_count")
TARGET_LABELS = {"job", "instance", "namespace", "pod"}


def family_of(series_name):
    if series_name in families:
        return series_name
    for suffix in HIST_SUFFIXES:
        base = series_name[: -len(suffix)]
        if series_name.endswith(suffix) and families.get(base, {}).get("type") == "histogram":
            return base
    return None


# ------------------------------------------------- PromQL metric names
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "and", "or", "unless", "inf", "nan"}


def metric_names(expr):
    """Metric names of a PromQL expression: identifiers that are not
    function calls, keywords, label names or durations."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^{}]*\}", " ", s)
    s = re.sub(r"\[[^\[\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(\s*\()?", s):
        if m.group(2) or m.group(1).lower() in KEYWORDS:
            continue
        names.add(m.group(1))
    return names


SELECTOR = re.compile(r'(?<![\w:])([A-Za-z_:][A-Za-z0-9_:]*)\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}')
MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
# Labels whose values seam generates (names, topics, partitions); the other
# labels of a family take the values its meaning column lists.
GENERATED_LABELS = {"consumer", "topic", "partition"}


def check_expr(where, expr):
    """Metric names must be families of docs/metrics.md; label matchers must
    use their labels, and documented values where the doc lists them."""
    if "__name__" in expr:
        errors.append(f"{where}: selects by __name__, which this test cannot check: {expr}")
    names = metric_names(expr)
    if not names:
        errors.append(f"{where}: no metric name found in: {expr}")
    for n in sorted(names):
        if not family_of(n):
            errors.append(f"{where}: metric {n} is not in docs/metrics.md")
    for sm in SELECTOR.finditer(expr):
        fam = family_of(sm.group(1))
        if not fam:
            continue
        info = families[fam]
        allowed = set(info["labels"]) | TARGET_LABELS
        if sm.group(1).endswith("_bucket") and info["type"] == "histogram":
            allowed.add("le")
        for label, op, value in MATCHER.findall(sm.group(2)):
            if label not in allowed:
                errors.append(f"{where}: {sm.group(1)} has no label {label} in docs/metrics.md")
            elif label in info["labels"] and label not in GENERATED_LABELS and info["values"]:
                words = value.split("|") if op in ("=~", "!~") else [value]
                if op in ("=~", "!~") and not re.fullmatch(r"[a-z_]+(\|[a-z_]+)*", value):
                    continue
                for w in words:
                    if w not in info["values"]:
                        errors.append(f"{where}: {sm.group(1)}: {label}={w!r} is not a value docs/metrics.md "
                                      f"lists ({', '.join(info['values'])})")


# ------------------------------------------------------------- dashboard
with open(dash_path) as f:
    dash = json.load(f)

if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
    errors.append(f"schemaVersion must be 36 or later (got {dash.get('schemaVersion')!r})")
if not dash.get("uid") or not dash.get("title"):
    errors.append("the dashboard needs a uid and a title")

variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list") or []}
dsv = variables.get("datasource")
if not dsv or dsv.get("type") != "datasource" or dsv.get("query") != "prometheus":
    errors.append("templating needs a variable `datasource` of type datasource, query prometheus")
DS_UID = "${datasource}"

# Concrete values for Grafana's variables: the generated series below use
# these consumers and this topic, so the queries select something.
CONSUMERS = ["order-audit", "payments"]
TOPIC = "orders"
SUBST = {"consumer": "|".join(CONSUMERS), "topic": TOPIC, "__rate_interval": "2m",
         "__interval": "30s", "__range": "1h", "__range_s": "3600", "__range_ms": "3600000"}


def substitute(where, expr):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in SUBST:
            errors.append(f"{where}: unknown Grafana variable ${name} in: {expr}")
            return "0"
        return SUBST[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$([A-Za-z_]\w*)", repl, expr)


queries = []  # (where, promql)


def var_query_text(name, v):
    """The query Grafana runs (query.query, or query as a string in older
    models); `definition`, what the editor shows, must say the same."""
    q = v.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    q = (q or "").strip()
    if v.get("definition", q).strip() != q:
        errors.append(f"variable {name}: definition {v.get('definition')!r} differs from query {q!r}")
    return q


for name, v in variables.items():
    if v.get("type") != "query":
        continue
    if (v.get("datasource") or {}).get("uid") != DS_UID:
        errors.append(f"variable {name}: datasource must be {DS_UID}")
    q = var_query_text(name, v)
    m = re.fullmatch(r"label_values\((.+),\s*([A-Za-z_]\w*)\s*\)", q, re.S)
    if not m:
        errors.append(f"variable {name}: query {q!r} is not label_values(selector, label)")
        continue
    queries.append((f"variable {name}", f"count by ({m.group(2)}) ({m.group(1)})"))
cv = variables.get("consumer")
if not cv or re.sub(r"\s", "", var_query_text("consumer", cv)) != "label_values(seam_consumer_up,consumer)":
    errors.append("templating needs a query variable `consumer`: label_values(seam_consumer_up, consumer)")


def walk(panels):
    for p in panels or []:
        yield p
        yield from walk(p.get("panels"))


ids = set()
cells = {}
for p in walk(dash.get("panels")):
    title = p.get("title", "")
    where = f"panel {p.get('id')} {title!r}"
    if p.get("id") in ids or not isinstance(p.get("id"), int):
        errors.append(f"{where}: panel ids must be unique integers")
    ids.add(p.get("id"))
    gp = p.get("gridPos") or {}
    if not all(isinstance(gp.get(k), int) for k in ("h", "w", "x", "y")) or gp["x"] + gp["w"] > 24:
        errors.append(f"{where}: gridPos needs integer h, w, x, y within 24 columns")
    else:
        for cx in range(gp["x"], gp["x"] + gp["w"]):
            for cy in range(gp["y"], gp["y"] + gp["h"]):
                if (cx, cy) in cells:
                    errors.append(f"{where}: overlaps {cells[(cx, cy)]}")
                    break
                cells[(cx, cy)] = where
            else:
                continue
            break
    if p.get("type") == "row":
        continue
    if not title:
        errors.append(f"panel {p.get('id')}: no title")
    if len((p.get("description") or "").strip()) < 80:
        errors.append(f"{where}: needs a description of what it shows and what to do")
    if (p.get("datasource") or {}).get("uid") != DS_UID:
        errors.append(f"{where}: datasource must be {DS_UID}")
    targets = p.get("targets") or []
    if not targets:
        errors.append(f"{where}: no query")
    refs = set()
    for t in targets:
        ref = t.get("refId")
        if not ref or ref in refs:
            errors.append(f"{where}: every target needs a unique refId")
        refs.add(ref)
        if (t.get("datasource") or {}).get("uid", DS_UID) != DS_UID:
            errors.append(f"{where} {ref}: datasource must be {DS_UID}")
        expr = (t.get("expr") or "").strip()
        if not expr:
            errors.append(f"{where} {ref}: empty expr")
            continue
        queries.append((f"{where} {ref}", expr))

if len(queries) < 10:
    errors.append(f"only {len(queries)} queries found in the dashboard")

concrete = []
for where, expr in queries:
    q = substitute(where, expr)
    check_expr(where, q)
    concrete.append((where, q))

# ---------------------------------------------------- alert rules and tests
with open(rules_path) as f:
    rdoc = yaml.safe_load(f)
for group in rdoc.get("groups") or []:
    for rule in group.get("rules") or []:
        check_expr(f"rule {rule.get('alert') or rule.get('record')}", str(rule.get("expr", "")))

SERIES = re.compile(r"^\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*$", re.S)
for tpath in sorted(glob.glob(os.path.join(alert_tests_dir, "*.yaml"))):
    with open(tpath) as f:
        tdoc = yaml.safe_load(f) or {}
    for case in tdoc.get("tests") or []:
        for s in case.get("input_series") or []:
            where = f"{os.path.basename(tpath)}: series {s.get('series')!r}"
            m = SERIES.match(str(s.get("series", "")))
            if not m:
                errors.append(f"{where}: cannot read")
                continue
            fam = family_of(m.group(1))
            if not fam:
                errors.append(f"{where}: metric {m.group(1)} is not in docs/metrics.md")
                continue
            got = set(re.findall(r'([A-Za-z_]\w*)\s*=~?\s*"', m.group(2) or "")) - TARGET_LABELS
            want = set(families[fam]["labels"])
            if m.group(1).endswith("_bucket") and families[fam]["type"] == "histogram":
                want.add("le")
            if got != want:
                errors.append(f"{where}: labels {sorted(got)} but docs/metrics.md lists {sorted(want)} "
                              f"(job, instance, namespace, pod may be added)")

if errors:
    for e in errors:
        print("FAIL: " + e, file=sys.stderr)
    sys.exit(1)

# ------------------------------------------- files for promtool (2 and 4)
names = [f"seam_dashboard:q{i}" for i in range(len(concrete))]
with open(os.path.join(out, "queries.txt"), "w") as f:
    for n, (where, q) in zip(names, concrete):
        f.write(f"{n}\t{where}\t{q}\n")
with open(os.path.join(out, "check.json"), "w") as f:
    json.dump({"groups": [{"name": "dashboard", "rules": [
        {"record": n, "expr": q} for n, (_, q) in zip(names, concrete)]}]}, f, indent=1)
alertnames = [f"DashboardQueryEmpty_q{i}" for i in range(len(concrete))]
with open(os.path.join(out, "eval_rules.json"), "w") as f:
    json.dump({"groups": [{"name": "dashboard-eval", "rules": [
        {"alert": a, "expr": f"absent({q})"} for a, (_, q) in zip(alertnames, concrete)]}]}, f, indent=1)

# Series for every family with every combination of its labels' values:
# two consumers, one topic, two partitions, the documented outcomes,
# classes and ops. 91 one-minute samples; counters rise, gauges are 1.
GENERATED = {"consumer": CONSUMERS, "topic": [TOPIC], "partition": ["0", "1"]}
BUCKETS = ["0.005", "0.05", "0.5", "5", "+Inf"]
series = []
for fam, info in sorted(families.items()):
    value_lists = []
    for label in info["labels"]:
        value_lists.append(GENERATED.get(label) or info["values"] or ["test"])
    for combo in itertools.product(*value_lists):
        labels = dict(zip(info["labels"], combo), job="seam", instance="seam-0:9464")

        def sel(name, extra=None):
            lab = dict(labels, **(extra or {}))
            return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(lab.items())) + "}"

        if info["type"] == "histogram":
            for i, le in enumerate(BUCKETS):
                series.append({"series": sel(fam + "_bucket", {"le": le}), "values": f"0+{i + 1}x90"})
            series.append({"series": sel(fam + "_count"), "values": f"0+{len(BUCKETS)}x90"})
            series.append({"series": sel(fam + "_sum"), "values": "0+0.5x90"})
        elif info["type"] == "counter":
            series.append({"series": sel(fam), "values": "0+3x90"})
        else:
            series.append({"series": sel(fam), "values": "1x90"})
with open(os.path.join(out, "eval_test.json"), "w") as f:
    json.dump({"rule_files": ["eval_rules.json"], "evaluation_interval": "1m",
               "tests": [{"interval": "1m", "input_series": series,
                          "alert_rule_test": [{"eval_time": "80m", "alertname": a, "exp_alerts": []}
                                              for a in alertnames]}]}, f, indent=1)
print(f"ok: {len(concrete)} dashboard queries use only metrics of docs/metrics.md "
      f"({len(families)} families); alert rules and alert test series match it")
PY

if ! out=$(promtool check rules "$tmp/check.json" 2>&1); then
        echo "$out" >&2
        echo "--- rule name, panel, query ---" >&2
        cat "$tmp/queries.txt" >&2
        fail "a dashboard query does not parse (promtool check rules)"
fi
echo "ok: promtool check rules parses every dashboard query ($(wc -l <"$tmp/queries.txt") queries)"

if ! out=$(promtool test rules "$tmp/eval_test.json" 2>&1); then
        echo "$out" >&2
        echo "--- a firing DashboardQueryEmpty_qN means query N returned no data: ---" >&2
        cat "$tmp/queries.txt" >&2
        fail "a dashboard query selects nothing from series shaped as docs/metrics.md says"
fi
echo "ok: every dashboard query returns data over series generated from docs/metrics.md"
