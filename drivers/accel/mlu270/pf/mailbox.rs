// SPDX-License-Identifier: GPL-2.0

//! The PF side of the VF mailboxes: serves requests, sends notifications,
//! and keeps the per-VF protocol sessions in step with VF resets and faults.
//!
//! The sender of a message is the VF whose window rang (`MB_PENDING`), never
//! anything in the message. Every message goes through
//! [`VfSession::receive`](crate::protocol::VfSession::receive) (rate limit +
//! validation against that VF's own slice) before the PF acts on it.

use kernel::{
    io::{register::Array, Io},
    prelude::*,
    time::{delay::fsleep, Delta},
};

use crate::{
    card::{Card, PfInner},
    layout::MAX_VFS,
    protocol::{
        self, FaultInfo, Notification, ProtoError, RequestKind, ResetReason, ShutdownReason,
        MSG_WORDS,
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
/// it never blocks the PF.
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

/// How long the PF waits for a VF to acknowledge a message that precedes a
/// reset or the VF's removal (the reset would destroy it otherwise).
const ACK_WAIT_MS: u32 = 100;

/// Waits (bounded) until every VF in `vfs` has acknowledged the PF's last
/// message. A VF that never does only delays the PF by [`ACK_WAIT_MS`].
fn wait_acked(card: &Card<'_>, vfs: core::ops::Range<usize>) {
    for _ in 0..ACK_WAIT_MS {
        let busy = vfs
            .clone()
            .any(|vf| read_word(card, vf, regs::PFVF_STATUS) & regs::PFVF_STATUS_PF_BUSY != 0);
        if !busy {
            return;
        }
        fsleep(Delta::from_millis(1));
    }
}

/// Serves every VF with a pending message.
pub(crate) fn serve_requests(card: &Card<'_>) {
    let pending: u32 = card.bar.read(regs::MB_PENDING).into();
    let mut state = card.state.lock();
    for vf in 0..MAX_VFS {
        if pending & (1 << vf) == 0 {
            continue;
        }
        let mut raw = [0u32; MSG_WORDS];
        for (i, word) in raw.iter_mut().enumerate() {
            *word = read_word(card, vf, regs::PFVF_VF_MSG + i);
        }
        // Release the VF's channel before acting: the copy is what we judge.
        write_word(card, vf, regs::PFVF_ACK, 1);

        if vf >= state.num_vfs {
            // Cannot happen with a sane device: a VF that is not enabled
            // has no mailbox. Drop it rather than trust it.
            continue;
        }
        let now = card.now_ns();
        let vfs = &mut state.vfs[vf];
        let slice = vfs.slice;
        let reply = match vfs.session.receive(&raw, &slice, now) {
            Ok(req) => match req.kind {
                RequestKind::Hello { selected, .. } => protocol::hello_reply(req.seq, selected),
                RequestKind::GetResources => protocol::resources_reply(req.seq, &slice, vf as u8),
                RequestKind::Heartbeat => protocol::heartbeat_reply(
                    req.seq,
                    &vfs.session.status(protocol::PfState::Running),
                ),
                RequestKind::QueryFault => protocol::fault_reply(req.seq, vfs.last_fault.as_ref()),
                RequestKind::ResetRequest => {
                    if send(card, vf, &protocol::reset_reply(req.seq)) {
                        dev_info!(card.pdev, "VF {} asked for a reset\n", vf);
                        wait_acked(card, vf..vf + 1);
                        write_word(card, vf, regs::PFVF_VF_RESET, 1);
                    }
                    continue;
                }
                // The device gives the PF no access to a VF's memory window
                // other than resetting the VF, so a partial scrub cannot be
                // done: refuse it, counted like any refused request.
                RequestKind::ScrubMemory { .. } => {
                    vfs.session.refuse(ProtoError::NotPermitted);
                    protocol::error_reply(&raw, ProtoError::NotPermitted)
                }
            },
            Err(err) => {
                if vfs.session.take_log_permit() {
                    dev_warn!(
                        card.pdev,
                        "VF {}: rejected message (opcode {:#x}): errno {}; further rejections are only counted\n",
                        vf,
                        raw[0] & 0xff,
                        err.errno()
                    );
                }
                if err == ProtoError::RateLimited {
                    // Answering a flood would only feed it.
                    continue;
                }
                protocol::error_reply(&raw, err)
            }
        };
        if !send(card, vf, &reply) {
            vfs.session.counters.replies_dropped =
                vfs.session.counters.replies_dropped.saturating_add(1);
        }
    }
}

/// VFs in `events` were reset (FLR or `VF_RESET`): start their sessions over.
pub(crate) fn vf_reset_seen(card: &Card<'_>, events: u32) {
    let now = card.now_ns();
    let mut state = card.state.lock();
    for vf in 0..MAX_VFS {
        if events & (1 << vf) == 0 {
            continue;
        }
        let vfs = &mut state.vfs[vf];
        vfs.session.reset(now);
        vfs.last_fault = None;
        vfs.faults_since_reset = 0;
        vfs.resets = vfs.resets.saturating_add(1);
    }
}

/// Faults a VF may cause before the PF resets it. The device already
/// contains every fault (the job fails, nothing outside the VF's slice is
/// touched); the reset stops a VF that keeps faulting from wasting its slice
/// and the PF's time, and zeroes its memory.
pub(crate) const FAULTS_BEFORE_RESET: u32 = 8;

/// A VF that needs this many fault-policy resets within
/// [`ISOLATION_WINDOW_NS`] is *isolated*: from then on every fault resets
/// it at once, without the notification (and its 100 ms wait for an
/// acknowledgement), so a fault storm costs the PF almost nothing. The
/// isolation ends after a window without faults.
pub(crate) const RESETS_BEFORE_ISOLATION: u32 = 3;
const ISOLATION_WINDOW_NS: u64 = 10_000_000_000;

/// Functions faulted: remember the last fault for QUERY_FAULT and the
/// counters, and reset (or isolate) a VF that keeps faulting.
///
/// One interrupt may stand for many faults (a VF can fault faster than the
/// PF serves them): `FAULT_STATUS` says which functions faulted,
/// `FAULT_COUNT` how many faults there were, `FAULT_*` describe the last
/// one. Each flagged function is charged one fault, and the last faulting
/// function the rest.
pub(crate) fn fault_seen(card: &Card<'_>) {
    let funcs: u32 = card.bar.read(regs::FAULT_STATUS).into();
    card.bar.write_reg(regs::FAULT_STATUS::from(funcs));
    let count: u32 = card.bar.read(regs::FAULT_COUNT).into();
    let last_func: u32 = card.bar.read(regs::FAULT_FUNC).into();
    let code: u32 = card.bar.read(regs::FAULT_CODE).into();
    let lo: u32 = card.bar.read(regs::FAULT_ADDR_LO).into();
    let hi: u32 = card.bar.read(regs::FAULT_ADDR_HI).into();
    let last = FaultInfo {
        code,
        addr: (u64::from(hi) << 32) | u64::from(lo),
        count: 0,
    };
    let now = card.now_ns();

    let mut state = card.state.lock();
    let total = count.wrapping_sub(state.fault_count_seen);
    state.fault_count_seen = count;
    let flagged = funcs.count_ones();
    // Function 0 is the PF itself; 1 + i is VF i.
    for vf in 0..state.num_vfs {
        let func = vf as u32 + 1;
        if funcs & (1 << func) == 0 {
            continue;
        }
        let faults = if func == last_func {
            total.saturating_sub(flagged - 1).max(1)
        } else {
            1
        };
        vf_faulted(
            card,
            &mut state,
            vf,
            faults,
            (func == last_func).then_some(last),
            now,
        );
    }
}

/// VF `vf` faulted `faults` times; `last` describes the last fault if it
/// was this VF's.
fn vf_faulted(
    card: &Card<'_>,
    state: &mut PfInner,
    vf: usize,
    faults: u32,
    last: Option<FaultInfo>,
    now: u64,
) {
    let vfs = &mut state.vfs[vf];
    let first = vfs.faults_since_reset == 0;
    vfs.faults = vfs.faults.saturating_add(faults);
    vfs.faults_since_reset = vfs.faults_since_reset.saturating_add(faults);
    if let Some(fault) = last {
        vfs.last_fault = Some(FaultInfo {
            count: vfs.faults_since_reset,
            ..fault
        });
    }
    if vfs.isolated && now.saturating_sub(vfs.last_fault_ns) > ISOLATION_WINDOW_NS {
        vfs.isolated = false;
        vfs.fault_resets = 0;
        dev_info!(
            card.pdev,
            "VF {}: no fault for {} s: no longer isolated\n",
            vf,
            ISOLATION_WINDOW_NS / 1_000_000_000
        );
    }
    vfs.last_fault_ns = now;
    let budget = if vfs.isolated { 1 } else { FAULTS_BEFORE_RESET };
    if first && !vfs.isolated {
        if let Some(suppressed) = vfs.fault_log.permit(now) {
            let (code, addr) = vfs.last_fault.map_or((0, 0), |f| (f.code, f.addr));
            dev_warn!(
                card.pdev,
                "VF {} faulted (status {}, address {:#x}); it is reset after {} faults ({} fault lines not logged)\n",
                vf,
                code,
                addr,
                FAULTS_BEFORE_RESET,
                suppressed
            );
        }
    }
    if vfs.faults_since_reset < budget {
        return;
    }
    vfs.faults_since_reset = 0;
    vfs.fault_policy_resets = vfs.fault_policy_resets.saturating_add(1);
    if now.saturating_sub(vfs.fault_window_ns) > ISOLATION_WINDOW_NS {
        vfs.fault_window_ns = now;
        vfs.fault_resets = 0;
    }
    vfs.fault_resets = vfs.fault_resets.saturating_add(1);
    if vfs.isolated {
        // Counted in debugfs (fault_resets); not logged.
        write_word(card, vf, regs::PFVF_VF_RESET, 1);
        return;
    }
    if vfs.fault_resets >= RESETS_BEFORE_ISOLATION {
        vfs.isolated = true;
        dev_warn!(
            card.pdev,
            "VF {}: isolated: {} fault resets within {} s; every fault now resets it at once, until it stays quiet for {} s\n",
            vf,
            vfs.fault_resets,
            ISOLATION_WINDOW_NS / 1_000_000_000,
            ISOLATION_WINDOW_NS / 1_000_000_000
        );
    } else if let Some(suppressed) = vfs.reset_log.permit(now) {
        dev_warn!(
            card.pdev,
            "VF {}: {} faults since its last reset: resetting it ({} fault lines not logged)\n",
            vf,
            FAULTS_BEFORE_RESET,
            suppressed
        );
    }
    notify_and_reset(card, state, vf, ResetReason::Fault);
}

/// Tells VF `vf` that it is about to be reset (RESET_NOTIFY), gives it
/// (bounded) time to read that, then resets the function: its jobs in
/// flight are dropped, its memory is zeroed, the device reports the reset
/// as a VF event (which starts the session over).
fn notify_and_reset(card: &Card<'_>, state: &mut PfInner, vf: usize, why: ResetReason) {
    let seq = state.notify_seq;
    state.notify_seq = seq.wrapping_add(1);
    send(card, vf, &Notification::Reset(why).encode(seq));
    wait_acked(card, vf..vf + 1);
    write_word(card, vf, regs::PFVF_VF_RESET, 1);
}

/// sysfs `reset_vf`: the administrator resets VF `vf` (e.g. the one of a
/// wedged guest). `EINVAL` if it is not enabled.
pub(crate) fn admin_reset(card: &Card<'_>, vf: usize) -> Result {
    let mut state = card.state.lock();
    if vf >= state.num_vfs {
        dev_err!(
            card.pdev,
            "reset_vf: VF {} is not enabled ({} VFs)\n",
            vf,
            state.num_vfs
        );
        return Err(EINVAL);
    }
    dev_info!(card.pdev, "VF {}: reset by the administrator\n", vf);
    notify_and_reset(card, &mut state, vf, ResetReason::Admin);
    Ok(())
}

/// Tells every enabled VF that its device is about to disappear, and gives
/// them (bounded) time to read it.
pub(crate) fn notify_shutdown(card: &Card<'_>) {
    let num_vfs = {
        let mut state = card.state.lock();
        let seq = state.notify_seq;
        state.notify_seq = seq.wrapping_add(1);
        let msg = Notification::Shutdown(ShutdownReason::DisablingVfs).encode(seq);
        for vf in 0..state.num_vfs {
            send(card, vf, &msg);
        }
        state.num_vfs
    };
    wait_acked(card, 0..num_vfs);
}
