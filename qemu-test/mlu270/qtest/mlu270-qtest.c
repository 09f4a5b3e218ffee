/*
 * QTest for the emulated MLU270: helpers shared by the test files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mlu270-qtest.h"
#include "qobject/qdict.h"

/* ---- Config space through ECAM (extended capabilities need it) --------- */

uint64_t ecam(int devfn, int off)
{
    return ECAM_BASE + ((uint64_t)devfn << 12) + off;
}

uint32_t cfg_readl(Ctx *c, int devfn, int off)
{
    return qtest_readl(c->qts, ecam(devfn, off));
}

uint16_t cfg_readw(Ctx *c, int devfn, int off)
{
    return qtest_readw(c->qts, ecam(devfn, off));
}

void cfg_writel(Ctx *c, int devfn, int off, uint32_t v)
{
    qtest_writel(c->qts, ecam(devfn, off), v);
}

void cfg_writew(Ctx *c, int devfn, int off, uint16_t v)
{
    qtest_writew(c->qts, ecam(devfn, off), v);
}

int find_cap(Ctx *c, int devfn, int id)
{
    int pos = cfg_readl(c, devfn, PCI_CAPABILITY_LIST) & 0xff;

    while (pos) {
        uint32_t v = cfg_readl(c, devfn, pos);
        if ((v & 0xff) == id) {
            return pos;
        }
        pos = (v >> 8) & 0xff;
    }
    return 0;
}

/* ---- Registers ---------------------------------------------------------- */

uint32_t rd(Ctx *c, Fn *f, uint32_t off)
{
    return qtest_readl(c->qts, f->bar0 + off);
}

void wr(Ctx *c, Fn *f, uint32_t off, uint32_t v)
{
    qtest_writel(c->qts, f->bar0 + off, v);
}

/* MSI-X: vectors stay masked, so an interrupt shows up as a PBA bit. */
void msix_setup(Ctx *c, Fn *f)
{
    int cap = find_cap(c, f->devfn, PCI_CAP_ID_MSIX);

    g_assert_cmpint(cap, !=, 0);
    cfg_writew(c, f->devfn, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
}

bool msix_pending(Ctx *c, Fn *f, int vec)
{
    return qtest_readl(c->qts, f->bar2 + MLU270_MSIX_PBA_OFFSET) & (1u << vec);
}

/* Unmask then re-mask: delivers (to guest address 0) and clears the bit. */
void msix_clear(Ctx *c, Fn *f, int vec)
{
    uint64_t ctrl = f->bar2 + vec * 16 + PCI_MSIX_ENTRY_VECTOR_CTRL;

    qtest_writel(c->qts, ctrl, 0);
    qtest_writel(c->qts, ctrl, PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* ---- Machine setup ------------------------------------------------------ */

/*
 * Map the card in @slot: its PF's BARs, and its VFs' BARs at @vf_bar0
 * (one aperture of TotalVFs * size each).
 */
static void card_map(Ctx *c, int slot, uint64_t vf_bar0)
{
    int devfn = QPCI_DEVFN(slot, 0);
    QPCIDevice *dev;
    uint64_t size;

    dev = qpci_device_find(c->bus, devfn);
    g_assert_nonnull(dev);
    qpci_device_enable(dev);
    c->pf.devfn = devfn;
    c->pf.bar0 = qpci_iomap(dev, MLU270_REG_BAR, &size).addr;
    g_assert_cmpint(size, ==, MLU270_REG_BAR_SIZE);
    c->pf.bar2 = qpci_iomap(dev, MLU270_MSIX_BAR, &size).addr;
    g_assert_cmpint(size, ==, MLU270_MSIX_BAR_SIZE);
    g_free(dev);

    c->vf_bar0 = vf_bar0;
    c->vf_bar2 = c->vf_bar0 + MLU270_TOTAL_VFS * MLU270_REG_BAR_SIZE;
    cfg_writel(c, devfn, SRIOV + PCI_SRIOV_BAR + 0, c->vf_bar0);
    cfg_writel(c, devfn, SRIOV + PCI_SRIOV_BAR + 4, 0);
    cfg_writel(c, devfn, SRIOV + PCI_SRIOV_BAR + 8, c->vf_bar2);
    cfg_writel(c, devfn, SRIOV + PCI_SRIOV_BAR + 12, 0);
    for (int i = 0; i < MLU270_TOTAL_VFS; i++) {
        c->vf[i].devfn = QPCI_DEVFN(slot, i + 1);
        c->vf[i].bar0 = c->vf_bar0 + i * MLU270_REG_BAR_SIZE;
        c->vf[i].bar2 = c->vf_bar2 + i * MLU270_MSIX_BAR_SIZE;
    }
}

Ctx *ctx_new(const char *extra)
{
    Ctx *c = g_new0(Ctx, 1);

    /* -nodefaults: no NIC, whose option ROM the test host may lack. */
    c->qts = qtest_initf("-machine q35 -nodefaults %s "
                         "-device mlu270,addr=0x%x.0%s",
                         g_getenv("MLU270_QEMU_EXTRA_ARGS") ?: "",
                         PF_SLOT, extra ? extra : "");
    c->alloc = &c->alloc_own;
    pc_alloc_init(c->alloc, c->qts, ALLOC_NO_FLAGS);
    c->bus = qpci_new_pc(c->qts, c->alloc);
    /* Enable q35's ECAM window (firmware's job on a real boot). */
    qtest_outl(c->qts, 0xcf8, 0x80000000 | 0x60);
    qtest_outl(c->qts, 0xcfc, (uint32_t)ECAM_BASE | 1);
    qtest_outl(c->qts, 0xcf8, 0x80000000 | 0x64);
    qtest_outl(c->qts, 0xcfc, 0);

    card_map(c, PF_SLOT, 0xe8000000);
    return c;
}

/*
 * A second card of @first's machine (started with another
 * "-device mlu270,addr=<slot>.0"): same QEMU, bus and allocator.
 */
Ctx *ctx_card(Ctx *first, int slot, uint64_t vf_bar0)
{
    Ctx *c = g_new0(Ctx, 1);

    c->qts = first->qts;
    c->bus = first->bus;
    c->alloc = first->alloc;
    c->second = true;
    card_map(c, slot, vf_bar0);
    return c;
}

void ctx_free(Ctx *c)
{
    if (c->second) {
        g_free(c);
        return;
    }
    qpci_free_pc(c->bus);
    alloc_destroy(c->alloc);
    qtest_quit(c->qts);
    g_free(c);
}

void part_set(Ctx *c, int n, uint32_t ipu, uint32_t vpu, uint32_t jpu,
                     uint32_t base_mb, uint32_t size_mb)
{
    uint32_t b = MLU270_PART_BASE(n);

    wr(c, &c->pf, b + MLU270_PART_IPU_MASK, ipu);
    wr(c, &c->pf, b + MLU270_PART_VPU_MASK, vpu);
    wr(c, &c->pf, b + MLU270_PART_JPU_MASK, jpu);
    wr(c, &c->pf, b + MLU270_PART_MEM_BASE_MB, base_mb);
    wr(c, &c->pf, b + MLU270_PART_MEM_SIZE_MB, size_mb);
}

/* Quarter slices: VF i gets cluster i, VPU i, JPU i, 64 MiB at i * 64. */
void part_quarters(Ctx *c)
{
    for (int i = 0; i < MLU270_TOTAL_VFS; i++) {
        part_set(c, i + 1, 0xf << (4 * i), 1 << i, 1 << i,
                 i * MEM_MB / 4, MEM_MB / 4);
    }
}

void vfs_enable(Ctx *c, int n)
{
    cfg_writew(c, c->pf.devfn, SRIOV + PCI_SRIOV_NUM_VF, n);
    cfg_writew(c, c->pf.devfn, SRIOV + PCI_SRIOV_CTRL,
               PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    for (int i = 0; i < n; i++) {
        cfg_writew(c, c->vf[i].devfn, PCI_COMMAND,
                   PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    }
}

void vfs_disable(Ctx *c)
{
    cfg_writew(c, c->pf.devfn, SRIOV + PCI_SRIOV_CTRL, 0);
}

/* ---- Job path ----------------------------------------------------------- */

void q_setup(Ctx *c, Fn *f)
{
    f->ring = guest_alloc(c->alloc, Q_ENTRIES * MLU270_DESC_SIZE);
    f->cq = guest_alloc(c->alloc, Q_ENTRIES * MLU270_CPL_SIZE);
    g_assert_cmpint(f->ring % MLU270_Q_ALIGN, ==, 0);
    g_assert_cmpint(f->cq % MLU270_Q_ALIGN, ==, 0);
    qtest_memset(c->qts, f->cq, 0, Q_ENTRIES * MLU270_CPL_SIZE);
    wr(c, f, MLU270_REG_Q_BASE_LO, f->ring);
    wr(c, f, MLU270_REG_Q_BASE_HI, f->ring >> 32);
    wr(c, f, MLU270_REG_CQ_BASE_LO, f->cq);
    wr(c, f, MLU270_REG_CQ_BASE_HI, f->cq >> 32);
    wr(c, f, MLU270_REG_Q_SIZE, Q_ENTRIES);
    wr(c, f, MLU270_REG_Q_CTRL, MLU270_Q_CTRL_ENABLE);
    g_assert_cmphex(rd(c, f, MLU270_REG_Q_STATUS), ==,
                    MLU270_Q_STATUS_ENABLED);
    f->tail = 0;
}

/* Queue a job without waiting; returns its ring slot. */
uint32_t submit(Ctx *c, Fn *f, const Job *j)
{
    uint8_t d[MLU270_DESC_SIZE] = { 0 };
    uint32_t slot = f->tail;

    stl_le_p(d + MLU270_DESC_OPCODE, j->opcode);
    stq_le_p(d + MLU270_DESC_TAG, j->tag);
    stq_le_p(d + MLU270_DESC_SRC, j->src);
    stq_le_p(d + MLU270_DESC_DST, j->dst);
    stq_le_p(d + MLU270_DESC_AUX, j->aux);
    stl_le_p(d + MLU270_DESC_LEN, j->len);
    stl_le_p(d + MLU270_DESC_ARG0, j->arg0);
    stl_le_p(d + MLU270_DESC_ARG1, j->arg1);
    stl_le_p(d + MLU270_DESC_ARG2, j->arg2);
    qtest_memwrite(c->qts, f->ring + slot * MLU270_DESC_SIZE, d, sizeof(d));
    f->tail = (f->tail + 1) % Q_ENTRIES;
    wr(c, f, MLU270_REG_Q_TAIL, f->tail);
    return slot;
}

Cpl cpl_read(Ctx *c, Fn *f, uint32_t slot)
{
    uint8_t r[MLU270_CPL_SIZE];
    Cpl cpl;

    qtest_memread(c->qts, f->cq + slot * MLU270_CPL_SIZE, r, sizeof(r));
    cpl.tag = ldq_le_p(r + MLU270_CPL_TAG);
    cpl.status = ldl_le_p(r + MLU270_CPL_STATUS);
    cpl.seq = ldl_le_p(r + MLU270_CPL_SEQ);
    cpl.result = ldq_le_p(r + MLU270_CPL_RESULT);
    cpl.duration = ldq_le_p(r + MLU270_CPL_DURATION);
    return cpl;
}

/* Advance virtual time until the function completed @done jobs. */
void wait_done(Ctx *c, Fn *f, uint32_t done)
{
    for (int i = 0; i < 100000; i++) {
        if (rd(c, f, MLU270_REG_Q_DONE) >= done) {
            return;
        }
        qtest_clock_step_next(c->qts);
    }
    g_assert_not_reached();
}

Cpl run(Ctx *c, Fn *f, Job j)
{
    uint32_t done = rd(c, f, MLU270_REG_Q_DONE);
    uint32_t slot;
    Cpl cpl;

    j.tag = 0x1000 + done;
    slot = submit(c, f, &j);
    wait_done(c, f, done + 1);
    cpl = cpl_read(c, f, slot);
    g_assert_cmphex(cpl.tag, ==, j.tag);
    g_assert_cmpuint(cpl.seq, ==, done + 1);
    return cpl;
}

uint32_t run_status(Ctx *c, Fn *f, Job j)
{
    return run(c, f, j).status;
}

/* Upload host bytes to device address @dev through a bounce buffer. */
void upload(Ctx *c, Fn *f, uint64_t dev, const void *buf, uint32_t len)
{
    uint64_t h = guest_alloc(c->alloc, len);

    qtest_memwrite(c->qts, h, buf, len);
    g_assert_cmpuint(run_status(c, f, (Job){ .opcode = MLU270_OP_DMA_H2D,
                     .src = h, .dst = dev, .len = len }), ==, MLU270_ST_OK);
    guest_free(c->alloc, h);
}

void download(Ctx *c, Fn *f, uint64_t dev, void *buf, uint32_t len)
{
    uint64_t h = guest_alloc(c->alloc, len);

    g_assert_cmpuint(run_status(c, f, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = dev, .dst = h, .len = len }), ==, MLU270_ST_OK);
    qtest_memread(c->qts, h, buf, len);
    guest_free(c->alloc, h);
}

void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = seed >> 16;
    }
}

uint32_t ref_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffff;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
        }
    }
    return ~crc;
}

/* QEMU's migration status of @qts ("none" before any). */
const char *migrate_status(QTestState *qts)
{
    static char status[32];
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
    QDict *ret = qdict_get_qdict(resp, "return");

    g_assert_nonnull(ret);
    g_strlcpy(status, qdict_haskey(ret, "status") ?
              qdict_get_str(ret, "status") : "none", sizeof(status));
    qobject_unref(resp);
    return status;
}
