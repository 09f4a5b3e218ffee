# SPDX-License-Identifier: GPL-2.0
#
# The MLU270 SR-IOV stack: one entry point for building and testing.
#
#   make run      boot the emulated card and show the stack working
#   make check    every test; ends with "N passed, N failed, N skipped"
#
# Finer targets: deps kernel kernel-release kernel-inner qemu modules tool
# initramfs shell
# check-runner clippy rustfmt clean. See README.md.
#
# Every big output (kernel, QEMU, their sources) lives in one cache directory
# outside the repository, keyed by a hash of its inputs:
#   $(MLU270_CACHE), default $(XDG_CACHE_HOME)/mlu270-sriov or ~/.cache/mlu270-sriov

SCRIPTS := qemu-test/scripts
SHELL := /bin/bash

# Names this make invocation: the stages it runs record their times under
# it (qemu-test/scripts/timed.sh) for the table at the end of `make check`.
export MLU270_RUN := $(shell date +%s%N)

# Forwarded to the scripts through the environment.
export TESTS EXTRA_TESTS RUNNER_SELFTESTS MLU270_CACHE JOBS MLU270_SEED \
	MLU270_BENCH_ROUNDS MLU270_BENCH_PINGS MLU270_BENCH_ICOUNT MLU270_GUESTS

.PHONY: all deps kernel kernel-release kernel-inner qemu modules modules-release modules-inner tool initramfs \
	run bench shell check stress check-runner clippy rustfmt clean help

all: kernel qemu modules

help:
	@sed -n '3,15p' Makefile

deps:
	@$(SCRIPTS)/timed.sh "build: deps" $(SCRIPTS)/deps.sh

kernel: deps
	@$(SCRIPTS)/timed.sh "build: test kernel" $(SCRIPTS)/build-kernel.sh test

kernel-release: deps
	@$(SCRIPTS)/timed.sh "build: release kernel" $(SCRIPTS)/build-kernel.sh release

# The nested VM's kernel (vfio_passthrough): a cloud guest with one VF.
kernel-inner: deps
	@$(SCRIPTS)/timed.sh "build: inner VM kernel" $(SCRIPTS)/build-kernel.sh inner

qemu: deps
	@$(SCRIPTS)/timed.sh "build: QEMU" $(SCRIPTS)/build-qemu.sh

modules: kernel
	@$(SCRIPTS)/timed.sh "build: modules, vfio selftests" $(SCRIPTS)/build-modules.sh test

modules-release: kernel-release
	@$(SCRIPTS)/timed.sh "build: release modules" $(SCRIPTS)/build-modules.sh release

modules-inner: kernel-inner
	@$(SCRIPTS)/timed.sh "build: inner VM modules" $(SCRIPTS)/build-modules.sh inner

# The userspace tool, static, for the guest image.
tool: deps
	@$(SCRIPTS)/timed.sh "build: tool, C helpers" $(SCRIPTS)/build-tool.sh

initramfs: modules tool
	@$(SCRIPTS)/guest.sh initramfs

run: kernel qemu modules tool
	@$(SCRIPTS)/guest.sh run

# Benchmarks on the release kernel (MLU270_BENCH_ROUNDS, default 5): the
# report and its plot are written to Documentation/accel/mlu270/.
bench: kernel-release qemu modules-release tool
	@$(SCRIPTS)/bench.sh

shell: kernel qemu modules tool
	@$(SCRIPTS)/guest.sh shell

# (the inner kernel and modules: the nested VM of the vfio test)
check: kernel qemu modules tool kernel-inner modules-inner
	@$(SCRIPTS)/check.sh

# The long versions of the hardening tests (a hostile VF's 100,000 messages,
# 1,000 re-partitioning cycles, 100 FLRs of each VF under load, a minute of
# mailbox round trips next to a resetting VF, 20,000 faults next to 5); hours.
STRESS_TESTS ?= hostile_vf|mailbox_isolation|fault_accounting|churn|reset_storm|fault_storm
stress: kernel qemu modules tool
	@MLU270_STRESS=1 RUNNER_TIMEOUT=$${RUNNER_TIMEOUT:-21600} TESTS='$(STRESS_TESTS)' $(SCRIPTS)/check.sh

# The runner's own tests: each deliberately broken test must fail the run.
check-runner: kernel qemu modules
	@$(SCRIPTS)/check-runner.sh

clippy: kernel
	@CLIPPY=1 $(SCRIPTS)/build-modules.sh test

rustfmt:
	@find drivers -name '*.rs' -print0 | xargs -0 -r rustfmt --check --edition 2021 --config newline_style=Unix

clean:
	rm -rf .build
