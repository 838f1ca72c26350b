#!/usr/bin/env bash
# Installs the Debian packages Graft needs, only those that are missing.
#   libdnnl-dev        oneDNN, the compute kernels
#   libhdf5-dev        HDF5 weight files
#   libpng-dev         PNG decode/encode
#   libturbojpeg0-dev  JPEG decode
#   zlib1g-dev         gzip-compressed dataset files
#   libcairo2-dev      charts (PNG) and report pictures
#   fonts-dejavu-core  the charts' font
#   pkg-config         lets SwiftPM find HDF5, libpng, TurboJPEG and Cairo
# Extra package names given as arguments are installed too (e.g. dataset-fashion-mnist).
set -euo pipefail

packages=(libdnnl-dev libhdf5-dev libpng-dev libturbojpeg0-dev zlib1g-dev libcairo2-dev fonts-dejavu-core pkg-config "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
