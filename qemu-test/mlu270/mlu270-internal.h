/*
 * Emulated MLU270: the state shared by the model's files (mlu270.c: the
 * card; mlu270-mig.c: a VF's live migration) and the helpers each uses
 * of the other. Not an interface: the guest-visible contract is
 * mlu270_regs.h and Documentation/accel/mlu270/hardware.rst.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MLU270_INTERNAL_H
#define MLU270_INTERNAL_H

#include "qemu/timer.h"
#include "qemu/units.h"
#include "hw/pci/pci_device.h"
#include "migration/vmstate.h"
#include "mlu270_regs.h"

#define TYPE_MLU270_PF "mlu270"
#define TYPE_MLU270_VF "mlu270-vf"

#define MLU270_MB_WORDS (MLU270_MB_MSG_SIZE / 4)
#define MLU270_PCIE_CAP 0x80
/* Mlu270Func.q_ctrl_held: a Q_CTRL write held by a migration pause. */
#define MLU270_Q_CTRL_HELD (1u << 31)
/* No job costs more (16 MiB on the emptiest slice at 16 ns a byte). */
#define MLU270_MAX_JOB_NS (1ULL << 32)

typedef struct Mlu270State Mlu270State;

/* Device memory: dirty tracking in 1 MiB chunks (scrub), 4 KiB pages. */
#define MLU270_CHUNK            (1 * MiB)
#define MLU270_PAGE             MLU270_MIG_PAGE_SIZE
/* Pages of the largest slice that can migrate. */
#define MLU270_MIG_MAX_PAGES    (MLU270_MIG_MAX_SLICE_MB * MiB / MLU270_PAGE)
#define MLU270_MIG_PAGE_WORDS   (MLU270_MIG_MAX_PAGES / 64)
/* Header, section table and the fixed sections of a state blob. */
#define MLU270_BLOB_PREFIX_MAX  (MLU270_BLOB_HDR_SIZE + \
                                 5 * MLU270_BLOB_SECT_SIZE + \
                                 MLU270_SECT_DESCRIPTOR_SIZE + \
                                 MLU270_SECT_REGISTERS_SIZE + \
                                 MLU270_SECT_MAILBOX_SIZE)
#define MLU270_BLOB_TABLE_MAX   (MLU270_BLOB_HDR_SIZE + \
                                 MLU270_BLOB_MAX_SECTS * MLU270_BLOB_SECT_SIZE)

/*
 * The blob a VF's stream built and the PF reads (SAVE_READ). The fixed
 * parts are built at once; the pages are read from the slice as the
 * reads come (a pages blob is read while the VF runs), in runs of set
 * bits of @pages, each followed by the CRC of the bytes actually sent.
 */
typedef struct Mlu270MigBlob {
    uint32_t kind;              /* 0: none built */
    uint32_t prefix_len;        /* header, table, fixed sections */
    uint32_t suffix_len;        /* END */
    uint64_t pages_len;         /* the PAGES section */
    uint64_t total;
    uint64_t base;              /* the slice's, when it was built */
    uint32_t npages;            /* pages of the slice */
    uint8_t prefix[MLU270_BLOB_PREFIX_MAX];
    uint8_t suffix[MLU270_SECT_END_SIZE];
    uint64_t pages[MLU270_MIG_PAGE_WORDS];
    /* Read cursor: reads are sequential. */
    uint64_t rd_off;
    uint32_t rd_next_page;      /* first page past the runs begun */
    uint32_t run_start, run_count;
    uint32_t run_pos;           /* bytes of the current run sent */
    uint32_t run_crc;           /* CRC of those bytes */
} Mlu270MigBlob;

/* A stream being loaded into a VF (LOAD_BEGIN .. LOAD_COMMIT). */
typedef struct Mlu270MigLoad {
    uint64_t taken;             /* stream bytes taken so far */
    uint32_t blobs;             /* blobs complete */
    uint32_t complete;          /* the state blob is complete */
    uint8_t first_desc[MLU270_SECT_DESCRIPTOR_SIZE];
    /* The blob being received. */
    uint64_t blob_off;
    uint8_t table[MLU270_BLOB_TABLE_MAX];
    uint32_t kind, nsect, sect;
    uint64_t total;
    uint8_t sect_buf[MLU270_SECT_REGISTERS_SIZE];
    /* A run of the PAGES section. */
    uint8_t run_hdr[MLU270_RUN_HDR_SIZE + 4];
    uint32_t run_start, run_count, run_crc;
    uint64_t run_pos;
    uint64_t seen[MLU270_MIG_PAGE_WORDS];   /* pages of this blob */
    /* What LOAD_COMMIT applies. */
    uint8_t regs[MLU270_SECT_REGISTERS_SIZE];
    uint8_t mbox[MLU270_SECT_MAILBOX_SIZE];
} Mlu270MigLoad;

/*
 * VF i's migration window and what its commands keep
 * (Documentation/accel/mlu270/migration.rst). Everything here is the
 * card's; the BQL serialises all of it.
 */
typedef struct Mlu270Mig {
    Mlu270State *dev;           /* not migrated: set at realize */
    uint32_t vf;                /* not migrated: set at realize */
    QEMUTimer *timer;           /* ends the command that moves data */
    uint32_t cmd;               /* that command while BUSY, else 0 */
    uint64_t addr, off, size;
    uint32_t len, arg;

    uint32_t stream;            /* a stream is open */
    uint64_t stream_id;
    uint32_t blob_no;           /* number of the next blob built */
    uint32_t word;              /* the PF driver's word */
    uint32_t tracking;
    Mlu270MigBlob blob;

    uint32_t loading;
    Mlu270MigLoad load;

    /* DMA logging: ranges sorted by IOVA, their bits back to back. */
    uint32_t log_on;
    uint32_t log_shift;
    uint32_t log_nranges;
    uint64_t log_iova[MLU270_MIG_MAX_RANGES];
    uint64_t log_len[MLU270_MIG_MAX_RANGES];
    uint64_t log_bit0[MLU270_MIG_MAX_RANGES];
    uint32_t log_nbits;
    uint32_t log_words;         /* of log_bits */
    uint64_t *log_bits;
} Mlu270Mig;

/* A VF's PCI state, kept across pcie_sriov_pf_post_load() on migration. */
typedef struct Mlu270VfSnapshot {
    uint8_t config[PCIE_CONFIG_SPACE_SIZE];
    uint8_t table[MLU270_VF_MSIX_VECTORS * PCI_MSIX_ENTRY_SIZE];
    uint8_t pba[8];
} Mlu270VfSnapshot;

/* One partition table entry, in the units of the registers. */
typedef struct Mlu270PartEntry {
    uint32_t ipu_mask;
    uint32_t vpu_mask;
    uint32_t jpu_mask;
    uint32_t mem_base_mb;
    uint32_t mem_size_mb;
    /*
     * Times the card finished zeroing the memory of this entry's function
     * (PART_SCRUBS): the PF checks it instead of trusting that it did.
     */
    uint32_t scrubs;
} Mlu270PartEntry;

/* The resources a function may use right now, memory in bytes. */
typedef struct Mlu270Slice {
    uint32_t ipu, vpu, jpu;
    uint64_t base, size;
} Mlu270Slice;

typedef struct Mlu270Func {
    Mlu270State *dev;           /* not migrated: set at realize */
    uint32_t index;             /* not migrated: set at realize */
    QEMUTimer *timer;           /* completes the job in flight */
    QEMUTimer *reset_timer;     /* a VF's deferred reset: its deadline */
    /*
     * Not migrated: counts this function's resets, so that a job path
     * that let go of the function (DMA, an interrupt) can tell that the
     * function it was working for is gone.
     */
    uint32_t epoch;

    uint32_t scratch;
    uint32_t misuse;
    uint32_t int_status;
    uint32_t int_enable;

    uint64_t q_base;
    uint64_t cq_base;
    uint32_t q_size;
    uint32_t q_head;
    uint32_t q_tail;
    uint32_t q_enabled;
    uint32_t q_stopped;
    uint32_t q_error;
    uint32_t q_done;

    /* The job in flight: its raw descriptor, ring slot and cost. */
    uint32_t busy;
    uint8_t desc[MLU270_DESC_SIZE];
    uint64_t job_cost;
    uint32_t aborted;

    /* Mailbox of a VF: VF->PF and PF->VF one-slot channels. */
    uint32_t vf_msg[MLU270_MB_WORDS];
    uint32_t pf_msg[MLU270_MB_WORDS];
    uint32_t vf_busy;           /* VF OUT_BUSY == PF VF_VALID == pending */
    uint32_t pf_busy;           /* PF PF_BUSY == VF IN_VALID */

    /*
     * This function's faults (the PF's per-VF FAULT_* window registers):
     * a count that only VF Enable and a device reset clear, and the last
     * one. Kept per function so that no fault is charged to, or reported
     * to, a function that did not cause it.
     */
    uint32_t fault_count;
    uint32_t fault_code;
    uint64_t fault_addr;

    /*
     * VF_RESET ON_ACK: the PF asked for this VF's reset once the VF has
     * read the PF's message (or at reset_timer's deadline), so that the
     * PF never waits for a guest.
     */
    uint32_t reset_armed;

    /*
     * Migration pause of a VF (MIG_CMD PAUSE/RESUME, migration.rst): the
     * card fetches nothing, completes nothing, does no DMA and sends none
     * of the VF's messages; what the guest does meanwhile is recorded and
     * takes effect at RESUME. @job_left is the virtual time the job in
     * flight still needs (its timer is stopped); @int_held the VF's
     * causes whose messages wait; @pf_int_held the PF's causes the VF's
     * mailbox raised (its doorbell or ACK), delivered at RESUME together
     * with the message (@mb_held: OUT_BUSY is set, but the PF does not
     * see the message yet); @q_ctrl_held a Q_CTRL write that would abort
     * the job in flight (its completion record is DMA), bit 31 = held.
     */
    uint32_t mig_paused;
    uint64_t job_left;
    uint32_t int_held;
    uint32_t pf_int_held;
    uint32_t mb_held;
    uint32_t q_ctrl_held;
    /* The PF's view of the last migration command: results, not state. */
    uint32_t mig_result;
    uint32_t mig_done;
} Mlu270Func;

struct Mlu270State {
    PCIDevice parent_obj;

    MemoryRegion bar0;
    MemoryRegion msix_bar;
    MemoryRegion devmem;        /* RAM, so migration carries it */
    uint64_t mem_size;
    /*
     * Bit c set: 1 MiB chunk c of devmem may hold something else than
     * zeroes (the card wrote it since it last zeroed it). A reset zeroes
     * only these chunks, so the work a guest can make it do is bounded by
     * what the guest wrote, not by the size of its window. Not migrated:
     * post_load derives it from the memory that came with the stream.
     */
    unsigned long *written;

    /*
     * Bit p set: 4 KiB page p of devmem was written since a VF's
     * migration tracking last took it (MIG TRACK_START, PRECOPY_ROUND).
     */
    uint64_t *pages_written;
    uint32_t num_pages;
    uint32_t pages_words;       /* of pages_written */

    Mlu270Func fn[MLU270_NUM_FUNCS];
    Mlu270PartEntry part[MLU270_NUM_FUNCS];
    Mlu270Mig mig[MLU270_TOTAL_VFS];

    uint32_t vf_event;
    uint32_t fault_status;
    uint32_t fault_func;
    uint32_t fault_code;
    uint64_t fault_addr;
    uint32_t fault_count;
    uint32_t part_rejected;

    /*
     * Set from pre_load to post_load on the migration target: loading the
     * PF's PCI config runs pcie_sriov_pf_post_load(), which re-enables and
     * thereby resets the VFs. That reset must not scrub the device memory
     * that was just loaded, and the VFs' PCI state (loaded before the PF,
     * as they were registered first) is restored from vf_saved.
     */
    bool restoring;
    Mlu270VfSnapshot *vf_saved;
};

OBJECT_DECLARE_SIMPLE_TYPE(Mlu270State, MLU270_PF)

/* Bits [first, end) of a page bitmap. */
static inline void mlu270_pages_set(uint64_t *map, uint64_t first,
                                    uint64_t end)
{
    for (uint64_t p = first; p < end; p++) {
        map[p / 64] |= 1ULL << (p % 64);
    }
}

static inline bool mlu270_page_test(const uint64_t *map, uint64_t p)
{
    return map[p / 64] & (1ULL << (p % 64));
}

/* mlu270.c */
bool mlu270_vf_enabled(Mlu270State *s, unsigned vf);
PCIDevice *mlu270_func_pci(Mlu270State *s, unsigned fn);
bool mlu270_dma(Mlu270State *s, unsigned fn, dma_addr_t addr, void *buf,
                dma_addr_t len, DMADirection dir);
uint32_t mlu270_crc32_update(uint32_t crc, const uint8_t *p, uint64_t len);
Mlu270Slice mlu270_slice(Mlu270State *s, unsigned fn);
uint8_t *mlu270_mem(Mlu270State *s);
void mlu270_mem_dirty(Mlu270State *s, uint64_t phys, uint64_t len);
void mlu270_mem_zero(Mlu270State *s, uint64_t phys, uint64_t len);
uint64_t mlu270_desc_cost(Mlu270State *s, unsigned fn, const uint8_t *desc);
const char *mlu270_func_state_invalid(Mlu270State *s, unsigned fn);
void G_GNUC_PRINTF(3, 4) mlu270_misuse(Mlu270State *s, unsigned fn,
                                       const char *fmt, ...);
void mlu270_raise(Mlu270State *s, unsigned fn, uint32_t bits);
void mlu270_q_kick(Mlu270State *s, Mlu270Func *f);
void mlu270_q_ctrl_write(Mlu270State *s, Mlu270Func *f, uint32_t val);
bool mlu270_flag(uint32_t v);

/* mlu270-mig.c */
bool mlu270_vf_msg_pending(Mlu270Func *f);
uint32_t mlu270_mig_read(Mlu270State *s, unsigned vf, hwaddr off);
void mlu270_mig_write(Mlu270State *s, unsigned vf, hwaddr off, uint32_t val);
void mlu270_mig_func_reset(Mlu270State *s, Mlu270Func *f, bool scrub,
                           bool event);
void mlu270_mig_card_reset(Mlu270State *s);
void mlu270_mig_realize(Mlu270State *s);
void mlu270_mig_exit(Mlu270State *s);
bool mlu270_mig_loading(Mlu270State *s, unsigned vf);
void mlu270_mig_log_dma(Mlu270State *s, unsigned vf, uint64_t addr,
                        uint64_t len);
const char *mlu270_mig_state_invalid(Mlu270Func *f, bool can_pause);
const char *mlu270_mig_streams_invalid(Mlu270State *s, unsigned *bad_vf);
extern const VMStateDescription vmstate_mlu270_vf_migration;
extern const VMStateDescription vmstate_mlu270_vf_streams;

#endif /* MLU270_INTERNAL_H */
