#!/usr/bin/env bash
# Builds the image pgkeeper/postgis:15-3.3 (also tagged :latest) from the
# Dockerfile beside this script. Extra arguments go to `docker build`, e.g.
#   ./build.sh --no-cache
#   ./build.sh --build-arg BASE_IMAGE=my-mirror/debian:bookworm-slim
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

repo=${PGKEEPER_IMAGE:-pgkeeper/postgis}
base=$(sed -n 's/^ARG BASE_IMAGE=//p' Dockerfile)
for arg in "$@"; do
  case $arg in BASE_IMAGE=*) base=${arg#BASE_IMAGE=} ;; esac
done

die() { echo "build.sh: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 ||
  die "no Docker daemon answers (is dockerd running, and may this user use it?)"

if ! docker image inspect "$base" >/dev/null 2>&1; then
  echo "build.sh: base image $base is not here; trying to pull it" >&2
  docker pull "$base" || die "cannot pull $base. Without a registry, make it from \
Debian's package mirror with: sudo .ci/base-image.sh $base"
fi

# The version CMakeLists.txt gives, also what `pgkeeper --version` prints.
version=$(sed -n 's/^project(pgkeeper VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || die "no version in CMakeLists.txt's project() line"

start=$SECONDS
docker build --force-rm --build-arg "PGKEEPER_VERSION=$version" \
  -t "$repo:15-3.3" -t "$repo:latest" "$@" .
echo "build.sh: built $repo:15-3.3 and $repo:latest in $((SECONDS - start))s"
