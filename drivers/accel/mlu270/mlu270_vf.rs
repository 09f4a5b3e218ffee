// SPDX-License-Identifier: GPL-2.0

//! VF driver for the MLU270-class AI accelerator.
//!
//! Binds a virtual function (`cabc:0271`), on the host or inside a guest the
//! VF was passed through to. It talks to the PF driver only through the
//! device's mailbox (never through the PF driver's data, which a guest does
//! not have): it negotiates the protocol version with HELLO, learns its
//! slice with GET_RESOURCES and follows the PF's notifications. An FLR
//! (`reset_prepare`/`reset_done`) quiesces the VF and runs the handshake
//! again. The slice is shown in sysfs (read-only attributes of the VF, see
//! `Documentation/ABI/testing/sysfs-driver-mlu270`) and, with the session
//! counters, in `debugfs/mlu270_vf-<pci address>/resources`.
//!
//! The job path (`common/jobs.rs`): a command queue in coherent DMA memory,
//! completions on MSI-X vector 0, and a misc device (`/dev/mlu270-vf<n>`,
//! named in the VF's `job_node` attribute) with the ioctls of
//! `Documentation/accel/mlu270/job-uapi.rst`.
//!
//! See `Documentation/accel/mlu270/` for the hardware interface and the
//! mailbox protocol.

use core::fmt::Write;

use kernel::{
    device::{Bound, Core},
    dma::{Device as _, DmaMask},
    io::Io,
    irq::{self, IrqReturn, ThreadedHandler},
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    pci,
    prelude::*,
    sync::{atomic::AtomicFlag, Arc},
};

#[path = "common/jobs.rs"]
mod jobs;
#[path = "common/layout.rs"]
mod layout;
#[path = "common/protocol.rs"]
mod protocol;
#[path = "common/regs.rs"]
mod regs;
#[path = "common/uapi.rs"]
mod uapi;

#[path = "vf/mailbox.rs"]
mod mailbox;

use mailbox::{Bar0, Phase, Vf};
use protocol::Resources;

/// Threaded handler of the VF's mailbox vector.
///
/// It reads `INT_STATUS` and `MB_STATUS` and handles whatever is pending, so
/// a coalesced interrupt is recovered by the next one (and a waiter polls
/// the mailbox too).
#[pin_data]
struct VfIrq<'bound> {
    vf: Arc<Vf<'bound>>,
}

impl ThreadedHandler for VfIrq<'_> {
    fn handle_threaded(&self) -> IrqReturn {
        if self.vf.service() {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

/// Log names of the VFs' job queues.
const WHO: [&str; layout::MAX_VFS] = ["VF 0", "VF 1", "VF 2", "VF 3"];

static NODE_USED: [AtomicFlag; 8] = [const { AtomicFlag::new(false) }; 8];
static NODE_NAMES: jobs::NodeNames = jobs::NodeNames::new(
    &[
        c"mlu270-vf0",
        c"mlu270-vf1",
        c"mlu270-vf2",
        c"mlu270-vf3",
        c"mlu270-vf4",
        c"mlu270-vf5",
        c"mlu270-vf6",
        c"mlu270-vf7",
    ],
    &NODE_USED,
);

/// The VF's driver data type, for the job node.
struct VfType;

impl jobs::FunctionType for VfType {
    type Of<'a> = Vf<'a>;
}

impl jobs::JobFunction for Vf<'_> {
    fn queue(&self) -> &jobs::JobQueue {
        &self.jobs
    }

    fn bar(&self) -> &jobs::Bar0<'_> {
        &self.bar
    }

    fn info(&self) -> Result<uapi::Info> {
        vf_info(self)
    }
}

/// The job node of a VF (`/dev/mlu270-vf<n>`).
type VfNode = jobs::JobNode<VfType>;

/// What `MLU270_IOCTL_INFO` says of a VF: its slice from the last handshake.
fn vf_info(vf: &Vf<'_>) -> Result<uapi::Info> {
    let inner = vf.state.lock();
    let res = inner.resources.ok_or(ENODEV)?;
    Ok(uapi::Info {
        function: vf.index + 1,
        quarters: res.quarters.into(),
        protocol_version: inner.version.map_or(0, |v| v.as_u16().into()),
        ipu_mask: res.ipu_mask.into(),
        vpu_mask: res.vpu_mask.into(),
        jpu_mask: res.jpu_mask.into(),
        mem_mb: res.mem_size_mb,
        resets: vf.jobs.resets(),
        ..uapi::Info::default()
    })
}

/// The driver's data of one bound VF.
///
/// Field order is drop order: the job node goes first (its drop waits for
/// running ioctls, which `unbind` woke), then the IRQ registrations, so no
/// handler runs once `vf` starts to drop.
#[pin_data]
struct MluVf<'bound> {
    #[pin]
    node: MiscDeviceRegistration<'bound, VfNode>,
    node_name: jobs::NodeName,
    #[pin]
    queue_irq: irq::ThreadedRegistration<'bound, jobs::QueueIrq<'bound, VfType>>,
    #[pin]
    mbox_irq: irq::ThreadedRegistration<'bound, VfIrq<'bound>>,
    vf: Arc<Vf<'bound>>,
}

struct MluVfDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <MluVfDriver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(pci::Vendor::CAMBRICON, 0x0271), ())]
);

/// Maps BAR 0 and checks that it is the VF of an MLU270 this driver can
/// drive; returns the BAR and the 0-based VF index.
fn map_bar<'bound>(pdev: &'bound pci::Device<Core<'_>>) -> Result<(Bar0<'bound>, u32)> {
    let bar: Bar0<'bound> = pdev.iomap_region_sized::<{ regs::BAR0_SIZE }>(0, c"mlu270_vf")?;

    regs::check_interface(pdev, &bar)?;
    let info = bar.read(regs::FUNC_INFO);
    let func: u32 = info.index().into();
    if !bool::from(info.is_vf()) || !(1..=layout::MAX_VFS as u32).contains(&func) {
        dev_err!(
            pdev,
            "BAR 0 is not a VF's (FUNC_INFO {:#x})\n",
            u32::from(info)
        );
        return Err(ENODEV);
    }
    // Function index 1 + i is VF i.
    Ok((bar, func - 1))
}

/// The sysfs attributes: one value per file, from the last successful
/// handshake (`ENODEV` while there is none, e.g. after a failed reset).
///
/// The callbacks run without the device lock, only for a bound device (the
/// driver core removes the files, waiting for running callbacks, before
/// `unbind`); they take `Vf::state` briefly, which is never held across a
/// wait for the device to unbind.
impl MluVfDriver {
    fn resources(this: &MluVf<'_>) -> Result<Resources> {
        this.vf.state.lock().resources.ok_or(ENODEV)
    }

    fn show_vf_index(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", this.vf.index)?;
        Ok(())
    }

    fn show_slice(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(
            buf,
            "{}",
            mailbox::fraction(Self::resources(&this)?.quarters)
        )?;
        Ok(())
    }

    fn show_ipu_mask(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{:#06x}", Self::resources(&this)?.ipu_mask)?;
        Ok(())
    }

    fn show_vpu_mask(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{:#x}", Self::resources(&this)?.vpu_mask)?;
        Ok(())
    }

    fn show_jpu_mask(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{:#x}", Self::resources(&this)?.jpu_mask)?;
        Ok(())
    }

    fn show_mem_mb(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", Self::resources(&this)?.mem_size_mb)?;
        Ok(())
    }

    fn show_protocol_version(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        let version = this.vf.state.lock().version.ok_or(ENODEV)?;
        writeln!(buf, "{}", version.as_u16())?;
        Ok(())
    }

    fn show_job_node(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", this.node_name.name.to_str().map_err(|_| EINVAL)?)?;
        Ok(())
    }

    fn show_state(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluVf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        let phase: Phase = this.vf.state.lock().phase;
        writeln!(buf, "{}", phase.name())?;
        Ok(())
    }
}

kernel::pci_attribute_groups!(VF_ATTRIBUTES: MluVfDriver, [
    read_only(c"vf_index", MluVfDriver::show_vf_index),
    read_only(c"slice", MluVfDriver::show_slice),
    read_only(c"ipu_mask", MluVfDriver::show_ipu_mask),
    read_only(c"vpu_mask", MluVfDriver::show_vpu_mask),
    read_only(c"jpu_mask", MluVfDriver::show_jpu_mask),
    read_only(c"mem_mb", MluVfDriver::show_mem_mb),
    read_only(c"protocol_version", MluVfDriver::show_protocol_version),
    read_only(c"state", MluVfDriver::show_state),
    read_only(c"job_node", MluVfDriver::show_job_node),
]);

#[vtable]
impl pci::Driver for MluVfDriver {
    type IdInfo = ();
    type Data<'bound> = MluVf<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;
    const ATTRIBUTE_GROUPS: Option<&'static pci::AttributeGroups<Self>> = Some(&VF_ATTRIBUTES);

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            pdev.enable_device_mem()?;
            pdev.set_master();
            // The job queue (below) is the first DMA user of this device.
            // SAFETY: No DMA memory of this device is allocated or mapped yet.
            unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())? };

            let (bar, index) = map_bar(pdev)?;
            let vectors = pdev
                .alloc_irq_vectors_managed(
                    regs::VF_VECTORS,
                    regs::VF_VECTORS,
                    pci::IrqTypes::default().with(pci::IrqType::MsiX),
                )
                .inspect_err(|e| {
                    dev_err!(
                        pdev,
                        "cannot allocate {} MSI-X vectors: {:?}\n",
                        regs::VF_VECTORS,
                        e
                    )
                })?;
            let mbox = vectors.index(regs::VEC_MBOX)?;
            let queue = vectors.index(regs::VEC_QUEUE)?;
            let who = WHO.get(index as usize).copied().unwrap_or("VF");
            let jobs = jobs::JobQueue::new(pdev.as_ref(), who, mailbox::interrupts())?;
            let pdev_normal: &'bound pci::Device = pdev;
            let vf = Vf::new(pdev_normal, bar, index, jobs)?;
            let irq_vf = vf.clone();
            let queue_vf = vf.clone();
            let node_vf = vf.clone();
            let node_name = NODE_NAMES.take().inspect_err(|_| {
                dev_err!(pdev, "VF {}: no free job node name\n", index);
            })?;
            let name = node_name.name;

            Ok(try_pin_init!(MluVf {
                // The registration is a pinned field of the driver's data, which the PCI
                // core drops (running the registration's destructor) on unbind.
                // SAFETY: Hence the registration is never forgotten.
                mbox_irq <- unsafe {
                    irq::ThreadedRegistration::new(
                        mbox,
                        irq::Flags::TRIGGER_NONE,
                        c"mlu270_vf-mbox",
                        try_pin_init!(VfIrq { vf: irq_vf }? Error),
                    )
                },
                // SAFETY: As for `mbox_irq`.
                queue_irq <- unsafe {
                    irq::ThreadedRegistration::new(
                        queue,
                        irq::Flags::TRIGGER_NONE,
                        c"mlu270_vf-queue",
                        try_pin_init!(jobs::QueueIrq::<VfType> { function: queue_vf }? Error),
                    )
                },
                // The node is registered last: the queue runs once it is
                // reachable (below), and its ioctls wait for that.
                node <- MiscDeviceRegistration::register(MiscDeviceOptions { name }, node_vf),
                node_name,
                vf,
            }? Error)
            // The handshake needs the IRQ handlers registered; on failure the
            // data (registration first) is dropped and probe fails.
            .pin_chain(|this| {
                this.vf.handshake()?;
                this.vf.jobs.start(&this.vf.bar)
            }))
        })
    }

    fn unbind<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        // Cancels every job and wakes the waiters, so that dropping the node
        // (which waits for running ioctls) does not wait long.
        this.vf.jobs.shutdown(&this.vf.bar);
        this.vf.stop();
    }

    fn reset_prepare<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        // Jobs in flight fail with RESET; submitters wait for reset_done.
        this.vf.jobs.pause_for_reset(&this.vf.bar);
        this.vf.quiesce();
        // No handler may touch the registers while the function resets.
        this.mbox_irq.synchronize();
        this.queue_irq.synchronize();
    }

    fn reset_done<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        this.vf.restart();
        if let Err(e) = this.vf.jobs.start(&this.vf.bar) {
            dev_err!(
                this.vf.pdev,
                "VF {}: the job queue did not restart after the reset ({:?})\n",
                this.vf.index,
                e
            );
        }
    }
}

kernel::module_pci_driver! {
    type: MluVfDriver,
    name: "mlu270_vf",
    authors: ["MLU270 team"],
    description: "MLU270-class accelerator SR-IOV VF driver",
    license: "GPL v2",
}
