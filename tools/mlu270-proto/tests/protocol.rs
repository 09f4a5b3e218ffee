// SPDX-License-Identifier: GPL-2.0

//! Tests of the mailbox protocol: encoding, validation, replies, rate limit.

// Host tests may panic: that is how they fail.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use mlu270_proto::layout::{default_for, plan, CardCaps, Slice};
use mlu270_proto::protocol::*;

const CARD: CardCaps = CardCaps::mlu270(256);

/// VF 2 of the 4 x 1/4 layout: 64 MiB at 128 MiB.
fn quarter_slice() -> Slice {
    plan(&default_for(4).unwrap(), &CARD).unwrap()[2]
}

fn hdr(opcode: u8, flags: u8, len: u8, seq: u16, status: u16) -> [u32; 16] {
    let mut w = [0u32; 16];
    w[0] = u32::from(opcode) | u32::from(flags) << 8 | u32::from(len) << 16;
    w[1] = u32::from(seq) | u32::from(status) << 16;
    w
}

fn v2() -> Option<Version> {
    Some(Version::V2)
}

#[test]
fn bytes_words_round_trip() {
    let mut w = [0u32; 16];
    for (i, x) in w.iter_mut().enumerate() {
        *x = 0x0403_0201u32.wrapping_mul(i as u32 + 1) ^ 0xdead_beef;
    }
    let b = words_to_bytes(&w);
    assert_eq!(bytes_to_words(&b), w);
    assert_eq!(&b[0..4], &w[0].to_le_bytes());
    assert_eq!(&b[60..64], &w[15].to_le_bytes());
}

#[test]
fn message_round_trip() {
    let mut m = Message::new(0x11, 0, 0xbeef, 0);
    m.push(7).unwrap();
    m.push(9).unwrap();
    let raw = m.encode();
    assert_eq!(raw[0], 0x0008_0011);
    assert_eq!(raw[1], 0x0000_beef);
    assert_eq!(raw[2], 7);
    assert_eq!(raw[3], 9);
    assert_eq!(Message::decode(&raw), Ok(m));
    assert_eq!(Message::decode_bytes(&m.encode_bytes()), Ok(m));
    assert_eq!(m.payload(), &[7, 9]);
    assert_eq!(m.word(5), 0);

    let mut full = Message::new(1, FLAG_REPLY, 1, 22);
    for i in 0..14 {
        full.push(i).unwrap();
    }
    assert_eq!(full.push(99), Err(ProtoError::MsgSize));
    assert_eq!(full.header.len, 56);
    assert_eq!(Message::decode(&full.encode()), Ok(full));
}

#[test]
fn structural_rejections() {
    // Reserved header byte.
    let mut raw = hdr(0x04, 0, 0, 1, 0);
    raw[0] |= 1 << 24;
    assert_eq!(Message::decode(&raw), Err(ProtoError::Reserved));
    // Undefined flag bits; both REPLY and NOTIFY.
    for f in [0x04u8, 0x80, FLAG_REPLY | FLAG_NOTIFY] {
        assert_eq!(
            Message::decode(&hdr(0x04, f, 0, 1, 0)),
            Err(ProtoError::Reserved)
        );
    }
    // Length: too long, not a multiple of 4.
    for len in [57u8, 60, 64, 255, 1, 2, 3, 5, 55] {
        assert_eq!(
            Message::decode(&hdr(0x04, 0, len, 1, 0)),
            Err(ProtoError::MsgSize),
            "{len}"
        );
    }
    // Payload beyond the length must be zero.
    let mut raw = hdr(0x04, 0, 0, 1, 0);
    raw[15] = 1;
    assert_eq!(Message::decode(&raw), Err(ProtoError::Reserved));
    let mut raw = hdr(0x01, 0, 4, 1, 0);
    raw[2] = 0x0002_0001;
    raw[3] = 1;
    assert_eq!(Message::decode(&raw), Err(ProtoError::Reserved));
}

#[test]
fn version_negotiation() {
    assert_eq!(negotiate(1, 1), Ok(Version::V1));
    assert_eq!(negotiate(1, 2), Ok(Version::V2));
    assert_eq!(negotiate(2, 2), Ok(Version::V2));
    assert_eq!(negotiate(1, 9), Ok(Version::V2), "future VF");
    assert_eq!(negotiate(2, u16::MAX), Ok(Version::V2));
    assert_eq!(negotiate(3, 9), Err(ProtoError::NoCommonVersion));
    assert_eq!(negotiate(0, 2), Err(ProtoError::InvalidArgument));
    assert_eq!(negotiate(2, 1), Err(ProtoError::InvalidArgument));
    assert_eq!(negotiate(0, 0), Err(ProtoError::InvalidArgument));
    assert_eq!(Version::from_u16(0), None);
    assert_eq!(Version::from_u16(3), None);
    assert!(Version::V1 < Version::V2);
}

#[test]
fn hello_handshake_round_trip() {
    let s = quarter_slice();
    let raw = hello_request(7, Version::V1, Version::V2);
    let req = validate_request(&raw, None, &s).unwrap();
    assert_eq!(
        req,
        Request {
            seq: 7,
            kind: RequestKind::Hello {
                min: 1,
                max: 2,
                selected: Version::V2
            }
        }
    );
    assert_eq!(req.encode(), raw);
    // HELLO is also allowed after negotiation (driver reload).
    assert!(validate_request(&raw, v2(), &s).is_ok());
    assert!(validate_request(&raw, Some(Version::V1), &s).is_ok());

    let reply = hello_reply(7, Version::V2);
    let pending = Some(Pending {
        opcode: Opcode::Hello,
        seq: 7,
    });
    assert_eq!(
        parse_pf_message(&reply, pending),
        Ok(PfMessage::Reply {
            seq: 7,
            reply: Reply::Hello {
                version: Version::V2,
                pf_max: 2
            }
        })
    );
    // A v1-only VF gets v1.
    let raw = hello_request(8, Version::V1, Version::V1);
    match validate_request(&raw, None, &s).unwrap().kind {
        RequestKind::Hello { selected, .. } => assert_eq!(selected, Version::V1),
        k => panic!("{k:?}"),
    }
}

#[test]
fn hello_rejections() {
    let s = quarter_slice();
    let bad = |min: u32, max: u32| {
        let mut raw = hdr(0x01, 0, 4, 3, 0);
        raw[2] = min | max << 16;
        validate_request(&raw, None, &s)
    };
    assert_eq!(bad(3, 7), Err(ProtoError::NoCommonVersion));
    assert_eq!(bad(2, 1), Err(ProtoError::InvalidArgument));
    assert_eq!(bad(0, 0), Err(ProtoError::InvalidArgument));
    assert_eq!(ProtoError::NoCommonVersion.errno(), 71);
    // Wrong lengths.
    assert_eq!(
        validate_request(&hdr(0x01, 0, 0, 3, 0), None, &s),
        Err(ProtoError::MsgSize)
    );
    assert_eq!(
        validate_request(&hdr(0x01, 0, 8, 3, 0), None, &s),
        Err(ProtoError::MsgSize)
    );
}

#[test]
fn requests_round_trip_and_version_gating() {
    let s = quarter_slice();
    let v1_ops = [
        (Opcode::GetResources, RequestKind::GetResources),
        (Opcode::ResetRequest, RequestKind::ResetRequest),
        (Opcode::Heartbeat, RequestKind::Heartbeat),
    ];
    for (op, kind) in v1_ops {
        let raw = simple_request(42, op).unwrap();
        let want = Request { seq: 42, kind };
        assert_eq!(validate_request(&raw, Some(Version::V1), &s), Ok(want));
        assert_eq!(validate_request(&raw, v2(), &s), Ok(want));
        assert_eq!(want.encode(), raw);
        assert_eq!(want.opcode(), op);
        // Not before HELLO.
        assert_eq!(
            validate_request(&raw, None, &s),
            Err(ProtoError::NotNegotiated)
        );
    }
    // v2 opcodes.
    let qf = simple_request(1, Opcode::QueryFault).unwrap();
    assert_eq!(
        validate_request(&qf, v2(), &s).map(|r| r.kind),
        Ok(RequestKind::QueryFault)
    );
    assert_eq!(
        validate_request(&qf, Some(Version::V1), &s),
        Err(ProtoError::NotInVersion)
    );
    assert_eq!(
        validate_request(&qf, None, &s),
        Err(ProtoError::NotNegotiated)
    );
    assert_eq!(ProtoError::NotInVersion.errno(), 95);
    assert_eq!(ProtoError::NotNegotiated.errno(), 71);

    let sc = scrub_request(2, 10, 4);
    let req = validate_request(&sc, v2(), &s).unwrap();
    assert_eq!(
        req.kind,
        RequestKind::ScrubMemory {
            offset_mb: 10,
            len_mb: 4,
            abs_base_mb: 138
        }
    );
    assert_eq!(req.encode(), sc);
    assert_eq!(
        validate_request(&sc, Some(Version::V1), &s),
        Err(ProtoError::NotInVersion)
    );
    // Simple builder refuses opcodes with payloads or notifications.
    assert_eq!(
        simple_request(1, Opcode::Hello),
        Err(ProtoError::InvalidArgument)
    );
    assert_eq!(
        simple_request(1, Opcode::ScrubMemory),
        Err(ProtoError::InvalidArgument)
    );
    assert_eq!(
        simple_request(1, Opcode::Shutdown),
        Err(ProtoError::InvalidArgument)
    );
}

#[test]
fn every_rejection_path() {
    let s = quarter_slice();
    let ok = simple_request(5, Opcode::Heartbeat).unwrap();
    assert!(validate_request(&ok, v2(), &s).is_ok());
    let check = |raw: [u32; 16], e: ProtoError| {
        assert_eq!(validate_request(&raw, v2(), &s), Err(e), "{raw:x?}");
    };
    // Reserved header bits.
    let mut r = ok;
    r[0] |= 0x8000_0000;
    check(r, ProtoError::Reserved);
    // Status set in a request.
    check(hdr(0x04, 0, 0, 5, 22), ProtoError::Reserved);
    // Reply / notify flags from a VF.
    check(hdr(0x04, FLAG_REPLY, 0, 5, 0), ProtoError::Direction);
    check(hdr(0x80, FLAG_NOTIFY, 4, 5, 0), ProtoError::Direction);
    // Notification opcodes as requests.
    check(hdr(0x80, 0, 4, 5, 0), ProtoError::Direction);
    check(hdr(0x81, 0, 0, 5, 0), ProtoError::Direction);
    assert_eq!(ProtoError::Direction.errno(), 71);
    // Unknown opcodes.
    for op in [0x00u8, 0x05, 0x0f, 0x12, 0x7f, 0x82, 0xff] {
        check(hdr(op, 0, 0, 5, 0), ProtoError::UnknownOpcode);
    }
    assert_eq!(ProtoError::UnknownOpcode.errno(), 95);
    // Lengths: wrong for the opcode, too long, unaligned.
    check(hdr(0x04, 0, 4, 5, 0), ProtoError::MsgSize);
    check(hdr(0x02, 0, 56, 5, 0), ProtoError::MsgSize);
    check(hdr(0x11, 0, 4, 5, 0), ProtoError::MsgSize);
    check(hdr(0x11, 0, 12, 5, 0), ProtoError::MsgSize);
    check(hdr(0x04, 0, 60, 5, 0), ProtoError::MsgSize);
    check(hdr(0x04, 0, 2, 5, 0), ProtoError::MsgSize);
    assert_eq!(ProtoError::MsgSize.errno(), 90);
    // Trailing garbage after a valid payload.
    let mut r = scrub_request(5, 0, 1);
    r[4] = 1;
    check(r, ProtoError::Reserved);
    assert_eq!(ProtoError::Reserved.errno(), 22);
}

#[test]
fn scrub_range_checks() {
    let s = quarter_slice(); // 64 MiB at 128
    let v = |off, len| validate_request(&scrub_request(9, off, len), v2(), &s).map(|r| r.kind);
    assert!(v(0, 64).is_ok());
    assert!(v(63, 1).is_ok());
    assert_eq!(v(0, 0), Err(ProtoError::InvalidArgument));
    assert_eq!(v(64, 0), Err(ProtoError::InvalidArgument));
    assert_eq!(v(0, 65), Err(ProtoError::OutOfSlice));
    assert_eq!(v(64, 1), Err(ProtoError::OutOfSlice));
    assert_eq!(v(63, 2), Err(ProtoError::OutOfSlice));
    assert_eq!(v(1000, 1), Err(ProtoError::OutOfSlice));
    assert_eq!(ProtoError::OutOfSlice.errno(), 34);
    // Overflowing ends never pass.
    assert_eq!(v(u32::MAX, 1), Err(ProtoError::Overflow));
    assert_eq!(v(1, u32::MAX), Err(ProtoError::Overflow));
    assert_eq!(v(u32::MAX, u32::MAX), Err(ProtoError::Overflow));
    assert_eq!(v(0x8000_0000, 0x8000_0000), Err(ProtoError::Overflow));
    assert_eq!(v(0xffff_fff0, 0x20), Err(ProtoError::Overflow));
    assert_eq!(ProtoError::Overflow.errno(), 34);
    // Another VF's memory is never reachable: offsets are window-relative.
    let s0 = plan(&default_for(4).unwrap(), &CARD).unwrap()[0];
    let k = validate_request(&scrub_request(1, 0, 64), v2(), &s0)
        .unwrap()
        .kind;
    assert_eq!(
        k,
        RequestKind::ScrubMemory {
            offset_mb: 0,
            len_mb: 64,
            abs_base_mb: 0
        }
    );
    // An empty slice has nothing to scrub.
    assert_eq!(
        validate_request(&scrub_request(1, 0, 1), v2(), &Slice::EMPTY),
        Err(ProtoError::NoSlice)
    );
    assert_eq!(ProtoError::NoSlice.errno(), 19);
    // A corrupt slice whose physical end wraps is refused, not wrapped.
    let weird = Slice {
        mem_base_mb: u32::MAX - 1,
        mem_size_mb: 8,
        ..s
    };
    assert_eq!(
        validate_request(&scrub_request(1, 4, 1), v2(), &weird),
        Err(ProtoError::Overflow)
    );
    assert_eq!(
        validate_request(&scrub_request(1, 0, 4), v2(), &weird),
        Err(ProtoError::Overflow)
    );
}

#[test]
fn replies_round_trip() {
    let s = quarter_slice();
    let p = |opcode, seq| Some(Pending { opcode, seq });

    let r = resources_reply(3, &s, 2);
    assert_eq!(
        parse_pf_message(&r, p(Opcode::GetResources, 3)),
        Ok(PfMessage::Reply {
            seq: 3,
            reply: Reply::Resources(Resources {
                ipu_mask: 0x0f00,
                vpu_mask: 0x4,
                jpu_mask: 0x4,
                mem_size_mb: 64,
                quarters: 1,
                vf_index: 2
            })
        })
    );
    // The physical base is not in the reply.
    assert!(!r[2..].contains(&128));

    let r = reset_reply(4);
    assert_eq!(
        parse_pf_message(&r, p(Opcode::ResetRequest, 4)),
        Ok(PfMessage::Reply {
            seq: 4,
            reply: Reply::ResetAccepted
        })
    );

    let st = PfStatus {
        state: PfState::ShuttingDown,
        rejected: 17,
        rate_limited: 3,
    };
    let r = heartbeat_reply(5, &st);
    assert_eq!(
        parse_pf_message(&r, p(Opcode::Heartbeat, 5)),
        Ok(PfMessage::Reply {
            seq: 5,
            reply: Reply::Heartbeat(st)
        })
    );

    let f = FaultInfo {
        code: 3,
        addr: 0x1_2345_6789,
        count: 2,
    };
    let r = fault_reply(6, Some(&f));
    assert_eq!(
        parse_pf_message(&r, p(Opcode::QueryFault, 6)),
        Ok(PfMessage::Reply {
            seq: 6,
            reply: Reply::Fault(Some(f))
        })
    );
    let r = fault_reply(7, None);
    assert_eq!(
        parse_pf_message(&r, p(Opcode::QueryFault, 7)),
        Ok(PfMessage::Reply {
            seq: 7,
            reply: Reply::Fault(None)
        })
    );

    let r = scrub_reply(8, 1, 2);
    assert_eq!(
        parse_pf_message(&r, p(Opcode::ScrubMemory, 8)),
        Ok(PfMessage::Reply {
            seq: 8,
            reply: Reply::Scrubbed {
                offset_mb: 1,
                len_mb: 2
            }
        })
    );
    // Every reply has the exact documented length.
    for (raw, op) in [
        (hello_reply(1, Version::V1), Opcode::Hello),
        (resources_reply(1, &s, 0), Opcode::GetResources),
        (reset_reply(1), Opcode::ResetRequest),
        (heartbeat_reply(1, &st), Opcode::Heartbeat),
        (fault_reply(1, None), Opcode::QueryFault),
        (scrub_reply(1, 0, 1), Opcode::ScrubMemory),
    ] {
        let m = Message::decode(&raw).unwrap();
        assert_eq!(Some(m.header.len), op.reply_len());
        assert_eq!(m.header.flags, FLAG_REPLY);
    }
}

#[test]
fn reply_parser_rejections() {
    let p = |opcode, seq| Some(Pending { opcode, seq });
    let r = hello_reply(7, Version::V2);
    // Unsolicited, wrong seq, wrong opcode.
    assert_eq!(parse_pf_message(&r, None), Err(ProtoError::BadReply));
    assert_eq!(
        parse_pf_message(&r, p(Opcode::Hello, 8)),
        Err(ProtoError::BadReply)
    );
    assert_eq!(
        parse_pf_message(&r, p(Opcode::Heartbeat, 7)),
        Err(ProtoError::BadReply)
    );
    // A request echoed back (no REPLY flag).
    let req = hello_request(7, Version::V1, Version::V2);
    assert_eq!(
        parse_pf_message(&req, p(Opcode::Hello, 7)),
        Err(ProtoError::Direction)
    );
    // Unknown version in a reply.
    let mut bad = hello_reply(7, Version::V2);
    bad[2] = 9;
    assert_eq!(
        parse_pf_message(&bad, p(Opcode::Hello, 7)),
        Err(ProtoError::BadReply)
    );
    // Out-of-range resource values.
    let s = quarter_slice();
    for (word, val) in [
        (2usize, 0x1_0000u32),
        (3, 0x10),
        (4, 0x10),
        (6, 3),
        (6, 5),
        (7, 4),
    ] {
        let mut bad = resources_reply(1, &s, 2);
        bad[word] = val;
        assert!(
            parse_pf_message(&bad, p(Opcode::GetResources, 1)).is_err(),
            "word {word} = {val}"
        );
    }
    // Wrong reply length.
    let mut bad = reset_reply(1);
    bad[0] |= 4 << 16;
    assert_eq!(
        parse_pf_message(&bad, p(Opcode::ResetRequest, 1)),
        Err(ProtoError::MsgSize)
    );
    // Bad heartbeat state, bad fault validity, garbage in an empty fault.
    let st = PfStatus {
        state: PfState::Running,
        rejected: 0,
        rate_limited: 0,
    };
    let mut bad = heartbeat_reply(1, &st);
    bad[2] = 3;
    assert!(parse_pf_message(&bad, p(Opcode::Heartbeat, 1)).is_err());
    let mut bad = fault_reply(1, None);
    bad[2] = 2;
    assert!(parse_pf_message(&bad, p(Opcode::QueryFault, 1)).is_err());
    let mut bad = fault_reply(1, None);
    bad[4] = 2;
    assert!(parse_pf_message(&bad, p(Opcode::QueryFault, 1)).is_err());
}

#[test]
fn error_replies() {
    let s = quarter_slice();
    // Even garbage gets an answer echoing its opcode byte and seq.
    let mut raw = [0xffff_ffffu32; 16];
    raw[1] = 0xffff_1234;
    let e = validate_request(&raw, v2(), &s).unwrap_err();
    let r = error_reply(&raw, e);
    let m = Message::decode(&r).unwrap();
    assert_eq!(m.header.opcode, 0xff);
    assert_eq!(m.header.seq, 0x1234);
    assert_eq!(m.header.flags, FLAG_REPLY);
    assert_eq!(m.header.len, 0);
    assert_eq!(i32::from(m.header.status), e.errno());

    // A VF sees the errno as Remote.
    let raw = scrub_request(77, 0, 1000);
    let e = validate_request(&raw, v2(), &s).unwrap_err();
    let r = error_reply(&raw, e);
    let pending = Some(Pending {
        opcode: Opcode::ScrubMemory,
        seq: 77,
    });
    assert_eq!(parse_pf_message(&r, pending), Err(ProtoError::Remote(34)));
    assert_eq!(ProtoError::Remote(34).errno(), 34);
    assert_eq!(ProtoError::Remote(0).errno(), 71);
    assert_eq!(ProtoError::Remote(5000).errno(), 71);
    // An error reply with a payload is malformed.
    let mut bad = r;
    bad[0] |= 4 << 16;
    bad[2] = 1;
    assert_eq!(parse_pf_message(&bad, pending), Err(ProtoError::MsgSize));
}

#[test]
fn notifications() {
    for (n, op) in [
        (Notification::Reset(ResetReason::Admin), Opcode::ResetNotify),
        (Notification::Reset(ResetReason::Fault), Opcode::ResetNotify),
        (
            Notification::Reset(ResetReason::DeviceReset),
            Opcode::ResetNotify,
        ),
        (
            Notification::Reset(ResetReason::Requested),
            Opcode::ResetNotify,
        ),
        (
            Notification::Shutdown(ShutdownReason::DisablingVfs),
            Opcode::Shutdown,
        ),
        (
            Notification::Shutdown(ShutdownReason::Removing),
            Opcode::Shutdown,
        ),
    ] {
        let raw = n.encode(11);
        let m = Message::decode(&raw).unwrap();
        assert_eq!(m.header.opcode, op.as_u8());
        assert_eq!(m.header.flags, FLAG_NOTIFY);
        assert_eq!(Some(m.header.len), op.notify_len());
        // Notifications are accepted whatever the VF is waiting for.
        assert_eq!(parse_pf_message(&raw, None), Ok(PfMessage::Notification(n)));
        let pending = Some(Pending {
            opcode: Opcode::Heartbeat,
            seq: 11,
        });
        assert_eq!(
            parse_pf_message(&raw, pending),
            Ok(PfMessage::Notification(n))
        );
        // And are never valid requests.
        assert_eq!(
            validate_request(&raw, v2(), &quarter_slice()),
            Err(ProtoError::Direction)
        );
    }
    // Bad reasons, request opcodes with NOTIFY, status set.
    let mut bad = Notification::Shutdown(ShutdownReason::Removing).encode(1);
    bad[2] = 0;
    assert_eq!(parse_pf_message(&bad, None), Err(ProtoError::BadReply));
    let mut bad = Notification::Reset(ResetReason::Admin).encode(1);
    bad[2] = 5;
    assert_eq!(parse_pf_message(&bad, None), Err(ProtoError::BadReply));
    assert_eq!(
        parse_pf_message(&hdr(0x04, FLAG_NOTIFY, 0, 1, 0), None),
        Err(ProtoError::Direction)
    );
    let mut bad = Notification::Reset(ResetReason::Admin).encode(1);
    bad[1] |= 5 << 16;
    assert_eq!(parse_pf_message(&bad, None), Err(ProtoError::Reserved));
    assert_eq!(
        parse_pf_message(&hdr(0x80, FLAG_NOTIFY, 0, 1, 0), None),
        Err(ProtoError::MsgSize)
    );
}

#[test]
fn opcode_tables() {
    for v in 0..=255u8 {
        if let Some(op) = Opcode::from_u8(v) {
            assert_eq!(op.as_u8(), v);
            assert_eq!(op.is_notification(), v >= 0x80);
            assert_eq!(op.request_len().is_some(), !op.is_notification());
            assert_eq!(op.reply_len().is_some(), !op.is_notification());
            assert_eq!(op.notify_len().is_some(), op.is_notification());
        }
    }
    assert_eq!(Opcode::QueryFault.since(), Version::V2);
    assert_eq!(Opcode::ScrubMemory.since(), Version::V2);
    assert_eq!(Opcode::Heartbeat.since(), Version::V1);
}

#[test]
fn errno_values() {
    use ProtoError::*;
    let all = [
        MsgSize,
        Reserved,
        UnknownOpcode,
        NotNegotiated,
        NotInVersion,
        Direction,
        NoCommonVersion,
        InvalidArgument,
        OutOfSlice,
        Overflow,
        NoSlice,
        RateLimited,
        Busy,
        NotPermitted,
        BadReply,
        Remote(1),
    ];
    let mut seen = [false; ProtoError::KINDS];
    for e in all {
        assert!(e.errno() > 0 && e.errno() < 4096);
        assert!(!seen[e.index()]);
        seen[e.index()] = true;
    }
    assert_eq!(RateLimited.errno(), 11);
    assert_eq!(Busy.errno(), 16);
    assert_eq!(NotPermitted.errno(), 1);
    assert_eq!(InvalidArgument.errno(), 22);
    assert_eq!(STATUS_E2BIG, 7);
}

#[test]
fn rate_limiter() {
    const SEC: u64 = 1_000_000_000;
    let t0 = 5 * SEC;
    let mut rl = RateLimiter::new(32, 10, t0);
    assert_eq!(rl.available(), 32);
    // A burst of 32 passes, the 33rd does not.
    for _ in 0..32 {
        assert!(rl.allow(t0));
    }
    assert!(!rl.allow(t0));
    assert_eq!(rl.limited(), 1);
    // 10/s: one token every 100 ms, fractional refills accumulate.
    assert!(!rl.allow(t0 + 50_000_000));
    assert!(rl.allow(t0 + 100_000_000));
    assert!(!rl.allow(t0 + 100_000_000));
    assert!(rl.allow(t0 + 200_000_000));
    // Time going backwards refills nothing and does not panic.
    assert!(!rl.allow(0));
    assert!(!rl.allow(t0));
    // Long idle refills to the burst, not beyond.
    let later = t0 + 1000 * SEC;
    assert_eq!(
        (0..100).filter(|_| rl.allow(later)).count(),
        32,
        "capped at burst"
    );
    // Extreme times.
    assert!(rl.allow(u64::MAX));
    let mut big = RateLimiter::new(u32::MAX, u32::MAX, 0);
    assert!(big.allow(u64::MAX));
    let mut zero = RateLimiter::new(0, 0, 0);
    assert!(!zero.allow(u64::MAX));
    // Sustained rate over 10 s at one message per ms: ~10/s plus the burst.
    let mut rl = RateLimiter::new(32, 10, 0);
    let passed = (0..10_000u64).filter(|i| rl.allow(i * 1_000_000)).count();
    assert!((32 + 99..=32 + 100).contains(&passed), "{passed}");
    // reset() refills and clears the counter.
    rl.reset(20 * SEC);
    assert_eq!(rl.limited(), 0);
    assert_eq!(rl.available(), 32);
    let d = RateLimiter::with_defaults(0);
    assert_eq!(d.available(), RateLimiter::DEFAULT_BURST);
}

#[test]
fn session_flow() {
    let s = quarter_slice();
    let mut sess = VfSession::new(0);
    assert_eq!(sess.negotiated, None);
    // Before HELLO only HELLO.
    let hb = simple_request(1, Opcode::Heartbeat).unwrap();
    assert_eq!(sess.receive(&hb, &s, 1), Err(ProtoError::NotNegotiated));
    assert_eq!(sess.take_log_permit(1), Some(0), "first error is logged");
    let req = sess
        .receive(&hello_request(2, Version::V1, Version::V1), &s, 2)
        .unwrap();
    assert_eq!(req.opcode(), Opcode::Hello);
    assert_eq!(sess.negotiated, Some(Version::V1));
    assert!(sess.receive(&hb, &s, 3).is_ok());
    // v2 op under v1.
    assert_eq!(
        sess.receive(&scrub_request(4, 0, 1), &s, 4),
        Err(ProtoError::NotInVersion)
    );
    // Upgrade.
    sess.receive(&hello_request(5, Version::V1, Version::V2), &s, 5)
        .unwrap();
    assert_eq!(sess.negotiated, Some(Version::V2));
    assert!(sess.receive(&scrub_request(6, 0, 1), &s, 6).is_ok());
    // A failed HELLO forgets the version.
    let mut bad = hello_request(7, Version::V2, Version::V2);
    bad[2] = 5 | 9 << 16;
    assert_eq!(sess.receive(&bad, &s, 7), Err(ProtoError::NoCommonVersion));
    assert_eq!(sess.negotiated, None);
    assert_eq!(sess.counters.accepted, 4);
    assert_eq!(sess.counters.rejected, 3);
    assert_eq!(sess.counters.count(ProtoError::NotNegotiated), 1);
    assert_eq!(sess.counters.count(ProtoError::NotInVersion), 1);
    assert_eq!(sess.counters.count(ProtoError::NoCommonVersion), 1);
    // Flood: the bucket runs dry, rejections are counted not served.
    let mut limited = 0;
    for i in 0..1000 {
        if sess.receive(&hb, &s, 100) == Err(ProtoError::RateLimited) {
            limited += 1;
        }
        let _ = i;
    }
    assert!(limited > 900);
    let st = sess.status(PfState::Running);
    assert_eq!(st.rate_limited, limited);
    assert_eq!(sess.counters.count(ProtoError::RateLimited), limited);
    // VF reset: a new session, but the same limits (a VF must not refill
    // its bucket or its log budget by resetting itself).
    let limiter = sess.limiter;
    let log = sess.log;
    sess.restart();
    assert_eq!(sess.negotiated, None);
    assert_eq!(sess.counters, VfCounters::default());
    assert_eq!(sess.limiter, limiter);
    assert_eq!(sess.log, log);
    assert_eq!(
        sess.receive(&hello_request(8, Version::V1, Version::V2), &s, 100),
        Err(ProtoError::RateLimited)
    );
}

#[test]
fn reset_requests_cost_more() {
    let s = quarter_slice();
    let mut sess = VfSession::new(0);
    sess.receive(&hello_request(1, Version::V1, Version::V2), &s, 0)
        .unwrap();
    let reset = simple_request(2, Opcode::ResetRequest).unwrap();
    // 31 tokens left: one reset (25), then not a second one at once.
    assert!(sess.receive(&reset, &s, 0).is_ok());
    assert_eq!(sess.receive(&reset, &s, 0), Err(ProtoError::RateLimited));
    // The refused reset took nothing: the 6 cheap requests still pass.
    let hb = simple_request(3, Opcode::Heartbeat).unwrap();
    for _ in 0..6 {
        assert!(sess.receive(&hb, &s, 0).is_ok());
    }
    assert_eq!(sess.receive(&hb, &s, 0), Err(ProtoError::RateLimited));
    // Sustained: at most one reset a second (50 tokens/s, 25 each, minus
    // nothing else), i.e. 2/s, over a minute of trying every millisecond.
    let mut sess = VfSession::new(0);
    sess.receive(&hello_request(1, Version::V1, Version::V2), &s, 0)
        .unwrap();
    let resets = (0..60_000u64)
        .filter(|ms| {
            let ok = sess.receive(&reset, &s, ms * 1_000_000).is_ok();
            if ok {
                sess.restart();
                sess.negotiated = Some(Version::V2);
            }
            ok
        })
        .count() as u64;
    let bound = (u64::from(RateLimiter::DEFAULT_BURST)
        + u64::from(RateLimiter::DEFAULT_PER_SEC) * 60)
        / u64::from(RESET_REQUEST_COST);
    assert!(resets <= bound, "{resets} > {bound}");
    assert!(resets >= bound - 1, "{resets}");
}

#[test]
fn log_budget() {
    const SEC: u64 = 1_000_000_000;
    let mut log = LogBudget::new(0);
    for _ in 0..LogBudget::BURST {
        assert_eq!(log.permit(0), Some(0));
    }
    assert_eq!(log.permit(0), None);
    assert_eq!(log.permit(SEC), None);
    assert_eq!(log.suppressed(), 2);
    assert_eq!(log.permit(LogBudget::INTERVAL_NS), Some(2));
    // A minute of one attempt per millisecond, from a full budget.
    let mut log = LogBudget::new(0);
    let lines = (0..60_000u64)
        .filter(|ms| log.permit(ms * 1_000_000).is_some())
        .count() as u32;
    assert!(lines <= LogBudget::MAX_PER_MINUTE, "{lines}");
    assert!(lines >= LogBudget::MAX_PER_MINUTE - 1, "{lines}");
    // Time going backwards grants nothing.
    assert_eq!(log.permit(0), None);
}

/// xorshift64* PRNG: deterministic, no crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Independent statement of "well-formed request" for the fuzz oracle.
fn oracle_ok(raw: &[u32; 16], neg: Option<Version>, s: &Slice) -> bool {
    let op = raw[0] & 0xff;
    let flags = (raw[0] >> 8) & 0xff;
    let len = (raw[0] >> 16) & 0xff;
    if raw[0] >> 24 != 0 || flags != 0 || raw[1] >> 16 != 0 {
        return false;
    }
    let (want_len, min_v) = match op {
        0x01 => (4, 0),
        0x02..=0x04 => (0, 1),
        0x10 => (0, 2),
        0x11 => (8, 2),
        _ => return false,
    };
    if len != want_len {
        return false;
    }
    if raw[2 + (len as usize / 4)..].iter().any(|w| *w != 0) {
        return false;
    }
    if min_v > 0 && neg.map_or(0, |v| v as u32) < min_v {
        return false;
    }
    match op {
        0x01 => {
            let (lo, hi) = (raw[2] & 0xffff, raw[2] >> 16);
            lo != 0 && lo <= hi && lo <= 2
        }
        0x11 => {
            let (off, l) = (u64::from(raw[2]), u64::from(raw[3]));
            l != 0 && off + l <= u64::from(s.mem_size_mb)
        }
        _ => true,
    }
}

#[test]
fn fuzz_validate_request() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let slices = plan(&default_for(3).unwrap(), &CARD).unwrap();
    let mut accepted = 0u32;
    for i in 0..100_000u32 {
        let mut raw = [0u32; 16];
        // Mix of pure noise and near-valid messages so that every branch is
        // reached and a fair share is accepted.
        match rng.below(4) {
            0 => {
                let mut b = [0u8; 64];
                for x in b.iter_mut() {
                    *x = rng.next() as u8;
                }
                raw = bytes_to_words(&b);
            }
            _ => {
                let ops = [0x01u8, 0x02, 0x03, 0x04, 0x10, 0x11, 0x80, 0x81];
                let op = if rng.below(10) == 0 {
                    rng.next() as u8
                } else {
                    ops[rng.below(ops.len() as u64) as usize]
                };
                let flags = if rng.below(10) == 0 {
                    rng.next() as u8
                } else {
                    0
                };
                let len = match rng.below(5) {
                    0 => rng.next() as u8,
                    1 => 0,
                    2 => 4,
                    3 => 8,
                    _ => (rng.below(15) * 4) as u8,
                };
                raw[0] = u32::from(op) | u32::from(flags) << 8 | u32::from(len) << 16;
                if rng.below(20) == 0 {
                    raw[0] |= (rng.next() as u32) << 24;
                }
                raw[1] = rng.next() as u32 & 0xffff;
                if rng.below(20) == 0 {
                    raw[1] |= rng.next() as u32 & 0xffff_0000;
                }
                let words = usize::from(len / 4).min(14);
                for w in raw[2..2 + words].iter_mut() {
                    *w = match rng.below(4) {
                        0 => rng.next() as u32,
                        1 => rng.below(3) as u32 | (rng.below(4) as u32) << 16,
                        2 => rng.below(80) as u32,
                        _ => u32::MAX - rng.below(4) as u32,
                    };
                }
                if rng.below(30) == 0 {
                    raw[2 + rng.below(14) as usize] = rng.next() as u32;
                }
            }
        }
        let neg = [None, Some(Version::V1), Some(Version::V2)][(i % 3) as usize];
        let s = if i % 7 == 0 {
            Slice::EMPTY
        } else {
            slices[(i % 3) as usize]
        };
        let res = validate_request(&raw, neg, &s);
        assert_eq!(
            res.is_ok(),
            oracle_ok(&raw, neg, &s),
            "{raw:x?} {neg:?} {res:?}"
        );
        match res {
            Ok(req) => {
                accepted += 1;
                // Accepted messages are canonical and in range.
                assert_eq!(req.encode(), raw);
                if let RequestKind::ScrubMemory {
                    offset_mb,
                    len_mb,
                    abs_base_mb,
                } = req.kind
                {
                    assert!(s.contains_range_mb(offset_mb, len_mb));
                    assert_eq!(abs_base_mb, s.mem_base_mb + offset_mb);
                }
            }
            Err(e) => {
                // Every rejection can be answered.
                let r = error_reply(&raw, e);
                assert!(Message::decode(&r).is_ok());
            }
        }
        // The VF parser must survive the same noise.
        let _ = parse_pf_message(
            &raw,
            Some(Pending {
                opcode: Opcode::Hello,
                seq: (raw[1] & 0xffff) as u16,
            }),
        );
    }
    assert!(accepted > 1_000, "fuzzer too weak: {accepted}");
}

#[test]
fn whole_and_empty_slice_resources() {
    let p = Some(Pending {
        opcode: Opcode::GetResources,
        seq: 1,
    });
    let whole = plan(&default_for(1).unwrap(), &CARD).unwrap()[0];
    match parse_pf_message(&resources_reply(1, &whole, 0), p) {
        Ok(PfMessage::Reply {
            reply: Reply::Resources(r),
            ..
        }) => {
            assert_eq!(
                (
                    r.ipu_mask,
                    r.vpu_mask,
                    r.jpu_mask,
                    r.mem_size_mb,
                    r.quarters
                ),
                (0xffff, 0xf, 0xf, 256, 4)
            );
        }
        other => panic!("{other:?}"),
    }
    match parse_pf_message(&resources_reply(1, &Slice::EMPTY, 3), p) {
        Ok(PfMessage::Reply {
            reply: Reply::Resources(r),
            ..
        }) => {
            assert_eq!((r.quarters, r.vf_index, r.mem_size_mb), (0, 3, 0));
        }
        other => panic!("{other:?}"),
    }
    // Requests that name no range do not depend on the slice.
    for s in [whole, Slice::EMPTY] {
        for op in [Opcode::GetResources, Opcode::Heartbeat, Opcode::QueryFault] {
            assert!(validate_request(&simple_request(1, op).unwrap(), v2(), &s).is_ok());
        }
    }
}

#[test]
fn byte_form_round_trip_of_every_request() {
    let s = quarter_slice();
    let reqs = [
        hello_request(1, Version::V1, Version::V2),
        simple_request(2, Opcode::GetResources).unwrap(),
        simple_request(3, Opcode::ResetRequest).unwrap(),
        simple_request(4, Opcode::Heartbeat).unwrap(),
        simple_request(5, Opcode::QueryFault).unwrap(),
        scrub_request(0xffff, 1, 2),
    ];
    for raw in reqs {
        let bytes = words_to_bytes(&raw);
        let back = bytes_to_words(&bytes);
        assert_eq!(back, raw);
        let req = validate_request(&back, v2(), &s).unwrap();
        assert_eq!(req.encode(), raw);
        let m = Message::decode_bytes(&bytes).unwrap();
        assert_eq!(m.encode_bytes(), bytes);
        assert_eq!(Some(m.header.len), req.opcode().request_len());
    }
}

#[test]
fn counters_saturate() {
    let mut c = VfCounters::default();
    for _ in 0..3 {
        c.record(ProtoError::Reserved);
    }
    c.record(ProtoError::Remote(5));
    assert_eq!(c.count(ProtoError::Reserved), 3);
    assert_eq!(c.count(ProtoError::Remote(99)), 1);
    assert_eq!(c.count(ProtoError::MsgSize), 0);
    assert_eq!(c.rejected, 4);
    c.rejected = u32::MAX;
    c.record(ProtoError::Busy);
    assert_eq!(c.rejected, u32::MAX);
}
