/*
 * QTest for the emulated MLU270 SR-IOV accelerator.
 *
 * Drives the device through config space (ECAM, for the SR-IOV extended
 * capability), its BARs and guest memory only; no guest kernel. Every
 * expected value comes from mlu270_regs.h or from a reference computed
 * here, never from the model.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mlu270-qtest.h"

static const uint8_t zz[64] = {
     0,  1,  8, 16,  9,  2,  3, 10, 17, 24, 32, 25, 18, 11,  4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13,  6,  7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

/* ---- Tests -------------------------------------------------------------- */

static void test_ids(void)
{
    Ctx *c = ctx_new(NULL);
    int pos;
    uint32_t hdr;

    g_assert_cmphex(cfg_readw(c, PF_DEVFN, PCI_VENDOR_ID), ==,
                    MLU270_VENDOR_ID);
    g_assert_cmphex(cfg_readw(c, PF_DEVFN, PCI_DEVICE_ID), ==,
                    MLU270_PF_DEVICE_ID);
    g_assert_cmphex(cfg_readw(c, PF_DEVFN, PCI_CLASS_DEVICE), ==, 0x0b40);
    g_assert_cmpint(find_cap(c, PF_DEVFN, PCI_CAP_ID_EXP), !=, 0);
    pos = find_cap(c, PF_DEVFN, PCI_CAP_ID_MSIX);
    g_assert_cmpint(pos, !=, 0);
    g_assert_cmpint((cfg_readw(c, PF_DEVFN, pos + PCI_MSIX_FLAGS) &
                     PCI_MSIX_FLAGS_QSIZE) + 1, ==, MLU270_PF_MSIX_VECTORS);
    g_assert_cmphex(cfg_readl(c, PF_DEVFN, pos + PCI_MSIX_TABLE), ==,
                    MLU270_MSIX_BAR);
    g_assert_cmphex(cfg_readl(c, PF_DEVFN, pos + PCI_MSIX_PBA), ==,
                    MLU270_MSIX_PBA_OFFSET | MLU270_MSIX_BAR);
    /* BAR0 and BAR2 are 64-bit memory BARs. */
    g_assert_cmphex(cfg_readl(c, PF_DEVFN, PCI_BASE_ADDRESS_0) &
                    PCI_BASE_ADDRESS_MEM_TYPE_MASK, ==,
                    PCI_BASE_ADDRESS_MEM_TYPE_64);
    g_assert_cmphex(cfg_readl(c, PF_DEVFN, PCI_BASE_ADDRESS_2) &
                    PCI_BASE_ADDRESS_MEM_TYPE_MASK, ==,
                    PCI_BASE_ADDRESS_MEM_TYPE_64);

    /* SR-IOV extended capability. */
    pos = 0x100;
    while (pos) {
        hdr = cfg_readl(c, PF_DEVFN, pos);
        if (PCI_EXT_CAP_ID(hdr) == PCI_EXT_CAP_ID_SRIOV) {
            break;
        }
        pos = PCI_EXT_CAP_NEXT(hdr);
    }
    g_assert_cmphex(pos, ==, SRIOV);
    g_assert_cmpuint(cfg_readw(c, PF_DEVFN, SRIOV + PCI_SRIOV_TOTAL_VF), ==,
                     MLU270_TOTAL_VFS);
    g_assert_cmpuint(cfg_readw(c, PF_DEVFN, SRIOV + PCI_SRIOV_VF_OFFSET), ==,
                     1);
    g_assert_cmpuint(cfg_readw(c, PF_DEVFN, SRIOV + PCI_SRIOV_VF_STRIDE), ==,
                     1);
    g_assert_cmphex(cfg_readw(c, PF_DEVFN, SRIOV + PCI_SRIOV_VF_DID), ==,
                    MLU270_VF_DEVICE_ID);

    /* Register reset values straight from mlu270_regs.h. */
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_MAGIC), ==, MLU270_RESET_MAGIC);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_VERSION), ==,
                    MLU270_RESET_VERSION);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_FUNC_INFO), ==, 0);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_CAP_IPU), ==,
                    MLU270_RESET_CAP_IPU);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_CAP_VPU), ==,
                    MLU270_RESET_CAP_VPU);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_CAP_JPU), ==,
                    MLU270_RESET_CAP_JPU);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_CAP_MEM_MB), ==, MEM_MB);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SLICE_IPU), ==, 0xffff);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SLICE_VPU), ==, 0xf);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SLICE_JPU), ==, 0xf);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_SLICE_MEM_MB), ==, MEM_MB);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SCRATCH), ==,
                    MLU270_RESET_SCRATCH);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_INT_ENABLE), ==,
                    MLU270_RESET_INT_ENABLE);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_Q_STATUS), ==,
                    MLU270_RESET_Q_STATUS);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_PART_STATUS), ==,
                    MLU270_RESET_PART_STATUS);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_NUM_VFS), ==,
                    MLU270_RESET_NUM_VFS);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PART_BASE(0) +
                       MLU270_PART_MEM_SIZE_MB), ==, MEM_MB);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PART_BASE(1) +
                       MLU270_PART_IPU_MASK), ==, 0);
    wr(c, &c->pf, MLU270_REG_SCRATCH, 0x12345678);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SCRATCH), ==, 0x12345678);
    ctx_free(c);
}

static void test_mem_size(void)
{
    Ctx *c = ctx_new(",mem-size=64M");

    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_CAP_MEM_MB), ==, 64);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_SLICE_MEM_MB), ==, 64);
    ctx_free(c);
}

static void test_sriov_enable(void)
{
    Ctx *c = ctx_new(NULL);
    int pos;

    part_quarters(c);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_PART_STATUS), ==, 0);
    vfs_enable(c, 4);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_NUM_VFS), ==, 4);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_PART_STATUS), ==,
                    MLU270_PART_STATUS_LOCKED);
    /* The PF is a manager only while VFs exist. */
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SLICE_IPU), ==, 0);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SLICE_MEM_MB), ==, 0);

    for (int i = 0; i < 4; i++) {
        Fn *vf = &c->vf[i];

        g_assert_cmphex(cfg_readw(c, vf->devfn, PCI_DEVICE_ID), ==, 0xffff);
        pos = find_cap(c, vf->devfn, PCI_CAP_ID_EXP);
        g_assert_cmpint(pos, !=, 0);
        g_assert_true(cfg_readl(c, vf->devfn, pos + PCI_EXP_DEVCAP) &
                      PCI_EXP_DEVCAP_FLR);
        pos = find_cap(c, vf->devfn, PCI_CAP_ID_MSIX);
        g_assert_cmpint(pos, !=, 0);
        g_assert_cmpint((cfg_readw(c, vf->devfn, pos + PCI_MSIX_FLAGS) &
                         PCI_MSIX_FLAGS_QSIZE) + 1, ==,
                        MLU270_VF_MSIX_VECTORS);

        g_assert_cmphex(rd(c, vf, MLU270_REG_MAGIC), ==, MLU270_RESET_MAGIC);
        g_assert_cmphex(rd(c, vf, MLU270_REG_FUNC_INFO), ==,
                        (i + 1) | MLU270_FUNC_INFO_IS_VF);
        g_assert_cmphex(rd(c, vf, MLU270_REG_SLICE_IPU), ==, 0xf << (4 * i));
        g_assert_cmphex(rd(c, vf, MLU270_REG_SLICE_VPU), ==, 1 << i);
        g_assert_cmphex(rd(c, vf, MLU270_REG_SLICE_JPU), ==, 1 << i);
        g_assert_cmpuint(rd(c, vf, MLU270_REG_SLICE_MEM_MB), ==, MEM_MB / 4);
        /* PF-only blocks read as zero from a VF. */
        g_assert_cmphex(rd(c, vf, MLU270_PART_BASE(1)), ==, 0);
        g_assert_cmphex(rd(c, vf, MLU270_REG_NUM_VFS), ==, 0);
        g_assert_cmphex(rd(c, &c->pf, MLU270_PFVF_BASE(i) +
                           MLU270_PFVF_VF_STATE), ==,
                        MLU270_VF_STATE_ENABLED);
    }

    /* The table is locked while VFs are enabled. */
    wr(c, &c->pf, MLU270_PART_BASE(1) + MLU270_PART_IPU_MASK, 0xffff);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PART_BASE(1) + MLU270_PART_IPU_MASK),
                    ==, 0xf);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_PART_STATUS), ==,
                    MLU270_PART_STATUS_LOCKED |
                    MLU270_PART_STATUS_WRITE_REJECTED);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_MISUSE_COUNT), ==, 1);
    wr(c, &c->pf, MLU270_REG_PART_STATUS, MLU270_PART_STATUS_WRITE_REJECTED);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_PART_STATUS), ==,
                    MLU270_PART_STATUS_LOCKED);

    /* Re-partition: disable, reprogram as 1/2 + 1/4 + 1/4, enable 3. */
    vfs_disable(c);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_NUM_VFS), ==, 0);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SLICE_IPU), ==, 0xffff);
    g_assert_cmphex(qtest_readl(c->qts, c->vf[0].bar0), !=,
                    MLU270_RESET_MAGIC);
    part_set(c, 1, 0x00ff, 0x3, 0x3, 0, 128);
    part_set(c, 2, 0x0f00, 0x4, 0x4, 128, 64);
    part_set(c, 3, 0xf000, 0x8, 0x8, 192, 64);
    vfs_enable(c, 3);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_NUM_VFS), ==, 3);
    g_assert_cmpuint(rd(c, &c->vf[0], MLU270_REG_SLICE_MEM_MB), ==, 128);
    g_assert_cmphex(rd(c, &c->vf[0], MLU270_REG_SLICE_IPU), ==, 0xff);
    g_assert_cmpuint(rd(c, &c->vf[2], MLU270_REG_SLICE_MEM_MB), ==, 64);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PFVF_BASE(3) +
                       MLU270_PFVF_VF_STATE), ==, 0);
    vfs_disable(c);

    /* Overlapping entries are both invalid: empty slices. */
    part_set(c, 2, 0x00f0, 0x4, 0x4, 128, 64);
    vfs_enable(c, 2);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_PART_STATUS), ==,
                    MLU270_PART_STATUS_LOCKED |
                    MLU270_PART_STATUS_INVALID(1) |
                    MLU270_PART_STATUS_INVALID(2));
    g_assert_cmphex(rd(c, &c->vf[0], MLU270_REG_SLICE_IPU), ==, 0);
    g_assert_cmphex(rd(c, &c->vf[1], MLU270_REG_SLICE_MEM_MB), ==, 0);
    ctx_free(c);
}

static void test_mailbox(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf;
    uint32_t w;

    part_quarters(c);
    vfs_enable(c, 4);
    msix_setup(c, pf);
    wr(c, pf, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    for (int i = 0; i < 4; i++) {
        msix_setup(c, &c->vf[i]);
        wr(c, &c->vf[i], MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    }

    /* VF1 and VF3 send; the PF tells them apart by window, not content. */
    for (int i = 1; i < 4; i += 2) {
        Fn *vf = &c->vf[i];
        for (int k = 0; k < 16; k++) {
            wr(c, vf, MLU270_REG_MB_OUT + 4 * k, 0xa0000000 | (i << 8) | k);
        }
        g_assert_false(msix_pending(c, pf, MLU270_VEC_MBOX));
        wr(c, vf, MLU270_REG_MB_DOORBELL, 1);
        g_assert_cmphex(rd(c, vf, MLU270_REG_MB_STATUS), ==,
                        MLU270_MB_STATUS_OUT_BUSY);
        g_assert_true(msix_pending(c, pf, MLU270_VEC_MBOX));
        msix_clear(c, pf, MLU270_VEC_MBOX);
    }
    g_assert_cmphex(rd(c, pf, MLU270_REG_MB_PENDING), ==, 0xa);
    g_assert_true(rd(c, pf, MLU270_REG_INT_STATUS) & MLU270_INT_MB_RX);

    /* A busy channel refuses new content and doorbells (misuse). */
    wr(c, &c->vf[1], MLU270_REG_MB_OUT, 0xdead);
    wr(c, &c->vf[1], MLU270_REG_MB_DOORBELL, 1);
    g_assert_cmpuint(rd(c, &c->vf[1], MLU270_REG_MISUSE_COUNT), ==, 2);

    for (int i = 1; i < 4; i += 2) {
        uint32_t win = MLU270_PFVF_BASE(i);
        for (int k = 0; k < 16; k++) {
            g_assert_cmphex(rd(c, pf, win + MLU270_PFVF_VF_MSG + 4 * k), ==,
                            0xa0000000 | (i << 8) | k);
        }
        g_assert_cmphex(rd(c, pf, win + MLU270_PFVF_STATUS), ==,
                        MLU270_PFVF_STATUS_VF_VALID);
        g_assert_false(msix_pending(c, &c->vf[i], MLU270_VEC_MBOX));
        wr(c, pf, win + MLU270_PFVF_ACK, 1);
        g_assert_true(msix_pending(c, &c->vf[i], MLU270_VEC_MBOX));
        g_assert_true(rd(c, &c->vf[i], MLU270_REG_INT_STATUS) &
                      MLU270_INT_MB_ACK);
        g_assert_cmphex(rd(c, &c->vf[i], MLU270_REG_MB_STATUS), ==, 0);
        msix_clear(c, &c->vf[i], MLU270_VEC_MBOX);
    }
    g_assert_cmphex(rd(c, pf, MLU270_REG_MB_PENDING), ==, 0);
    /* An ACK with nothing pending is misuse. */
    wr(c, pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_ACK, 1);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_MISUSE_COUNT), ==, 1);

    /* PF -> VF2. */
    for (int k = 0; k < 16; k++) {
        wr(c, pf, MLU270_PFVF_BASE(2) + MLU270_PFVF_PF_MSG + 4 * k,
           0x50000000 | k);
    }
    wr(c, pf, MLU270_PFVF_BASE(2) + MLU270_PFVF_DOORBELL, 1);
    g_assert_true(msix_pending(c, &c->vf[2], MLU270_VEC_MBOX));
    g_assert_false(msix_pending(c, &c->vf[0], MLU270_VEC_MBOX));
    g_assert_cmphex(rd(c, &c->vf[2], MLU270_REG_MB_STATUS), ==,
                    MLU270_MB_STATUS_IN_VALID);
    g_assert_true(rd(c, &c->vf[2], MLU270_REG_INT_STATUS) & MLU270_INT_MB_RX);
    for (int k = 0; k < 16; k++) {
        g_assert_cmphex(rd(c, &c->vf[2], MLU270_REG_MB_IN + 4 * k), ==,
                        0x50000000 | k);
    }
    /* Other VFs see nothing. */
    g_assert_cmphex(rd(c, &c->vf[0], MLU270_REG_MB_IN), ==, 0);
    w = rd(c, pf, MLU270_PFVF_BASE(2) + MLU270_PFVF_STATUS);
    g_assert_cmphex(w, ==, MLU270_PFVF_STATUS_PF_BUSY);
    msix_clear(c, pf, MLU270_VEC_MBOX);
    wr(c, &c->vf[2], MLU270_REG_MB_ACK, 1);
    g_assert_true(msix_pending(c, pf, MLU270_VEC_MBOX));
    g_assert_true(rd(c, pf, MLU270_REG_INT_STATUS) & MLU270_INT_MB_ACK);
    g_assert_cmphex(rd(c, pf, MLU270_PFVF_BASE(2) + MLU270_PFVF_STATUS), ==,
                    0);
    ctx_free(c);
}

/* The PF sends VF @vf a one-word message. */
static void pf_send(Ctx *c, int vf, uint32_t word)
{
    wr(c, &c->pf, MLU270_PFVF_BASE(vf) + MLU270_PFVF_PF_MSG, word);
    wr(c, &c->pf, MLU270_PFVF_BASE(vf) + MLU270_PFVF_DOORBELL, 1);
}

/*
 * VF_RESET ON_ACK: the PF tells a VF why it is reset and never waits for
 * the guest; the reset happens when the VF acknowledges, or at the
 * device's deadline, or at once if nothing is pending.
 */
static void test_deferred_reset(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf, *v1 = &c->vf[1];
    uint32_t reset = MLU270_PFVF_BASE(1) + MLU270_PFVF_VF_RESET;
    uint32_t deferred = MLU270_VF_RESET_NOW | MLU270_VF_RESET_ON_ACK;

    part_quarters(c);
    vfs_enable(c, 2);

    /* Armed: the VF can still read the message; its ACK resets it. */
    wr(c, v1, MLU270_REG_SCRATCH, 0x77);
    pf_send(c, 1, 0x80);
    wr(c, pf, reset, deferred);
    wr(c, pf, reset, deferred);     /* a second write changes nothing */
    g_assert_cmphex(rd(c, pf, MLU270_REG_VF_EVENT), ==, 0);
    g_assert_cmphex(rd(c, v1, MLU270_REG_MB_IN), ==, 0x80);
    g_assert_cmphex(rd(c, v1, MLU270_REG_SCRATCH), ==, 0x77);
    qtest_clock_step(c->qts, MLU270_VF_RESET_ACK_TIMEOUT_NS / 2);
    g_assert_cmphex(rd(c, pf, MLU270_REG_VF_EVENT), ==, 0);
    wr(c, v1, MLU270_REG_MB_ACK, 1);
    g_assert_cmphex(rd(c, pf, MLU270_REG_VF_EVENT), ==, 2);
    g_assert_cmphex(rd(c, v1, MLU270_REG_SCRATCH), ==, 0);
    wr(c, pf, MLU270_REG_VF_EVENT, 2);
    /* The disarmed deadline does not reset the VF a second time. */
    qtest_clock_step(c->qts, MLU270_VF_RESET_ACK_TIMEOUT_NS);
    g_assert_cmphex(rd(c, pf, MLU270_REG_VF_EVENT), ==, 0);

    /* A VF that never acknowledges is reset at the deadline. */
    wr(c, v1, MLU270_REG_SCRATCH, 0x78);
    pf_send(c, 1, 0x81);
    wr(c, pf, reset, deferred);
    qtest_clock_step(c->qts, MLU270_VF_RESET_ACK_TIMEOUT_NS - 1000);
    g_assert_cmphex(rd(c, v1, MLU270_REG_SCRATCH), ==, 0x78);
    qtest_clock_step(c->qts, 2000);
    g_assert_cmphex(rd(c, pf, MLU270_REG_VF_EVENT), ==, 2);
    g_assert_cmphex(rd(c, v1, MLU270_REG_SCRATCH), ==, 0);
    g_assert_cmphex(rd(c, pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_STATUS), ==,
                    0);
    wr(c, pf, MLU270_REG_VF_EVENT, 2);

    /* Nothing pending: at once. Other VFs untouched throughout. */
    wr(c, v1, MLU270_REG_SCRATCH, 0x79);
    wr(c, pf, reset, deferred);
    g_assert_cmphex(rd(c, pf, MLU270_REG_VF_EVENT), ==, 2);
    g_assert_cmphex(rd(c, v1, MLU270_REG_SCRATCH), ==, 0);
    g_assert_cmphex(rd(c, &c->vf[0], MLU270_REG_MAGIC), ==,
                    MLU270_RESET_MAGIC);
    ctx_free(c);
}

static void test_misuse(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *vf;

    part_quarters(c);
    vfs_enable(c, 2);
    vf = &c->vf[0];
    /* Read-only, PF-only and unused offsets: ignored and counted. */
    wr(c, vf, MLU270_REG_MAGIC, 0);
    wr(c, vf, MLU270_REG_SLICE_IPU, 0xffff);
    wr(c, vf, MLU270_REG_DEV_CTRL, MLU270_DEV_CTRL_RESET);
    wr(c, vf, MLU270_PART_BASE(1) + MLU270_PART_IPU_MASK, 0xffff);
    wr(c, vf, MLU270_PFVF_BASE(1) + MLU270_PFVF_VF_RESET, 1);
    wr(c, vf, 0x3ffc, 1);
    wr(c, vf, MLU270_REG_Q_TAIL, 3);  /* queue not enabled */
    g_assert_cmpuint(rd(c, vf, MLU270_REG_MISUSE_COUNT), ==, 7);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_MISUSE),
                     ==, 7);
    g_assert_cmpuint(rd(c, &c->vf[1], MLU270_REG_MISUSE_COUNT), ==, 0);
    g_assert_cmphex(rd(c, vf, MLU270_REG_MAGIC), ==, MLU270_RESET_MAGIC);
    g_assert_cmphex(rd(c, vf, MLU270_REG_SLICE_IPU), ==, 0xf);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PART_BASE(1)), ==, 0xf);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_VF_EVENT), ==, 0);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_NUM_VFS), ==, 2);
    /* Narrow accesses are rejected without side effects. */
    qtest_writeb(c->qts, vf->bar0 + MLU270_REG_SCRATCH, 0x55);
    g_assert_cmphex(rd(c, vf, MLU270_REG_SCRATCH), ==, 0);
    /* A PF doorbell to a disabled VF is misuse. */
    wr(c, &c->pf, MLU270_PFVF_BASE(3) + MLU270_PFVF_DOORBELL, 1);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_MISUSE_COUNT), ==, 1);
    ctx_free(c);
}

static void test_ops(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf;
    enum { N = 4096, M = 7, NN = 9, K = 13 };
    g_autofree uint8_t *src = g_malloc(N);
    g_autofree uint8_t *out = g_malloc(N);
    g_autofree uint8_t *ref = g_malloc(N);
    int8_t a[M * K], b[K * NN];
    uint8_t cbuf[M * NN * 4];
    Cpl cpl;
    uint8_t prev;

    q_setup(c, pf);
    fill_pattern(src, N, 1);
    upload(c, pf, 0x1000, src, N);
    download(c, pf, 0x1000, out, N);
    g_assert_cmpmem(out, N, src, N);

    /* NOP */
    cpl = run(c, pf, (Job){ .opcode = MLU270_OP_NOP });
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    g_assert_cmpuint(cpl.duration, ==, 64);

    /* memcpy, with the whole card: 1 byte per ns. */
    cpl = run(c, pf, (Job){ .opcode = MLU270_OP_IPU_MEMCPY, .src = 0x1000,
                            .dst = 0x9000, .len = N });
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    g_assert_cmpuint(cpl.duration, ==, N);
    download(c, pf, 0x9000, out, N);
    g_assert_cmpmem(out, N, src, N);

    /* fill */
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .dst = 0x9010, .len = 100, .arg0 = 0x1a5 }), ==, 0);
    download(c, pf, 0x9000, out, N);
    memcpy(ref, src, N);
    memset(ref + 0x10, 0xa5, 100);
    g_assert_cmpmem(out, N, ref, N);

    /* CRC32, checked against a bitwise reference and a known vector. */
    cpl = run(c, pf, (Job){ .opcode = MLU270_OP_IPU_CRC32, .src = 0x1000,
                            .len = N });
    g_assert_cmpuint(cpl.status, ==, 0);
    g_assert_cmphex(cpl.result, ==, ref_crc32(src, N));
    upload(c, pf, 0x20000, "123456789", 9);
    cpl = run(c, pf, (Job){ .opcode = MLU270_OP_IPU_CRC32, .src = 0x20000,
                            .len = 9 });
    g_assert_cmphex(cpl.result, ==, 0xcbf43926);

    /* int8 matmul */
    fill_pattern((uint8_t *)a, sizeof(a), 2);
    fill_pattern((uint8_t *)b, sizeof(b), 3);
    upload(c, pf, 0x30000, a, sizeof(a));
    upload(c, pf, 0x31000, b, sizeof(b));
    cpl = run(c, pf, (Job){ .opcode = MLU270_OP_IPU_MATMUL_I8,
                            .src = 0x30000, .aux = 0x31000, .dst = 0x32000,
                            .arg0 = M, .arg1 = NN, .arg2 = K });
    g_assert_cmpuint(cpl.status, ==, 0);
    g_assert_cmpuint(cpl.duration, ==, M * NN * K);
    download(c, pf, 0x32000, cbuf, sizeof(cbuf));
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < NN; j++) {
            int32_t acc = 0;
            for (int k = 0; k < K; k++) {
                acc += a[i * K + k] * b[k * NN + j];
            }
            g_assert_cmpint((int32_t)ldl_le_p(cbuf + (i * NN + j) * 4), ==,
                            acc);
        }
    }

    /* VPU delta encode / decode */
    cpl = run(c, pf, (Job){ .opcode = MLU270_OP_VPU_DELTA_ENC, .src = 0x1000,
                            .dst = 0x40000, .len = N, .arg0 = 0x33 });
    g_assert_cmpuint(cpl.status, ==, 0);
    g_assert_cmpuint(cpl.duration, ==, N);
    download(c, pf, 0x40000, out, N);
    prev = 0x33;
    for (int i = 0; i < N; i++) {
        ref[i] = src[i] - prev;
        prev = src[i];
    }
    g_assert_cmpmem(out, N, ref, N);
    g_assert_cmpuint(run_status(c, pf, (Job){
                     .opcode = MLU270_OP_VPU_DELTA_DEC, .src = 0x40000,
                     .dst = 0x40000, .len = N, .arg0 = 0x33 }), ==, 0);
    download(c, pf, 0x40000, out, N);
    g_assert_cmpmem(out, N, src, N);

    /* JPU zig-zag / inverse */
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_JPU_ZIGZAG,
                     .src = 0x1000, .dst = 0x50000, .len = N }), ==, 0);
    download(c, pf, 0x50000, out, N);
    for (int blk = 0; blk < N; blk += 64) {
        for (int k = 0; k < 64; k++) {
            ref[blk + k] = src[blk + zz[k]];
        }
    }
    g_assert_cmpmem(out, N, ref, N);
    g_assert_cmpuint(run_status(c, pf, (Job){
                     .opcode = MLU270_OP_JPU_UNZIGZAG, .src = 0x50000,
                     .dst = 0x60000, .len = N }), ==, 0);
    download(c, pf, 0x60000, out, N);
    g_assert_cmpmem(out, N, src, N);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_FAULT_COUNT), ==, 0);
    ctx_free(c);
}

static void test_job_errors(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf;
    uint64_t end = (uint64_t)MEM_MB * MLU270_MIB;
    uint32_t slot;
    Cpl cpl;

    /* Bad queue configuration stops the queue with BAD_QUEUE. */
    wr(c, pf, MLU270_REG_Q_SIZE, 3);
    wr(c, pf, MLU270_REG_Q_CTRL, MLU270_Q_CTRL_ENABLE);
    g_assert_cmphex(rd(c, pf, MLU270_REG_Q_STATUS), ==,
                    MLU270_Q_STATUS_STOPPED);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_Q_ERROR), ==, MLU270_ST_BAD_QUEUE);
    g_assert_true(rd(c, pf, MLU270_REG_INT_STATUS) & MLU270_INT_Q_ERROR);

    q_setup(c, pf);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_Q_ERROR), ==, 0);
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = 0x7f }), ==,
                     MLU270_ST_BAD_OPCODE);
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .len = 0 }), ==, MLU270_ST_BAD_LEN);
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .len = MLU270_MAX_JOB_LEN + 1 }), ==, MLU270_ST_BAD_LEN);
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_JPU_ZIGZAG,
                     .len = 65 }), ==, MLU270_ST_BAD_LEN);
    g_assert_cmpuint(run_status(c, pf, (Job){
                     .opcode = MLU270_OP_IPU_MATMUL_I8, .arg0 = 257,
                     .arg1 = 1, .arg2 = 1 }), ==, MLU270_ST_BAD_ARGS);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_FAULT_COUNT), ==, 0);

    /* Out of the window, including 64-bit wrap-around: a fault. */
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .dst = end - 4, .len = 8 }), ==,
                     MLU270_ST_OUT_OF_SLICE);
    g_assert_cmphex(rd(c, pf, MLU270_REG_FAULT_ADDR_LO), ==,
                    (uint32_t)(end - 4));
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_IPU_MEMCPY,
                     .src = UINT64_MAX - 1, .dst = 0, .len = 16 }), ==,
                     MLU270_ST_OUT_OF_SLICE);
    g_assert_cmphex(rd(c, pf, MLU270_REG_FAULT_ADDR_HI), ==, 0xffffffff);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_FAULT_COUNT), ==, 2);
    g_assert_cmphex(rd(c, pf, MLU270_REG_FAULT_STATUS), ==, 1);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_FAULT_CODE), ==,
                     MLU270_ST_OUT_OF_SLICE);
    wr(c, pf, MLU270_REG_FAULT_STATUS, 1);
    g_assert_cmphex(rd(c, pf, MLU270_REG_FAULT_STATUS), ==, 0);

    /* DMA from an unbacked host address fails and faults. */
    g_assert_cmpuint(run_status(c, pf, (Job){ .opcode = MLU270_OP_DMA_H2D,
                     .src = 0xfff0000000000ULL, .dst = 0, .len = 64 }), ==,
                     MLU270_ST_DMA_ERROR);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_FAULT_CODE), ==,
                     MLU270_ST_DMA_ERROR);

    /* Tail out of range, queue registers while enabled: misuse. */
    wr(c, pf, MLU270_REG_Q_TAIL, Q_ENTRIES);
    wr(c, pf, MLU270_REG_Q_SIZE, 4);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_MISUSE_COUNT), ==, 2);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_Q_SIZE), ==, Q_ENTRIES);

    /* Disabling the queue aborts the job in flight: no effect. */
    slot = submit(c, pf, &(Job){ .opcode = MLU270_OP_IPU_FILL, .dst = 0,
                                 .len = 4096, .arg0 = 0xee, .tag = 77 });
    g_assert_true(rd(c, pf, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY);
    wr(c, pf, MLU270_REG_Q_CTRL, 0);
    cpl = cpl_read(c, pf, slot);
    g_assert_cmpuint(cpl.tag, ==, 77);
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_ABORTED);
    qtest_clock_step(c->qts, 100000);
    q_setup(c, pf);
    cpl = run(c, pf, (Job){ .opcode = MLU270_OP_IPU_CRC32, .src = 0,
                            .len = 4096 });
    {
        uint8_t zero[4096] = { 0 };
        g_assert_cmphex(cpl.result, ==, ref_crc32(zero, sizeof(zero)));
    }

    /* A ring in unbacked memory stops the queue and faults. */
    wr(c, pf, MLU270_REG_Q_CTRL, 0);
    wr(c, pf, MLU270_REG_Q_BASE_HI, 0xfff00);
    wr(c, pf, MLU270_REG_Q_CTRL, MLU270_Q_CTRL_ENABLE);
    wr(c, pf, MLU270_REG_Q_TAIL, 1);
    g_assert_cmphex(rd(c, pf, MLU270_REG_Q_STATUS), ==,
                    MLU270_Q_STATUS_ENABLED | MLU270_Q_STATUS_STOPPED);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_Q_ERROR), ==, MLU270_ST_DMA_ERROR);
    ctx_free(c);
}

static void test_isolation(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v0 = &c->vf[0], *v1 = &c->vf[1];
    uint64_t win = (uint64_t)MEM_MB / 4 * MLU270_MIB;
    uint8_t pat[256], out[256], zero[256] = { 0 };
    Cpl cpl;

    part_quarters(c);
    vfs_enable(c, 2);
    msix_setup(c, &c->pf);
    wr(c, &c->pf, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    q_setup(c, v0);
    q_setup(c, v1);

    /* VF0 writes a secret at the end of its window. */
    fill_pattern(pat, sizeof(pat), 9);
    upload(c, v0, win - sizeof(pat), pat, sizeof(pat));

    /* VF1 cannot reach below or beyond its own window. */
    cpl = run(c, v1, (Job){ .opcode = MLU270_OP_IPU_MEMCPY, .src = win,
                            .dst = 0, .len = 16 });
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OUT_OF_SLICE);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_FAULT_STATUS), ==, 1u << 2);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_FAULT_FUNC), ==, 2);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_FAULT_ADDR_LO), ==, win);
    g_assert_true(rd(c, &c->pf, MLU270_REG_INT_STATUS) & MLU270_INT_FAULT);
    g_assert_true(msix_pending(c, &c->pf, MLU270_VEC_PF_EVENT));
    g_assert_cmpuint(run_status(c, v1, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = UINT64_C(0) - sizeof(pat), .dst = 0,
                     .len = sizeof(pat) }), ==, MLU270_ST_OUT_OF_SLICE);
    g_assert_cmpuint(run_status(c, v1, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .dst = win - 1, .len = 2 }), ==, MLU270_ST_OUT_OF_SLICE);

    /* VF1's own window is zero; VF0's data is intact. */
    download(c, v1, 0, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), zero, sizeof(zero));
    download(c, v1, win - sizeof(out), out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), zero, sizeof(zero));
    download(c, v0, win - sizeof(pat), out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), pat, sizeof(pat));

    /* A quarter slice is exactly 4 times slower than the whole card. */
    cpl = run(c, v1, (Job){ .opcode = MLU270_OP_IPU_FILL, .dst = 0,
                            .len = 4096 });
    g_assert_cmpuint(cpl.duration, ==, 4 * 4096);
    cpl = run(c, v1, (Job){ .opcode = MLU270_OP_VPU_DELTA_ENC, .src = 0,
                            .dst = 4096, .len = 4096 });
    g_assert_cmpuint(cpl.duration, ==, 4 * 4096);

    /* A VF without a JPU in its slice gets NO_ENGINE. */
    vfs_disable(c);
    part_set(c, 1, 0xf, 0x1, 0x0, 0, 64);
    vfs_enable(c, 1);
    q_setup(c, v0);
    g_assert_cmpuint(run_status(c, v0, (Job){ .opcode = MLU270_OP_JPU_ZIGZAG,
                     .len = 64 }), ==, MLU270_ST_NO_ENGINE);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_FAULT_CODE), ==,
                     MLU270_ST_NO_ENGINE);
    /* And the PF has no slice while VFs exist. */
    q_setup(c, &c->pf);
    g_assert_cmpuint(run_status(c, &c->pf, (Job){
                     .opcode = MLU270_OP_IPU_FILL, .len = 1 }), ==,
                     MLU270_ST_NO_ENGINE);
    ctx_free(c);
}

/* Advance virtual time until @f's queue stopped on an error. */
static void wait_stopped(Ctx *c, Fn *f)
{
    for (int i = 0; i < 100000; i++) {
        if (rd(c, f, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_STOPPED) {
            return;
        }
        qtest_clock_step_next(c->qts);
    }
    g_assert_not_reached();
}

/*
 * The card's bus-master accesses aimed at its own BARs or MSI-X tables, of
 * any function, end in a DMA error and change nothing. The first case used
 * to crash QEMU (SIGFPE): a job wrote 0 to its own Q_CTRL, and its
 * completion record, aimed at the ring registers, then wrote Q_SIZE = 0.
 */
static void test_self_dma(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf, *v0 = &c->vf[0], *v1 = &c->vf[1];
    uint64_t ring = guest_alloc(c->alloc, Q_ENTRIES * MLU270_DESC_SIZE);
    uint8_t d[MLU270_DESC_SIZE] = { 0 };
    uint32_t entry0 = 0;
    Cpl cpl;

    /* PF: a D2H job into its own Q_CTRL, completions into its ring regs. */
    msix_setup(c, pf);
    wr(c, pf, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    wr(c, pf, MLU270_REG_Q_BASE_LO, ring);
    wr(c, pf, MLU270_REG_Q_BASE_HI, ring >> 32);
    wr(c, pf, MLU270_REG_CQ_BASE_LO, pf->bar0 + MLU270_REG_Q_BASE_LO);
    wr(c, pf, MLU270_REG_CQ_BASE_HI, (pf->bar0 + MLU270_REG_Q_BASE_LO) >> 32);
    wr(c, pf, MLU270_REG_Q_SIZE, Q_ENTRIES);
    wr(c, pf, MLU270_REG_Q_CTRL, MLU270_Q_CTRL_ENABLE);
    stl_le_p(d + MLU270_DESC_OPCODE, MLU270_OP_DMA_D2H);
    stq_le_p(d + MLU270_DESC_SRC, 0);
    stq_le_p(d + MLU270_DESC_DST, pf->bar0 + MLU270_REG_Q_CTRL);
    stl_le_p(d + MLU270_DESC_LEN, 4);
    qtest_memwrite(c->qts, ring, d, sizeof(d));
    wr(c, pf, MLU270_REG_Q_TAIL, 1);
    wait_stopped(c, pf);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_Q_ERROR), ==, MLU270_ST_DMA_ERROR);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_Q_SIZE), ==, Q_ENTRIES);
    g_assert_true(rd(c, pf, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_ENABLED);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_FAULT_CODE), ==,
                     MLU270_ST_DMA_ERROR);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_FAULT_FUNC), ==, 0);
    wr(c, pf, MLU270_REG_Q_CTRL, 0);

    /* VF 0 into VF 1's Q_CTRL, into its own MSI-X table: errors only. */
    part_quarters(c);
    vfs_enable(c, 2);
    q_setup(c, v0);
    q_setup(c, v1);
    cpl = run(c, v0, (Job){ .opcode = MLU270_OP_DMA_D2H, .src = 0,
                            .dst = v1->bar0 + MLU270_REG_Q_CTRL, .len = 4 });
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_DMA_ERROR);
    g_assert_cmphex(rd(c, v1, MLU270_REG_Q_STATUS), ==,
                    MLU270_Q_STATUS_ENABLED);
    cpl = run(c, v0, (Job){ .opcode = MLU270_OP_DMA_D2H, .src = 0,
                            .dst = v0->bar2, .len = 4 });
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_DMA_ERROR);
    cpl = run(c, v0, (Job){ .opcode = MLU270_OP_DMA_H2D,
                            .src = pf->bar0 + MLU270_REG_SCRATCH, .dst = 0,
                            .len = 4 });
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_DMA_ERROR);

    /* An MSI-X message aimed at the function's own Q_CTRL is dropped. */
    msix_setup(c, v0);
    qtest_writel(c->qts, v0->bar2 + PCI_MSIX_ENTRY_LOWER_ADDR,
                 v0->bar0 + MLU270_REG_Q_CTRL);
    qtest_writel(c->qts, v0->bar2 + PCI_MSIX_ENTRY_UPPER_ADDR,
                 (v0->bar0 + MLU270_REG_Q_CTRL) >> 32);
    qtest_writel(c->qts, v0->bar2 + PCI_MSIX_ENTRY_DATA, entry0);
    qtest_writel(c->qts, v0->bar2 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    wr(c, v0, MLU270_REG_INT_ENABLE, MLU270_INT_JOB_DONE);
    g_assert_cmpuint(run_status(c, v0, (Job){ .opcode = MLU270_OP_NOP }), ==,
                     MLU270_ST_OK);
    g_assert_cmphex(rd(c, v0, MLU270_REG_Q_STATUS), ==,
                    MLU270_Q_STATUS_ENABLED);
    g_assert_cmpuint(run_status(c, v0, (Job){ .opcode = MLU270_OP_NOP }), ==,
                     MLU270_ST_OK);
    guest_free(c->alloc, ring);
    ctx_free(c);
}

/*
 * A VF's memory is zero before anybody else can read it, also when the
 * VFs are disabled (the VFs' reset runs after VF Enable is clear).
 */
static void test_disable_scrubs(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v0 = &c->vf[0];
    uint8_t pat[256], out[256], zero[256] = { 0 };

    part_quarters(c);
    vfs_enable(c, 2);
    q_setup(c, v0);
    fill_pattern(pat, sizeof(pat), 5);
    upload(c, v0, 0x1000, pat, sizeof(pat));
    download(c, v0, 0x1000, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), pat, sizeof(pat));
    vfs_disable(c);

    /* The PF's native slice covers VF 0's old window. */
    q_setup(c, &c->pf);
    download(c, &c->pf, 0x1000, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), zero, sizeof(zero));
    ctx_free(c);
}

static uint32_t pfvf_rd(Ctx *c, int vf, uint32_t off)
{
    return rd(c, &c->pf, MLU270_PFVF_BASE(vf) + off);
}

/*
 * Each function's faults are counted and recorded in its own window, so
 * that the PF never charges or reports one VF's fault to another; a VF
 * reset keeps the count (the PF's accounting spans resets), VF Enable
 * starts it over.
 */
static void test_fault_records(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v0 = &c->vf[0], *v1 = &c->vf[1];
    uint64_t win = (uint64_t)MEM_MB / 4 * MLU270_MIB;

    part_quarters(c);
    vfs_enable(c, 2);
    q_setup(c, v0);
    q_setup(c, v1);
    g_assert_cmpuint(run_status(c, v0, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .dst = win + 0x40, .len = 4 }), ==,
                     MLU270_ST_OUT_OF_SLICE);
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(run_status(c, v1, (Job){
                         .opcode = MLU270_OP_IPU_FILL, .dst = win + 0x80,
                         .len = 4 }), ==, MLU270_ST_OUT_OF_SLICE);
    }
    g_assert_cmpuint(run_status(c, v1, (Job){ .opcode = MLU270_OP_JPU_ZIGZAG,
                     .src = 0, .dst = 64, .len = 64 }), ==, MLU270_ST_OK);

    g_assert_cmpuint(pfvf_rd(c, 0, MLU270_PFVF_FAULT_COUNT), ==, 1);
    g_assert_cmpuint(pfvf_rd(c, 0, MLU270_PFVF_FAULT_CODE), ==,
                     MLU270_ST_OUT_OF_SLICE);
    g_assert_cmphex(pfvf_rd(c, 0, MLU270_PFVF_FAULT_ADDR_LO), ==, win + 0x40);
    g_assert_cmphex(pfvf_rd(c, 0, MLU270_PFVF_FAULT_ADDR_HI), ==, 0);
    g_assert_cmpuint(pfvf_rd(c, 1, MLU270_PFVF_FAULT_COUNT), ==, 3);
    g_assert_cmphex(pfvf_rd(c, 1, MLU270_PFVF_FAULT_ADDR_LO), ==, win + 0x80);
    /* The global registers describe the card's last fault (VF 1's). */
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_FAULT_COUNT), ==, 4);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_FAULT_FUNC), ==, 2);

    /* A DMA error records the host address. */
    g_assert_cmpuint(run_status(c, v0, (Job){ .opcode = MLU270_OP_DMA_H2D,
                     .src = UINT64_C(0x10000000000), .dst = 0, .len = 64 }),
                     ==, MLU270_ST_DMA_ERROR);
    g_assert_cmpuint(pfvf_rd(c, 0, MLU270_PFVF_FAULT_COUNT), ==, 2);
    g_assert_cmpuint(pfvf_rd(c, 0, MLU270_PFVF_FAULT_CODE), ==,
                     MLU270_ST_DMA_ERROR);
    g_assert_cmphex(pfvf_rd(c, 0, MLU270_PFVF_FAULT_ADDR_HI), ==, 0x100);

    /* Read-only; survives the VF's reset; VF Enable clears it. */
    wr(c, &c->pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_FAULT_COUNT, 0);
    g_assert_cmpuint(pfvf_rd(c, 1, MLU270_PFVF_FAULT_COUNT), ==, 3);
    wr(c, &c->pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_VF_RESET, 1);
    g_assert_cmpuint(pfvf_rd(c, 1, MLU270_PFVF_FAULT_COUNT), ==, 3);
    vfs_disable(c);
    vfs_enable(c, 2);
    g_assert_cmpuint(pfvf_rd(c, 0, MLU270_PFVF_FAULT_COUNT), ==, 0);
    g_assert_cmpuint(pfvf_rd(c, 1, MLU270_PFVF_FAULT_COUNT), ==, 0);
    g_assert_cmphex(pfvf_rd(c, 1, MLU270_PFVF_FAULT_ADDR_LO), ==, 0);
    ctx_free(c);
}

static uint32_t scrubs(Ctx *c, int entry)
{
    return rd(c, &c->pf, MLU270_PART_BASE(entry) + MLU270_PART_SCRUBS);
}

/*
 * Memory that leaves an owner is zero before the next one can read it, and
 * the card says so in PART_SCRUBS: the PF's native data when VFs appear,
 * a VF's data when it is reset or disabled.
 */
static void test_scrub_counts(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf, *v0 = &c->vf[0];
    uint8_t pat[256], out[256], zero[256] = { 0 };
    uint32_t pf0, vf0;

    q_setup(c, pf);
    fill_pattern(pat, sizeof(pat), 21);
    upload(c, pf, 0x2000, pat, sizeof(pat));
    pf0 = scrubs(c, 0);
    vf0 = scrubs(c, 1);

    part_quarters(c);
    vfs_enable(c, 2);
    g_assert_cmpuint(scrubs(c, 0), ==, pf0 + 1);
    q_setup(c, v0);
    download(c, v0, 0x2000, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), zero, sizeof(zero));

    vf0 = scrubs(c, 1);
    upload(c, v0, 0x3000, pat, sizeof(pat));
    wr(c, pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_VF_RESET, 1);
    g_assert_cmpuint(scrubs(c, 1), ==, vf0 + 1);
    q_setup(c, v0);
    upload(c, v0, 0x3000, pat, sizeof(pat));
    vfs_disable(c);
    g_assert_cmpuint(scrubs(c, 1), ==, vf0 + 2);
    g_assert_cmpuint(scrubs(c, 2), >=, 1);
    /* Read-only. */
    wr(c, pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS, 0);
    g_assert_cmpuint(scrubs(c, 1), ==, vf0 + 2);
    wr(c, pf, MLU270_REG_Q_CTRL, 0);
    q_setup(c, pf);
    download(c, pf, 0x3000, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), zero, sizeof(zero));
    ctx_free(c);
}

/*
 * The work a reset does is bounded by what the function wrote, not by the
 * size of its window: a guest that resets its VF in a loop must not stall
 * the emulator (every reset used to scan the whole window under the BQL).
 */
static void test_reset_cost(void)
{
    Ctx *c = ctx_new(",mem-size=2G");
    int exp;
    gint64 start;

    part_set(c, 1, 0xffff, 0xf, 0xf, 0, 2048);
    vfs_enable(c, 1);
    exp = find_cap(c, c->vf[0].devfn, PCI_CAP_ID_EXP);
    start = g_get_monotonic_time();
    for (int i = 0; i < 1000; i++) {
        cfg_writew(c, c->vf[0].devfn, exp + PCI_EXP_DEVCTL,
                   PCI_EXP_DEVCTL_BCR_FLR);
    }
    /*
     * 1000 scans of 2 GiB take at least 20 s even where no page was ever
     * touched; 1000 bounded resets take well under a second.
     */
    if (g_test_verbose()) {
        g_test_message("1000 FLRs: %" PRId64 " us",
                       g_get_monotonic_time() - start);
    }
    g_assert_cmpint(g_get_monotonic_time() - start, <, 5 * G_USEC_PER_SEC);
    ctx_free(c);
}

static void test_flr(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v0 = &c->vf[0], *v1 = &c->vf[1];
    uint32_t len = 1 * MLU270_MIB, s0, s1;
    uint8_t pat[64], out[64], zero[64] = { 0 };
    int exp;
    Cpl cpl;

    part_quarters(c);
    vfs_enable(c, 2);
    msix_setup(c, &c->pf);
    wr(c, &c->pf, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    q_setup(c, v0);
    q_setup(c, v1);
    fill_pattern(pat, sizeof(pat), 5);
    upload(c, v0, 0, pat, sizeof(pat));
    upload(c, v1, 0, pat, sizeof(pat));

    /* Both VFs start a long job (4 ms of virtual time on a 1/4 slice). */
    s0 = submit(c, v0, &(Job){ .opcode = MLU270_OP_IPU_FILL, .dst = 4096,
                               .len = len, .arg0 = 0x11, .tag = 100 });
    s1 = submit(c, v1, &(Job){ .opcode = MLU270_OP_IPU_FILL, .dst = 4096,
                               .len = len, .arg0 = 0x22, .tag = 200 });
    qtest_clock_step(c->qts, len);  /* a quarter of the way */
    g_assert_true(rd(c, v0, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY);
    g_assert_true(rd(c, v1, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY);

    /* FLR VF0. */
    exp = find_cap(c, v0->devfn, PCI_CAP_ID_EXP);
    cfg_writew(c, v0->devfn, exp + PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_VF_EVENT), ==, 1);
    g_assert_true(rd(c, &c->pf, MLU270_REG_INT_STATUS) & MLU270_INT_VF_EVENT);
    g_assert_true(msix_pending(c, &c->pf, MLU270_VEC_PF_EVENT));
    g_assert_cmpuint(rd(c, &c->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_ABORTED),
                     ==, 1);
    /* FLR cleared the command register: re-enable to look at VF0. */
    cfg_writew(c, v0->devfn, PCI_COMMAND,
               PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    g_assert_cmphex(rd(c, v0, MLU270_REG_Q_STATUS), ==, 0);
    g_assert_cmphex(rd(c, v0, MLU270_REG_Q_BASE_LO), ==, 0);
    g_assert_cmphex(rd(c, v1, MLU270_REG_Q_STATUS), ==,
                    MLU270_Q_STATUS_ENABLED | MLU270_Q_STATUS_BUSY);

    /* VF1's job completes normally, on time; VF0 wrote no record. */
    wait_done(c, v1, 2);
    cpl = cpl_read(c, v1, s1);
    g_assert_cmpuint(cpl.tag, ==, 200);
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    g_assert_cmpuint(cpl.duration, ==, 4ull * len);
    cpl = cpl_read(c, v0, s0);
    g_assert_cmpuint(cpl.tag, ==, 0);
    download(c, v1, 0, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), pat, sizeof(pat));
    memset(out, 0x22, sizeof(out));
    cpl = run(c, v1, (Job){ .opcode = MLU270_OP_IPU_CRC32, .src = 4096,
                            .len = sizeof(out) });
    g_assert_cmphex(cpl.result, ==, ref_crc32(out, sizeof(out)));

    /* VF0's window was scrubbed; VF0 works again after setup. */
    q_setup(c, v0);
    download(c, v0, 0, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), zero, sizeof(zero));

    /* The PF resets VF1 on its behalf: VF0 is untouched. */
    wr(c, &c->pf, MLU270_REG_VF_EVENT, 1);
    s0 = submit(c, v0, &(Job){ .opcode = MLU270_OP_NOP, .tag = 300 });
    wr(c, &c->pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_VF_RESET, 1);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_VF_EVENT), ==, 2);
    g_assert_cmphex(rd(c, v1, MLU270_REG_Q_STATUS), ==, 0);
    wait_done(c, v0, 2);
    g_assert_cmpuint(cpl_read(c, v0, s0).status, ==, MLU270_ST_OK);

    /* PF reset: everything back to reset values. */
    wr(c, &c->pf, MLU270_REG_DEV_CTRL, MLU270_DEV_CTRL_RESET);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_VF_EVENT), ==, 0);
    g_assert_cmphex(rd(c, v0, MLU270_REG_Q_STATUS), ==, 0);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PART_BASE(1)), ==, 0);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PART_BASE(0)), ==, 0xffff);
    ctx_free(c);
}

/* The device instantiates in the topologies the drivers will meet. */
static void test_topologies(void)
{
    static const char *const cfgs[] = {
        "-device mlu270,addr=0x5.0,multifunction=on",
        "-device mlu270,addr=0x5.0 -device mlu270,addr=0x6.0,mem-size=32M",
        "-device pcie-root-port,id=rp0,chassis=1,addr=0x7.0 "
        "-device mlu270,bus=rp0",
    };

    for (int i = 0; i < ARRAY_SIZE(cfgs); i++) {
        QTestState *qts = qtest_initf("-machine q35 -nodefaults %s %s",
                                      g_getenv("MLU270_QEMU_EXTRA_ARGS") ?: "",
                                      cfgs[i]);
        QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-pci' }");

        g_assert_true(qdict_haskey(resp, "return"));
        qobject_unref(resp);
        if (i < 2) {
            /* Function 0 of slot 5 answers with the PF's IDs. */
            qtest_outl(qts, 0xcf8, 0x80000000 | (PF_DEVFN << 8));
            g_assert_cmphex(qtest_inl(qts, 0xcfc), ==,
                            MLU270_PF_DEVICE_ID << 16 | MLU270_VENDOR_ID);
        }
        qtest_quit(qts);
    }
}

/* Issue migration command @cmd for VF @vf; returns MIG_RESULT. */
static uint32_t mig_cmd(Ctx *c, int vf, uint32_t cmd)
{
    uint32_t base = MLU270_MIG_BASE(vf);
    uint32_t done = rd(c, &c->pf, base + MLU270_MIG_DONE);

    wr(c, &c->pf, base + MLU270_MIG_CMD, cmd);
    g_assert_cmpuint(rd(c, &c->pf, base + MLU270_MIG_DONE), ==, done + 1);
    return rd(c, &c->pf, base + MLU270_MIG_RESULT);
}

/*
 * A paused VF: no descriptor fetch, no job completion, no DMA, no MSI-X
 * message of its own, no mailbox message reaching the PF; its MMIO works
 * and everything the guest did is carried out at RESUME, with the job in
 * flight finishing after exactly the time it had left. Other VFs run on.
 */
static void test_pause(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf, *v1 = &c->vf[1], *v2 = &c->vf[2];
    uint32_t mig = MLU270_MIG_BASE(1);
    Job fill = { .opcode = MLU270_OP_IPU_FILL, .len = 1 << 20,
                 .arg0 = 0x5a };
    Job nop = { .opcode = MLU270_OP_NOP };
    uint64_t cost = (1ull << 20) * 16 / 4;   /* a quarter slice */
    Cpl cpl;

    part_quarters(c);
    vfs_enable(c, 4);
    msix_setup(c, pf);
    wr(c, pf, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    for (int i = 1; i <= 2; i++) {
        msix_setup(c, &c->vf[i]);
        wr(c, &c->vf[i], MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
        q_setup(c, &c->vf[i]);
    }
    g_assert_cmphex(rd(c, pf, mig + MLU270_MIG_STATUS), ==, 0);

    /* A 1 MiB fill in flight, a quarter of its time gone, then PAUSE. */
    fill.tag = 0x11;
    submit(c, v1, &fill);
    qtest_clock_step(c->qts, cost / 4);
    g_assert_cmpuint(mig_cmd(c, 1, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmphex(rd(c, pf, mig + MLU270_MIG_STATUS), ==,
                    MLU270_MIG_STATUS_PAUSED);
    /* PAUSE of a paused VF changes nothing. */
    g_assert_cmpuint(mig_cmd(c, 1, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);

    /* The guest goes on: another job, a mailbox message. */
    nop.tag = 0x12;
    submit(c, v1, &nop);
    wr(c, v1, MLU270_REG_MB_OUT, 0xc0ffee);
    wr(c, v1, MLU270_REG_MB_DOORBELL, 1);
    g_assert_cmphex(rd(c, v1, MLU270_REG_MB_STATUS), ==,
                    MLU270_MB_STATUS_OUT_BUSY);
    g_assert_cmphex(rd(c, pf, MLU270_REG_MB_PENDING), ==, 0);
    g_assert_cmphex(rd(c, pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_STATUS), ==,
                    0);
    g_assert_false(msix_pending(c, pf, MLU270_VEC_MBOX));
    /* The PF's ACK of a held message is misuse and changes nothing. */
    wr(c, pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_ACK, 1);
    g_assert_cmpuint(rd(c, pf, MLU270_REG_MISUSE_COUNT), ==, 1);
    /* A PF message to the paused VF: recorded, its interrupt held. */
    pf_send(c, 1, 0x600d);
    g_assert_true(rd(c, v1, MLU270_REG_MB_STATUS) & MLU270_MB_STATUS_IN_VALID);

    /* Ten times the job's cost: nothing completes, nothing is written. */
    qtest_clock_step(c->qts, cost * 10);
    g_assert_cmpuint(rd(c, v1, MLU270_REG_Q_DONE), ==, 0);
    g_assert_cmphex(rd(c, v1, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY, ==,
                    MLU270_Q_STATUS_BUSY);
    cpl = cpl_read(c, v1, 0);
    g_assert_cmphex(cpl.tag, ==, 0);
    g_assert_false(msix_pending(c, v1, MLU270_VEC_QUEUE));
    g_assert_false(msix_pending(c, v1, MLU270_VEC_MBOX));
    /* Another VF runs on meanwhile. */
    g_assert_cmpuint(run_status(c, v2, nop), ==, MLU270_ST_OK);

    /* RESUME: the job finishes after the 3/4 of its time it had left. */
    g_assert_cmpuint(mig_cmd(c, 1, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmphex(rd(c, pf, mig + MLU270_MIG_STATUS), ==, 0);
    g_assert_cmphex(rd(c, pf, MLU270_REG_MB_PENDING), ==, 0x2);
    g_assert_true(msix_pending(c, pf, MLU270_VEC_MBOX));
    g_assert_true(msix_pending(c, v1, MLU270_VEC_MBOX));
    qtest_clock_step(c->qts, cost * 3 / 4 - 1);
    g_assert_cmpuint(rd(c, v1, MLU270_REG_Q_DONE), ==, 0);
    qtest_clock_step(c->qts, 1);
    g_assert_cmpuint(rd(c, v1, MLU270_REG_Q_DONE), ==, 1);
    wait_done(c, v1, 2);
    cpl = cpl_read(c, v1, 0);
    g_assert_cmphex(cpl.tag, ==, 0x11);
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    g_assert_cmpuint(cpl.seq, ==, 1);
    cpl = cpl_read(c, v1, 1);
    g_assert_cmphex(cpl.tag, ==, 0x12);
    g_assert_cmpuint(cpl.seq, ==, 2);
    g_assert_true(msix_pending(c, v1, MLU270_VEC_QUEUE));
    g_assert_cmphex(rd(c, pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_VF_MSG), ==,
                    0xc0ffee);

    /* A queue disable while paused aborts the job at RESUME, once. */
    fill.tag = 0x13;
    submit(c, v1, &fill);
    g_assert_cmpuint(mig_cmd(c, 1, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    wr(c, v1, MLU270_REG_Q_CTRL, 0);
    qtest_clock_step(c->qts, cost * 10);
    cpl = cpl_read(c, v1, 2);
    g_assert_cmphex(cpl.tag, ==, 0);
    g_assert_cmpuint(mig_cmd(c, 1, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    cpl = cpl_read(c, v1, 2);
    g_assert_cmphex(cpl.tag, ==, 0x13);
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_ABORTED);
    g_assert_cmphex(rd(c, v1, MLU270_REG_Q_STATUS), ==, 0);

    /* A deferred reset armed: PAUSE is refused (EBUSY). */
    pf_send(c, 2, 0x1);
    wr(c, pf, MLU270_PFVF_BASE(2) + MLU270_PFVF_VF_RESET,
       MLU270_VF_RESET_NOW | MLU270_VF_RESET_ON_ACK);
    g_assert_cmpuint(mig_cmd(c, 2, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_EBUSY);
    g_assert_cmphex(rd(c, pf, MLU270_MIG_BASE(2) + MLU270_MIG_STATUS), ==, 0);

    /* An FLR ends a pause with the rest of the VF's state. */
    g_assert_cmpuint(mig_cmd(c, 1, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    wr(c, pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_VF_RESET, MLU270_VF_RESET_NOW);
    g_assert_cmphex(rd(c, pf, mig + MLU270_MIG_STATUS), ==, 0);

    /* Commands for a VF that is not enabled, or unknown ones: EINVAL. */
    vfs_disable(c);
    g_assert_cmpuint(mig_cmd(c, 1, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_EINVAL);
    vfs_enable(c, 2);
    g_assert_cmpuint(mig_cmd(c, 3, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_EINVAL);
    g_assert_cmpuint(mig_cmd(c, 0, 0x7f), ==, MLU270_MIG_RES_EINVAL);
    g_assert_cmphex(rd(c, pf, MLU270_MIG_BASE(0) + MLU270_MIG_STATUS), ==, 0);
    ctx_free(c);
}

static uint32_t lcg(uint32_t *st)
{
    *st = *st * 1664525 + 1013904223;
    return *st;
}

/* A random address in one of the card's own BARs or MSI-X tables. */
static uint64_t card_target(Ctx *c, uint32_t *st)
{
    Fn *f = (lcg(st) % 5) ? &c->vf[lcg(st) % 4] : &c->pf;
    bool msix = lcg(st) & 1;

    if (lcg(st) & 1) {
        /* Most dangerous: a function's ring registers (0x100..0x12f). */
        return f->bar0 + MLU270_REG_Q_BASE_LO + (lcg(st) % 0x30 & ~7u);
    }
    return (msix ? f->bar2 : f->bar0) +
           ((lcg(st) % (msix ? MLU270_MSIX_BAR_SIZE : MLU270_REG_BAR_SIZE)) &
            ~7u);
}

/*
 * A hostile guest: random register writes on every function, rings full
 * of random descriptors (whose DMA, and whose completion records, now and
 * then aim at the card's own BARs and MSI-X tables), VF resets and FLRs
 * in between. QEMU must survive and the device must still answer; the
 * PF's table must be unchanged by anything a VF did.
 */
static void test_fuzz(void)
{
    Ctx *c = ctx_new(NULL);
    uint32_t st = 0x270cabc;
    static const uint32_t pfonly_skip = MLU270_REG_DEV_CTRL;

    part_quarters(c);
    vfs_enable(c, 4);
    for (int i = 0; i < 4; i++) {
        msix_setup(c, &c->vf[i]);
    }
    msix_setup(c, &c->pf);

    for (int round = 0; round < 40; round++) {
        /* Random descriptors in each VF's ring. */
        for (int i = 0; i < 4; i++) {
            Fn *vf = &c->vf[i];
            static const uint32_t ops[] = {
                0, 1, 2, 0x10, 0x11, 0x12, 0x13, 0x20, 0x21, 0x30, 0x31, 0x99,
            };

            if (!(rd(c, vf, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_ENABLED)) {
                q_setup(c, vf);
                if (lcg(&st) % 4 == 0) {
                    /* Completion records into the card's registers. */
                    uint64_t cq = card_target(c, &st) & ~(uint64_t)
                                  (MLU270_Q_ALIGN - 1);

                    wr(c, vf, MLU270_REG_Q_CTRL, 0);
                    wr(c, vf, MLU270_REG_CQ_BASE_LO, cq);
                    wr(c, vf, MLU270_REG_CQ_BASE_HI, cq >> 32);
                    wr(c, vf, MLU270_REG_Q_CTRL, MLU270_Q_CTRL_ENABLE);
                }
            }
            for (int k = 0; k < 3; k++) {
                uint32_t r = lcg(&st);
                Job j = {
                    .opcode = ops[r % ARRAY_SIZE(ops)],
                    .src = (r & 0x100) ? lcg(&st) % (80 * MLU270_MIB) :
                           ((uint64_t)lcg(&st) << 32 | lcg(&st)),
                    .dst = lcg(&st) % (80 * MLU270_MIB),
                    .aux = lcg(&st) % (80 * MLU270_MIB),
                    .len = (r & 0x200) ? lcg(&st) % 8192 : lcg(&st),
                    .arg0 = lcg(&st) % 300, .arg1 = lcg(&st) % 300,
                    .arg2 = lcg(&st) % 300,
                };
                if (j.opcode == MLU270_OP_DMA_D2H) {
                    /* Away from the rings, or into the card itself. */
                    j.dst = (r & 0x400) ? card_target(c, &st) :
                            0xfff0000000000ULL;
                }
                if (j.opcode == MLU270_OP_DMA_H2D && (r & 0x800)) {
                    j.src = card_target(c, &st);
                }
                submit(c, vf, &j);
            }
        }
        /* Random register writes, VFs and (sometimes) the PF. */
        for (int k = 0; k < 64; k++) {
            uint32_t r = lcg(&st);
            uint32_t off = (lcg(&st) % MLU270_REG_BAR_SIZE) & ~3u;
            Fn *f = (r % 5) ? &c->vf[r % 4] : &c->pf;

            if (f == &c->pf && (off == pfonly_skip ||
                                off < MLU270_PF_ONLY_START)) {
                continue;   /* keep the PF's own queue and the device alive */
            }
            wr(c, f, off, lcg(&st));
            (void)rd(c, f, (lcg(&st) % MLU270_REG_BAR_SIZE) & ~3u);
        }
        if (round % 8 == 7) {
            int i = lcg(&st) % 4;
            int exp = find_cap(c, c->vf[i].devfn, PCI_CAP_ID_EXP);

            cfg_writew(c, c->vf[i].devfn, exp + PCI_EXP_DEVCTL,
                       PCI_EXP_DEVCTL_BCR_FLR);
            cfg_writew(c, c->vf[i].devfn, PCI_COMMAND,
                       PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
        }
        qtest_clock_step(c->qts, 1000000);
    }

    for (int i = 0; i < 4; i++) {
        g_assert_cmphex(rd(c, &c->vf[i], MLU270_REG_MAGIC), ==,
                        MLU270_RESET_MAGIC);
        g_assert_cmphex(rd(c, &c->vf[i], MLU270_REG_SLICE_IPU), ==,
                        0xf << (4 * i));
    }
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_MAGIC), ==, MLU270_RESET_MAGIC);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_NUM_VFS), ==, 4);
    ctx_free(c);
}

/*
 * Migrate a live configuration (2 VFs, a job in flight on VF0, a pending
 * VF1 -> PF message, data in VF1's window) and check it on the target.
 */
/*
 * Migrate the whole machine of @c to a new QEMU with the same layout and
 * switch @c to it; the source is left for the caller to free (@src_bus,
 * returned).
 */
static QTestState *qemu_migrate(Ctx *c, QPCIBus **src_bus)
{
    g_autofree char *uri = g_strdup_printf("unix:%s/mlu270-mig-%d.sock",
                                           g_get_tmp_dir(), getpid());
    QTestState *src = c->qts, *dst;
    const char *st;

    *src_bus = c->bus;
    dst = qtest_initf("-machine q35 -nodefaults %s "
                      "-device mlu270,addr=0x%x.0 -incoming %s",
                      g_getenv("MLU270_QEMU_EXTRA_ARGS") ?: "", PF_SLOT, uri);
    qtest_qmp_assert_success(src, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    for (int i = 0; i < 6000; i++) {
        st = migrate_status(src);
        g_assert_cmpstr(st, !=, "failed");
        if (!strcmp(st, "completed")) {
            break;
        }
        g_usleep(10000);
    }
    g_assert_cmpstr(migrate_status(src), ==, "completed");
    qtest_qmp_eventwait(dst, "RESUME");
    /* Same guest-physical layout on the target: just switch the socket. */
    c->qts = dst;
    c->bus = qpci_new_pc(dst, c->alloc);
    return src;
}

/*
 * A VF paused for its own migration while the whole card migrates (the
 * host moving): the pause, the frozen job and the held mailbox message
 * and interrupt arrive as they were, and RESUME on the target finishes
 * the job and delivers both.
 */
static void test_migration_paused(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v0 = &c->vf[0];
    uint32_t len = 256 * 1024, slot;
    QTestState *src;
    QPCIBus *src_bus;
    Cpl cpl;

    part_quarters(c);
    vfs_enable(c, 1);
    msix_setup(c, &c->pf);
    wr(c, &c->pf, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    msix_setup(c, v0);
    wr(c, v0, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    q_setup(c, v0);
    slot = submit(c, v0, &(Job){ .opcode = MLU270_OP_IPU_FILL, .dst = 0x40,
                                 .len = len, .arg0 = 0x5a, .tag = 7 });
    qtest_clock_step(c->qts, len);      /* a quarter of its 4 * len ns */
    g_assert_cmpuint(mig_cmd(c, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    wr(c, v0, MLU270_REG_MB_OUT, 0xfeed0002);
    wr(c, v0, MLU270_REG_MB_DOORBELL, 1);

    src = qemu_migrate(c, &src_bus);
    g_assert_cmphex(rd(c, &c->pf, MLU270_MIG_BASE(0) + MLU270_MIG_STATUS), ==,
                    MLU270_MIG_STATUS_PAUSED);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_MB_PENDING), ==, 0);
    qtest_clock_step(c->qts, 100 * len);
    g_assert_cmpuint(rd(c, v0, MLU270_REG_Q_DONE), ==, 0);
    g_assert_false(msix_pending(c, &c->pf, MLU270_VEC_MBOX));

    g_assert_cmpuint(mig_cmd(c, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_MB_PENDING), ==, 1);
    g_assert_true(msix_pending(c, &c->pf, MLU270_VEC_MBOX));
    qtest_clock_step(c->qts, 3ull * len - 1);
    g_assert_cmpuint(rd(c, v0, MLU270_REG_Q_DONE), ==, 0);
    qtest_clock_step(c->qts, 1);
    g_assert_cmpuint(rd(c, v0, MLU270_REG_Q_DONE), ==, 1);
    cpl = cpl_read(c, v0, slot);
    g_assert_cmpuint(cpl.tag, ==, 7);
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    g_assert_true(msix_pending(c, v0, MLU270_VEC_QUEUE));

    qpci_free_pc(src_bus);
    qtest_quit(src);
    ctx_free(c);
}

static void test_migration(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v0 = &c->vf[0], *v1 = &c->vf[1];
    QTestState *src;
    QPCIBus *src_bus;
    uint8_t pat[128], out[128];
    uint32_t len = 256 * 1024, slot;
    int cap;
    Cpl cpl;

    part_quarters(c);
    vfs_enable(c, 2);
    msix_setup(c, v0);
    wr(c, v0, MLU270_REG_INT_ENABLE, MLU270_INT_JOB_DONE);
    q_setup(c, v0);
    q_setup(c, v1);
    fill_pattern(pat, sizeof(pat), 11);
    upload(c, v1, 0x100, pat, sizeof(pat));
    wr(c, v1, MLU270_REG_MB_OUT, 0xfeed0001);
    wr(c, v1, MLU270_REG_MB_DOORBELL, 1);
    wr(c, &c->pf, MLU270_REG_SCRATCH, 0xabcd);
    slot = submit(c, v0, &(Job){ .opcode = MLU270_OP_IPU_FILL, .dst = 0x40,
                                 .len = len, .arg0 = 0x5a, .tag = 42 });
    qtest_clock_step(c->qts, len);     /* a quarter of its 4 * len ns */
    g_assert_true(rd(c, v0, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY);

    src = qemu_migrate(c, &src_bus);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_SCRATCH), ==, 0xabcd);
    g_assert_cmpuint(rd(c, &c->pf, MLU270_REG_NUM_VFS), ==, 2);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PART_BASE(2) + MLU270_PART_IPU_MASK),
                    ==, 0xf0);
    g_assert_cmphex(rd(c, v1, MLU270_REG_FUNC_INFO), ==,
                    2 | MLU270_FUNC_INFO_IS_VF);
    g_assert_cmphex(rd(c, &c->pf, MLU270_REG_MB_PENDING), ==, 2);
    g_assert_cmphex(rd(c, &c->pf, MLU270_PFVF_BASE(1) + MLU270_PFVF_VF_MSG),
                    ==, 0xfeed0001);
    g_assert_cmphex(rd(c, v1, MLU270_REG_MB_STATUS), ==,
                    MLU270_MB_STATUS_OUT_BUSY);
    cap = find_cap(c, v0->devfn, PCI_CAP_ID_MSIX);
    g_assert_true(cfg_readw(c, v0->devfn, cap + PCI_MSIX_FLAGS) &
                  PCI_MSIX_FLAGS_ENABLE);
    g_assert_true(rd(c, v0, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY);

    /* The in-flight job finishes on the target, with its effects. */
    g_assert_false(msix_pending(c, v0, MLU270_VEC_QUEUE));
    wait_done(c, v0, 1);
    cpl = cpl_read(c, v0, slot);
    g_assert_cmpuint(cpl.tag, ==, 42);
    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    g_assert_cmpuint(cpl.duration, ==, 4ull * len);
    g_assert_true(msix_pending(c, v0, MLU270_VEC_QUEUE));
    cpl = run(c, v0, (Job){ .opcode = MLU270_OP_IPU_CRC32, .src = 0x40,
                            .len = sizeof(out) });
    memset(out, 0x5a, sizeof(out));
    g_assert_cmphex(cpl.result, ==, ref_crc32(out, sizeof(out)));
    download(c, v1, 0x100, out, sizeof(out));
    g_assert_cmpmem(out, sizeof(out), pat, sizeof(pat));

    qpci_free_pc(src_bus);
    qtest_quit(src);
    ctx_free(c);
}

/*
 * A migration stream comes from elsewhere: one the device could not have
 * produced is refused (the target's migration fails, QEMU lives on), not
 * run. The case below (a job in flight on a disabled queue of size 0) used
 * to divide by zero when the job's timer fired on the target.
 */
/* Save the machine of @c into file @path (QEMU's migration to a file). */
static void save_stream(Ctx *c, const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);

    qtest_qmp_assert_success(c->qts, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    for (int i = 0; i < 6000 && strcmp(migrate_status(c->qts), "completed");
         i++) {
        g_assert_cmpstr(migrate_status(c->qts), !=, "failed");
        g_usleep(10000);
    }
    g_assert_cmpstr(migrate_status(c->qts), ==, "completed");
}

/*
 * Load file @path into a new QEMU; returns whether the load completed.
 * A refused stream must leave the target alive: time passes, it answers.
 */
static bool load_stream(const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    QTestState *dst;
    const char *st;
    bool ok;

    dst = qtest_initf("-machine q35 -nodefaults %s "
                      "-device mlu270,addr=0x%x.0 -incoming defer",
                      g_getenv("MLU270_QEMU_EXTRA_ARGS") ?: "", PF_SLOT);
    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming',"
                             "  'arguments': { 'uri': %s,"
                             "                 'exit-on-error': false } }",
                             uri);
    for (int i = 0; i < 6000; i++) {
        st = migrate_status(dst);
        if (!strcmp(st, "failed") || !strcmp(st, "completed")) {
            break;
        }
        g_usleep(10000);
    }
    ok = !strcmp(migrate_status(dst), "completed");
    qtest_clock_step(dst, 10 * 1000 * 1000);
    g_assert_cmpstr(migrate_status(dst), ==, ok ? "completed" : "failed");
    qtest_quit(dst);
    return ok;
}

/*
 * A stream with a paused VF, made impossible in one field at a time: the
 * target refuses each one and stays alive; the stream as saved loads.
 */
static void test_bad_pause_stream(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v0 = &c->vf[0];
    g_autofree char *path = g_strdup_printf("%s/mlu270-badpause-%d.mig",
                                            g_get_tmp_dir(), getpid());
    static const char name[] = "mlu270/vf-migration";
    /* Per function: paused, job_left (8), int_held, pf_int_held, mb_held,
     * q_ctrl_held, result, done; big-endian in the stream. */
    enum { FN_SIZE = 36, PAUSED = 0, JOB_LEFT = 4, PF_INT = 16,
           MB_HELD = 20, Q_CTRL = 24, RESULT = 28 };
    static const struct {
        int fn, off, size;
        uint64_t value;
        const char *what;
    } bad[] = {
        { 0, PAUSED, 4, 1, "the PF paused" },
        { 2, PAUSED, 4, 1, "a disabled VF paused" },
        { 1, PAUSED, 4, 2, "a flag that is not 0 or 1" },
        { 1, JOB_LEFT, 8, 1ull << 40, "more time left than any job" },
        { 1, PF_INT, 4, MLU270_INT_FAULT, "a held PF cause the VF cannot raise" },
        { 1, MB_HELD, 4, 1, "a held message that was never sent" },
        { 1, Q_CTRL, 4, 1, "a held Q_CTRL write without its flag" },
        { 1, RESULT, 4, 99, "an unknown command result" },
    };
    g_autofree gchar *stream = NULL;
    gsize len;
    uint8_t *at = NULL;

    part_quarters(c);
    vfs_enable(c, 1);
    q_setup(c, v0);
    submit(c, v0, &(Job){ .opcode = MLU270_OP_IPU_FILL, .len = 1 << 20,
                          .tag = 9 });
    g_assert_cmpuint(mig_cmd(c, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    save_stream(c, path);
    g_assert_true(g_file_get_contents(path, &stream, &len, NULL));
    /* The subsection: its name after its length byte (the stream ends
     * with a JSON description that names it again, without one). */
    for (gsize i = 1; i + sizeof(name) + 4 + 5 * FN_SIZE <= len; i++) {
        if (stream[i - 1] == sizeof(name) - 1 &&
            !memcmp(stream + i, name, sizeof(name) - 1)) {
            g_assert_null(at);
            at = (uint8_t *)stream + i + sizeof(name) - 1 + 4;  /* version */
        }
    }
    g_assert_nonnull(at);
    g_assert_cmpuint(ldl_be_p(at + FN_SIZE + PAUSED), ==, 1);
    g_assert_cmpuint(ldq_be_p(at + FN_SIZE + JOB_LEFT), ==, 4ull << 20);

    /* As saved: it loads (the offsets above are the right ones). */
    g_assert_true(load_stream(path));
    for (int k = 0; k < ARRAY_SIZE(bad); k++) {
        uint8_t *f = at + bad[k].fn * FN_SIZE + bad[k].off;
        uint64_t saved = bad[k].size == 8 ? ldq_be_p(f) : ldl_be_p(f);

        if (bad[k].size == 8) {
            stq_be_p(f, bad[k].value);
        } else {
            stl_be_p(f, bad[k].value);
        }
        g_assert_true(g_file_set_contents(path, stream, len, NULL));
        if (g_test_verbose()) {
            g_test_message("%s", bad[k].what);
        }
        g_assert_false(load_stream(path));
        if (bad[k].size == 8) {
            stq_be_p(f, saved);
        } else {
            stl_be_p(f, saved);
        }
    }
    unlink(path);
    ctx_free(c);
}

static void test_bad_stream(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *pf = &c->pf;
    g_autofree char *path = g_strdup_printf("%s/mlu270-bad-%d.mig",
                                            g_get_tmp_dir(), getpid());
    static const struct {
        uint32_t off, value;
        const char *what;
    } bad[] = {
        { 44, 0, "busy on a disabled queue" },  /* q_enabled */
        { 32, 3, "queue size not a power of 2" },  /* q_size */
        { 52, 99, "unknown queue error" },       /* q_error */
    };
    g_autofree gchar *stream = NULL;
    gsize len;
    gchar *at = NULL;

    q_setup(c, pf);
    wr(c, pf, MLU270_REG_SCRATCH, 0x5ca1ab1e);
    submit(c, pf, &(Job){ .opcode = MLU270_OP_IPU_FILL, .dst = 0,
                          .len = 1 * MLU270_MIB, .tag = 7 });
    g_assert_true(rd(c, pf, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY);
    save_stream(c, path);
    g_assert_true(g_file_get_contents(path, &stream, &len, NULL));

    /* Function 0's state starts with SCRATCH (big-endian in the stream). */
    for (gsize i = 0; i + 64 <= len; i++) {
        if (ldl_be_p(stream + i) == 0x5ca1ab1e) {
            g_assert_null(at);
            at = stream + i;
        }
    }
    g_assert_nonnull(at);
    g_assert_cmpuint(ldl_be_p(at + 32), ==, Q_ENTRIES);  /* q_size */
    g_assert_cmpuint(ldl_be_p(at + 44), ==, 1);          /* q_enabled */
    g_assert_cmpuint(ldl_be_p(at + 60), ==, 1);          /* busy */

    for (int k = 0; k < ARRAY_SIZE(bad); k++) {
        uint32_t saved = ldl_be_p(at + bad[k].off);

        stl_be_p(at + bad[k].off, bad[k].value);
        if (bad[k].off == 44) {
            stl_be_p(at + 32, 0);                        /* q_size */
        }
        g_assert_true(g_file_set_contents(path, stream, len, NULL));
        stl_be_p(at + bad[k].off, saved);
        stl_be_p(at + 32, Q_ENTRIES);

        if (g_test_verbose()) {
            g_test_message("%s", bad[k].what);
        }
        g_assert_false(load_stream(path));
    }
    unlink(path);
    ctx_free(c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/mlu270/ids", test_ids);
    qtest_add_func("/mlu270/mem-size", test_mem_size);
    qtest_add_func("/mlu270/sriov-enable", test_sriov_enable);
    qtest_add_func("/mlu270/mailbox", test_mailbox);
    qtest_add_func("/mlu270/deferred-reset", test_deferred_reset);
    qtest_add_func("/mlu270/misuse", test_misuse);
    qtest_add_func("/mlu270/ops", test_ops);
    qtest_add_func("/mlu270/job-errors", test_job_errors);
    qtest_add_func("/mlu270/isolation", test_isolation);
    qtest_add_func("/mlu270/self-dma", test_self_dma);
    qtest_add_func("/mlu270/disable-scrubs", test_disable_scrubs);
    qtest_add_func("/mlu270/fault-records", test_fault_records);
    qtest_add_func("/mlu270/scrub-counts", test_scrub_counts);
    qtest_add_func("/mlu270/reset-cost", test_reset_cost);
    qtest_add_func("/mlu270/flr", test_flr);
    qtest_add_func("/mlu270/pause", test_pause);
    qtest_add_func("/mlu270/migration", test_migration);
    qtest_add_func("/mlu270/migration-paused", test_migration_paused);
    qtest_add_func("/mlu270/bad-stream", test_bad_stream);
    qtest_add_func("/mlu270/bad-pause-stream", test_bad_pause_stream);
    qtest_add_func("/mlu270/topologies", test_topologies);
    qtest_add_func("/mlu270/fuzz", test_fuzz);
    mlu270_mig_tests_add();
    return g_test_run();
}
