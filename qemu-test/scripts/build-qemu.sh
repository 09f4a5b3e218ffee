#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build qemu-system-x86_64 (TCG and KVM, minimal features) with the
# emulated MLU270 from qemu-test/mlu270/ compiled in. The same binary runs
# the test guests on the host (TCG here; KVM where the host has it) and
# the nested VM inside a test guest (KVM on the guest's emulated SVM).
#
# The build directory is keyed by the QEMU version and this script (which
# holds the configure options); the device model's sources are synced into
# it and rebuilt incrementally. A stamp records the hash of the device-model
# sources, so with nothing changed ninja is not even started.
source "$(dirname "$0")/common.sh"

src=$CACHE/src/qemu-$(qemu_version)
[ -f "$src/configure" ] || die "no QEMU source in $src: run 'make deps'"

# The key of the build directory leaves the device model out on purpose (see
# above), so compute it here rather than with qemu_key().
dir=$CACHE/qemu-build/$(hash_string "$(qemu_version) $(hash_inputs "$0" "$TOP/qemu-test/qemu-patches")")
model_hash=$(hash_inputs "$TOP/qemu-test/mlu270")
qemu_bin=$dir/build/qemu-system-x86_64

if [ -x "$qemu_bin" ] && [ "$(cat "$dir/.mlu270-model-hash" 2>/dev/null)" = "$model_hash" ]; then
	log "QEMU up to date: $qemu_bin"
	ln -sfn "$dir" "$CACHE/qemu-current"
	exit 0
fi

if [ ! -f "$dir/.mlu270-configured" ]; then
	log "preparing the QEMU $(qemu_version) tree in $dir"
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -al "$src" "$dir/src"
	# Hook the device model into the tree. sed -i writes new files, so the
	# hard-linked pristine source is left untouched.
	{ cat "$dir/src/hw/meson.build"; echo "subdir('mlu270')"; } >"$dir/src/hw/meson.build.new"
	mv "$dir/src/hw/meson.build.new" "$dir/src/hw/meson.build"
	{ cat "$dir/src/hw/Kconfig"; echo "source mlu270/Kconfig"; } >"$dir/src/hw/Kconfig.new"
	mv "$dir/src/hw/Kconfig.new" "$dir/src/hw/Kconfig"
	if [ -f "$TOP/qemu-test/mlu270/qtest/meson.build" ]; then
		{ cat "$dir/src/tests/qtest/meson.build"; echo "subdir('mlu270')"; } >"$dir/src/tests/qtest/meson.build.new"
		mv "$dir/src/tests/qtest/meson.build.new" "$dir/src/tests/qtest/meson.build"
	fi
	# The +ds tarballs drop the edk2 blobs that meson insists on unpacking
	# when bzip2 is present; we never use them (SeaBIOS boots the guest), so
	# valid empty archives stand in for them.
	for f in $(grep -o "'edk2-[a-z0-9_-]*\.fd'" "$src/pc-bios/meson.build" | tr -d "'" | sort -u); do
		[ -e "$dir/src/pc-bios/$f.bz2" ] || bzip2 -c </dev/null >"$dir/src/pc-bios/$f.bz2"
	done
	# Fixes to QEMU itself (qemu-test/qemu-patches, in order). Each file a
	# patch touches is copied first: the tree is hard-linked to the
	# pristine source, which must stay as it is.
	for p in "$TOP"/qemu-test/qemu-patches/*.patch; do
		[ -e "$p" ] || continue
		for f in $(sed -n 's|^+++ b/||p' "$p"); do
			cp "$dir/src/$f" "$dir/src/$f.unlinked" && mv "$dir/src/$f.unlinked" "$dir/src/$f"
		done
		patch -s -p1 -d "$dir/src" --no-backup-if-mismatch <"$p" ||
			{ rm -rf "$dir"; die "applying $(basename "$p") to QEMU failed"; }
	done
fi

# Sync the device model (only changed files get a new mtime). Its qtest, if
# any, goes under tests/qtest/mlu270/.
mkdir -p "$dir/src/hw/mlu270" "$dir/src/tests/qtest/mlu270"
sync_tree() {
	local from=$1 to=$2 f rel
	(cd "$from" && find . -type f ! -path './qtest/*' -print) | while read -r rel; do
		mkdir -p "$to/$(dirname "$rel")"
		cmp -s "$from/$rel" "$to/$rel" || cp "$from/$rel" "$to/$rel"
	done
}
sync_tree "$TOP/qemu-test/mlu270" "$dir/src/hw/mlu270"
[ -d "$TOP/qemu-test/mlu270/qtest" ] && sync_tree "$TOP/qemu-test/mlu270/qtest" "$dir/src/tests/qtest/mlu270"

if [ ! -f "$dir/.mlu270-configured" ]; then
	log "configuring QEMU"
	mkdir -p "$dir/build"
	(cd "$dir/build" && "$dir/src/configure" --python="$PYTHON" \
		--target-list=x86_64-softmmu --without-default-features \
		--enable-tcg --enable-kvm --disable-docs --disable-tools --disable-fdt \
		--disable-download --disable-install-blobs --disable-werror \
		>configure.log 2>&1) || { tail -30 "$dir/build/configure.log"; die "QEMU configure failed"; }
	touch "$dir/.mlu270-configured"
fi

start=$(date +%s)
log "building QEMU (about 3 minutes from scratch on 2 cores)"
ninja -C "$dir/build" -j"$JOBS" qemu-system-x86_64 >"$dir/build/ninja.log" 2>&1 ||
	{ grep -E 'error|Error' -A3 "$dir/build/ninja.log" | head -40; die "QEMU build failed (log: $dir/build/ninja.log)"; }
if [ -f "$TOP/qemu-test/mlu270/qtest/meson.build" ]; then
	ninja -C "$dir/build" -j"$JOBS" tests/qtest/mlu270/mlu270-test >>"$dir/build/ninja.log" 2>&1 ||
		{ grep -E 'error|Error' -A3 "$dir/build/ninja.log" | head -40; die "qtest build failed"; }
fi
echo "$model_hash" >"$dir/.mlu270-model-hash"
log "QEMU built in $(($(date +%s) - start)) s: $qemu_bin"
ln -sfn "$dir" "$CACHE/qemu-current"
ls -1dt "$CACHE/qemu-build"/*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
