// SPDX-License-Identifier: GPL-2.0

//! MLU270 register definitions, shared by the PF and VF drivers.
//!
//! The single source of truth is `Documentation/accel/mlu270/hardware.rst`
//! (checked against the device model's `mlu270_regs.h` by `make check`).
//! Every register is 32 bits wide, little-endian, in BAR 0.
//!
//! Included into each driver with `#[path = "../common/regs.rs"] mod regs;`.

// Each driver uses only the registers of its own side.
#![allow(dead_code, unreachable_pub)]

use kernel::{
    io::{register, Io},
    pci,
    prelude::*,
};

/// Size of BAR 0 (registers) on the PF and on every VF.
pub const BAR0_SIZE: usize = 0x4000;

/// `MAGIC` value: "2ULM".
pub const MAGIC: u32 = 0x4d4c_5532;

/// Major interface version this driver speaks (`VERSION` bits 31:16).
pub const INTERFACE_MAJOR: u32 = 1;

/// MSI-X vectors, see "Interrupts (MSI-X)" in the hardware spec.
pub const VEC_QUEUE: u32 = 0;
/// Mailbox vector (`MB_RX`, `MB_ACK`).
pub const VEC_MBOX: u32 = 1;
/// PF only: faults and VF events.
pub const VEC_PF_EVENT: u32 = 2;
/// MSI-X vectors of the PF.
pub const PF_VECTORS: u32 = 3;
/// MSI-X vectors of a VF.
pub const VF_VECTORS: u32 = 2;

/// Partition table entries: the PF (0) and VFs 0..3 (1..4).
pub const PART_ENTRIES: usize = 5;

register! {
    /// Constant "2ULM": proves BAR 0 maps an MLU270.
    pub MAGIC_REG(u32) @ 0x0000 {
        31:0 value;
    }

    /// Interface version.
    pub VERSION(u32) @ 0x0004 {
        31:16 major;
        15:0 minor;
    }

    /// Which function this BAR belongs to.
    pub FUNC_INFO(u32) @ 0x0008 {
        31:31 is_vf;
        7:0 index;
    }

    /// IPU cores on the card.
    pub SCRATCH(u32) @ 0x000c {
        31:0 value;
    }

    pub CAP_IPU(u32) @ 0x0010 {
        31:0 value;
    }

    /// VPUs on the card.
    pub CAP_VPU(u32) @ 0x0014 {
        31:0 value;
    }

    /// JPUs on the card.
    pub CAP_JPU(u32) @ 0x0018 {
        31:0 value;
    }

    /// Device memory on the card, MiB.
    pub CAP_MEM_MB(u32) @ 0x001c {
        31:0 value;
    }

    /// Effective IPU core mask of this function.
    pub SLICE_IPU(u32) @ 0x0020 {
        15:0 mask;
    }

    /// Effective VPU mask of this function.
    pub SLICE_VPU(u32) @ 0x0024 {
        3:0 mask;
    }

    /// Effective JPU mask of this function.
    pub SLICE_JPU(u32) @ 0x0028 {
        3:0 mask;
    }

    /// Size of this function's memory window, MiB.
    pub SLICE_MEM_MB(u32) @ 0x002c {
        31:0 value;
    }

    /// Writes the device refused from this function.
    pub MISUSE_COUNT(u32) @ 0x0030 {
        31:0 value;
    }

    /// Interrupt causes (write 1 to clear).
    pub INT_STATUS(u32) @ 0x0040 {
        5:5 q_error;
        4:4 vf_event;
        3:3 fault;
        2:2 mb_ack;
        1:1 mb_rx;
        0:0 job_done;
    }

    /// Interrupt causes that raise their MSI-X vector.
    pub INT_ENABLE(u32) @ 0x0044 {
        5:5 q_error;
        4:4 vf_event;
        3:3 fault;
        2:2 mb_ack;
        1:1 mb_rx;
        0:0 job_done;
    }

    /// PF: bit i set while VF i has an unacknowledged message.
    pub Q_BASE_LO(u32) @ 0x0100 {
        31:0 value;
    }

    pub Q_BASE_HI(u32) @ 0x0104 {
        31:0 value;
    }

    pub Q_SIZE(u32) @ 0x0108 {
        31:0 value;
    }

    pub Q_HEAD(u32) @ 0x010c {
        31:0 value;
    }

    pub Q_TAIL(u32) @ 0x0110 {
        31:0 value;
    }

    pub Q_CTRL(u32) @ 0x0114 {
        0:0 enable;
    }

    pub Q_STATUS(u32) @ 0x0118 {
        2:2 stopped;
        1:1 busy;
        0:0 enabled;
    }

    pub Q_ERROR(u32) @ 0x011c {
        31:0 value;
    }

    pub CQ_BASE_LO(u32) @ 0x0120 {
        31:0 value;
    }

    pub CQ_BASE_HI(u32) @ 0x0124 {
        31:0 value;
    }

    pub Q_DONE(u32) @ 0x0128 {
        31:0 value;
    }

    pub MB_PENDING(u32) @ 0x0400 {
        3:0 vfs;
    }

    /// PF: bit i set when VF i was reset (write 1 to clear).
    pub VF_EVENT(u32) @ 0x0404 {
        3:0 vfs;
    }

    /// PF: whole-device control.
    pub DEV_CTRL(u32) @ 0x0408 {
        0:0 reset;
    }

    /// PF: enabled VFs as the device sees them.
    pub NUM_VFS(u32) @ 0x040c {
        31:0 value;
    }

    /// PF: bit fn set when function fn faulted (write 1 to clear).
    pub FAULT_STATUS(u32) @ 0x0410 {
        4:0 funcs;
    }

    /// PF: function index of the last fault.
    pub FAULT_FUNC(u32) @ 0x0414 {
        31:0 value;
    }

    /// PF: status code of the last fault.
    pub FAULT_CODE(u32) @ 0x0418 {
        31:0 value;
    }

    /// PF: offending address of the last fault, bits 31:0.
    pub FAULT_ADDR_LO(u32) @ 0x041c {
        31:0 value;
    }

    /// PF: offending address of the last fault, bits 63:32.
    pub FAULT_ADDR_HI(u32) @ 0x0420 {
        31:0 value;
    }

    /// PF: faults since reset.
    pub FAULT_COUNT(u32) @ 0x0424 {
        31:0 value;
    }

    /// PF: partition table status.
    pub PART_STATUS(u32) @ 0x0428 {
        16:16 write_rejected;
        12:8 entry_invalid;
        0:0 locked;
    }

    /// PF: the per-VF windows, as 64 words per VF starting at 0x1000; the
    /// named offsets inside a window are the `PFVF_*` word indices below.
    pub PFVF_WORD(u32)[256, stride = 4] @ 0x1000 {
        31:0 value;
    }

    /// PF: the per-VF migration windows, as 64 words per VF starting at
    /// 0x3000; the named offsets inside a window are the `MIG_*` word
    /// indices below.
    pub MIG_WORD(u32)[256, stride = 4] @ 0x3000 {
        31:0 value;
    }

    /// Partition table: IPU core mask of entry n.
    pub PART_IPU_MASK(u32)[5, stride = 0x20] @ 0x2000 {
        15:0 mask;
    }

    /// Partition table: VPU mask of entry n.
    pub PART_VPU_MASK(u32)[5, stride = 0x20] @ 0x2004 {
        3:0 mask;
    }

    /// Partition table: JPU mask of entry n.
    pub PART_JPU_MASK(u32)[5, stride = 0x20] @ 0x2008 {
        3:0 mask;
    }

    /// Partition table: memory window base of entry n, MiB.
    pub PART_MEM_BASE_MB(u32)[5, stride = 0x20] @ 0x200c {
        31:0 value;
    }

    /// Partition table: memory window size of entry n, MiB.
    pub PART_MEM_SIZE_MB(u32)[5, stride = 0x20] @ 0x2010 {
        31:0 value;
    }

    /// Partition table: zeroings of entry n's memory the card completed.
    pub PART_SCRUBS(u32)[5, stride = 0x20] @ 0x2014 {
        31:0 value;
    }

    /// VF: write 1 to send `MB_OUT` to the PF.
    pub MB_DOORBELL(u32) @ 0x0200 {
        0:0 ring;
    }

    /// VF: mailbox status.
    pub MB_STATUS(u32) @ 0x0204 {
        1:1 in_valid;
        0:0 out_busy;
    }

    /// VF: write 1 to release `MB_IN` and acknowledge the PF.
    pub MB_ACK(u32) @ 0x0208 {
        0:0 ack;
    }

    /// VF: the 16 words of the message to the PF.
    pub MB_OUT(u32)[16] @ 0x0280 {
        31:0 value;
    }

    /// VF: the 16 words of the message from the PF.
    pub MB_IN(u32)[16] @ 0x02c0 {
        31:0 value;
    }
}

/// Words per VF window in [`PFVF_WORD`].
pub const PFVF_WINDOW_WORDS: usize = 64;
/// Word index of `VF_MSG` (16 words) in a VF window.
pub const PFVF_VF_MSG: usize = 0;
/// Word index of `PF_MSG` (16 words).
pub const PFVF_PF_MSG: usize = 0x40 / 4;
/// Word index of `DOORBELL`: write 1 to send `PF_MSG`.
pub const PFVF_DOORBELL: usize = 0x80 / 4;
/// Word index of `STATUS`: bit 0 `PF_BUSY`, bit 1 `VF_VALID`.
pub const PFVF_STATUS: usize = 0x84 / 4;
/// Word index of `ACK`: write 1 to release `VF_MSG`.
pub const PFVF_ACK: usize = 0x88 / 4;
/// Word index of `VF_RESET`: write 1 to reset the VF.
pub const PFVF_VF_RESET: usize = 0x8c / 4;
/// Word index of `VF_STATE`.
pub const PFVF_VF_STATE: usize = 0x90 / 4;
/// Word index of `ABORTED`.
pub const PFVF_ABORTED: usize = 0x94 / 4;
/// Word index of `MISUSE`.
pub const PFVF_MISUSE: usize = 0x98 / 4;
/// Word index of `FAULT_COUNT`: this VF's faults (only VF Enable clears it).
pub const PFVF_FAULT_COUNT: usize = 0xa0 / 4;
/// Word index of `FAULT_CODE`: status code of this VF's last fault.
pub const PFVF_FAULT_CODE: usize = 0xa4 / 4;
/// Word index of `FAULT_ADDR_LO`.
pub const PFVF_FAULT_ADDR_LO: usize = 0xa8 / 4;
/// Word index of `FAULT_ADDR_HI`.
pub const PFVF_FAULT_ADDR_HI: usize = 0xac / 4;

/// `VF_RESET.NOW`: reset the VF.
pub const VF_RESET_NOW: u32 = 1 << 0;
/// `VF_RESET.ON_ACK`: with `NOW`, once the VF has acknowledged `PF_MSG`
/// (or after the device's 100 ms deadline).
pub const VF_RESET_ON_ACK: u32 = 1 << 1;

/// `STATUS.PF_BUSY`: the VF has not acknowledged the PF's last message.
pub const PFVF_STATUS_PF_BUSY: u32 = 1 << 0;
/// `STATUS.VF_VALID`: the VF's message waits for the PF.
pub const PFVF_STATUS_VF_VALID: u32 = 1 << 1;

/// Words per VF window in [`MIG_WORD`].
pub const MIG_WINDOW_WORDS: usize = 64;
/// Word index of `MIG_CMD`: start a command.
pub const MIG_CMD: usize = 0;
/// Word index of `MIG_STATUS`.
pub const MIG_STATUS: usize = 1;
/// Word index of `MIG_RESULT`: the last command's result.
pub const MIG_RESULT: usize = 0x08 / 4;
/// Word index of `MIG_DONE`: commands completed (wraps).
pub const MIG_DONE: usize = 0x0c / 4;
/// Word index of `MIG_ADDR_LO` (`MIG_ADDR_HI` follows).
pub const MIG_ADDR_LO: usize = 0x10 / 4;
/// Word index of `MIG_LEN`.
pub const MIG_LEN: usize = 0x18 / 4;
/// Word index of `MIG_OFF_LO` (`MIG_OFF_HI` follows).
pub const MIG_OFF_LO: usize = 0x20 / 4;
/// Word index of `MIG_SIZE_LO` (`MIG_SIZE_HI` follows).
pub const MIG_SIZE_LO: usize = 0x28 / 4;
/// Word index of `MIG_ARG`.
pub const MIG_ARG: usize = 0x30 / 4;

/// `MIG_STATUS.PAUSED`.
pub const MIG_STATUS_PAUSED: u32 = 1 << 0;
/// `MIG_STATUS.BUSY`: a command that moves data runs.
pub const MIG_STATUS_BUSY: u32 = 1 << 1;
/// `MIG_STATUS.TRACKING`: a pre-copy stream tracks written pages.
pub const MIG_STATUS_TRACKING: u32 = 1 << 2;
/// `MIG_STATUS.DMA_LOG`: the VF's DMA writes are logged.
pub const MIG_STATUS_DMA_LOG: u32 = 1 << 3;
/// `MIG_STATUS.LOADING`: a stream is being loaded.
pub const MIG_STATUS_LOADING: u32 = 1 << 4;
/// `MIG_STATUS.BLOB`: a built blob was not read to its end.
pub const MIG_STATUS_BLOB: u32 = 1 << 5;

/// Most bytes one migration command moves.
pub const MIG_MAX_LEN: usize = 4 << 20;
/// `DMA_LOG_START`: at most this many ranges ...
pub const MIG_LOG_MAX_RANGES: usize = 16;
/// ... of at most this many granules together.
pub const MIG_LOG_MAX_GRANULES: u64 = 1 << 24;

/// Migration commands (`MIG_CMD`).
pub mod mig_cmd {
    /// Pause the VF: no fetch, completion, DMA or interrupt.
    pub const PAUSE: u32 = 0x01;
    /// Resume it; ends the stream.
    pub const RESUME: u32 = 0x02;
    /// `MIG_SIZE` = the size of the next blob (`MIG_ARG`: 0 state, 1 pages).
    pub const SIZE_QUERY: u32 = 0x03;
    /// Start a stream and tracking of written pages.
    pub const TRACK_START: u32 = 0x10;
    /// End the stream.
    pub const TRACK_STOP: u32 = 0x11;
    /// Build a pages blob of the pages written since the last round.
    pub const PRECOPY_ROUND: u32 = 0x12;
    /// Build the state blob (paused).
    pub const SAVE_PREPARE: u32 = 0x13;
    /// Copy the next bytes of the built blob to host memory.
    pub const SAVE_READ: u32 = 0x14;
    /// Start loading into a fresh, paused VF.
    pub const LOAD_BEGIN: u32 = 0x20;
    /// Take the next bytes of the stream from host memory.
    pub const LOAD_WRITE: u32 = 0x21;
    /// Apply the complete stream.
    pub const LOAD_COMMIT: u32 = 0x22;
    /// Drop the load: the VF is fresh again.
    pub const LOAD_ABORT: u32 = 0x23;
    /// Start logging the VF's DMA writes.
    pub const DMA_LOG_START: u32 = 0x30;
    /// Report and clear the logged granules of an IOVA range.
    pub const DMA_LOG_REPORT: u32 = 0x31;
    /// Stop logging.
    pub const DMA_LOG_STOP: u32 = 0x32;
}

/// Results of migration commands (`MIG_RESULT`).
pub mod mig_res {
    /// Done.
    pub const OK: u32 = 0;
    /// A bad argument or a command the VF's state does not allow.
    pub const EINVAL: u32 = 1;
    /// Not paused, not fresh, a blob not read yet.
    pub const EBUSY: u32 = 2;
    /// A DMA of the command failed.
    pub const EIO: u32 = 3;
    /// A blob failed a check.
    pub const EBADMSG: u32 = 4;
    /// A valid blob for another VF index, slice or interface.
    pub const MISMATCH: u32 = 5;
    /// Too many DMA log ranges or granules.
    pub const ENOSPC: u32 = 6;
    /// A reset of the VF ended the command.
    pub const CANCELED: u32 = 7;
    /// Nothing was written since the last round.
    pub const ENOMSG: u32 = 8;
}

/// Index into [`MIG_WORD`] of word `word` of VF `vf`'s migration window.
pub const fn mig_index(vf: usize, word: usize) -> usize {
    vf * MIG_WINDOW_WORDS + word
}

/// Index into [`PFVF_WORD`] of word `word` of VF `vf`'s window.
pub const fn pfvf_index(vf: usize, word: usize) -> usize {
    vf * PFVF_WINDOW_WORDS + word
}

/// Checks that `bar` (BAR 0 of `pdev`) is an MLU270 whose interface major
/// version this driver speaks; logs what it found otherwise.
pub fn check_interface(pdev: &pci::Device, bar: &pci::Bar<'_, BAR0_SIZE>) -> Result {
    let magic: u32 = bar.read(MAGIC_REG).into();
    if magic != MAGIC {
        dev_err!(pdev, "BAR 0 is not an MLU270 (magic {:#x})\n", magic);
        return Err(ENODEV);
    }
    let version = bar.read(VERSION);
    let major: u32 = version.major().into();
    if major != INTERFACE_MAJOR {
        dev_err!(
            pdev,
            "unsupported interface version {}.{} (driver speaks {}.x)\n",
            major,
            u32::from(version.minor()),
            INTERFACE_MAJOR
        );
        return Err(ENODEV);
    }
    Ok(())
}
