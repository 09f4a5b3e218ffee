/*
 * Emulated MLU270-class AI accelerator with SR-IOV.
 *
 * The interface is specified in Documentation/accel/mlu270/hardware.rst
 * and mlu270_regs.h; this file implements exactly that contract.
 *
 * Design: all functional state (per-function queues, mailboxes, the
 * partition table, device memory) lives in the PF object, indexed by the
 * function index (0 = PF, 1 + i = VF i). A VF object is a thin front end:
 * its BAR0 accesses are forwarded to the PF's decoder with its function
 * index, and it is used as the DMA requester and MSI-X source of its own
 * function. This keeps one place that enforces isolation and one vmstate
 * that carries the whole device.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/error-report.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qemu/bswap.h"
#include "qemu/host-utils.h"
#include "qemu/cutils.h"
#include "qemu/bitmap.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pcie.h"
#include "hw/pci/pcie_sriov.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "mlu270_regs.h"

#include "mlu270-internal.h"

typedef struct Mlu270VfState {
    PCIDevice parent_obj;
    MemoryRegion bar0;
    MemoryRegion msix_bar;
} Mlu270VfState;

OBJECT_DECLARE_SIMPLE_TYPE(Mlu270VfState, MLU270_VF)

/* JPEG zig-zag order of an 8x8 block. */
static const uint8_t mlu270_zigzag[64] = {
     0,  1,  8, 16,  9,  2,  3, 10, 17, 24, 32, 25, 18, 11,  4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13,  6,  7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

/*
 * Standard reflected CRC-32 (IEEE 802.3), chained as zlib's crc32(crc, p,
 * len): start with 0, pass the last result on to continue.
 */
uint32_t mlu270_crc32_update(uint32_t crc, const uint8_t *p, uint64_t len)
{
    static uint32_t table[256];

    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = (c & 1) ? 0xedb88320 ^ (c >> 1) : c >> 1;
            }
            table[i] = c;
        }
    }
    crc ^= 0xffffffff;
    for (uint64_t i = 0; i < len; i++) {
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return crc ^ 0xffffffff;
}

static uint32_t mlu270_crc32(const uint8_t *p, uint64_t len)
{
    return mlu270_crc32_update(0, p, len);
}

/* ---- SR-IOV helpers ---------------------------------------------------- */

static bool mlu270_vfe(Mlu270State *s)
{
    PCIDevice *pci = PCI_DEVICE(s);
    uint16_t ctrl = pci_get_word(pci->config + pci->exp.sriov_cap +
                                 PCI_SRIOV_CTRL);

    return ctrl & PCI_SRIOV_CTRL_VFE;
}

static unsigned mlu270_num_vfs(Mlu270State *s)
{
    return MIN(pcie_sriov_num_vfs(PCI_DEVICE(s)), MLU270_TOTAL_VFS);
}

bool mlu270_vf_enabled(Mlu270State *s, unsigned vf)
{
    return vf < mlu270_num_vfs(s);
}

/* The PCI function behind function index @fn (the DMA requester). */
PCIDevice *mlu270_func_pci(Mlu270State *s, unsigned fn)
{
    PCIDevice *pci = PCI_DEVICE(s);

    if (fn == 0) {
        return pci;
    }
    return pci->exp.sriov_pf.vf ? pci->exp.sriov_pf.vf[fn - 1] : NULL;
}

/*
 * Bus-master accesses the card makes (descriptor fetches, job data,
 * completion records, MSI-X messages) target guest memory. A guest may
 * point them at the card's own BARs or MSI-X tables, of any function:
 * such an access must end in an error, as on hardware whose functions do
 * not route peer requests to themselves, and never reach the register
 * decoder while the job path is half way through using the registers.
 * QEMU's re-entrancy guard stops an access to a device's MMIO while that
 * device is in an MMIO handler; a job runs from a timer, and the card is
 * five devices that share one state, so the card engages the guard of
 * every function around its own bus-master accesses.
 */
typedef struct Mlu270Guard {
    DeviceState *dev[MLU270_NUM_FUNCS];
    bool engaged[MLU270_NUM_FUNCS];
} Mlu270Guard;

static void mlu270_guard_enter(Mlu270State *s, Mlu270Guard *g)
{
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        PCIDevice *pci = mlu270_func_pci(s, fn);

        g->dev[fn] = pci ? DEVICE(pci) : NULL;
        if (g->dev[fn]) {
            g->engaged[fn] = g->dev[fn]->mem_reentrancy_guard.engaged_in_io;
            g->dev[fn]->mem_reentrancy_guard.engaged_in_io = true;
        }
    }
}

static void mlu270_guard_leave(Mlu270Guard *g)
{
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        if (g->dev[fn]) {
            g->dev[fn]->mem_reentrancy_guard.engaged_in_io = g->engaged[fn];
        }
    }
}

/*
 * A DMA of function @fn; false if it did not complete. A VF's writes are
 * logged for its migration whether they completed or not (a failed write
 * may have written a prefix).
 */
bool mlu270_dma(Mlu270State *s, unsigned fn, dma_addr_t addr,
                void *buf, dma_addr_t len, DMADirection dir)
{
    PCIDevice *pci = mlu270_func_pci(s, fn);
    Mlu270Guard g;
    MemTxResult r;

    if (!pci) {
        return false;
    }
    if (fn && dir == DMA_DIRECTION_FROM_DEVICE) {
        mlu270_mig_log_dma(s, fn - 1, addr, len);
    }
    mlu270_guard_enter(s, &g);
    r = pci_dma_rw(pci, addr, buf, len, dir, MEMTXATTRS_UNSPECIFIED);
    mlu270_guard_leave(&g);
    return r == MEMTX_OK;
}

/* ---- Misuse, interrupts, faults ---------------------------------------- */

void mlu270_misuse(Mlu270State *s, unsigned fn, const char *fmt, ...)
{
    Mlu270Func *f = &s->fn[fn];
    va_list ap;
    g_autofree char *msg = NULL;

    if (f->misuse != UINT32_MAX) {
        f->misuse++;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qemu_log_mask(LOG_GUEST_ERROR, "mlu270: function %u: %s\n", fn, msg);
}

static unsigned mlu270_int_vector(uint32_t bit)
{
    switch (bit) {
    case MLU270_INT_MB_RX:
    case MLU270_INT_MB_ACK:
        return MLU270_VEC_MBOX;
    case MLU270_INT_FAULT:
    case MLU270_INT_VF_EVENT:
    case MLU270_INT_MIG_DONE:
        return MLU270_VEC_PF_EVENT;
    default:
        return MLU270_VEC_QUEUE;
    }
}

void mlu270_raise(Mlu270State *s, unsigned fn, uint32_t bits)
{
    Mlu270Func *f = &s->fn[fn];
    PCIDevice *pci = mlu270_func_pci(s, fn);
    unsigned nvec = fn ? MLU270_VF_MSIX_VECTORS : MLU270_PF_MSIX_VECTORS;

    f->int_status |= bits;
    bits &= f->int_enable;
    if (fn && f->mig_paused) {
        /* Sent at RESUME, one message per vector (as after an unmask). */
        f->int_held |= bits;
        return;
    }
    while (bits) {
        uint32_t bit = bits & -bits;
        unsigned vec = mlu270_int_vector(bit);

        bits &= ~bit;
        /* msix_notify() itself honours MSI-X enable and masking. */
        if (pci && vec < nvec && msix_enabled(pci)) {
            Mlu270Guard g;

            mlu270_guard_enter(s, &g);
            msix_notify(pci, vec);
            mlu270_guard_leave(&g);
        }
    }
}

static void mlu270_fault(Mlu270State *s, unsigned fn, uint32_t code,
                         uint64_t addr)
{
    Mlu270Func *f = &s->fn[fn];

    f->fault_code = code;
    f->fault_addr = addr;
    if (f->fault_count != UINT32_MAX) {
        f->fault_count++;
    }
    s->fault_status |= 1u << fn;
    s->fault_func = fn;
    s->fault_code = code;
    s->fault_addr = addr;
    if (s->fault_count != UINT32_MAX) {
        s->fault_count++;
    }
    qemu_log_mask(LOG_GUEST_ERROR,
                  "mlu270: function %u fault: code %u address 0x%" PRIx64 "\n",
                  fn, code, addr);
    mlu270_raise(s, 0, MLU270_INT_FAULT);
}

/* ---- Partition table --------------------------------------------------- */

static uint32_t mlu270_mem_mb(Mlu270State *s)
{
    return s->mem_size / MLU270_MIB;
}

static bool mlu270_part_sane(Mlu270State *s, unsigned n)
{
    Mlu270PartEntry *e = &s->part[n];

    return !(e->ipu_mask & ~MAKE_64BIT_MASK(0, MLU270_NUM_IPU)) &&
           !(e->vpu_mask & ~MAKE_64BIT_MASK(0, MLU270_NUM_VPU)) &&
           !(e->jpu_mask & ~MAKE_64BIT_MASK(0, MLU270_NUM_JPU)) &&
           (uint64_t)e->mem_base_mb + e->mem_size_mb <= mlu270_mem_mb(s);
}

static bool mlu270_part_overlap(Mlu270State *s, unsigned a, unsigned b)
{
    Mlu270PartEntry *x = &s->part[a], *y = &s->part[b];
    bool mem = x->mem_size_mb && y->mem_size_mb &&
               x->mem_base_mb < (uint64_t)y->mem_base_mb + y->mem_size_mb &&
               y->mem_base_mb < (uint64_t)x->mem_base_mb + x->mem_size_mb;

    return (x->ipu_mask & y->ipu_mask) || (x->vpu_mask & y->vpu_mask) ||
           (x->jpu_mask & y->jpu_mask) || mem;
}

/* Bit n set: entry n is invalid (see "Partition table" in the spec). */
static uint32_t mlu270_part_invalid(Mlu270State *s)
{
    uint32_t inv = 0;
    unsigned nvfs = mlu270_num_vfs(s);

    for (unsigned n = 0; n < MLU270_NUM_FUNCS; n++) {
        if (!mlu270_part_sane(s, n)) {
            inv |= 1u << n;
        }
    }
    for (unsigned a = 1; a <= nvfs; a++) {
        for (unsigned b = a + 1; b <= nvfs; b++) {
            if (mlu270_part_overlap(s, a, b)) {
                inv |= (1u << a) | (1u << b);
            }
        }
    }
    return inv;
}

Mlu270Slice mlu270_slice(Mlu270State *s, unsigned fn)
{
    Mlu270Slice sl = { 0 };
    Mlu270PartEntry *e = &s->part[fn];

    if (fn == 0 ? mlu270_vfe(s) : !mlu270_vf_enabled(s, fn - 1)) {
        return sl;
    }
    if (mlu270_part_invalid(s) & (1u << fn)) {
        return sl;
    }
    sl.ipu = e->ipu_mask;
    sl.vpu = e->vpu_mask;
    sl.jpu = e->jpu_mask;
    sl.base = (uint64_t)e->mem_base_mb * MLU270_MIB;
    sl.size = (uint64_t)e->mem_size_mb * MLU270_MIB;
    return sl;
}

static void mlu270_part_defaults(Mlu270State *s)
{
    memset(s->part, 0, sizeof(s->part));
    s->part[0].ipu_mask = MAKE_64BIT_MASK(0, MLU270_NUM_IPU);
    s->part[0].vpu_mask = MAKE_64BIT_MASK(0, MLU270_NUM_VPU);
    s->part[0].jpu_mask = MAKE_64BIT_MASK(0, MLU270_NUM_JPU);
    s->part[0].mem_size_mb = mlu270_mem_mb(s);
}

/* ---- Device memory ------------------------------------------------------ */

uint8_t *mlu270_mem(Mlu270State *s)
{
    return memory_region_get_ram_ptr(&s->devmem);
}

/*
 * Every write through the host pointer must be made visible to migration,
 * and to the next scrub.
 */
void mlu270_mem_dirty(Mlu270State *s, uint64_t phys, uint64_t len)
{
    if (!len) {
        return;
    }
    memory_region_set_dirty(&s->devmem, phys, len);
    bitmap_set(s->written, phys / MLU270_CHUNK,
               (phys + len - 1) / MLU270_CHUNK - phys / MLU270_CHUNK + 1);
    mlu270_pages_set(s->pages_written, phys / MLU270_PAGE,
                     (phys + len - 1) / MLU270_PAGE + 1);
}

/*
 * Zero a range of device memory (whole chunks: slices are MiB-aligned).
 * Only chunks written since they were last zeroed are looked at; of those,
 * ones that hold zeroes anyway are left alone, so that a reset does not
 * make QEMU allocate (or migration resend) memory nobody used.
 */
void mlu270_mem_zero(Mlu270State *s, uint64_t phys, uint64_t len)
{
    unsigned long first = phys / MLU270_CHUNK;
    unsigned long end = (phys + len) / MLU270_CHUNK;

    assert(phys % MLU270_CHUNK == 0 && len % MLU270_CHUNK == 0);
    for (unsigned long c = find_next_bit(s->written, end, first); c < end;
         c = find_next_bit(s->written, end, c + 1)) {
        uint8_t *p = mlu270_mem(s) + c * MLU270_CHUNK;

        clear_bit(c, s->written);
        if (!buffer_is_zero(p, MLU270_CHUNK)) {
            memset(p, 0, MLU270_CHUNK);
            memory_region_set_dirty(&s->devmem, c * MLU270_CHUNK,
                                    MLU270_CHUNK);
        }
    }
}

/* After a migration: which chunks came with something else than zeroes. */
static void mlu270_mem_find_written(Mlu270State *s)
{
    unsigned long chunks = s->mem_size / MLU270_CHUNK;

    bitmap_zero(s->written, chunks);
    for (unsigned long c = 0; c < chunks; c++) {
        if (!buffer_is_zero(mlu270_mem(s) + c * MLU270_CHUNK, MLU270_CHUNK)) {
            set_bit(c, s->written);
        }
    }
}

/* ---- Jobs --------------------------------------------------------------- */

typedef struct Mlu270Job {
    uint32_t opcode;
    uint64_t tag, src, dst, aux;
    uint32_t len, arg0, arg1, arg2;
} Mlu270Job;

enum { ENG_NONE, ENG_IPU, ENG_VPU, ENG_JPU };

static Mlu270Job mlu270_job_parse(const uint8_t *d)
{
    Mlu270Job j = {
        .opcode = ldl_le_p(d + MLU270_DESC_OPCODE),
        .tag = ldq_le_p(d + MLU270_DESC_TAG),
        .src = ldq_le_p(d + MLU270_DESC_SRC),
        .dst = ldq_le_p(d + MLU270_DESC_DST),
        .aux = ldq_le_p(d + MLU270_DESC_AUX),
        .len = ldl_le_p(d + MLU270_DESC_LEN),
        .arg0 = ldl_le_p(d + MLU270_DESC_ARG0),
        .arg1 = ldl_le_p(d + MLU270_DESC_ARG1),
        .arg2 = ldl_le_p(d + MLU270_DESC_ARG2),
    };
    return j;
}

static int mlu270_op_engine(uint32_t opcode)
{
    switch (opcode) {
    case MLU270_OP_NOP:
        return ENG_NONE;
    case MLU270_OP_DMA_H2D:
    case MLU270_OP_DMA_D2H:
    case MLU270_OP_IPU_MEMCPY:
    case MLU270_OP_IPU_FILL:
    case MLU270_OP_IPU_CRC32:
    case MLU270_OP_IPU_MATMUL_I8:
        return ENG_IPU;
    case MLU270_OP_VPU_DELTA_ENC:
    case MLU270_OP_VPU_DELTA_DEC:
        return ENG_VPU;
    case MLU270_OP_JPU_ZIGZAG:
    case MLU270_OP_JPU_UNZIGZAG:
        return ENG_JPU;
    default:
        return -1;
    }
}

/* Is the device range [addr, addr + len) inside the slice's window? */
static bool mlu270_in_slice(const Mlu270Slice *sl, uint64_t addr, uint64_t len)
{
    return addr <= sl->size && len <= sl->size - addr;
}

/*
 * Validate a job against the function's slice. Returns a status code; on
 * OUT_OF_SLICE/NO_ENGINE *fault_addr is the offending address.
 */
static uint32_t mlu270_job_check(const Mlu270Job *j, const Mlu270Slice *sl,
                                 uint64_t *fault_addr)
{
    int eng = mlu270_op_engine(j->opcode);
    uint64_t m = j->arg0, n = j->arg1, k = j->arg2;
    struct { uint64_t addr, len; } r[3];
    int nr = 0;

    *fault_addr = 0;
    if (eng < 0) {
        return MLU270_ST_BAD_OPCODE;
    }
    if ((eng == ENG_IPU && !sl->ipu) || (eng == ENG_VPU && !sl->vpu) ||
        (eng == ENG_JPU && !sl->jpu)) {
        return MLU270_ST_NO_ENGINE;
    }
    if (j->opcode == MLU270_OP_IPU_MATMUL_I8) {
        if (!m || !n || !k || m > MLU270_MATMUL_MAX_DIM ||
            n > MLU270_MATMUL_MAX_DIM || k > MLU270_MATMUL_MAX_DIM) {
            return MLU270_ST_BAD_ARGS;
        }
    } else if (j->opcode != MLU270_OP_NOP) {
        if (!j->len || j->len > MLU270_MAX_JOB_LEN) {
            return MLU270_ST_BAD_LEN;
        }
        if (eng == ENG_JPU && j->len % MLU270_JPU_BLOCK) {
            return MLU270_ST_BAD_LEN;
        }
    }

    switch (j->opcode) {
    case MLU270_OP_DMA_H2D:
    case MLU270_OP_IPU_FILL:
        r[nr].addr = j->dst, r[nr++].len = j->len;
        break;
    case MLU270_OP_DMA_D2H:
    case MLU270_OP_IPU_CRC32:
        r[nr].addr = j->src, r[nr++].len = j->len;
        break;
    case MLU270_OP_IPU_MATMUL_I8:
        r[nr].addr = j->src, r[nr++].len = m * k;
        r[nr].addr = j->aux, r[nr++].len = k * n;
        r[nr].addr = j->dst, r[nr++].len = m * n * 4;
        break;
    case MLU270_OP_NOP:
        break;
    default:    /* device src -> device dst */
        r[nr].addr = j->src, r[nr++].len = j->len;
        r[nr].addr = j->dst, r[nr++].len = j->len;
        break;
    }
    for (int i = 0; i < nr; i++) {
        if (!mlu270_in_slice(sl, r[i].addr, r[i].len)) {
            *fault_addr = r[i].addr;
            return MLU270_ST_OUT_OF_SLICE;
        }
    }
    return MLU270_ST_OK;
}

/* Virtual time a job takes (see "Cost model" in the spec). */
static uint64_t mlu270_job_cost(const Mlu270Job *j, const Mlu270Slice *sl,
                                uint32_t status)
{
    uint64_t work;
    unsigned n, total;

    if (status != MLU270_ST_OK) {
        return MLU270_ERROR_COST_NS;
    }
    switch (j->opcode) {
    case MLU270_OP_NOP:
        work = 64;
        break;
    case MLU270_OP_IPU_MATMUL_I8:
        work = (uint64_t)j->arg0 * j->arg1 * j->arg2;
        break;
    default:
        work = j->len;
        break;
    }
    switch (mlu270_op_engine(j->opcode)) {
    case ENG_VPU:
        n = ctpop32(sl->vpu);
        total = MLU270_NUM_VPU;
        break;
    case ENG_JPU:
        n = ctpop32(sl->jpu);
        total = MLU270_NUM_JPU;
        break;
    default:
        n = ctpop32(sl->ipu);
        total = MLU270_NUM_IPU;
        break;
    }
    return work * total / MAX(n, 1);
}

/* What a job of descriptor @desc costs function @fn on its slice now. */
uint64_t mlu270_desc_cost(Mlu270State *s, unsigned fn, const uint8_t *desc)
{
    Mlu270Job j = mlu270_job_parse(desc);
    Mlu270Slice sl = mlu270_slice(s, fn);
    uint64_t fault_addr;

    return mlu270_job_cost(&j, &sl, mlu270_job_check(&j, &sl, &fault_addr));
}

/*
 * Run a validated job: all its effects happen here, at completion time, so
 * an aborted job has none. Returns a status code.
 */
static uint32_t mlu270_job_exec(Mlu270State *s, unsigned fn,
                                const Mlu270Job *j, const Mlu270Slice *sl,
                                uint64_t *result, uint64_t *fault_addr)
{
    uint8_t *mem = mlu270_mem(s) + sl->base;
    uint64_t len = j->len;
    g_autofree uint8_t *in = NULL;
    uint8_t *out;

    *result = 0;
    switch (j->opcode) {
    case MLU270_OP_NOP:
        break;
    case MLU270_OP_DMA_H2D:
        in = g_malloc(len);
        if (!mlu270_dma(s, fn, j->src, in, len, DMA_DIRECTION_TO_DEVICE)) {
            *fault_addr = j->src;
            return MLU270_ST_DMA_ERROR;
        }
        memcpy(mem + j->dst, in, len);
        mlu270_mem_dirty(s, sl->base + j->dst, len);
        break;
    case MLU270_OP_DMA_D2H:
        if (!mlu270_dma(s, fn, j->dst, mem + j->src, len,
                        DMA_DIRECTION_FROM_DEVICE)) {
            *fault_addr = j->dst;
            return MLU270_ST_DMA_ERROR;
        }
        break;
    case MLU270_OP_IPU_MEMCPY:
        memmove(mem + j->dst, mem + j->src, len);
        mlu270_mem_dirty(s, sl->base + j->dst, len);
        break;
    case MLU270_OP_IPU_FILL:
        memset(mem + j->dst, j->arg0 & 0xff, len);
        mlu270_mem_dirty(s, sl->base + j->dst, len);
        break;
    case MLU270_OP_IPU_CRC32:
        *result = mlu270_crc32(mem + j->src, len);
        break;
    case MLU270_OP_IPU_MATMUL_I8: {
        uint32_t m = j->arg0, n = j->arg1, k = j->arg2;
        g_autofree int8_t *a = g_memdup2(mem + j->src, (gsize)m * k);
        g_autofree int8_t *b = g_memdup2(mem + j->aux, (gsize)k * n);

        out = mem + j->dst;
        for (uint32_t r = 0; r < m; r++) {
            for (uint32_t c = 0; c < n; c++) {
                int32_t acc = 0;
                for (uint32_t x = 0; x < k; x++) {
                    acc += a[r * k + x] * b[x * n + c];
                }
                stl_le_p(out + ((uint64_t)r * n + c) * 4, acc);
            }
        }
        mlu270_mem_dirty(s, sl->base + j->dst, (uint64_t)m * n * 4);
        break;
    }
    case MLU270_OP_VPU_DELTA_ENC:
    case MLU270_OP_VPU_DELTA_DEC: {
        uint8_t prev = j->arg0;

        /* Read all input first: overlapping ranges are allowed. */
        in = g_memdup2(mem + j->src, len);
        out = mem + j->dst;
        for (uint64_t i = 0; i < len; i++) {
            if (j->opcode == MLU270_OP_VPU_DELTA_ENC) {
                out[i] = in[i] - prev;
                prev = in[i];
            } else {
                out[i] = prev + in[i];
                prev = out[i];
            }
        }
        mlu270_mem_dirty(s, sl->base + j->dst, len);
        break;
    }
    case MLU270_OP_JPU_ZIGZAG:
    case MLU270_OP_JPU_UNZIGZAG:
        in = g_memdup2(mem + j->src, len);
        out = mem + j->dst;
        for (uint64_t blk = 0; blk < len; blk += MLU270_JPU_BLOCK) {
            for (int k = 0; k < 64; k++) {
                if (j->opcode == MLU270_OP_JPU_ZIGZAG) {
                    out[blk + k] = in[blk + mlu270_zigzag[k]];
                } else {
                    out[blk + mlu270_zigzag[k]] = in[blk + k];
                }
            }
        }
        mlu270_mem_dirty(s, sl->base + j->dst, len);
        break;
    }
    return MLU270_ST_OK;
}

static bool mlu270_q_running(Mlu270Func *f)
{
    return f->q_enabled && !f->q_stopped;
}

/*
 * The ring registers as the job path uses them: checked where they are
 * used, not only where they are written (Q_CTRL enable), so that no path
 * that changes them in between (a reset, a migration stream) can make the
 * job path divide by zero or index out of the ring.
 */
static bool mlu270_q_usable(Mlu270Func *f)
{
    return mlu270_q_running(f) && is_power_of_2(f->q_size) &&
           f->q_size <= MLU270_Q_MAX_SIZE && f->q_head < f->q_size &&
           f->q_tail < f->q_size;
}

/* Stop a queue on a ring error: only this function is affected. */
static void mlu270_q_stop(Mlu270State *s, Mlu270Func *f, uint32_t code,
                          uint64_t addr)
{
    f->q_stopped = 1;
    f->q_error = code;
    if (code == MLU270_ST_DMA_ERROR) {
        mlu270_fault(s, f->index, code, addr);
    }
    mlu270_raise(s, f->index, MLU270_INT_Q_ERROR);
}

/* Write the completion record of the job in slot q_head. */
static bool mlu270_complete(Mlu270State *s, Mlu270Func *f, uint32_t status,
                            uint64_t result)
{
    uint8_t rec[MLU270_CPL_SIZE] = { 0 };
    uint64_t addr = f->cq_base + (uint64_t)f->q_head * MLU270_CPL_SIZE;

    stq_le_p(rec + MLU270_CPL_TAG, ldq_le_p(f->desc + MLU270_DESC_TAG));
    stl_le_p(rec + MLU270_CPL_STATUS, status);
    stl_le_p(rec + MLU270_CPL_SEQ, f->q_done + 1);
    stq_le_p(rec + MLU270_CPL_RESULT, result);
    stq_le_p(rec + MLU270_CPL_DURATION, f->job_cost);
    if (!mlu270_dma(s, f->index, addr, rec, sizeof(rec),
                    DMA_DIRECTION_FROM_DEVICE)) {
        mlu270_q_stop(s, f, MLU270_ST_DMA_ERROR, addr);
        return false;
    }
    if (!mlu270_q_usable(f)) {
        /* (cannot happen: no register changes during the card's DMA) */
        return false;
    }
    f->q_done++;
    f->q_head = (f->q_head + 1) % f->q_size;
    mlu270_raise(s, f->index, MLU270_INT_JOB_DONE);
    return true;
}

/* Start the next job if the queue is idle and not empty. */
void mlu270_q_kick(Mlu270State *s, Mlu270Func *f)
{
    uint64_t addr, fault_addr;
    Mlu270Slice sl;
    Mlu270Job j;
    uint32_t st;

    if (!mlu270_q_usable(f) || f->busy || f->q_head == f->q_tail ||
        f->mig_paused) {
        return;
    }
    addr = f->q_base + (uint64_t)f->q_head * MLU270_DESC_SIZE;
    if (!mlu270_dma(s, f->index, addr, f->desc, MLU270_DESC_SIZE,
                    DMA_DIRECTION_TO_DEVICE)) {
        mlu270_q_stop(s, f, MLU270_ST_DMA_ERROR, addr);
        return;
    }
    j = mlu270_job_parse(f->desc);
    sl = mlu270_slice(s, f->index);
    st = mlu270_job_check(&j, &sl, &fault_addr);
    f->job_cost = mlu270_job_cost(&j, &sl, st);
    f->busy = 1;
    timer_mod_ns(f->timer,
                 qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + f->job_cost);
}

static void mlu270_job_timer(void *opaque)
{
    Mlu270Func *f = opaque;
    Mlu270State *s = f->dev;
    Mlu270Job j = mlu270_job_parse(f->desc);
    Mlu270Slice sl = mlu270_slice(s, f->index);
    uint64_t result = 0, fault_addr = 0;
    uint32_t epoch = f->epoch;
    uint32_t st;

    if (!f->busy) {
        return;
    }
    f->busy = 0;
    if (!mlu270_q_usable(f)) {
        /* (a migration stream that post_load let through cannot do this) */
        return;
    }
    /* Validate again: the slice is what counts at execution time. */
    st = mlu270_job_check(&j, &sl, &fault_addr);
    if (st == MLU270_ST_OK) {
        st = mlu270_job_exec(s, f->index, &j, &sl, &result, &fault_addr);
    }
    if (f->epoch != epoch || !mlu270_q_usable(f)) {
        /* The function was reset meanwhile: the job went with it. */
        return;
    }
    if (st == MLU270_ST_OUT_OF_SLICE || st == MLU270_ST_NO_ENGINE ||
        st == MLU270_ST_DMA_ERROR) {
        mlu270_fault(s, f->index, st, fault_addr);
    }
    if (mlu270_complete(s, f, st, result)) {
        mlu270_q_kick(s, f);
    }
}

/* ---- Resets ------------------------------------------------------------- */

/*
 * Reset one function's state. @scrub zeroes its memory window (so nothing
 * leaks to the next user); @event reports a VF reset to the PF.
 */
static void mlu270_func_reset(Mlu270State *s, unsigned fn, bool scrub,
                              bool event)
{
    Mlu270Func *f = &s->fn[fn];
    uint32_t aborted = f->busy ? 1 : 0;

    timer_del(f->timer);
    timer_del(f->reset_timer);
    f->reset_armed = 0;
    f->epoch++;
    f->scratch = 0;
    f->misuse = 0;
    f->int_status = 0;
    f->int_enable = 0;
    f->q_base = f->cq_base = 0;
    f->q_size = f->q_head = f->q_tail = 0;
    f->q_enabled = f->q_stopped = f->q_error = f->q_done = 0;
    f->busy = 0;
    memset(f->desc, 0, sizeof(f->desc));
    f->job_cost = 0;
    f->aborted = aborted;
    memset(f->vf_msg, 0, sizeof(f->vf_msg));
    memset(f->pf_msg, 0, sizeof(f->pf_msg));
    f->vf_busy = f->pf_busy = 0;
    mlu270_mig_func_reset(s, f, scrub, event);

    if (scrub && mlu270_part_sane(s, fn)) {
        /*
         * All the memory the function could have reached, enabled or not:
         * a VF that is being disabled no longer is when its reset runs,
         * and its memory must not reach the next owner (the PF's native
         * slice, another layout's VF) all the same.
         */
        Mlu270PartEntry *e = &s->part[fn];

        mlu270_mem_zero(s, (uint64_t)e->mem_base_mb * MiB,
                        (uint64_t)e->mem_size_mb * MiB);
    }
    if (scrub) {
        /*
         * Done: an entry that is not sane never gave the function any
         * memory (its slice was empty), so there was nothing to zero.
         */
        s->part[fn].scrubs++;
    }
    if (event && fn) {
        s->vf_event |= 1u << (fn - 1);
        mlu270_raise(s, 0, MLU270_INT_VF_EVENT);
    }
}

static void mlu270_fault_records_clear(Mlu270Func *f)
{
    f->fault_count = f->fault_code = 0;
    f->fault_addr = 0;
}

static void mlu270_reset_all(Mlu270State *s)
{
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        mlu270_func_reset(s, fn, false, false);
        s->fn[fn].aborted = 0;
    }
    mlu270_part_defaults(s);
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        mlu270_fault_records_clear(&s->fn[fn]);
        s->part[fn].scrubs = 0;
    }
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        s->fn[fn].mig_result = s->fn[fn].mig_done = 0;
    }
    mlu270_mig_card_reset(s);
    s->vf_event = 0;
    s->fault_status = s->fault_func = s->fault_code = 0;
    s->fault_addr = 0;
    s->fault_count = 0;
    s->part_rejected = 0;
    mlu270_mem_zero(s, 0, s->mem_size);
}

/* A deferred VF reset whose VF did not acknowledge in time. */
static void mlu270_reset_timer(void *opaque)
{
    Mlu270Func *f = opaque;

    if (f->reset_armed) {
        mlu270_func_reset(f->dev, f->index, true, true);
    }
}

/* ---- Register decoder (shared by PF and VFs) ---------------------------- */

static uint32_t mlu270_pfvf_read(Mlu270State *s, unsigned vf, hwaddr off)
{
    Mlu270Func *f = &s->fn[vf + 1];

    if (off < MLU270_PFVF_PF_MSG) {
        return f->vf_msg[off / 4];
    }
    if (off < MLU270_PFVF_DOORBELL) {
        return f->pf_msg[(off - MLU270_PFVF_PF_MSG) / 4];
    }
    switch (off) {
    case MLU270_PFVF_STATUS:
        return (f->pf_busy ? MLU270_PFVF_STATUS_PF_BUSY : 0) |
               (mlu270_vf_msg_pending(f) ? MLU270_PFVF_STATUS_VF_VALID : 0);
    case MLU270_PFVF_VF_STATE:
        return (mlu270_vf_enabled(s, vf) ? MLU270_VF_STATE_ENABLED : 0) |
               (f->q_enabled ? MLU270_VF_STATE_Q_ENABLED : 0) |
               (f->busy ? MLU270_VF_STATE_IN_FLIGHT : 0);
    case MLU270_PFVF_ABORTED:
        return f->aborted;
    case MLU270_PFVF_MISUSE:
        return f->misuse;
    case MLU270_PFVF_FAULT_COUNT:
        return f->fault_count;
    case MLU270_PFVF_FAULT_CODE:
        return f->fault_code;
    case MLU270_PFVF_FAULT_ADDR_LO:
        return f->fault_addr;
    case MLU270_PFVF_FAULT_ADDR_HI:
        return f->fault_addr >> 32;
    default:
        return 0;
    }
}

static uint32_t mlu270_part_read(Mlu270State *s, unsigned n, hwaddr off)
{
    Mlu270PartEntry *e = &s->part[n];

    switch (off) {
    case MLU270_PART_IPU_MASK:
        return e->ipu_mask;
    case MLU270_PART_VPU_MASK:
        return e->vpu_mask;
    case MLU270_PART_JPU_MASK:
        return e->jpu_mask;
    case MLU270_PART_MEM_BASE_MB:
        return e->mem_base_mb;
    case MLU270_PART_MEM_SIZE_MB:
        return e->mem_size_mb;
    case MLU270_PART_SCRUBS:
        return e->scrubs;
    default:
        return 0;
    }
}

static uint32_t mlu270_reg_read(Mlu270State *s, unsigned fn, hwaddr addr)
{
    Mlu270Func *f = &s->fn[fn];
    bool is_vf = fn != 0;
    Mlu270Slice sl;

    switch (addr) {
    case MLU270_REG_MAGIC:
        return MLU270_RESET_MAGIC;
    case MLU270_REG_VERSION:
        return MLU270_RESET_VERSION;
    case MLU270_REG_FUNC_INFO:
        return fn | (is_vf ? MLU270_FUNC_INFO_IS_VF : 0);
    case MLU270_REG_SCRATCH:
        return f->scratch;
    case MLU270_REG_CAP_IPU:
        return MLU270_NUM_IPU;
    case MLU270_REG_CAP_VPU:
        return MLU270_NUM_VPU;
    case MLU270_REG_CAP_JPU:
        return MLU270_NUM_JPU;
    case MLU270_REG_CAP_MEM_MB:
        return mlu270_mem_mb(s);
    case MLU270_REG_SLICE_IPU:
        return mlu270_slice(s, fn).ipu;
    case MLU270_REG_SLICE_VPU:
        return mlu270_slice(s, fn).vpu;
    case MLU270_REG_SLICE_JPU:
        return mlu270_slice(s, fn).jpu;
    case MLU270_REG_SLICE_MEM_MB:
        sl = mlu270_slice(s, fn);
        return sl.size / MLU270_MIB;
    case MLU270_REG_MISUSE_COUNT:
        return f->misuse;
    case MLU270_REG_INT_STATUS:
        return f->int_status;
    case MLU270_REG_INT_ENABLE:
        return f->int_enable;
    case MLU270_REG_Q_BASE_LO:
        return f->q_base;
    case MLU270_REG_Q_BASE_HI:
        return f->q_base >> 32;
    case MLU270_REG_Q_SIZE:
        return f->q_size;
    case MLU270_REG_Q_HEAD:
        return f->q_head;
    case MLU270_REG_Q_TAIL:
        return f->q_tail;
    case MLU270_REG_Q_CTRL:
        return f->q_enabled ? MLU270_Q_CTRL_ENABLE : 0;
    case MLU270_REG_Q_STATUS:
        return (f->q_enabled ? MLU270_Q_STATUS_ENABLED : 0) |
               (f->busy ? MLU270_Q_STATUS_BUSY : 0) |
               (f->q_stopped ? MLU270_Q_STATUS_STOPPED : 0);
    case MLU270_REG_Q_ERROR:
        return f->q_error;
    case MLU270_REG_CQ_BASE_LO:
        return f->cq_base;
    case MLU270_REG_CQ_BASE_HI:
        return f->cq_base >> 32;
    case MLU270_REG_Q_DONE:
        return f->q_done;
    case MLU270_REG_MB_STATUS:
        return is_vf ? (f->vf_busy ? MLU270_MB_STATUS_OUT_BUSY : 0) |
                       (f->pf_busy ? MLU270_MB_STATUS_IN_VALID : 0) : 0;
    }
    if (addr >= MLU270_REG_MB_OUT && addr < MLU270_REG_MB_IN) {
        return is_vf ? f->vf_msg[(addr - MLU270_REG_MB_OUT) / 4] : 0;
    }
    if (addr >= MLU270_REG_MB_IN && addr < MLU270_REG_MB_IN + 64) {
        return is_vf ? f->pf_msg[(addr - MLU270_REG_MB_IN) / 4] : 0;
    }
    if (is_vf) {
        /* PF-only blocks read as zero from a VF. */
        return 0;
    }
    switch (addr) {
    case MLU270_REG_MB_PENDING: {
        uint32_t p = 0;
        for (unsigned i = 0; i < MLU270_TOTAL_VFS; i++) {
            p |= mlu270_vf_msg_pending(&s->fn[i + 1]) ? 1u << i : 0;
        }
        return p;
    }
    case MLU270_REG_VF_EVENT:
        return s->vf_event;
    case MLU270_REG_NUM_VFS:
        return mlu270_num_vfs(s);
    case MLU270_REG_FAULT_STATUS:
        return s->fault_status;
    case MLU270_REG_FAULT_FUNC:
        return s->fault_func;
    case MLU270_REG_FAULT_CODE:
        return s->fault_code;
    case MLU270_REG_FAULT_ADDR_LO:
        return s->fault_addr;
    case MLU270_REG_FAULT_ADDR_HI:
        return s->fault_addr >> 32;
    case MLU270_REG_FAULT_COUNT:
        return s->fault_count;
    case MLU270_REG_PART_STATUS:
        return (mlu270_vfe(s) ? MLU270_PART_STATUS_LOCKED : 0) |
               (mlu270_part_invalid(s) << 8) |
               (s->part_rejected ? MLU270_PART_STATUS_WRITE_REJECTED : 0);
    }
    if (addr >= MLU270_PFVF_BASE(0) &&
        addr < MLU270_PFVF_BASE(MLU270_TOTAL_VFS)) {
        return mlu270_pfvf_read(s, (addr - MLU270_PFVF_BASE(0)) /
                                MLU270_PFVF_WINDOW_SIZE,
                                addr % MLU270_PFVF_WINDOW_SIZE);
    }
    if (addr >= MLU270_PART_BASE(0) &&
        addr < MLU270_PART_BASE(MLU270_NUM_FUNCS)) {
        return mlu270_part_read(s, (addr - MLU270_PART_BASE(0)) /
                                MLU270_PART_ENTRY_SIZE,
                                addr % MLU270_PART_ENTRY_SIZE);
    }
    if (addr >= MLU270_MIG_BASE(0) &&
        addr < MLU270_MIG_BASE(MLU270_TOTAL_VFS)) {
        return mlu270_mig_read(s, (addr - MLU270_MIG_BASE(0)) /
                               MLU270_MIG_WINDOW_SIZE,
                               addr % MLU270_MIG_WINDOW_SIZE);
    }
    return 0;
}

void mlu270_q_ctrl_write(Mlu270State *s, Mlu270Func *f, uint32_t val)
{
    bool enable = val & MLU270_Q_CTRL_ENABLE;

    if (enable && !f->q_enabled) {
        if (!is_power_of_2(f->q_size) || f->q_size < MLU270_Q_MIN_SIZE ||
            f->q_size > MLU270_Q_MAX_SIZE ||
            f->q_base % MLU270_Q_ALIGN || f->cq_base % MLU270_Q_ALIGN) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "mlu270: function %u: bad queue configuration\n",
                          f->index);
            mlu270_q_stop(s, f, MLU270_ST_BAD_QUEUE, 0);
            return;
        }
        f->q_enabled = 1;
        f->q_stopped = 0;
        f->q_error = 0;
        f->q_head = f->q_tail = f->q_done = 0;
    } else if (!enable && f->q_enabled) {
        if (f->busy) {
            /* Abort: the job has had no effect; report it as ABORTED. */
            timer_del(f->timer);
            f->busy = 0;
            if (!f->q_stopped) {
                mlu270_complete(s, f, MLU270_ST_ABORTED, 0);
            }
        }
        f->q_enabled = 0;
    }
}

static void mlu270_pfvf_write(Mlu270State *s, unsigned vf, hwaddr off,
                              uint32_t val)
{
    Mlu270Func *f = &s->fn[vf + 1];

    if (off >= MLU270_PFVF_PF_MSG && off < MLU270_PFVF_DOORBELL) {
        if (f->pf_busy) {
            mlu270_misuse(s, 0, "PF_MSG of VF %u written while busy", vf);
            return;
        }
        f->pf_msg[(off - MLU270_PFVF_PF_MSG) / 4] = val;
        return;
    }
    switch (off) {
    case MLU270_PFVF_DOORBELL:
        if (!(val & 1)) {
            return;
        }
        if (!mlu270_vf_enabled(s, vf) || f->pf_busy) {
            mlu270_misuse(s, 0, "doorbell to VF %u refused", vf);
            return;
        }
        f->pf_busy = 1;
        mlu270_raise(s, vf + 1, MLU270_INT_MB_RX);
        return;
    case MLU270_PFVF_ACK:
        if (!(val & 1)) {
            return;
        }
        if (!mlu270_vf_msg_pending(f)) {
            mlu270_misuse(s, 0, "ACK of VF %u without a message", vf);
            return;
        }
        f->vf_busy = 0;
        mlu270_raise(s, vf + 1, MLU270_INT_MB_ACK);
        return;
    case MLU270_PFVF_VF_RESET:
        if (!(val & MLU270_VF_RESET_NOW)) {
            return;
        }
        /*
         * A paused VF cannot acknowledge (its guest is stopped for the
         * migration) and the deadline would fire during the pause: the
         * reset happens at once, ending the migration.
         */
        if ((val & MLU270_VF_RESET_ON_ACK) && f->pf_busy &&
            mlu270_vf_enabled(s, vf) && !f->mig_paused) {
            if (!f->reset_armed) {
                f->reset_armed = 1;
                timer_mod(f->reset_timer,
                          qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                          MLU270_VF_RESET_ACK_TIMEOUT_NS);
            }
            return;
        }
        mlu270_func_reset(s, vf + 1, true, true);
        return;
    default:
        mlu270_misuse(s, 0, "write to read-only VF %u window offset 0x%x",
                      vf, (unsigned)off);
    }
}

static void mlu270_part_write(Mlu270State *s, unsigned n, hwaddr off,
                              uint32_t val)
{
    Mlu270PartEntry *e = &s->part[n];

    if (mlu270_vfe(s)) {
        /* The table is locked while VFs exist: isolation must not move. */
        s->part_rejected = 1;
        mlu270_misuse(s, 0, "partition entry %u written while VFs enabled",
                      n);
        return;
    }
    switch (off) {
    case MLU270_PART_IPU_MASK:
        e->ipu_mask = val;
        break;
    case MLU270_PART_VPU_MASK:
        e->vpu_mask = val;
        break;
    case MLU270_PART_JPU_MASK:
        e->jpu_mask = val;
        break;
    case MLU270_PART_MEM_BASE_MB:
        e->mem_base_mb = val;
        break;
    case MLU270_PART_MEM_SIZE_MB:
        e->mem_size_mb = val;
        break;
    default:
        mlu270_misuse(s, 0, "write to unused partition offset 0x%x",
                      (unsigned)off);
    }
}

static void mlu270_reg_write(Mlu270State *s, unsigned fn, hwaddr addr,
                             uint32_t val)
{
    Mlu270Func *f = &s->fn[fn];
    bool is_vf = fn != 0;

    if (is_vf && mlu270_mig_loading(s, fn - 1)) {
        /* LOAD_COMMIT sets the whole state: nothing of this would last. */
        mlu270_misuse(s, fn, "write 0x%x to offset 0x%x while a migration "
                      "stream loads", val, (unsigned)addr);
        return;
    }
    switch (addr) {
    case MLU270_REG_SCRATCH:
        f->scratch = val;
        return;
    case MLU270_REG_INT_STATUS:
        f->int_status &= ~val;
        return;
    case MLU270_REG_INT_ENABLE:
        f->int_enable = val & (is_vf ? MLU270_INT_ALL : MLU270_INT_PF_ALL);
        return;
    case MLU270_REG_Q_BASE_LO:
    case MLU270_REG_Q_BASE_HI:
    case MLU270_REG_Q_SIZE:
    case MLU270_REG_CQ_BASE_LO:
    case MLU270_REG_CQ_BASE_HI:
        if (f->q_enabled) {
            mlu270_misuse(s, fn, "queue register 0x%x written while enabled",
                          (unsigned)addr);
            return;
        }
        if (addr == MLU270_REG_Q_BASE_LO) {
            f->q_base = deposit64(f->q_base, 0, 32, val);
        } else if (addr == MLU270_REG_Q_BASE_HI) {
            f->q_base = deposit64(f->q_base, 32, 32, val);
        } else if (addr == MLU270_REG_CQ_BASE_LO) {
            f->cq_base = deposit64(f->cq_base, 0, 32, val);
        } else if (addr == MLU270_REG_CQ_BASE_HI) {
            f->cq_base = deposit64(f->cq_base, 32, 32, val);
        } else {
            f->q_size = val;
        }
        return;
    case MLU270_REG_Q_TAIL:
        if (!f->q_enabled || val >= f->q_size) {
            mlu270_misuse(s, fn, "bad Q_TAIL %u", val);
            return;
        }
        f->q_tail = val;
        mlu270_q_kick(s, f);
        return;
    case MLU270_REG_Q_CTRL:
        if (f->mig_paused && (f->q_ctrl_held ||
                              (f->busy && !(val & MLU270_Q_CTRL_ENABLE)))) {
            /* Aborting the job writes its completion record: at RESUME. */
            f->q_ctrl_held = MLU270_Q_CTRL_HELD | (val & MLU270_Q_CTRL_ENABLE);
            return;
        }
        mlu270_q_ctrl_write(s, f, val);
        return;
    case MLU270_REG_MB_DOORBELL:
        if (!is_vf) {
            break;
        }
        if (!(val & 1)) {
            return;
        }
        if (f->vf_busy) {
            mlu270_misuse(s, fn, "mailbox doorbell while busy");
            return;
        }
        f->vf_busy = 1;
        if (f->mig_paused) {
            /* Travels with the VF's state; the PF sees it at RESUME. */
            f->mb_held = 1;
            f->pf_int_held |= MLU270_INT_MB_RX;
            return;
        }
        mlu270_raise(s, 0, MLU270_INT_MB_RX);
        return;
    case MLU270_REG_MB_ACK:
        if (!is_vf) {
            break;
        }
        if (!(val & 1)) {
            return;
        }
        if (!f->pf_busy) {
            mlu270_misuse(s, fn, "mailbox ACK without a message");
            return;
        }
        f->pf_busy = 0;
        if (f->mig_paused) {
            f->pf_int_held |= MLU270_INT_MB_ACK;
        } else {
            mlu270_raise(s, 0, MLU270_INT_MB_ACK);
        }
        if (f->reset_armed) {
            /* The VF has read the PF's last word to it: now. */
            mlu270_func_reset(s, fn, true, true);
        }
        return;
    }
    if (is_vf && addr >= MLU270_REG_MB_OUT && addr < MLU270_REG_MB_IN) {
        if (f->vf_busy) {
            mlu270_misuse(s, fn, "MB_OUT written while busy");
            return;
        }
        f->vf_msg[(addr - MLU270_REG_MB_OUT) / 4] = val;
        return;
    }
    if (is_vf || addr < MLU270_PF_ONLY_START) {
        mlu270_misuse(s, fn, "write 0x%x to read-only, unused or PF-only "
                      "offset 0x%x", val, (unsigned)addr);
        return;
    }
    switch (addr) {
    case MLU270_REG_VF_EVENT:
        s->vf_event &= ~val;
        return;
    case MLU270_REG_DEV_CTRL:
        if (val & MLU270_DEV_CTRL_RESET) {
            mlu270_reset_all(s);
        }
        return;
    case MLU270_REG_FAULT_STATUS:
        s->fault_status &= ~val;
        return;
    case MLU270_REG_PART_STATUS:
        if (val & MLU270_PART_STATUS_WRITE_REJECTED) {
            s->part_rejected = 0;
        }
        return;
    }
    if (addr >= MLU270_PFVF_BASE(0) &&
        addr < MLU270_PFVF_BASE(MLU270_TOTAL_VFS)) {
        mlu270_pfvf_write(s, (addr - MLU270_PFVF_BASE(0)) /
                          MLU270_PFVF_WINDOW_SIZE,
                          addr % MLU270_PFVF_WINDOW_SIZE, val);
        return;
    }
    if (addr >= MLU270_PART_BASE(0) &&
        addr < MLU270_PART_BASE(MLU270_NUM_FUNCS)) {
        mlu270_part_write(s, (addr - MLU270_PART_BASE(0)) /
                          MLU270_PART_ENTRY_SIZE,
                          addr % MLU270_PART_ENTRY_SIZE, val);
        return;
    }
    if (addr >= MLU270_MIG_BASE(0) &&
        addr < MLU270_MIG_BASE(MLU270_TOTAL_VFS)) {
        mlu270_mig_write(s, (addr - MLU270_MIG_BASE(0)) /
                         MLU270_MIG_WINDOW_SIZE,
                         addr % MLU270_MIG_WINDOW_SIZE, val);
        return;
    }
    mlu270_misuse(s, fn, "write 0x%x to read-only or unused offset 0x%x",
                  val, (unsigned)addr);
}

/* ---- PF ----------------------------------------------------------------- */

static uint64_t mlu270_pf_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    return mlu270_reg_read(opaque, 0, addr);
}

static void mlu270_pf_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    mlu270_reg_write(opaque, 0, addr, val);
}

static const MemoryRegionOps mlu270_pf_mmio_ops = {
    .read = mlu270_pf_mmio_read,
    .write = mlu270_pf_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static void mlu270_pf_realize(PCIDevice *pci, Error **errp)
{
    Mlu270State *s = MLU270_PF(pci);

    if (s->mem_size < 16 * MiB || s->mem_size > 2 * GiB ||
        s->mem_size % MiB) {
        error_setg(errp, "mlu270: mem-size must be a multiple of 1 MiB "
                   "between 16 MiB and 2 GiB");
        return;
    }
    if (!memory_region_init_ram(&s->devmem, OBJECT(s), "mlu270.devmem",
                                s->mem_size, errp)) {
        return;
    }
    s->written = bitmap_new(s->mem_size / MLU270_CHUNK);
    s->num_pages = s->mem_size / MLU270_PAGE;
    s->pages_words = DIV_ROUND_UP(s->num_pages, 64);
    s->pages_written = g_new0(uint64_t, s->pages_words);
    mlu270_mig_realize(s);

    memory_region_init_io(&s->bar0, OBJECT(s), &mlu270_pf_mmio_ops, s,
                          "mlu270-bar0", MLU270_REG_BAR_SIZE);
    pci_register_bar(pci, MLU270_REG_BAR, PCI_BASE_ADDRESS_MEM_TYPE_64,
                     &s->bar0);
    memory_region_init(&s->msix_bar, OBJECT(s), "mlu270-msix",
                       MLU270_MSIX_BAR_SIZE);
    pci_register_bar(pci, MLU270_MSIX_BAR, PCI_BASE_ADDRESS_MEM_TYPE_64,
                     &s->msix_bar);
    if (msix_init(pci, MLU270_PF_MSIX_VECTORS, &s->msix_bar, MLU270_MSIX_BAR,
                  0, &s->msix_bar, MLU270_MSIX_BAR, MLU270_MSIX_PBA_OFFSET,
                  0, errp)) {
        return;
    }
    for (unsigned v = 0; v < MLU270_PF_MSIX_VECTORS; v++) {
        msix_vector_use(pci, v);
    }
    if (pcie_endpoint_cap_init(pci, MLU270_PCIE_CAP) < 0) {
        error_setg(errp, "mlu270: PCIe capability init failed");
        return;
    }

    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        s->fn[fn].dev = s;
        s->fn[fn].index = fn;
        s->fn[fn].timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, mlu270_job_timer,
                                       &s->fn[fn]);
        s->fn[fn].reset_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                             mlu270_reset_timer, &s->fn[fn]);
    }
    mlu270_part_defaults(s);

    /* Creates and realizes the VFs, which look up s->fn: keep it last. */
    if (!pcie_sriov_pf_init(pci, MLU270_SRIOV_CAP_OFFSET, TYPE_MLU270_VF,
                            MLU270_VF_DEVICE_ID, MLU270_TOTAL_VFS,
                            MLU270_TOTAL_VFS, 1, 1, errp)) {
        return;
    }
    pcie_sriov_pf_init_vf_bar(pci, MLU270_REG_BAR,
                              PCI_BASE_ADDRESS_MEM_TYPE_64,
                              MLU270_REG_BAR_SIZE);
    pcie_sriov_pf_init_vf_bar(pci, MLU270_MSIX_BAR,
                              PCI_BASE_ADDRESS_MEM_TYPE_64,
                              MLU270_MSIX_BAR_SIZE);
}

static void mlu270_pf_exit(PCIDevice *pci)
{
    Mlu270State *s = MLU270_PF(pci);

    pcie_sriov_pf_exit(pci);
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        if (s->fn[fn].timer) {
            timer_free(s->fn[fn].timer);
            timer_free(s->fn[fn].reset_timer);
            s->fn[fn].timer = NULL;
            s->fn[fn].reset_timer = NULL;
        }
    }
    g_free(s->vf_saved);
    s->vf_saved = NULL;
    g_free(s->written);
    s->written = NULL;
    g_free(s->pages_written);
    s->pages_written = NULL;
    mlu270_mig_exit(s);
    msix_uninit(pci, &s->msix_bar, &s->msix_bar);
    pcie_cap_exit(pci);
}

static void mlu270_pf_write_config(PCIDevice *pci, uint32_t addr,
                                   uint32_t val, int len)
{
    Mlu270State *s = MLU270_PF(pci);
    bool vfe = mlu270_vfe(s);

    pci_default_write_config(pci, addr, val, len);
    pcie_sriov_config_write(pci, addr, val, len);
    if (!vfe && mlu270_vfe(s) && !s->restoring) {
        /*
         * The PF's native use ends and the VFs' begins: nothing of the
         * PF's native users may reach a VF (the appearing VFs' own resets
         * only zero their windows). The VFs' fault records start over.
         */
        mlu270_mem_zero(s, 0, s->mem_size);
        s->part[0].scrubs++;
        for (unsigned fn = 1; fn < MLU270_NUM_FUNCS; fn++) {
            mlu270_fault_records_clear(&s->fn[fn]);
        }
    }
}

static void mlu270_pf_reset(DeviceState *dev)
{
    /* pci_do_device_reset() resets the SR-IOV capability itself. */
    mlu270_reset_all(MLU270_PF(dev));
}

static int mlu270_pf_pre_load(void *opaque)
{
    Mlu270State *s = opaque;
    PCIDevice *pci = PCI_DEVICE(s);

    /* Loaded job state replaces whatever was running here. */
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        timer_del(s->fn[fn].timer);
        timer_del(s->fn[fn].reset_timer);
    }
    g_free(s->vf_saved);
    s->vf_saved = g_new(Mlu270VfSnapshot, MLU270_TOTAL_VFS);
    for (unsigned i = 0; i < MLU270_TOTAL_VFS; i++) {
        PCIDevice *vf = pci->exp.sriov_pf.vf[i];
        Mlu270VfSnapshot *v = &s->vf_saved[i];

        memcpy(v->config, vf->config, sizeof(v->config));
        memcpy(v->table, vf->msix_table, sizeof(v->table));
        memcpy(v->pba, vf->msix_pba, sizeof(v->pba));
    }
    s->restoring = true;
    return 0;
}

bool mlu270_flag(uint32_t v)
{
    return v == 0 || v == 1;
}

/*
 * What is wrong with the state of function @fn as a migration stream
 * brought it, or NULL: every value the device could not have reached
 * through its registers. (The partition table is not checked: any value
 * can be written to it, and it is checked where it is used.)
 */
const char *mlu270_func_state_invalid(Mlu270State *s, unsigned fn)
{
    Mlu270Func *f = &s->fn[fn];
    bool enabled = fn == 0 || mlu270_vf_enabled(s, fn - 1);

    if (!mlu270_flag(f->q_enabled) || !mlu270_flag(f->q_stopped) ||
        !mlu270_flag(f->busy) || !mlu270_flag(f->aborted) ||
        !mlu270_flag(f->vf_busy) || !mlu270_flag(f->pf_busy) ||
        !mlu270_flag(f->reset_armed)) {
        return "a flag is neither 0 nor 1";
    }
    if ((f->int_status | f->int_enable) &
        ~(fn ? MLU270_INT_ALL : MLU270_INT_PF_ALL)) {
        return "unknown interrupt causes";
    }
    if (f->q_error > MLU270_ST_BAD_QUEUE) {
        return "unknown queue error";
    }
    if (f->reset_armed && (fn == 0 || !f->pf_busy ||
                           !timer_pending(f->reset_timer))) {
        return "a deferred reset without a message or a deadline";
    }
    if (!enabled && (f->q_enabled || f->busy || f->vf_busy || f->pf_busy ||
                     f->reset_armed)) {
        return "a disabled VF with a queue or a message";
    }
    if (f->q_enabled && (!is_power_of_2(f->q_size) ||
                         f->q_size > MLU270_Q_MAX_SIZE ||
                         f->q_head >= f->q_size || f->q_tail >= f->q_size ||
                         f->q_base % MLU270_Q_ALIGN ||
                         f->cq_base % MLU270_Q_ALIGN)) {
        return "queue geometry";
    }
    if (f->busy && !mlu270_q_usable(f)) {
        return "a job in flight on a queue that is not running";
    }
    if (f->fault_code > MLU270_ST_BAD_QUEUE ||
        (f->fault_count == 0 && (f->fault_code || f->fault_addr))) {
        return "fault record";
    }
    return mlu270_mig_state_invalid(f, fn != 0 && enabled);
}

static int mlu270_pf_post_load(void *opaque, int version_id)
{
    Mlu270State *s = opaque;
    PCIDevice *pci = PCI_DEVICE(s);

    s->restoring = false;

    /*
     * The stream comes from elsewhere: refuse one that the device could
     * not have produced instead of running with it.
     */
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        const char *why = mlu270_func_state_invalid(s, fn);

        if (why) {
            error_report("mlu270: migration stream: function %u: %s",
                         fn, why);
            goto invalid;
        }
    }
    {
        unsigned vf = 0;
        const char *why = mlu270_mig_streams_invalid(s, &vf);

        if (why) {
            error_report("mlu270: migration stream: VF %u migration: %s",
                         vf, why);
            goto invalid;
        }
    }
    if (s->fault_func >= MLU270_NUM_FUNCS ||
        s->fault_code > MLU270_ST_BAD_QUEUE ||
        s->fault_status & ~MAKE_64BIT_MASK(0, MLU270_NUM_FUNCS) ||
        s->part_rejected & ~MAKE_64BIT_MASK(0, MLU270_NUM_FUNCS) ||
        s->vf_event & ~MAKE_64BIT_MASK(0, MLU270_TOTAL_VFS)) {
        error_report("mlu270: migration stream: fault or event registers");
        goto invalid;
    }
    mlu270_mem_find_written(s);

    /* The VFs are enabled again by now (see "restoring"). */
    for (unsigned i = 0; s->vf_saved && i < mlu270_num_vfs(s); i++) {
        PCIDevice *vf = pci->exp.sriov_pf.vf[i];
        Mlu270VfSnapshot *v = &s->vf_saved[i];
        uint16_t flags;

        memcpy(vf->config, v->config, sizeof(v->config));
        memcpy(vf->msix_table, v->table, sizeof(v->table));
        memcpy(vf->msix_pba, v->pba, sizeof(v->pba));
        /* Re-apply BAR mappings, bus mastering and the MSI-X state. */
        pci_default_write_config(vf, PCI_COMMAND,
                                 pci_get_word(vf->config + PCI_COMMAND), 2);
        flags = pci_get_word(vf->config + vf->msix_cap + PCI_MSIX_FLAGS);
        pci_default_write_config(vf, vf->msix_cap + PCI_MSIX_FLAGS, flags, 2);
    }
    g_free(s->vf_saved);
    s->vf_saved = NULL;
    return 0;

invalid:
    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        timer_del(s->fn[fn].timer);
        timer_del(s->fn[fn].reset_timer);
    }
    for (unsigned vf = 0; vf < MLU270_TOTAL_VFS; vf++) {
        timer_del(s->mig[vf].timer);
    }
    g_free(s->vf_saved);
    s->vf_saved = NULL;
    return -EINVAL;
}

static const VMStateDescription vmstate_mlu270_func = {
    .name = "mlu270/function",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(scratch, Mlu270Func),
        VMSTATE_UINT32(misuse, Mlu270Func),
        VMSTATE_UINT32(int_status, Mlu270Func),
        VMSTATE_UINT32(int_enable, Mlu270Func),
        VMSTATE_UINT64(q_base, Mlu270Func),
        VMSTATE_UINT64(cq_base, Mlu270Func),
        VMSTATE_UINT32(q_size, Mlu270Func),
        VMSTATE_UINT32(q_head, Mlu270Func),
        VMSTATE_UINT32(q_tail, Mlu270Func),
        VMSTATE_UINT32(q_enabled, Mlu270Func),
        VMSTATE_UINT32(q_stopped, Mlu270Func),
        VMSTATE_UINT32(q_error, Mlu270Func),
        VMSTATE_UINT32(q_done, Mlu270Func),
        VMSTATE_UINT32(busy, Mlu270Func),
        VMSTATE_UINT8_ARRAY(desc, Mlu270Func, MLU270_DESC_SIZE),
        VMSTATE_UINT64(job_cost, Mlu270Func),
        VMSTATE_UINT32(aborted, Mlu270Func),
        VMSTATE_TIMER_PTR(timer, Mlu270Func),
        VMSTATE_UINT32_ARRAY(vf_msg, Mlu270Func, MLU270_MB_WORDS),
        VMSTATE_UINT32_ARRAY(pf_msg, Mlu270Func, MLU270_MB_WORDS),
        VMSTATE_UINT32(vf_busy, Mlu270Func),
        VMSTATE_UINT32(pf_busy, Mlu270Func),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_mlu270_part = {
    .name = "mlu270/partition",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(ipu_mask, Mlu270PartEntry),
        VMSTATE_UINT32(vpu_mask, Mlu270PartEntry),
        VMSTATE_UINT32(jpu_mask, Mlu270PartEntry),
        VMSTATE_UINT32(mem_base_mb, Mlu270PartEntry),
        VMSTATE_UINT32(mem_size_mb, Mlu270PartEntry),
        VMSTATE_END_OF_LIST()
    },
};

/* Sent only when there is something in it: older targets can then load. */
static bool mlu270_records_needed(void *opaque)
{
    Mlu270State *s = opaque;

    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        if (s->fn[fn].fault_count || s->fn[fn].fault_code ||
            s->fn[fn].fault_addr || s->fn[fn].reset_armed ||
            s->part[fn].scrubs) {
            return true;
        }
    }
    return false;
}

/*
 * Registers added after version 1: per-function fault records and the
 * partition entries' scrub counts. A stream without them (an older
 * source) leaves them zero, which is a state the device can be in.
 */
static const VMStateDescription vmstate_mlu270_func_records = {
    .name = "mlu270/function/records",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(fault_count, Mlu270Func),
        VMSTATE_UINT32(fault_code, Mlu270Func),
        VMSTATE_UINT64(fault_addr, Mlu270Func),
        VMSTATE_UINT32(reset_armed, Mlu270Func),
        VMSTATE_TIMER_PTR(reset_timer, Mlu270Func),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_mlu270_part_records = {
    .name = "mlu270/partition/records",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(scrubs, Mlu270PartEntry),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_mlu270_records = {
    .name = "mlu270/records",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = mlu270_records_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(fn, Mlu270State, MLU270_NUM_FUNCS, 1,
                             vmstate_mlu270_func_records, Mlu270Func),
        VMSTATE_STRUCT_ARRAY(part, Mlu270State, MLU270_NUM_FUNCS, 1,
                             vmstate_mlu270_part_records, Mlu270PartEntry),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_mlu270 = {
    .name = "mlu270",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_load = mlu270_pf_pre_load,
    .post_load = mlu270_pf_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, Mlu270State),
        VMSTATE_MSIX(parent_obj, Mlu270State),
        VMSTATE_STRUCT_ARRAY(fn, Mlu270State, MLU270_NUM_FUNCS, 1,
                             vmstate_mlu270_func, Mlu270Func),
        VMSTATE_STRUCT_ARRAY(part, Mlu270State, MLU270_NUM_FUNCS, 1,
                             vmstate_mlu270_part, Mlu270PartEntry),
        VMSTATE_UINT32(vf_event, Mlu270State),
        VMSTATE_UINT32(fault_status, Mlu270State),
        VMSTATE_UINT32(fault_func, Mlu270State),
        VMSTATE_UINT32(fault_code, Mlu270State),
        VMSTATE_UINT64(fault_addr, Mlu270State),
        VMSTATE_UINT32(fault_count, Mlu270State),
        VMSTATE_UINT32(part_rejected, Mlu270State),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_mlu270_records,
        &vmstate_mlu270_vf_migration,
        &vmstate_mlu270_vf_streams,
        NULL
    },
};

static const Property mlu270_pf_properties[] = {
    DEFINE_PROP_SIZE("mem-size", Mlu270State, mem_size, 256 * MiB),
};

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
    device_class_set_props(dc, mlu270_pf_properties);
    dc->vmsd = &vmstate_mlu270;
    dc->desc = "Emulated MLU270 accelerator (SR-IOV PF)";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

/* ---- VF ----------------------------------------------------------------- */

static Mlu270State *mlu270_vf_pf(PCIDevice *vf)
{
    return MLU270_PF(pcie_sriov_get_pf(vf));
}

static unsigned mlu270_vf_fn(PCIDevice *vf)
{
    return pcie_sriov_vf_number(vf) + 1;
}

static uint64_t mlu270_vf_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    PCIDevice *vf = opaque;

    return mlu270_reg_read(mlu270_vf_pf(vf), mlu270_vf_fn(vf), addr);
}

static void mlu270_vf_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    PCIDevice *vf = opaque;

    mlu270_reg_write(mlu270_vf_pf(vf), mlu270_vf_fn(vf), addr, val);
}

static const MemoryRegionOps mlu270_vf_mmio_ops = {
    .read = mlu270_vf_mmio_read,
    .write = mlu270_vf_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static void mlu270_vf_realize(PCIDevice *pci, Error **errp)
{
    Mlu270VfState *s = MLU270_VF(pci);

    memory_region_init_io(&s->bar0, OBJECT(s), &mlu270_vf_mmio_ops, pci,
                          "mlu270-vf-bar0", MLU270_REG_BAR_SIZE);
    pci_register_bar(pci, MLU270_REG_BAR, PCI_BASE_ADDRESS_MEM_TYPE_64,
                     &s->bar0);
    memory_region_init(&s->msix_bar, OBJECT(s), "mlu270-vf-msix",
                       MLU270_MSIX_BAR_SIZE);
    pci_register_bar(pci, MLU270_MSIX_BAR, PCI_BASE_ADDRESS_MEM_TYPE_64,
                     &s->msix_bar);
    if (msix_init(pci, MLU270_VF_MSIX_VECTORS, &s->msix_bar, MLU270_MSIX_BAR,
                  0, &s->msix_bar, MLU270_MSIX_BAR, MLU270_MSIX_PBA_OFFSET,
                  0, errp)) {
        return;
    }
    for (unsigned v = 0; v < MLU270_VF_MSIX_VECTORS; v++) {
        msix_vector_use(pci, v);
    }
    if (pcie_endpoint_cap_init(pci, MLU270_PCIE_CAP) < 0) {
        error_setg(errp, "mlu270-vf: PCIe capability init failed");
        return;
    }
    pcie_cap_flr_init(pci);
}

static void mlu270_vf_exit(PCIDevice *pci)
{
    Mlu270VfState *s = MLU270_VF(pci);

    msix_uninit(pci, &s->msix_bar, &s->msix_bar);
    pcie_cap_exit(pci);
}

static void mlu270_vf_write_config(PCIDevice *pci, uint32_t addr,
                                   uint32_t val, int len)
{
    pci_default_write_config(pci, addr, val, len);
    pcie_cap_flr_write_config(pci, addr, val, len);
}

/*
 * Called for FLR, for VF enable/disable (pci_set_enabled) and for system
 * reset. Only an FLR is reported to the PF; the BCR_FLR bit is still set
 * while the reset handler runs (see pcie_cap_flr_write_config()).
 */
static void mlu270_vf_reset_hold(Object *obj, ResetType type)
{
    PCIDevice *vf = PCI_DEVICE(obj);
    Mlu270State *s = mlu270_vf_pf(vf);
    bool flr = pci_get_word(vf->config + vf->exp.exp_cap + PCI_EXP_DEVCTL) &
               PCI_EXP_DEVCTL_BCR_FLR;

    if (!s || s->restoring) {
        return;
    }
    mlu270_func_reset(s, mlu270_vf_fn(vf), true, flr);
}

static const VMStateDescription vmstate_mlu270_vf = {
    .name = "mlu270-vf",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, Mlu270VfState),
        VMSTATE_MSIX(parent_obj, Mlu270VfState),
        VMSTATE_END_OF_LIST()
    },
};

static void mlu270_vf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = mlu270_vf_realize;
    k->exit = mlu270_vf_exit;
    k->config_write = mlu270_vf_write_config;
    k->vendor_id = MLU270_VENDOR_ID;
    k->device_id = MLU270_VF_DEVICE_ID;
    k->class_id = PCI_CLASS_PROCESSOR_CO;
    rc->phases.hold = mlu270_vf_reset_hold;
    dc->vmsd = &vmstate_mlu270_vf;
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
