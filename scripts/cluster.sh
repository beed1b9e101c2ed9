#!/usr/bin/env bash
# Sets everything up and starts a single-node k8ts cluster in the foreground.
# The kubeconfig path is printed; Ctrl-C stops the cluster (its data stays in the data dir).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec bin/k8ts server "$@"
