/*
 * QTest for the emulated MLU270: what the test files share (machine
 * setup, registers, the job path, references).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MLU270_QTEST_H
#define MLU270_QTEST_H

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "libqos/libqos-malloc.h"
#include "qemu/bswap.h"
#include "qobject/qdict.h"
#include "hw/pci/pci_regs.h"
#include "mlu270_regs.h"

#define PF_SLOT         5
#define PF_DEVFN        QPCI_DEVFN(PF_SLOT, 0)
#define VF_DEVFN(i)     QPCI_DEVFN(PF_SLOT, (i) + 1)
#define ECAM_BASE       0xb0000000ULL
#define SRIOV           MLU270_SRIOV_CAP_OFFSET
#define Q_ENTRIES       16
#define MEM_MB          256

typedef struct Fn {
    int devfn;
    uint64_t bar0, bar2;
    uint64_t ring, cq;
    uint32_t tail;
} Fn;

typedef struct Ctx {
    QTestState *qts;
    QPCIBus *bus;
    QGuestAllocator *alloc;     /* the first card's, shared */
    QGuestAllocator alloc_own;
    bool second;                /* a second card of another Ctx */
    Fn pf;
    Fn vf[MLU270_TOTAL_VFS];
    uint64_t vf_bar0, vf_bar2;  /* VF BAR bases programmed in the PF */
} Ctx;

typedef struct Job {
    uint32_t opcode, len, arg0, arg1, arg2;
    uint64_t src, dst, aux, tag;
} Job;

typedef struct Cpl {
    uint64_t tag, result, duration;
    uint32_t status, seq;
} Cpl;

uint64_t ecam(int devfn, int off);
uint32_t cfg_readl(Ctx *c, int devfn, int off);
uint16_t cfg_readw(Ctx *c, int devfn, int off);
void cfg_writel(Ctx *c, int devfn, int off, uint32_t v);
void cfg_writew(Ctx *c, int devfn, int off, uint16_t v);
int find_cap(Ctx *c, int devfn, int id);
uint32_t rd(Ctx *c, Fn *f, uint32_t off);
void wr(Ctx *c, Fn *f, uint32_t off, uint32_t v);
void msix_setup(Ctx *c, Fn *f);
bool msix_pending(Ctx *c, Fn *f, int vec);
void msix_clear(Ctx *c, Fn *f, int vec);
Ctx *ctx_new(const char *extra);
Ctx *ctx_card(Ctx *first, int slot, uint64_t vf_bar0);
void ctx_free(Ctx *c);
void part_set(Ctx *c, int n, uint32_t ipu, uint32_t vpu, uint32_t jpu,
              uint32_t base_mb, uint32_t size_mb);
void part_quarters(Ctx *c);
void vfs_enable(Ctx *c, int n);
void vfs_disable(Ctx *c);
void q_setup(Ctx *c, Fn *f);
uint32_t submit(Ctx *c, Fn *f, const Job *j);
Cpl cpl_read(Ctx *c, Fn *f, uint32_t slot);
void wait_done(Ctx *c, Fn *f, uint32_t done);
Cpl run(Ctx *c, Fn *f, Job j);
uint32_t run_status(Ctx *c, Fn *f, Job j);
void upload(Ctx *c, Fn *f, uint64_t dev, const void *buf, uint32_t len);
void download(Ctx *c, Fn *f, uint64_t dev, void *buf, uint32_t len);
void fill_pattern(uint8_t *p, size_t len, uint32_t seed);
uint32_t ref_crc32(const uint8_t *p, size_t len);
const char *migrate_status(QTestState *qts);

/* mlu270-mig-test.c */
void mlu270_mig_tests_add(void);

#endif
