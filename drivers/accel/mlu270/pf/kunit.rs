// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the PF's decision code as built into the module: the
//! layout planner, the validation of VF messages and the checks of the job
//! ABI (shared with the VF driver) in suite `mlu270_pf`, the validator of
//! migration streams in suite `mlu270_pf_mig`. They run when the
//! module is loaded on a kernel with KUnit (the test kernel of `make check`);
//! the same files are also tested on the host (`tools/mlu270-proto`).

#[kernel::macros::kunit_tests(mlu270_pf)]
mod tests {
    use crate::layout::{self, CardCaps, Fraction, Layout, LayoutChoice, Slice, MAX_VFS};
    use crate::protocol::{self, Opcode, ProtoError, RequestKind, Version};
    use crate::uapi::{self, op, Job, Transfer};
    use kernel::prelude::*;

    const CARD: CardCaps = CardCaps::mlu270(256);

    fn slices(n: usize) -> [Slice; MAX_VFS] {
        match layout::default_for(n).and_then(|l| layout::plan(&l, &CARD)) {
            Ok(s) => s,
            Err(_) => [Slice::EMPTY; MAX_VFS],
        }
    }

    #[test]
    fn default_layouts_are_disjoint_and_sized() {
        for n in 1..=MAX_VFS {
            let s = slices(n);
            let mut quarters = 0;
            for i in 0..n {
                assert!(!s[i].is_empty());
                quarters += u32::from(s[i].quarters);
                for j in 0..i {
                    assert!(s[i].is_disjoint(&s[j]));
                }
            }
            assert_eq!(quarters, 4);
        }
        assert_eq!(slices(1)[0].ipu_mask, 0xffff);
        assert_eq!(slices(3)[0].ipu_mask, 0x00ff);
        assert_eq!(slices(4)[3].ipu_mask, 0xf000);
        assert_eq!(slices(4)[3].mem_size_mb, 64);
    }

    #[test]
    fn layout_counts_and_text() -> Result {
        assert!(layout::default_for(0).is_err());
        assert_eq!(
            layout::default_for(5).err().map(|e| e.errno()),
            Some(34) // ERANGE
        );
        assert!(matches!(
            Layout::parse("default"),
            Ok(LayoutChoice::Default)
        ));
        for bad in ["", "3/4", "1/2 1/2 1/4", "1/4 x", "1/4 1/4 1/4 1/4 1/4"] {
            assert!(Layout::parse(bad).is_err());
        }
        let Ok(LayoutChoice::Custom(custom)) = Layout::parse("1/4,1/4,1/2") else {
            return Err(EINVAL);
        };
        assert_eq!(custom.get(2), Some(Fraction::Half));
        // A chosen layout fixes the VF count.
        assert!(layout::resolve(Some(&custom), 2).is_err());
        assert!(layout::resolve(Some(&custom), 3).is_ok());
        // No layout change while VFs exist.
        assert!(layout::store_layout(b"1/2\n", 2).is_err());
        Ok(())
    }

    #[test]
    fn messages_are_validated_against_the_sender() -> Result {
        let quarter = slices(4)[1];
        // HELLO first; then the negotiated version decides what is allowed.
        let hello = protocol::hello_request(1, Version::V1, Version::V1);
        let req = protocol::validate_request(&hello, None, &quarter);
        assert!(matches!(
            req.map(|r| r.kind),
            Ok(RequestKind::Hello {
                selected: Version::V1,
                ..
            })
        ));
        let Ok(resources) = protocol::simple_request(2, Opcode::GetResources) else {
            return Err(EINVAL);
        };
        assert_eq!(
            protocol::validate_request(&resources, None, &quarter).err(),
            Some(ProtoError::NotNegotiated)
        );
        let Ok(fault) = protocol::simple_request(3, Opcode::QueryFault) else {
            return Err(EINVAL);
        };
        assert_eq!(
            protocol::validate_request(&fault, Some(Version::V1), &quarter).err(),
            Some(ProtoError::NotInVersion)
        );
        // A range is checked against the sender's own window (64 MiB here).
        let inside = protocol::scrub_request(4, 0, 64);
        assert!(protocol::validate_request(&inside, Some(Version::V2), &quarter).is_ok());
        let outside = protocol::scrub_request(5, 60, 8);
        assert_eq!(
            protocol::validate_request(&outside, Some(Version::V2), &quarter).err(),
            Some(ProtoError::OutOfSlice)
        );
        let wrapping = protocol::scrub_request(6, u32::MAX, 2);
        assert!(protocol::validate_request(&wrapping, Some(Version::V2), &quarter).is_err());
        // Garbage: reserved bits, unknown opcodes.
        let mut raw = hello;
        raw[0] |= 0xff00_0000;
        assert!(protocol::validate_request(&raw, None, &quarter).is_err());
        raw = [0; protocol::MSG_WORDS];
        raw[0] = 0x7f;
        assert_eq!(
            protocol::validate_request(&raw, Some(Version::V2), &quarter).err(),
            Some(ProtoError::UnknownOpcode)
        );
        Ok(())
    }

    const MIB: u64 = 1 << 20;

    fn job(opcode: u32, src: u64, dst: u64, len: u32) -> Job {
        Job {
            opcode,
            src,
            dst,
            len,
            ..Job::default()
        }
    }

    #[test]
    fn jobs_are_checked_against_the_window() {
        let window = 64 * MIB;
        // Host addresses are the kernel's.
        assert_eq!(job(op::DMA_H2D, 0, 0, 64).check(window), Err(EPERM));
        assert_eq!(job(op::DMA_D2H, 0, 0, 64).check(window), Err(EPERM));
        // In the window, up to its last byte.
        assert_eq!(
            job(op::IPU_MEMCPY, 0, window - 64, 64).check(window),
            Ok(())
        );
        assert_eq!(
            job(op::IPU_MEMCPY, 0, window - 63, 64).check(window),
            Err(ERANGE)
        );
        assert_eq!(job(op::IPU_CRC32, window, 0, 1).check(window), Err(ERANGE));
        assert_eq!(job(op::IPU_FILL, 0, window - 1, 1).check(window), Ok(()));
        // No wrap-around.
        assert_eq!(
            job(op::IPU_MEMCPY, u64::MAX - 8, 0, 64).check(window),
            Err(ERANGE)
        );
        // Matrices: C is M*N*4 bytes.
        let mut m = job(op::IPU_MATMUL_I8, 0, window - 16, 0);
        (m.arg0, m.arg1, m.arg2) = (2, 2, 2);
        assert_eq!(m.check(window), Ok(()));
        m.dst = window - 15;
        assert_eq!(m.check(window), Err(ERANGE));
        // What the device rejects by itself (with a status) passes.
        assert_eq!(job(op::IPU_FILL, 0, u64::MAX, 0).check(window), Ok(()));
        assert_eq!(job(0x7f, u64::MAX, u64::MAX, 64).check(window), Ok(()));
        (m.arg0, m.dst) = (0, u64::MAX);
        assert_eq!(m.check(window), Ok(()));
        // An empty window (the PF while VFs are enabled) takes no range.
        assert_eq!(job(op::IPU_FILL, 0, 0, 1).check(0), Err(ERANGE));
        assert_eq!(job(op::NOP, 0, 0, 0).check(0), Ok(()));
    }

    #[test]
    fn job_abi_reserved_fields_and_transfers() {
        let mut raw = [0u8; uapi::JOB_SIZE];
        raw[0] = op::IPU_FILL as u8;
        raw[16] = 0x40; // dst
        raw[32] = 8; // len
        raw[36] = 0xa5; // arg0
        assert_eq!(
            Job::decode(&raw).ok(),
            Some(Job {
                opcode: op::IPU_FILL,
                dst: 0x40,
                len: 8,
                arg0: 0xa5,
                ..Job::default()
            })
        );
        Job::set_handle(&mut raw, 7);
        // The handle is an output field: ignored on input.
        assert!(Job::decode(&raw).is_ok());
        raw[4] = 1; // flags
        assert_eq!(Job::decode(&raw).err(), Some(EINVAL));
        raw[4] = 0;
        raw[63] = 1; // reserved
        assert_eq!(Job::decode(&raw).err(), Some(EINVAL));

        let mut x = [0u8; uapi::XFER_SIZE];
        x[16] = 16; // len
        x[0..8].copy_from_slice(&(64 * MIB - 16).to_le_bytes());
        assert!(Transfer::decode(&x, 64 * MIB).is_ok());
        x[0..8].copy_from_slice(&(64 * MIB - 15).to_le_bytes());
        assert_eq!(Transfer::decode(&x, 64 * MIB).err(), Some(ERANGE));
        x[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Transfer::decode(&x, 64 * MIB).err(), Some(ERANGE));
        x[16] = 0;
        assert_eq!(Transfer::decode(&x, 64 * MIB).err(), Some(EINVAL));
        x[16] = 1;
        x[24] = 1; // flags
        assert_eq!(Transfer::decode(&x, 64 * MIB).err(), Some(EINVAL));
    }
}

/// The migration stream validator (`pf/mig_blob.rs`). The checks are in
/// `pf/mig_blob_test.rs`, shared with the host tests of
/// `tools/mlu270-proto`, so that what was shown there to fail when the
/// validator is broken is exactly what runs here, in the module as built.
#[kernel::macros::kunit_tests(mlu270_pf_mig)]
mod mig_tests {
    use crate::mig_blob_test::{self as t, CheckFn};
    use kernel::prelude::*;

    /// Runs `check` with the memory it needs; logs where it failed.
    fn run(name: &str, check: CheckFn) -> Result {
        let mut buf = KVVec::from_elem(0u8, t::SCRATCH_LEN, GFP_KERNEL)?;
        let mut seen = KVVec::from_elem(0u64, t::SEEN_WORDS, GFP_KERNEL)?;
        check(&mut buf, &mut seen).map_err(|f| {
            pr_err!(
                "mlu270_pf_mig: {}: pf/mig_blob_test.rs:{}: {}\n",
                name,
                f.line,
                f.what
            );
            EINVAL
        })
    }

    #[test]
    fn crc32_is_zlibs() -> Result {
        run("crc32_is_zlibs", t::crc32_is_zlibs)
    }

    #[test]
    fn job_cost_is_the_cost_model() -> Result {
        run("job_cost_is_the_cost_model", t::job_cost_is_the_cost_model)
    }

    #[test]
    fn valid_stream_in_any_chunks() -> Result {
        run("valid_stream_in_any_chunks", t::valid_stream_in_any_chunks)
    }

    #[test]
    fn state_blob_alone() -> Result {
        run("state_blob_alone", t::state_blob_alone)
    }

    #[test]
    fn header_is_checked() -> Result {
        run("header_is_checked", t::header_is_checked)
    }

    #[test]
    fn table_is_checked() -> Result {
        run("table_is_checked", t::table_is_checked)
    }

    #[test]
    fn sections_are_crc_checked() -> Result {
        run("sections_are_crc_checked", t::sections_are_crc_checked)
    }

    #[test]
    fn runs_are_checked() -> Result {
        run("runs_are_checked", t::runs_are_checked)
    }

    #[test]
    fn truncation_is_refused() -> Result {
        run("truncation_is_refused", t::truncation_is_refused)
    }

    #[test]
    fn blob_sequence_is_checked() -> Result {
        run("blob_sequence_is_checked", t::blob_sequence_is_checked)
    }

    #[test]
    fn register_values_are_checked() -> Result {
        run(
            "register_values_are_checked",
            t::register_values_are_checked,
        )
    }

    #[test]
    fn mailbox_and_descriptor_values_are_checked() -> Result {
        run(
            "mailbox_and_descriptor_values_are_checked",
            t::mailbox_and_descriptor_values_are_checked,
        )
    }

    #[test]
    fn compatibility_is_decided() -> Result {
        run("compatibility_is_decided", t::compatibility_is_decided)
    }

    #[test]
    fn errors_stick_and_name_both_ends() -> Result {
        run(
            "errors_stick_and_name_both_ends",
            t::errors_stick_and_name_both_ends,
        )
    }

    #[test]
    fn every_error_has_a_reason() -> Result {
        run("every_error_has_a_reason", t::every_error_has_a_reason)
    }
}
