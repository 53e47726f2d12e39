#!/usr/bin/env bash
# The Debian packages as a user gets them: built with cpack from the build folder, then
# validated (lintian without errors, desktop-file-validate, appstreamcli, systemd-analyze) and
# unpacked to check the layout, the stripped binaries and that both programs start.
# Usage: check_package.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
for tool in cpack dpkg-deb lintian desktop-file-validate appstreamcli systemd-analyze readelf; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log"; fail "cpack"; }
cli=$(ls "$work"/out/pulseboard-cli_*.deb)
gui=$(ls "$work"/out/pulseboard_*.deb)
echo "built: $(basename "$cli") $(basename "$gui")"

lintian --fail-on error --tag-display-limit 0 "$cli" "$gui" >"$work/lintian.log" 2>&1 || {
    cat "$work/lintian.log"; fail "lintian reports errors"; }
grep -E '^[EW]:' "$work/lintian.log" || true

root="$work/root"
dpkg-deb -x "$cli" "$root"
dpkg-deb -x "$gui" "$root"
for path in usr/bin/pulseboard-cli usr/bin/pulseboard \
            usr/lib/systemd/system/pulseboard-aggregator@.service \
            usr/lib/sysusers.d/pulseboard.conf etc/pulseboard/aggregator.conf \
            usr/share/man/man1/pulseboard-cli.1.gz usr/share/man/man1/pulseboard.1.gz \
            usr/share/applications/io.pulseboard.Pulseboard.desktop \
            usr/share/metainfo/io.pulseboard.Pulseboard.metainfo.xml \
            usr/share/icons/hicolor/scalable/apps/io.pulseboard.Pulseboard.svg \
            usr/share/icons/hicolor/48x48/apps/io.pulseboard.Pulseboard.png \
            usr/share/icons/hicolor/256x256/apps/io.pulseboard.Pulseboard.png \
            usr/share/doc/pulseboard-cli/copyright usr/share/doc/pulseboard/copyright \
            usr/share/doc/pulseboard-cli/changelog.Debian.gz; do
    [ -e "$root/$path" ] || fail "missing /$path"
done
dpkg-deb -f "$cli" Depends | grep -q 'librdkafka' || fail "pulseboard-cli's Depends lack librdkafka (shlibdeps)"
dpkg-deb -f "$gui" Depends | grep -q 'libqt6charts' || fail "pulseboard's Depends lack Qt Charts (shlibdeps)"
dpkg-deb -I "$cli" conffiles | grep -qx '/etc/pulseboard/aggregator.conf' || fail "aggregator.conf is not a conffile"
for binary in "$root/usr/bin/pulseboard-cli" "$root/usr/bin/pulseboard"; do
    readelf -S "$binary" | grep -qE '\.(symtab|debug_info)' && fail "$binary is not stripped"
done

desktop-file-validate "$root/usr/share/applications/io.pulseboard.Pulseboard.desktop"
appstreamcli validate --no-net "$root/usr/share/metainfo/io.pulseboard.Pulseboard.metainfo.xml" >"$work/as.log" 2>&1 || {
    cat "$work/as.log"; fail "appstreamcli validate"; }
# Verified on this machine's systemd, with ExecStart pointing into the unpacked tree.
mkdir -p "$work/units"
sed "s|/usr/bin/pulseboard-cli|$root/usr/bin/pulseboard-cli|" \
    "$root/usr/lib/systemd/system/pulseboard-aggregator@.service" >"$work/units/pulseboard-aggregator@.service"
systemd-analyze verify --man=no "$work/units/pulseboard-aggregator@.service" >"$work/sd.log" 2>&1 || {
    cat "$work/sd.log"; fail "systemd-analyze verify"; }
[ -s "$work/sd.log" ] && { cat "$work/sd.log"; fail "systemd-analyze verify has warnings"; }
zcat "$root/usr/share/man/man1/pulseboard-cli.1.gz" | grep -q 'aggregate' || fail "the CLI man page lacks its commands"

"$root/usr/bin/pulseboard-cli" --version | grep -q "pulseboard-cli" || fail "pulseboard-cli --version"
env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$root/usr/bin/pulseboard" --version | grep -q Pulseboard ||
    fail "pulseboard --version without a display"
echo "packages: lintian clean of errors, desktop entry, AppStream, systemd unit and layout checked"
