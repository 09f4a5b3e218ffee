// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the PF's decision code as built into the module: the
//! layout planner and the validation of VF messages. They run when the
//! module is loaded on a kernel with KUnit (the test kernel of `make check`);
//! the same files are also tested on the host (`tools/mlu270-proto`).

#[kernel::macros::kunit_tests(mlu270_pf)]
mod tests {
    use crate::layout::{self, CardCaps, Fraction, Layout, LayoutChoice, Slice, MAX_VFS};
    use crate::protocol::{self, Opcode, ProtoError, RequestKind, Version};
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
}
