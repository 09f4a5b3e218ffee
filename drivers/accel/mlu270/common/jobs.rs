// SPDX-License-Identifier: GPL-2.0

//! The job path of one function (the PF's whole card, or a VF's slice): the
//! submission and completion rings in coherent DMA memory, the bookkeeping
//! of the jobs of every open file, completions, and the bounce buffer that
//! moves user data in and out of the function's memory window.
//!
//! See `Documentation/accel/mlu270/job-uapi.rst` for the user view and
//! `hardware.rst` ("Engines and the job path") for the device.

// Each driver uses the parts of its own side.
#![allow(dead_code, unreachable_pub)]

use kernel::{
    cred::Capability,
    device::{self, Bound},
    dma::Coherent,
    fs::File,
    io::{io_project, io_read, io_write, Io},
    irq::{IrqReturn, ThreadedHandler},
    miscdevice::{MiscDevice, MiscDeviceRegistration, RegistrationHandle},
    new_condvar, new_mutex, pci,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{AtomicFlag, Full, Release},
        Arc, CondVar, CondVarTimeoutResult, Mutex, MutexGuard,
    },
    time::{msecs_to_jiffies, Instant, Monotonic},
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    regs,
    uapi::{self, op, status, Job, Outcome, Transfer},
};

/// BAR 0 of either function type.
pub(crate) type Bar0<'bound> = pci::Bar<'bound, { regs::BAR0_SIZE }>;

/// Ring slots; one is always left free, so `RING_SLOTS - 1` jobs fly.
pub const RING_SLOTS: usize = 256;
/// A descriptor is 64 bytes (8 words), a completion record 32 (4 words).
const DESC_WORDS: usize = 8;
const RECORD_WORDS: usize = 4;
/// Jobs an open file may have that it has not waited for yet.
pub const MAX_JOBS_PER_FILE: usize = 64;
/// Size of the bounce buffer of `MLU270_IOCTL_WRITE`/`READ`.
const BOUNCE_BYTES: usize = 256 << 10;
/// Longest a kernel-internal bounce job may take (16 MiB at a quarter
/// slice is about 270 ms of device time).
const BOUNCE_TIMEOUT_MS: u32 = 10_000;
/// A sleeping waiter also polls the device this often, so a lost interrupt
/// only delays a completion.
const POLL_MS: u32 = 100;
/// How long a submitter waits for a queue that is being reset.
const RESTART_WAIT_MS: u32 = 5_000;
/// A completion that a timed-out poll collected counts in
/// `poll_completions` unless a `JOB_DONE` interrupt is served within this
/// time after the poll: the device may have written the record just before
/// the poll, with its interrupt on the way. An interrupt slower than a
/// whole poll period is no better than the poll, so it counts.
const IRQ_GRACE_MS: u32 = POLL_MS;

/// A job in flight, by ring slot: whose it is ([`FileJobs`]) and how the
/// device names it (`tag`).
struct InFlight {
    owner: Arc<FileJobs>,
    handle: u64,
    tag: u64,
}

/// A job its owner has not collected yet.
#[derive(Clone, Copy)]
struct Pending {
    handle: u64,
    /// `None` while the job is in flight.
    outcome: Option<Outcome>,
}

/// The jobs of one open file (or of the kernel's bounce transfers) that
/// its owner has not collected with `MLU270_IOCTL_WAIT` yet.
///
/// Each file has its own [`MAX_JOBS_PER_FILE`] places, allocated when it is
/// opened (and charged to its opener): a file that never collects its jobs
/// fills only its own places, never another file's, and finding a job is a
/// scan of at most that many.
///
/// # Locking
///
/// `jobs` is only taken with the queue's `state` held (after it): it does
/// not protect anything by itself, it lets the queue reach the places of
/// a file through the [`Arc`] that the file and each of its jobs in flight
/// hold. A job still in flight when its file is closed keeps the places
/// alive until the device completes it.
#[pin_data]
pub(crate) struct FileJobs {
    #[pin]
    jobs: Mutex<[Option<Pending>; MAX_JOBS_PER_FILE]>,
}

impl FileJobs {
    /// Places for a new open file.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                jobs <- new_mutex!([None; MAX_JOBS_PER_FILE], "FileJobs::jobs"),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Records `outcome` for `handle` (nothing if the owner gave it up).
    fn finish(&self, handle: u64, outcome: Outcome) {
        let mut jobs = self.jobs.lock();
        if let Some(job) = jobs.iter_mut().flatten().find(|j| j.handle == handle) {
            job.outcome = Some(outcome);
        }
    }

    /// The outcome of job `handle` if it completed (its place is then
    /// free); `EINVAL` if there is no such job.
    fn collect(&self, handle: u64) -> Result<Option<Outcome>> {
        let mut jobs = self.jobs.lock();
        let place = jobs
            .iter_mut()
            .find(|p| p.is_some_and(|j| j.handle == handle))
            .ok_or(EINVAL)?;
        let outcome = place.and_then(|j| j.outcome);
        if outcome.is_some() {
            *place = None;
        }
        Ok(outcome)
    }

    /// Forgets every job (the kernel's, after a stuck bounce transfer).
    fn clear(&self) {
        *self.jobs.lock() = [None; MAX_JOBS_PER_FILE];
    }
}

/// The bounce buffer, owned by one transfer chunk at a time: see
/// [`JobQueue::take_bounce`]. Holds no lock, so that whoever waits for the
/// buffer can be interrupted by a signal.
struct BounceOwner<'a> {
    queue: &'a JobQueue,
}

impl Drop for BounceOwner<'_> {
    fn drop(&mut self) {
        let mut st = self.queue.state.lock();
        st.bounce_owned = false;
        self.queue.changed.notify_all();
    }
}

/// Why the queue does not take jobs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stopped {
    /// Not started yet, or being reset: submitters wait (bounded).
    Paused,
    /// The PF's native queue while VFs are enabled (`EBUSY`).
    Blocked,
    /// The function is unbinding (`ENODEV`).
    Gone,
}

/// Counters, shown in debugfs.
#[derive(Clone, Copy, Default)]
pub struct JobStats {
    pub submitted: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub queue_errors: u64,
    pub restarts: u64,
    /// Events that may have taken the memory window's contents: resets of
    /// the function (an FLR, a reset by the PF) and, on the PF, VFs taking
    /// the card or a new native slice. Userspace sees it in
    /// `MLU270_IOCTL_INFO`.
    pub resets: u64,
    /// Completions found by the fallback poll and not by the interrupt
    /// path (see [`QueueState::note_polled`]).
    pub poll_completions: u64,
}

struct QueueState {
    stopped: Option<Stopped>,
    /// Next slot to fill, next slot to complete (software's copies).
    tail: u32,
    head: u32,
    slots: KVec<Option<InFlight>>,
    next_tag: u64,
    next_handle: u64,
    /// Size of the function's memory window, bytes (from `SLICE_MEM_MB`).
    window: u64,
    stats: JobStats,
    /// Completions collected by timed-out polls whose interrupt may still
    /// come: when the first of them was collected, and how many.
    poll_pending: Option<(Instant<Monotonic>, u64)>,
    /// Whether a [`BounceOwner`] exists.
    bounce_owned: bool,
    /// A bounce job whose waiter was interrupted by a signal: the device
    /// may still read or write the buffer until it completes, so the next
    /// owner waits for it first. Only the interrupted file's transfer
    /// fails; nobody else's jobs are touched. Written by the owner only.
    bounce_outstanding: Option<u64>,
}

impl QueueState {
    fn in_flight(&self) -> u32 {
        self.tail.wrapping_sub(self.head) % RING_SLOTS as u32
    }

    fn finish(&mut self, job: InFlight, outcome: Outcome) {
        job.owner.finish(job.handle, outcome);
        match outcome.status {
            status::OK => self.stats.completed += 1,
            status::RESET | status::QUEUE_ERROR | status::GONE => self.stats.cancelled += 1,
            _ => self.stats.failed += 1,
        }
    }

    /// Fails every job in flight with `status` and empties the ring.
    fn cancel_all(&mut self, why: u32) {
        for i in 0..RING_SLOTS {
            let job = self.slots.get_mut(i).and_then(Option::take);
            if let Some(job) = job {
                self.finish(job, Outcome::failed(why));
            }
        }
        self.head = 0;
        self.tail = 0;
    }

    /// A poll pass after a timed-out sleep collected `n` completion
    /// records. They count in `poll_completions` once [`IRQ_GRACE_MS`]
    /// passed without a `JOB_DONE` interrupt being served (see
    /// [`QueueState::settle_polled`]); an interrupt served in time means
    /// the poll only beat the IRQ thread to records the interrupt path
    /// would have found, which is not a lost interrupt.
    fn note_polled(&mut self, n: u64) {
        self.settle_polled(false);
        self.poll_pending = Some(match self.poll_pending {
            // Keep the oldest time: its grace ends first.
            Some((since, m)) => (since, m + n),
            None => (Instant::now(), n),
        });
    }

    /// Decides about the pending polled completions: counted once their
    /// grace is over, forgiven if a `JOB_DONE` interrupt (`job_irq`) is
    /// served before that. Called by the IRQ thread, by every poll and by
    /// readers of the counters.
    fn settle_polled(&mut self, job_irq: bool) {
        let Some((since, n)) = self.poll_pending else {
            return;
        };
        if since.elapsed().as_millis() >= i64::from(IRQ_GRACE_MS) {
            self.stats.poll_completions += n;
            self.poll_pending = None;
        } else if job_irq {
            self.poll_pending = None;
        }
    }
}

/// The job queue of one function.
///
/// # Locking and lifetimes
///
/// Embedded in the function's driver data (`Vf`/`Card`), so it lives as
/// long as the binding; open files reach it only through the misc device's
/// registration handle, which the driver drops (after [`JobQueue::shutdown`]
/// woke every waiter) before the queue.
///
/// `state` (a [`Mutex`]) covers the ring indices, the slot table, the
/// places of every file's jobs ([`FileJobs`], locked after it), the queue
/// registers (`Q_*`), the descriptor ring and the counters (including the
/// polled completions still waiting for their grace, which are decided
/// under it so that the IRQ thread and a poll see one order). It is taken
/// by submitters and waiters (ioctls), by the queue's IRQ thread, by the
/// reset hooks and by debugfs readers; it is only held across sleeps
/// inside [`CondVar`] waits. `changed` is notified, with `state` held,
/// whenever a job completes, a slot frees, the queue stops or starts or
/// the bounce buffer is given back. `bounce` (the buffer) belongs to the
/// [`BounceOwner`] (`state.bounce_owned`), for one chunk of one transfer
/// at a time; waiting to own it is interruptible. No user memory is
/// touched under `state` or while owning the buffer.
#[pin_data]
pub(crate) struct JobQueue {
    dev: ARef<device::Device>,
    /// "PF" or "VF n", for log lines.
    who: &'static str,
    /// The owner's `INT_ENABLE`, restored after a reset the driver was not
    /// told about (which clears it).
    int_enable: u32,
    sq: Coherent<[u64]>,
    cq: Coherent<[u64]>,
    bounce: Coherent<[u8]>,
    #[pin]
    state: Mutex<QueueState>,
    #[pin]
    changed: CondVar,
    /// The places of the kernel's bounce jobs.
    kernel_jobs: Arc<FileJobs>,
}

fn jiffies(ms: u32) -> kernel::time::Jiffies {
    msecs_to_jiffies(ms)
}

impl JobQueue {
    /// Allocates the rings and the bounce buffer. The queue starts paused;
    /// [`JobQueue::start`] programs the device.
    pub(crate) fn new(
        dev: &device::Device<Bound>,
        who: &'static str,
        int_enable: regs::INT_ENABLE,
    ) -> Result<impl PinInit<Self, Error>> {
        let sq = Coherent::<u64>::zeroed_slice(dev, RING_SLOTS * DESC_WORDS, GFP_KERNEL)?;
        let cq = Coherent::<u64>::zeroed_slice(dev, RING_SLOTS * RECORD_WORDS, GFP_KERNEL)?;
        let bounce = Coherent::<u8>::zeroed_slice(dev, BOUNCE_BYTES, GFP_KERNEL)?;
        let mut slots = KVec::with_capacity(RING_SLOTS, GFP_KERNEL)?;
        for _ in 0..RING_SLOTS {
            slots.push(None, GFP_KERNEL)?;
        }
        let devref: ARef<device::Device> = dev.into();
        let kernel_jobs = FileJobs::new()?;
        Ok(try_pin_init!(Self {
            dev: devref,
            who,
            int_enable: int_enable.into(),
            sq,
            cq,
            bounce,
            state <- new_mutex!(QueueState {
                stopped: Some(Stopped::Paused),
                tail: 0,
                head: 0,
                slots,
                next_tag: 1,
                next_handle: 1,
                window: 0,
                stats: JobStats::default(),
                poll_pending: None,
                bounce_owned: false,
                bounce_outstanding: None,
            }),
            changed <- new_condvar!(),
            kernel_jobs,
        }? Error))
    }

    pub(crate) fn stats(&self) -> (JobStats, u32, Option<Stopped>) {
        let mut st = self.state.lock();
        // Polled completions whose grace is over count now, not at the
        // next poll (there may be none).
        st.settle_polled(false);
        (st.stats, st.in_flight(), st.stopped)
    }

    pub(crate) fn window(&self) -> u64 {
        self.state.lock().window
    }

    fn program(&self, bar: &Bar0<'_>, window_mb: u32) {
        let sq = self.sq.dma_address();
        let cq = self.cq.dma_address();
        bar.write_reg(regs::Q_CTRL::zeroed());
        bar.write_reg(regs::Q_BASE_LO::from(sq as u32));
        bar.write_reg(regs::Q_BASE_HI::from((sq >> 32) as u32));
        bar.write_reg(regs::CQ_BASE_LO::from(cq as u32));
        bar.write_reg(regs::CQ_BASE_HI::from((cq >> 32) as u32));
        bar.write_reg(regs::Q_SIZE::from(RING_SLOTS as u32));
        bar.write_reg(regs::Q_CTRL::zeroed().with_enable(true));
        let _ = window_mb;
    }

    /// Programs the rings and starts taking jobs (probe, after a reset).
    /// Jobs that were in flight are failed with `RESET`.
    pub(crate) fn start(&self, bar: &Bar0<'_>) -> Result {
        let mut st = self.state.lock();
        if st.stopped == Some(Stopped::Gone) {
            return Err(ENODEV);
        }
        st.cancel_all(status::RESET);
        let window_mb: u32 = bar.read(regs::SLICE_MEM_MB).into();
        self.program(bar, window_mb);
        let q = bar.read(regs::Q_STATUS);
        if bool::from(q.stopped()) || !bool::from(q.enabled()) {
            let err: u32 = bar.read(regs::Q_ERROR).into();
            dev_err!(
                self.dev,
                "{}: the job queue did not start (Q_ERROR {})\n",
                self.who,
                err
            );
            return Err(EIO);
        }
        st.window = u64::from(window_mb) << 20;
        if st.stopped == Some(Stopped::Paused) {
            st.stopped = None;
        }
        self.changed.notify_all();
        Ok(())
    }

    /// [`JobQueue::pause`] for a reset of the function, which zeroes its
    /// memory window: counted in `resets`, so that a user who finds its
    /// data gone can tell that a reset took it.
    pub(crate) fn pause_for_reset(&self, bar: &Bar0<'_>) {
        self.pause_counted(bar, true);
    }

    /// The value of `resets` for `MLU270_IOCTL_INFO` (wrapping).
    pub(crate) fn resets(&self) -> u32 {
        // Truncation intended: userspace compares values, see uapi::Info.
        self.state.lock().stats.resets as u32
    }

    /// Stops the queue before a reset: the device aborts the job it runs,
    /// every job in flight fails with `RESET`, submitters wait for
    /// [`JobQueue::start`].
    pub(crate) fn pause(&self, bar: &Bar0<'_>) {
        self.pause_counted(bar, false);
    }

    fn pause_counted(&self, bar: &Bar0<'_>, reset: bool) {
        let mut st = self.state.lock();
        if st.stopped == Some(Stopped::Gone) {
            return;
        }
        bar.write_reg(regs::Q_CTRL::zeroed());
        st.cancel_all(status::RESET);
        // Counted where nothing can reach the window any more (the queue
        // is stopped, under the lock that submitters and INFO take): a
        // user that read the old count cannot get data in before the
        // reset that the new count reports.
        if reset {
            st.stats.resets += 1;
        }
        if st.stopped.is_none() {
            st.stopped = Some(Stopped::Paused);
        }
        self.changed.notify_all();
    }

    /// The function is unbinding: stop the device's queue, cancel every job
    /// and wake every waiter; nothing is accepted afterwards.
    pub(crate) fn shutdown(&self, bar: &Bar0<'_>) {
        let mut st = self.state.lock();
        bar.write_reg(regs::Q_CTRL::zeroed());
        st.cancel_all(status::GONE);
        st.stopped = Some(Stopped::Gone);
        self.changed.notify_all();
    }

    /// Refuses (`blocked`) or accepts native jobs again (the PF while VFs
    /// are enabled). Blocking fails with `EBUSY` while jobs are in flight.
    pub(crate) fn set_blocked(&self, blocked: bool) -> Result {
        let mut st = self.state.lock();
        match (blocked, st.stopped) {
            (_, Some(Stopped::Gone)) => return Err(ENODEV),
            (true, _) if st.in_flight() != 0 => return Err(EBUSY),
            (true, _) => {
                // The VFs take the window over: its contents are not the
                // native user's any more (see `resets`).
                st.stopped = Some(Stopped::Blocked);
                st.stats.resets += 1;
            }
            (false, Some(Stopped::Blocked)) => st.stopped = None,
            (false, _) => {}
        }
        self.changed.notify_all();
        Ok(())
    }

    /// Runs `change` (e.g. a new slice for the function) while the queue is
    /// running and idle, then takes the window size from the device again.
    /// `EBUSY` if jobs are in flight or the queue is stopped or blocked.
    pub(crate) fn reconfigure_idle(&self, bar: &Bar0<'_>, change: impl FnOnce()) -> Result {
        let mut st = self.state.lock();
        if st.stopped.is_some() || st.in_flight() != 0 {
            return Err(EBUSY);
        }
        change();
        let window_mb: u32 = bar.read(regs::SLICE_MEM_MB).into();
        st.window = u64::from(window_mb) << 20;
        // A new window: what was written to the old one is gone.
        st.stats.resets += 1;
        Ok(())
    }

    /// The IRQ thread of vector 0: acknowledges the queue's causes and
    /// collects the completion records the device wrote; returns whether
    /// there was anything to do.
    pub(crate) fn service(&self, bar: &Bar0<'_>) -> bool {
        let int = bar.read(regs::INT_STATUS);
        let mine = regs::INT_STATUS::zeroed()
            .with_job_done(int.job_done())
            .with_q_error(int.q_error());
        if u32::from(mine) != 0 {
            bar.write_reg(mine);
        }
        let mut st = self.state.lock();
        // A JOB_DONE interrupt came: records a poll collected just before
        // were not lost to the interrupt path.
        st.settle_polled(bool::from(int.job_done()));
        let reaped = self.reap(bar, &mut st, false);
        u32::from(mine) != 0 || reaped
    }

    /// Collects the completion records the device wrote (the IRQ thread,
    /// and waiters and submitters before and after they sleep); returns
    /// whether there was anything to do. `polled`: the caller's sleep timed
    /// out, so this is the fallback poll, and what it collects goes to
    /// `poll_completions` (see [`QueueState::note_polled`]). A pass before
    /// sleeping is not counted: the caller merely came after the device
    /// and before the IRQ thread, which happens with working interrupts.
    fn reap(&self, bar: &Bar0<'_>, st: &mut QueueState, polled: bool) -> bool {
        if st.stopped.is_some_and(|s| s != Stopped::Blocked) {
            return false;
        }
        let hw_head: u32 = bar.read(regs::Q_HEAD).into();
        // A reset of the function (the PF's VF_RESET) zeroes Q_HEAD: walking
        // up to it would read stale records and fail the jobs in flight
        // with BAD_RECORD instead of RESET. Q_STATUS is read after Q_HEAD,
        // so while it says enabled, the head was read before any reset.
        let head_valid = bool::from(bar.read(regs::Q_STATUS).enabled());
        let mut any = false;
        // Records taken off the ring; jobs a restart fails below are not
        // completions the device reported.
        let mut collected: u64 = 0;
        while head_valid && st.head != hw_head % RING_SLOTS as u32 && st.head != st.tail {
            let slot = st.head as usize;
            let outcome = self.read_record(slot);
            if let Some(job) = st.slots.get_mut(slot).and_then(Option::take) {
                let outcome = match outcome {
                    Some((tag, o)) if tag == job.tag => o,
                    _ => Outcome::failed(status::BAD_RECORD),
                };
                st.finish(job, outcome);
            }
            st.head = (st.head + 1) % RING_SLOTS as u32;
            collected += 1;
            any = true;
        }
        if polled && collected != 0 {
            st.note_polled(collected);
        }
        let q = bar.read(regs::Q_STATUS);
        if bool::from(q.stopped()) || !bool::from(q.enabled()) {
            // A ring DMA error, or a reset we were not told about (the PF's
            // VF_RESET clears the queue registers): fail what is left and
            // start over.
            let err: u32 = bar.read(regs::Q_ERROR).into();
            let why = if bool::from(q.stopped()) {
                status::QUEUE_ERROR
            } else {
                st.stats.resets += 1;
                status::RESET
            };
            st.stats.queue_errors += 1;
            log_restart(
                &self.dev,
                self.who,
                err,
                st.in_flight(),
                why == status::QUEUE_ERROR,
            );
            st.cancel_all(why);
            if why == status::RESET {
                bar.write_reg(regs::INT_ENABLE::from(self.int_enable));
            }
            let window_mb: u32 = bar.read(regs::SLICE_MEM_MB).into();
            self.program(bar, window_mb);
            st.window = u64::from(window_mb) << 20;
            st.stats.restarts += 1;
            any = true;
        }
        if any {
            self.changed.notify_all();
        }
        any
    }

    fn read_record(&self, slot: usize) -> Option<(u64, Outcome)> {
        let base = slot * RECORD_WORDS;
        let word =
            |i: usize| -> Result<u64> { Ok(u64::from_le(io_read!(&self.cq, [try: base + i]))) };
        let read = || -> Result<(u64, Outcome)> {
            let tag = word(0)?;
            let st_seq = word(1)?;
            Ok((
                tag,
                Outcome {
                    status: st_seq as u32,
                    result: word(2)?,
                    duration_ns: word(3)?,
                },
            ))
        };
        read().ok()
    }

    fn write_desc(&self, slot: usize, job: &Job, tag: u64) -> Result {
        let base = slot * DESC_WORDS;
        let words = [
            u64::from(job.opcode),
            tag,
            job.src,
            job.dst,
            job.aux,
            u64::from(job.len) | (u64::from(job.arg0) << 32),
            u64::from(job.arg1) | (u64::from(job.arg2) << 32),
            0,
        ];
        for (i, w) in words.into_iter().enumerate() {
            io_write!(&self.sq, [try: base + i], w.to_le());
        }
        Ok(())
    }

    /// Waits until the queue takes jobs; `EBUSY`/`ENODEV`/`EIO` if it
    /// will not.
    fn wait_running<'a>(&'a self, st: &mut MutexGuard<'a, QueueState>) -> Result {
        let deadline = Instant::<Monotonic>::now();
        loop {
            match st.stopped {
                None => return Ok(()),
                Some(Stopped::Gone) => return Err(ENODEV),
                Some(Stopped::Blocked) => return Err(EBUSY),
                Some(Stopped::Paused) => {}
            }
            if deadline.elapsed().as_millis() >= i64::from(RESTART_WAIT_MS) {
                return Err(EIO);
            }
            if let CondVarTimeoutResult::Signal { .. } = self
                .changed
                .wait_interruptible_timeout(st, jiffies(POLL_MS))
            {
                return Err(EINTR);
            }
        }
    }

    /// Queues `job` for the owner of `jobs`; returns its handle. `EBUSY`
    /// if the owner has [`MAX_JOBS_PER_FILE`] jobs it has not collected,
    /// checked when the job is queued (after any wait for ring space, so
    /// that threads sharing a file cannot exceed it).
    fn submit_locked<'a>(
        &'a self,
        bar: &Bar0<'_>,
        st: &mut MutexGuard<'a, QueueState>,
        jobs: &Arc<FileJobs>,
        job: &Job,
    ) -> Result<u64> {
        // Whether the last sleep timed out: the next pass is a poll.
        let mut polled = false;
        loop {
            self.wait_running(st)?;
            if st.in_flight() < RING_SLOTS as u32 - 1 {
                break;
            }
            // Ring full: a completion frees a slot.
            self.reap(bar, st, core::mem::take(&mut polled));
            if st.in_flight() < RING_SLOTS as u32 - 1 {
                break;
            }
            match self
                .changed
                .wait_interruptible_timeout(st, jiffies(POLL_MS))
            {
                CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
                CondVarTimeoutResult::Timeout => polled = true,
                CondVarTimeoutResult::Woken { .. } => {}
            }
        }
        let mut places = jobs.jobs.lock();
        let place = places.iter_mut().find(|p| p.is_none()).ok_or(EBUSY)?;
        let tag = st.next_tag;
        let handle = st.next_handle;
        let slot = st.tail as usize;
        let ring_slot = st.slots.get_mut(slot).ok_or(EINVAL)?;
        self.write_desc(slot, job, tag)?;
        *place = Some(Pending {
            handle,
            outcome: None,
        });
        drop(places);
        *ring_slot = Some(InFlight {
            owner: jobs.clone(),
            handle,
            tag,
        });
        st.next_tag += 1;
        st.next_handle += 1;
        st.tail = (st.tail + 1) % RING_SLOTS as u32;
        st.stats.submitted += 1;
        // The descriptor writes above are ordered before this MMIO write.
        bar.write_reg(regs::Q_TAIL::from(st.tail));
        Ok(handle)
    }

    /// `MLU270_IOCTL_SUBMIT`: checks and queues a user job.
    pub(crate) fn submit(&self, bar: &Bar0<'_>, jobs: &Arc<FileJobs>, job: &Job) -> Result<u64> {
        let mut st = self.state.lock();
        if jobs.jobs.lock().iter().all(Option::is_some) {
            return Err(EBUSY);
        }
        self.wait_running(&mut st)?;
        job.check(st.window)?;
        self.submit_locked(bar, &mut st, jobs, job)
    }

    /// `MLU270_IOCTL_WAIT`: waits up to `timeout_ms` for the job `handle` of
    /// the owner of `jobs` and collects its outcome (`EAGAIN` with 0 ms,
    /// `ETIMEDOUT` later; the job stays pending then). `EINVAL` for a
    /// handle the owner does not have.
    pub(crate) fn wait(
        &self,
        bar: &Bar0<'_>,
        jobs: &FileJobs,
        handle: u64,
        timeout_ms: u32,
    ) -> Result<Outcome> {
        let start = Instant::<Monotonic>::now();
        let mut st = self.state.lock();
        // Whether the last sleep timed out (nobody notified us): the next
        // pass is the fallback poll.
        let mut polled = false;
        loop {
            if let Some(outcome) = jobs.collect(handle)? {
                return Ok(outcome);
            }
            // Polls the device: a lost interrupt only delays us.
            self.reap(bar, &mut st, core::mem::take(&mut polled));
            if let Some(outcome) = jobs.collect(handle)? {
                return Ok(outcome);
            }
            let elapsed = start.elapsed().as_millis();
            if elapsed >= i64::from(timeout_ms) {
                return Err(if timeout_ms == 0 { EAGAIN } else { ETIMEDOUT });
            }
            let left = u32::try_from(i64::from(timeout_ms) - elapsed).unwrap_or(POLL_MS);
            match self
                .changed
                .wait_interruptible_timeout(&mut st, jiffies(left.min(POLL_MS)))
            {
                CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
                CondVarTimeoutResult::Timeout => polled = true,
                CondVarTimeoutResult::Woken { .. } => {}
            }
        }
    }

    /// Waits until the bounce buffer is the caller's, for one chunk.
    /// `EINTR` on a signal, `ENODEV` once the function is going away: a
    /// transfer of another file waiting for the device behind a full ring
    /// keeps nobody else in an uninterruptible sleep.
    fn take_bounce(&self) -> Result<BounceOwner<'_>> {
        let mut st = self.state.lock();
        while st.bounce_owned {
            if st.stopped == Some(Stopped::Gone) {
                return Err(ENODEV);
            }
            if self.changed.wait_interruptible(&mut st) {
                return Err(EINTR);
            }
        }
        st.bounce_owned = true;
        Ok(BounceOwner { queue: self })
    }

    /// Runs one kernel job on the bounce buffer and waits for it; the
    /// caller owns the buffer.
    ///
    /// A signal ends the wait (`EINTR`) but leaves the job to the device:
    /// the next transfer waits for it before it reuses the buffer. Only a
    /// device that does not complete the job within [`BOUNCE_TIMEOUT_MS`]
    /// makes the queue restart, which fails every job in flight.
    fn bounce_job(&self, bar: &Bar0<'_>, _owner: &BounceOwner<'_>, job: &Job) -> Result {
        let handle = {
            let mut st = self.state.lock();
            self.submit_locked(bar, &mut st, &self.kernel_jobs, job)?
        };
        let outcome = match self.wait_bounce(bar, handle) {
            Ok(o) => o,
            Err(EINTR) => {
                self.state.lock().bounce_outstanding = Some(handle);
                return Err(EINTR);
            }
            Err(e) => return Err(self.bounce_stuck(bar, e)),
        };
        match outcome.status {
            status::OK => Ok(()),
            status::OUT_OF_SLICE => Err(ERANGE),
            _ => Err(EIO),
        }
    }

    /// Waits until the buffer is the caller's: for the bounce job whose
    /// waiter was interrupted, if any. Called before the buffer is written.
    fn drain_bounce(&self, bar: &Bar0<'_>, _owner: &BounceOwner<'_>) -> Result {
        let Some(handle) = self.state.lock().bounce_outstanding else {
            return Ok(());
        };
        match self.wait_bounce(bar, handle) {
            Ok(_) | Err(EINVAL) => {
                self.state.lock().bounce_outstanding = None;
                Ok(())
            }
            Err(EINTR) => Err(EINTR),
            Err(e) => Err(self.bounce_stuck(bar, e)),
        }
    }

    /// Waits for bounce job `handle`. Its time in the ring behind other
    /// files' jobs does not count: `ETIMEDOUT` only once the device has
    /// completed nothing for [`BOUNCE_TIMEOUT_MS`], so that other files'
    /// long jobs cannot make the queue restart under everyone.
    fn wait_bounce(&self, bar: &Bar0<'_>, handle: u64) -> Result<Outcome> {
        let mut head: u32 = bar.read(regs::Q_HEAD).into();
        loop {
            match self.wait(bar, &self.kernel_jobs, handle, BOUNCE_TIMEOUT_MS) {
                Err(ETIMEDOUT) => {
                    let now: u32 = bar.read(regs::Q_HEAD).into();
                    if now == head {
                        return Err(ETIMEDOUT);
                    }
                    head = now;
                }
                result => return result,
            }
        }
    }

    /// The device did not complete a bounce job: it may still use the
    /// buffer, so stop and restart the queue before anyone reuses it.
    fn bounce_stuck(&self, bar: &Bar0<'_>, e: Error) -> Error {
        dev_err!(
            self.dev,
            "{}: a bounce transfer did not complete ({:?}); restarting the queue\n",
            self.who,
            e
        );
        self.pause(bar);
        self.kernel_jobs.clear();
        self.state.lock().bounce_outstanding = None;
        let _ = self.start(bar);
        ETIMEDOUT
    }

    /// The size of the window while the queue takes jobs (`EBUSY`,
    /// `ENODEV`, `EIO` as for a submission otherwise).
    pub(crate) fn running_window(&self) -> Result<u64> {
        let mut st = self.state.lock();
        self.wait_running(&mut st)?;
        Ok(st.window)
    }

    /// One chunk of `MLU270_IOCTL_WRITE`: `data` (at most [`BOUNCE_BYTES`],
    /// already copied from user memory) to window address `dev_addr`.
    pub(crate) fn write_chunk(&self, bar: &Bar0<'_>, dev_addr: u64, data: &[u8]) -> Result {
        let owner = self.take_bounce()?;
        self.drain_bounce(bar, &owner)?;
        io_project!(&self.bounce, [try: 0..data.len()]).copy_from_slice(data);
        self.bounce_job(
            bar,
            &owner,
            &Job {
                opcode: op::DMA_H2D,
                src: self.bounce.dma_address(),
                dst: dev_addr,
                len: u32::try_from(data.len())?,
                ..Job::default()
            },
        )
    }

    /// One chunk of `MLU270_IOCTL_READ`: window address `dev_addr` into
    /// `data` (at most [`BOUNCE_BYTES`]; copied to user memory after).
    pub(crate) fn read_chunk(&self, bar: &Bar0<'_>, dev_addr: u64, data: &mut [u8]) -> Result {
        let owner = self.take_bounce()?;
        self.drain_bounce(bar, &owner)?;
        self.bounce_job(
            bar,
            &owner,
            &Job {
                opcode: op::DMA_D2H,
                src: dev_addr,
                dst: self.bounce.dma_address(),
                len: u32::try_from(data.len())?,
                ..Job::default()
            },
        )?;
        io_project!(&self.bounce, [try: 0..data.len()]).copy_to_slice(data);
        Ok(())
    }
}

fn log_restart(dev: &device::Device, who: &str, err: u32, lost: u32, stopped: bool) {
    if stopped {
        dev_warn!(
            dev,
            "{}: the job queue stopped (Q_ERROR {}); {} jobs failed, queue restarted\n",
            who,
            err,
            lost
        );
    } else {
        dev_warn!(
            dev,
            "{}: the job queue was reset by the device; {} jobs failed, queue restarted\n",
            who,
            lost
        );
    }
}

/// A function that has a job queue: the PF's `Card` or a `Vf`.
pub(crate) trait JobFunction: Send + Sync {
    fn queue(&self) -> &JobQueue;
    fn bar(&self) -> &Bar0<'_>;
    /// What `MLU270_IOCTL_INFO` reports (`ENODEV` without a slice).
    fn info(&self) -> Result<uapi::Info>;
    /// `MLU270_IOCTL_VF_MIG`, with `data` its kernel buffer (the user's
    /// input already in it; its output copied out after): the PF's only.
    fn vf_migration(&self, _req: &mut uapi::VfMig, _data: &mut [u8]) -> Result {
        Err(ENOTTY)
    }
    /// The stream bytes a `READ` took from the card did not reach user
    /// memory: VF `vf`'s migration cannot go on.
    fn vf_migration_lost(&self, _vf: u32) {}
}

/// Names the driver data type of a function for every binding lifetime,
/// so that one misc device implementation serves both drivers.
pub(crate) trait FunctionType: 'static {
    type Of<'a>: JobFunction + 'a;
}

/// The misc device of a job node; its registration data is the bound
/// function.
pub(crate) struct JobNode<F: FunctionType>(core::marker::PhantomData<F>);

/// One open file of a job node and the places of its jobs.
pub(crate) struct JobFile<F: FunctionType> {
    handle: RegistrationHandle<JobNode<F>>,
    jobs: Arc<FileJobs>,
}

#[vtable]
impl<F: FunctionType> MiscDevice for JobNode<F> {
    type Ptr = KBox<JobFile<F>>;
    type RegistrationData<'a> = Arc<F::Of<'a>>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<'_, Self>) -> Result<KBox<JobFile<F>>> {
        Ok(KBox::new(
            JobFile {
                handle: misc.handle(),
                jobs: FileJobs::new()?,
            },
            GFP_KERNEL_ACCOUNT,
        )?)
    }

    // release: dropping the file drops its places; its jobs still in
    // flight hold them until the device completes them.

    fn ioctl(this: &JobFile<F>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if cmd == uapi::IOCTL_VF_MIG {
            return vf_migration(&this.handle, file, arg);
        }
        ioctl(&this.handle, &this.jobs, cmd, arg)
    }
}

/// Threaded handler of a function's queue vector (`JOB_DONE`, `Q_ERROR`).
#[pin_data]
pub(crate) struct QueueIrq<'bound, F: FunctionType> {
    pub(crate) function: Arc<F::Of<'bound>>,
}

impl<F: FunctionType> ThreadedHandler for QueueIrq<'_, F> {
    fn handle_threaded(&self) -> IrqReturn {
        if self.function.queue().service(self.function.bar()) {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

/// Handles one ioctl of a job node (the PF's or a VF's) for the file whose
/// jobs are `jobs`.
///
/// User memory is only touched outside [`RegistrationHandle::with`]: the
/// function's unbind waits for every `with` to end, and a user copy can
/// wait on a page fault for as long as user space likes (a FUSE daemon
/// that never answers), which must never keep a function from unbinding.
pub(crate) fn ioctl<F: FunctionType>(
    handle: &RegistrationHandle<JobNode<F>>,
    jobs: &Arc<FileJobs>,
    cmd: u32,
    arg: usize,
) -> Result<isize> {
    let user = UserPtr::from_addr(arg);
    match cmd {
        uapi::IOCTL_INFO => {
            let mut info = handle.with(|f| f.info())??;
            info.ring_slots = RING_SLOTS as u32;
            info.max_jobs = MAX_JOBS_PER_FILE as u32;
            UserSlice::new(user, uapi::INFO_SIZE)
                .writer()
                .write_slice(&info.encode())?;
        }
        uapi::IOCTL_SUBMIT => {
            let (mut reader, mut writer) = UserSlice::new(user, uapi::JOB_SIZE).reader_writer();
            let mut raw = [0u8; uapi::JOB_SIZE];
            reader.read_slice(&mut raw)?;
            let job = Job::decode(&raw)?;
            let id = handle.with(|f| f.queue().submit(f.bar(), jobs, &job))??;
            Job::set_handle(&mut raw, id);
            writer.write_slice(&raw)?;
        }
        uapi::IOCTL_WAIT => {
            let (mut reader, mut writer) = UserSlice::new(user, uapi::WAIT_SIZE).reader_writer();
            let mut raw = [0u8; uapi::WAIT_SIZE];
            reader.read_slice(&mut raw)?;
            let req = uapi::WaitRequest::decode(&raw);
            let outcome =
                handle.with(|f| f.queue().wait(f.bar(), jobs, req.handle, req.timeout_ms))??;
            outcome.encode_into(&mut raw);
            writer.write_slice(&raw)?;
        }
        uapi::IOCTL_WRITE | uapi::IOCTL_READ => {
            let mut raw = [0u8; uapi::XFER_SIZE];
            UserSlice::new(user, uapi::XFER_SIZE)
                .reader()
                .read_slice(&mut raw)?;
            transfer(handle, &raw, cmd == uapi::IOCTL_WRITE)?;
        }
        _ => return Err(ENOTTY),
    }
    Ok(0)
}

/// `MLU270_IOCTL_VF_MIG`: one step of a VF's migration, for whoever opened
/// the node with `CAP_SYS_ADMIN` (it pauses a tenant and reads its state,
/// so the node's file mode is not enough). User memory is copied before
/// and after the function's section, as for the transfers.
fn vf_migration<F: FunctionType>(
    handle: &RegistrationHandle<JobNode<F>>,
    file: &File,
    arg: usize,
) -> Result<isize> {
    if !file.opener_capable(Capability::SYS_ADMIN) {
        return Err(EPERM);
    }
    let (mut reader, mut writer) =
        UserSlice::new(UserPtr::from_addr(arg), uapi::VF_MIG_SIZE).reader_writer();
    let mut raw = [0u8; uapi::VF_MIG_SIZE];
    reader.read_slice(&mut raw)?;
    let mut req = uapi::VfMig::decode(&raw)?;
    let user = UserPtr::from_addr(usize::try_from(req.addr).map_err(|_| EFAULT)?);
    let mut data = KVVec::<u8>::new();
    data.resize(req.buffer_len(), 0, GFP_KERNEL_ACCOUNT)?;
    if req.input_len() > 0 {
        UserSlice::new(user, req.input_len())
            .reader()
            .read_slice(data.get_mut(..req.input_len()).ok_or(EINVAL)?)?;
    }
    handle.with(|f| f.vf_migration(&mut req, &mut data))??;
    let out = req.output_len().min(data.len());
    if out > 0 {
        let copied = UserSlice::new(user, out)
            .writer()
            .write_slice(data.get(..out).ok_or(EINVAL)?);
        if let Err(e) = copied {
            if req.op == uapi::vf_mig_op::READ {
                let _ = handle.with(|f| f.vf_migration_lost(req.vf));
            }
            return Err(e);
        }
    }
    req.encode_into(&mut raw);
    writer.write_slice(&raw)?;
    Ok(0)
}

/// `MLU270_IOCTL_WRITE`/`READ`: copies between user memory and the window
/// a chunk at a time, through a buffer of the caller's: the user copy
/// outside the registration's section, the device work inside.
fn transfer<F: FunctionType>(
    handle: &RegistrationHandle<JobNode<F>>,
    raw: &[u8; uapi::XFER_SIZE],
    to_device: bool,
) -> Result {
    let window = handle.with(|f| f.queue().running_window())??;
    let xfer = Transfer::decode(raw, window)?;
    let mut chunk = KVVec::<u8>::new();
    chunk.resize(
        usize::try_from(xfer.len.min(BOUNCE_BYTES as u64))?,
        0,
        GFP_KERNEL_ACCOUNT,
    )?;
    let mut done: u64 = 0;
    while done < xfer.len {
        let n = usize::try_from((xfer.len - done).min(BOUNCE_BYTES as u64))?;
        let data = chunk.get_mut(..n).ok_or(EINVAL)?;
        let addr = xfer.user_addr.checked_add(done).ok_or(EFAULT)?;
        let user = UserPtr::from_addr(usize::try_from(addr).map_err(|_| EFAULT)?);
        let dev_addr = xfer.dev_addr + done;
        if to_device {
            UserSlice::new(user, n).reader().read_slice(data)?;
            handle.with(|f| f.queue().write_chunk(f.bar(), dev_addr, data))??;
        } else {
            handle.with(|f| f.queue().read_chunk(f.bar(), dev_addr, data))??;
            UserSlice::new(user, n).writer().write_slice(data)?;
        }
        done += n as u64;
    }
    Ok(())
}

/// The names of one driver's job nodes (`/dev/<name>`), handed out first
/// free: a name is the function's for as long as its driver is bound, and
/// the PCI device's `job_node` attribute tells which one it got.
pub(crate) struct NodeNames {
    names: &'static [&'static CStr],
    used: &'static [AtomicFlag],
}

/// A name taken from a [`NodeNames`]; given back on drop.
pub(crate) struct NodeName {
    pub(crate) name: &'static CStr,
    flag: &'static AtomicFlag,
}

impl NodeNames {
    pub(crate) const fn new(names: &'static [&'static CStr], used: &'static [AtomicFlag]) -> Self {
        Self { names, used }
    }

    /// Takes the first free name; `ENOSPC` when all are taken.
    pub(crate) fn take(&'static self) -> Result<NodeName> {
        for (name, flag) in self.names.iter().zip(self.used) {
            if !flag.xchg(true, Full) {
                return Ok(NodeName { name, flag });
            }
        }
        Err(ENOSPC)
    }
}

impl Drop for NodeName {
    fn drop(&mut self) {
        self.flag.store(false, Release);
    }
}

/// debugfs `jobs`: the queue's state and counters, one `key: value` a line.
pub(crate) fn show(queue: &JobQueue, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let (stats, in_flight, stopped) = queue.stats();
    let state = match stopped {
        None => "running",
        Some(Stopped::Paused) => "paused",
        Some(Stopped::Blocked) => "blocked",
        Some(Stopped::Gone) => "gone",
    };
    writeln!(f, "state: {state}")?;
    writeln!(f, "window_mb: {}", queue.window() >> 20)?;
    writeln!(f, "in_flight: {in_flight}")?;
    writeln!(f, "jobs_submitted: {}", stats.submitted)?;
    writeln!(f, "jobs_completed: {}", stats.completed)?;
    writeln!(f, "jobs_failed: {}", stats.failed)?;
    writeln!(f, "jobs_cancelled: {}", stats.cancelled)?;
    writeln!(f, "queue_errors: {}", stats.queue_errors)?;
    writeln!(f, "queue_restarts: {}", stats.restarts)?;
    writeln!(f, "function_resets: {}", stats.resets)?;
    writeln!(f, "poll_completions: {}", stats.poll_completions)
}
