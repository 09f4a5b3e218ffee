/*
 * Emulated MLU270-class accelerator with SR-IOV (placeholder).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pcie.h"
#include "hw/pci/pcie_sriov.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu/module.h"

#define TYPE_MLU270_PF "mlu270"
#define TYPE_MLU270_VF "mlu270-vf"

#define MLU270_VENDOR_ID   0xcabc
#define MLU270_PF_DEVICE_ID 0x0270
#define MLU270_VF_DEVICE_ID 0x0271
#define MLU270_TOTAL_VFS   4
#define MLU270_BAR0_SIZE   0x10000
#define MLU270_SRIOV_CAP   0x100

typedef struct Mlu270State {
    PCIDevice parent_obj;
    MemoryRegion bar0;
} Mlu270State;

OBJECT_DECLARE_SIMPLE_TYPE(Mlu270State, MLU270_PF)

static uint64_t mlu270_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    return addr == 0 ? 0x02700001 : 0;
}

static void mlu270_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                              unsigned size)
{
}

static const MemoryRegionOps mlu270_mmio_ops = {
    .read = mlu270_mmio_read,
    .write = mlu270_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static void mlu270_pf_realize(PCIDevice *pci, Error **errp)
{
    Mlu270State *s = MLU270_PF(pci);

    memory_region_init_io(&s->bar0, OBJECT(s), &mlu270_mmio_ops, s,
                          "mlu270-bar0", MLU270_BAR0_SIZE);
    pci_register_bar(pci, 0, PCI_BASE_ADDRESS_MEM_TYPE_64, &s->bar0);
    if (pcie_endpoint_cap_init(pci, 0x80) < 0) {
        error_setg(errp, "mlu270: PCIe capability init failed");
        return;
    }
    if (!pcie_sriov_pf_init(pci, MLU270_SRIOV_CAP, TYPE_MLU270_VF,
                            MLU270_VF_DEVICE_ID, MLU270_TOTAL_VFS,
                            MLU270_TOTAL_VFS, 1, 1, errp)) {
        return;
    }
    pcie_sriov_pf_init_vf_bar(pci, 0, PCI_BASE_ADDRESS_MEM_TYPE_64,
                              MLU270_BAR0_SIZE);
}

static void mlu270_pf_exit(PCIDevice *pci)
{
    pcie_sriov_pf_exit(pci);
}

static void mlu270_pf_write_config(PCIDevice *pci, uint32_t addr,
                                   uint32_t val, int len)
{
    pci_default_write_config(pci, addr, val, len);
    pcie_sriov_config_write(pci, addr, val, len);
}

static void mlu270_pf_reset(DeviceState *dev)
{
    pcie_sriov_pf_reset(PCI_DEVICE(dev));
}

static void mlu270_pf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = mlu270_pf_realize;
    k->exit = mlu270_pf_exit;
    k->config_write = mlu270_pf_write_config;
    k->vendor_id = MLU270_VENDOR_ID;
    k->device_id = MLU270_PF_DEVICE_ID;
    k->class_id = PCI_CLASS_PROCESSOR_CO;
    device_class_set_legacy_reset(dc, mlu270_pf_reset);
    dc->desc = "Emulated MLU270 accelerator (SR-IOV PF)";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

typedef struct Mlu270VfState {
    PCIDevice parent_obj;
    MemoryRegion bar0;
} Mlu270VfState;

OBJECT_DECLARE_SIMPLE_TYPE(Mlu270VfState, MLU270_VF)

static void mlu270_vf_realize(PCIDevice *pci, Error **errp)
{
    Mlu270VfState *s = MLU270_VF(pci);

    memory_region_init_io(&s->bar0, OBJECT(s), &mlu270_mmio_ops, s,
                          "mlu270-vf-bar0", MLU270_BAR0_SIZE);
    pci_register_bar(pci, 0, PCI_BASE_ADDRESS_MEM_TYPE_64, &s->bar0);
    if (pcie_endpoint_cap_init(pci, 0x80) < 0) {
        error_setg(errp, "mlu270-vf: PCIe capability init failed");
        return;
    }
    pcie_cap_flr_init(pci);
}

static void mlu270_vf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = mlu270_vf_realize;
    k->vendor_id = MLU270_VENDOR_ID;
    k->device_id = MLU270_VF_DEVICE_ID;
    k->class_id = PCI_CLASS_PROCESSOR_CO;
    dc->desc = "Emulated MLU270 accelerator (SR-IOV VF)";
    dc->user_creatable = false;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo mlu270_types[] = {
    {
        .name = TYPE_MLU270_PF,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(Mlu270State),
        .class_init = mlu270_pf_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE }, { }
        },
    },
    {
        .name = TYPE_MLU270_VF,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(Mlu270VfState),
        .class_init = mlu270_vf_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE }, { }
        },
    },
};

DEFINE_TYPES(mlu270_types)
