// SPDX-License-Identifier: GPL-2.0

//! MLU270 PF <-> VF mailbox protocol.
//!
//! The hardware gives each VF a one-slot, 64-byte channel in each direction
//! (16 little-endian 32-bit registers, `MB_OUT`/`MB_IN` on the VF side,
//! `VF_MSG`/`PF_MSG` in the PF's per-VF window). The hardware says nothing
//! about the content: this module defines it, once, for both drivers. The
//! specification is `Documentation/accel/mlu270/mailbox.rst`.
//!
//! A VF belongs to an untrusted guest, so the PF side ([`validate_request`])
//! treats every word as hostile: it never panics, never loops on input,
//! checks lengths, reserved bits, the opcode against the negotiated version
//! and every memory range against the sender's own slice with checked
//! arithmetic. The sender's identity is *not* in the message: the PF knows it
//! from the per-VF window that rang, and passes that VF's slice in.
//!
//! Pure `core` code (no allocation, no floating point, no panics). Include it
//! with `#[path = "../common/protocol.rs"] mod protocol;` next to
//! `#[path = "../common/layout.rs"] mod layout;`: it uses
//! `super::layout::Slice`, so both must be sibling modules.

// Each driver uses only part of this shared API (the VF driver never plans or
// validates requests, the PF driver never parses replies) and includes the
// file as a private module, so unused and "unreachable" `pub` items are
// expected here rather than a sign of dead code.
#![allow(dead_code, unreachable_pub)]

use super::layout::Slice;

/// Size of a message in 32-bit words (the hardware window).
pub const MSG_WORDS: usize = 16;
/// Size of a message in bytes.
pub const MSG_BYTES: usize = 64;
/// Header size in words.
pub const HEADER_WORDS: usize = 2;
/// Payload capacity in words.
pub const PAYLOAD_WORDS: usize = MSG_WORDS - HEADER_WORDS;
/// Payload capacity in bytes.
pub const MAX_PAYLOAD_BYTES: u8 = (PAYLOAD_WORDS * 4) as u8;

/// Header flag: this message answers a request (PF -> VF).
pub const FLAG_REPLY: u8 = 1 << 0;
/// Header flag: unsolicited PF -> VF notification (never answered).
pub const FLAG_NOTIFY: u8 = 1 << 1;
/// All defined flags; the others are reserved and must be zero.
pub const FLAGS_DEFINED: u8 = FLAG_REPLY | FLAG_NOTIFY;

// Linux errno values (positive), used as reply status codes.
const EPERM: u16 = 1;
const E2BIG: u16 = 7;
const EAGAIN: u16 = 11;
const EBUSY: u16 = 16;
const ENODEV: u16 = 19;
const EINVAL: u16 = 22;
const ERANGE: u16 = 34;
const EPROTO: u16 = 71;
const EMSGSIZE: u16 = 90;
const EOPNOTSUPP: u16 = 95;
/// Largest value the kernel treats as an errno (`MAX_ERRNO`).
const MAX_ERRNO: u16 = 4095;

/// Protocol versions.
///
/// A newer version only *adds* opcodes; the layout of existing messages
/// never changes, so a v2 PF serves a v1 VF by refusing v2 opcodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u16)]
pub enum Version {
    /// HELLO, GET_RESOURCES, RESET_REQUEST, HEARTBEAT; RESET_NOTIFY, SHUTDOWN.
    V1 = 1,
    /// v1 plus the privileged operations QUERY_FAULT and SCRUB_MEMORY.
    V2 = 2,
}

impl Version {
    /// Oldest version this code speaks.
    pub const MIN: Self = Self::V1;
    /// Newest version this code speaks.
    pub const MAX: Self = Self::V2;

    /// Wire value.
    pub const fn as_u16(self) -> u16 {
        self as u16
    }

    /// Version of a wire value, if known.
    pub const fn from_u16(v: u16) -> Option<Self> {
        match v {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            _ => None,
        }
    }
}

/// Picks the version for a VF offering `vf_min..=vf_max`: the highest
/// version both sides speak.
///
/// `vf_min == 0` or `vf_min > vf_max` is [`ProtoError::InvalidArgument`];
/// no overlap is [`ProtoError::NoCommonVersion`].
pub const fn negotiate(vf_min: u16, vf_max: u16) -> Result<Version, ProtoError> {
    if vf_min == 0 || vf_min > vf_max {
        return Err(ProtoError::InvalidArgument);
    }
    let hi = if vf_max < Version::MAX.as_u16() {
        vf_max
    } else {
        Version::MAX.as_u16()
    };
    let lo = if vf_min > Version::MIN.as_u16() {
        vf_min
    } else {
        Version::MIN.as_u16()
    };
    if lo > hi {
        return Err(ProtoError::NoCommonVersion);
    }
    match Version::from_u16(hi) {
        Some(v) => Ok(v),
        None => Err(ProtoError::NoCommonVersion),
    }
}

/// Message opcodes. `0x01..=0x7f` are VF -> PF requests (answered with the
/// same opcode and [`FLAG_REPLY`]); `0x80..=0xff` are PF -> VF notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    /// v1: version negotiation. Allowed at any time (a reloaded VF driver
    /// starts over); it resets the session.
    Hello = 0x01,
    /// v1: describe the VF's slice.
    GetResources = 0x02,
    /// v1: the VF asks the PF to reset it (as an FLR).
    ResetRequest = 0x03,
    /// v1: liveness check, answered with the PF status.
    Heartbeat = 0x04,
    /// v2: last fault recorded for this VF.
    QueryFault = 0x10,
    /// v2: zero a MiB range of the VF's own memory window.
    ScrubMemory = 0x11,
    /// v1 notification: the PF is about to reset this VF.
    ResetNotify = 0x80,
    /// v1 notification: the PF is disabling VFs or going away.
    Shutdown = 0x81,
}

impl Opcode {
    /// Opcode of a wire value, if known.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0x01 => Some(Self::Hello),
            0x02 => Some(Self::GetResources),
            0x03 => Some(Self::ResetRequest),
            0x04 => Some(Self::Heartbeat),
            0x10 => Some(Self::QueryFault),
            0x11 => Some(Self::ScrubMemory),
            0x80 => Some(Self::ResetNotify),
            0x81 => Some(Self::Shutdown),
            _ => None,
        }
    }

    /// Wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// First protocol version that has this opcode.
    pub const fn since(self) -> Version {
        match self {
            Self::QueryFault | Self::ScrubMemory => Version::V2,
            _ => Version::V1,
        }
    }

    /// True for PF -> VF notifications.
    pub const fn is_notification(self) -> bool {
        (self as u8) & 0x80 != 0
    }

    /// Exact request payload length in bytes (`None`: not a request).
    pub const fn request_len(self) -> Option<u8> {
        match self {
            Self::Hello => Some(4),
            Self::GetResources | Self::ResetRequest | Self::Heartbeat | Self::QueryFault => Some(0),
            Self::ScrubMemory => Some(8),
            Self::ResetNotify | Self::Shutdown => None,
        }
    }

    /// Exact payload length in bytes of a successful reply (`None`: not a
    /// request). Error replies always have an empty payload.
    pub const fn reply_len(self) -> Option<u8> {
        match self {
            Self::Hello => Some(8),
            Self::GetResources => Some(24),
            Self::ResetRequest => Some(0),
            Self::Heartbeat => Some(12),
            Self::QueryFault => Some(20),
            Self::ScrubMemory => Some(8),
            Self::ResetNotify | Self::Shutdown => None,
        }
    }

    /// Exact payload length in bytes of a notification (`None`: not one).
    pub const fn notify_len(self) -> Option<u8> {
        match self {
            Self::ResetNotify | Self::Shutdown => Some(4),
            _ => None,
        }
    }

    /// Whether a VF may send this opcode in the session state `negotiated`.
    ///
    /// Before a successful HELLO only HELLO is allowed (the PF does not yet
    /// know which messages the VF understands); afterwards an opcode needs
    /// `since() <= negotiated`.
    pub const fn check_allowed(self, negotiated: Option<Version>) -> Result<(), ProtoError> {
        if self.is_notification() {
            return Err(ProtoError::Direction);
        }
        if let Self::Hello = self {
            return Ok(());
        }
        match negotiated {
            None => Err(ProtoError::NotNegotiated),
            Some(v) if (v as u16) < (self.since() as u16) => Err(ProtoError::NotInVersion),
            Some(_) => Ok(()),
        }
    }
}

/// Protocol errors.
///
/// On the PF every rejection is answered with an error reply carrying
/// [`ProtoError::errno`] and counted (see [`VfCounters`]); on the VF,
/// [`ProtoError::Remote`] carries the errno the PF sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoError {
    /// Payload length above 56 bytes, not a multiple of 4, or not the exact
    /// length of the opcode (`EMSGSIZE`).
    MsgSize,
    /// A reserved header byte, flag bit, status in a request, payload word
    /// beyond the length, or reserved bits of a field are set (`EINVAL`).
    Reserved,
    /// Opcode not defined by any version (`EOPNOTSUPP`).
    UnknownOpcode,
    /// Opcode other than HELLO before a successful HELLO (`EPROTO`).
    NotNegotiated,
    /// Opcode newer than the negotiated version (`EOPNOTSUPP`).
    NotInVersion,
    /// Wrong direction: flags or opcode of a reply/notification where a
    /// request was expected, or the reverse (`EPROTO`).
    Direction,
    /// HELLO offers no version the PF speaks (`EPROTO`).
    NoCommonVersion,
    /// A field has an invalid value, e.g. HELLO min > max or an empty range
    /// (`EINVAL`).
    InvalidArgument,
    /// A memory range leaves the sender's window (`ERANGE`).
    OutOfSlice,
    /// A range's end overflows 32 bits (`ERANGE`).
    Overflow,
    /// The sender has no slice at all (`ENODEV`).
    NoSlice,
    /// The sender exceeded its message rate (`EAGAIN`).
    RateLimited,
    /// The PF cannot serve the request now, e.g. it is resetting the VF
    /// (`EBUSY`).
    Busy,
    /// The PF's policy forbids the operation for this VF (`EPERM`).
    NotPermitted,
    /// VF side: a reply does not match the outstanding request (opcode or
    /// sequence number) or has impossible values (`EPROTO`).
    BadReply,
    /// VF side: the PF answered with this errno.
    Remote(u16),
}

impl ProtoError {
    /// Number of distinct error kinds ([`Self::index`] is below it).
    pub const KINDS: usize = 16;

    /// The positive Linux errno of this error; also the reply status.
    pub const fn errno(self) -> i32 {
        self.status() as i32
    }

    /// The status value sent in an error reply (a positive errno).
    pub const fn status(self) -> u16 {
        match self {
            Self::MsgSize => EMSGSIZE,
            Self::Reserved | Self::InvalidArgument => EINVAL,
            Self::UnknownOpcode | Self::NotInVersion => EOPNOTSUPP,
            Self::NotNegotiated | Self::Direction | Self::NoCommonVersion | Self::BadReply => {
                EPROTO
            }
            Self::OutOfSlice | Self::Overflow => ERANGE,
            Self::NoSlice => ENODEV,
            Self::RateLimited => EAGAIN,
            Self::Busy => EBUSY,
            Self::NotPermitted => EPERM,
            // A PF must only send errnos; anything else is a protocol error.
            Self::Remote(e) => {
                if e == 0 || e > MAX_ERRNO {
                    EPROTO
                } else {
                    e
                }
            }
        }
    }

    /// A dense index for per-kind counters (all `Remote` share one).
    pub const fn index(self) -> usize {
        match self {
            Self::MsgSize => 0,
            Self::Reserved => 1,
            Self::UnknownOpcode => 2,
            Self::NotNegotiated => 3,
            Self::NotInVersion => 4,
            Self::Direction => 5,
            Self::NoCommonVersion => 6,
            Self::InvalidArgument => 7,
            Self::OutOfSlice => 8,
            Self::Overflow => 9,
            Self::NoSlice => 10,
            Self::RateLimited => 11,
            Self::Busy => 12,
            Self::NotPermitted => 13,
            Self::BadReply => 14,
            Self::Remote(_) => 15,
        }
    }
}

/// `E2BIG` is reserved for future variable-size payloads; exported so both
/// drivers agree on the numeric value.
pub const STATUS_E2BIG: u16 = E2BIG;

/// Decoded message header (words 0 and 1).
///
/// Word 0: bits 7:0 opcode, 15:8 flags, 23:16 payload length in bytes,
/// 31:24 reserved (0). Word 1: bits 15:0 sequence number, 31:16 status
/// (0 or a positive errno; 0 in requests and notifications).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// Raw opcode (see [`Opcode`]).
    pub opcode: u8,
    /// [`FLAG_REPLY`], [`FLAG_NOTIFY`].
    pub flags: u8,
    /// Payload length in bytes, a multiple of 4, at most 56.
    pub len: u8,
    /// Chosen by the sender of a request, echoed in the reply.
    pub seq: u16,
    /// Reply status: 0 or a positive errno.
    pub status: u16,
}

/// A structurally valid message: header plus payload words.
///
/// Payload words at or beyond `len / 4` are always zero, so the encoding of
/// a `Message` is canonical (the same message always has the same bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Message {
    /// The header.
    pub header: Header,
    payload: [u32; PAYLOAD_WORDS],
}

impl Message {
    /// An empty message.
    pub const fn new(opcode: u8, flags: u8, seq: u16, status: u16) -> Self {
        Self {
            header: Header {
                opcode,
                flags,
                len: 0,
                seq,
                status,
            },
            payload: [0; PAYLOAD_WORDS],
        }
    }

    /// Appends a payload word; fails with [`ProtoError::MsgSize`] when full.
    pub fn push(&mut self, word: u32) -> Result<(), ProtoError> {
        let idx = usize::from(self.header.len / 4);
        let slot = self.payload.get_mut(idx).ok_or(ProtoError::MsgSize)?;
        *slot = word;
        self.header.len = self.header.len.saturating_add(4);
        Ok(())
    }

    /// Builder form of [`Self::push`] for messages built from constants whose
    /// size is known to fit; an overflowing word is dropped (and the length
    /// check of the receiver catches it), it never panics.
    fn with(mut self, word: u32) -> Self {
        let _ = self.push(word);
        self
    }

    /// The payload words in use.
    pub fn payload(&self) -> &[u32] {
        self.payload
            .get(..usize::from(self.header.len / 4))
            .unwrap_or(&[])
    }

    /// Payload word `i`, 0 when beyond the payload.
    pub fn word(&self, i: usize) -> u32 {
        self.payload().get(i).copied().unwrap_or(0)
    }

    /// Encodes to the 16 mailbox registers.
    pub fn encode(&self) -> [u32; MSG_WORDS] {
        let h = &self.header;
        let w0 = u32::from(h.opcode) | u32::from(h.flags) << 8 | u32::from(h.len) << 16;
        let w1 = u32::from(h.seq) | u32::from(h.status) << 16;
        // Destructuring: the layout is checked by the compiler and there is
        // no index arithmetic that could need a runtime check.
        let [p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13] = self.payload;
        [
            w0, w1, p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13,
        ]
    }

    /// Encodes to 64 bytes (little-endian words).
    pub fn encode_bytes(&self) -> [u8; MSG_BYTES] {
        words_to_bytes(&self.encode())
    }

    /// Decodes the 16 mailbox registers, checking only the structure common
    /// to every message: reserved header byte zero, defined flags only,
    /// length a multiple of 4 and at most 56, payload beyond it zero.
    pub fn decode(raw: &[u32; MSG_WORDS]) -> Result<Self, ProtoError> {
        let [w0, w1, rest @ ..] = *raw;
        if w0 >> 24 != 0 {
            return Err(ProtoError::Reserved);
        }
        let header = Header {
            opcode: (w0 & 0xff) as u8,
            flags: ((w0 >> 8) & 0xff) as u8,
            len: ((w0 >> 16) & 0xff) as u8,
            seq: (w1 & 0xffff) as u16,
            status: (w1 >> 16) as u16,
        };
        if header.flags & !FLAGS_DEFINED != 0 || header.flags == FLAGS_DEFINED {
            return Err(ProtoError::Reserved);
        }
        if header.len > MAX_PAYLOAD_BYTES || header.len & 3 != 0 {
            return Err(ProtoError::MsgSize);
        }
        let used = usize::from(header.len / 4);
        if rest.iter().skip(used).any(|w| *w != 0) {
            return Err(ProtoError::Reserved);
        }
        Ok(Self {
            header,
            payload: rest,
        })
    }

    /// Decodes 64 bytes (little-endian words), see [`Self::decode`].
    pub fn decode_bytes(raw: &[u8; MSG_BYTES]) -> Result<Self, ProtoError> {
        Self::decode(&bytes_to_words(raw))
    }
}

/// Converts the 16 registers to their 64-byte little-endian image.
pub fn words_to_bytes(words: &[u32; MSG_WORDS]) -> [u8; MSG_BYTES] {
    // Iterators instead of chunks_exact()/indexing: no panic path at any
    // optimisation level.
    let mut out = [0u8; MSG_BYTES];
    for (d, s) in out
        .iter_mut()
        .zip(words.iter().flat_map(|w| w.to_le_bytes()))
    {
        *d = s;
    }
    out
}

/// Converts a 64-byte little-endian image to the 16 registers.
pub fn bytes_to_words(bytes: &[u8; MSG_BYTES]) -> [u32; MSG_WORDS] {
    let mut out = [0u32; MSG_WORDS];
    let mut src = bytes.iter();
    for w in out.iter_mut() {
        let mut b = [0u8; 4];
        for d in b.iter_mut() {
            *d = src.next().copied().unwrap_or(0);
        }
        *w = u32::from_le_bytes(b);
    }
    out
}

/// What a validated request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// HELLO: the VF speaks `min..=max`; `selected` is what the PF answers.
    Hello {
        /// Oldest version the VF speaks.
        min: u16,
        /// Newest version the VF speaks.
        max: u16,
        /// Result of [`negotiate`].
        selected: Version,
    },
    /// GET_RESOURCES.
    GetResources,
    /// RESET_REQUEST.
    ResetRequest,
    /// HEARTBEAT.
    Heartbeat,
    /// QUERY_FAULT (v2).
    QueryFault,
    /// SCRUB_MEMORY (v2): `[offset_mb, offset_mb + len_mb)` of the window,
    /// already checked against the sender's slice; `abs_base_mb` is the
    /// physical device-memory MiB of `offset_mb` for the PF to zero.
    ScrubMemory {
        /// Window-relative start, MiB.
        offset_mb: u32,
        /// Length, MiB, non-zero.
        len_mb: u32,
        /// Physical start in device memory, MiB.
        abs_base_mb: u32,
    },
}

/// A validated VF -> PF request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Sequence number to echo in the reply.
    pub seq: u16,
    /// What is asked.
    pub kind: RequestKind,
}

impl Request {
    /// The opcode of this request.
    pub const fn opcode(&self) -> Opcode {
        match self.kind {
            RequestKind::Hello { .. } => Opcode::Hello,
            RequestKind::GetResources => Opcode::GetResources,
            RequestKind::ResetRequest => Opcode::ResetRequest,
            RequestKind::Heartbeat => Opcode::Heartbeat,
            RequestKind::QueryFault => Opcode::QueryFault,
            RequestKind::ScrubMemory { .. } => Opcode::ScrubMemory,
        }
    }

    /// Canonical wire form (what a VF sends for this request).
    pub fn encode(&self) -> [u32; MSG_WORDS] {
        let m = Message::new(self.opcode().as_u8(), 0, self.seq, 0);
        let m = match self.kind {
            RequestKind::Hello { min, max, .. } => m.with(u32::from(min) | u32::from(max) << 16),
            RequestKind::ScrubMemory {
                offset_mb, len_mb, ..
            } => m.with(offset_mb).with(len_mb),
            _ => m,
        };
        m.encode()
    }
}

/// PF side: validates a message read from VF `i`'s `VF_MSG` window.
///
/// `negotiated` is the session state of that VF (`None` before a
/// successful HELLO or after a reset) and `slice` its own partition entry;
/// both come from the PF's per-VF state selected by the window that rang,
/// never from the message. Checks, in order: structure ([`Message::decode`]),
/// direction (no flags), status 0, known opcode, a request opcode, allowed in
/// `negotiated`, exact length, then the fields. Pure and total: it never
/// panics and its run time does not depend on the input.
pub fn validate_request(
    raw: &[u32; MSG_WORDS],
    negotiated: Option<Version>,
    slice: &Slice,
) -> Result<Request, ProtoError> {
    let msg = Message::decode(raw)?;
    let h = msg.header;
    if h.flags != 0 {
        return Err(ProtoError::Direction);
    }
    if h.status != 0 {
        return Err(ProtoError::Reserved);
    }
    let op = Opcode::from_u8(h.opcode).ok_or(ProtoError::UnknownOpcode)?;
    op.check_allowed(negotiated)?;
    if op.request_len() != Some(h.len) {
        return Err(ProtoError::MsgSize);
    }
    let kind = match op {
        Opcode::Hello => {
            let w = msg.word(0);
            let min = (w & 0xffff) as u16;
            let max = (w >> 16) as u16;
            RequestKind::Hello {
                min,
                max,
                selected: negotiate(min, max)?,
            }
        }
        Opcode::GetResources => RequestKind::GetResources,
        Opcode::ResetRequest => RequestKind::ResetRequest,
        Opcode::Heartbeat => RequestKind::Heartbeat,
        Opcode::QueryFault => RequestKind::QueryFault,
        Opcode::ScrubMemory => {
            let offset_mb = msg.word(0);
            let len_mb = msg.word(1);
            if len_mb == 0 {
                return Err(ProtoError::InvalidArgument);
            }
            if slice.is_empty() || slice.mem_size_mb == 0 {
                return Err(ProtoError::NoSlice);
            }
            let end = offset_mb.checked_add(len_mb).ok_or(ProtoError::Overflow)?;
            if end > slice.mem_size_mb {
                return Err(ProtoError::OutOfSlice);
            }
            let abs_base_mb = slice
                .mem_base_mb
                .checked_add(offset_mb)
                .ok_or(ProtoError::Overflow)?;
            // The physical end must not wrap either (a corrupt slice).
            abs_base_mb
                .checked_add(len_mb)
                .ok_or(ProtoError::Overflow)?;
            RequestKind::ScrubMemory {
                offset_mb,
                len_mb,
                abs_base_mb,
            }
        }
        // Rejected by check_allowed().
        Opcode::ResetNotify | Opcode::Shutdown => return Err(ProtoError::Direction),
    };
    Ok(Request { seq: h.seq, kind })
}

/// State of the PF, reported by HEARTBEAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum PfState {
    /// Serving requests.
    Running = 0,
    /// Resetting this VF (a RESET_NOTIFY was or will be sent).
    Resetting = 1,
    /// Disabling VFs or unloading (a SHUTDOWN was or will be sent).
    ShuttingDown = 2,
}

impl PfState {
    /// State of a wire value, if known.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Running),
            1 => Some(Self::Resetting),
            2 => Some(Self::ShuttingDown),
            _ => None,
        }
    }
}

/// HEARTBEAT reply payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PfStatus {
    /// PF state.
    pub state: PfState,
    /// Messages of this VF the PF rejected since its last reset.
    pub rejected: u32,
    /// Messages of this VF dropped by the rate limiter since its last reset.
    pub rate_limited: u32,
}

/// GET_RESOURCES reply payload: the VF's slice as the VF may see it (no
/// physical memory base: a function addresses its window from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// IPU cores.
    pub ipu_mask: u16,
    /// VPUs (bits 3:0).
    pub vpu_mask: u8,
    /// JPUs (bits 3:0).
    pub jpu_mask: u8,
    /// Window size, MiB.
    pub mem_size_mb: u32,
    /// Slice size in quarters (0 = empty, 1, 2, 4).
    pub quarters: u8,
    /// VF index (0..3).
    pub vf_index: u8,
}

/// QUERY_FAULT reply payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FaultInfo {
    /// Device status code of the fault (`FAULT_CODE`).
    pub code: u32,
    /// Offending address (`FAULT_ADDR`): device address in the window or
    /// host address for DMA errors.
    pub addr: u64,
    /// Faults of this VF since its last reset (saturating).
    pub count: u32,
}

/// Why the PF resets a VF (RESET_NOTIFY payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ResetReason {
    /// An administrator asked for it.
    Admin = 1,
    /// The VF faulted and the PF policy resets faulting VFs.
    Fault = 2,
    /// The whole device is being reset.
    DeviceReset = 3,
    /// The VF asked for it with RESET_REQUEST.
    Requested = 4,
}

/// Why the PF goes away (SHUTDOWN payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ShutdownReason {
    /// `sriov_numvfs` is being set to 0 (re-partitioning).
    DisablingVfs = 1,
    /// The PF driver is unbinding.
    Removing = 2,
}

/// A PF -> VF notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notification {
    /// RESET_NOTIFY.
    Reset(ResetReason),
    /// SHUTDOWN.
    Shutdown(ShutdownReason),
}

impl Notification {
    /// Canonical wire form. `seq` is the PF's own notification counter.
    pub fn encode(&self, seq: u16) -> [u32; MSG_WORDS] {
        let (op, reason) = match *self {
            Self::Reset(r) => (Opcode::ResetNotify, r as u32),
            Self::Shutdown(r) => (Opcode::Shutdown, r as u32),
        };
        Message::new(op.as_u8(), FLAG_NOTIFY, seq, 0)
            .with(reason)
            .encode()
    }
}

/// A successful reply, decoded on the VF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// HELLO: the version to use from now on.
    Hello {
        /// Selected version.
        version: Version,
        /// Newest version the PF speaks (informational).
        pf_max: u16,
    },
    /// GET_RESOURCES.
    Resources(Resources),
    /// RESET_REQUEST accepted: the reset follows (see the spec).
    ResetAccepted,
    /// HEARTBEAT.
    Heartbeat(PfStatus),
    /// QUERY_FAULT: `None` if the VF has not faulted since its last reset.
    Fault(Option<FaultInfo>),
    /// SCRUB_MEMORY done for this range.
    Scrubbed {
        /// Window-relative start, MiB.
        offset_mb: u32,
        /// Length, MiB.
        len_mb: u32,
    },
}

/// Anything the PF can send to a VF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PfMessage {
    /// Answer to the outstanding request.
    Reply {
        /// Echoed sequence number.
        seq: u16,
        /// Decoded payload.
        reply: Reply,
    },
    /// Unsolicited notification.
    Notification(Notification),
}

// ---------------------------------------------------------------------------
// PF side: reply builders.
// ---------------------------------------------------------------------------

fn reply(op: Opcode, seq: u16) -> Message {
    Message::new(op.as_u8(), FLAG_REPLY, seq, 0)
}

/// HELLO reply: word 0 selected version, word 1 newest PF version.
pub fn hello_reply(seq: u16, version: Version) -> [u32; MSG_WORDS] {
    reply(Opcode::Hello, seq)
        .with(u32::from(version.as_u16()))
        .with(u32::from(Version::MAX.as_u16()))
        .encode()
}

/// GET_RESOURCES reply: words IPU mask, VPU mask, JPU mask, window size MiB,
/// quarters, VF index. The physical base is deliberately not sent.
pub fn resources_reply(seq: u16, slice: &Slice, vf_index: u8) -> [u32; MSG_WORDS] {
    reply(Opcode::GetResources, seq)
        .with(u32::from(slice.ipu_mask))
        .with(u32::from(slice.vpu_mask & 0xf))
        .with(u32::from(slice.jpu_mask & 0xf))
        .with(slice.mem_size_mb)
        .with(u32::from(slice.quarters))
        .with(u32::from(vf_index))
        .encode()
}

/// RESET_REQUEST reply (accepted, empty payload).
pub fn reset_reply(seq: u16) -> [u32; MSG_WORDS] {
    reply(Opcode::ResetRequest, seq).encode()
}

/// HEARTBEAT reply: words state, rejected, rate-limited.
pub fn heartbeat_reply(seq: u16, status: &PfStatus) -> [u32; MSG_WORDS] {
    reply(Opcode::Heartbeat, seq)
        .with(status.state as u32)
        .with(status.rejected)
        .with(status.rate_limited)
        .encode()
}

/// QUERY_FAULT reply: words valid (0/1), code, address low, address high,
/// count. All zero when there is no fault.
pub fn fault_reply(seq: u16, fault: Option<&FaultInfo>) -> [u32; MSG_WORDS] {
    let m = reply(Opcode::QueryFault, seq);
    let m = match fault {
        Some(f) => m
            .with(1)
            .with(f.code)
            .with(f.addr as u32)
            .with((f.addr >> 32) as u32)
            .with(f.count),
        None => m.with(0).with(0).with(0).with(0).with(0),
    };
    m.encode()
}

/// SCRUB_MEMORY reply: the scrubbed window-relative range.
pub fn scrub_reply(seq: u16, offset_mb: u32, len_mb: u32) -> [u32; MSG_WORDS] {
    reply(Opcode::ScrubMemory, seq)
        .with(offset_mb)
        .with(len_mb)
        .encode()
}

/// Error reply to a rejected message, built from the raw words so even a
/// malformed message is answered: opcode byte and sequence number are
/// echoed (so the VF can match it), the status is `err`'s errno, no payload.
pub fn error_reply(raw: &[u32; MSG_WORDS], err: ProtoError) -> [u32; MSG_WORDS] {
    let [w0, w1, ..] = *raw;
    Message::new(
        (w0 & 0xff) as u8,
        FLAG_REPLY,
        (w1 & 0xffff) as u16,
        err.status(),
    )
    .encode()
}

// ---------------------------------------------------------------------------
// VF side: request builders and the PF message parser.
// ---------------------------------------------------------------------------

/// HELLO request offering `min..=max`.
pub fn hello_request(seq: u16, min: Version, max: Version) -> [u32; MSG_WORDS] {
    Message::new(Opcode::Hello.as_u8(), 0, seq, 0)
        .with(u32::from(min.as_u16()) | u32::from(max.as_u16()) << 16)
        .encode()
}

/// A request without payload (GET_RESOURCES, RESET_REQUEST, HEARTBEAT,
/// QUERY_FAULT). Other opcodes get [`ProtoError::InvalidArgument`].
pub fn simple_request(seq: u16, op: Opcode) -> Result<[u32; MSG_WORDS], ProtoError> {
    if op.request_len() != Some(0) {
        return Err(ProtoError::InvalidArgument);
    }
    Ok(Message::new(op.as_u8(), 0, seq, 0).encode())
}

/// SCRUB_MEMORY request for `[offset_mb, offset_mb + len_mb)` of the window.
pub fn scrub_request(seq: u16, offset_mb: u32, len_mb: u32) -> [u32; MSG_WORDS] {
    Message::new(Opcode::ScrubMemory.as_u8(), 0, seq, 0)
        .with(offset_mb)
        .with(len_mb)
        .encode()
}

/// The request a VF is waiting for an answer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Opcode sent.
    pub opcode: Opcode,
    /// Sequence number sent.
    pub seq: u16,
}

/// VF side: parses a message read from `MB_IN`.
///
/// A reply must answer `pending` (same opcode and sequence number, else
/// [`ProtoError::BadReply`]: a stale reply is dropped, not trusted). A
/// non-zero status becomes [`ProtoError::Remote`]. Payload values are
/// range-checked: the VF trusts the PF, but a bug must not become a panic.
pub fn parse_pf_message(
    raw: &[u32; MSG_WORDS],
    pending: Option<Pending>,
) -> Result<PfMessage, ProtoError> {
    let msg = Message::decode(raw)?;
    let h = msg.header;
    let op = Opcode::from_u8(h.opcode).ok_or(ProtoError::UnknownOpcode)?;
    if h.flags == FLAG_NOTIFY {
        if h.status != 0 {
            return Err(ProtoError::Reserved);
        }
        if op.notify_len() != Some(h.len) {
            return Err(if op.is_notification() {
                ProtoError::MsgSize
            } else {
                ProtoError::Direction
            });
        }
        let w = msg.word(0);
        let n = match op {
            Opcode::ResetNotify => Notification::Reset(match w {
                1 => ResetReason::Admin,
                2 => ResetReason::Fault,
                3 => ResetReason::DeviceReset,
                4 => ResetReason::Requested,
                _ => return Err(ProtoError::BadReply),
            }),
            Opcode::Shutdown => Notification::Shutdown(match w {
                1 => ShutdownReason::DisablingVfs,
                2 => ShutdownReason::Removing,
                _ => return Err(ProtoError::BadReply),
            }),
            _ => return Err(ProtoError::Direction),
        };
        return Ok(PfMessage::Notification(n));
    }
    if h.flags != FLAG_REPLY || op.is_notification() {
        return Err(ProtoError::Direction);
    }
    match pending {
        Some(p) if p.opcode == op && p.seq == h.seq => {}
        _ => return Err(ProtoError::BadReply),
    }
    if h.status != 0 {
        if h.len != 0 {
            return Err(ProtoError::MsgSize);
        }
        return Err(ProtoError::Remote(h.status));
    }
    if op.reply_len() != Some(h.len) {
        return Err(ProtoError::MsgSize);
    }
    let w = |i| msg.word(i);
    let reply = match op {
        Opcode::Hello => {
            let version = u16::try_from(w(0))
                .ok()
                .and_then(Version::from_u16)
                .ok_or(ProtoError::BadReply)?;
            let pf_max = u16::try_from(w(1)).map_err(|_| ProtoError::BadReply)?;
            Reply::Hello { version, pf_max }
        }
        Opcode::GetResources => {
            let ipu_mask = u16::try_from(w(0)).map_err(|_| ProtoError::Reserved)?;
            let vpu_mask = small(w(1), 0xf)?;
            let jpu_mask = small(w(2), 0xf)?;
            let quarters = small(w(4), 4)?;
            if quarters == 3 {
                return Err(ProtoError::BadReply);
            }
            let vf_index = small(w(5), 3)?;
            Reply::Resources(Resources {
                ipu_mask,
                vpu_mask,
                jpu_mask,
                mem_size_mb: w(3),
                quarters,
                vf_index,
            })
        }
        Opcode::ResetRequest => Reply::ResetAccepted,
        Opcode::Heartbeat => Reply::Heartbeat(PfStatus {
            state: PfState::from_u32(w(0)).ok_or(ProtoError::BadReply)?,
            rejected: w(1),
            rate_limited: w(2),
        }),
        Opcode::QueryFault => match w(0) {
            0 => {
                if w(1) | w(2) | w(3) | w(4) != 0 {
                    return Err(ProtoError::Reserved);
                }
                Reply::Fault(None)
            }
            1 => Reply::Fault(Some(FaultInfo {
                code: w(1),
                addr: u64::from(w(2)) | u64::from(w(3)) << 32,
                count: w(4),
            })),
            _ => return Err(ProtoError::BadReply),
        },
        Opcode::ScrubMemory => Reply::Scrubbed {
            offset_mb: w(0),
            len_mb: w(1),
        },
        Opcode::ResetNotify | Opcode::Shutdown => return Err(ProtoError::Direction),
    };
    Ok(PfMessage::Reply { seq: h.seq, reply })
}

/// `v` as a `u8` if it is at most `max`.
fn small(v: u32, max: u8) -> Result<u8, ProtoError> {
    match u8::try_from(v) {
        Ok(b) if b <= max => Ok(b),
        _ => Err(ProtoError::BadReply),
    }
}

// ---------------------------------------------------------------------------
// Rate limiting and per-VF session state (PF side).
// ---------------------------------------------------------------------------

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Token bucket limiting how many messages per second the PF serves for
/// one VF.
///
/// The hardware already prevents a VF from having more than one message in
/// flight, but a hostile VF can still ring as fast as the PF acknowledges;
/// the bucket bounds the PF work (and the replies) it can cause. Tokens are
/// kept in units of 1/10^9 token so refills of any rate are exact with
/// integer arithmetic on a caller-supplied monotonic clock (e.g.
/// `ktime_get_ns()`); time going backwards refills nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimiter {
    burst: u32,
    per_sec: u32,
    /// Tokens * 10^9.
    tokens: u64,
    last_ns: u64,
    limited: u32,
}

impl RateLimiter {
    /// Default burst: enough for a driver's whole probe sequence.
    pub const DEFAULT_BURST: u32 = 32;
    /// Default sustained rate: far above a heartbeat every second.
    pub const DEFAULT_PER_SEC: u32 = 50;

    /// A full bucket of `burst` tokens refilled at `per_sec` tokens/second.
    pub const fn new(burst: u32, per_sec: u32, now_ns: u64) -> Self {
        Self {
            burst,
            per_sec,
            tokens: burst as u64 * NSEC_PER_SEC,
            last_ns: now_ns,
            limited: 0,
        }
    }

    /// [`Self::new`] with the default burst and rate.
    pub const fn with_defaults(now_ns: u64) -> Self {
        Self::new(Self::DEFAULT_BURST, Self::DEFAULT_PER_SEC, now_ns)
    }

    /// Takes one token if available. `false` means: do not serve.
    pub fn allow(&mut self, now_ns: u64) -> bool {
        self.allow_cost(now_ns, 1)
    }

    /// Takes `cost` tokens if that many are available (an expensive
    /// request costs more than a cheap one). `false` means: do not serve;
    /// nothing is taken then.
    pub fn allow_cost(&mut self, now_ns: u64, cost: u32) -> bool {
        let cap = u64::from(self.burst).saturating_mul(NSEC_PER_SEC);
        if let Some(elapsed) = now_ns.checked_sub(self.last_ns) {
            let refill = elapsed.saturating_mul(u64::from(self.per_sec));
            self.tokens = self.tokens.saturating_add(refill).min(cap);
            self.last_ns = now_ns;
        }
        let price = u64::from(cost).saturating_mul(NSEC_PER_SEC);
        if self.tokens >= price {
            self.tokens -= price;
            true
        } else {
            self.limited = self.limited.saturating_add(1);
            false
        }
    }

    /// Refills the bucket and clears the counter. Only for a VF that is
    /// enabled anew: a VF's own resets do not refill its bucket.
    pub fn reset(&mut self, now_ns: u64) {
        *self = Self::new(self.burst, self.per_sec, now_ns);
    }

    /// Messages refused since the last reset (saturating).
    pub const fn limited(&self) -> u32 {
        self.limited
    }

    /// Whole tokens currently available.
    pub const fn available(&self) -> u32 {
        let t = self.tokens / NSEC_PER_SEC;
        if t > u32::MAX as u64 {
            u32::MAX
        } else {
            t as u32
        }
    }
}

/// Rate limit of the log lines one VF can cause: a token bucket of
/// [`Self::BURST`] lines refilled at one line per [`Self::INTERVAL_NS`].
/// It belongs to the VF, not to a session: a VF that resets itself does not
/// get a fresh budget. Lines not logged are counted and reported with the
/// next line that is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBudget {
    bucket: RateLimiter,
    suppressed: u32,
}

impl LogBudget {
    /// Lines a VF may cause at once.
    pub const BURST: u32 = 5;
    /// Sustained: one line per this many nanoseconds (12 a minute).
    pub const INTERVAL_NS: u64 = 5 * NSEC_PER_SEC;
    /// Most lines one VF can cause in any minute: the burst plus the
    /// refills.
    pub const MAX_PER_MINUTE: u32 = Self::BURST + (60 * NSEC_PER_SEC / Self::INTERVAL_NS) as u32;

    /// A full budget at `now_ns`.
    pub const fn new(now_ns: u64) -> Self {
        Self {
            // The bucket refills whole tokens per second: a line costs
            // TOKENS_PER_LINE tokens, refilled in INTERVAL_NS.
            bucket: RateLimiter::new(
                Self::BURST * Self::TOKENS_PER_LINE,
                (Self::TOKENS_PER_LINE as u64 * NSEC_PER_SEC / Self::INTERVAL_NS) as u32,
                now_ns,
            ),
            suppressed: 0,
        }
    }

    const TOKENS_PER_LINE: u32 = 5;

    /// Whether a line may be logged at `now_ns`; if so, how many were not
    /// logged since the last one.
    pub fn permit(&mut self, now_ns: u64) -> Option<u32> {
        if self.bucket.allow_cost(now_ns, Self::TOKENS_PER_LINE) {
            Some(core::mem::take(&mut self.suppressed))
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            None
        }
    }

    /// Lines not logged since the last one that was.
    pub const fn suppressed(&self) -> u32 {
        self.suppressed
    }
}

/// Per-VF message counters (exported through debugfs by the PF).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VfCounters {
    /// Requests accepted.
    pub accepted: u32,
    /// Requests rejected (any error, rate limiting included).
    pub rejected: u32,
    /// Replies not sent because the VF had not acknowledged the previous
    /// one (`PF_BUSY`): the PF never waits on a VF.
    pub replies_dropped: u32,
    by_kind: [u32; ProtoError::KINDS],
}

impl VfCounters {
    /// Counts a rejection of kind `err`.
    pub fn record(&mut self, err: ProtoError) {
        self.rejected = self.rejected.saturating_add(1);
        if let Some(c) = self.by_kind.get_mut(err.index()) {
            *c = c.saturating_add(1);
        }
    }

    /// Rejections of the kind of `err`.
    pub fn count(&self, err: ProtoError) -> u32 {
        self.by_kind.get(err.index()).copied().unwrap_or(0)
    }
}

/// What a request costs in rate-limiter tokens: a reset (of the VF, with a
/// scrub of its memory) is far more work for the card and the PF than
/// any other request, so a VF can ask for far fewer of them.
pub const fn request_cost(opcode: u8) -> u32 {
    if opcode == Opcode::ResetRequest.as_u8() {
        RESET_REQUEST_COST
    } else {
        1
    }
}

/// Tokens of a RESET_REQUEST: with the default bucket (50 tokens a
/// second), at most two resets a second once the burst is spent.
pub const RESET_REQUEST_COST: u32 = 25;

/// PF-side protocol state of one VF.
///
/// Owned by the PF's per-VF structure (callers serialise access; it has no
/// interior locking). [`Self::restart`] starts a new session whenever the
/// VF is reset (FLR, `VF_RESET`), since the VF driver then starts over
/// with HELLO; the rate limit and the log budget outlive sessions, so a VF
/// cannot refill them by resetting itself. [`Self::new`] is for a VF that
/// is enabled anew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VfSession {
    /// Version agreed by the last successful HELLO.
    pub negotiated: Option<Version>,
    /// Message rate limit (survives [`Self::restart`]).
    pub limiter: RateLimiter,
    /// Counters of this session.
    pub counters: VfCounters,
    /// Log lines this VF may cause (survives [`Self::restart`]).
    pub log: LogBudget,
}

impl VfSession {
    /// A fresh session (no version yet, full bucket, full log budget).
    pub const fn new(now_ns: u64) -> Self {
        Self {
            negotiated: None,
            limiter: RateLimiter::with_defaults(now_ns),
            counters: VfCounters {
                accepted: 0,
                rejected: 0,
                replies_dropped: 0,
                by_kind: [0; ProtoError::KINDS],
            },
            log: LogBudget::new(now_ns),
        }
    }

    /// The VF was reset: forgets the version and the session's counters,
    /// keeps the rate limit and the log budget.
    pub fn restart(&mut self) {
        self.negotiated = None;
        self.counters = VfCounters::default();
    }

    /// Rate-limits (by [`request_cost`]), validates and counts one message
    /// from this VF. A HELLO that validates sets [`Self::negotiated`]; a
    /// failed HELLO clears it (the VF must not keep using a version it no
    /// longer claims).
    ///
    /// On `Err` the caller answers with [`error_reply`] (if `PF_MSG` is free)
    /// and logs only if [`Self::take_log_permit`] says so.
    pub fn receive(
        &mut self,
        raw: &[u32; MSG_WORDS],
        slice: &Slice,
        now_ns: u64,
    ) -> Result<Request, ProtoError> {
        let [w0, ..] = *raw;
        if !self
            .limiter
            .allow_cost(now_ns, request_cost((w0 & 0xff) as u8))
        {
            self.counters.record(ProtoError::RateLimited);
            return Err(ProtoError::RateLimited);
        }
        match validate_request(raw, self.negotiated, slice) {
            Ok(req) => {
                if let RequestKind::Hello { selected, .. } = req.kind {
                    self.negotiated = Some(selected);
                }
                self.counters.accepted = self.counters.accepted.saturating_add(1);
                Ok(req)
            }
            Err(e) => {
                if w0 & 0xff == u32::from(Opcode::Hello.as_u8()) {
                    self.negotiated = None;
                }
                self.counters.record(e);
                Err(e)
            }
        }
    }

    /// A request that passed validation but that the PF's policy refuses
    /// (e.g. SCRUB_MEMORY): counted as rejected instead of accepted, so
    /// that `accepted + rejected` is the number of messages received.
    pub fn refuse(&mut self, err: ProtoError) {
        self.counters.accepted = self.counters.accepted.saturating_sub(1);
        self.counters.record(err);
    }

    /// Whether the PF may log a line this VF caused at `now_ns`, and how
    /// many it did not log since the last one ([`LogBudget`]): a hostile VF
    /// cannot flood the log, in one session or across its resets.
    pub fn take_log_permit(&mut self, now_ns: u64) -> Option<u32> {
        self.log.permit(now_ns)
    }

    /// HEARTBEAT payload for this VF.
    pub const fn status(&self, state: PfState) -> PfStatus {
        PfStatus {
            state,
            rejected: self.counters.rejected,
            rate_limited: self.limiter.limited(),
        }
    }
}
