#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# All results pass, but the kernel WARNs (through LKDTM): the run must fail.
. "$KTAP_HELPERS"
ktap_print_header
ktap_set_plan 1
modprobe lkdtm
echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT
ktap_test_pass "a passing test while the kernel warns"
ktap_finished
