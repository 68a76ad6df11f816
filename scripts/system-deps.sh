#!/usr/bin/env bash
# Debian packages Linli needs beyond Python: speech (espeak-ng), audio tools (sox), a browser
# for the kiosk and the browser tests (chromium), and Chinese fonts so screens render 中文.
# Installs what is missing when run as root; otherwise says what to install and carries on.
set -u
packages=(espeak-ng sox chromium fonts-noto-cjk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt run (unattended upgrades, a parallel job) instead of failing.
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})." >&2
  echo "Voice and browser features need them; the rest of Linli runs without." >&2
fi
