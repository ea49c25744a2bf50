#!/bin/bash
# Installs the Debian packages the cluster needs (containerd, runc, CNI plugins, etcd, buildah for
# FROM-scratch images, busybox-static for the step image, iptables for the namespace's firewall,
# git for the fixture server (and, with openssh-client, Tekton v0.37.2's git-init image), python3-yaml for the driver, docker-registry and apache2-utils'
# htpasswd for the seed-push scenario's password-protected registry). apt-get update runs only
# when something is missing.
set -euo pipefail
pkgs=(containerd runc containernetworking-plugins etcd-server buildah busybox-static iptables git openssh-client openssl curl bc python3 python3-yaml docker-registry apache2-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install: all Debian packages present"
  exit 0
fi
echo "install: apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
# Debian starts containerd as a system service; the cluster runs its own inside the namespace
# and nothing else here wants one.
# The same for the registry, which would listen on the host's :5000.
for service in containerd docker-registry; do
  if command -v systemctl > /dev/null && systemctl is-active -q $service 2>/dev/null; then
    systemctl stop $service || true
  fi
done
