#!/bin/sh
# Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE.
# check-package.sh BUILDDIR: builds the Debian packages (aemp, libaemp0,
# libaemp-dev) from a copy of the source tree under BUILDDIR/package,
# runs lintian (errors fail, warnings are listed in lintian.txt),
# installs them with dpkg -i, checks the versions against AEMP_VERSION,
# writes a profile into /etc/aemp/aemp.db as the user aemp, runs aempd
# with it (systemctl start aempd@PROFILE if systemd is PID 1, else aempd
# directly as aemp) on 127.0.0.1 and an ephemeral port, asks it the time
# with aemp cal, and stops it (by PID). The installed unit passes
# systemd-analyze verify and its exposure is OK or better (when
# systemd-analyze exists). Needs root; "make check-package"
# runs it. The packages are removed again at the end (purged if
# /etc/aemp did not exist before).
set -eu

B=${1:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
W=$B/package
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PROFILE=pkgtest
fail() { echo "check-package: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs the packages)"
for t in dpkg-buildpackage dh lintian fakeroot; do
	command -v $t >/dev/null || fail "$t missing: apt-get install dpkg-dev debhelper lintian fakeroot"
done

rm -rf "$W"
mkdir -p "$W/src"
# the tracked and new files of the tree, not its build outputs
(cd "$SRC" && git ls-files -co --exclude-standard | grep -v '^build/' |
    tar -cf - -T -) | tar -xf - -C "$W/src"
t0=$(date +%s)
(cd "$W/src" && dpkg-buildpackage -us -uc -b) > "$W/build.log" 2>&1 ||
	{ tail -30 "$W/build.log"; fail "dpkg-buildpackage failed (see $W/build.log)"; }
echo "check-package: built in $(( $(date +%s) - t0 )) s:" $(cd "$W" && ls *.deb)
for p in aemp libaemp0 libaemp-dev; do
	ls "$W"/${p}_*.deb >/dev/null 2>&1 || fail "no package $p"
done

lintian --tag-display-limit 0 "$W"/*.changes > "$W/lintian.txt" 2>&1 || true
if grep -q '^E:' "$W/lintian.txt"; then
	cat "$W/lintian.txt"; fail "lintian reports errors"
fi
echo "check-package: lintian: $(grep -c '^W:' "$W/lintian.txt" || true) warnings (in $W/lintian.txt)"
grep '^W:' "$W/lintian.txt" || true

# what the packages hold
dpkg-deb -c "$W"/libaemp0_*.deb | grep 'usr/lib/libaemp.so.0' >/dev/null || fail "libaemp0 lacks libaemp.so.0"
dpkg-deb -c "$W"/libaemp-dev_*.deb | grep 'usr/include/aemp.h' >/dev/null || fail "libaemp-dev lacks aemp.h"
dpkg-deb -c "$W"/aemp_*.deb | grep 'usr/lib/aemp/Chat/Server.so' >/dev/null || fail "aemp lacks Chat::Server"
dpkg-deb -c "$W"/aemp_*.deb | grep 'systemd/system/aempd@.service' >/dev/null || fail "aemp lacks the unit"

had_etc=0
[ -d /etc/aemp ] && had_etc=1
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
	if [ $had_etc = 0 ]; then
		dpkg --purge aemp libaemp-dev libaemp0 >/dev/null 2>&1 || true
	else
		dpkg -r aemp libaemp-dev libaemp0 >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM	# (make check-package's timeout): cleanup runs
dpkg -i "$W"/aemp_*.deb "$W"/libaemp0_*.deb "$W"/libaemp-dev_*.deb > "$W/install.log" 2>&1 ||
	{ cat "$W/install.log"; fail "dpkg -i failed"; }

# one version, from aemp.h, everywhere
v=$(sed -n 's/^#define AEMP_VERSION "\(.*\)"/\1/p' "$SRC/common/aemp.h")
got=$(/usr/bin/aemp --version)
case $got in "aemp $v "*) ;; *) fail "aemp --version: '$got', not $v" ;; esac
[ "$(/usr/bin/aempd --version)" = "aempd $v" ] || fail "aempd --version: $(/usr/bin/aempd --version)"
dv=$(dpkg-query -W -f '${Version}' aemp)
[ "$dv" = "$v" ] || fail "package version $dv, not $v"
[ "$(pkg-config --modversion aemp)" = "$v" ] || fail "aemp.pc: $(pkg-config --modversion aemp)"
echo "check-package: installed; aemp --version: $got"

# the installed unit: systemd-analyze verify (warnings too) and its exposure
sa=$(command -v systemd-analyze || true)
if [ -n "$sa" ]; then
	unit=$(dpkg -L aemp | grep '/aempd@\.service$' | head -1)
	[ -n "$unit" ] || fail "aemp installs no aempd@.service"
	cp "$unit" "$W/aempd@$PROFILE.service"
	out=$(timeout 60 "$sa" verify --man=no "$W/aempd@$PROFILE.service" 2>&1) ||
		fail "systemd-analyze verify $unit: $out"
	case $out in *aempd@*) fail "systemd-analyze verify $unit: $out" ;; esac
	sec=$(timeout 60 "$sa" security --offline=yes "$W/aempd@$PROFILE.service" 2>&1 |
	    sed -n 's/.*Overall exposure level for [^:]*: *//p')
	case $sec in *OK*|*SAFE*) ;; *) fail "systemd-analyze security: '$sec'" ;; esac
	echo "check-package: $unit verifies; systemd-analyze security: $sec"
else
	echo "check-package: no systemd-analyze: the unit is not verified"
fi

# the system user and the store only it reads
getent passwd aemp >/dev/null || fail "no user aemp"
[ "$(stat -c %U:%a /etc/aemp)" = "aemp:700" ] || fail "/etc/aemp: $(stat -c %U:%a /etc/aemp)"
secret=$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')
runuser -u aemp -- env AEMP_RC=/etc/aemp/aemp.db /usr/bin/aemp setsecret "$secret" \
    profile $PROFILE setnodeid $PROFILE setbinds '127.0.0.1:*' || fail "aemp as aemp"
[ "$(stat -c %U:%a /etc/aemp/aemp.db)" = "aemp:600" ] || fail "store: $(stat -c %U:%a /etc/aemp/aemp.db)"

log=$W/aempd.log
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
	systemctl start aempd@$PROFILE || fail "systemctl start aempd@$PROFILE"
	pid=$(systemctl show -p MainPID --value aempd@$PROFILE)
	sleep 1
	journalctl -u aempd@$PROFILE -o cat > "$log"
else
	# setpriv executes aempd itself: $! is aempd's PID
	AEMP_RC=/etc/aemp/aemp.db setpriv --reuid=aemp --regid=aemp \
	    --init-groups /usr/bin/aempd --profile $PROFILE > "$log" 2>&1 &
	pid=$!
fi
i=0
while ! grep -q 'node listens on \[127.0.0.1:' "$log"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$log"; fail "aempd did not start"; }
	sleep 0.1
	if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
		journalctl -u aempd@$PROFILE -o cat > "$log"
	fi
done
addr=$(sed -n 's/.*node listens on \[\(127\.0\.0\.1:[0-9]*\)\].*/\1/p' "$log" | head -1)
rc=$W/client.db
out=$(AEMP_RC=$rc /usr/bin/aemp setsecret "$secret" seeds "$addr" cal --timeout 10 $PROFILE time) ||
	{ cat "$log"; fail "aemp cal $PROFILE time failed"; }
case $out in [0-9]*.*) ;; *) fail "aemp cal $PROFILE time: '$out'" ;; esac
user=$(ps -o user= -p "$pid")
[ "$user" = aemp ] || fail "aempd runs as '$user', not aemp"
echo "check-package: aempd (PID $pid) as $user on $addr answers: $out"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
	systemctl stop aempd@$PROFILE
else
	kill "$pid"
	wait "$pid" || fail "aempd exit status $?"
fi
pid=
echo "check-package: passed in $(( $(date +%s) - t0 )) s"
