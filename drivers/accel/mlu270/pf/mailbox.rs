// SPDX-License-Identifier: GPL-2.0

//! The PF side of the VF mailboxes: serves requests, sends notifications,
//! and keeps the per-VF protocol sessions in step with VF resets and faults.
//!
//! The sender of a message is the VF whose window rang (`MB_PENDING`), never
//! anything in the message. Every message goes through
//! [`VfSession::receive`](crate::protocol::VfSession::receive) (rate limit +
//! validation against that VF's own slice) before the PF acts on it.
//!
//! Everything here runs under one VF's lock at a time (see
//! [`PfShared`](crate::card::PfShared)) and never sleeps: a VF that does not
//! read what the PF sends it, or that misbehaves in any other way, costs the
//! other VFs nothing. A reset that must follow a message the VF should read
//! first is left to the card (`VF_RESET` `ON_ACK`): the VF's acknowledgement
//! is an event the card acts on, not something the PF waits for.

use kernel::{
    io::{register::Array, Io},
    prelude::*,
    sync::atomic::Relaxed,
    time::{delay::fsleep, Delta},
};

use crate::{
    card::{Card, VfState},
    layout::MAX_VFS,
    protocol::{
        self, FaultInfo, Notification, PfState, ProtoError, RequestKind, ResetReason,
        ShutdownReason, MSG_WORDS,
    },
    regs,
};

/// Reads word `word` of VF `vf`'s window.
fn read_word(card: &Card<'_>, vf: usize, word: usize) -> u32 {
    regs::PFVF_WORD::try_at(regs::pfvf_index(vf, word))
        .map(|loc| card.bar.read(loc).into())
        .unwrap_or(0)
}

/// Writes word `word` of VF `vf`'s window.
fn write_word(card: &Card<'_>, vf: usize, word: usize, value: u32) {
    if let Some(loc) = regs::PFVF_WORD::try_at(regs::pfvf_index(vf, word)) {
        card.bar.write(loc, regs::PFVF_WORD::from(value));
    }
}

/// Sends `msg` to VF `vf` if its PF->VF channel is free. Returns whether it
/// was sent: a VF that does not acknowledge our messages only loses replies,
/// it never blocks the PF. Called with the VF's lock held.
fn send(card: &Card<'_>, vf: usize, msg: &[u32; MSG_WORDS]) -> bool {
    if read_word(card, vf, regs::PFVF_STATUS) & regs::PFVF_STATUS_PF_BUSY != 0 {
        return false;
    }
    for (i, word) in msg.iter().enumerate() {
        write_word(card, vf, regs::PFVF_PF_MSG + i, *word);
    }
    write_word(card, vf, regs::PFVF_DOORBELL, 1);
    true
}

/// Sends `msg` and counts it if the VF's channel was still busy.
fn reply(card: &Card<'_>, vf: usize, vfs: &mut VfState, msg: &[u32; MSG_WORDS]) {
    if !send(card, vf, msg) {
        vfs.session.counters.replies_dropped =
            vfs.session.counters.replies_dropped.saturating_add(1);
    }
}

/// Takes VF `vf`'s message if it still has one, and releases its channel.
///
/// `MB_PENDING` was read before the VF's lock was taken: another thread may
/// have served the message since, and the VF may be writing its next one.
/// Only the window's own `VF_VALID`, read under the VF's lock, says that a
/// complete message waits (the card sets it with the VF's doorbell, after
/// the VF wrote the words, and clears it with our `ACK`).
fn take_message(card: &Card<'_>, vf: usize) -> Option<[u32; MSG_WORDS]> {
    if read_word(card, vf, regs::PFVF_STATUS) & regs::PFVF_STATUS_VF_VALID == 0 {
        return None;
    }
    let mut raw = [0u32; MSG_WORDS];
    for (i, word) in raw.iter_mut().enumerate() {
        *word = read_word(card, vf, regs::PFVF_VF_MSG + i);
    }
    // Release the channel before acting: the copy is what we judge.
    write_word(card, vf, regs::PFVF_ACK, 1);
    Some(raw)
}

/// Has the card reset VF `vf` once the VF acknowledged the PF's last
/// message (or after the card's deadline): no waiting for the guest here.
/// Until the reset's `VF_EVENT`, RESET_REQUEST gets `EBUSY` and HEARTBEAT
/// says `Resetting`.
fn reset_after_ack(card: &Card<'_>, vf: usize, vfs: &mut VfState) {
    vfs.reset_pending = true;
    write_word(
        card,
        vf,
        regs::PFVF_VF_RESET,
        regs::VF_RESET_NOW | regs::VF_RESET_ON_ACK,
    );
}

/// Serves every VF with a pending message.
pub(crate) fn serve_requests(card: &Card<'_>) {
    let pending: u32 = card.bar.read(regs::MB_PENDING).into();
    for (vf, lock) in card.shared.vfs.iter().enumerate() {
        if pending & (1 << vf) == 0 {
            continue;
        }
        let mut vfs = lock.lock();
        let Some(raw) = take_message(card, vf) else {
            continue;
        };
        // A VF that is not enabled has no mailbox; drop what a broken
        // card shows rather than trust it.
        if vfs.enabled {
            serve(card, vf, &mut vfs, &raw);
        }
    }
}

/// Serves one message of VF `vf`.
fn serve(card: &Card<'_>, vf: usize, vfs: &mut VfState, raw: &[u32; MSG_WORDS]) {
    let now = card.now_ns();
    let slice = vfs.slice;
    let msg = match vfs.session.receive(raw, &slice, now) {
        Ok(req) => match req.kind {
            RequestKind::Hello { selected, .. } => protocol::hello_reply(req.seq, selected),
            RequestKind::GetResources => protocol::resources_reply(req.seq, &slice, vf as u8),
            RequestKind::Heartbeat => {
                protocol::heartbeat_reply(req.seq, &vfs.session.status(vfs.pf_state()))
            }
            RequestKind::QueryFault => protocol::fault_reply(req.seq, vfs.last_fault.as_ref()),
            RequestKind::ResetRequest if vfs.reset_pending => {
                vfs.session.refuse(ProtoError::Busy);
                protocol::error_reply(raw, ProtoError::Busy)
            }
            RequestKind::ResetRequest => {
                if let Some(suppressed) = vfs.session.take_log_permit(now) {
                    dev_info!(
                        card.pdev,
                        "VF {} asked for a reset ({} lines about this VF not logged)\n",
                        vf,
                        suppressed
                    );
                }
                reply(card, vf, vfs, &protocol::reset_reply(req.seq));
                reset_after_ack(card, vf, vfs);
                return;
            }
            // The device gives the PF no access to a VF's memory window
            // other than resetting the VF, so a partial scrub cannot be
            // done: refuse it, counted like any refused request.
            RequestKind::ScrubMemory { .. } => {
                vfs.session.refuse(ProtoError::NotPermitted);
                protocol::error_reply(raw, ProtoError::NotPermitted)
            }
        },
        Err(err) => {
            if let Some(suppressed) = vfs.session.take_log_permit(now) {
                dev_warn!(
                    card.pdev,
                    "VF {}: rejected message (opcode {:#x}): errno {} ({} lines about this VF not logged)\n",
                    vf,
                    raw[0] & 0xff,
                    err.errno(),
                    suppressed
                );
            }
            if err == ProtoError::RateLimited {
                // Answering a flood would only feed it.
                return;
            }
            protocol::error_reply(raw, err)
        }
    };
    reply(card, vf, vfs, &msg);
}

/// VFs were reset (FLR or `VF_RESET`, bits of `VF_EVENT`): start their
/// sessions over, and check that the card zeroed their memory.
///
/// Both the mailbox and the event vector may run this for one event: each
/// VF's bit is read and cleared under that VF's lock, so only one of them
/// handles it.
pub(crate) fn vf_reset_seen(card: &Card<'_>) {
    let now = card.now_ns();
    for (vf, lock) in card.shared.vfs.iter().enumerate() {
        let mut vfs = lock.lock();
        let bit = 1u32 << vf;
        let events: u32 = card.bar.read(regs::VF_EVENT).into();
        if events & bit == 0 {
            continue;
        }
        card.bar.write_reg(regs::VF_EVENT::from(bit));
        if !vfs.enabled {
            continue;
        }
        if let Some(resets) = card.mig_resets.get(vf) {
            // The card ended the VF's migration with the reset.
            resets.add(1, Relaxed);
        }
        vfs.session.restart();
        vfs.last_fault = None;
        vfs.faults_since_reset = 0;
        vfs.reset_pending = false;
        vfs.resets = vfs.resets.saturating_add(1);
        let scrubs = card.scrubs(1 + vf);
        if scrubs == vfs.scrubs_seen {
            // The guest that owns the VF next (vfio-pci resets it between
            // VMs) could read what the last one left. Nothing here can
            // stop that but another reset, and a card that does not scrub
            // would not scrub then either: say so, and count it.
            vfs.scrubs_missing = vfs.scrubs_missing.saturating_add(1);
            if let Some(suppressed) = vfs.session.take_log_permit(now) {
                dev_err!(
                    card.pdev,
                    "VF {}: the card reports no scrub of the VF's memory after its reset ({} lines about this VF not logged)\n",
                    vf,
                    suppressed
                );
            }
        }
        vfs.scrubs_seen = scrubs;
    }
}

/// Faults a VF may cause before the PF resets it, unless the administrator
/// says otherwise (sysfs `fault_reset_after`). The device already contains
/// every fault (the job fails, nothing outside the VF's slice is touched);
/// the reset stops a VF that keeps faulting from wasting its slice and the
/// PF's time, and zeroes its memory.
pub(crate) const FAULTS_BEFORE_RESET: u32 = 8;

/// A VF that needs this many fault-policy resets within
/// [`FAULT_WINDOW_NS`] is *isolated*: from then on every fault resets it at
/// once, without notice, so a fault storm costs the PF almost nothing. The
/// isolation ends after a window without faults.
pub(crate) const RESETS_BEFORE_ISOLATION: u32 = 3;

/// A VF's faults count towards the fault policy until it has been quiet
/// for this long; its own resets (a RESET_REQUEST, an FLR) do not wipe
/// the slate.
const FAULT_WINDOW_NS: u64 = 10_000_000_000;

/// The card's count of VF `vf`'s faults (the baseline of a VF enabled
/// anew; the card clears it when VF Enable is set).
pub(crate) fn fault_count(card: &Card<'_>, vf: usize) -> u32 {
    read_word(card, vf, regs::PFVF_FAULT_COUNT)
}

/// Reads VF `vf`'s own fault record: `FAULT_COUNT` and its last fault.
///
/// The four registers cannot be read at once: reading the count before and
/// after makes the snapshot consistent (and retries if the VF faulted in
/// between). A VF that faults faster than four reads gets a record mixed
/// from two of its own faults, never anyone else's.
fn read_fault_record(card: &Card<'_>, vf: usize) -> (u32, FaultInfo) {
    let mut snapshot = (0, FaultInfo::default());
    for _ in 0..4 {
        let count = read_word(card, vf, regs::PFVF_FAULT_COUNT);
        let code = read_word(card, vf, regs::PFVF_FAULT_CODE);
        let lo = read_word(card, vf, regs::PFVF_FAULT_ADDR_LO);
        let hi = read_word(card, vf, regs::PFVF_FAULT_ADDR_HI);
        let fault = FaultInfo {
            code,
            addr: (u64::from(hi) << 32) | u64::from(lo),
            count: 0,
        };
        snapshot = (count, fault);
        if read_word(card, vf, regs::PFVF_FAULT_COUNT) == count {
            break;
        }
    }
    snapshot
}

/// Functions faulted: charge each VF its own new faults, remember its last
/// fault for QUERY_FAULT, and reset (or isolate) a VF that keeps faulting.
///
/// Each VF's faults are counted by the card in its own window, and read and
/// accounted under that VF's lock: a burst of one VF is never charged to
/// another, and two threads never account the same faults twice.
pub(crate) fn fault_seen(card: &Card<'_>) {
    // `FAULT_STATUS` only raised the interrupt; the counts say who faulted.
    let funcs: u32 = card.bar.read(regs::FAULT_STATUS).into();
    card.bar.write_reg(regs::FAULT_STATUS::from(funcs));
    let now = card.now_ns();
    for (vf, lock) in card.shared.vfs.iter().enumerate() {
        let mut vfs = lock.lock();
        if !vfs.enabled {
            continue;
        }
        let (count, last) = read_fault_record(card, vf);
        // The count only grows while the VF is enabled (it saturates); the
        // card starts it over when VF Enable is set (or the card is reset):
        // then all of it is new.
        let new = if count < vfs.fault_count_seen {
            count
        } else {
            count - vfs.fault_count_seen
        };
        if new == 0 {
            continue;
        }
        vfs.fault_count_seen = count;
        vf_faulted(card, vf, &mut vfs, new, last, now);
    }
}

/// VF `vf` faulted `faults` times, the last time as `last` says.
fn vf_faulted(
    card: &Card<'_>,
    vf: usize,
    vfs: &mut VfState,
    faults: u32,
    last: FaultInfo,
    now: u64,
) {
    vfs.faults = vfs.faults.saturating_add(faults);
    vfs.faults_since_reset = vfs.faults_since_reset.saturating_add(faults);
    vfs.last_fault = Some(FaultInfo {
        count: vfs.faults_since_reset,
        ..last
    });
    if now.saturating_sub(vfs.last_fault_ns) > FAULT_WINDOW_NS {
        vfs.strikes = 0;
        vfs.fault_resets = 0;
        if vfs.isolated {
            vfs.isolated = false;
            dev_info!(
                card.pdev,
                "VF {}: no fault for {} s: no longer isolated\n",
                vf,
                FAULT_WINDOW_NS / 1_000_000_000
            );
        }
    }
    vfs.last_fault_ns = now;
    // The first fault after a quiet window is worth a line; the faults
    // after a policy reset only lead to the next "resetting" line.
    let first = vfs.strikes == 0 && vfs.fault_resets == 0;
    vfs.strikes = vfs.strikes.saturating_add(faults);
    let limit = card.fault_reset_after.load(Relaxed);
    if first && !vfs.isolated {
        match vfs.session.take_log_permit(now) {
            Some(suppressed) if limit == 0 => dev_warn!(
                card.pdev,
                "VF {} faulted (status {}, address {:#x}); the fault policy is off (fault_reset_after = 0) ({} lines about this VF not logged)\n",
                vf,
                last.code,
                last.addr,
                suppressed
            ),
            Some(suppressed) => dev_warn!(
                card.pdev,
                "VF {} faulted (status {}, address {:#x}); it is reset after {} faults ({} lines about this VF not logged)\n",
                vf,
                last.code,
                last.addr,
                limit,
                suppressed
            ),
            None => {}
        }
    }
    let budget = if vfs.isolated { 1 } else { limit };
    if limit == 0 || vfs.strikes < budget {
        return;
    }
    vfs.strikes = 0;
    vfs.fault_policy_resets = vfs.fault_policy_resets.saturating_add(1);
    vfs.fault_resets = vfs.fault_resets.saturating_add(1);
    if vfs.isolated {
        // Counted in debugfs (fault_resets); not logged, no notice.
        vfs.reset_pending = true;
        write_word(card, vf, regs::PFVF_VF_RESET, regs::VF_RESET_NOW);
        return;
    }
    let permit = vfs.session.take_log_permit(now);
    if vfs.fault_resets >= RESETS_BEFORE_ISOLATION {
        vfs.isolated = true;
        if let Some(suppressed) = permit {
            dev_warn!(
                card.pdev,
                "VF {}: isolated: {} fault resets without {} s of quiet; every fault now resets it at once, until it stays quiet that long ({} lines about this VF not logged)\n",
                vf,
                vfs.fault_resets,
                FAULT_WINDOW_NS / 1_000_000_000,
                suppressed
            );
        }
    } else if let Some(suppressed) = permit {
        dev_warn!(
            card.pdev,
            "VF {}: {} faults since its last reset: resetting it ({} lines about this VF not logged)\n",
            vf,
            limit,
            suppressed
        );
    }
    notify_and_reset(card, vf, vfs, ResetReason::Fault);
}

/// Tells VF `vf` that it is about to be reset (RESET_NOTIFY) and has the
/// card reset it once the VF read that: its jobs in flight are dropped, its
/// memory is zeroed, the card reports the reset as a VF event (which starts
/// the session over).
fn notify_and_reset(card: &Card<'_>, vf: usize, vfs: &mut VfState, why: ResetReason) {
    let seq = vfs.notify_seq;
    vfs.notify_seq = seq.wrapping_add(1);
    // A VF that has not acknowledged our last message does not get this
    // one: the card's reset then follows its acknowledgement of that one.
    send(card, vf, &Notification::Reset(why).encode(seq));
    reset_after_ack(card, vf, vfs);
}

/// sysfs `reset_vf`: the administrator resets VF `vf` (e.g. the one of a
/// wedged guest). `EINVAL` if it is not enabled.
pub(crate) fn admin_reset(card: &Card<'_>, vf: usize) -> Result {
    let not_enabled = || {
        dev_err!(
            card.pdev,
            "reset_vf: VF {} is not enabled ({} VFs)\n",
            vf,
            card.shared.inner.lock().num_vfs
        );
        EINVAL
    };
    let lock = card.shared.vfs.get(vf).ok_or_else(not_enabled)?;
    let mut vfs = lock.lock();
    if !vfs.enabled {
        drop(vfs);
        return Err(not_enabled());
    }
    dev_info!(card.pdev, "VF {}: reset by the administrator\n", vf);
    if vfs.reset_pending {
        // The administrator does not wait for the VF's acknowledgement of
        // an earlier message: now.
        write_word(card, vf, regs::PFVF_VF_RESET, regs::VF_RESET_NOW);
    } else {
        notify_and_reset(card, vf, &mut vfs, ResetReason::Admin);
    }
    Ok(())
}

/// How long the PF waits, in total, for the VFs to acknowledge SHUTDOWN
/// before it removes them. Only the administrator's `sriov_numvfs` write
/// (or the PF's unbind) waits, holding no lock a VF or the mailbox needs.
const SHUTDOWN_ACK_WAIT_MS: u32 = 100;

/// Tells every enabled VF that its device is about to disappear, and gives
/// them (bounded) time to read it.
pub(crate) fn notify_shutdown(card: &Card<'_>, why: ShutdownReason) {
    let mut told = 0u32;
    for (vf, lock) in card.shared.vfs.iter().enumerate() {
        let mut vfs = lock.lock();
        if !vfs.enabled {
            continue;
        }
        vfs.shutting_down = true;
        let seq = vfs.notify_seq;
        vfs.notify_seq = seq.wrapping_add(1);
        if send(card, vf, &Notification::Shutdown(why).encode(seq)) {
            told |= 1 << vf;
        }
    }
    for _ in 0..SHUTDOWN_ACK_WAIT_MS {
        let unread = (0..MAX_VFS).any(|vf| {
            told & (1 << vf) != 0
                && read_word(card, vf, regs::PFVF_STATUS) & regs::PFVF_STATUS_PF_BUSY != 0
        });
        if !unread {
            return;
        }
        fsleep(Delta::from_millis(1));
    }
}

impl VfState {
    /// What HEARTBEAT tells this VF about the PF.
    pub(crate) fn pf_state(&self) -> PfState {
        if self.shutting_down {
            PfState::ShuttingDown
        } else if self.reset_pending {
            PfState::Resetting
        } else {
            PfState::Running
        }
    }
}
