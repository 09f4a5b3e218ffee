#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# timeout: 0
# Never returns, with the guest-side timeout off: only the host-side
# runner's timeout can end the run, and it must fail it.
. "$KTAP_HELPERS"
ktap_print_header
ktap_set_plan 1
while :; do sleep 3600; done
