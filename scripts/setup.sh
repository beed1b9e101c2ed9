#!/usr/bin/env bash
# Sets up everything k8ts needs on a fresh machine of this kind (Node 20, npm, python3, a compiler):
# npm packages from the lock file, Debian packages when a component needs them, and the build.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages: the node agent's runtime (containerd, runc, crun (preferred when the cgroup layout
# suits it; runc stays the fallback), libc6-dev for the static pause binary, CNI plugins, busybox for offline
# test images, mmdebstrap for Debian-based images: `k8ts images build`), packet filtering for
# Services, and etcd for the multi-server store.
apt_packages=(${K8TS_APT_PACKAGES:-containerd runc crun libc6-dev containernetworking-plugins busybox-static mmdebstrap iptables nftables conntrack etcd-server etcd-client util-linux iproute2 procps})
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
fi

# npm packages: reinstall when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
node -e "require('better-sqlite3')" 2>/dev/null || { say "rebuilding better-sqlite3"; npm rebuild better-sqlite3; }

say "building"
npm run --silent build
