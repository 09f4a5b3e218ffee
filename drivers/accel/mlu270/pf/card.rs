// SPDX-License-Identifier: GPL-2.0

//! The PF's view of the card: its registers, its partition table and the
//! per-VF state the mailbox service keeps.

use core::fmt::Write;

use kernel::{
    debugfs,
    device::{attribute::SysfsBuffer, Bound, Core},
    dma::Coherent,
    fmt,
    io::{register::Array, Io},
    new_mutex, pci,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::{Instant, Monotonic},
};

use crate::{
    jobs::JobQueue,
    layout::{self, CardCaps, Fraction, Layout, Slice, MAX_VFS},
    mailbox,
    migration::{self, VfMigration},
    protocol::{FaultInfo, ShutdownReason, VfSession},
    regs,
};

pub(crate) use crate::jobs::Bar0;

/// The causes the PF driver serves: mailbox (vector 1), faults and VF
/// resets (vector 2), the native queue (vector 0).
fn interrupts() -> regs::INT_ENABLE {
    regs::INT_ENABLE::zeroed()
        .with_mb_rx(true)
        .with_mb_ack(true)
        .with_fault(true)
        .with_vf_event(true)
        .with_job_done(true)
        .with_q_error(true)
}

/// Per-VF bookkeeping of the PF.
///
/// Behind the VF's own lock in [`PfShared::vfs`], with the VF's window
/// registers (its mailbox channels, its fault record, `VF_RESET`).
pub(crate) struct VfState {
    /// The VF exists (between `sriov_numvfs` = N and = 0).
    pub(crate) enabled: bool,
    /// The slice programmed into the VF's partition table entry.
    pub(crate) slice: Slice,
    /// Mailbox protocol state: negotiated version, rate limit and log
    /// budget (both outlive the VF's resets), counters.
    pub(crate) session: VfSession,
    /// Sequence number of the PF's notifications to this VF.
    pub(crate) notify_seq: u16,
    /// A reset was asked of the card (`VF_RESET` `ON_ACK`) and its
    /// `VF_EVENT` has not been seen yet.
    pub(crate) reset_pending: bool,
    /// SHUTDOWN was sent: the VF is about to be removed.
    pub(crate) shutting_down: bool,
    /// Resets of this VF seen by the PF (FLR, requested, administrative).
    pub(crate) resets: u32,
    /// `PART_SCRUBS` of the VF's entry when the PF last looked, and the
    /// resets after which the card did not report a scrub.
    pub(crate) scrubs_seen: u32,
    pub(crate) scrubs_missing: u32,
    /// The VF's last fault, if any since its last reset.
    pub(crate) last_fault: Option<FaultInfo>,
    /// The VF window's `FAULT_COUNT` when the PF last accounted it.
    pub(crate) fault_count_seen: u32,
    /// Faults of this VF since it was enabled.
    pub(crate) faults: u32,
    /// Faults since the VF's last reset (QUERY_FAULT's count).
    pub(crate) faults_since_reset: u32,
    /// Faults counting towards the next fault-policy reset. Only that
    /// reset and a quiet fault window clear them, not the VF's own resets.
    pub(crate) strikes: u32,
    /// Fault-policy resets since the VF was last quiet for a fault window.
    pub(crate) fault_resets: u32,
    /// The VF keeps faulting: every fault resets it, without notice.
    pub(crate) isolated: bool,
    /// Resets by the fault policy since the VF was enabled.
    pub(crate) fault_policy_resets: u32,
    /// Time of the VF's last fault.
    pub(crate) last_fault_ns: u64,
}

impl VfState {
    /// A VF that does not exist.
    const fn new(now_ns: u64) -> Self {
        Self {
            enabled: false,
            slice: Slice::EMPTY,
            session: VfSession::new(now_ns),
            notify_seq: 0,
            reset_pending: false,
            shutting_down: false,
            resets: 0,
            scrubs_seen: 0,
            scrubs_missing: 0,
            last_fault: None,
            fault_count_seen: 0,
            faults: 0,
            faults_since_reset: 0,
            strikes: 0,
            fault_resets: 0,
            isolated: false,
            fault_policy_resets: 0,
            last_fault_ns: 0,
        }
    }
}

/// State of the PF as a whole that changes at run time.
pub(crate) struct PfInner {
    /// The operator's layout (the `layout` attribute), or `None` for the
    /// default layout of each VF count.
    pub(crate) chosen: Option<Layout>,
    /// Enabled VFs, as programmed by [`Card::enable_vfs`].
    pub(crate) num_vfs: usize,
    /// The card did not report a scrub that hands memory from VFs to the
    /// native node or back: the native node stays blocked until the driver
    /// is bound again.
    pub(crate) native_quarantined: bool,
}

/// The PF's run-time state: card-wide, and one part per VF.
///
/// # Locking
///
/// `inner` is taken by `sriov_configure`, sysfs and debugfs, never by the
/// interrupt handlers. Each `vfs[i]` is taken by the mailbox and fault
/// service (the threaded IRQ handlers), by `sriov_configure` and sysfs
/// `reset_vf`; the register accesses of VF i's window happen under it, so
/// two threads never interleave on one VF's channel. Order: `inner`, then
/// one `vfs[i]`; never two VF locks at once (they share a lock class).
/// Nothing sleeps holding any of them: a VF that does not answer delays
/// nobody.
///
/// Neither is held across `pci_enable_sriov()` / `pci_disable_sriov()`:
/// those probe and remove the VF drivers, which talk to the PF over the
/// mailbox and would deadlock.
#[pin_data]
pub(crate) struct PfShared {
    #[pin]
    pub(crate) inner: Mutex<PfInner>,
    #[pin]
    pub(crate) vfs: [Mutex<VfState>; MAX_VFS],
}

/// One bound MLU270 PF.
///
/// `shared` lives in a debugfs file (`mlu270_pf-<pci address>/vfs`) that
/// shows it: the file owns it and is dropped with the card.
#[pin_data]
pub(crate) struct Card<'bound> {
    pub(crate) pdev: &'bound pci::Device,
    pub(crate) bar: Bar0<'bound>,
    pub(crate) caps: CardCaps,
    /// Time base of the rate limiters.
    epoch: Instant<Monotonic>,
    /// sysfs `fault_reset_after`: faults after which the fault policy
    /// resets a VF; 0 turns the policy off. Read by the fault handler under
    /// a VF's lock, hence an atomic rather than a field of `PfInner`.
    pub(crate) fault_reset_after: Atomic<u32>,
    #[pin]
    pub(crate) shared: debugfs::File<PfShared>,
    /// The native job path (the whole card, while no VF is enabled); see
    /// [`JobQueue`] for its locking.
    #[pin]
    pub(crate) jobs: debugfs::File<JobQueue>,
    /// Each VF's migration ([`VfMigration`] for the locking) and the DMA
    /// buffer it uses under that lock.
    #[pin]
    pub(crate) mig: [Mutex<VfMigration>; MAX_VFS],
    pub(crate) mig_bufs: [Coherent<[u8]>; MAX_VFS],
    /// Resets of each VF the PF saw (and VF disables): a migration that
    /// began before the last one was ended by the card.
    pub(crate) mig_resets: [Atomic<u32>; MAX_VFS],
    _debugfs: debugfs::Dir,
}

impl<'bound> Card<'bound> {
    /// Maps BAR 0 and checks that it is an MLU270 this driver can drive.
    pub(crate) fn new(pdev: &'bound pci::Device<Core<'_>>) -> Result<Arc<Self>> {
        let bar: Bar0<'bound> = pdev.iomap_region_sized::<{ regs::BAR0_SIZE }>(0, c"mlu270_pf")?;

        regs::check_interface(pdev, &bar)?;
        let caps = CardCaps {
            ipu_cores: bar.read(regs::CAP_IPU).into(),
            vpus: bar.read(regs::CAP_VPU).into(),
            jpus: bar.read(regs::CAP_JPU).into(),
            mem_mb: bar.read(regs::CAP_MEM_MB).into(),
        };
        if caps != CardCaps::mlu270(caps.mem_mb) || caps.quarter_mb() == 0 {
            dev_err!(
                pdev,
                "unexpected resources: {} IPU cores, {} VPUs, {} JPUs, {} MiB\n",
                caps.ipu_cores,
                caps.vpus,
                caps.jpus,
                caps.mem_mb
            );
            return Err(ENODEV);
        }

        let epoch = Instant::<Monotonic>::now();
        let jobs = JobQueue::new(pdev.as_ref(), "PF", interrupts())?;
        let mig_bufs = migration::buffers(pdev.as_ref())?;
        let pdev_normal: &'bound pci::Device = pdev;
        let dir_name = CString::try_from_fmt(fmt!("mlu270_pf-{}", pdev.as_ref().name()))?;
        let dir = debugfs::Dir::new(&dir_name);
        Arc::pin_init(
            try_pin_init!(Self {
                pdev: pdev_normal,
                bar,
                caps,
                epoch,
                fault_reset_after: Atomic::new(mailbox::FAULTS_BEFORE_RESET),
                shared <- dir.read_callback_file(
                    c"vfs",
                    pin_init!(PfShared {
                        inner <- new_mutex!(PfInner {
                            chosen: None,
                            num_vfs: 0,
                            native_quarantined: false,
                        }),
                        vfs <- pin_init::pin_init_array_from_fn(|_| {
                            new_mutex!(VfState::new(0), "PfShared::vfs")
                        }),
                    }),
                    &show_state,
                ),
                jobs <- dir.read_callback_file(c"jobs", jobs, &crate::jobs::show),
                mig <- pin_init::pin_init_array_from_fn(|_| {
                    new_mutex!(VfMigration::new(), "Card::mig")
                }),
                mig_bufs,
                mig_resets: [const { Atomic::new(0) }; MAX_VFS],
                _debugfs: dir,
            }? Error),
            GFP_KERNEL,
        )
    }

    /// What `MLU270_IOCTL_INFO` says of the native node: the PF's effective
    /// slice (the whole card, or nothing while VFs are enabled).
    pub(crate) fn native_info(&self) -> crate::uapi::Info {
        let ipu: u32 = self.bar.read(regs::SLICE_IPU).mask().into();
        let vpu: u32 = self.bar.read(regs::SLICE_VPU).mask().into();
        let jpu: u32 = self.bar.read(regs::SLICE_JPU).mask().into();
        let mem_mb: u32 = self.bar.read(regs::SLICE_MEM_MB).into();
        crate::uapi::Info {
            function: 0,
            quarters: mem_mb.checked_div(self.caps.quarter_mb()).unwrap_or(0),
            ipu_mask: ipu,
            vpu_mask: vpu,
            jpu_mask: jpu,
            mem_mb,
            resets: self.jobs.resets(),
            ..crate::uapi::Info::default()
        }
    }

    /// Nanoseconds since probe, for the rate limiters.
    pub(crate) fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(0)
    }

    /// Logs what was found, once per probe.
    pub(crate) fn announce(&self) {
        let version = self.bar.read(regs::VERSION);
        dev_info!(
            self.pdev,
            "MLU270: {} IPU cores, {} VPUs, {} JPUs, {} MiB; interface {}.{}; mailbox protocol v{}..v{}; {} VFs\n",
            self.caps.ipu_cores,
            self.caps.vpus,
            self.caps.jpus,
            self.caps.mem_mb,
            u32::from(version.major()),
            u32::from(version.minor()),
            crate::protocol::Version::MIN.as_u16(),
            crate::protocol::Version::MAX.as_u16(),
            layout::MAX_VFS
        );
    }

    /// Unmasks the causes the PF serves (mailbox, faults, VF resets, and
    /// the native queue's, which vector 0 serves).
    pub(crate) fn enable_interrupts(&self) {
        self.bar.write_reg(interrupts());
    }

    /// Quiesces the card when the driver is unbound.
    pub(crate) fn shutdown(&self) {
        self.jobs.shutdown(&self.bar);
        self.bar.write_reg(regs::INT_ENABLE::zeroed());
        self.reset_partition();
        let mut inner = self.shared.inner.lock();
        inner.num_vfs = 0;
        for lock in &self.shared.vfs {
            lock.lock().enabled = false;
        }
    }

    /// `PART_SCRUBS` of partition entry `entry`: how often the card
    /// finished zeroing the memory of that entry's function.
    pub(crate) fn scrubs(&self, entry: usize) -> u32 {
        regs::PART_SCRUBS::try_at(entry)
            .map(|loc| self.bar.read(loc).into())
            .unwrap_or(0)
    }

    /// Writes one partition table entry (0 = PF, 1 + i = VF i).
    fn write_entry(&self, entry: usize, slice: &Slice) {
        let [ipu, vpu, jpu, base, size] = slice.to_entry();
        let io = &self.bar;
        // `entry` is always below `PART_ENTRIES`; a bad index writes nothing.
        if let Some(loc) = regs::PART_IPU_MASK::try_at(entry) {
            io.write(loc, regs::PART_IPU_MASK::from(ipu));
        }
        if let Some(loc) = regs::PART_VPU_MASK::try_at(entry) {
            io.write(loc, regs::PART_VPU_MASK::from(vpu));
        }
        if let Some(loc) = regs::PART_JPU_MASK::try_at(entry) {
            io.write(loc, regs::PART_JPU_MASK::from(jpu));
        }
        if let Some(loc) = regs::PART_MEM_BASE_MB::try_at(entry) {
            io.write(loc, regs::PART_MEM_BASE_MB::from(base));
        }
        if let Some(loc) = regs::PART_MEM_SIZE_MB::try_at(entry) {
            io.write(loc, regs::PART_MEM_SIZE_MB::from(size));
        }
    }

    /// The table as the driver starts and leaves it: the whole card for the
    /// PF (entry 0), nothing for the VFs.
    pub(crate) fn reset_partition(&self) {
        self.write_entry(0, &Slice::whole(&self.caps));
        self.clear_partition();
    }

    /// Empties every VF entry (the PF keeps its own slice).
    fn clear_partition(&self) {
        for vf in 0..MAX_VFS {
            self.write_entry(1 + vf, &Slice::EMPTY);
        }
    }

    /// `sriov_numvfs` = N > 0: plan the slices, program them, enable the VFs.
    pub(crate) fn enable_vfs(&self, pdev: &pci::Device<Core<'_>>, num_vfs: u16) -> Result<u16> {
        let n = usize::from(num_vfs);
        let now = self.now_ns();
        // While VFs are enabled the PF's own slice is empty: no native jobs.
        if let Err(e) = self.jobs.set_blocked(true) {
            if e == EBUSY {
                dev_err!(
                    pdev,
                    "cannot enable VFs while native jobs are in flight (EBUSY)\n"
                );
            } else {
                dev_err!(pdev, "cannot enable VFs: the native queue is gone\n");
            }
            return Err(e);
        }
        let result = self.enable_vfs_unblocked(pdev, num_vfs, n, now);
        if result.is_err() && !self.shared.inner.lock().native_quarantined {
            let _ = self.jobs.set_blocked(false);
        }
        result
    }

    fn enable_vfs_unblocked(
        &self,
        pdev: &pci::Device<Core<'_>>,
        num_vfs: u16,
        n: usize,
        now: u64,
    ) -> Result<u16> {
        {
            let mut state = self.shared.inner.lock();
            if state.num_vfs != 0 {
                dev_err!(
                    pdev,
                    "{} VFs are enabled: write 0 to sriov_numvfs before changing the count\n",
                    state.num_vfs
                );
                return Err(EBUSY);
            }
            let mut text = [0u8; LAYOUT_TEXT];
            let layout = layout::resolve(state.chosen.as_ref(), n).map_err(|e| {
                dev_err!(
                    pdev,
                    "cannot enable {} VFs with the {} layout: errno {}\n",
                    n,
                    layout_text(state.chosen.as_ref(), &mut text),
                    e.errno()
                );
                Error::from_errno(-e.errno())
            })?;
            let slices = layout::plan(&layout, &self.caps).map_err(|e| {
                dev_err!(
                    pdev,
                    "cannot plan layout {}: errno {}\n",
                    layout_text(Some(&layout), &mut text),
                    e.errno()
                );
                Error::from_errno(-e.errno())
            })?;

            // The table must be complete before VF Enable locks it.
            for (vf, slice) in slices.iter().enumerate() {
                let programmed = if vf < n { *slice } else { Slice::EMPTY };
                self.write_entry(1 + vf, &programmed);
            }
            let status = self.bar.read(regs::PART_STATUS);
            let invalid: u32 = status.entry_invalid().into();
            if invalid & !1 & ((1 << (n + 1)) - 1) != 0 {
                dev_err!(
                    pdev,
                    "the card rejected the partition table ({:#x})\n",
                    invalid
                );
                self.clear_partition();
                return Err(EIO);
            }
            // Before VF Enable: the VF drivers talk to the PF as they probe.
            for (vf, (lock, slice)) in self.shared.vfs.iter().zip(slices.iter()).enumerate() {
                let mut vfs = lock.lock();
                *vfs = VfState::new(now);
                vfs.enabled = vf < n;
                vfs.slice = if vf < n { *slice } else { Slice::EMPTY };
                vfs.scrubs_seen = self.scrubs(1 + vf);
                vfs.fault_count_seen = mailbox::fault_count(self, vf);
            }
            state.num_vfs = n;
            dev_info!(
                pdev,
                "enabling {} VFs, layout {}\n",
                n,
                layout_text(Some(&layout), &mut text)
            );
        }

        let native_scrubs = self.scrubs(0);
        if let Err(e) = pdev.enable_sriov(num_vfs) {
            dev_err!(pdev, "pci_enable_sriov({}) failed: {:?}\n", n, e);
            self.forget_vfs();
            return Err(e);
        }
        // The PF's native users' data must not reach a VF: the card zeroes
        // its memory when VF Enable is set. Check that it says it did.
        if self.scrubs(0) == native_scrubs {
            dev_err!(
                pdev,
                "the card did not report zeroing its memory when the VFs were enabled: disabling them again (-EIO)\n"
            );
            pdev.disable_sriov();
            self.forget_vfs();
            self.shared.inner.lock().native_quarantined = true;
            return Err(EIO);
        }
        Ok(num_vfs)
    }

    /// No VF exists any more: empty their entries, forget their state.
    fn forget_vfs(&self) {
        self.clear_partition();
        let mut inner = self.shared.inner.lock();
        inner.num_vfs = 0;
        for (lock, resets) in self.shared.vfs.iter().zip(&self.mig_resets) {
            lock.lock().enabled = false;
            resets.add(1, Relaxed);
        }
    }

    /// sysfs `layout`: the operator's choice, or "default".
    pub(crate) fn show_layout(&self, buf: &mut SysfsBuffer<'_>) -> Result {
        let state = self.shared.inner.lock();
        let mut text = [0u8; LAYOUT_TEXT];
        writeln!(buf, "{}", layout_text(state.chosen.as_ref(), &mut text))?;
        Ok(())
    }

    /// sysfs `layout` write: a new choice, only while no VF exists. On any
    /// error nothing changes.
    pub(crate) fn store_layout(&self, pdev: &pci::Device<Bound>, input: &[u8]) -> Result {
        let mut state = self.shared.inner.lock();
        match layout::store_layout(input, state.num_vfs) {
            Ok(chosen) => {
                state.chosen = chosen;
                let mut text = [0u8; LAYOUT_TEXT];
                dev_info!(
                    pdev,
                    "layout set to {}\n",
                    layout_text(state.chosen.as_ref(), &mut text)
                );
                Ok(())
            }
            Err(e) => {
                if matches!(e, layout::LayoutError::Busy) {
                    dev_err!(
                        pdev,
                        "layout: {} VFs are enabled: write 0 to sriov_numvfs first\n",
                        state.num_vfs
                    );
                } else {
                    dev_err!(
                        pdev,
                        "layout: invalid layout (want 1 to 4 of 1/4, 1/2, 1/1 totalling at most 1/1, or \"default\")\n"
                    );
                }
                Err(Error::from_errno(-e.errno()))
            }
        }
    }

    /// sysfs `fault_reset_after`.
    pub(crate) fn show_fault_reset_after(&self, buf: &mut SysfsBuffer<'_>) -> Result {
        writeln!(buf, "{}", self.fault_reset_after.load(Relaxed))?;
        Ok(())
    }

    /// sysfs `fault_reset_after` = N: the fault policy resets a VF after N
    /// faults without a quiet window (0: never; faults are still counted
    /// and logged). For hosts whose tenants fault on purpose, e.g. the
    /// kernel's vfio selftests, which DMA to unmapped addresses.
    pub(crate) fn store_fault_reset_after(
        &self,
        pdev: &pci::Device<Bound>,
        input: &[u8],
    ) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        let limit: u32 = text
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= MAX_FAULT_RESET_AFTER)
            .ok_or_else(|| {
                dev_err!(
                    pdev,
                    "fault_reset_after: want 0 (never) to {}\n",
                    MAX_FAULT_RESET_AFTER
                );
                EINVAL
            })?;
        self.fault_reset_after.store(limit, Relaxed);
        dev_info!(
            pdev,
            "fault policy: reset a VF after {} faults (0: never)\n",
            limit
        );
        Ok(())
    }

    /// sysfs `native_slice`: the PF's own slice (entry 0), in quarters.
    pub(crate) fn show_native_slice(&self, buf: &mut SysfsBuffer<'_>) -> Result {
        let size: u32 = self.bar.read(regs::PART_MEM_SIZE_MB::at(0)).into();
        let quarters = size.checked_div(self.caps.quarter_mb()).unwrap_or(0);
        let text = match quarters {
            1 => "1/4",
            2 => "1/2",
            _ => "1/1",
        };
        writeln!(buf, "{text}")?;
        Ok(())
    }

    /// sysfs `native_slice` = 1/4, 1/2 or 1/1: restricts the native job node
    /// to the first quarter(s) of the card, e.g. to compare it with a VF of
    /// the same size. Only while no VF is enabled and no native job runs.
    pub(crate) fn store_native_slice(&self, pdev: &pci::Device<Bound>, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?.trim();
        let slice = Fraction::parse(text)
            .ok()
            .and_then(|f| Slice::native(&self.caps, f))
            .ok_or_else(|| {
                dev_err!(pdev, "native_slice: want 1/4, 1/2 or 1/1\n");
                EINVAL
            })?;
        self.jobs
            .reconfigure_idle(&self.bar, || self.write_entry(0, &slice))
            .inspect_err(|_| {
                dev_err!(
                    pdev,
                    "native_slice: only while no VF is enabled and no native job runs\n"
                )
            })?;
        dev_info!(pdev, "native slice set to {}\n", text);
        Ok(())
    }

    /// `sriov_numvfs` = 0: tell the VFs, remove them, empty their entries.
    /// Fails with `EBUSY` if a driver other than mlu270_vf is using one of
    /// the VFs (vfio-pci while a VM has the VF open): removing the VF would
    /// wait until that user lets go, which for a running VM may be never.
    /// A VF bound to vfio-pci that no VM has open is not in use. The caller
    /// keeps the VFs from being enabled (`sriov_block_vf_enable`) from
    /// before this check until they are removed, so that none is opened
    /// in between.
    pub(crate) fn check_vfs_unused(&self, pdev: &pci::Device<Core<'_>>) -> Result {
        for id in 0..pdev.num_vf() {
            let Some(user) = pdev.sriov_vf_user(id)? else {
                continue;
            };
            let Some(driver) = user.driver.as_deref() else {
                continue;
            };
            if user.enabled && driver != c"mlu270_vf" {
                dev_err!(
                    pdev,
                    "VF {} ({}) is in use by {} (passed through to a VM?): not changing the VFs; stop its user first (-EBUSY)\n",
                    id,
                    user.name.to_str().unwrap_or("?"),
                    driver.to_str().unwrap_or("?")
                );
                return Err(EBUSY);
            }
        }
        Ok(())
    }

    /// Removes the VFs (after telling them why) and gives the card back to
    /// the native job node, once the card says it zeroed every VF's memory:
    /// what the last tenant of a VF left must not reach the PF's native
    /// users. If the card does not say so, the native node stays blocked.
    pub(crate) fn disable_vfs(&self, pdev: &pci::Device<Core<'_>>, why: ShutdownReason) {
        let num_vfs = self.shared.inner.lock().num_vfs;
        let mut scrubs = [0u32; MAX_VFS];
        for (vf, seen) in scrubs.iter_mut().enumerate().take(num_vfs) {
            *seen = self.scrubs(1 + vf);
        }
        mailbox::notify_shutdown(self, why);
        pdev.disable_sriov();
        let mut unscrubbed = 0u32;
        for (vf, seen) in scrubs.iter().enumerate().take(num_vfs) {
            if self.scrubs(1 + vf) == *seen {
                unscrubbed |= 1 << vf;
            }
        }
        self.forget_vfs();
        if num_vfs != 0 {
            dev_info!(pdev, "disabled {} VFs\n", num_vfs);
        }
        if unscrubbed != 0 {
            dev_err!(
                pdev,
                "the card did not report zeroing the memory of VFs {:#x}: the native job node stays unavailable until the driver is bound again\n",
                unscrubbed
            );
            self.shared.inner.lock().native_quarantined = true;
        }
        if !self.shared.inner.lock().native_quarantined {
            let _ = self.jobs.set_blocked(false);
        }
    }

    /// Serves every pending interrupt cause but the native queue's (vector
    /// 0 serves those); returns whether there was any.
    pub(crate) fn service(&self) -> bool {
        let status = self.bar.read(regs::INT_STATUS);
        let pending = regs::INT_STATUS::zeroed()
            .with_mb_rx(status.mb_rx())
            .with_mb_ack(status.mb_ack())
            .with_fault(status.fault())
            .with_vf_event(status.vf_event());
        let raw: u32 = pending.into();
        if raw == 0 {
            return false;
        }
        // Acknowledge first: a cause raised while we serve it re-triggers.
        self.bar.write_reg(pending);

        if pending.vf_event().into() {
            mailbox::vf_reset_seen(self);
        }
        if pending.fault().into() {
            mailbox::fault_seen(self);
        }
        if pending.mb_rx().into() {
            mailbox::serve_requests(self);
        }
        true
    }
}

/// Room for the text of any layout ("1/4 1/4 1/4 1/4").
const LAYOUT_TEXT: usize = 32;

/// The largest `fault_reset_after` (a VF is then reset only after a long
/// fault storm; 0 turns the policy off).
const MAX_FAULT_RESET_AFTER: u32 = 100_000;

/// The text of a layout choice, for log messages and sysfs.
pub(crate) fn layout_text<'a>(layout: Option<&Layout>, buf: &'a mut [u8; LAYOUT_TEXT]) -> &'a str {
    let Some(layout) = layout else {
        return "default";
    };
    let len = layout.format(&mut buf[..]).unwrap_or(0);
    buf.get(..len)
        .and_then(|text| core::str::from_utf8(text).ok())
        .unwrap_or("?")
}

/// debugfs `vfs`: the layout and every enabled VF's slice and counters, one
/// line per VF, for operators and the selftests.
fn show_state(shared: &PfShared, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let state = shared.inner.lock();
    let mut text = [0u8; LAYOUT_TEXT];
    writeln!(
        f,
        "vfs {} layout {}",
        state.num_vfs,
        layout_text(state.chosen.as_ref(), &mut text)
    )?;
    writeln!(
        f,
        "vf quarters ipu vpu jpu mem_mb version accepted rejected rate_limited replies_dropped resets faults last_fault_code last_fault_addr fault_resets isolated log_suppressed reset_pending scrubs_missing"
    )?;
    for (vf, lock) in shared.vfs.iter().enumerate().take(state.num_vfs) {
        let v = lock.lock();
        let c = &v.session.counters;
        let (code, addr) = v
            .last_fault
            .map_or((0, 0), |fault| (fault.code, fault.addr));
        writeln!(
            f,
            "{} {} {:#06x} {:#x} {:#x} {} {} {} {} {} {} {} {} {} {:#x} {} {} {} {} {}",
            vf,
            v.slice.quarters,
            v.slice.ipu_mask,
            v.slice.vpu_mask,
            v.slice.jpu_mask,
            v.slice.mem_size_mb,
            v.session.negotiated.map_or(0, |ver| ver.as_u16()),
            c.accepted,
            c.rejected,
            v.session.limiter.limited(),
            c.replies_dropped,
            v.resets,
            v.faults,
            code,
            addr,
            v.fault_policy_resets,
            u8::from(v.isolated),
            v.session.log.suppressed(),
            u8::from(v.reset_pending),
            v.scrubs_missing
        )?;
    }
    Ok(())
}
