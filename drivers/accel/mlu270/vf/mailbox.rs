// SPDX-License-Identifier: GPL-2.0

//! The VF side of the PF <-> VF mailbox: one outstanding request at a time,
//! a bounded wait for its reply, and the PF's notifications.
//!
//! The message format and its validation are the shared
//! `common/protocol.rs`; this file only moves the 16 words through the
//! `MB_*` registers (see "Mailbox, VF side" in
//! `Documentation/accel/mlu270/hardware.rst`) and keeps the session state.
//!
//! Whoever holds [`Vf::state`] may read `MB_IN`: the threaded IRQ handler
//! ([`Vf::service`]) and a thread waiting for a reply ([`Vf::request`]) both
//! do, so a lost or coalesced interrupt only delays a reply until the
//! waiter's next poll, it never loses it.

use core::fmt;

use kernel::{
    debugfs,
    io::{register::Array, Io},
    new_condvar, new_mutex, pci,
    prelude::*,
    str::CString,
    sync::{Arc, CondVar, Mutex},
    time::{msecs_to_jiffies, Delta, Instant, Monotonic},
};

use crate::{
    jobs::JobQueue,
    protocol::{
        self, Notification, Opcode, Pending, PfMessage, ProtoError, Reply, ResetReason, Resources,
        ShutdownReason, Version, MSG_WORDS,
    },
    regs,
};

pub(crate) use crate::jobs::Bar0;

/// How long the VF waits for one reply before it sends the request again
/// (with a new sequence number), as `mailbox.rst` suggests.
const ATTEMPT_MS: i64 = 500;
/// How long recovery waits for the reset the PF announced.
const RESET_WAIT_MS: i64 = 1000;
/// Total bound of one request, retries included.
pub(crate) const REQUEST_MS: i64 = 2000;
/// Pause before retrying a request the PF could not serve now (`EAGAIN`,
/// `EBUSY`), or before looking again at a busy `MB_OUT`.
const BACKOFF_MS: i64 = 20;
/// Longest single sleep of a waiter: it polls the mailbox itself at least
/// this often, in case an interrupt was lost.
const POLL_MS: i64 = 100;

/// Where the VF's session with the PF stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Probing or re-handshaking: requests may be sent.
    Starting,
    /// HELLO and GET_RESOURCES succeeded.
    Ready,
    /// Between `reset_prepare` and `reset_done`: the registers must not be
    /// touched, the interrupt handler ignores the device.
    Quiesced,
    /// The PF announced a SHUTDOWN: the device is going away; no more
    /// requests.
    GoingAway,
    /// The PF announced a reset (RESET_NOTIFY): the IRQ thread waits for it
    /// and runs the handshake again.
    Recovering,
    /// The handshake failed after a reset; the device is unusable until it
    /// is reset again or the driver rebound.
    Failed,
}

impl Phase {
    /// The name shown in sysfs and debugfs.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Quiesced => "resetting",
            Self::GoingAway => "going-away",
            Self::Recovering => "recovering",
            Self::Failed => "failed",
        }
    }
}

/// The fraction of the card a slice of `quarters` quarters is.
pub(crate) const fn fraction(quarters: u8) -> &'static str {
    match quarters {
        0 => "empty",
        1 => "1/4",
        2 => "1/2",
        _ => "1/1",
    }
}

/// Why a request did not get a successful reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestError {
    /// No reply within [`REQUEST_MS`] (no PF driver, or a wedged one).
    Timeout,
    /// The PF answered with this error.
    Proto(ProtoError),
    /// The device is going away, quiesced or failed.
    Offline,
}

impl RequestError {
    /// The kernel error a failed probe or handshake reports.
    pub(crate) fn to_error(self) -> Error {
        match self {
            Self::Timeout => ETIMEDOUT,
            Self::Proto(e) => Error::from_errno(-e.errno()),
            Self::Offline => ENODEV,
        }
    }
}

/// Session state of one VF.
///
/// Protected by [`Vf::state`]; see there for who takes it.
pub(crate) struct VfInner {
    /// Life-cycle of the session.
    pub(crate) phase: Phase,
    /// The request waiting for its reply.
    pending: Option<Pending>,
    /// The reply (or error reply) to `pending`, stored by whoever read it
    /// from `MB_IN` for the waiter to take.
    answer: Option<core::result::Result<Reply, ProtoError>>,
    /// Sequence number of the next request.
    next_seq: u16,
    /// Version agreed by the last successful HELLO.
    pub(crate) version: Option<Version>,
    /// The slice, as GET_RESOURCES described it.
    pub(crate) resources: Option<Resources>,
    /// The last notification of the PF, if any since the last handshake.
    pub(crate) notice: Option<Notification>,
    /// Successful handshakes since probe (1 after probe, +1 per reset).
    pub(crate) handshakes: u32,
    /// PF notifications received.
    pub(crate) notifications: u32,
    /// Messages dropped: stale replies (wrong opcode or sequence number)
    /// and malformed messages.
    pub(crate) dropped: u32,
    /// Requests sent again because no reply came in time.
    pub(crate) retries: u32,
    /// Whether a notification was logged already (log once per binding).
    logged_notice: bool,
    /// The PF announced a reset (RESET_NOTIFY): the IRQ thread recovers
    /// once it has released the lock.
    recover: bool,
}

impl VfInner {
    const fn new() -> Self {
        Self {
            phase: Phase::Starting,
            pending: None,
            answer: None,
            next_seq: 1,
            version: None,
            resources: None,
            notice: None,
            handshakes: 0,
            notifications: 0,
            dropped: 0,
            retries: 0,
            logged_notice: false,
            recover: false,
        }
    }

    /// Forgets any outstanding request.
    fn cancel(&mut self) {
        self.pending = None;
        self.answer = None;
    }
}

/// The causes a VF driver serves: the mailbox's (vector 1) and the job
/// queue's (vector 0).
pub(crate) fn interrupts() -> regs::INT_ENABLE {
    regs::INT_ENABLE::zeroed()
        .with_mb_rx(true)
        .with_mb_ack(true)
        .with_job_done(true)
        .with_q_error(true)
}

/// One bound MLU270 VF.
///
/// # Locking and lifetimes
///
/// Shared (through an [`Arc`]) by the driver's data and the mailbox IRQ
/// handler; it borrows the bound PCI device and its BAR, so it lives no
/// longer than the binding (`'bound`), and the IRQ registration is dropped
/// before it.
///
/// `state` (a [`Mutex`]) serialises every access to the mailbox registers
/// (`MB_*`) and to `INT_STATUS`/`INT_ENABLE` with the session state. It is
/// taken by the IRQ thread, by a thread waiting for a reply (probe and the
/// reset hooks, which run under the device lock) and by sysfs and debugfs
/// readers. It is never held while sleeping except inside [`CondVar`]
/// waits, which release it. `answered` is notified, with `state` held, when a reply is
/// stored or the phase changes.
///
/// `state` lives in a debugfs file (`mlu270_vf-<pci address>/resources`)
/// that shows the slice: the file owns it and is dropped with the VF.
#[pin_data]
pub(crate) struct Vf<'bound> {
    pub(crate) pdev: &'bound pci::Device,
    pub(crate) bar: Bar0<'bound>,
    /// 0-based VF index, from `FUNC_INFO` (the device's word, which also
    /// holds inside a guest where the VF is not a Linux `virtfn`).
    pub(crate) index: u32,
    #[pin]
    pub(crate) state: debugfs::File<Mutex<VfInner>>,
    #[pin]
    answered: CondVar,
    /// The job path (debugfs `jobs` shows it); see [`JobQueue`] for its
    /// locking.
    #[pin]
    pub(crate) jobs: debugfs::File<JobQueue>,
    _debugfs: debugfs::Dir,
}

impl<'bound> Vf<'bound> {
    /// Creates the VF state and its debugfs directory.
    pub(crate) fn new(
        pdev: &'bound pci::Device,
        bar: Bar0<'bound>,
        index: u32,
        jobs: impl PinInit<JobQueue, Error>,
    ) -> Result<Arc<Self>> {
        let dir_name = CString::try_from_fmt(fmt!("mlu270_vf-{}", pdev.as_ref().name()))?;
        let dir = debugfs::Dir::new(&dir_name);
        Arc::pin_init(
            try_pin_init!(Self {
                pdev,
                bar,
                index,
                state <- dir.read_callback_file(
                    c"resources",
                    new_mutex!(VfInner::new()),
                    &show_resources,
                ),
                answered <- new_condvar!(),
                jobs <- dir.read_callback_file(c"jobs", jobs, &crate::jobs::show),
                _debugfs: dir,
            }? Error),
            GFP_KERNEL,
        )
    }

    /// Unmasks the mailbox causes (`MB_RX`, `MB_ACK`) and the job causes
    /// (`JOB_DONE`, `Q_ERROR`, served by the queue's own vector): the VF
    /// owns `INT_ENABLE` here, the job path only acknowledges its causes.
    fn enable_interrupts(&self) {
        // Forget mailbox causes raised before we listened (RW1C).
        self.bar.write_reg(
            regs::INT_STATUS::zeroed()
                .with_mb_rx(true)
                .with_mb_ack(true),
        );
        self.bar.write_reg(interrupts());
    }

    /// Threaded IRQ handler of the mailbox vector. Returns whether there was
    /// anything to do.
    pub(crate) fn service(&self) -> bool {
        let mut inner = self.state.lock();
        if inner.phase == Phase::Quiesced {
            return false;
        }
        let status = self.bar.read(regs::INT_STATUS);
        // Only the mailbox causes: the job causes belong to the queue's vector.
        let mine = regs::INT_STATUS::zeroed()
            .with_mb_rx(status.mb_rx())
            .with_mb_ack(status.mb_ack());
        let causes: u32 = mine.into();
        if causes != 0 {
            // Acknowledge first: a message arriving while we read re-triggers.
            self.bar.write_reg(mine);
        }
        let received = self.receive(&mut inner);
        if core::mem::take(&mut inner.recover) {
            drop(inner);
            self.recover();
        }
        causes != 0 || received
    }

    /// After a RESET_NOTIFY: waits (bounded) for the PF's reset of the
    /// function (`SCRATCH`, set by every handshake, clears), restarts the job
    /// queue (its jobs in flight fail with `RESET`) and runs the handshake
    /// again. Runs in the mailbox IRQ thread: the handshake's waits poll the
    /// mailbox themselves. An FLR (`reset_prepare`, which waits for this
    /// thread) takes over if it comes first.
    fn recover(&self) {
        let start = Instant::<Monotonic>::now();
        while u32::from(self.bar.read(regs::SCRATCH)) != 0 {
            if start.elapsed().as_millis() >= RESET_WAIT_MS {
                dev_warn!(
                    self.pdev,
                    "VF {}: the PF announced a reset but did not reset the VF within {} ms\n",
                    self.index,
                    RESET_WAIT_MS
                );
                break;
            }
            kernel::time::delay::fsleep(Delta::from_millis(5));
        }
        {
            let inner = self.state.lock();
            if inner.phase != Phase::Recovering {
                return;
            }
            // The PF's reset cleared INT_ENABLE. Unmask before the queue
            // restarts below, not in the handshake after it: jobs submitted
            // in between would complete without JOB_DONE and be found only
            // by the waiters' 100 ms poll. Under the lock, so that an FLR's
            // `quiesce` (which masks everything) is not undone.
            self.enable_interrupts();
        }
        self.jobs.pause_for_reset(&self.bar);
        if let Err(e) = self.jobs.start(&self.bar) {
            dev_err!(
                self.pdev,
                "VF {}: the job queue did not restart after the PF's reset ({:?})\n",
                self.index,
                e
            );
        }
        match self.session(true) {
            Ok(()) => dev_info!(
                self.pdev,
                "VF {}: recovered from the PF's reset\n",
                self.index
            ),
            Err(e) => {
                let mut inner = self.state.lock();
                if inner.phase != Phase::Quiesced {
                    dev_err!(
                        self.pdev,
                        "VF {}: handshake after the PF's reset failed ({:?}); the VF is offline\n",
                        self.index,
                        e
                    );
                    inner.phase = Phase::Failed;
                }
            }
        }
    }

    /// Copies and acknowledges a message from the PF, if one is waiting, and
    /// acts on it. Returns whether there was one.
    fn receive(&self, inner: &mut VfInner) -> bool {
        let status = self.bar.read(regs::MB_STATUS);
        if !bool::from(status.in_valid()) {
            return false;
        }
        let mut raw = [0u32; MSG_WORDS];
        for (i, word) in raw.iter_mut().enumerate() {
            if let Some(loc) = regs::MB_IN::try_at(i) {
                *word = self.bar.read(loc).into();
            }
        }
        // Release the channel at once: while MB_IN is held, the PF cannot
        // send (and drops our replies).
        self.bar.write_reg(regs::MB_ACK::zeroed().with_ack(true));

        match protocol::parse_pf_message(&raw, inner.pending) {
            Ok(PfMessage::Reply { reply, .. }) => {
                inner.pending = None;
                inner.answer = Some(Ok(reply));
                self.answered.notify_all();
            }
            // An error reply to the outstanding request.
            Err(ProtoError::Remote(errno)) => {
                inner.pending = None;
                inner.answer = Some(Err(ProtoError::Remote(errno)));
                self.answered.notify_all();
            }
            Ok(PfMessage::Notification(n)) => self.notified(inner, n),
            // Stale (a reply to a request we gave up on) or malformed.
            Err(_) => inner.dropped = inner.dropped.saturating_add(1),
        }
        true
    }

    /// A PF notification: the hardware ACK already acknowledged it; log the
    /// first one and stop using the device.
    fn notified(&self, inner: &mut VfInner, n: Notification) {
        inner.notifications = inner.notifications.saturating_add(1);
        inner.notice = Some(n);
        let reset = matches!(n, Notification::Reset(_));
        if inner.phase != Phase::Quiesced {
            if reset && inner.phase != Phase::GoingAway {
                inner.phase = Phase::Recovering;
                inner.recover = true;
            } else {
                inner.phase = Phase::GoingAway;
            }
        }
        inner.cancel();
        self.answered.notify_all();
        // Resets are logged each time (the PF decides them, rarely); the
        // rest once per binding.
        if !reset && core::mem::replace(&mut inner.logged_notice, true) {
            return;
        }
        let what = match n {
            Notification::Shutdown(ShutdownReason::DisablingVfs) => {
                "shutdown: VFs are being disabled"
            }
            Notification::Shutdown(ShutdownReason::Removing) => {
                "shutdown: the PF driver is unbinding"
            }
            Notification::Reset(ResetReason::Admin) => "reset by the administrator",
            Notification::Reset(ResetReason::Fault) => "reset after a fault",
            Notification::Reset(ResetReason::DeviceReset) => "reset of the whole device",
            Notification::Reset(ResetReason::Requested) => "reset as requested",
        };
        dev_info!(
            self.pdev,
            "VF {}: PF notification ({}); {}\n",
            self.index,
            what,
            if reset {
                "recovering after the reset"
            } else {
                "the device is going away"
            }
        );
    }

    /// Sends `msg` if `MB_OUT` is free; returns whether it was sent.
    fn send(&self, msg: &[u32; MSG_WORDS]) -> bool {
        let status = self.bar.read(regs::MB_STATUS);
        if bool::from(status.out_busy()) {
            return false;
        }
        for (i, word) in msg.iter().enumerate() {
            if let Some(loc) = regs::MB_OUT::try_at(i) {
                self.bar.write(loc, regs::MB_OUT::from(*word));
            }
        }
        self.bar
            .write_reg(regs::MB_DOORBELL::zeroed().with_ring(true));
        true
    }

    /// Sends a request built by `build(seq)` and waits at most
    /// [`REQUEST_MS`] for its reply, sending it again (with a new sequence
    /// number) every [`ATTEMPT_MS`] and after `EAGAIN`/`EBUSY`. Sleeps; must
    /// not be called from the IRQ thread.
    pub(crate) fn request(
        &self,
        opcode: Opcode,
        build: impl Fn(u16) -> core::result::Result<[u32; MSG_WORDS], ProtoError>,
    ) -> core::result::Result<Reply, RequestError> {
        let start = Instant::<Monotonic>::now();
        let mut inner = self.state.lock();
        inner.cancel();
        let mut send_at: i64 = 0;
        let mut sent = false;
        loop {
            self.receive(&mut inner);
            if !matches!(inner.phase, Phase::Starting | Phase::Ready) {
                inner.cancel();
                return Err(RequestError::Offline);
            }
            match inner.answer.take() {
                Some(Ok(reply)) => return Ok(reply),
                Some(Err(ProtoError::Remote(errno)))
                    if errno == ProtoError::RateLimited.status()
                        || errno == ProtoError::Busy.status() =>
                {
                    send_at = start.elapsed().as_millis() + BACKOFF_MS;
                }
                Some(Err(e)) => return Err(RequestError::Proto(e)),
                None => {}
            }
            let now = start.elapsed().as_millis();
            if now >= REQUEST_MS {
                inner.cancel();
                return Err(RequestError::Timeout);
            }
            if now >= send_at {
                let seq = inner.next_seq;
                let msg = build(seq).map_err(RequestError::Proto)?;
                if self.send(&msg) {
                    inner.next_seq = seq.wrapping_add(1).max(1);
                    inner.pending = Some(Pending { opcode, seq });
                    if sent {
                        inner.retries = inner.retries.saturating_add(1);
                    }
                    sent = true;
                    send_at = now + ATTEMPT_MS;
                } else {
                    // The PF has not taken our previous message yet.
                    send_at = now + BACKOFF_MS;
                }
            }
            let wake = send_at.min(REQUEST_MS);
            let sleep = (wake - now).clamp(1, POLL_MS);
            let jiffies = msecs_to_jiffies(u32::try_from(sleep).unwrap_or(1));
            if let kernel::sync::CondVarTimeoutResult::Signal { .. } = self
                .answered
                .wait_interruptible_timeout(&mut inner, jiffies)
            {
                // A signal must not shorten the bounded wait into a busy
                // loop: sleep without the lock, then poll again.
                drop(inner);
                kernel::time::delay::fsleep(Delta::from_millis(sleep));
                inner = self.state.lock();
            }
        }
    }

    /// HELLO (v1..v2), then GET_RESOURCES; logs the slice in one line. Used
    /// at probe and after an FLR.
    pub(crate) fn handshake(&self) -> Result {
        self.session(false)
    }

    /// The handshake; `unless_quiesced`: not if an FLR started meanwhile
    /// (recovery from the PF's reset).
    fn session(&self, unless_quiesced: bool) -> Result {
        {
            let mut inner = self.state.lock();
            if unless_quiesced && inner.phase == Phase::Quiesced {
                return Err(EAGAIN);
            }
            inner.phase = Phase::Starting;
            inner.version = None;
            inner.resources = None;
            inner.notice = None;
        }
        self.enable_interrupts();

        // A HELLO racing with the PF's processing of our reset event can be
        // undone by it (the PF then answers GET_RESOURCES with EPROTO):
        // start over once.
        let mut tries = 0;
        let (version, res) = loop {
            tries += 1;
            let version = self.hello()?;
            match self.request(Opcode::GetResources, |seq| {
                protocol::simple_request(seq, Opcode::GetResources)
            }) {
                Ok(Reply::Resources(res)) => break (version, res),
                Ok(_) => {
                    return Err(
                        self.fail("GET_RESOURCES", RequestError::Proto(ProtoError::BadReply))
                    )
                }
                Err(RequestError::Proto(ProtoError::Remote(e)))
                    if tries < 2 && e == ProtoError::NotNegotiated.status() => {}
                Err(e) => return Err(self.fail("GET_RESOURCES", e)),
            }
        };

        if u32::from(res.vf_index) != self.index {
            dev_warn!(
                self.pdev,
                "the PF describes VF {} but this is VF {}\n",
                res.vf_index,
                self.index
            );
        }
        self.check_slice_registers(&res);

        dev_info!(
            self.pdev,
            "VF {}: {} slice: IPU {:#06x}, VPU {:#x}, JPU {:#x}, {} MiB, protocol v{}\n",
            self.index,
            fraction(res.quarters),
            res.ipu_mask,
            res.vpu_mask,
            res.jpu_mask,
            res.mem_size_mb,
            version.as_u16()
        );

        let mut inner = self.state.lock();
        if inner.phase == Phase::Starting {
            inner.phase = Phase::Ready;
        }
        // Cleared by a reset of the function: how recovery sees the PF's
        // reset happen.
        self.bar.write_reg(regs::SCRATCH::from(1));
        inner.version = Some(version);
        inner.resources = Some(res);
        inner.handshakes = inner.handshakes.saturating_add(1);
        Ok(())
    }

    /// HELLO offering every version this driver speaks.
    fn hello(&self) -> Result<Version> {
        let reply = self
            .request(Opcode::Hello, |seq| {
                Ok(protocol::hello_request(seq, Version::MIN, Version::MAX))
            })
            .map_err(|e| self.fail("HELLO", e))?;
        match reply {
            Reply::Hello { version, .. } if (Version::MIN..=Version::MAX).contains(&version) => {
                Ok(version)
            }
            Reply::Hello { version, pf_max } => {
                dev_err!(
                    self.pdev,
                    "VF {}: the PF selected protocol v{} (PF speaks up to v{}), this driver speaks v{}..v{}\n",
                    self.index,
                    version.as_u16(),
                    pf_max,
                    Version::MIN.as_u16(),
                    Version::MAX.as_u16()
                );
                Err(EPROTO)
            }
            _ => Err(self.fail("HELLO", RequestError::Proto(ProtoError::BadReply))),
        }
    }

    /// Logs why request `what` failed; returns the error to report.
    fn fail(&self, what: &str, e: RequestError) -> Error {
        match e {
            RequestError::Timeout => dev_err!(
                self.pdev,
                "VF {}: no reply to {} from the PF within {} ms (is mlu270_pf bound to the PF?)\n",
                self.index,
                what,
                REQUEST_MS
            ),
            RequestError::Proto(ProtoError::Remote(errno)) if what == "HELLO" => dev_err!(
                self.pdev,
                "VF {}: the PF refused HELLO for protocol v{}..v{} (errno {}): incompatible PF driver\n",
                self.index,
                Version::MIN.as_u16(),
                Version::MAX.as_u16(),
                errno
            ),
            RequestError::Proto(p) => dev_err!(
                self.pdev,
                "VF {}: {} failed: protocol error {:?} (errno {})\n",
                self.index,
                what,
                p,
                p.errno()
            ),
            RequestError::Offline => dev_err!(
                self.pdev,
                "VF {}: {} abandoned: the device is going away\n",
                self.index,
                what
            ),
        }
        match e {
            // A PF that refuses our versions is incompatible, whatever errno it chose.
            RequestError::Proto(ProtoError::Remote(_)) if what == "HELLO" => EPROTO,
            _ => e.to_error(),
        }
    }

    /// The PF's description must match what the device enforces.
    fn check_slice_registers(&self, res: &Resources) {
        let ipu: u32 = self.bar.read(regs::SLICE_IPU).mask().into();
        let vpu: u32 = self.bar.read(regs::SLICE_VPU).mask().into();
        let jpu: u32 = self.bar.read(regs::SLICE_JPU).mask().into();
        let mem: u32 = self.bar.read(regs::SLICE_MEM_MB).into();
        if ipu != u32::from(res.ipu_mask)
            || vpu != u32::from(res.vpu_mask)
            || jpu != u32::from(res.jpu_mask)
            || mem != res.mem_size_mb
        {
            dev_warn!(
                self.pdev,
                "VF {}: the PF's slice differs from the device's (IPU {:#x}, VPU {:#x}, JPU {:#x}, {} MiB)\n",
                self.index,
                ipu,
                vpu,
                jpu,
                mem
            );
        }
    }

    /// Before a reset (FLR): stop using the device. The caller then waits
    /// for the IRQ handler to finish.
    pub(crate) fn quiesce(&self) {
        let mut inner = self.state.lock();
        inner.phase = Phase::Quiesced;
        inner.cancel();
        self.bar.write_reg(regs::INT_ENABLE::zeroed());
        self.answered.notify_all();
    }

    /// After a reset: the device forgot everything; start over with HELLO.
    pub(crate) fn restart(&self) {
        let Err(e) = self.handshake() else {
            return;
        };
        dev_err!(
            self.pdev,
            "VF {}: handshake after reset failed ({:?}); the VF is offline\n",
            self.index,
            e
        );
        let mut inner = self.state.lock();
        inner.phase = Phase::Failed;
        self.bar.write_reg(regs::INT_ENABLE::zeroed());
    }

    /// The driver is unbinding: take a last message (the PF sends SHUTDOWN
    /// just before it disables the VFs), then mask the interrupts.
    pub(crate) fn stop(&self) {
        let mut inner = self.state.lock();
        if inner.phase != Phase::Quiesced {
            self.receive(&mut inner);
        }
        inner.phase = Phase::GoingAway;
        inner.cancel();
        self.bar.write_reg(regs::INT_ENABLE::zeroed());
    }
}

/// debugfs `resources`: the slice and the session, one `key: value` per
/// line.
fn show_resources(state: &Mutex<VfInner>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let inner = state.lock();
    writeln!(f, "state: {}", inner.phase.name())?;
    writeln!(f, "protocol: {}", inner.version.map_or(0, |v| v.as_u16()))?;
    if let Some(r) = inner.resources {
        writeln!(f, "vf_index: {}", r.vf_index)?;
        writeln!(f, "quarters: {}", r.quarters)?;
        writeln!(f, "ipu_mask: {:#06x}", r.ipu_mask)?;
        writeln!(f, "vpu_mask: {:#x}", r.vpu_mask)?;
        writeln!(f, "jpu_mask: {:#x}", r.jpu_mask)?;
        writeln!(f, "mem_mb: {}", r.mem_size_mb)?;
    }
    writeln!(f, "handshakes: {}", inner.handshakes)?;
    writeln!(f, "notifications: {}", inner.notifications)?;
    writeln!(f, "retries: {}", inner.retries)?;
    writeln!(f, "dropped: {}", inner.dropped)
}
