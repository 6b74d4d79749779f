#!/usr/bin/env bash
# Builds the Docker base image `debian:bookworm-slim` locally, from Debian's
# package mirror, for machines that reach the mirror but no container registry.
#
#   .ci/base-image.sh [TAG]        (TAG defaults to debian:bookworm-slim)
#
# The result is a minbase debootstrap of bookworm trimmed the way Debian's
# official slim image is (no manuals, docs or translations; apt lists emptied)
# with the same apt sources (bookworm, bookworm-updates, bookworm-security),
# so the Dockerfile behaves the same on either.
#
# Does nothing when TAG already exists, unless FORCE=1.
# Environment: DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR override the mirrors.
set -euo pipefail

tag=${1:-debian:bookworm-slim}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

die() { echo "base-image: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap needs it)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
docker info >/dev/null 2>&1 || die "no Docker daemon answers; start dockerd first"

if [[ ${FORCE:-0} != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base-image: $tag already exists; nothing to do (FORCE=1 rebuilds it)"
  exit 0
fi

root=$(mktemp -d /tmp/pgkeeper-rootfs.XXXXXX)

# debootstrap mounts /proc and /sys inside the target; unmount anything still
# mounted there before deleting, and never cross into another file system.
cleanup() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$root" | sort -r); do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

echo "base-image: debootstrap bookworm (minbase) from $mirror into $root"
start=$SECONDS
debootstrap --variant=minbase bookworm "$root" "$mirror"

# Same apt sources as the official image, in deb822 form.
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Keep later package installs small, as the slim image does.
cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
cat > "$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF

find "$root/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log "$root"/tmp/*

echo "base-image: importing as $tag"
tar --numeric-owner -C "$root" -c . |
  docker import --change 'CMD ["bash"]' - "$tag" >/dev/null
echo "base-image: $tag ready ($((SECONDS - start))s, $(docker image inspect -f '{{.Size}}' "$tag") bytes)"
