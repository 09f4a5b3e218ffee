#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One "not ok" line among passing ones: the run must fail.
. "$KTAP_HELPERS"
ktap_print_header
ktap_set_plan 2
ktap_test_pass "a passing test"
ktap_test_fail "a failing test"
# exit 0 on purpose: the runner must judge the KTAP line, not the exit code
exit 0
