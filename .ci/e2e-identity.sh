#!/usr/bin/env bash
# A service account bound to exactly the README's minimal Role (src/kube/auth.ts's
# MINIMAL_ROLE_YAML), in NAMESPACE of the cluster kubectl's current context points at, and a
# kubeconfig for it at OUT. Prints server=, token= and ca= lines (for $GITHUB_OUTPUT: mask the
# token first). Used by .github/workflows/e2e.yml on kind; runs as well against `npm run cluster`:
#
#   npm run cluster -- --kubeconfig-out /tmp/cp.kubeconfig &
#   KUBECONFIG=/tmp/cp.kubeconfig bash .ci/e2e-identity.sh pod-dag-e2e /tmp/e2e.kubeconfig >/dev/null
#   POD_DAG_TEST_CLUSTER=kubeconfig:/tmp/e2e.kubeconfig POD_DAG_E2E_NAMESPACE=pod-dag-e2e npx vitest run -t @real-cluster
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
  echo "usage: bash .ci/e2e-identity.sh NAMESPACE OUT-KUBECONFIG" >&2
  exit 2
fi
NAMESPACE=$1
OUT=$2

kubectl create namespace "$NAMESPACE" >/dev/null
# No kube-controller-manager (npm run cluster): create the namespace's default ServiceAccount as it would.
kubectl -n "$NAMESPACE" get serviceaccount default >/dev/null 2>&1 || kubectl -n "$NAMESPACE" create serviceaccount default >/dev/null
kubectl -n "$NAMESPACE" create serviceaccount pod-dag-action >/dev/null
# The Role and RoleBinding exactly as the README shows them (the docs tests keep the two equal).
NAMESPACE="$NAMESPACE" node_modules/.bin/node --input-type=module -e "
  import { MINIMAL_ROLE_YAML } from './src/kube/auth.ts';
  process.stdout.write(MINIMAL_ROLE_YAML.replaceAll('NAMESPACE', process.env.NAMESPACE));
" | kubectl apply -f - >/dev/null

token=$(kubectl -n "$NAMESPACE" create token pod-dag-action --duration=2h)
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')

umask 077
cat > "$OUT" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
  - name: pod-dag-action
    user: {token: "$token"}
contexts:
  - name: e2e
    context: {cluster: e2e, user: pod-dag-action, namespace: "$NAMESPACE"}
current-context: e2e
KUBECONFIG
# Prove the identity is the restricted one: it may watch pods but not read secrets.
test "$(kubectl --kubeconfig "$OUT" auth can-i watch pods)" = yes
test "$(kubectl --kubeconfig "$OUT" auth can-i get secrets || true)" = no

echo "server=$server"
echo "token=$token"
echo "ca=$ca"
