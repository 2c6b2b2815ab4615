#!/usr/bin/env bash
# Makes sure the wgpu tests have a Vulkan device: Debian's Vulkan loader and Mesa's drivers,
# which include lavapipe, a Vulkan implementation on the CPU (apt-get when missing).
set -euo pipefail
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing mesa-vulkan-drivers libvulkan1 (apt-get)"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
