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

    Mlu270Func fn[MLU270_NUM_FUNCS];
    Mlu270PartEntry part[MLU270_NUM_FUNCS];

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

/* mlu270.c */
bool mlu270_vf_enabled(Mlu270State *s, unsigned vf);
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
void mlu270_mig_func_reset(Mlu270Func *f);
const char *mlu270_mig_state_invalid(Mlu270Func *f, bool can_pause);
extern const VMStateDescription vmstate_mlu270_vf_migration;

#endif /* MLU270_INTERNAL_H */
