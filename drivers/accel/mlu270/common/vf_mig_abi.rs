// SPDX-License-Identifier: GPL-2.0

//! The table through which the PF driver (`mlu270_pf`) lends its VF
//! migration service to the VFIO variant driver (`mlu270_vfio_pci`).
//!
//! Two Rust modules cannot call each other's functions: a Rust module exports
//! no symbols. The PF module exports one C symbol instead,
//! `mlu270_pf_vf_mig_ops` (`pf/vfio_export.c`, to `mlu270_vfio_pci` only),
//! a table of these functions. Both modules build this file, so both see
//! one layout; the kernel's build gives every Rust module of a kernel the
//! same compiler, so the functions use the Rust ABI, as calls from a module
//! into the kernel crate do. [`VfMigOps::version`] and [`VfMigOps::size`]
//! catch a module built from another version of this file.
//!
//! Every function takes the VF, bound to the caller: its PF is then bound to
//! `mlu270_pf` (a PF driver unbinds its VFs' drivers before it goes), which
//! each call checks and finds through the VF.

use kernel::{device::Bound, pci, prelude::*};

/// A VF, bound to the caller.
pub(crate) type Vf = pci::Device<Bound>;

/// Ranges as (IOVA, length).
pub(crate) type Ranges = [(u64, u64)];

/// Bytes read and the migration state they were read in.
pub(crate) type ReadResult = Result<(usize, u32)>;

/// Called with (IOVA, length) of each run of dirty pages.
pub(crate) type DirtyRun<'a> = dyn FnMut(u64, u64) + 'a;

/// The version of [`VfMigOps`]; a change of the table changes it.
pub(crate) const VERSION: u32 = 2;

/// A VF's migration service (`Documentation/accel/mlu270/migration.rst`).
///
/// States are numbered as VFIO's `enum vfio_device_mig_state`.
#[repr(C)]
pub(crate) struct VfMigOps {
    /// [`VERSION`] of the PF module.
    pub(crate) version: u32,
    /// `size_of::<VfMigOps>()` of the PF module.
    pub(crate) size: usize,
    /// The VF's index on its card, if its PF is bound to `mlu270_pf` and
    /// the VF is enabled.
    pub(crate) attach: fn(&Vf) -> Result<u32>,
    /// The VF's migration state.
    pub(crate) state: fn(&Vf) -> Result<u32>,
    /// Moves the VF along one arc of VFIO's state machine, from the first
    /// state to the second; a VF found in another state than the first goes
    /// to `ERROR`.
    pub(crate) set_state: fn(&Vf, u32, u32) -> Result,
    /// Reads the next bytes of the stream, and tells the state it read in
    /// (0 bytes: none now in a pre-copy state, the end in `STOP_COPY`).
    pub(crate) read: fn(&Vf, &mut [u8]) -> ReadResult,
    /// Bytes read could not reach userspace: the migration cannot go on.
    pub(crate) data_lost: fn(&Vf),
    /// Takes the next bytes of the stream being loaded.
    pub(crate) write: fn(&Vf, &[u8]) -> Result<usize>,
    /// Pre-copy: (bytes of the current round not read, dirty bytes).
    pub(crate) precopy_info: fn(&Vf) -> Result<(u64, u64)>,
    /// Bytes the stop-copy phase would carry now.
    pub(crate) stop_copy_size: fn(&Vf) -> Result<u64>,
    /// The VF was reset: its migration ended.
    pub(crate) reset: fn(&Vf) -> Result,
    /// Starts logging DMA writes to the ranges (IOVA, length, aligned to the
    /// page size) in pages of the size given.
    pub(crate) log_start: fn(&Vf, u64, &Ranges) -> Result,
    /// Calls the closure with (IOVA, length) of each run of pages written
    /// in `length` bytes from `iova` (both aligned to the page size) since
    /// the last report, and forgets them; only the logged ranges are
    /// looked at.
    pub(crate) log_report: fn(&Vf, u64, u64, &mut DirtyRun<'_>) -> Result,
    /// Stops logging.
    pub(crate) log_stop: fn(&Vf) -> Result,
    /// Ends any log the card keeps for the VF (a new user of the VF).
    pub(crate) log_end: fn(&Vf) -> Result,
}
