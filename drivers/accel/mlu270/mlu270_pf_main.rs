// SPDX-License-Identifier: GPL-2.0

//! PF driver for the MLU270-class AI accelerator.
//!
//! Binds the physical function (`cabc:0270`), partitions the card's IPU
//! cores, VPUs, JPUs and device memory into up to four SR-IOV virtual
//! functions (`sriov_numvfs`), and serves the VFs' mailbox requests. A VF
//! belongs to an untrusted guest: everything it sends is validated by the
//! shared protocol code before the PF acts on it.
//!
//! See `Documentation/accel/mlu270/` for the hardware interface, the mailbox
//! protocol and the sysfs ABI.

use core::fmt::Write;

use kernel::{
    device::{attribute::SysfsBuffer, Bound, Core},
    dma::{Device as _, DmaMask},
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
#[path = "common/vf_mig_abi.rs"]
mod vf_mig_abi;

#[path = "pf/card.rs"]
mod card;
#[path = "pf/kunit.rs"]
mod kunit;
#[path = "pf/mailbox.rs"]
mod mailbox;
#[path = "pf/mig_blob.rs"]
mod mig_blob;
#[path = "pf/migration.rs"]
mod migration;
#[path = "pf/vfio_bridge.rs"]
mod vfio_bridge;
// Test support for mig_blob (a blob builder and the checks the KUnit suite
// `mlu270_pf_mig` and the host tests share): only in a kernel with KUnit.
#[cfg(CONFIG_KUNIT = "y")]
#[path = "pf/mig_blob_test.rs"]
mod mig_blob_test;

use card::Card;

/// Threaded handler of the PF's MSI-X vectors.
///
/// Every vector runs the same service routine: it reads `INT_STATUS` and
/// handles whatever is pending, so a lost or coalesced interrupt is
/// recovered by the next one.
#[pin_data]
struct PfIrq<'bound> {
    card: Arc<Card<'bound>>,
}

impl ThreadedHandler for PfIrq<'_> {
    fn handle_threaded(&self) -> IrqReturn {
        if self.card.service() {
            IrqReturn::Handled
        } else {
            IrqReturn::None
        }
    }
}

/// The driver's data of one bound PF.
///
/// Field order is drop order: the IRQ registrations go first, so no handler
/// can run once `card` starts to drop.
#[pin_data]
struct MluPf<'bound> {
    #[pin]
    node: MiscDeviceRegistration<'bound, PfNode>,
    node_name: jobs::NodeName,
    #[pin]
    queue_irq: irq::ThreadedRegistration<'bound, jobs::QueueIrq<'bound, CardType>>,
    #[pin]
    mbox_irq: irq::ThreadedRegistration<'bound, PfIrq<'bound>>,
    #[pin]
    event_irq: irq::ThreadedRegistration<'bound, PfIrq<'bound>>,
    card: Arc<Card<'bound>>,
}

struct MluPfDriver;

static NODE_USED: [AtomicFlag; 4] = [const { AtomicFlag::new(false) }; 4];
static NODE_NAMES: jobs::NodeNames = jobs::NodeNames::new(
    &[c"mlu270-pf0", c"mlu270-pf1", c"mlu270-pf2", c"mlu270-pf3"],
    &NODE_USED,
);

/// The card's driver data type, for the native job node.
struct CardType;

impl jobs::FunctionType for CardType {
    type Of<'a> = Card<'a>;
}

impl jobs::JobFunction for Card<'_> {
    fn queue(&self) -> &jobs::JobQueue {
        &self.jobs
    }

    fn bar(&self) -> &jobs::Bar0<'_> {
        &self.bar
    }

    fn info(&self) -> Result<uapi::Info> {
        Ok(self.native_info())
    }

    fn vf_migration(&self, req: &mut uapi::VfMig, data: &mut [u8]) -> Result {
        self.vf_mig_ioctl(req, data)
    }

    fn vf_migration_lost(&self, vf: u32) {
        if let Ok(vf) = usize::try_from(vf) {
            self.mig_data_lost(vf);
        }
    }
}

/// The native job node of a card (`/dev/mlu270-pf<n>`).
type PfNode = jobs::JobNode<CardType>;

kernel::pci_device_table!(
    PCI_TABLE,
    <MluPfDriver as pci::Driver>::IdInfo,
    [(pci::DeviceId::from_id(pci::Vendor::CAMBRICON, 0x0270), ())]
);

impl MluPfDriver {
    /// sysfs `layout` (see Documentation/ABI/testing/sysfs-driver-mlu270).
    fn show_layout(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        this.card.show_layout(buf)
    }

    fn store_layout(pdev: &pci::Device<Bound>, this: Pin<&MluPf<'_>>, input: &[u8]) -> Result {
        this.card.store_layout(pdev, input)
    }

    fn show_ipu_cores(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", this.card.caps.ipu_cores)?;
        Ok(())
    }

    fn show_vpus(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", this.card.caps.vpus)?;
        Ok(())
    }

    fn show_jpus(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", this.card.caps.jpus)?;
        Ok(())
    }

    fn show_mem_mb(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", this.card.caps.mem_mb)?;
        Ok(())
    }

    fn show_protocol_version(
        _pdev: &pci::Device<Bound>,
        _this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        writeln!(
            buf,
            "{}-{}",
            protocol::Version::MIN.as_u16(),
            protocol::Version::MAX.as_u16()
        )?;
        Ok(())
    }

    fn show_native_slice(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        this.card.show_native_slice(buf)
    }

    fn store_native_slice(
        pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        input: &[u8],
    ) -> Result {
        this.card.store_native_slice(pdev, input)
    }

    fn show_fault_reset_after(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut SysfsBuffer<'_>,
    ) -> Result {
        this.card.show_fault_reset_after(buf)
    }

    fn store_fault_reset_after(
        pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        input: &[u8],
    ) -> Result {
        this.card.store_fault_reset_after(pdev, input)
    }

    fn store_reset_vf(pdev: &pci::Device<Bound>, this: Pin<&MluPf<'_>>, input: &[u8]) -> Result {
        let text = core::str::from_utf8(input).map_err(|_| EINVAL)?;
        let vf: usize = text.trim().parse().map_err(|_| {
            dev_err!(pdev, "reset_vf: want a VF index, 0 to 3\n");
            EINVAL
        })?;
        mailbox::admin_reset(&this.card, vf)
    }

    fn show_job_node(
        _pdev: &pci::Device<Bound>,
        this: Pin<&MluPf<'_>>,
        buf: &mut pci::SysfsBuffer<'_>,
    ) -> Result {
        writeln!(buf, "{}", this.node_name.name.to_str().map_err(|_| EINVAL)?)?;
        Ok(())
    }
}

kernel::pci_attribute_groups!(PF_ATTRIBUTES: MluPfDriver, [
    read_write(c"layout", MluPfDriver::show_layout, MluPfDriver::store_layout),
    read_only(c"job_node", MluPfDriver::show_job_node),
    write_only(c"reset_vf", MluPfDriver::store_reset_vf),
    read_write(
        c"fault_reset_after",
        MluPfDriver::show_fault_reset_after,
        MluPfDriver::store_fault_reset_after
    ),
    read_write(
        c"native_slice",
        MluPfDriver::show_native_slice,
        MluPfDriver::store_native_slice
    ),
    read_only(c"ipu_cores", MluPfDriver::show_ipu_cores),
    read_only(c"vpus", MluPfDriver::show_vpus),
    read_only(c"jpus", MluPfDriver::show_jpus),
    read_only(c"mem_mb", MluPfDriver::show_mem_mb),
    read_only(c"protocol_version", MluPfDriver::show_protocol_version),
]);

#[vtable]
impl pci::Driver for MluPfDriver {
    type IdInfo = ();
    type Data<'bound> = MluPf<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;
    const ATTRIBUTE_GROUPS: Option<&'static pci::AttributeGroups<Self>> = Some(&PF_ATTRIBUTES);

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            pdev.enable_device_mem()?;
            pdev.set_master();
            // The card's job queue (below) is the first DMA user of this device.
            // SAFETY: No DMA memory of this device is allocated or mapped yet.
            unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<64>())? };

            let card = Card::new(pdev)?;
            let vectors = pdev
                .alloc_irq_vectors_managed(
                    regs::PF_VECTORS,
                    regs::PF_VECTORS,
                    pci::IrqTypes::default().with(pci::IrqType::MsiX),
                )
                .inspect_err(|e| {
                    dev_err!(
                        pdev,
                        "cannot allocate {} MSI-X vectors: {:?}\n",
                        regs::PF_VECTORS,
                        e
                    )
                })?;
            let mbox = vectors.index(regs::VEC_MBOX)?;
            let event = vectors.index(regs::VEC_PF_EVENT)?;
            let queue = vectors.index(regs::VEC_QUEUE)?;
            let mbox_card = card.clone();
            let event_card = card.clone();
            let queue_card = card.clone();
            let node_card = card.clone();
            let node_name = NODE_NAMES.take().inspect_err(|_| {
                dev_err!(pdev, "no free job node name\n");
            })?;
            let name = node_name.name;

            Ok(try_pin_init!(MluPf {
                // The registration is a pinned field of the driver's data, which the PCI
                // core drops (running the registration's destructor) on unbind.
                // SAFETY: Hence the registration is never forgotten.
                queue_irq <- unsafe {
                    irq::ThreadedRegistration::new(
                        queue,
                        irq::Flags::TRIGGER_NONE,
                        c"mlu270_pf-queue",
                        try_pin_init!(jobs::QueueIrq::<CardType> { function: queue_card }? Error),
                    )
                },
                // The registration is a pinned field of the driver's data, which the PCI
                // core drops (running the registration's destructor) on unbind.
                // SAFETY: Hence the registration is never forgotten.
                mbox_irq <- unsafe {
                    irq::ThreadedRegistration::new(
                        mbox,
                        irq::Flags::TRIGGER_NONE,
                        c"mlu270_pf-mbox",
                        try_pin_init!(PfIrq { card: mbox_card }? Error),
                    )
                },
                // SAFETY: As for `mbox_irq`.
                event_irq <- unsafe {
                    irq::ThreadedRegistration::new(
                        event,
                        irq::Flags::TRIGGER_NONE,
                        c"mlu270_pf-event",
                        try_pin_init!(PfIrq { card: event_card }? Error),
                    )
                },
                card: {
                    card.reset_partition();
                    card.enable_interrupts();
                    card.announce();
                    card
                },
                node <- MiscDeviceRegistration::register(MiscDeviceOptions { name }, node_card),
                node_name,
            }? Error)
            .pin_chain(|this| this.card.jobs.start(&this.card.bar)))
        })
    }

    fn unbind<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        // The VFs are gone already (`sriov_release`): they never outlive the PF's binding.
        this.card.shutdown();
    }

    fn sriov_release<'bound>(pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        // The PF is unbinding: its VFs go away whoever uses them. Tell them why first; nobody
        // new may start using one meanwhile.
        let _no_new_users = pdev.sriov_block_vf_enable();
        this.card
            .disable_vfs(pdev, protocol::ShutdownReason::Removing);
    }

    fn sriov_configure<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
        num_vfs: u16,
    ) -> Result<u16> {
        if num_vfs == 0 {
            // A VF found unused stays unused until it is removed: a VM that opened it in
            // between would make the removal wait for the VM, with the PF's device lock and
            // the PCI rescan lock held (every hotplug on the host would wait too).
            let _no_new_users = pdev.sriov_block_vf_enable();
            this.card.check_vfs_unused(pdev)?;
            this.card
                .disable_vfs(pdev, protocol::ShutdownReason::DisablingVfs);
            return Ok(0);
        }
        this.card.enable_vfs(pdev, num_vfs)
    }
}

kernel::module_pci_driver! {
    type: MluPfDriver,
    name: "mlu270_pf",
    authors: ["MLU270 team"],
    description: "MLU270-class accelerator SR-IOV PF driver",
    license: "GPL v2",
}
