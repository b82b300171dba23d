#!/usr/bin/env bash
# Provide what the Docker engine tests need (idempotent, cached): Debian's docker.io and
# debootstrap, and the root filesystem of the images they run (no registry is reachable there).
#
#   scripts/ensure-test-images.sh PGBOUNCER_BINARY
#
# The root filesystem is Debian bookworm (`debootstrap --variant=minbase`) with postgresql-15 (the
# server and psql), gosu, PgBouncer's libraries, the PgBouncer binary given (scripts/
# ensure-test-servers.sh builds 1.24 from trixie's source: bookworm ships 1.18) as
# /usr/bin/pgbouncer, listen_addresses = '*' in the server's sample configuration (as the official
# image sets it), a pgbouncer user with the CloudNativePG image's uid, and
# tests/docker/docker-entrypoint.sh, without LLVM (PostgreSQL's JIT), Perl, iconv modules,
# translations and documentation (about 140 MB: the vfs storage driver copies it for every
# container). The tests load it once as the one layer of three images with the settings of
# the images the local stack runs (tests/integration/docker_engine.py): PostgreSQL (entry point
# docker-entrypoint.sh), PgBouncer (user 998) and the init step's image.
# The tarball is cached as .cache/docker-images/rootfs-<key>.tar, the key being a digest of its
# inputs (this script, the entry point, the PgBouncer binary); the last line printed is its path.
# Needs root (debootstrap, chroot); apt-get runs directly as root, else through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${PLANO_TEST_CACHE:-$PWD/.cache}"
IMAGES="$CACHE/docker-images"
PGBOUNCER="${1:?usage: $0 PGBOUNCER_BINARY}"
PACKAGES="postgresql-15,gosu,libevent-2.1-7,libc-ares2,libssl3,procps"
PGBOUNCER_UID=998  # the CloudNativePG image's pgbouncer user (core/task_files.py PGBOUNCER_UID)

log() { echo "ensure-test-images: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else log "need root for: $*"; return 1; fi; }

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    log "needs Debian or Ubuntu (apt-get): install Docker and debootstrap yourself"
    exit 1
fi
missing=()
for pkg in docker.io debootstrap; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x "$PGBOUNCER" ] || { log "no PgBouncer binary at $PGBOUNCER"; exit 1; }

key=$(cat "$0" tests/docker/docker-entrypoint.sh "$PGBOUNCER" | sha256sum | cut -c1-16)
tarball="$IMAGES/rootfs-$key.tar"
if [ -s "$tarball" ]; then
    echo "$tarball"; exit 0
fi
if [ "$(id -u)" != 0 ]; then
    log "building the test images' root filesystem needs root (debootstrap, chroot)"
    exit 1
fi

log "building the test images' root filesystem (debootstrap bookworm: a few minutes, once)"
mkdir -p "$IMAGES"
work=$(mktemp -d "$IMAGES/build.XXXXXX")
cleanup() {  # debootstrap mounts /proc and /sys in the new root: unmount before removing anything
    awk -v r="$work/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root="$work/root"
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
}
# The package's own cluster and caches are not part of an image. Nor is what the tests never use
# (the vfs storage driver copies the whole image for every container, so size is time): LLVM for
# PostgreSQL's JIT (without llvmjit.so PostgreSQL runs without JIT), translations, documentation.
rm -rf "$root/var/lib/postgresql/15" "$root/etc/postgresql/15" "$root/var/cache/apt/archives/"*.deb \
    "$root/var/lib/apt/lists/"* "$root/debootstrap" \
    "$root/usr/lib/x86_64-linux-gnu/"libLLVM* "$root/usr/lib/x86_64-linux-gnu/"libz3.* \
    "$root/usr/lib/postgresql/15/lib/"llvmjit* "$root/usr/lib/postgresql/15/lib/bitcode" \
    "$root/usr/share/locale" "$root/usr/share/i18n" "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/info"
# Perl and glibc's iconv modules (about 60 MB, nothing the containers run needs them): Debian's
# /usr/bin/psql and pg_isready are links to a Perl wrapper that picks a version, so they now link
# to PostgreSQL 15's own binaries, as the official image's PATH finds them.
for link in "$root"/usr/bin/*; do
    [ -L "$link" ] && [ "$(basename "$(readlink "$link")")" = pg_wrapper ] || continue
    name=$(basename "$link")
    rm "$link"
    [ -x "$root/usr/lib/postgresql/15/bin/$name" ] && ln -s "/usr/lib/postgresql/15/bin/$name" "$link"
done
rm -rf "$root/usr/share/perl" "$root/usr/lib/x86_64-linux-gnu/perl" "$root/usr/lib/x86_64-linux-gnu/perl-base" \
    "$root/usr/share/perl5" "$root/usr/bin/perl" "$root/usr/bin/perl5."* "$root/usr/lib/x86_64-linux-gnu/"libperl.so* \
    "$root/usr/lib/x86_64-linux-gnu/gconv" "$root/var/lib/dpkg/info"
chroot "$root" psql --version > /dev/null  # the links lead to working binaries
chroot "$root" pg_isready --version > /dev/null
# As the official image does: the server listens on every address of its container, not localhost.
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$root/usr/share/postgresql/15/postgresql.conf.sample"
grep -q "^listen_addresses = '\*'" "$root/usr/share/postgresql/15/postgresql.conf.sample"
install -m 0755 "$PGBOUNCER" "$root/usr/bin/pgbouncer"
install -m 0755 tests/docker/docker-entrypoint.sh "$root/usr/local/bin/docker-entrypoint.sh"
chroot "$root" groupadd --system --gid "$PGBOUNCER_UID" pgbouncer
chroot "$root" useradd --system --uid "$PGBOUNCER_UID" --gid "$PGBOUNCER_UID" --no-create-home pgbouncer
chroot "$root" /usr/bin/pgbouncer --version > /dev/null  # its libraries are all there
tar --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tarball"
# Older tarballs (other inputs) are left for `make clean`; only the newest is used.
log "built $tarball ($(du -h "$tarball" | cut -f1))"
echo "$tarball"
