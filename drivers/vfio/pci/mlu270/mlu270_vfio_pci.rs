// SPDX-License-Identifier: GPL-2.0

//! VFIO variant driver for the VFs of the MLU270-class accelerator.
//!
//! Hands a VF to a virtual machine as `vfio-pci` does, and lets the VM move
//! to another card while it runs: VFIO live migration (stop-copy, P2P,
//! pre-copy) and logging of the VF's DMA writes, both carried out by the
//! card under the PF driver's control. The VF's state travels as the PF
//! driver's migration stream (`Documentation/accel/mlu270/migration.rst`);
//! this driver asks the PF driver (`mlu270_pf`) for every step through the
//! table `mlu270_pf` exports to it (`common/vf_mig_abi.rs`).
//!
//! Bound only through `driver_override`, like every VFIO driver:
//! `echo mlu270_vfio_pci > /sys/bus/pci/devices/<VF>/driver_override`.

use kernel::{
    device::Core,
    pci,
    prelude::*,
    vfio::{
        self,
        dirty::{IovaBitmap, IovaRanges},
        migration::{Flags, PrecopyInfo, State, StepError},
    },
};

#[path = "../../../accel/mlu270/common/vf_mig_abi.rs"]
mod vf_mig_abi;

use vf_mig_abi::{VfMigOps, VERSION};

extern "Rust" {
    /// The PF driver's migration service (`mlu270_pf`'s `pf/vfio_bridge.rs`).
    static mlu270_pf_vf_mig_ops: VfMigOps;
}

/// The PF driver's migration service, if it is the one this driver was
/// built for.
fn service() -> Result<&'static VfMigOps> {
    // SAFETY: `mlu270_pf` defines the symbol as an immutable `VfMigOps`; the
    // two leading fields, which tell whether the rest has this layout, are
    // the same in every version. `mlu270_pf` stays loaded while this module,
    // which uses its symbol, is.
    let ops = unsafe { &mlu270_pf_vf_mig_ops };
    if ops.version != VERSION || ops.size != core::mem::size_of::<VfMigOps>() {
        pr_err!(
            "mlu270_pf's migration service is version {}, not {}: rebuild both modules\n",
            ops.version,
            VERSION
        );
        return Err(ENODEV);
    }
    Ok(ops)
}

/// What the driver keeps of one VF.
struct VfData {
    ops: &'static VfMigOps,
}

struct Mlu270VfioPci;

kernel::pci_device_table!(
    PCI_TABLE,
    <Mlu270VfioPci as vfio::pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id_vfio_override(pci::Vendor::CAMBRICON, 0x0271),
        ()
    )]
);

type Device = vfio::pci::Device<Mlu270VfioPci>;

fn ops(dev: &Device) -> &'static VfMigOps {
    dev.data().ops
}

#[vtable]
impl vfio::pci::Driver for Mlu270VfioPci {
    type IdInfo = ();
    type Data = VfData;

    const ID_TABLE: pci::IdTable<()> = &PCI_TABLE;
    const MIGRATION: Option<Flags> = Some(Flags::STOP_COPY.with(Flags::P2P).with(Flags::PRE_COPY));

    fn probe<'a>(
        pdev: &'a pci::Device<Core<'_>>,
        _info: Option<&'a ()>,
    ) -> impl PinInit<VfData, Error> + 'a {
        let ops = service()?;
        let index = (ops.attach)(pdev).inspect_err(|e| {
            dev_err!(
                pdev,
                "not an enabled VF of a card bound to mlu270_pf ({:?})\n",
                e
            )
        })?;
        dev_info!(pdev, "VF {} ready for VFIO, with migration\n", index);
        Ok(VfData { ops })
    }

    fn open_device(dev: &Device) -> Result {
        // No DMA log of an earlier user: the card keeps one across FLRs.
        (ops(dev).log_end)(dev.pci_dev())
    }

    fn close_device(dev: &Device) {
        // Userspace's DMA log ends with its use of the VF.
        let _ = (ops(dev).log_end)(dev.pci_dev());
    }

    fn migration_step(dev: &Device, from: State, to: State) -> Result<(), StepError> {
        let vf = dev.pci_dev();
        (ops(dev).set_state)(vf, from as u32, to as u32).map_err(|e| {
            if Self::migration_broken(dev) {
                StepError::Broken(e)
            } else {
                StepError::Unchanged(e)
            }
        })
    }

    fn migration_broken(dev: &Device) -> bool {
        (ops(dev).state)(dev.pci_dev()) == Ok(State::Error as u32)
    }

    fn migration_reset(dev: &Device) {
        let _ = (ops(dev).reset)(dev.pci_dev());
    }

    fn migration_read(dev: &Device, out: &mut [u8]) -> Result<usize> {
        let (n, state) = (ops(dev).read)(dev.pci_dev(), out)?;
        if n == 0 && (state == State::PreCopy as u32 || state == State::PreCopyP2p as u32) {
            // The temporary end of pre-copy: nothing written since the last
            // round (in STOP_COPY, 0 is the end).
            return Err(ENOMSG);
        }
        Ok(n)
    }

    fn migration_data_lost(dev: &Device) {
        (ops(dev).data_lost)(dev.pci_dev());
    }

    fn migration_write(dev: &Device, data: &[u8]) -> Result<usize> {
        (ops(dev).write)(dev.pci_dev(), data)
    }

    fn migration_precopy_info(dev: &Device) -> Result<PrecopyInfo> {
        let (initial_bytes, dirty_bytes) = (ops(dev).precopy_info)(dev.pci_dev())?;
        Ok(PrecopyInfo {
            initial_bytes,
            dirty_bytes,
        })
    }

    fn migration_data_size(dev: &Device) -> Result<usize> {
        Ok(usize::try_from((ops(dev).stop_copy_size)(dev.pci_dev())?)?)
    }

    fn log_start(dev: &Device, ranges: &mut IovaRanges<'_>, page_size: &mut u64) -> Result {
        const MAX_RANGES: usize = 16;
        ranges.combine(MAX_RANGES as u32)?;
        let mut list = [(0u64, 0u64); MAX_RANGES];
        let mut n = 0;
        for (slot, (first, last)) in list.iter_mut().zip(ranges.iter()) {
            // The kernel crate hands over non-empty ranges only.
            let len = last.checked_sub(first).and_then(|l| l.checked_add(1));
            *slot = (first, len.ok_or(EINVAL)?);
            n += 1;
        }
        (ops(dev).log_start)(dev.pci_dev(), *page_size, list.get(..n).ok_or(EINVAL)?)
    }

    fn log_stop(dev: &Device) -> Result {
        (ops(dev).log_stop)(dev.pci_dev())
    }

    fn log_read_and_clear(
        dev: &Device,
        iova: u64,
        length: u64,
        dirty: &mut IovaBitmap<'_>,
    ) -> Result {
        (ops(dev).log_report)(dev.pci_dev(), iova, length, &mut |at, len| {
            dirty.set(at, len)
        })
    }
}

kernel::module_vfio_pci_driver! {
    type: Mlu270VfioPci,
    name: "mlu270_vfio_pci",
    authors: ["MLU270 team"],
    description: "VFIO PCI variant driver for MLU270-class accelerator VFs, with live migration",
    license: "GPL v2",
}
