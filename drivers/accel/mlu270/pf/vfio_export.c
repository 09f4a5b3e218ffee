// SPDX-License-Identifier: GPL-2.0
/*
 * Exports the PF driver's VF migration service to the MLU270's VFIO variant
 * driver (drivers/vfio/pci/mlu270/), and to it only.
 *
 * The service is a table of functions defined in Rust (pf/vfio_bridge.rs,
 * layout in common/vf_mig_abi.rs, which both modules build); a Rust module
 * cannot export a symbol, so this file does.
 */
#include <linux/export.h>
#include <linux/module.h>

struct mlu270_vf_mig_ops;
extern const struct mlu270_vf_mig_ops mlu270_pf_vf_mig_ops;
EXPORT_SYMBOL_FOR_MODULES(mlu270_pf_vf_mig_ops, "mlu270_vfio_pci");
