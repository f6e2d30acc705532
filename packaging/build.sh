#!/usr/bin/env bash
# Builds and checks lingong's packages (called by .ci/run; run by hand from anywhere):
#   target/package/lingong_<version>-1_<arch>.deb        the Debian package (cargo-deb)
#   target/package/lingong-<version>-x86_64-linux.tar.gz  the same files for other Debian-like
#                                                         systems (Kylin, UOS)
# then installs the .deb into a clean folder (dpkg-deb -x), checks its control fields, its
# maintainer scripts and its unit (systemd-analyze verify, where systemd-analyze exists), and
# runs the installed binary: `init`, a self-issued province certificate, `doctor` (must exit 0),
# and `setup` of a child whose `doctor` must name the missing certificate.
#
# The release build of lingong-cli is the expensive part (fat LTO, one codegen unit: the root
# Cargo.toml's [profile.release]). .ci/run builds it together with lingong-sim in one `cargo
# build --release` before calling this, so the build here finds it done; cargo-deb packs that
# binary (`--no-build`). Set LINGONG_PACKAGE_NO_BUILD=1 to skip even the up-to-date check.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/package
mkdir -p "$out"

if [ "${LINGONG_PACKAGE_NO_BUILD:-}" != 1 ]; then
  cargo build --release --locked -p lingong-cli
fi
bin=target/release/lingong
[ -x "$bin" ] || { echo "no $bin: build it with cargo build --release -p lingong-cli" >&2; exit 1; }

if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "installing cargo-deb"
  cargo install cargo-deb --locked --version 3.8.0
fi

version=$("$bin" --version | awk '{ print $2 }')
echo "== package lingong $version"
rm -f "$out"/lingong_*.deb
cargo deb -p lingong-cli --no-build --compress-debug-symbols=zlib --output "$out/"
deb=$(ls "$out"/lingong_"$version"*.deb)
echo "$deb: $(du -h "$deb" | cut -f1)"

fail() { echo "package check failed: $*" >&2; exit 1; }

echo "== control fields"
dpkg-deb -I "$deb"
[ "$(dpkg-deb -f "$deb" Package)" = lingong ] || fail "Package is not lingong"
dpkg-deb -f "$deb" Depends | grep -q passwd || fail "Depends lacks passwd (useradd in postinst)"
dpkg-deb -f "$deb" Depends | grep -q libc6 || fail "Depends lacks libc6"

root=$(mktemp -d "${TMPDIR:-/tmp}/lingong-package.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "== install into a clean folder: $root"
dpkg-deb -x "$deb" "$root/fs"
dpkg-deb -e "$deb" "$root/control"
for f in usr/bin/lingong lib/systemd/system/lingong.service usr/share/doc/lingong/README.md \
  usr/share/doc/lingong/cli.md usr/share/doc/lingong/copyright; do
  [ -f "$root/fs/$f" ] || fail "$f is not in the package"
done
[ -x "$root/fs/usr/bin/lingong" ] || fail "usr/bin/lingong is not executable"
for s in postinst prerm postrm; do
  [ -x "$root/control/$s" ] || fail "maintainer script $s missing or not executable"
  sh -n "$root/control/$s" || fail "maintainer script $s does not parse"
done
grep -q 'useradd --system' "$root/control/postinst" || fail "postinst makes no system user"
if command -v objdump >/dev/null 2>&1; then
  glibc=$(objdump -T "$root/fs/usr/bin/lingong" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
  echo "the binary needs $glibc or newer (ldd --version on the target system)"
fi

echo "== the unit"
if ! command -v systemd-analyze >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
  && [ "$(id -u)" = 0 ]; then
  echo "installing systemd for systemd-analyze"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd) \
    || echo "could not install systemd"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  # The installed unit with ExecStart pointing at the installed binary (`--root` would need a
  # whole systemd tree in the folder: sysinit.target and the rest).
  mkdir -p "$root/unit"
  sed "s#/usr/bin/lingong#$root/fs/usr/bin/lingong#g" "$root/fs/lib/systemd/system/lingong.service" \
    >"$root/unit/lingong.service"
  systemd-analyze verify "$root/unit/lingong.service"
  echo "systemd-analyze verify: ok"
else
  echo "systemd-analyze not found: the unit is not verified here"
fi

echo "== the installed binary"
lingong=$root/fs/usr/bin/lingong
"$lingong" --version
home=$root/home
export LANG=en_US.UTF-8
unset LINGONG_HOME
"$lingong" --home "$home/province" init --name 贵州省 --region 52 >/dev/null
"$lingong" --home "$home/province" cert request --out "$root/p-request.json" >/dev/null
"$lingong" --home "$home/province" cert issue --request "$root/p-request.json" --out "$root/p-cert.json" >/dev/null
"$lingong" --home "$home/province" cert install "$root/p-cert.json" >/dev/null
"$lingong" --home "$home/province" doctor || fail "doctor of a healthy province did not exit 0"
province_id=$("$lingong" --home "$home/province" --json status | sed 's/.*"node_id":"\([^"]*\)".*/\1/')
"$lingong" --home "$home/city" setup --name 贵阳市 --region 5201 \
  --parent-peer "/ip4/127.0.0.1/tcp/9/p2p/$province_id" --out-request "$root/c-request.json" >/dev/null
set +e
"$lingong" --home "$home/city" --lang zh doctor
status=$?
report=$("$lingong" --home "$home/city" --json doctor)
set -e
[ "$status" = 1 ] || fail "doctor of an uncertified city exited $status, not 1"
echo "$report" | grep -q '"code":"cert-missing"' || fail "doctor did not name the missing certificate"

# On a throwaway machine (CI sets LINGONG_PACKAGE_DPKG_INSTALL=1; never on a machine that runs
# a station) the .deb is installed for real with dpkg, so its maintainer scripts run: postinst
# must make the system user and its 0700 state folder, the user must be able to set up and
# check a node there, a reinstall (an upgrade's path) and a removal must keep the station's
# key and store, and a purge too (postrm says so).
if [ "${LINGONG_PACKAGE_DPKG_INSTALL:-}" = 1 ]; then
  echo "== installed with dpkg: the maintainer scripts run"
  [ "$(id -u)" = 0 ] || fail "LINGONG_PACKAGE_DPKG_INSTALL=1 needs root"
  if dpkg -s lingong >/dev/null 2>&1; then
    fail "a lingong package is already installed here: this check is for a throwaway machine"
  fi
  dpkg -i "$deb"
  getent passwd lingong | grep -q ':/var/lib/lingong:/usr/sbin/nologin$' \
    || fail "postinst made no system user lingong with home /var/lib/lingong and no shell"
  [ "$(stat -c '%a %U %G' /var/lib/lingong)" = "700 lingong lingong" ] \
    || fail "/var/lib/lingong is $(stat -c '%a %U %G' /var/lib/lingong), not 700 lingong lingong"
  as_lingong() { runuser -u lingong -- /usr/bin/lingong --home /var/lib/lingong "$@"; }
  as_lingong init --name 贵州省 --region 52 >/dev/null
  as_lingong cert request --out /var/lib/lingong/request.json >/dev/null
  as_lingong cert issue --request /var/lib/lingong/request.json --out /var/lib/lingong/cert.json >/dev/null
  as_lingong cert install /var/lib/lingong/cert.json >/dev/null
  as_lingong doctor || fail "doctor of the installed station did not exit 0"
  [ "$(stat -c '%a %U' /var/lib/lingong/node.key)" = "600 lingong" ] \
    || fail "node.key is $(stat -c '%a %U' /var/lib/lingong/node.key), not 600 lingong"
  key_before=$(sha256sum /var/lib/lingong/node.key)
  dpkg -i "$deb" # the same version again: prerm upgrade, then postinst configure <version>
  dpkg -r lingong
  [ ! -e /usr/bin/lingong ] || fail "dpkg -r left /usr/bin/lingong"
  dpkg --purge lingong
  [ "$(sha256sum /var/lib/lingong/node.key)" = "$key_before" ] \
    || fail "reinstall, removal or purge changed or deleted the station's key"
  [ -d /var/lib/lingong/store ] || fail "removal or purge deleted the station's store"
  echo "dpkg install, setup as lingong, doctor, reinstall, remove and purge: ok (the station's key and store kept)"
  rm -rf /var/lib/lingong
fi

echo "== tarball"
name=lingong-$version-x86_64-linux
stage=$root/$name
mkdir -p "$stage"
cp "$root/fs/usr/bin/lingong" "$stage/lingong"
cp "$root/fs/lib/systemd/system/lingong.service" "$stage/"
cp README.md docs/cli.md "$stage/"
cp packaging/debian/postinst "$stage/install-user.sh"
tar -C "$root" --owner=0 --group=0 -czf "$out/$name.tar.gz" "$name"
tar -tzf "$out/$name.tar.gz"
echo "$out/$name.tar.gz: $(du -h "$out/$name.tar.gz" | cut -f1)"
echo "packages: $deb $out/$name.tar.gz"
