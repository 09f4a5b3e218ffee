// SPDX-License-Identifier: GPL-2.0

//! Validation of a VF's migration stream before the card sees it.
//!
//! On the target host the PF driver's migration service receives a VF's
//! device state from user space (VFIO's `RESUMING` phase, arbitrary
//! `write()` chunks) and hands it to the card with `LOAD_WRITE`. The
//! stream is untrusted: it comes from another host through a user-space
//! process. The card checks it (`Documentation/accel/mlu270/migration.rst`,
//! "Checks, by the card and again by the PF driver"), and the PF driver
//! checks it again here, first, so that
//!
//! * a malformed stream is refused with `EINVAL` and a stream for another
//!   VF, slice, card or driver with `EOPNOTSUPP`, with one short reason for
//!   the (rate-limited) log line, instead of a bare `EBADMSG` from the card;
//! * a bug in the card's checks is not enough for a hostile stream to put
//!   the VF into a state the hardware could never reach.
//!
//! [`StreamParser`] takes the stream in chunks of any size, wherever they
//! split it (inside a header, a table, a run header, a page or a CRC), and
//! keeps no page data: it buffers at most one table or one fixed-size
//! section (160 bytes) and checks the CRC of each run of pages as the bytes
//! go by. It needs a bitmap of one bit per page of the slice (at most 8 KiB,
//! see [`bitmap_words`]) from its caller, so that the parser itself stays
//! small and the caller chooses where that memory comes from.
//!
//! Pure `core` code: no allocation, no hardware access, no `unsafe`, no
//! panics on any input (checked arithmetic, `get()` instead of indexing).
//! Include it next to `layout.rs` and `protocol.rs` (it uses
//! `super::layout` and `super::protocol`); `tools/mlu270-proto` builds the
//! same file on the host.

// Written ahead of the PF driver's migration service, which uses only part
// of it: the rest is there for the KUnit tests, the log lines and the host
// tests of tools/mlu270-proto (which need the items `pub`).
#![allow(dead_code, unreachable_pub)]

use core::{borrow::BorrowMut, fmt};

use super::layout::{CardCaps, Slice, MAX_VFS};
use super::protocol::Version;

/// `"MLUM"` in the blob's first four bytes.
pub const MAGIC: u32 = 0x4d55_4c4d;
/// The only blob format version there is.
pub const FORMAT_VERSION: u16 = 1;
/// The card's migration interface version, `DESCRIPTOR` offset 0x04.
pub const INTERFACE_VERSION: u32 = 1;
/// The PF's PCI device ID, `DESCRIPTOR` offset 0x00.
pub const PCI_DEVICE_ID: u16 = 0x0270;

/// Blob header size (up to the section table).
pub const HEADER_LEN: usize = 0x18;
/// Size of one section table entry.
pub const TABLE_ENTRY_LEN: usize = 16;
/// Most sections a blob may have.
pub const MAX_SECTIONS: usize = 8;
/// Largest blob: 256 MiB of pages plus run headers and state.
pub const MAX_BLOB_LEN: u64 = 257 << 20;

/// Size of the `DESCRIPTOR` section.
pub const DESCRIPTOR_LEN: usize = 64;
/// Size of the `REGISTERS` section.
pub const REGISTERS_LEN: usize = 160;
/// Size of the `MAILBOX` section.
pub const MAILBOX_LEN: usize = 136;
/// Size of the `END` section.
pub const END_LEN: usize = 8;

/// A page of the slice, the unit of the `PAGES` runs.
pub const PAGE_SIZE: usize = 4096;
/// Start page and count in front of a run's pages.
pub const RUN_HEADER_LEN: usize = 8;
/// The CRC-32 behind a run's pages.
pub const RUN_CRC_LEN: usize = 4;
/// Most pages one run carries.
pub const MAX_RUN_PAGES: u32 = 64;
/// The smallest run: one page.
const MIN_RUN_LEN: u64 = (RUN_HEADER_LEN + PAGE_SIZE + RUN_CRC_LEN) as u64;

/// Largest slice that can migrate (`Limits` in `migration.rst`).
pub const MAX_SLICE_MB: u32 = 256;
/// Pages per MiB of slice.
pub const PAGES_PER_MB: u32 = (1 << 20) / PAGE_SIZE as u32;
/// Pages of the largest slice that can migrate.
pub const MAX_PAGES: u32 = MAX_SLICE_MB * PAGES_PER_MB;
/// Words of the page bitmap for the largest slice (8 KiB).
pub const MAX_BITMAP_WORDS: usize = bitmap_words(MAX_PAGES);

/// Words of the page bitmap [`StreamParser::new`] needs for `pages` pages.
pub const fn bitmap_words(pages: u32) -> usize {
    pages.div_ceil(64) as usize
}

/// Layout code in the PF driver's word: which partition planner cut the
/// card into slices.
///
/// Code 1 is `common/layout.rs` as it is: quarters of 4 IPU cores, one VPU,
/// one JPU and a quarter of the memory, naturally aligned, placed largest
/// first. The card compares partition entries, not how they came about, so
/// the driver says which rules it follows: a VF's memory contents only make
/// sense in the same place of an identically planned card. Bump it when
/// the planner changes what it produces.
pub const LAYOUT_CODE: u16 = 1;

/// The PF driver's word of a stream: bits 15:0 the mailbox protocol
/// version the VF negotiated with the source PF (0: none yet), bits 31:16
/// the layout code.
///
/// The guest's VF driver goes on after the migration without a new HELLO,
/// speaking the version it negotiated; the stream may also carry a VF
/// message the source PF has not answered and a PF message the VF has not
/// acknowledged. The target PF driver must therefore speak that version
/// and adopts it for the VF when it commits the stream.
pub const fn driver_word(negotiated: Option<Version>, layout: u16) -> u32 {
    let version = match negotiated {
        Some(v) => v.as_u16() as u32,
        None => 0,
    };
    version | (layout as u32) << 16
}

/// The VF's negotiated version a word carries: `Ok(None)` for none yet,
/// `Err` for a version this driver does not speak.
pub const fn word_version(word: u32) -> Result<Option<Version>, MigError> {
    let v = (word & 0xffff) as u16;
    if v == 0 {
        return Ok(None);
    }
    match Version::from_u16(v) {
        Some(version) => Ok(Some(version)),
        None => Err(MigError::OtherDriver),
    }
}

/// This driver's word with the newest version it speaks: what a target
/// compares a stream's word with ([`check_compat`]).
pub const DRIVER_WORD: u32 = driver_word(Some(Version::MAX), LAYOUT_CODE);

/// Offsets in the `DESCRIPTOR` section.
pub mod desc_off {
    /// PCI device ID of the PF (2 bytes).
    pub const DEVICE_ID: usize = 0x00;
    /// The PF's PCI revision ID (1 byte).
    pub const REVISION: usize = 0x02;
    /// Reserved (1 byte).
    pub const RESERVED: usize = 0x03;
    /// Migration interface version.
    pub const INTERFACE: usize = 0x04;
    /// VF index.
    pub const VF: usize = 0x08;
    /// The VF's `IPU_MASK`.
    pub const IPU_MASK: usize = 0x0c;
    /// `VPU_MASK`.
    pub const VPU_MASK: usize = 0x10;
    /// `JPU_MASK`.
    pub const JPU_MASK: usize = 0x14;
    /// `MEM_SIZE_MB`.
    pub const MEM_SIZE_MB: usize = 0x18;
    /// `CAP_IPU | CAP_VPU << 8 | CAP_JPU << 16`.
    pub const CAPS: usize = 0x1c;
    /// Stream ID (8 bytes).
    pub const STREAM_ID: usize = 0x20;
    /// The blob's number in the stream.
    pub const NUMBER: usize = 0x28;
    /// The PF driver's word.
    pub const DRIVER_WORD: usize = 0x2c;
    /// `FAULT_COUNT`.
    pub const FAULT_COUNT: usize = 0x30;
    /// `FAULT_CODE`.
    pub const FAULT_CODE: usize = 0x34;
    /// `FAULT_ADDR` (8 bytes).
    pub const FAULT_ADDR: usize = 0x38;
}

/// Offsets in the `REGISTERS` section.
pub mod reg_off {
    /// `SCRATCH`.
    pub const SCRATCH: usize = 0x00;
    /// `MISUSE_COUNT`.
    pub const MISUSE_COUNT: usize = 0x04;
    /// `INT_STATUS`.
    pub const INT_STATUS: usize = 0x08;
    /// `INT_ENABLE`.
    pub const INT_ENABLE: usize = 0x0c;
    /// `Q_BASE` (8 bytes).
    pub const Q_BASE: usize = 0x10;
    /// `CQ_BASE` (8 bytes).
    pub const CQ_BASE: usize = 0x18;
    /// `Q_SIZE`.
    pub const Q_SIZE: usize = 0x20;
    /// `Q_HEAD`.
    pub const Q_HEAD: usize = 0x24;
    /// `Q_TAIL`.
    pub const Q_TAIL: usize = 0x28;
    /// `Q_STATUS`.
    pub const Q_STATUS: usize = 0x2c;
    /// `Q_ERROR`.
    pub const Q_ERROR: usize = 0x30;
    /// `Q_DONE`.
    pub const Q_DONE: usize = 0x34;
    /// The held `Q_CTRL` write.
    pub const HELD_CTRL: usize = 0x38;
    /// `INT_STATUS` bits whose messages the pause held back.
    pub const HELD_INTS: usize = 0x3c;
    /// Time (ns) the job in flight still needs (8 bytes).
    pub const REMAINING_NS: usize = 0x40;
    /// That job's total cost, ns (8 bytes).
    pub const TOTAL_NS: usize = 0x48;
    /// Reserved (16 bytes).
    pub const RESERVED: usize = 0x50;
    /// The job in flight's descriptor (64 bytes).
    pub const JOB: usize = 0x60;
}

/// Offsets in the `MAILBOX` section.
pub mod mbox_off {
    /// The VF's message (`MB_OUT`, 64 bytes).
    pub const VF_MSG: usize = 0x00;
    /// The PF's message (`MB_IN`, 64 bytes).
    pub const PF_MSG: usize = 0x40;
    /// Flags.
    pub const FLAGS: usize = 0x80;
    /// Reserved.
    pub const RESERVED: usize = 0x84;
}

/// Every `INT_STATUS` cause the card has.
pub const INT_ALL: u32 = 0x3f;
/// `Q_STATUS.ENABLED`.
pub const Q_STATUS_ENABLED: u32 = 1 << 0;
/// `Q_STATUS.BUSY`: a job is in flight.
pub const Q_STATUS_BUSY: u32 = 1 << 1;
/// `Q_STATUS.STOPPED`.
pub const Q_STATUS_STOPPED: u32 = 1 << 2;
/// Held `Q_CTRL` write: bit 31 says one is held.
pub const HELD_CTRL_HELD: u32 = 1 << 31;
/// Held `Q_CTRL` write: its `ENABLE` bit.
pub const HELD_CTRL_ENABLE: u32 = 1 << 0;
/// Mailbox flag `OUT_BUSY`: the VF's message was sent.
pub const MB_OUT_BUSY: u32 = 1 << 0;
/// Mailbox flag: the source PF had been told of the VF's message.
pub const MB_PF_TOLD: u32 = 1 << 1;
/// Mailbox flag `IN_VALID`: the PF's message waits for the VF's `MB_ACK`.
pub const MB_IN_VALID: u32 = 1 << 2;

/// Smallest ring the card enables.
pub const Q_MIN_SIZE: u32 = 2;
/// Largest ring the card enables.
pub const Q_MAX_SIZE: u32 = 4096;
/// Alignment of both ring bases (a power of two).
pub const Q_ALIGN: u64 = 64;
/// Highest status code (`BAD_QUEUE`) a `Q_ERROR` or `FAULT_CODE` can hold.
pub const MAX_STATUS_CODE: u32 = 8;
/// Bound on a job's time the card's own checks use.
pub const MAX_JOB_NS: u64 = 1 << 32;
/// Time a job the card refuses before running takes (bad opcode, length,
/// slice or engine).
pub const ERROR_COST_NS: u64 = 1000;

/// Kind of a blob, header offset 0x06.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The last blob of a stream: registers, mailbox, pages, end.
    State,
    /// One pre-copy round: pages only.
    Pages,
}

impl Kind {
    /// Wire value.
    pub const fn as_u16(self) -> u16 {
        match self {
            Self::State => 1,
            Self::Pages => 2,
        }
    }

    /// Kind of a wire value, if known.
    pub const fn from_u16(v: u16) -> Option<Self> {
        match v {
            1 => Some(Self::State),
            2 => Some(Self::Pages),
            _ => None,
        }
    }

    /// The sections a blob of this kind has, in their order.
    pub const fn sections(self) -> &'static [SectionType] {
        match self {
            Self::State => &[
                SectionType::Descriptor,
                SectionType::Registers,
                SectionType::Mailbox,
                SectionType::Pages,
                SectionType::End,
            ],
            Self::Pages => &[SectionType::Descriptor, SectionType::Pages],
        }
    }
}

/// Type of a section, table entry offset 0x00. The order of the variants
/// is the order of the sections in a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SectionType {
    /// Who the state belongs to (every blob).
    Descriptor,
    /// The VF's registers and job in flight (state blob).
    Registers,
    /// Both mailbox channels (state blob).
    Mailbox,
    /// Runs of pages of the slice (every blob).
    Pages,
    /// The number of blobs in the stream (state blob).
    End,
}

impl SectionType {
    /// Wire value.
    pub const fn as_u32(self) -> u32 {
        match self {
            Self::Descriptor => 1,
            Self::Registers => 2,
            Self::Mailbox => 3,
            Self::Pages => 4,
            Self::End => 5,
        }
    }

    /// Type of a wire value, if known.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Descriptor),
            2 => Some(Self::Registers),
            3 => Some(Self::Mailbox),
            4 => Some(Self::Pages),
            5 => Some(Self::End),
            _ => None,
        }
    }

    /// The exact length of a fixed-size section; `None` for `PAGES`.
    pub const fn fixed_len(self) -> Option<usize> {
        match self {
            Self::Descriptor => Some(DESCRIPTOR_LEN),
            Self::Registers => Some(REGISTERS_LEN),
            Self::Mailbox => Some(MAILBOX_LEN),
            Self::Pages => None,
            Self::End => Some(END_LEN),
        }
    }
}

/// Why a stream was refused: one variant per check, so that the log line
/// says which one failed ([`MigError::reason`]).
///
/// Every variant but the `Other*` ones and [`MigError::TargetCannotMigrate`]
/// means *malformed* (`EINVAL`): the bytes are not a stream a card can
/// produce. The others mean *incompatible* (`EOPNOTSUPP`): a well-formed
/// stream for another VF, slice, card or driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigError {
    /// Header: not `"MLUM"`.
    BadMagic,
    /// Header: format version other than 1.
    BadFormatVersion,
    /// Header: kind neither 1 (state) nor 2 (pages).
    BadKind,
    /// Header: section count not 1..8.
    BadSectionCount,
    /// Header: total length above 257 MiB or below header and table.
    BadTotalLength,
    /// Header: CRC-32 of the header and table does not match.
    BadHeaderCrc,
    /// Table: a section type other than 1..5.
    UnknownSection,
    /// Table: a section type twice.
    DuplicateSection,
    /// Table: types not in the order of the format.
    SectionOrder,
    /// Table: a section starts inside the header, the table or the previous
    /// section.
    SectionOverlap,
    /// Table: bytes between two sections (or between table and first).
    SectionGap,
    /// Table: a section ends beyond the blob's total length.
    SectionOutsideBlob,
    /// Table: bytes after the last section.
    BlobNotFilled,
    /// Table: a section the kind requires is absent.
    MissingSection,
    /// Table: a section the kind does not have.
    UnexpectedSection,
    /// Table: a fixed-size section of another length.
    BadSectionLength,
    /// Table: the `PAGES` entry's CRC field is not 0.
    PagesCrcNotZero,
    /// `DESCRIPTOR`: CRC-32 mismatch.
    BadDescriptorCrc,
    /// `REGISTERS`: CRC-32 mismatch.
    BadRegistersCrc,
    /// `MAILBOX`: CRC-32 mismatch.
    BadMailboxCrc,
    /// `END`: CRC-32 mismatch.
    BadEndCrc,
    /// `DESCRIPTOR`: reserved byte not zero.
    DescriptorReserved,
    /// `DESCRIPTOR`: VF index not 0..3.
    BadVfIndex,
    /// `DESCRIPTOR`: a slice above 256 MiB, which cannot migrate.
    SliceTooLarge,
    /// `DESCRIPTOR`: a fault record the card cannot hold.
    BadFaultRecord,
    /// `DESCRIPTOR`: the blob's number does not count up from 0.
    BadBlobNumber,
    /// `DESCRIPTOR`: differs from the first blob's beyond the number.
    DescriptorChanged,
    /// Stream: more than 2^32 blobs.
    TooManyBlobs,
    /// `PAGES`: a run's count not 1..64.
    BadRunCount,
    /// `PAGES`: a run beyond the end of the slice.
    RunPastSlice,
    /// `PAGES`: a run beyond the end of its section.
    RunPastSection,
    /// `PAGES`: a page twice in one blob.
    DuplicatePage,
    /// `PAGES`: a run's CRC-32 does not match its header and pages.
    BadRunCrc,
    /// `REGISTERS`: reserved bytes not zero.
    RegistersReserved,
    /// `REGISTERS`: an interrupt bit the card does not have.
    BadIntBits,
    /// `REGISTERS`: `Q_STATUS` bits or combination the card cannot reach.
    BadQueueStatus,
    /// `REGISTERS`: `Q_ERROR` is not a status code.
    BadQueueError,
    /// `REGISTERS`: an enabled queue with a size the card refuses.
    BadQueueSize,
    /// `REGISTERS`: an enabled queue with an unaligned ring base.
    BadQueueBase,
    /// `REGISTERS`: `Q_HEAD` or `Q_TAIL` outside the ring.
    BadQueuePointer,
    /// `REGISTERS`: a held `Q_CTRL` write the card cannot hold.
    BadHeldCtrl,
    /// `REGISTERS`: a job descriptor or time without `Q_STATUS.BUSY`.
    JobWhileIdle,
    /// `REGISTERS`: a job cost other than the cost model's.
    BadJobCost,
    /// `REGISTERS`: more time left than the job costs.
    BadJobTime,
    /// `MAILBOX`: flags the card does not have.
    BadMailboxFlags,
    /// `MAILBOX`: "PF told" of a message that was not sent.
    ToldWithoutMessage,
    /// `MAILBOX`: reserved bytes not zero.
    MailboxReserved,
    /// `END`: the count is not the number of blobs.
    BadEndCount,
    /// `END`: reserved bytes not zero.
    EndReserved,
    /// Stream: bytes after the state blob.
    TrailingData,
    /// Stream: ends inside a blob.
    Truncated,
    /// Stream: ends without a state blob.
    NoStateBlob,
    /// Caller: the page bitmap is smaller than the target slice needs.
    BitmapTooSmall,
    /// Incompatible: another PCI device or revision.
    OtherDevice,
    /// Incompatible: another migration interface version.
    OtherInterface,
    /// Incompatible: another PF driver word (protocol or layout).
    OtherDriver,
    /// Incompatible: another VF index.
    OtherVf,
    /// Incompatible: another partition entry.
    OtherSlice,
    /// Incompatible: a card with other engines (`CAP_*`).
    OtherCard,
    /// Incompatible: the target's slice cannot migrate (empty or above
    /// 256 MiB).
    TargetCannotMigrate,
}

/// `EINVAL`.
const EINVAL: i32 = 22;
/// `EOPNOTSUPP`.
const EOPNOTSUPP: i32 = 95;

impl MigError {
    /// True for a valid stream meant for another VF, slice, card or driver.
    pub const fn is_incompatible(self) -> bool {
        matches!(
            self,
            Self::OtherDevice
                | Self::OtherInterface
                | Self::OtherDriver
                | Self::OtherVf
                | Self::OtherSlice
                | Self::OtherCard
                | Self::TargetCannotMigrate
        )
    }

    /// The positive errno: `EOPNOTSUPP` when incompatible, else `EINVAL`.
    pub const fn errno(self) -> i32 {
        if self.is_incompatible() {
            EOPNOTSUPP
        } else {
            EINVAL
        }
    }

    /// A short reason for the log line.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::BadMagic => "bad magic",
            Self::BadFormatVersion => "unknown blob format version",
            Self::BadKind => "unknown blob kind",
            Self::BadSectionCount => "section count not 1..8",
            Self::BadTotalLength => "total length out of range",
            Self::BadHeaderCrc => "header CRC mismatch",
            Self::UnknownSection => "unknown section type",
            Self::DuplicateSection => "section type twice",
            Self::SectionOrder => "sections out of order",
            Self::SectionOverlap => "sections overlap",
            Self::SectionGap => "gap before a section",
            Self::SectionOutsideBlob => "section outside the blob",
            Self::BlobNotFilled => "bytes after the last section",
            Self::MissingSection => "required section missing",
            Self::UnexpectedSection => "section not allowed in this kind of blob",
            Self::BadSectionLength => "wrong section length",
            Self::PagesCrcNotZero => "PAGES table CRC not 0",
            Self::BadDescriptorCrc => "DESCRIPTOR CRC mismatch",
            Self::BadRegistersCrc => "REGISTERS CRC mismatch",
            Self::BadMailboxCrc => "MAILBOX CRC mismatch",
            Self::BadEndCrc => "END CRC mismatch",
            Self::DescriptorReserved => "DESCRIPTOR reserved byte set",
            Self::BadVfIndex => "VF index out of range",
            Self::SliceTooLarge => "slice above 256 MiB",
            Self::BadFaultRecord => "impossible fault record",
            Self::BadBlobNumber => "blob number out of sequence",
            Self::DescriptorChanged => "DESCRIPTOR differs from the first blob's",
            Self::TooManyBlobs => "more than 2^32 blobs",
            Self::BadRunCount => "run count not 1..64",
            Self::RunPastSlice => "run past the end of the slice",
            Self::RunPastSection => "run past the end of its section",
            Self::DuplicatePage => "page twice in one blob",
            Self::BadRunCrc => "run CRC mismatch",
            Self::RegistersReserved => "REGISTERS reserved bytes set",
            Self::BadIntBits => "unknown interrupt bits",
            Self::BadQueueStatus => "impossible Q_STATUS",
            Self::BadQueueError => "unknown Q_ERROR",
            Self::BadQueueSize => "impossible Q_SIZE",
            Self::BadQueueBase => "unaligned ring base",
            Self::BadQueuePointer => "Q_HEAD or Q_TAIL outside the ring",
            Self::BadHeldCtrl => "impossible held Q_CTRL",
            Self::JobWhileIdle => "job state without BUSY",
            Self::BadJobCost => "job cost not the cost model's",
            Self::BadJobTime => "job time left above its cost",
            Self::BadMailboxFlags => "unknown mailbox flags",
            Self::ToldWithoutMessage => "PF told of no message",
            Self::MailboxReserved => "MAILBOX reserved bytes set",
            Self::BadEndCount => "END count is not the number of blobs",
            Self::EndReserved => "END reserved bytes set",
            Self::TrailingData => "data after the state blob",
            Self::Truncated => "stream ends inside a blob",
            Self::NoStateBlob => "stream ends without a state blob",
            Self::BitmapTooSmall => "page bitmap too small",
            Self::OtherDevice => "another PCI device or revision",
            Self::OtherInterface => "another migration interface version",
            Self::OtherDriver => "another PF driver (protocol or layout)",
            Self::OtherVf => "another VF index",
            Self::OtherSlice => "another slice",
            Self::OtherCard => "another card (CAP_*)",
            Self::TargetCannotMigrate => "target slice cannot migrate",
        }
    }
}

impl fmt::Display for MigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// The kernel's printing macros (`pr_warn!`, `dev_warn!`, ...) format their
/// arguments with `kernel::fmt::Display`, a copy of `core::fmt::Display`:
/// forward it, so that a log line can print a [`MigError`], a
/// [`SourceEnd`] and a [`Target`] with `{}`. Kernel builds only: the host
/// build of this file has no kernel crate.
#[cfg(CONFIG_RUST = "y")]
mod kernel_fmt {
    use super::{MigError, SourceEnd, Target};
    use core::fmt;

    macro_rules! forward_display {
        ($($ty:ty),* $(,)?) => {
            $(
                impl kernel::fmt::Display for $ty {
                    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        fmt::Display::fmt(self, f)
                    }
                }
            )*
        };
    }

    forward_display!(MigError, SourceEnd, Target);
}

/// CRC-32 tables for slicing-by-8, built at compile time.
///
/// Indexing in a `const fn` cannot panic at run time: an out-of-bounds
/// index would fail the build.
#[allow(clippy::indexing_slicing)]
const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

/// Entry `x & 0xff` of table `s` (the masks make the lookups provably in
/// bounds, so no panic path is generated).
#[inline(always)]
fn crc_t(s: usize, x: u32) -> u32 {
    CRC_TABLES
        .get(s & 7)
        .and_then(|t| t.get((x & 0xff) as usize))
        .copied()
        .unwrap_or(0)
}

/// The standard reflected CRC-32 (IEEE 802.3, zlib's `crc32()`), fed in
/// pieces: pages go by in whatever chunks the caller's writes cut them.
#[derive(Clone, Copy, Debug)]
pub struct Crc32(u32);

impl Crc32 {
    /// A CRC of nothing yet.
    pub const fn new() -> Self {
        Self(0xffff_ffff)
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        let mut c = self.0;
        let mut blocks = data.chunks_exact(8);
        for b in &mut blocks {
            let Some(b) = b.first_chunk::<8>() else {
                break;
            };
            let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) ^ c;
            let hi = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            c = crc_t(7, lo)
                ^ crc_t(6, lo >> 8)
                ^ crc_t(5, lo >> 16)
                ^ crc_t(4, lo >> 24)
                ^ crc_t(3, hi)
                ^ crc_t(2, hi >> 8)
                ^ crc_t(1, hi >> 16)
                ^ crc_t(0, hi >> 24);
        }
        for &byte in blocks.remainder() {
            c = crc_t(0, c ^ u32::from(byte)) ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The CRC of everything added.
    pub const fn value(&self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-32 of `data` in one go.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.value()
}

/// Little-endian `u16` at `off` of `b` (0 if out of bounds, which the
/// fixed-size callers rule out).
fn le16(b: &[u8], off: usize) -> u16 {
    b.get(off..off.saturating_add(2))
        .and_then(|s| s.first_chunk::<2>())
        .map_or(0, |a| u16::from_le_bytes(*a))
}

/// Little-endian `u32` at `off` of `b`, see [`le16`].
fn le32(b: &[u8], off: usize) -> u32 {
    b.get(off..off.saturating_add(4))
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |a| u32::from_le_bytes(*a))
}

/// Little-endian `u64` at `off` of `b`, see [`le16`].
fn le64(b: &[u8], off: usize) -> u64 {
    b.get(off..off.saturating_add(8))
        .and_then(|s| s.first_chunk::<8>())
        .map_or(0, |a| u64::from_le_bytes(*a))
}

/// True when `b[from..to]` exists and is all zero.
fn zero(b: &[u8], from: usize, to: usize) -> bool {
    b.get(from..to).is_some_and(|s| s.iter().all(|&x| x == 0))
}

/// A VF's partition entry as the `DESCRIPTOR` carries it: what the guest
/// can see of its slice (the base is invisible to it and may differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Partition {
    /// `IPU_MASK`.
    pub ipu_mask: u32,
    /// `VPU_MASK`.
    pub vpu_mask: u32,
    /// `JPU_MASK`.
    pub jpu_mask: u32,
    /// `MEM_SIZE_MB`.
    pub mem_size_mb: u32,
}

impl Partition {
    /// The entry of `slice`.
    pub const fn of(slice: &Slice) -> Self {
        Self {
            ipu_mask: slice.ipu_mask as u32,
            vpu_mask: slice.vpu_mask as u32,
            jpu_mask: slice.jpu_mask as u32,
            mem_size_mb: slice.mem_size_mb,
        }
    }

    /// Bytes of the slice's memory window.
    pub const fn mem_bytes(&self) -> u64 {
        (self.mem_size_mb as u64) << 20
    }
}

/// A decoded `DESCRIPTOR`: who the state belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// PCI device ID of the source PF.
    pub device_id: u16,
    /// PCI revision ID of the source PF.
    pub revision: u8,
    /// Migration interface version of the source card.
    pub interface: u32,
    /// VF index.
    pub vf: u32,
    /// The VF's partition entry.
    pub partition: Partition,
    /// `CAP_IPU | CAP_VPU << 8 | CAP_JPU << 16`.
    pub caps: u32,
    /// Random ID of the stream.
    pub stream_id: u64,
    /// The blob's number in the stream.
    pub number: u32,
    /// The source PF driver's word.
    pub driver_word: u32,
    /// The VF's `FAULT_COUNT` (information for the target PF driver).
    pub fault_count: u32,
    /// The VF's `FAULT_CODE`.
    pub fault_code: u32,
    /// The VF's `FAULT_ADDR`.
    pub fault_addr: u64,
}

impl Descriptor {
    /// Decodes and checks a `DESCRIPTOR` on its own (not its CRC, not the
    /// stream context, not compatibility: see [`check_compat`]).
    ///
    /// Values out of any card's range (VF index, slice size, fault record)
    /// make it malformed; values that are merely not this target's are left
    /// to [`check_compat`].
    pub fn decode(raw: &[u8; DESCRIPTOR_LEN]) -> Result<Self, MigError> {
        use desc_off as o;
        // The reserved byte, and the byte above the three counts of the
        // card word.
        if raw.get(o::RESERVED).copied() != Some(0) || le32(raw, o::CAPS) >> 24 != 0 {
            return Err(MigError::DescriptorReserved);
        }
        let d = Self {
            device_id: le16(raw, o::DEVICE_ID),
            revision: raw.get(o::REVISION).copied().unwrap_or(0),
            interface: le32(raw, o::INTERFACE),
            vf: le32(raw, o::VF),
            partition: Partition {
                ipu_mask: le32(raw, o::IPU_MASK),
                vpu_mask: le32(raw, o::VPU_MASK),
                jpu_mask: le32(raw, o::JPU_MASK),
                mem_size_mb: le32(raw, o::MEM_SIZE_MB),
            },
            caps: le32(raw, o::CAPS),
            stream_id: le64(raw, o::STREAM_ID),
            number: le32(raw, o::NUMBER),
            driver_word: le32(raw, o::DRIVER_WORD),
            fault_count: le32(raw, o::FAULT_COUNT),
            fault_code: le32(raw, o::FAULT_CODE),
            fault_addr: le64(raw, o::FAULT_ADDR),
        };
        if d.vf >= MAX_VFS as u32 {
            return Err(MigError::BadVfIndex);
        }
        if d.partition.mem_size_mb > MAX_SLICE_MB {
            return Err(MigError::SliceTooLarge);
        }
        // As the card's own checks: a status code, and nothing recorded
        // before the first fault.
        if d.fault_code > MAX_STATUS_CODE
            || (d.fault_count == 0 && (d.fault_code != 0 || d.fault_addr != 0))
        {
            return Err(MigError::BadFaultRecord);
        }
        Ok(d)
    }

    /// The source end, for the log line of a refusal.
    pub const fn source(&self) -> SourceEnd {
        SourceEnd {
            device_id: self.device_id,
            revision: self.revision,
            vf: self.vf,
            partition: self.partition,
            stream_id: self.stream_id,
        }
    }
}

/// The source of a stream as its `DESCRIPTOR` names it; `Display` gives
/// the source half of the log line of a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceEnd {
    /// PCI device ID of the source PF.
    pub device_id: u16,
    /// PCI revision ID of the source PF.
    pub revision: u8,
    /// VF index on the source card.
    pub vf: u32,
    /// The VF's partition entry there.
    pub partition: Partition,
    /// The stream's ID.
    pub stream_id: u64,
}

impl fmt::Display for SourceEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.partition;
        write!(
            f,
            "VF {} of a {:04x} rev {} (IPU {:#x} VPU {:#x} JPU {:#x} {} MiB, stream {:016x})",
            self.vf,
            self.device_id,
            self.revision,
            p.ipu_mask,
            p.vpu_mask,
            p.jpu_mask,
            p.mem_size_mb,
            self.stream_id
        )
    }
}

/// The VF a stream is loaded into and what the target PF driver expects;
/// `Display` gives the target half of the log line of a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// PCI device ID of the target PF.
    pub device_id: u16,
    /// PCI revision ID of the target PF.
    pub revision: u8,
    /// VF index.
    pub vf: u32,
    /// The VF's slice as the target PF programmed it.
    pub slice: Slice,
    /// The target card's engines.
    pub caps: CardCaps,
    /// The target PF driver's word.
    pub driver_word: u32,
}

impl Target {
    /// VF `vf` with `slice` on a card with `caps` and PCI revision
    /// `revision`, under this driver.
    pub const fn new(vf: u32, slice: Slice, caps: CardCaps, revision: u8) -> Self {
        Self {
            device_id: PCI_DEVICE_ID,
            revision,
            vf,
            slice,
            caps,
            driver_word: DRIVER_WORD,
        }
    }

    /// `CAP_IPU | CAP_VPU << 8 | CAP_JPU << 16` of the target card.
    pub const fn cap_word(&self) -> u32 {
        cap_word(&self.caps)
    }

    /// Pages of the slice, if it can migrate (not empty, at most 256 MiB).
    pub const fn pages(&self) -> Option<u32> {
        if self.slice.mem_size_mb == 0 || self.slice.mem_size_mb > MAX_SLICE_MB {
            None
        } else {
            Some(self.slice.mem_size_mb.saturating_mul(PAGES_PER_MB))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = Partition::of(&self.slice);
        write!(
            f,
            "VF {} of a {:04x} rev {} (IPU {:#x} VPU {:#x} JPU {:#x} {} MiB)",
            self.vf,
            self.device_id,
            self.revision,
            p.ipu_mask,
            p.vpu_mask,
            p.jpu_mask,
            p.mem_size_mb
        )
    }
}

/// `DESCRIPTOR`'s card word for `caps`. Each count takes its own byte (the
/// card has 16/4/4 engines, checked when the PF driver binds).
pub const fn cap_word(caps: &CardCaps) -> u32 {
    (caps.ipu_cores & 0xff) | (caps.vpus & 0xff) << 8 | (caps.jpus & 0xff) << 16
}

/// Decides whether a stream whose first `DESCRIPTOR` is `d` can load into
/// `target`: the same device and revision (the card compares both), the
/// same interface version and PF driver word, the same VF index, the same
/// partition entry (masks and size, which the guest can read) and the same
/// `CAP_*`. A stream for anything else is
/// refused with an incompatibility ([`MigError::errno`] `EOPNOTSUPP`), as
/// in the original product: a VF only moves to the same slice of an
/// identically partitioned card.
pub fn check_compat(d: &Descriptor, target: &Target) -> Result<(), MigError> {
    if target.pages().is_none() {
        return Err(MigError::TargetCannotMigrate);
    }
    if d.device_id != target.device_id || d.revision != target.revision {
        return Err(MigError::OtherDevice);
    }
    if d.interface != INTERFACE_VERSION {
        return Err(MigError::OtherInterface);
    }
    // The driver's word first (migration.rst, Loading): the rest is the
    // card's business, the word is only the driver's. The same planner,
    // and a version the VF negotiated that this driver speaks.
    if d.driver_word >> 16 != target.driver_word >> 16 {
        return Err(MigError::OtherDriver);
    }
    match word_version(d.driver_word) {
        Ok(Some(v)) if v.as_u16() > (target.driver_word & 0xffff) as u16 => {
            return Err(MigError::OtherDriver)
        }
        Err(e) => return Err(e),
        _ => {}
    }
    if d.vf != target.vf {
        return Err(MigError::OtherVf);
    }
    if d.partition != Partition::of(&target.slice) {
        return Err(MigError::OtherSlice);
    }
    if d.caps != target.cap_word() {
        return Err(MigError::OtherCard);
    }
    Ok(())
}

/// Job descriptor offsets and opcodes (`hardware.rst`, "Job descriptor",
/// "Operations"), as far as the cost model needs them. Kept here rather
/// than taken from `uapi.rs`, which needs the kernel crate.
mod job {
    pub(super) const OPCODE: usize = 0x00;
    pub(super) const SRC: usize = 0x10;
    pub(super) const DST: usize = 0x18;
    pub(super) const AUX: usize = 0x20;
    pub(super) const LEN: usize = 0x28;
    pub(super) const ARG0: usize = 0x2c;
    pub(super) const ARG1: usize = 0x30;
    pub(super) const ARG2: usize = 0x34;

    pub(super) const NOP: u32 = 0x00;
    pub(super) const DMA_H2D: u32 = 0x01;
    pub(super) const DMA_D2H: u32 = 0x02;
    pub(super) const IPU_MEMCPY: u32 = 0x10;
    pub(super) const IPU_FILL: u32 = 0x11;
    pub(super) const IPU_CRC32: u32 = 0x12;
    pub(super) const IPU_MATMUL_I8: u32 = 0x13;
    pub(super) const VPU_DELTA_ENC: u32 = 0x20;
    pub(super) const VPU_DELTA_DEC: u32 = 0x21;
    pub(super) const JPU_ZIGZAG: u32 = 0x30;
    pub(super) const JPU_UNZIGZAG: u32 = 0x31;

    /// Largest `len`.
    pub(super) const MAX_LEN: u32 = 16 << 20;
    /// Largest matrix dimension.
    pub(super) const MAX_DIM: u32 = 256;
    /// JPU ops work on blocks of this many bytes (a power of two).
    pub(super) const JPU_BLOCK: u32 = 64;
}

/// The engine kind a job needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    None,
    Ipu,
    Vpu,
    Jpu,
}

const fn engine(opcode: u32) -> Option<Engine> {
    match opcode {
        job::NOP => Some(Engine::None),
        job::DMA_H2D
        | job::DMA_D2H
        | job::IPU_MEMCPY
        | job::IPU_FILL
        | job::IPU_CRC32
        | job::IPU_MATMUL_I8 => Some(Engine::Ipu),
        job::VPU_DELTA_ENC | job::VPU_DELTA_DEC => Some(Engine::Vpu),
        job::JPU_ZIGZAG | job::JPU_UNZIGZAG => Some(Engine::Jpu),
        _ => None,
    }
}

/// `[addr, addr + len)` inside a window of `size` bytes, without wrapping.
fn in_window(size: u64, addr: u64, len: u64) -> bool {
    size.checked_sub(addr).is_some_and(|room| len <= room)
}

/// True when the card runs job `d` on slice `p` (the checks it makes
/// before running a job: opcode, engine, arguments, ranges).
fn job_runs(d: &[u8; 64], p: &Partition) -> bool {
    let op = le32(d, job::OPCODE);
    let Some(eng) = engine(op) else {
        return false;
    };
    let missing = match eng {
        Engine::None => false,
        Engine::Ipu => p.ipu_mask == 0,
        Engine::Vpu => p.vpu_mask == 0,
        Engine::Jpu => p.jpu_mask == 0,
    };
    if missing {
        return false;
    }
    let len = le32(d, job::LEN);
    let (m, n, k) = (le32(d, job::ARG0), le32(d, job::ARG1), le32(d, job::ARG2));
    if op == job::IPU_MATMUL_I8 {
        let dim_ok = |x: u32| (1..=job::MAX_DIM).contains(&x);
        if !dim_ok(m) || !dim_ok(n) || !dim_ok(k) {
            return false;
        }
    } else if op != job::NOP {
        if len == 0 || len > job::MAX_LEN {
            return false;
        }
        if eng == Engine::Jpu && len & (job::JPU_BLOCK - 1) != 0 {
            return false;
        }
    }
    let size = p.mem_bytes();
    let (src, dst, aux) = (le64(d, job::SRC), le64(d, job::DST), le64(d, job::AUX));
    let len = u64::from(len);
    let (m, n, k) = (u64::from(m), u64::from(n), u64::from(k));
    match op {
        job::NOP => true,
        job::DMA_H2D | job::IPU_FILL => in_window(size, dst, len),
        job::DMA_D2H | job::IPU_CRC32 => in_window(size, src, len),
        job::IPU_MATMUL_I8 => {
            // Dimensions are at most 256: no product overflows.
            in_window(size, src, m.saturating_mul(k))
                && in_window(size, aux, k.saturating_mul(n))
                && in_window(size, dst, m.saturating_mul(n).saturating_mul(4))
        }
        _ => in_window(size, src, len) && in_window(size, dst, len),
    }
}

/// The virtual time job `d` takes on slice `p` (`hardware.rst`, "Cost
/// model"): W * 16 / IPU cores, W * 4 / VPUs or W * 4 / JPUs, with W the
/// length, M * N * K for a matrix product, 64 for NOP; 1000 ns for a job
/// the card refuses before running it.
///
/// The card computes it when it starts a job, from the same descriptor and
/// slice, and a checkpoint keeps it; the target then runs the job for the
/// time left. So a state blob's job cost must be exactly this, and the
/// time left at most this: anything else is a job the card never ran.
pub fn job_cost_ns(d: &[u8; 64], p: &Partition) -> u64 {
    if !job_runs(d, p) {
        return ERROR_COST_NS;
    }
    let op = le32(d, job::OPCODE);
    let work = match op {
        job::NOP => 64,
        job::IPU_MATMUL_I8 => u64::from(le32(d, job::ARG0))
            .saturating_mul(u64::from(le32(d, job::ARG1)))
            .saturating_mul(u64::from(le32(d, job::ARG2))),
        _ => u64::from(le32(d, job::LEN)),
    };
    let (n, total) = match engine(op) {
        Some(Engine::Vpu) => (p.vpu_mask.count_ones(), 4),
        Some(Engine::Jpu) => (p.jpu_mask.count_ones(), 4),
        _ => (p.ipu_mask.count_ones(), 16),
    };
    work.saturating_mul(total)
        .checked_div(u64::from(n.max(1)))
        .unwrap_or(0)
}

/// A decoded `REGISTERS` section: the VF's registers and job in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registers {
    /// `SCRATCH`.
    pub scratch: u32,
    /// `MISUSE_COUNT`.
    pub misuse_count: u32,
    /// `INT_STATUS`.
    pub int_status: u32,
    /// `INT_ENABLE`.
    pub int_enable: u32,
    /// `Q_BASE`.
    pub q_base: u64,
    /// `CQ_BASE`.
    pub cq_base: u64,
    /// `Q_SIZE`.
    pub q_size: u32,
    /// `Q_HEAD`.
    pub q_head: u32,
    /// `Q_TAIL`.
    pub q_tail: u32,
    /// `Q_STATUS`.
    pub q_status: u32,
    /// `Q_ERROR`.
    pub q_error: u32,
    /// `Q_DONE`.
    pub q_done: u32,
    /// The held `Q_CTRL` write (0 if none).
    pub held_ctrl: u32,
    /// `INT_STATUS` bits whose messages the pause held back.
    pub held_ints: u32,
    /// Time the job in flight still needs, ns.
    pub remaining_ns: u64,
    /// That job's total cost, ns.
    pub total_ns: u64,
    /// The job in flight's descriptor (zero without one).
    pub job: [u8; 64],
}

impl Registers {
    /// Decodes a `REGISTERS` section and checks that the card can reach
    /// its values on a VF whose partition entry is `p` (`hardware.rst`,
    /// "Job queue block", "VF migration windows" and "Migration").
    ///
    /// The rules are the card's, not a tidier subset: a guest can write
    /// any `Q_SIZE` and ring bases while its queue is disabled (the card
    /// checks them when the queue is enabled) and keeps `Q_HEAD` and
    /// `Q_TAIL` across a disable, so only an *enabled* queue must have a
    /// valid geometry; refusing more would let a guest make its VF
    /// impossible to migrate.
    pub fn decode(raw: &[u8; REGISTERS_LEN], p: &Partition) -> Result<Self, MigError> {
        use reg_off as o;
        if !zero(raw, o::RESERVED, o::JOB) {
            return Err(MigError::RegistersReserved);
        }
        let mut job = [0u8; 64];
        if let Some(src) = raw.get(o::JOB..) {
            if src.len() == job.len() {
                job.copy_from_slice(src);
            }
        }
        let r = Self {
            scratch: le32(raw, o::SCRATCH),
            misuse_count: le32(raw, o::MISUSE_COUNT),
            int_status: le32(raw, o::INT_STATUS),
            int_enable: le32(raw, o::INT_ENABLE),
            q_base: le64(raw, o::Q_BASE),
            cq_base: le64(raw, o::CQ_BASE),
            q_size: le32(raw, o::Q_SIZE),
            q_head: le32(raw, o::Q_HEAD),
            q_tail: le32(raw, o::Q_TAIL),
            q_status: le32(raw, o::Q_STATUS),
            q_error: le32(raw, o::Q_ERROR),
            q_done: le32(raw, o::Q_DONE),
            held_ctrl: le32(raw, o::HELD_CTRL),
            held_ints: le32(raw, o::HELD_INTS),
            remaining_ns: le64(raw, o::REMAINING_NS),
            total_ns: le64(raw, o::TOTAL_NS),
            job,
        };
        r.check(p)?;
        Ok(r)
    }

    fn check(&self, p: &Partition) -> Result<(), MigError> {
        if (self.int_status | self.int_enable | self.held_ints) & !INT_ALL != 0 {
            return Err(MigError::BadIntBits);
        }
        let enabled = self.q_status & Q_STATUS_ENABLED != 0;
        let busy = self.q_status & Q_STATUS_BUSY != 0;
        let stopped = self.q_status & Q_STATUS_STOPPED != 0;
        // A job runs only on a running queue (enabled, not stopped).
        if self.q_status & !(Q_STATUS_ENABLED | Q_STATUS_BUSY | Q_STATUS_STOPPED) != 0
            || (busy && (!enabled || stopped))
        {
            return Err(MigError::BadQueueStatus);
        }
        if self.q_error > MAX_STATUS_CODE {
            return Err(MigError::BadQueueError);
        }
        if enabled {
            // Enabling checked all of these, and none can change while
            // the queue is enabled.
            if !self.q_size.is_power_of_two() || !(Q_MIN_SIZE..=Q_MAX_SIZE).contains(&self.q_size) {
                return Err(MigError::BadQueueSize);
            }
            if (self.q_base | self.cq_base) & (Q_ALIGN - 1) != 0 {
                return Err(MigError::BadQueueBase);
            }
            if self.q_head >= self.q_size || self.q_tail >= self.q_size {
                return Err(MigError::BadQueuePointer);
            }
        } else if self.q_head >= Q_MAX_SIZE || self.q_tail >= Q_MAX_SIZE {
            // Kept from the last enabled ring, which had at most 4096
            // slots (both are 0 after a reset or an enable).
            return Err(MigError::BadQueuePointer);
        }
        // A held write is bit 31 and an ENABLE bit, and only ever held
        // while a job is in flight (its abort would write a record).
        if self.held_ctrl != 0
            && (self.held_ctrl & !(HELD_CTRL_HELD | HELD_CTRL_ENABLE) != 0
                || self.held_ctrl & HELD_CTRL_HELD == 0
                || !busy)
        {
            return Err(MigError::BadHeldCtrl);
        }
        if !busy {
            if self.remaining_ns != 0 || self.total_ns != 0 || self.job.iter().any(|&b| b != 0) {
                return Err(MigError::JobWhileIdle);
            }
            return Ok(());
        }
        if self.total_ns > MAX_JOB_NS || self.total_ns != job_cost_ns(&self.job, p) {
            return Err(MigError::BadJobCost);
        }
        if self.remaining_ns > self.total_ns {
            return Err(MigError::BadJobTime);
        }
        Ok(())
    }

    /// True when a job is in flight.
    pub const fn busy(&self) -> bool {
        self.q_status & Q_STATUS_BUSY != 0
    }
}

/// A decoded `MAILBOX` section: both channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mailbox {
    /// The VF's message (`MB_OUT`).
    pub vf_msg: [u8; 64],
    /// The PF's message (`MB_IN`).
    pub pf_msg: [u8; 64],
    /// `MB_OUT_BUSY | MB_PF_TOLD | MB_IN_VALID`.
    pub flags: u32,
}

impl Mailbox {
    /// Decodes a `MAILBOX` section and checks its flags. The messages are
    /// whatever the VF and the PF wrote: the card does not know their
    /// format, and the target PF validates a VF message as any other when
    /// `RESUME` delivers it.
    pub fn decode(raw: &[u8; MAILBOX_LEN]) -> Result<Self, MigError> {
        use mbox_off as o;
        if !zero(raw, o::RESERVED, MAILBOX_LEN) {
            return Err(MigError::MailboxReserved);
        }
        let flags = le32(raw, o::FLAGS);
        if flags & !(MB_OUT_BUSY | MB_PF_TOLD | MB_IN_VALID) != 0 {
            return Err(MigError::BadMailboxFlags);
        }
        if flags & MB_PF_TOLD != 0 && flags & MB_OUT_BUSY == 0 {
            return Err(MigError::ToldWithoutMessage);
        }
        let mut m = Self {
            vf_msg: [0; 64],
            pf_msg: [0; 64],
            flags,
        };
        if let Some(s) = raw.get(o::VF_MSG..o::PF_MSG) {
            if s.len() == 64 {
                m.vf_msg.copy_from_slice(s);
            }
        }
        if let Some(s) = raw.get(o::PF_MSG..o::FLAGS) {
            if s.len() == 64 {
                m.pf_msg.copy_from_slice(s);
            }
        }
        Ok(m)
    }

    /// The VF's message was sent and waits for an answer.
    pub const fn out_busy(&self) -> bool {
        self.flags & MB_OUT_BUSY != 0
    }

    /// The source PF had seen the VF's message (`RESUME` on the target
    /// delivers it as a new one either way).
    pub const fn pf_told(&self) -> bool {
        self.flags & MB_PF_TOLD != 0
    }

    /// The PF's message waits for the VF's `MB_ACK`: the target PF driver
    /// must expect that acknowledgement.
    pub const fn in_valid(&self) -> bool {
        self.flags & MB_IN_VALID != 0
    }
}

/// One section table entry.
#[derive(Clone, Copy, Debug)]
struct Section {
    ty: SectionType,
    len: u32,
    crc: u32,
}

impl Section {
    const NONE: Self = Self {
        ty: SectionType::Descriptor,
        len: 0,
        crc: 0,
    };
}

/// Where in the stream the parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Collecting a blob header.
    Header,
    /// Collecting the section table.
    Table,
    /// Collecting a fixed-size section.
    Fixed,
    /// Collecting a run header.
    RunHeader,
    /// Passing a run's pages through its CRC; bytes left.
    RunPages(u32),
    /// Collecting a run's CRC.
    RunCrc,
    /// The state blob ended: the stream is complete.
    Done,
}

/// The largest piece the parser buffers: the `REGISTERS` section (the
/// table is at most 128 bytes).
const BUF_LEN: usize = REGISTERS_LEN;

/// Validates a migration stream fed in chunks of any size.
///
/// `S` is the page bitmap, at least [`bitmap_words`] of the target's pages
/// (a `KVec<u64>`, a `&mut [u64]`, anything that lends a `[u64]`): the
/// parser marks every page of a blob in it to refuse a page that comes
/// twice, and clears it at each blob.
///
/// The first error sticks: every later call returns it again.
pub struct StreamParser<S> {
    target: Target,
    pages: u32,
    seen: S,
    failed: Option<MigError>,
    phase: Phase,
    /// The piece being collected, `have` of `need` bytes.
    buf: [u8; BUF_LEN],
    have: usize,
    need: usize,
    /// The current blob.
    kind: Kind,
    total_len: u64,
    blob_pos: u64,
    n_sections: usize,
    sections: [Section; MAX_SECTIONS],
    cur: usize,
    header_crc: Crc32,
    header_crc_field: u32,
    section_left: u64,
    run_crc: Crc32,
    run_pages: u32,
    /// The stream so far.
    blobs: u32,
    first: Option<Descriptor>,
    first_raw: [u8; DESCRIPTOR_LEN],
    registers: Option<Registers>,
    mailbox: Option<Mailbox>,
    pages_seen: u64,
    bytes: u64,
}

impl<S: BorrowMut<[u64]>> StreamParser<S> {
    /// A parser for a stream into `target`, with `seen` as page bitmap.
    ///
    /// Fails with [`MigError::TargetCannotMigrate`] for a slice that cannot
    /// migrate and [`MigError::BitmapTooSmall`] if `seen` has fewer than
    /// [`bitmap_words`] of the slice's pages.
    pub fn new(target: Target, mut seen: S) -> Result<Self, MigError> {
        let pages = target.pages().ok_or(MigError::TargetCannotMigrate)?;
        if BorrowMut::<[u64]>::borrow_mut(&mut seen).len() < bitmap_words(pages) {
            return Err(MigError::BitmapTooSmall);
        }
        Ok(Self {
            target,
            pages,
            seen,
            failed: None,
            phase: Phase::Header,
            buf: [0; BUF_LEN],
            have: 0,
            need: HEADER_LEN,
            kind: Kind::Pages,
            total_len: 0,
            blob_pos: 0,
            n_sections: 0,
            sections: [Section::NONE; MAX_SECTIONS],
            cur: 0,
            header_crc: Crc32::new(),
            header_crc_field: 0,
            section_left: 0,
            run_crc: Crc32::new(),
            run_pages: 0,
            blobs: 0,
            first: None,
            first_raw: [0; DESCRIPTOR_LEN],
            registers: None,
            mailbox: None,
            pages_seen: 0,
            bytes: 0,
        })
    }

    /// Takes the next `chunk` of the stream.
    ///
    /// `Ok` means nothing wrong so far; the bytes may end anywhere. An
    /// incompatible stream fails as soon as its first `DESCRIPTOR` is
    /// complete, before any page.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), MigError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let mut input = chunk;
        let r = self.consume(&mut input);
        // Counted before the error is recorded: `offset()` then says
        // where the offending piece ended.
        let used = chunk.len().saturating_sub(input.len());
        self.bytes = self.bytes.saturating_add(used as u64);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    /// Checks that the stream is complete: call it when user space says
    /// the stream ended (before `LOAD_COMMIT`).
    pub fn finish(&self) -> Result<(), MigError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match self.phase {
            Phase::Done => Ok(()),
            Phase::Header if self.have == 0 => Err(MigError::NoStateBlob),
            _ => Err(MigError::Truncated),
        }
    }

    /// True once the state blob is complete.
    pub fn is_complete(&self) -> bool {
        self.failed.is_none() && self.phase == Phase::Done
    }

    /// The error the stream failed with, if it did.
    pub fn error(&self) -> Option<MigError> {
        self.failed
    }

    /// The source named by the first blob's `DESCRIPTOR`, once it was
    /// decoded (also when it was then found incompatible).
    pub fn source(&self) -> Option<SourceEnd> {
        self.first.as_ref().map(Descriptor::source)
    }

    /// The first blob's `DESCRIPTOR` (all blobs' but for the number),
    /// once it was decoded.
    pub fn descriptor(&self) -> Option<&Descriptor> {
        self.first.as_ref()
    }

    /// The target this parser checks against.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The state blob's registers, once the stream is complete.
    pub fn registers(&self) -> Option<&Registers> {
        self.registers.as_ref().filter(|_| self.is_complete())
    }

    /// The state blob's mailbox, once the stream is complete.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        self.mailbox.as_ref().filter(|_| self.is_complete())
    }

    /// Complete blobs so far.
    pub fn blobs(&self) -> u32 {
        self.blobs
    }

    /// Pages whose run CRC matched so far, all blobs together.
    pub fn pages(&self) -> u64 {
        self.pages_seen
    }

    /// Bytes taken so far (up to the end of the offending piece after an
    /// error): the stream offset for a log line.
    pub fn offset(&self) -> u64 {
        self.bytes
    }

    /// The page bitmap.
    fn seen_mut(&mut self) -> &mut [u64] {
        BorrowMut::<[u64]>::borrow_mut(&mut self.seen)
    }

    /// Starts collecting `need` bytes into `buf` in `phase`.
    fn await_piece(&mut self, phase: Phase, need: usize) {
        self.phase = phase;
        self.have = 0;
        self.need = need.min(BUF_LEN);
    }

    /// Moves bytes from `input` into `buf` until `need` are there; true
    /// when they are.
    fn collect(&mut self, input: &mut &[u8]) -> bool {
        let want = self.need.saturating_sub(self.have).min(input.len());
        let (head, rest) = input.split_at_checked(want).unwrap_or((&[], input));
        if let Some(dst) = self.buf.get_mut(self.have..self.have.saturating_add(want)) {
            if dst.len() == head.len() {
                dst.copy_from_slice(head);
            }
        }
        self.have = self.have.saturating_add(head.len());
        self.blob_pos = self.blob_pos.saturating_add(head.len() as u64);
        *input = rest;
        self.have >= self.need
    }

    /// The collected piece.
    fn piece(&self) -> &[u8] {
        self.buf.get(..self.have).unwrap_or(&[])
    }

    fn consume(&mut self, input: &mut &[u8]) -> Result<(), MigError> {
        while !input.is_empty() {
            match self.phase {
                Phase::Done => return Err(MigError::TrailingData),
                Phase::Header => {
                    if self.collect(input) {
                        self.header()?;
                    }
                }
                Phase::Table => {
                    if self.collect(input) {
                        self.table()?;
                        self.enter_section()?;
                    }
                }
                Phase::Fixed => {
                    if self.collect(input) {
                        self.fixed_section()?;
                        self.cur = self.cur.saturating_add(1);
                        self.enter_section()?;
                    }
                }
                Phase::RunHeader => {
                    if self.collect(input) {
                        self.run_header()?;
                    }
                }
                Phase::RunPages(left) => {
                    let n = input.len().min(left as usize);
                    let (pages, rest) = input.split_at_checked(n).unwrap_or((&[], input));
                    self.run_crc.update(pages);
                    self.blob_pos = self.blob_pos.saturating_add(pages.len() as u64);
                    *input = rest;
                    let left = left.saturating_sub(pages.len() as u32);
                    if left == 0 {
                        self.await_piece(Phase::RunCrc, RUN_CRC_LEN);
                    } else {
                        self.phase = Phase::RunPages(left);
                    }
                }
                Phase::RunCrc => {
                    if self.collect(input) {
                        self.run_end()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A blob header is complete: check what it says before the table is
    /// read, so that the table's size is bounded.
    fn header(&mut self) -> Result<(), MigError> {
        let h = self.piece();
        if le32(h, 0x00) != MAGIC {
            return Err(MigError::BadMagic);
        }
        if le16(h, 0x04) != FORMAT_VERSION {
            return Err(MigError::BadFormatVersion);
        }
        let kind = Kind::from_u16(le16(h, 0x06)).ok_or(MigError::BadKind)?;
        let total_len = le64(h, 0x08);
        let n = le32(h, 0x10) as usize;
        if !(1..=MAX_SECTIONS).contains(&n) {
            return Err(MigError::BadSectionCount);
        }
        let table_len = n.saturating_mul(TABLE_ENTRY_LEN);
        let min_len = HEADER_LEN.saturating_add(table_len) as u64;
        if total_len < min_len || total_len > MAX_BLOB_LEN {
            return Err(MigError::BadTotalLength);
        }
        let mut crc = Crc32::new();
        crc.update(h.get(..0x14).unwrap_or(&[]));
        let crc_field = le32(h, 0x14);
        self.header_crc = crc;
        self.header_crc_field = crc_field;
        self.kind = kind;
        self.total_len = total_len;
        self.n_sections = n;
        self.await_piece(Phase::Table, table_len);
        Ok(())
    }

    /// The section table is complete: check the header CRC, then that the
    /// sections are the kind's, in order, back to back from the end of the
    /// table to the end of the blob, with their fixed lengths.
    ///
    /// The format says nothing of padding, and a card has no reason to
    /// leave any; so every byte of a blob is in the header, the table or a
    /// section, and a gap is refused like an overlap.
    fn table(&mut self) -> Result<(), MigError> {
        let mut crc = self.header_crc;
        crc.update(self.piece());
        if crc.value() != self.header_crc_field {
            return Err(MigError::BadHeaderCrc);
        }
        let table_len = self.n_sections.saturating_mul(TABLE_ENTRY_LEN);
        let mut expected_off = HEADER_LEN.saturating_add(table_len) as u64;
        let mut prev: Option<SectionType> = None;
        let required = self.kind.sections();
        for i in 0..self.n_sections {
            let e = i.saturating_mul(TABLE_ENTRY_LEN);
            let raw_ty = le32(self.piece(), e);
            let off = u64::from(le32(self.piece(), e.saturating_add(4)));
            let len = le32(self.piece(), e.saturating_add(8));
            let crc = le32(self.piece(), e.saturating_add(12));
            let ty = SectionType::from_u32(raw_ty).ok_or(MigError::UnknownSection)?;
            match prev {
                Some(p) if p == ty => return Err(MigError::DuplicateSection),
                Some(p) if p > ty => return Err(MigError::SectionOrder),
                _ => {}
            }
            if !required.contains(&ty) {
                return Err(MigError::UnexpectedSection);
            }
            if off < expected_off {
                return Err(MigError::SectionOverlap);
            }
            if off > expected_off {
                return Err(MigError::SectionGap);
            }
            // u32 + u32 in a u64: no overflow.
            let end = off.saturating_add(u64::from(len));
            if end > self.total_len {
                return Err(MigError::SectionOutsideBlob);
            }
            match ty.fixed_len() {
                Some(fixed) if len as usize != fixed => return Err(MigError::BadSectionLength),
                None if crc != 0 => return Err(MigError::PagesCrcNotZero),
                _ => {}
            }
            if let Some(slot) = self.sections.get_mut(i) {
                *slot = Section { ty, len, crc };
            }
            prev = Some(ty);
            expected_off = end;
        }
        // Types are ascending, each one of the kind's: with as many as the
        // kind has, they are all there.
        if self.n_sections != required.len() {
            return Err(MigError::MissingSection);
        }
        if expected_off != self.total_len {
            return Err(MigError::BlobNotFilled);
        }
        self.cur = 0;
        Ok(())
    }

    /// Sets up section `cur`, or ends the blob after the last one.
    fn enter_section(&mut self) -> Result<(), MigError> {
        loop {
            let sec = match self.sections.get(self.cur) {
                Some(s) if self.cur < self.n_sections => *s,
                _ => return self.end_blob(),
            };
            match sec.ty.fixed_len() {
                Some(len) => {
                    self.await_piece(Phase::Fixed, len);
                    return Ok(());
                }
                None => {
                    // A new PAGES section: a new blob's pages.
                    let words = bitmap_words(self.pages);
                    for w in self.seen_mut().iter_mut().take(words) {
                        *w = 0;
                    }
                    if sec.len == 0 {
                        self.cur = self.cur.saturating_add(1);
                        continue;
                    }
                    self.section_left = u64::from(sec.len);
                    return self.start_run();
                }
            }
        }
    }

    /// Expects the next run of the `PAGES` section, if one fits in it.
    fn start_run(&mut self) -> Result<(), MigError> {
        if self.section_left < MIN_RUN_LEN {
            return Err(MigError::RunPastSection);
        }
        self.await_piece(Phase::RunHeader, RUN_HEADER_LEN);
        Ok(())
    }

    /// A fixed-size section is complete: its CRC, then its content.
    fn fixed_section(&mut self) -> Result<(), MigError> {
        let sec = self
            .sections
            .get(self.cur)
            .copied()
            .ok_or(MigError::Truncated)?;
        let crc_error = match sec.ty {
            SectionType::Descriptor => MigError::BadDescriptorCrc,
            SectionType::Registers => MigError::BadRegistersCrc,
            SectionType::Mailbox => MigError::BadMailboxCrc,
            _ => MigError::BadEndCrc,
        };
        if crc32(self.piece()) != sec.crc {
            return Err(crc_error);
        }
        match sec.ty {
            SectionType::Descriptor => self.descriptor_section(),
            SectionType::Registers => {
                let raw = self
                    .piece()
                    .first_chunk::<REGISTERS_LEN>()
                    .ok_or(MigError::Truncated)?;
                let p = self.first.map(|d| d.partition).unwrap_or_default();
                self.registers = Some(Registers::decode(raw, &p)?);
                Ok(())
            }
            SectionType::Mailbox => {
                let raw = self
                    .piece()
                    .first_chunk::<MAILBOX_LEN>()
                    .ok_or(MigError::Truncated)?;
                self.mailbox = Some(Mailbox::decode(raw)?);
                Ok(())
            }
            _ => {
                let e = self.piece();
                if !zero(e, 4, END_LEN) {
                    return Err(MigError::EndReserved);
                }
                let count = le32(e, 0);
                if Some(count) != self.blobs.checked_add(1) {
                    return Err(MigError::BadEndCount);
                }
                Ok(())
            }
        }
    }

    /// A `DESCRIPTOR` is complete: the first one decides compatibility,
    /// every later one must repeat it but for the number and the fault
    /// record (the guest may fault between two rounds; the record is
    /// information for the target PF driver, the last blob's counts).
    fn descriptor_section(&mut self) -> Result<(), MigError> {
        let raw = *self
            .piece()
            .first_chunk::<DESCRIPTOR_LEN>()
            .ok_or(MigError::Truncated)?;
        let d = Descriptor::decode(&raw)?;
        match self.first {
            None => {
                self.first = Some(d);
                self.first_raw = raw;
                if d.number != 0 {
                    return Err(MigError::BadBlobNumber);
                }
                check_compat(&d, &self.target)
            }
            Some(_) => {
                if d.number != self.blobs {
                    return Err(MigError::BadBlobNumber);
                }
                let same = |a: &[u8; DESCRIPTOR_LEN], b: &[u8; DESCRIPTOR_LEN]| {
                    a.get(..desc_off::NUMBER) == b.get(..desc_off::NUMBER)
                        && a.get(desc_off::DRIVER_WORD..desc_off::FAULT_COUNT)
                            == b.get(desc_off::DRIVER_WORD..desc_off::FAULT_COUNT)
                };
                if !same(&raw, &self.first_raw) {
                    return Err(MigError::DescriptorChanged);
                }
                Ok(())
            }
        }
    }

    /// A run header is complete: check it, mark its pages, start its CRC.
    fn run_header(&mut self) -> Result<(), MigError> {
        let h = self.piece();
        let start = le32(h, 0);
        let count = le32(h, 4);
        let mut crc = Crc32::new();
        crc.update(h);
        if !(1..=MAX_RUN_PAGES).contains(&count) {
            return Err(MigError::BadRunCount);
        }
        match start.checked_add(count) {
            Some(end) if end <= self.pages => {}
            _ => return Err(MigError::RunPastSlice),
        }
        // count <= 64: no overflow.
        let data = count.saturating_mul(PAGE_SIZE as u32);
        let run_len = u64::from(data).saturating_add((RUN_HEADER_LEN + RUN_CRC_LEN) as u64);
        if run_len > self.section_left {
            return Err(MigError::RunPastSection);
        }
        let seen = self.seen_mut();
        for page in start..start.saturating_add(count) {
            let word = seen
                .get_mut((page / 64) as usize)
                .ok_or(MigError::RunPastSlice)?;
            let bit = 1u64 << (page % 64);
            if *word & bit != 0 {
                return Err(MigError::DuplicatePage);
            }
            *word |= bit;
        }
        self.run_crc = crc;
        self.run_pages = count;
        self.section_left = self.section_left.saturating_sub(run_len);
        self.phase = Phase::RunPages(data);
        Ok(())
    }

    /// A run's CRC is complete: compare, then the next run or section.
    fn run_end(&mut self) -> Result<(), MigError> {
        if le32(self.piece(), 0) != self.run_crc.value() {
            return Err(MigError::BadRunCrc);
        }
        self.pages_seen = self.pages_seen.saturating_add(u64::from(self.run_pages));
        if self.section_left == 0 {
            self.cur = self.cur.saturating_add(1);
            self.enter_section()
        } else {
            self.start_run()
        }
    }

    /// The last section of a blob ended.
    fn end_blob(&mut self) -> Result<(), MigError> {
        // The table made the sections fill the blob: this holds unless
        // the parser itself is wrong, and then refusing is the safe side.
        if self.blob_pos != self.total_len {
            return Err(MigError::BadTotalLength);
        }
        self.blobs = self.blobs.checked_add(1).ok_or(MigError::TooManyBlobs)?;
        self.blob_pos = 0;
        match self.kind {
            Kind::State => self.phase = Phase::Done,
            Kind::Pages => self.await_piece(Phase::Header, HEADER_LEN),
        }
        Ok(())
    }
}
