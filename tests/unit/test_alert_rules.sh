#!/usr/bin/env bash
# test_alert_rules - the Prometheus alert rules that the Helm chart ships
# (helm/seam/alerts/seam-rules.yaml) load, pass promtool's lint, and behave
# as their unit tests (helm/seam/alerts/tests/*.yaml) say. Then the rule
# file's own conventions, which promtool cannot know:
#   - every alert has `for:`, a severity label and the annotations summary,
#     description, runbook (the repository path) and runbook_url (under the
#     one base URL the chart may replace);
#   - every alert has docs/runbooks/<Alert>.md, listed in
#     docs/runbooks/README.md, and no runbook is left without its alert;
#   - every alert has at least one unit-test case where it fires and one
#     where it does not, and no test names an alert that does not exist
#     (such a test would pass by expecting nothing).
# Metric names and label sets against docs/metrics.md are checked by
# test_dashboard_queries.sh, together with the dashboard's.
#
# Needs promtool (Debian package `prometheus`) and python3 with PyYAML
# (Debian package `python3-yaml`); a missing one is a FAILURE, not a skip,
# so a CI image without them cannot pass silently.
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
rules=$src/helm/seam/alerts/seam-rules.yaml
testdir=$src/helm/seam/alerts/tests
[[ -f $rules ]] || fail "$rules not found"

shopt -s nullglob
tests=("$testdir"/*.yaml)
shopt -u nullglob
((${#tests[@]} > 0)) || fail "no promtool rule tests in $testdir"

# --lint-fatal: a duplicate rule is an error here, not a warning.
if ! out=$(promtool check rules --lint=all --lint-fatal "$rules" 2>&1); then
        echo "$out" >&2
        fail "promtool check rules rejected $rules"
fi
echo "$out"

if ! out=$(promtool test rules "${tests[@]}" 2>&1); then
        echo "$out" >&2
        fail "promtool test rules failed"
fi
echo "$out"

python3 - "$src" "$rules" "${tests[@]}" <<'PY'
import os
import re
import sys

import yaml

src, rules_path, test_paths = sys.argv[1], sys.argv[2], sys.argv[3:]
# The chart swaps this prefix for its own base URL (docs/runbooks/README.md).
RUNBOOK_BASE = "https://github.com/seam-project/seam/blob/main/docs/runbooks/"
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_SECTIONS = ["## Meaning", "## Likely causes", "## What to look at", "## How to fix",
                    "## Silencing"]
errors = []

with open(rules_path) as f:
    doc = yaml.safe_load(f)
alerts = {}
for group in doc.get("groups") or []:
    for rule in group.get("rules") or []:
        if "alert" not in rule:
            continue
        name = rule["alert"]
        if name in alerts:
            errors.append(f"alert {name} is defined twice")
        alerts[name] = rule
if not alerts:
    errors.append(f"{rules_path} defines no alert")

runbook_dir = os.path.join(src, "docs", "runbooks")
try:
    with open(os.path.join(runbook_dir, "README.md")) as f:
        index = f.read()
except OSError as e:
    index = ""
    errors.append(f"docs/runbooks/README.md: {e.strerror}")

for name, rule in sorted(alerts.items()):
    if not re.fullmatch(r"Seam[A-Z][A-Za-z0-9]*", name):
        errors.append(f"{name}: alert names are CamelCase starting with Seam")
    if not re.fullmatch(r"[1-9][0-9]*[smh]", str(rule.get("for", ""))):
        errors.append(f"{name}: needs `for:` with a positive duration (got {rule.get('for')!r})")
    sev = (rule.get("labels") or {}).get("severity")
    if sev not in SEVERITIES:
        errors.append(f"{name}: labels.severity must be one of {sorted(SEVERITIES)} (got {sev!r})")
    ann = rule.get("annotations") or {}
    for key in ("summary", "description"):
        if not str(ann.get(key, "")).strip():
            errors.append(f"{name}: annotation {key} is missing or empty")
    want = f"docs/runbooks/{name}.md"
    if ann.get("runbook") != want:
        errors.append(f"{name}: annotation runbook must be {want!r} (got {ann.get('runbook')!r})")
    if ann.get("runbook_url") != RUNBOOK_BASE + name + ".md":
        errors.append(f"{name}: annotation runbook_url must be {RUNBOOK_BASE + name + '.md'!r} "
                      f"(got {ann.get('runbook_url')!r})")
    path = os.path.join(src, want)
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        errors.append(f"{name}: {want}: {e.strerror}")
        continue
    if not text.startswith(f"# {name}\n"):
        errors.append(f"{want}: must start with the line '# {name}'")
    for section in RUNBOOK_SECTIONS:
        if not re.search(r"^" + re.escape(section) + r"\b", text, re.M):
            errors.append(f"{want}: lacks the section '{section}'")
    if f"({name}.md)" not in index:
        errors.append(f"docs/runbooks/README.md does not link {name}.md")

for fname in sorted(os.listdir(runbook_dir)) if os.path.isdir(runbook_dir) else []:
    if fname.endswith(".md") and fname != "README.md" and fname[:-3] not in alerts:
        errors.append(f"docs/runbooks/{fname} has no alert of that name in {rules_path}")

# Which alerts the unit tests exercise, and how.
fires = {name: 0 for name in alerts}
silent = {name: 0 for name in alerts}
real_rules = os.path.realpath(rules_path)
for tpath in test_paths:
    with open(tpath) as f:
        tdoc = yaml.safe_load(f) or {}
    base = os.path.dirname(tpath)
    files = [os.path.realpath(os.path.join(base, p)) for p in tdoc.get("rule_files") or []]
    if real_rules not in files:
        errors.append(f"{tpath}: rule_files does not load {rules_path}")
    for case in tdoc.get("tests") or []:
        for at in case.get("alert_rule_test") or []:
            name = at.get("alertname")
            if name not in alerts:
                errors.append(f"{tpath}: tests alert {name!r}, which {rules_path} does not define")
                continue
            if at.get("exp_alerts"):
                fires[name] += 1
            else:
                silent[name] += 1
for name in sorted(alerts):
    if not fires[name]:
        errors.append(f"{name}: no unit-test case where it fires")
    if not silent[name]:
        errors.append(f"{name}: no unit-test case where it stays silent")

if errors:
    for e in errors:
        print("FAIL: " + e, file=sys.stderr)
    sys.exit(1)
print(f"ok: {len(alerts)} alerts, each with for/severity/annotations, a runbook, "
      f"and firing ({sum(fires.values())}) and silent ({sum(silent.values())}) test cases")
PY
