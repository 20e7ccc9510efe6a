#!/usr/bin/env bash
# test_helm_chart - the Helm chart (helm/seam) and the image files are fit to
# ship:
#
#   - helm lint --strict over the default values and tests/unit/helm-ci-values.yaml
#     (which enables everything: StatefulSet + static membership, SASL/TLS and
#     other existing Secrets, ServiceMonitor, PrometheusRule, dashboard, KEDA, PDB);
#   - the chart refuses bad combinations (KEDA with an HPA, replicas above the
#     partition count, static membership without a StatefulSet, ...);
#   - facts of both renders: hardened pods, grace period derived from
#     seam.shutdown_timeout_ms, a checksum that follows the config and only
#     the config, every ${VAR} of seam.yaml defined in the container, KEDA
#     metadata all strings and matching auto.offset.reset, alerts and
#     dashboard shipped unchanged, Capabilities gates;
#   - kube-linter with every built-in check, exclusions only with a reason
#     (helm/seam/.kube-linter.yaml);
#   - kubernetes-validate (offline schemas) on the built-in kinds, and a
#     shape check of the CRD kinds (ServiceMonitor, PrometheusRule,
#     ScaledObject, TriggerAuthentication) it has no schemas for;
#   - `seam check-config --embedded-broker` accepts the rendered seam.yaml
#     of both renders (and refuses one naming a plugin that does not exist);
#   - hadolint on Dockerfile and docker/Dockerfile.plugins; the entrypoint
#     execs seam.
#
# Tools come from scripts/install-chart-tools.sh (go install / PyPI, cached
# under ~/.cache/seam). A tool that cannot be installed is a FAILURE, not a
# skip. Needs SEAM_BIN and SEAM_PLUGIN_DIR (set by ctest) with the seam and
# order_audit targets built.
set -euo pipefail

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

src=${SEAM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
chart=$src/helm/seam
ci_values=$src/tests/unit/helm-ci-values.yaml
seam_bin=${SEAM_BIN:-}
plugin_dir=${SEAM_PLUGIN_DIR:-}
[[ -n $seam_bin && -x $seam_bin ]] ||
        fail "SEAM_BIN ('$seam_bin') is not an executable; run through ctest after building the seam target"
[[ -n $plugin_dir && -f $plugin_dir/order_audit.so ]] ||
        fail "SEAM_PLUGIN_DIR ('$plugin_dir') has no order_audit.so; build the order_audit target"

if ! tool_lines=$("$src/scripts/install-chart-tools.sh"); then
        fail "scripts/install-chart-tools.sh could not install helm, kube-linter, kubernetes-validate and hadolint (its messages are above); the chart cannot be checked without them"
fi
HELM='' KUBE_LINTER='' KUBERNETES_VALIDATE='' HADOLINT=''
while IFS='=' read -r k v; do
        case $k in
        HELM | KUBE_LINTER | KUBERNETES_VALIDATE | HADOLINT) printf -v "$k" '%s' "$v" ;;
        esac
done <<<"$tool_lines"
for t in HELM KUBE_LINTER KUBERNETES_VALIDATE HADOLINT; do
        [[ -n ${!t} && -x ${!t} ]] || fail "install-chart-tools.sh did not report a working $t"
done
python=$(dirname "$KUBERNETES_VALIDATE")/python # has PyYAML (a kubernetes-validate dependency)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seam-helm-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A plain `go install` of helm assumes Kubernetes 1.20; say which one we
# target. The chart's kubeVersion is >=1.25.
kube=1.30.0
crd_apis=(--api-versions monitoring.coreos.com/v1 --api-versions keda.sh/v1alpha1)

render() { # out-file helm-args...
        local out=$1
        shift
        "$HELM" template seam-ci "$chart" --namespace streams --kube-version "$kube" "$@" >"$out"
}

# Runs a render that must fail and checks the message names the problem.
must_refuse() { # expected-substring helm-args...
        local want=$1 out
        shift
        if out=$("$HELM" template seam-ci "$chart" --namespace streams --kube-version "$kube" "$@" 2>&1); then
                fail "helm template $* rendered, but the chart must refuse it ($want)"
        fi
        grep -qF -- "$want" <<<"$out" || fail "helm template $* failed without saying '$want':
$out"
        echo "ok: refused: $want"
}

echo "== helm lint"
"$HELM" lint --strict --kube-version "$kube" "$chart" >"$tmp/lint.txt" 2>&1 ||
        { cat "$tmp/lint.txt" >&2; fail "helm lint --strict (default values)"; }
"$HELM" lint --strict --kube-version "$kube" -f "$ci_values" "$chart" >"$tmp/lint.txt" 2>&1 ||
        { cat "$tmp/lint.txt" >&2; fail "helm lint --strict -f helm-ci-values.yaml"; }
echo "ok: helm lint --strict, default and CI values"

echo "== helm template"
render "$tmp/default.yaml" || fail "helm template with the default values"
render "$tmp/ci.yaml" -f "$ci_values" "${crd_apis[@]}" || fail "helm template with helm-ci-values.yaml"
# Without the CRD APIs the optional kinds must not render (Capabilities gate).
render "$tmp/ci-nocrd.yaml" -f "$ci_values" || fail "helm template with helm-ci-values.yaml, no CRD APIs"
# The checksum must follow seam.yaml and nothing else.
render "$tmp/ci-loglevel.yaml" -f "$ci_values" "${crd_apis[@]}" --set seam.logLevel=warn ||
        fail "helm template with seam.logLevel=warn"
render "$tmp/ci-podann.yaml" -f "$ci_values" "${crd_apis[@]}" --set podAnnotations.extra=x ||
        fail "helm template with an extra pod annotation"
render "$tmp/default-grace.yaml" --set seam.shutdownTimeoutMs=90500 || fail "helm template with shutdownTimeoutMs=90500"
# What users install is the packaged chart: .helmignore must keep the files
# the templates read (.Files.Get of the alerts and the dashboard).
"$HELM" package "$chart" -d "$tmp/pkg" >/dev/null || fail "helm package"
"$HELM" template seam-ci "$tmp"/pkg/seam-*.tgz --namespace streams --kube-version "$kube" \
        -f "$ci_values" "${crd_apis[@]}" >"$tmp/ci-pkg.yaml" || fail "helm template of the packaged chart"
cmp -s "$tmp/ci.yaml" "$tmp/ci-pkg.yaml" ||
        fail "the packaged chart renders differently from helm/seam (a file the templates need is in .helmignore?)"
echo "ok: rendered (directory and packaged chart alike)"

echo "== refusals"
must_refuse "mutually exclusive" -f "$ci_values" "${crd_apis[@]}" --set autoscaling.enabled=true
must_refuse "mutually exclusive" --set keda.enabled=true --set autoscaling.enabled=true --set partitionCount=4
must_refuse "above partitionCount" -f "$ci_values" "${crd_apis[@]}" --set keda.maxReplicaCount=7
must_refuse "keda.enabled needs partitionCount" --set keda.enabled=true "${crd_apis[@]}"
must_refuse "above partitionCount" --set autoscaling.enabled=true --set partitionCount=3 --set autoscaling.maxReplicas=4
must_refuse "needs workload: StatefulSet" --set staticMembership.enabled=true
must_refuse "needs workload: StatefulSet" --set data.persistence.enabled=true
# --set on a list element would replace the whole list: use a values file.
cat >"$tmp/reset-error.yaml" <<'EOF'
consumers:
  - name: c
    plugin: order_audit
    topics: [t]
    kafka:
      auto.offset.reset: error
EOF
must_refuse "has no KEDA offsetResetPolicy" -f "$ci_values" -f "$tmp/reset-error.yaml" "${crd_apis[@]}"
must_refuse "kafka.sasl.existingSecret" --set kafka.sasl.enabled=true
must_refuse "shutdownTimeoutMs must be 1000..600000" --set seam.shutdownTimeoutMs=700000
must_refuse "workload must be" --set workload=DaemonSet

echo "== render facts"
"$python" - "$tmp" "$chart" "$ci_values" <<'PY' || fail "render facts (above)"
import json, math, os, re, sys
import yaml

tmp, chart, ci_values_path = sys.argv[1:4]
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def docs(name):
    with open(os.path.join(tmp, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def by_kind(ds, kind):
    return [d for d in ds if d.get("kind") == kind]


with open(os.path.join(chart, "values.yaml")) as f:
    defaults = yaml.safe_load(f)
with open(ci_values_path) as f:
    ci_values = yaml.safe_load(f)

CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


def workload(ds):
    w = [d for d in ds if d["kind"] in ("Deployment", "StatefulSet")]
    check(len(w) == 1, f"expected one workload, got {[d['kind'] for d in w]}")
    return w[0]


def seam_config(ds):
    cms = [d for d in ds if d["kind"] == "ConfigMap" and "seam.yaml" in d.get("data", {})]
    check(len(cms) == 1, "expected one ConfigMap with seam.yaml")
    return yaml.safe_load(cms[0]["data"]["seam.yaml"]), cms[0]["data"]["seam.yaml"]


def check_render(name, ds, values):
    where = f"[{name}]"
    w = workload(ds)
    check(w["kind"] == values["workload"], f"{where} workload kind {w['kind']} != {values['workload']}")
    pod = w["spec"]["template"]["spec"]
    cfg, cfg_text = seam_config(ds)
    shutdown_ms = values["seam"]["shutdownTimeoutMs"]
    extra = values["seam"]["gracePeriodExtraSeconds"]
    check(cfg["seam"]["shutdown_timeout_ms"] == shutdown_ms, f"{where} shutdown_timeout_ms not rendered from values")
    want_grace = math.ceil(shutdown_ms / 1000) + extra
    check(pod["terminationGracePeriodSeconds"] == want_grace,
          f"{where} terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} != {want_grace}")
    check(pod["terminationGracePeriodSeconds"] * 1000 > shutdown_ms,
          f"{where} grace period does not exceed the drain bound")
    # Hardened pod.
    psc = pod["securityContext"]
    check(psc.get("runAsNonRoot") is True, f"{where} pod runAsNonRoot")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where} seccomp RuntimeDefault")
    check(pod.get("automountServiceAccountToken") is False, f"{where} service account token mounted")
    (c,) = [c for c in pod["containers"] if c["name"] == "seam"]
    sc = c["securityContext"]
    check(sc.get("readOnlyRootFilesystem") is True, f"{where} readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, f"{where} allowPrivilegeEscalation")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where} capabilities drop ALL")
    check("requests" in c.get("resources", {}), f"{where} resource requests")
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    check(mounts.get("/tmp") == "tmp", f"{where} /tmp is not a volume (read-only root fs)")
    check("/etc/seam/seam.yaml" in mounts, f"{where} seam.yaml not mounted at /etc/seam/seam.yaml")
    # HTTP: one port used by config, container, probes, Service.
    port = values["seam"]["httpPort"]
    check(cfg["seam"]["http"] == {"bind": "0.0.0.0", "port": port}, f"{where} seam.http {cfg['seam'].get('http')}")
    check({"name": "metrics", "containerPort": port, "protocol": "TCP"} in c["ports"], f"{where} container port")
    check(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, f"{where} liveness probe")
    check(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, f"{where} readiness probe")
    svcs = [s for s in by_kind(ds, "Service") if s["metadata"]["name"].endswith("-metrics")]
    check(len(svcs) == 1 and svcs[0]["spec"]["ports"][0]["targetPort"] == "metrics", f"{where} metrics Service")
    selector = svcs[0]["spec"]["selector"]
    check(w["spec"]["selector"]["matchLabels"] == selector, f"{where} Service selector != workload selector")
    check(all(pod_labels_ok for pod_labels_ok in
              [w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items()]),
          f"{where} pod labels do not match the selector")
    for p in by_kind(ds, "Pod"):
        labels = p["metadata"]["labels"]
        check(not all(labels.get(k) == v for k, v in selector.items()),
              f"{where} the helm test pod would be selected by the metrics Service")
        check(p["metadata"]["annotations"].get("helm.sh/hook") == "test", f"{where} test pod is not a helm test hook")
        check(any("/readyz" in a for a in p["spec"]["containers"][0]["command"]), f"{where} test pod does not ask /readyz")
    # Every ${VAR} in seam.yaml is set in the container (else seam exits 3).
    env_names = {e["name"] for e in c.get("env", [])}
    for var in sorted(set(ENV_REF.findall(cfg_text))):
        check(var in env_names, f"{where} seam.yaml references ${{{var}}} but the container has no such env var")
    check(any(e["name"] == "POD_NAME" and e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name"
              for e in c["env"]), f"{where} POD_NAME from the downward API")
    check("checksum/config" in w["spec"]["template"]["metadata"]["annotations"], f"{where} checksum annotation")
    # Static membership.
    if values["staticMembership"]["enabled"]:
        for cons in cfg["consumers"]:
            gid = cons.get("kafka", {}).get("group.instance.id")
            check(gid == "${POD_NAME}-" + cons["name"], f"{where} consumer {cons['name']} group.instance.id {gid!r}")
    else:
        check("group.instance.id" not in cfg_text, f"{where} group.instance.id without static membership")
    # Secrets only as references.
    kafka = cfg["kafka"]
    for k in ("sasl.password", "sasl.username"):
        if k in kafka:
            check(ENV_REF.fullmatch(str(kafka[k])) is not None, f"{where} kafka.{k} is not a ${{VAR}} reference")
    # The NetworkPolicy lets the helm test pod reach the metrics port.
    for np in by_kind(ds, "NetworkPolicy"):
        sel = np["spec"]["podSelector"]["matchLabels"]
        check(all(w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items()),
              f"{where} NetworkPolicy does not select the seam pods")
        for p in by_kind(ds, "Pod"):
            labels = p["metadata"]["labels"]
            allowed = False
            for rule in np["spec"]["ingress"]:
                if "from" not in rule:
                    allowed = True
                for peer in rule.get("from", []):
                    ml = peer.get("podSelector", {}).get("matchLabels")
                    if ml and "namespaceSelector" not in peer and all(labels.get(k) == v for k, v in ml.items()):
                        allowed = True
            check(allowed, f"{where} NetworkPolicy blocks the helm test pod")
    # PDB selects the pods.
    for pdb in by_kind(ds, "PodDisruptionBudget"):
        check(pdb["spec"]["selector"]["matchLabels"] == selector, f"{where} PDB selector")
    return w, cfg


d_default = docs("default.yaml")
d_ci = docs("ci.yaml")
ci_merged = json.loads(json.dumps(defaults))


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v


merge(ci_merged, ci_values)
w_def, cfg_def = check_render("default", d_default, defaults)
w_ci, cfg_ci = check_render("ci", d_ci, ci_merged)

check(not [d for d in d_default if d["kind"] in CRD_KINDS], "[default] CRD kinds rendered by default")
check(not [d for d in docs("ci-nocrd.yaml") if d["kind"] in CRD_KINDS],
      "[ci without --api-versions] CRD kinds rendered although the cluster does not serve them")
check({d["kind"] for d in d_ci} >= CRD_KINDS | {"PodDisruptionBudget", "NetworkPolicy", "StatefulSet"},
      f"[ci] missing kinds: {CRD_KINDS - {d['kind'] for d in d_ci}}")
check("replicas" not in w_ci["spec"], "[ci] replicas rendered although KEDA owns the replica count")
check(w_def["spec"]["replicas"] == defaults["replicaCount"], "[default] replicas")

# Checksum follows seam.yaml and nothing else.
ann = lambda n: workload(docs(n))["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
check(ann("ci-loglevel.yaml") != ann("ci.yaml"), "checksum/config did not change with seam.logLevel")
check(ann("ci-podann.yaml") == ann("ci.yaml"), "checksum/config changed without a config change")
g = workload(docs("default-grace.yaml"))["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
check(g == 91 + defaults["seam"]["gracePeriodExtraSeconds"], f"grace period for 90500 ms: {g}")

# KEDA: one trigger per consumer, strings only, offsetResetPolicy = auto.offset.reset.
(so,) = by_kind(d_ci, "ScaledObject")
check(so["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": w_ci["metadata"]["name"]},
      "[ci] ScaledObject target")
check(so["spec"]["maxReplicaCount"] <= ci_merged["partitionCount"], "[ci] maxReplicaCount above partitionCount")
reset_map = {"earliest": "earliest", "smallest": "earliest", "beginning": "earliest",
             "latest": "latest", "largest": "latest", "end": "latest"}
triggers = {t["name"]: t for t in so["spec"]["triggers"]}
check(set(triggers) == {c["name"] for c in cfg_ci["consumers"]}, "[ci] one KEDA trigger per consumer")
for cons in cfg_ci["consumers"]:
    t = triggers.get(cons["name"], {"metadata": {}})
    md = t["metadata"]
    check(t.get("type") == "kafka", f"[ci] trigger {cons['name']} type")
    for k, v in md.items():
        check(isinstance(v, str), f"[ci] KEDA metadata {cons['name']}.{k} is {type(v).__name__}, not a string")
    want = reset_map[cons.get("kafka", {}).get("auto.offset.reset", "largest")]
    check(md.get("offsetResetPolicy") == want, f"[ci] {cons['name']} offsetResetPolicy {md.get('offsetResetPolicy')} != {want}")
    check(md.get("consumerGroup") == cons.get("group_id", cons["name"]), f"[ci] {cons['name']} consumerGroup")
    check(md.get("bootstrapServers") == cfg_ci["kafka"]["bootstrap.servers"], f"[ci] {cons['name']} bootstrapServers")

# Alerts and dashboard ship as the files are (runbook base URL swapped only).
with open(os.path.join(chart, "alerts", "seam-rules.yaml")) as f:
    rules_text = f.read()
want_rules = yaml.safe_load(rules_text.replace(
    "https://github.com/seam-project/seam/blob/main/docs/runbooks/",
    ci_merged["prometheusRule"]["runbookBaseUrl"].rstrip("/") + "/"))
(pr,) = by_kind(d_ci, "PrometheusRule")
check(pr["spec"] == want_rules, "[ci] PrometheusRule spec differs from alerts/seam-rules.yaml")
check("wiki.example.com" in json.dumps(pr["spec"]) and "seam-project/seam/blob" not in json.dumps(pr["spec"]),
      "[ci] runbookBaseUrl not applied")
with open(os.path.join(chart, "dashboards", "seam.json")) as f:
    want_dash = json.load(f)
(dash,) = [d for d in d_ci if d["kind"] == "ConfigMap" and "seam.json" in d.get("data", {})]
check(json.loads(dash["data"]["seam.json"]) == want_dash, "[ci] dashboard ConfigMap differs from dashboards/seam.json")
check(dash["metadata"]["labels"].get("grafana_dashboard") == "1", "[ci] dashboard sidecar label")
(sm,) = by_kind(d_ci, "ServiceMonitor")
check(sm["spec"]["endpoints"][0]["port"] == "metrics" and sm["spec"]["endpoints"][0]["path"] == "/metrics",
      "[ci] ServiceMonitor endpoint")

# kube-linter exceptions: every exclusion and every ignore annotation has a reason.
with open(os.path.join(chart, ".kube-linter.yaml")) as f:
    kl_text = f.read()
kl = yaml.safe_load(kl_text)
for name in kl["checks"].get("exclude", []):
    m = re.search(r"^\s*# " + re.escape(name) + r": (\S.{10,})$", kl_text, re.M)
    check(m is not None, f".kube-linter.yaml excludes {name} without a '# {name}: reason' line")
for d in d_default + d_ci:
    for k, v in (d["metadata"].get("annotations") or {}).items():
        if k.startswith("ignore-check.kube-linter.io/"):
            check(len(str(v).strip()) > 10, f"{d['kind']} {d['metadata']['name']}: {k} has no reason")
            check(k.split("/", 1)[1] in kl_text, f"{k} is not listed in .kube-linter.yaml")

for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "ok: render facts"

echo "== kube-linter"
for r in default ci; do
        (cd "$tmp" && "$KUBE_LINTER" lint --config "$chart/.kube-linter.yaml" "$tmp/$r.yaml") >"$tmp/kl.txt" 2>&1 ||
                { cat "$tmp/kl.txt" >&2; fail "kube-linter on the $r render"; }
done
# The linter must be able to fail here: a privileged, writable container.
sed -e 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' "$tmp/default.yaml" >"$tmp/bad.yaml"
if (cd "$tmp" && "$KUBE_LINTER" lint --config "$chart/.kube-linter.yaml" "$tmp/bad.yaml") >/dev/null 2>&1; then
        fail "kube-linter accepted a writable root filesystem: the check is not running"
fi
echo "ok: kube-linter, all built-in checks minus the documented exclusions"

echo "== schema validation"
# kubernetes-validate has schemas for the built-in kinds only; split the CRD
# kinds out and check their shape below.
"$python" - "$tmp" <<'PY' || fail "splitting the renders"
import os, sys, yaml
tmp = sys.argv[1]
CRD = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}
for r in ("default", "ci"):
    with open(os.path.join(tmp, r + ".yaml")) as f:
        ds = [d for d in yaml.safe_load_all(f) if d]
    with open(os.path.join(tmp, r + "-builtin.yaml"), "w") as f:
        yaml.safe_dump_all([d for d in ds if d["kind"] not in CRD], f)
    with open(os.path.join(tmp, r + "-crd.yaml"), "w") as f:
        yaml.safe_dump_all([d for d in ds if d["kind"] in CRD], f)
PY
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion), the
# one the renders target, and a recent one.
for k in 1.27.0 "$kube" 1.34.0; do
        for r in default ci; do
                "$KUBERNETES_VALIDATE" --strict --quiet -k "$k" "$tmp/$r-builtin.yaml" >"$tmp/kv.txt" 2>&1 ||
                        { cat "$tmp/kv.txt" >&2; fail "kubernetes-validate --strict -k $k on the $r render"; }
                if grep -q "Couldn't find schema" "$tmp/kv.txt"; then
                        cat "$tmp/kv.txt" >&2
                        fail "kubernetes-validate -k $k has no schema for a built-in kind of the $r render"
                fi
        done
done
# And it must be able to fail: an unknown field under strict validation.
sed -e 's/^  revisionHistoryLimit: 5$/  revisionHistoryLimit: 5\n  replicaz: 2/' "$tmp/default-builtin.yaml" >"$tmp/bad.yaml"
grep -q replicaz "$tmp/bad.yaml" || fail "could not build the negative schema sample"
if "$KUBERNETES_VALIDATE" --strict --quiet -k "$kube" "$tmp/bad.yaml" >/dev/null 2>&1; then
        fail "kubernetes-validate accepted an unknown field: validation is not running"
fi
"$python" - "$tmp/ci-crd.yaml" <<'PY' || fail "CRD shape check (above)"
# Required fields and known keys of the CRD kinds the chart renders, from the
# Prometheus Operator (monitoring.coreos.com/v1) and KEDA (keda.sh/v1alpha1)
# API references: catches a typo'd or misplaced key that the API server
# would reject or silently drop.
import sys, yaml
errors = []
with open(sys.argv[1]) as f:
    ds = [d for d in yaml.safe_load_all(f) if d]


def need(obj, path, typ, where):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur:
            errors.append(f"{where}: {path} is required")
            return None
        cur = cur[p]
    if not isinstance(cur, typ):
        errors.append(f"{where}: {path} must be {typ.__name__}, is {type(cur).__name__}")
    return cur


def known(obj, keys, where):
    for k in obj:
        if k not in keys:
            errors.append(f"{where}: unknown key {k}")


SO_SPEC = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount",
           "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers"}
TRIGGER = {"type", "name", "metadata", "authenticationRef", "useCachedMetrics", "metricType"}
KAFKA_MD = {"bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold",
            "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag", "scaleToZeroOnInvalidOffset",
            "limitToPartitionsWithLag", "partitionLimitation", "version", "sasl", "tls", "unsafeSsl",
            "ensureEvenDistributionOfPartitions"}
SM_SPEC = {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels", "podTargetLabels",
           "sampleLimit", "labelLimit"}
SM_EP = {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels", "honorTimestamps",
         "relabelings", "metricRelabelings", "tlsConfig", "params", "bearerTokenSecret", "authorization"}
kinds = set()
for d in ds:
    kind, name = d["kind"], d["metadata"]["name"]
    where = f"{kind} {name}"
    kinds.add(kind)
    need(d, "metadata.namespace", str, where)
    if kind == "ServiceMonitor":
        if d["apiVersion"] != "monitoring.coreos.com/v1":
            errors.append(f"{where}: apiVersion")
        known(d["spec"], SM_SPEC, where + " spec")
        need(d, "spec.selector.matchLabels", dict, where)
        for ep in need(d, "spec.endpoints", list, where) or []:
            known(ep, SM_EP, where + " endpoint")
            need(ep, "port", str, where + " endpoint")
    elif kind == "PrometheusRule":
        for grp in need(d, "spec.groups", list, where) or []:
            need(grp, "name", str, where + " group")
            for rule in need(grp, "rules", list, where + " group") or []:
                if ("alert" in rule) == ("record" in rule):
                    errors.append(f"{where}: a rule needs exactly one of alert/record: {rule}")
                need(rule, "expr", str, f"{where} rule {rule.get('alert', rule.get('record'))}")
                for k in ("labels", "annotations"):
                    for lk, lv in (rule.get(k) or {}).items():
                        if not isinstance(lv, str):
                            errors.append(f"{where}: {k}.{lk} must be a string")
    elif kind == "ScaledObject":
        known(d["spec"], SO_SPEC, where + " spec")
        need(d, "spec.scaleTargetRef.name", str, where)
        for k in ("minReplicaCount", "maxReplicaCount", "pollingInterval", "cooldownPeriod"):
            need(d, "spec." + k, int, where)
        for t in need(d, "spec.triggers", list, where) or []:
            known(t, TRIGGER, where + " trigger")
            need(t, "type", str, where + " trigger")
            md = need(t, "metadata", dict, where + " trigger") or {}
            if t.get("type") == "kafka":
                known(md, KAFKA_MD, where + " kafka metadata")
                for k in ("bootstrapServers", "consumerGroup", "lagThreshold"):
                    need(md, k, str, where + " kafka metadata")
                if md.get("offsetResetPolicy") not in ("earliest", "latest"):
                    errors.append(f"{where}: offsetResetPolicy {md.get('offsetResetPolicy')!r}")
            if "authenticationRef" in t:
                need(t, "authenticationRef.name", str, where + " trigger")
    elif kind == "TriggerAuthentication":
        for ref in need(d, "spec.secretTargetRef", list, where) or []:
            known(ref, {"parameter", "name", "key"}, where + " secretTargetRef")
            for k in ("parameter", "name", "key"):
                need(ref, k, str, where + " secretTargetRef")
if kinds != {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}:
    errors.append(f"CRD kinds rendered: {sorted(kinds)}")
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
echo "ok: kubernetes-validate --strict on the built-in kinds (Kubernetes 1.27, $kube, 1.34), CRD shapes"

echo "== seam check-config on the rendered seam.yaml"
extract() { # render-file out-file
        "$python" - "$1" "$2" <<'PY'
import sys, yaml
with open(sys.argv[1]) as f:
    for d in yaml.safe_load_all(f):
        if d and d["kind"] == "ConfigMap" and "seam.yaml" in d.get("data", {}):
            open(sys.argv[2], "w").write(d["data"]["seam.yaml"])
            sys.exit(0)
sys.exit("no ConfigMap with seam.yaml")
PY
}
# What the pod's env would hold; seam exits 3 on an unset ${VAR}. The
# password is literal on purpose: secrets may hold any character.
# shellcheck disable=SC2016
export POD_NAME=seam-ci-0 POD_NAMESPACE=streams KAFKA_SASL_USERNAME=ci KAFKA_SASL_PASSWORD='p@ss:w$rd}' \
        SEAM_REGISTRY_USERNAME=ci SEAM_REGISTRY_PASSWORD=ci SEAM_POSTGRES_DSN=postgres://ci AUDIT_TOKEN=ci
export SEAM_PLUGIN_PATH=$plugin_dir
for r in default ci; do
        extract "$tmp/$r.yaml" "$tmp/$r-seam.yaml" || fail "extracting seam.yaml from the $r render"
        if ! out=$("$seam_bin" check-config -c "$tmp/$r-seam.yaml" --embedded-broker 2>&1); then
                echo "$out" >&2
                echo "--- seam.yaml ($r) ---" >&2
                cat "$tmp/$r-seam.yaml" >&2
                fail "seam check-config refused the seam.yaml of the $r render"
        fi
done
render "$tmp/badplugin.yaml" --set 'consumers[0].name=x' --set 'consumers[0].plugin=no_such_plugin' \
        --set 'consumers[0].topics[0]=t' || fail "helm template with a missing plugin"
extract "$tmp/badplugin.yaml" "$tmp/badplugin-seam.yaml" || fail "extracting seam.yaml (missing plugin)"
if "$seam_bin" check-config -c "$tmp/badplugin-seam.yaml" --embedded-broker >/dev/null 2>&1; then
        fail "seam check-config accepted a config naming a plugin that does not exist"
fi
echo "ok: seam check-config accepts both rendered configs and refuses a missing plugin"

echo "== image files"
for f in "$src/Dockerfile" "$src/docker/Dockerfile.plugins"; do
        "$HADOLINT" --failure-threshold info "$f" >"$tmp/hadolint.txt" 2>&1 ||
                { cat "$tmp/hadolint.txt" >&2; fail "hadolint ${f#"$src"/}"; }
done
sh -n "$src/docker/entrypoint.sh" || fail "docker/entrypoint.sh does not parse with sh"
out=$(SEAM_BIN=$seam_bin sh "$src/docker/entrypoint.sh" version 2>&1) || fail "entrypoint.sh version: $out"
[[ $out == *"$("$seam_bin" version 2>&1)"* ]] || fail "entrypoint.sh version did not exec seam version: $out"
if SEAM_BIN=$seam_bin SEAM_CONFIG=$tmp/none.yaml sh "$src/docker/entrypoint.sh" >/dev/null 2>&1; then
        fail "entrypoint.sh started without a config"
fi
app=$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' "$chart/Chart.yaml")
proj=$(sed -n 's/^project(seam VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[[ $app == "$proj" ]] || fail "Chart.yaml appVersion $app != CMakeLists.txt project VERSION $proj"
echo "ok: hadolint, entrypoint, appVersion $app"

echo "PASS: test_helm_chart"
