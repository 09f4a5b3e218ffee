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
};

/// Runs `f` with VF `vf`'s card and index.
fn with_card<R>(
    vf: &pci::Device<Bound>,
    f: impl FnOnce(&Card<'_>, usize) -> Result<R>,
) -> Result<R> {
    let pf = vf.pf_drvdata::<MluPfDriver>()?;
    let index = usize::from(vf.vf_id()?);
    f(&pf.card, index)
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

fn set_state(vf: &pci::Device<Bound>, to: u32) -> Result {
    with_card(vf, |card, index| {
        card.mig_set_state(index, MigState::from_u32(to).ok_or(EINVAL)?)
    })
}

fn read(vf: &pci::Device<Bound>, out: &mut [u8]) -> Result<usize> {
    with_card(vf, |card, index| card.mig_read(index, out))
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

/// The granule (as a shift) for `ranges` at a page size of at least
/// `page_size`: the card logs at most [`MIG_LOG_MAX_GRANULES`] granules.
fn log_granule(page_size: u64, ranges: &[(u64, u64)]) -> Result<u32> {
    if !page_size.is_power_of_two() {
        return Err(EINVAL);
    }
    let mut shift = page_size.trailing_zeros().max(12);
    loop {
        let granules = ranges.iter().try_fold(0u64, |sum, (_, len)| {
            sum.checked_add(len.div_ceil(1u64.checked_shl(shift).ok_or(EINVAL)?))
                .ok_or(EINVAL)
        })?;
        if granules <= MIG_LOG_MAX_GRANULES {
            return Ok(shift);
        }
        shift += 1;
        if shift >= 40 {
            return Err(E2BIG);
        }
    }
}

fn log_start(vf: &pci::Device<Bound>, page_size: u64, ranges: &[(u64, u64)]) -> Result<u64> {
    if ranges.is_empty() || ranges.len() > MIG_LOG_MAX_RANGES {
        return Err(EINVAL);
    }
    let shift = log_granule(page_size, ranges)?;
    let granule = 1u64 << shift;
    // A larger granule than asked for: the ranges grow to whole granules.
    let mut aligned = [(0u64, 0u64); MIG_LOG_MAX_RANGES];
    for (slot, (iova, len)) in aligned.iter_mut().zip(ranges) {
        let start = iova & !(granule - 1);
        let end = iova
            .checked_add(*len)
            .and_then(|e| e.checked_next_multiple_of(granule))
            .ok_or(EINVAL)?;
        *slot = (start, end - start);
    }
    with_card(vf, |card, index| {
        card.mig_log_start(index, shift, aligned.get(..ranges.len()).ok_or(EINVAL)?)
    })?;
    Ok(granule)
}

/// Granules reported per call to the card (a 32 KiB bitmap: 1 GiB at 4 KiB).
const REPORT_GRANULES: usize = 32 << 13;

fn log_report(vf: &pci::Device<Bound>, iova: u64, length: u64, dirty: &mut DirtyRun<'_>) -> Result {
    with_card(vf, |card, index| {
        let shift = card.mig_log_shift(index)?;
        let granule = 1u64 << shift;
        let mut at = iova & !(granule - 1);
        let end = iova
            .checked_add(length)
            .and_then(|e| e.checked_next_multiple_of(granule))
            .ok_or(EINVAL)?;
        let mut bitmap = KVec::new();
        bitmap.resize(REPORT_GRANULES / 8, 0u8, GFP_KERNEL)?;
        while at < end {
            let granules = usize::try_from((end - at) >> shift)?.min(REPORT_GRANULES);
            let bytes = granules.div_ceil(64) * 8;
            let map = bitmap.get_mut(..bytes).ok_or(EINVAL)?;
            card.mig_log_report_granules(index, at, granules, map)?;
            // Runs of dirty granules, one call each.
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
            at += (granules as u64) << shift;
        }
        Ok(())
    })
}

fn log_stop(vf: &pci::Device<Bound>) -> Result {
    with_card(vf, |card, index| card.mig_log_stop(index))
}
