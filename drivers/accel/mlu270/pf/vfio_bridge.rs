// SPDX-License-Identifier: GPL-2.0

//! The migration service, as the VFIO variant driver (`mlu270_vfio_pci`, a
//! module of its own) sees it: the table of `common/vf_mig_abi.rs`, exported
//! by `pf/vfio_export.c`. Each function finds the card through the VF it is
//! given and calls the service of `pf/migration.rs`.

use kernel::{device::Bound, pci, prelude::*};

use crate::{
    card::Card,
    migration::MigState,
    regs::{MIG_LOG_MAX_GRANULES, MIG_LOG_MAX_RANGES},
    vf_mig_abi::{DirtyRun, VfMigOps, VERSION},
    MluPfDriver,
};

/// The table `pf/vfio_export.c` exports to `mlu270_vfio_pci`.
#[no_mangle]
pub(crate) static mlu270_pf_vf_mig_ops: VfMigOps = VfMigOps {
    version: VERSION,
    size: core::mem::size_of::<VfMigOps>(),
    attach,
    state,
    set_state,
    read,
    data_lost,
    write,
    precopy_info,
    stop_copy_size,
    reset,
    log_start,
    log_report,
    log_stop,
    log_end,
};

/// Runs `f` with VF `vf`'s card and index.
fn with_card<R>(
    vf: &pci::Device<Bound>,
    f: impl FnOnce(&Card<'_>, usize) -> Result<R>,
) -> Result<R> {
    let index = usize::from(vf.vf_id()?);
    vf.with_pf_drvdata::<MluPfDriver, _>(|pf| f(&pf.card, index))?
}

fn attach(vf: &pci::Device<Bound>) -> Result<u32> {
    with_card(vf, |card, index| {
        // The VF's migration exists (an enabled VF of this card).
        card.mig_state(index)?;
        Ok(u32::try_from(index)?)
    })
}

fn state(vf: &pci::Device<Bound>) -> Result<u32> {
    with_card(vf, |card, index| Ok(card.mig_state(index)? as u32))
}

fn set_state(vf: &pci::Device<Bound>, from: u32, to: u32) -> Result {
    let from = MigState::from_u32(from).ok_or(EINVAL)?;
    let to = MigState::from_u32(to).ok_or(EINVAL)?;
    with_card(vf, |card, index| card.mig_step(index, from, to))
}

fn read(vf: &pci::Device<Bound>, out: &mut [u8]) -> Result<(usize, u32)> {
    with_card(vf, |card, index| {
        card.mig_read_in(index, out)
            .map(|(n, state)| (n, state as u32))
    })
}

fn data_lost(vf: &pci::Device<Bound>) {
    let _ = with_card(vf, |card, index| {
        card.mig_data_lost(index);
        Ok(())
    });
}

fn write(vf: &pci::Device<Bound>, data: &[u8]) -> Result<usize> {
    with_card(vf, |card, index| card.mig_write(index, data))
}

fn precopy_info(vf: &pci::Device<Bound>) -> Result<(u64, u64)> {
    with_card(vf, |card, index| {
        let info = card.mig_precopy_info(index)?;
        Ok((info.initial_bytes, info.dirty_bytes))
    })
}

fn stop_copy_size(vf: &pci::Device<Bound>) -> Result<u64> {
    with_card(vf, |card, index| card.mig_stop_copy_size(index))
}

fn reset(vf: &pci::Device<Bound>) -> Result {
    with_card(vf, |card, index| card.mig_reset(index))
}

fn log_start(vf: &pci::Device<Bound>, page_size: u64, ranges: &[(u64, u64)]) -> Result {
    if ranges.is_empty() || ranges.len() > MIG_LOG_MAX_RANGES {
        return Err(EINVAL);
    }
    if page_size < 4096 || !page_size.is_power_of_two() {
        return Err(EINVAL);
    }
    let shift = page_size.trailing_zeros();
    let mut granules = 0u64;
    for (iova, len) in ranges {
        if iova % page_size != 0 || len % page_size != 0 || *len == 0 {
            return Err(EINVAL);
        }
        granules = granules.checked_add(len >> shift).ok_or(E2BIG)?;
    }
    if granules > MIG_LOG_MAX_GRANULES {
        // The card's log holds 2^24 pages (64 GiB at 4 KiB): a coarser
        // page would report pages the request did not ask about.
        return Err(E2BIG);
    }
    with_card(vf, |card, index| card.mig_log_start(index, shift, ranges))
}

/// Granules reported per call to the card (a 32 KiB bitmap: 1 GiB at 4 KiB).
const REPORT_GRANULES: usize = 32 << 13;

fn log_report(vf: &pci::Device<Bound>, iova: u64, length: u64, dirty: &mut DirtyRun<'_>) -> Result {
    with_card(vf, |card, index| {
        let (shift, ranges) = card.mig_log_ranges(index)?;
        let granule = 1u64 << shift;
        let end = iova.checked_add(length).ok_or(EINVAL)?;
        if iova % granule != 0 || length % granule != 0 {
            // The card clears whole pages: a part of one would be lost.
            return Err(EINVAL);
        }
        let mut bitmap = KVec::new();
        bitmap.resize(REPORT_GRANULES / 8, 0u8, GFP_KERNEL)?;
        // Only the logged ranges: the card knows nothing of the rest, and a
        // request may span the whole address space.
        for (start, len) in ranges {
            let mut at = iova.max(start);
            let stop = end.min(start.saturating_add(len));
            while at < stop {
                let granules = usize::try_from((stop - at) >> shift)?.min(REPORT_GRANULES);
                let map = bitmap.get_mut(..granules.div_ceil(64) * 8).ok_or(EINVAL)?;
                card.mig_log_report_granules(index, at, granules, map)?;
                report_runs(map, granules, at, shift, dirty);
                at += (granules as u64) << shift;
            }
        }
        Ok(())
    })
}

/// Calls `dirty` with each run of set bits of `map` (`granules` of them,
/// from IOVA `at`, `1 << shift` bytes a bit).
fn report_runs(map: &[u8], granules: usize, at: u64, shift: u32, dirty: &mut DirtyRun<'_>) {
    let granule = 1u64 << shift;
    let mut run: Option<(u64, u64)> = None;
    for bit in 0..granules {
        if map.get(bit / 8).is_none_or(|b| b & (1 << (bit % 8)) == 0) {
            continue;
        }
        let page = at + ((bit as u64) << shift);
        run = match run {
            Some((start, len)) if start + len == page => Some((start, len + granule)),
            Some((start, len)) => {
                dirty(start, len);
                Some((page, granule))
            }
            None => Some((page, granule)),
        };
    }
    if let Some((start, len)) = run {
        dirty(start, len);
    }
}

fn log_stop(vf: &pci::Device<Bound>) -> Result {
    with_card(vf, |card, index| card.mig_log_stop(index))
}

fn log_end(vf: &pci::Device<Bound>) -> Result {
    with_card(vf, |card, index| card.mig_log_end(index))
}
