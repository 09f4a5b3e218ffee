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

use kernel::{
    device::{attribute::SysfsBuffer, Bound, Core},
    irq::{self, IrqReturn, ThreadedHandler},
    pci,
    prelude::*,
    sync::Arc,
};

#[path = "common/layout.rs"]
mod layout;
#[path = "common/protocol.rs"]
mod protocol;
#[path = "common/regs.rs"]
mod regs;

#[path = "pf/card.rs"]
mod card;
#[path = "pf/kunit.rs"]
mod kunit;
#[path = "pf/mailbox.rs"]
mod mailbox;

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
    mbox_irq: irq::ThreadedRegistration<'bound, PfIrq<'bound>>,
    #[pin]
    event_irq: irq::ThreadedRegistration<'bound, PfIrq<'bound>>,
    card: Arc<Card<'bound>>,
}

struct MluPfDriver;

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
}

kernel::pci_attribute_groups!(PF_ATTRIBUTES: MluPfDriver, [
    read_write(c"layout", MluPfDriver::show_layout, MluPfDriver::store_layout),
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
            let mbox_card = card.clone();
            let event_card = card.clone();

            Ok(try_pin_init!(MluPf {
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
                    card.enable_interrupts();
                    card.announce();
                    card
                },
            }? Error))
        })
    }

    fn unbind<'bound>(_pdev: &'bound pci::Device<Core<'_>>, this: Pin<&Self::Data<'bound>>) {
        // The PCI core has already disabled SR-IOV (VFs never outlive the PF's binding).
        this.card.shutdown();
    }

    fn sriov_configure<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        this: Pin<&Self::Data<'bound>>,
        num_vfs: u16,
    ) -> Result<u16> {
        if num_vfs == 0 {
            this.card.disable_vfs(pdev);
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
