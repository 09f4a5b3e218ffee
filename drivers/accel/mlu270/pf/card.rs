// SPDX-License-Identifier: GPL-2.0

//! The PF's view of the card: its registers, its partition table and the
//! per-VF state the mailbox service keeps.

use core::fmt::Write;

use kernel::{
    debugfs,
    device::{attribute::SysfsBuffer, Bound, Core},
    fmt,
    io::{register::Array, Io},
    new_mutex, pci,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex},
    time::{Instant, Monotonic},
};

use crate::{
    jobs::JobQueue,
    layout::{self, CardCaps, Fraction, Layout, Slice, MAX_VFS},
    mailbox,
    protocol::{FaultInfo, VfSession},
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
#[derive(Clone, Copy)]
pub(crate) struct VfState {
    /// The slice programmed into the VF's partition table entry.
    pub(crate) slice: Slice,
    /// Mailbox protocol state: negotiated version, rate limit, counters.
    pub(crate) session: VfSession,
    /// Resets of this VF seen by the PF (FLR, requested, administrative).
    pub(crate) resets: u32,
    /// The VF's last fault, if any since its last reset.
    pub(crate) last_fault: Option<FaultInfo>,
    /// Faults of this VF since it was enabled.
    pub(crate) faults: u32,
    /// Faults since the VF's last reset: the fault policy's trigger.
    pub(crate) faults_since_reset: u32,
    /// Fault-policy resets in the current isolation window, and when it
    /// started (these survive the resets they count).
    pub(crate) fault_resets: u32,
    pub(crate) fault_window_ns: u64,
    /// The VF keeps faulting: every fault resets it, without notice.
    pub(crate) isolated: bool,
    /// Resets by the fault policy since the VF was enabled.
    pub(crate) fault_policy_resets: u32,
    /// Time of the VF's last fault.
    pub(crate) last_fault_ns: u64,
    /// Rate limits of the "faulted" and "resetting it" lines.
    pub(crate) fault_log: LogLimit,
    pub(crate) reset_log: LogLimit,
}

/// At most one line of a kind per [`LogLimit::INTERVAL_NS`]; the lines not
/// logged are counted and reported with the next one.
#[derive(Clone, Copy, Default)]
pub(crate) struct LogLimit {
    quiet_until_ns: u64,
    suppressed: u32,
}

impl LogLimit {
    const INTERVAL_NS: u64 = 5_000_000_000;

    /// Whether a line may be logged at `now`; if so, how many were not
    /// logged since the last one.
    pub(crate) fn permit(&mut self, now: u64) -> Option<u32> {
        if now < self.quiet_until_ns {
            self.suppressed = self.suppressed.saturating_add(1);
            return None;
        }
        self.quiet_until_ns = now.saturating_add(Self::INTERVAL_NS);
        Some(core::mem::take(&mut self.suppressed))
    }
}

impl VfState {
    const fn new(now_ns: u64) -> Self {
        Self {
            slice: Slice::EMPTY,
            session: VfSession::new(now_ns),
            resets: 0,
            last_fault: None,
            faults: 0,
            faults_since_reset: 0,
            fault_resets: 0,
            fault_window_ns: 0,
            isolated: false,
            fault_policy_resets: 0,
            last_fault_ns: 0,
            fault_log: LogLimit {
                quiet_until_ns: 0,
                suppressed: 0,
            },
            reset_log: LogLimit {
                quiet_until_ns: 0,
                suppressed: 0,
            },
        }
    }
}

/// State of the PF that changes at run time.
pub(crate) struct PfInner {
    /// The operator's layout (the `layout` attribute), or `None` for the
    /// default layout of each VF count.
    pub(crate) chosen: Option<Layout>,
    /// Enabled VFs, as programmed by [`Card::enable_vfs`].
    pub(crate) num_vfs: usize,
    /// One entry per possible VF; entries `num_vfs..` are unused.
    pub(crate) vfs: [VfState; MAX_VFS],
    /// Sequence number of the PF's notifications.
    pub(crate) notify_seq: u16,
    /// `FAULT_COUNT` when the PF last looked: the device counts every
    /// fault, the interrupt only says which functions faulted since.
    pub(crate) fault_count_seen: u32,
}

/// One bound MLU270 PF.
///
/// # Locking
///
/// `state` is taken by the mailbox service (the threaded IRQ handler), by
/// `sriov_configure` and by sysfs. It is never held across
/// `pci_enable_sriov()` / `pci_disable_sriov()`: those probe and remove the
/// VF drivers, which talk to the PF over the mailbox and would deadlock.
/// The register accesses of the mailbox windows happen under `state`, so
/// two threads never interleave on one VF's channel.
///
/// `state` lives in a debugfs file (`mlu270_pf-<pci address>/vfs`) that
/// shows it: the file owns it and is dropped with the card.
#[pin_data]
pub(crate) struct Card<'bound> {
    pub(crate) pdev: &'bound pci::Device,
    pub(crate) bar: Bar0<'bound>,
    pub(crate) caps: CardCaps,
    /// Time base of the rate limiters.
    epoch: Instant<Monotonic>,
    #[pin]
    pub(crate) state: debugfs::File<Mutex<PfInner>>,
    /// The native job path (the whole card, while no VF is enabled); see
    /// [`JobQueue`] for its locking.
    #[pin]
    pub(crate) jobs: debugfs::File<JobQueue>,
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
        let fault_count: u32 = bar.read(regs::FAULT_COUNT).into();
        let jobs = JobQueue::new(pdev.as_ref(), "PF", interrupts())?;
        let pdev_normal: &'bound pci::Device = pdev;
        let dir_name = CString::try_from_fmt(fmt!("mlu270_pf-{}", pdev.as_ref().name()))?;
        let dir = debugfs::Dir::new(&dir_name);
        Arc::pin_init(
            try_pin_init!(Self {
                pdev: pdev_normal,
                bar,
                caps,
                epoch,
                state <- dir.read_callback_file(
                    c"vfs",
                    new_mutex!(PfInner {
                        chosen: None,
                        num_vfs: 0,
                        vfs: [VfState::new(0); MAX_VFS],
                        notify_seq: 0,
                        fault_count_seen: fault_count,
                    }),
                    &show_state,
                ),
                jobs <- dir.read_callback_file(c"jobs", jobs, &crate::jobs::show),
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
        let mut state = self.state.lock();
        state.num_vfs = 0;
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
        if result.is_err() {
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
            let mut state = self.state.lock();
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
                state.vfs[vf] = VfState::new(now);
                state.vfs[vf].slice = programmed;
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
            state.num_vfs = n;
            dev_info!(
                pdev,
                "enabling {} VFs, layout {}\n",
                n,
                layout_text(Some(&layout), &mut text)
            );
        }

        if let Err(e) = pdev.enable_sriov(num_vfs) {
            dev_err!(pdev, "pci_enable_sriov({}) failed: {:?}\n", n, e);
            self.clear_partition();
            self.state.lock().num_vfs = 0;
            return Err(e);
        }
        Ok(num_vfs)
    }

    /// sysfs `layout`: the operator's choice, or "default".
    pub(crate) fn show_layout(&self, buf: &mut SysfsBuffer<'_>) -> Result {
        let state = self.state.lock();
        let mut text = [0u8; LAYOUT_TEXT];
        writeln!(buf, "{}", layout_text(state.chosen.as_ref(), &mut text))?;
        Ok(())
    }

    /// sysfs `layout` write: a new choice, only while no VF exists. On any
    /// error nothing changes.
    pub(crate) fn store_layout(&self, pdev: &pci::Device<Bound>, input: &[u8]) -> Result {
        let mut state = self.state.lock();
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
    /// A VF bound to vfio-pci that no VM has open is not in use.
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

    pub(crate) fn disable_vfs(&self, pdev: &pci::Device<Core<'_>>) {
        mailbox::notify_shutdown(self);
        pdev.disable_sriov();
        self.clear_partition();
        let mut state = self.state.lock();
        if state.num_vfs != 0 {
            dev_info!(pdev, "disabled {} VFs\n", state.num_vfs);
        }
        state.num_vfs = 0;
        drop(state);
        let _ = self.jobs.set_blocked(false);
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
            let events: u32 = self.bar.read(regs::VF_EVENT).into();
            self.bar.write_reg(regs::VF_EVENT::from(events));
            mailbox::vf_reset_seen(self, events);
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
fn show_state(state: &Mutex<PfInner>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let state = state.lock();
    let mut text = [0u8; LAYOUT_TEXT];
    writeln!(
        f,
        "vfs {} layout {}",
        state.num_vfs,
        layout_text(state.chosen.as_ref(), &mut text)
    )?;
    writeln!(
        f,
        "vf quarters ipu vpu jpu mem_mb version accepted rejected rate_limited replies_dropped resets faults last_fault_code last_fault_addr fault_resets isolated"
    )?;
    for (vf, v) in state.vfs.iter().enumerate().take(state.num_vfs) {
        let c = &v.session.counters;
        let (code, addr) = v
            .last_fault
            .map_or((0, 0), |fault| (fault.code, fault.addr));
        writeln!(
            f,
            "{} {} {:#06x} {:#x} {:#x} {} {} {} {} {} {} {} {} {} {:#x} {} {}",
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
            u8::from(v.isolated)
        )?;
    }
    Ok(())
}
