#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Make the guest's initramfs: busybox, bash, the kernel's modules and ours,
# the selftests, the userspace tool, an /init, and the list of tests to run.
#
# usage: mkinitramfs.sh CONFIG OUTPUT TESTLIST [EXTRA_DIR]
#   TESTLIST: file of "name repo-relative-path" lines (tests to run, in order)
#   EXTRA_DIR: operators' own KTAP scripts, copied to /extra in the guest
source "$(dirname "$0")/common.sh"

cfg=$1 output=$2 testlist=$3 extra=${4:-}
kbuild=$(kernel_build_dir "$cfg")
[ -f "$kbuild/.mlu270-build-ready" ] || die "the $cfg kernel is not built: run 'make kernel'"
kver=$(cat "$kbuild/include/config/kernel.release")

root=$(mktemp -d "${TMPDIR:-/tmp}/mlu270-initramfs.XXXXXX")
iroot=
trap 'rm -rf "$root" ${iroot:+"$iroot"}' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/share/mlu270,etc/mlu270,proc,sys,dev,tmp,root,lib,lib64,extra}

cp /bin/busybox "$root/bin/busybox"
[ -x "$root/bin/busybox" ] || die "busybox-static missing: run 'make deps'"

# A dynamic program and the libraries it needs (bash for kselftest-style
# scripts that ask for it, lspci/setpci for operators).
copy_program() {
	local prog=$1 lib
	[ -x "$prog" ] || return 0
	mkdir -p "$root$(dirname "$prog")"
	cp -L "$prog" "$root$prog"
	for lib in $(ldd "$prog" 2>/dev/null | grep -oE '/[^ ]+'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
copy_program /bin/bash
ln -sf bash "$root/bin/sh.bash"
copy_program /usr/bin/lspci
copy_program /usr/bin/setpci
[ -f /usr/share/misc/pci.ids ] && { mkdir -p "$root/usr/share/misc"; cp /usr/share/misc/pci.ids "$root/usr/share/misc/"; }

# Modules: the kernel's own, then ours under extra/.
mkdir -p "$root/lib/modules"
cp -a "$kbuild/modules-install/lib/modules/$kver" "$root/lib/modules/"
moddir=$(modules_dir "$cfg")
if ls "$moddir"/*.ko >/dev/null 2>&1; then
	mkdir -p "$root/lib/modules/$kver/extra"
	cp "$moddir"/*.ko "$root/lib/modules/$kver/extra/"
fi
/sbin/depmod -b "$root" "$kver" 2>/dev/null || depmod -b "$root" "$kver"

# Tests: the selftest tree as in the kernel (relative paths keep working),
# the pipeline's own tests, and the operators' extra tests.
cp -a "$TOP/tools/testing/selftests" "$root/selftests"
# The kernel's own KTAP helpers, unmodified, from the kernel we test against
# (the suites source them as $KTAP_HELPERS).
ktap_helpers=$(kernel_src_dir)/tools/testing/selftests/kselftest/ktap_helpers.sh
[ -f "$ktap_helpers" ] || die "no $ktap_helpers: run 'make deps'"
mkdir -p "$root/selftests/kselftest"
cp "$ktap_helpers" "$root/selftests/kselftest/"
cp -a "$TOP/qemu-test/tests" "$root/pipeline-tests"
if [ -n "$extra" ]; then
	[ -d "$extra" ] || die "EXTRA_TESTS=$extra is not a directory"
	cp -a "$extra/." "$root/extra/"
fi
[ -d "$TOP/qemu-test/guest/share" ] && cp -a "$TOP/qemu-test/guest/share/." "$root/usr/share/mlu270/"
if [ -x "$CACHE/tool/mlu270-smi" ]; then
	cp "$CACHE/tool/mlu270-smi" "$root/usr/bin/"
fi
if [ -d "$CACHE/tool/selftests" ]; then
	cp "$CACHE/tool/selftests/"* "$root/selftests/drivers/accel/mlu270/"
fi
# The kernel's own vfio selftests (build-vfio-selftests.sh), where kselftest
# installs them; vfio_selftests.sh runs them against the card.
vfio_selftests=$CACHE/vfio-selftests/$(kernel_tree_key)
if [ -f "$vfio_selftests/.ready" ]; then
	mkdir -p "$root/selftests/vfio"
	find "$vfio_selftests" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/selftests/vfio/" \;
fi

# The nested VM of the vfio test: a QEMU for the guest (it runs the inner
# VM under TCG and hands it a VF with vfio-pci), its firmware, and the inner
# VM's kernel and initramfs (its /init, mlu270_vf, mlu270-smi). The inner
# kernel has its own configuration (qemu-test/config/inner.config): a VM
# nested in TCG pays for every initcall, and the test kernel's debugging
# makes it take ten minutes to boot.
ikbuild=$(kernel_build_dir inner)
imoddir=$(modules_dir inner)
if [ "$cfg" = test ] && [ -x "$(qemu_binary_current)" ] &&
	[ -f "$ikbuild/.mlu270-build-ready" ] && [ -f "$imoddir/mlu270_vf.ko" ] &&
	[ -x "$CACHE/tool/inner-init" ]; then
	ikver=$(cat "$ikbuild/include/config/kernel.release")
	inner=$root/usr/share/mlu270/inner
	mkdir -p "$inner" "$root/usr/share/qemu"
	copy_program "$(qemu_binary_current)"
	strip "$root$(qemu_binary_current)"
	ln -sf "$(qemu_binary_current)" "$root/usr/bin/qemu-system-x86_64"
	cp /usr/share/qemu/qboot.rom /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin "$root/usr/share/qemu/"
	cp "$ikbuild/arch/x86/boot/bzImage" "$inner/bzImage"
	iroot=$(mktemp -d "${TMPDIR:-/tmp}/mlu270-inner.XXXXXX")
	mkdir -p "$iroot"/{usr/bin,proc,sys,dev,tmp,lib/modules/"$ikver"/extra}
	cp "$imoddir/mlu270_vf.ko" "$iroot/lib/modules/$ikver/extra/"
	[ -x "$CACHE/tool/mlu270-smi" ] && cp "$CACHE/tool/mlu270-smi" "$iroot/usr/bin/"
	# (a program, not a script: see qemu-test/guest/inner-init.c)
	cp "$CACHE/tool/inner-init" "$iroot/init"
	# (uncompressed: the inner kernel would spend seconds inflating it)
	(cd "$iroot" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$inner/initramfs.cpio"
	rm -rf "$iroot"
fi

# The test list, as guest paths.
: >"$root/etc/mlu270/tests"
# (a third column: the test guest that runs it, runner.py --guests)
while read -r name path guest; do
	[ -n "$name" ] || continue
	case "$path" in
	tools/testing/selftests/*) gpath=/selftests/${path#tools/testing/selftests/} ;;
	qemu-test/tests/*) gpath=/pipeline-tests/${path#qemu-test/tests/} ;;
	extra/*) gpath=/$path ;;
	*) die "test $name: unexpected path $path" ;;
	esac
	[ -e "$root$gpath" ] || die "test $name: $path not found"
	chmod +x "$root$gpath"
	echo "$name $gpath ${guest:-0}" >>"$root/etc/mlu270/tests"
done <"$testlist"

# Settings for the tests: long runs (make stress) and a fixed fuzz seed.
{
	[ -n "${MLU270_STRESS:-}" ] && echo "export MLU270_STRESS=$MLU270_STRESS"
	[ -n "${MLU270_SEED:-}" ] && echo "export MLU270_SEED=$MLU270_SEED"
	[ -n "${MLU270_BENCH_ROUNDS:-}" ] && echo "export MLU270_BENCH_ROUNDS=$MLU270_BENCH_ROUNDS"
	[ -n "${MLU270_BENCH_PINGS:-}" ] && echo "export MLU270_BENCH_PINGS=$MLU270_BENCH_PINGS"
	true
} >"$root/etc/mlu270/env"

cp "$TOP/qemu-test/guest/init" "$root/init"
chmod +x "$root/init"

mkdir -p "$(dirname "$output")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$output.tmp"
mv "$output.tmp" "$output"
log "initramfs: $output ($(du -h "$output" | cut -f1))"
