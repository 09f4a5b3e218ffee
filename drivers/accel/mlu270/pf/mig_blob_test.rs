// SPDX-License-Identifier: GPL-2.0

//! Test support for `mig_blob.rs`: a builder of valid blobs and streams,
//! and the checks that both KUnit (`pf/kunit.rs`, suite `mlu270_pf_mig`)
//! and the host (`tools/mlu270-proto/tests/mig_blob.rs`) run.
//!
//! The checks live here, once, so that what the test kernel runs is what
//! the host runs: a check shown on the host to fail when the parser is
//! broken on purpose (seconds there, a guest boot in KUnit) is that same
//! check in KUnit.
//!
//! Pure `core` without allocation: the caller lends the memory, a scratch
//! buffer of [`SCRATCH_LEN`] bytes and a page bitmap of [`SEEN_WORDS`]
//! words. The PF module includes this file only with KUnit.

// Test code: the KUnit suite and the host tests each use part of it.
#![allow(dead_code, unreachable_pub)]

use super::layout::{self, CardCaps};
use super::mig_blob::{
    self as mb, check_compat, crc32, desc_off, job_cost_ns, mbox_off, reg_off, Crc32, Descriptor,
    Kind, MigError, Partition, SectionType, StreamParser, Target, DESCRIPTOR_LEN, END_LEN,
    HEADER_LEN, MAILBOX_LEN, PAGE_SIZE, REGISTERS_LEN, TABLE_ENTRY_LEN,
};
use super::protocol::Version;

/// Bytes of scratch memory the checks need (the standard stream is about
/// 34 KiB).
pub const SCRATCH_LEN: usize = 64 << 10;
/// Words of page bitmap the checks need (the largest slice).
pub const SEEN_WORDS: usize = mb::MAX_BITMAP_WORDS;

/// A failed check: the line in this file and the condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fail {
    /// Line of the failed `ensure!`.
    pub line: u32,
    /// The condition that did not hold.
    pub what: &'static str,
}

/// What a check returns.
pub type Check = Result<(), Fail>;

/// A check: scratch bytes and page bitmap in, verdict out.
pub type CheckFn = fn(&mut [u8], &mut [u64]) -> Check;

macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            return Err(Fail {
                line: line!(),
                what: stringify!($cond),
            });
        }
    };
}

macro_rules! some {
    ($opt:expr) => {
        match $opt {
            Some(v) => v,
            None => {
                return Err(Fail {
                    line: line!(),
                    what: stringify!($opt),
                })
            }
        }
    };
}

// ---- Byte helpers ---------------------------------------------------------

/// Writes `v` little-endian at `off` (nothing if out of bounds).
pub fn put(buf: &mut [u8], off: usize, v: u64, width: usize) {
    if let Some(dst) = buf.get_mut(off..off.saturating_add(width)) {
        for (i, b) in dst.iter_mut().enumerate() {
            *b = v.checked_shr(8 * i as u32).unwrap_or(0) as u8;
        }
    }
}

/// Little-endian `u32` at `off` (0 if out of bounds).
pub fn get32(buf: &[u8], off: usize) -> u32 {
    buf.get(off..off.saturating_add(4))
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |a| u32::from_le_bytes(*a))
}

/// Flips the bits of `mask` in `buf[off]`; false if out of bounds.
pub fn flip(buf: &mut [u8], off: usize, mask: u8) -> bool {
    match buf.get_mut(off) {
        Some(b) => {
            *b ^= mask;
            true
        }
        None => false,
    }
}

// ---- The target and the standard stream ----------------------------------

/// The card of the tests: 16/4/4 engines and 256 MiB.
pub const CARD: CardCaps = CardCaps::mlu270(256);
/// The PCI revision of the tests' card.
pub const REVISION: u8 = 1;
/// The stream ID of the tests.
pub const STREAM_ID: u64 = 0x0123_4567_89ab_cdef;
/// Last page of the target's 64 MiB slice.
pub const LAST_PAGE: u32 = 64 * 256 - 1;

/// VF 2 of the default 4 x 1/4 layout: 64 MiB at 128 MiB.
pub fn target() -> Option<Target> {
    let slices = layout::plan(&layout::default_for(4).ok()?, &CARD).ok()?;
    Some(Target::new(2, *slices.get(2)?, CARD, REVISION))
}

/// VF 0 of the 1/1 layout: the whole 256 MiB card, the largest slice that
/// migrates.
pub fn whole_target() -> Option<Target> {
    let slices = layout::plan(&layout::default_for(1).ok()?, &CARD).ok()?;
    Some(Target::new(0, *slices.first()?, CARD, REVISION))
}

/// A run of pages in a blob under construction.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// First page.
    pub start: u32,
    /// Pages (the builder writes whatever it is told, even 0 or 65).
    pub count: u32,
}

/// Byte `i` of page `page` in the test blobs: differs between pages.
pub fn page_byte(page: u32, i: usize) -> u8 {
    let i = i as u32;
    (page.wrapping_mul(151) ^ i.wrapping_mul(7) ^ (i >> 9)) as u8
}

/// Everything one blob of the builder is made of.
#[derive(Clone, Copy)]
pub struct Spec<'a> {
    /// The kind in the header.
    pub kind: Kind,
    /// The `DESCRIPTOR` section.
    pub desc: [u8; DESCRIPTOR_LEN],
    /// The `REGISTERS` section, if the table has one.
    pub regs: [u8; REGISTERS_LEN],
    /// The `MAILBOX` section, if the table has one.
    pub mbox: [u8; MAILBOX_LEN],
    /// The `END` section, if the table has one.
    pub end: [u8; END_LEN],
    /// The runs of the `PAGES` section.
    pub runs: &'a [Run],
    /// Zero bytes after the last run, inside `PAGES`.
    pub pages_pad: usize,
    /// The table's sections, in order; `None`: the kind's.
    pub sections: Option<&'a [SectionType]>,
}

/// A `DESCRIPTOR` for `t`, blob `number`.
pub fn descriptor(t: &Target, number: u32) -> [u8; DESCRIPTOR_LEN] {
    use desc_off as o;
    let p = Partition::of(&t.slice);
    let mut d = [0u8; DESCRIPTOR_LEN];
    put(&mut d, o::DEVICE_ID, u64::from(t.device_id), 2);
    put(&mut d, o::REVISION, u64::from(t.revision), 1);
    put(&mut d, o::INTERFACE, u64::from(mb::INTERFACE_VERSION), 4);
    put(&mut d, o::VF, u64::from(t.vf), 4);
    put(&mut d, o::IPU_MASK, u64::from(p.ipu_mask), 4);
    put(&mut d, o::VPU_MASK, u64::from(p.vpu_mask), 4);
    put(&mut d, o::JPU_MASK, u64::from(p.jpu_mask), 4);
    put(&mut d, o::MEM_SIZE_MB, u64::from(p.mem_size_mb), 4);
    put(&mut d, o::CAPS, u64::from(t.cap_word()), 4);
    put(&mut d, o::STREAM_ID, STREAM_ID, 8);
    put(&mut d, o::NUMBER, u64::from(number), 4);
    put(&mut d, o::DRIVER_WORD, u64::from(t.driver_word), 4);
    put(&mut d, o::FAULT_COUNT, 2, 4);
    put(&mut d, o::FAULT_CODE, 3, 4);
    put(&mut d, o::FAULT_ADDR, 0x4000_0000, 8);
    d
}

/// An enabled, idle queue of 64 slots with some history.
pub fn idle_registers() -> [u8; REGISTERS_LEN] {
    use reg_off as o;
    let mut r = [0u8; REGISTERS_LEN];
    put(&mut r, o::SCRATCH, 0xdead_beef, 4);
    put(&mut r, o::MISUSE_COUNT, 3, 4);
    put(&mut r, o::INT_STATUS, 0x21, 4);
    put(&mut r, o::INT_ENABLE, 0x27, 4);
    put(&mut r, o::Q_BASE, 0x1_0000_1000, 8);
    put(&mut r, o::CQ_BASE, 0x1_0000_2040, 8);
    put(&mut r, o::Q_SIZE, 64, 4);
    put(&mut r, o::Q_HEAD, 5, 4);
    put(&mut r, o::Q_TAIL, 5, 4);
    put(&mut r, o::Q_STATUS, u64::from(mb::Q_STATUS_ENABLED), 4);
    put(&mut r, o::Q_DONE, 69, 4);
    r
}

/// The job of [`busy_registers`]: fill 4 KiB at 0x1000 with 0xa5.
pub fn fill_job() -> [u8; 64] {
    let mut j = [0u8; 64];
    put(&mut j, 0x00, 0x11, 4); // IPU_FILL
    put(&mut j, 0x08, 0x7777, 8); // tag
    put(&mut j, 0x18, 0x1000, 8); // dst
    put(&mut j, 0x28, 4096, 4); // len
    put(&mut j, 0x2c, 0xa5, 4); // arg0
    j
}

/// A queue with [`fill_job`] in flight on `p`, half done, a `Q_CTRL`
/// write (disable) and a `JOB_DONE` message held by the pause.
pub fn busy_registers(p: &Partition) -> [u8; REGISTERS_LEN] {
    use reg_off as o;
    let mut r = idle_registers();
    let job = fill_job();
    let cost = job_cost_ns(&job, p);
    put(&mut r, o::Q_TAIL, 7, 4);
    put(
        &mut r,
        o::Q_STATUS,
        u64::from(mb::Q_STATUS_ENABLED | mb::Q_STATUS_BUSY),
        4,
    );
    put(&mut r, o::HELD_CTRL, u64::from(mb::HELD_CTRL_HELD), 4);
    put(&mut r, o::HELD_INTS, 1, 4);
    put(&mut r, o::REMAINING_NS, cost / 2, 8);
    put(&mut r, o::TOTAL_NS, cost, 8);
    if let Some(dst) = r.get_mut(o::JOB..) {
        if dst.len() == job.len() {
            dst.copy_from_slice(&job);
        }
    }
    r
}

/// A `MAILBOX` with both messages and `flags`.
pub fn mailbox(flags: u32) -> [u8; MAILBOX_LEN] {
    let mut m = [0u8; MAILBOX_LEN];
    for (i, b) in m.iter_mut().take(mbox_off::FLAGS).enumerate() {
        *b = (i as u8).wrapping_mul(29);
    }
    put(&mut m, mbox_off::FLAGS, u64::from(flags), 4);
    m
}

/// An `END` for a stream of `count` blobs.
pub fn end(count: u32) -> [u8; END_LEN] {
    let mut e = [0u8; END_LEN];
    put(&mut e, 0, u64::from(count), 4);
    e
}

/// A pages blob of `t` with number `number`.
pub fn pages_spec<'a>(t: &Target, number: u32, runs: &'a [Run]) -> Spec<'a> {
    Spec {
        kind: Kind::Pages,
        desc: descriptor(t, number),
        regs: [0; REGISTERS_LEN],
        mbox: [0; MAILBOX_LEN],
        end: [0; END_LEN],
        runs,
        pages_pad: 0,
        sections: None,
    }
}

/// The state blob of `t`, blob `number` of the stream (so `END` says
/// `number + 1`), with a job in flight and both mailbox channels busy.
pub fn state_spec<'a>(t: &Target, number: u32, runs: &'a [Run]) -> Spec<'a> {
    Spec {
        kind: Kind::State,
        desc: descriptor(t, number),
        regs: busy_registers(&Partition::of(&t.slice)),
        mbox: mailbox(mb::MB_OUT_BUSY | mb::MB_PF_TOLD | mb::MB_IN_VALID),
        end: end(number.saturating_add(1)),
        runs,
        pages_pad: 0,
        sections: None,
    }
}

/// Runs of blob 0 of the standard stream.
pub const RUNS0: &[Run] = &[
    Run { start: 0, count: 3 },
    Run {
        start: 100,
        count: 1,
    },
];
/// Runs of blob 1: page 0 again (a later blob wins), the slice's last page.
pub const RUNS1: &[Run] = &[
    Run { start: 0, count: 1 },
    Run {
        start: LAST_PAGE,
        count: 1,
    },
];
/// Runs of the state blob.
pub const RUNS2: &[Run] = &[Run { start: 5, count: 2 }];
/// Pages of the standard stream.
pub const STANDARD_PAGES: u64 = 3 + 1 + 1 + 1 + 2;

/// The standard stream: two pages blobs and the state blob.
pub fn standard(t: &Target) -> [Spec<'static>; 3] {
    [
        pages_spec(t, 0, RUNS0),
        pages_spec(t, 1, RUNS1),
        state_spec(t, 2, RUNS2),
    ]
}

fn sections_of<'a>(s: &Spec<'a>) -> &'a [SectionType] {
    match s.sections {
        Some(list) => list,
        None => s.kind.sections(),
    }
}

fn run_len(r: &Run) -> usize {
    (r.count as usize)
        .saturating_mul(PAGE_SIZE)
        .saturating_add(mb::RUN_HEADER_LEN + mb::RUN_CRC_LEN)
}

fn section_len(s: &Spec<'_>, ty: SectionType) -> usize {
    match ty.fixed_len() {
        Some(len) => len,
        None => s
            .runs
            .iter()
            .map(run_len)
            .fold(s.pages_pad, usize::saturating_add),
    }
}

/// Size of the blob `s` describes.
pub fn blob_len(s: &Spec<'_>) -> usize {
    let list = sections_of(s);
    list.iter()
        .fold(HEADER_LEN + list.len() * TABLE_ENTRY_LEN, |acc, &ty| {
            acc.saturating_add(section_len(s, ty))
        })
}

/// Size of the stream of `specs`.
pub fn stream_len(specs: &[Spec<'_>]) -> usize {
    specs.iter().map(blob_len).fold(0, usize::saturating_add)
}

/// Writes the blob `s` describes at the start of `out`, with correct CRCs;
/// returns its size.
pub fn build(s: &Spec<'_>, out: &mut [u8]) -> Option<usize> {
    let list = sections_of(s);
    let total = blob_len(s);
    let out = out.get_mut(..total)?;
    out.fill(0);
    put(out, 0x00, u64::from(mb::MAGIC), 4);
    put(out, 0x04, u64::from(mb::FORMAT_VERSION), 2);
    put(out, 0x06, u64::from(s.kind.as_u16()), 2);
    put(out, 0x08, total as u64, 8);
    put(out, 0x10, list.len() as u64, 4);
    let mut off = HEADER_LEN + list.len() * TABLE_ENTRY_LEN;
    for (i, &ty) in list.iter().enumerate() {
        let len = section_len(s, ty);
        let body = out.get_mut(off..off.checked_add(len)?)?;
        let fixed: &[u8] = match ty {
            SectionType::Descriptor => &s.desc,
            SectionType::Registers => &s.regs,
            SectionType::Mailbox => &s.mbox,
            SectionType::End => &s.end,
            SectionType::Pages => &[],
        };
        let crc = if ty == SectionType::Pages {
            write_runs(s.runs, body)?;
            0
        } else {
            body.copy_from_slice(fixed.get(..len)?);
            crc32(body)
        };
        let e = HEADER_LEN + i * TABLE_ENTRY_LEN;
        put(out, e, u64::from(ty.as_u32()), 4);
        put(out, e + 4, off as u64, 4);
        put(out, e + 8, len as u64, 4);
        put(out, e + 12, u64::from(crc), 4);
        off = off.checked_add(len)?;
    }
    reseal_header(out)?;
    Some(total)
}

fn write_runs(runs: &[Run], mut body: &mut [u8]) -> Option<()> {
    for r in runs {
        let len = run_len(r);
        let (run, rest) = body.split_at_mut_checked(len)?;
        put(run, 0, u64::from(r.start), 4);
        put(run, 4, u64::from(r.count), 4);
        let data_end = len - mb::RUN_CRC_LEN;
        for (i, b) in run
            .get_mut(mb::RUN_HEADER_LEN..data_end)?
            .iter_mut()
            .enumerate()
        {
            let page = r.start.wrapping_add((i / PAGE_SIZE) as u32);
            *b = page_byte(page, i % PAGE_SIZE);
        }
        let crc = crc32(run.get(..data_end)?);
        put(run, data_end, u64::from(crc), 4);
        body = rest;
    }
    Some(())
}

/// Writes the stream of `specs` at the start of `out`; returns its size.
pub fn build_stream(specs: &[Spec<'_>], out: &mut [u8]) -> Option<usize> {
    let mut at = 0usize;
    for s in specs {
        at = at.checked_add(build(s, out.get_mut(at..)?)?)?;
    }
    Some(at)
}

/// Recomputes the header CRC of the blob at the start of `blob` (after an
/// edit of the header or the table).
pub fn reseal_header(blob: &mut [u8]) -> Option<()> {
    let n = (get32(blob, 0x10) as usize).min(mb::MAX_SECTIONS);
    let mut c = Crc32::new();
    c.update(blob.get(..0x14)?);
    c.update(blob.get(HEADER_LEN..HEADER_LEN + n * TABLE_ENTRY_LEN)?);
    put(blob, 0x14, u64::from(c.value()), 4);
    Some(())
}

/// Offset and length of the section of type `ty` of the blob at the start
/// of `blob`, from its table.
pub fn section(blob: &[u8], ty: SectionType) -> Option<(usize, usize)> {
    let n = (get32(blob, 0x10) as usize).min(mb::MAX_SECTIONS);
    (0..n).find_map(|i| {
        let e = HEADER_LEN + i * TABLE_ENTRY_LEN;
        (get32(blob, e) == ty.as_u32())
            .then(|| (get32(blob, e + 4) as usize, get32(blob, e + 8) as usize))
    })
}

/// Offset of table entry `i` of a blob.
pub const fn entry(i: usize) -> usize {
    HEADER_LEN + i * TABLE_ENTRY_LEN
}

// ---- Running the parser ----------------------------------------------------

/// Feeds `data` in chunks of `chunk` bytes, then finishes.
pub fn parse(t: &Target, seen: &mut [u64], data: &[u8], chunk: usize) -> Result<(), MigError> {
    let mut p = StreamParser::new(*t, seen)?;
    for c in data.chunks(chunk.max(1)) {
        p.feed(c)?;
    }
    p.finish()
}

/// Builds the stream of `specs` into `buf` and parses it whole.
fn parse_specs(
    t: &Target,
    buf: &mut [u8],
    seen: &mut [u64],
    specs: &[Spec<'_>],
) -> Option<Result<(), MigError>> {
    let len = build_stream(specs, buf)?;
    Some(parse(t, seen, buf.get(..len)?, len))
}

/// Parses `buf[..len]`, expects `want`.
fn expect_at(t: &Target, seen: &mut [u64], buf: &[u8], len: usize, want: MigError) -> bool {
    match buf.get(..len) {
        Some(data) => parse(t, seen, data, len) == Err(want),
        None => false,
    }
}

// ---- The checks --------------------------------------------------------------

/// The CRC is zlib's, in one piece or many.
pub fn crc32_is_zlibs(buf: &mut [u8], _seen: &mut [u64]) -> Check {
    ensure!(crc32(b"123456789") == 0xcbf4_3926);
    ensure!(crc32(b"") == 0);
    ensure!(crc32(b"a") == 0xe8b7_be43);
    let data = some!(buf.get_mut(..1000));
    for (i, b) in data.iter_mut().enumerate() {
        *b = page_byte(7, i);
    }
    let whole = crc32(data);
    for split in [1, 3, 7, 8, 9, 500, 999] {
        let (a, b) = data.split_at(split);
        let mut c = Crc32::new();
        c.update(a);
        c.update(b);
        ensure!(c.value() == whole);
    }
    Ok(())
}

/// The job cost is the hardware's cost model, and refused jobs cost 1000.
pub fn job_cost_is_the_cost_model(_buf: &mut [u8], _seen: &mut [u64]) -> Check {
    let t = some!(target());
    let quarter = Partition::of(&t.slice);
    let whole = Partition::of(&some!(whole_target()).slice);
    ensure!(job_cost_ns(&fill_job(), &quarter) == 4096 * 16 / 4);
    ensure!(job_cost_ns(&fill_job(), &whole) == 4096);
    let mut j = [0u8; 64];
    ensure!(job_cost_ns(&j, &quarter) == 64 * 16 / 4); // NOP
    let none = Partition::default();
    ensure!(job_cost_ns(&j, &none) == 64 * 16); // NOP without IPU
    put(&mut j, 0x00, 0x13, 4); // IPU_MATMUL_I8 2x3x4
    put(&mut j, 0x2c, 2, 4);
    put(&mut j, 0x30, 3, 4);
    put(&mut j, 0x34, 4, 4);
    ensure!(job_cost_ns(&j, &quarter) == 2 * 3 * 4 * 16 / 4);
    put(&mut j, 0x34, 257, 4); // K too large
    ensure!(job_cost_ns(&j, &quarter) == mb::ERROR_COST_NS);
    let mut v = [0u8; 64];
    put(&mut v, 0x00, 0x20, 4); // VPU_DELTA_ENC of 640 bytes
    put(&mut v, 0x28, 640, 4);
    put(&mut v, 0x18, 0x10000, 8);
    ensure!(job_cost_ns(&v, &quarter) == 640 * 4);
    ensure!(job_cost_ns(&v, &whole) == 640);
    let mut z = v;
    put(&mut z, 0x00, 0x30, 4); // JPU_ZIGZAG: 640 is 10 blocks
    ensure!(job_cost_ns(&z, &quarter) == 640 * 4);
    put(&mut z, 0x28, 641, 4);
    ensure!(job_cost_ns(&z, &quarter) == mb::ERROR_COST_NS);
    let no_vpu = Partition {
        vpu_mask: 0,
        ..quarter
    };
    ensure!(job_cost_ns(&v, &no_vpu) == mb::ERROR_COST_NS);
    // Out of the 64 MiB window: refused; at its very end: runs.
    let mut f = fill_job();
    put(&mut f, 0x18, (64 << 20) - 4095, 8);
    ensure!(job_cost_ns(&f, &quarter) == mb::ERROR_COST_NS);
    put(&mut f, 0x18, (64 << 20) - 4096, 8);
    ensure!(job_cost_ns(&f, &quarter) == 4096 * 4);
    put(&mut f, 0x18, u64::MAX - 10, 8);
    ensure!(job_cost_ns(&f, &quarter) == mb::ERROR_COST_NS);
    put(&mut f, 0x00, 0x7f, 4); // unknown opcode
    ensure!(job_cost_ns(&f, &quarter) == mb::ERROR_COST_NS);
    put(&mut f, 0x00, 0x11, 4);
    put(&mut f, 0x18, 0, 8);
    put(&mut f, 0x28, 0, 4); // len 0
    ensure!(job_cost_ns(&f, &quarter) == mb::ERROR_COST_NS);
    Ok(())
}

/// A valid stream is accepted whole and in chunks of any size, whatever
/// they split, and the parser reports what it carried.
pub fn valid_stream_in_any_chunks(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let specs = standard(&t);
    let len = some!(build_stream(&specs, buf));
    let data = some!(buf.get(..len));
    for chunk in [len, 1, 2, 3, 5, 7, 8, 13, 24, 100, 4095, 4096, 4097, 8191] {
        ensure!(parse(&t, seen, data, chunk) == Ok(()));
    }
    // Odd sizes that change at every call.
    let mut p = some!(StreamParser::new(t, &mut *seen).ok());
    let (mut at, mut step) = (0usize, 1usize);
    while at < len {
        let end = at.saturating_add(step).min(len);
        ensure!(p.feed(some!(data.get(at..end))).is_ok());
        at = end;
        step = (step * 7 + 3) % 5003 + 1;
    }
    ensure!(p.finish() == Ok(()));
    ensure!(p.is_complete());
    ensure!(p.blobs() == 3);
    ensure!(p.pages() == STANDARD_PAGES);
    ensure!(p.offset() == len as u64);
    let d = some!(p.descriptor());
    ensure!(d.stream_id == STREAM_ID && d.vf == 2 && d.number == 0);
    ensure!(d.fault_count == 2 && d.fault_code == 3 && d.fault_addr == 0x4000_0000);
    let r = some!(p.registers());
    ensure!(r.busy() && r.held_ctrl == mb::HELD_CTRL_HELD && r.held_ints == 1);
    ensure!(r.job == fill_job() && r.total_ns == 4096 * 4 && r.remaining_ns == 2048 * 4);
    ensure!(r.scratch == 0xdead_beef && r.q_tail == 7);
    let m = some!(p.mailbox());
    ensure!(m.out_busy() && m.pf_told() && m.in_valid());
    ensure!(m.vf_msg.get(1) == Some(&29) && m.pf_msg.first() == Some(&(64u8.wrapping_mul(29))));
    // An empty chunk changes nothing, even at the end.
    ensure!(p.feed(&[]).is_ok());
    Ok(())
}

/// Without pre-copy the stream is the state blob alone, its `PAGES` maybe
/// empty; registers the card can reach with an idle or a disabled queue
/// pass.
pub fn state_blob_alone(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    ensure!(parse_specs(&t, buf, seen, &[state_spec(&t, 0, RUNS0)]) == Some(Ok(())));
    let mut s = state_spec(&t, 0, &[]);
    ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Ok(())));
    // Idle; with only the VF's message held (the PF not told); no message.
    s.regs = idle_registers();
    s.mbox = mailbox(mb::MB_OUT_BUSY);
    ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Ok(())));
    s.mbox = mailbox(0);
    ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Ok(())));
    // A disabled queue keeps whatever the guest wrote while disabled, and
    // the pointers of its last ring: all reachable.
    put(
        &mut s.regs,
        reg_off::Q_STATUS,
        u64::from(mb::Q_STATUS_STOPPED),
        4,
    );
    put(&mut s.regs, reg_off::Q_ERROR, 8, 4);
    put(&mut s.regs, reg_off::Q_SIZE, 3, 4);
    put(&mut s.regs, reg_off::Q_BASE, 0x1001, 8);
    put(&mut s.regs, reg_off::Q_HEAD, 4095, 4);
    ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Ok(())));
    // A busy queue whose job the card refused (1000 ns), and a NOP.
    let mut b = state_spec(&t, 0, &[]);
    put(&mut b.regs, reg_off::JOB, 0x7f, 4);
    put(&mut b.regs, reg_off::TOTAL_NS, mb::ERROR_COST_NS, 8);
    put(&mut b.regs, reg_off::REMAINING_NS, 0, 8);
    ensure!(parse_specs(&t, buf, seen, &[b]) == Some(Ok(())));
    put(&mut b.regs, reg_off::JOB, 0, 4);
    put(&mut b.regs, reg_off::TOTAL_NS, 256, 8);
    put(&mut b.regs, reg_off::REMAINING_NS, 256, 8);
    put(
        &mut b.regs,
        reg_off::HELD_CTRL,
        u64::from(mb::HELD_CTRL_HELD | 1),
        4,
    );
    ensure!(parse_specs(&t, buf, seen, &[b]) == Some(Ok(())));
    // The largest slice, up to its last page.
    let w = some!(whole_target());
    let mut p = some!(StreamParser::new(w, &mut *seen).ok());
    let runs = [
        Run {
            start: mb::MAX_PAGES - 3,
            count: 3,
        },
        Run { start: 0, count: 1 },
    ];
    let len = some!(build(&state_spec(&w, 0, &runs), buf));
    ensure!(p.feed(some!(buf.get(..len))).is_ok());
    ensure!(p.finish() == Ok(()) && p.pages() == 4);
    Ok(())
}

/// Every bit of a blob header matters, and each field has its check.
pub fn header_is_checked(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let specs = standard(&t);
    let len = some!(build_stream(&specs, buf));
    let b1 = blob_len(&specs[0]);
    let b2 = b1 + blob_len(&specs[1]);
    // Any bit of any of the three headers: refused as malformed.
    for base in [0, b1, b2] {
        for off in base..base + HEADER_LEN {
            for bit in 0..8 {
                ensure!(flip(buf, off, 1 << bit));
                let r = parse(&t, seen, some!(buf.get(..len)), len);
                ensure!(flip(buf, off, 1 << bit));
                ensure!(r.is_err());
                ensure!(r.err().map(MigError::errno) == Some(22));
                let want = match off - base {
                    0..=3 => Some(MigError::BadMagic),
                    4..=5 => Some(MigError::BadFormatVersion),
                    6..=7 => Some(MigError::BadKind),
                    0x14..=0x17 => Some(MigError::BadHeaderCrc),
                    _ => None,
                };
                ensure!(want.is_none() || r == Err(some!(want)));
            }
        }
    }
    // Field values, with a correct CRC.
    let s = state_spec(&t, 0, RUNS2);
    let cases: [(usize, u64, usize, MigError); 7] = [
        (0x10, 0, 4, MigError::BadSectionCount),
        (0x10, 9, 4, MigError::BadSectionCount),
        (0x08, (mb::MAX_BLOB_LEN + 1), 8, MigError::BadTotalLength),
        (
            0x08,
            (HEADER_LEN + 5 * 16 - 1) as u64,
            8,
            MigError::BadTotalLength,
        ),
        (0x08, u64::MAX, 8, MigError::BadTotalLength),
        (0x06, 0, 2, MigError::BadKind),
        (0x04, 2, 2, MigError::BadFormatVersion),
    ];
    for (off, v, width, want) in cases {
        let len = some!(build(&s, buf));
        put(buf, off, v, width);
        some!(reseal_header(buf));
        ensure!(expect_at(&t, seen, buf, len, want));
    }
    Ok(())
}

/// The table: every bit is under the header CRC; with a correct CRC,
/// every layout rule has its check.
pub fn table_is_checked(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let s = state_spec(&t, 0, RUNS2);
    let len = some!(build(&s, buf));
    for off in HEADER_LEN..entry(5) {
        for bit in 0..8 {
            ensure!(flip(buf, off, 1 << bit));
            let r = parse(&t, seen, some!(buf.get(..len)), len);
            ensure!(flip(buf, off, 1 << bit));
            ensure!(r == Err(MigError::BadHeaderCrc));
        }
    }
    let (regs_at, _) = some!(section(buf, SectionType::Registers));
    let (_, pages_len) = some!(section(buf, SectionType::Pages));
    let (regs_at, pages_len) = (regs_at as u64, pages_len as u64);
    // (entry, field, value, expected)
    let cases: [(usize, usize, u64, MigError); 17] = [
        (2, 0, 2, MigError::DuplicateSection),
        (2, 0, 1, MigError::SectionOrder),
        (4, 0, 3, MigError::SectionOrder),
        (4, 0, 6, MigError::UnknownSection),
        (0, 0, 0, MigError::UnknownSection),
        (0, 4, entry(5) as u64 - 8, MigError::SectionOverlap),
        (0, 4, 0, MigError::SectionOverlap),
        (1, 4, regs_at - 1, MigError::SectionOverlap),
        (0, 4, entry(5) as u64 + 4, MigError::SectionGap),
        (2, 4, regs_at + 161, MigError::SectionGap),
        (1, 8, 161, MigError::BadSectionLength),
        (4, 8, 4, MigError::BadSectionLength),
        (0, 8, 0, MigError::BadSectionLength),
        (3, 12, 1, MigError::PagesCrcNotZero),
        (3, 8, pages_len + 1, MigError::SectionOverlap),
        (3, 8, pages_len - 1, MigError::SectionGap),
        (3, 8, u64::from(u32::MAX), MigError::SectionOutsideBlob),
    ];
    for (i, field, v, want) in cases {
        let len = some!(build(&s, buf));
        put(buf, entry(i) + field, v, 4);
        some!(reseal_header(buf));
        ensure!(expect_at(&t, seen, buf, len, want));
    }
    // The blob ends before its last section does, or after it.
    for (delta, want) in [
        (-1i64, MigError::SectionOutsideBlob),
        (1, MigError::BlobNotFilled),
    ] {
        let len = some!(build(&s, buf));
        put(buf, 0x08, (len as i64 + delta) as u64, 8);
        some!(reseal_header(buf));
        ensure!(expect_at(&t, seen, buf, len, want));
    }
    // Sections of another kind, missing ones.
    use SectionType::{Descriptor as D, End as E, Mailbox as M, Pages as P, Registers as R};
    let lists: [(Kind, &[SectionType], MigError); 6] = [
        (Kind::Pages, &[D, R, P], MigError::UnexpectedSection),
        (Kind::Pages, &[D, P, E], MigError::UnexpectedSection),
        (Kind::Pages, &[D], MigError::MissingSection),
        (Kind::State, &[D, R, M, P], MigError::MissingSection),
        (Kind::State, &[D, R, P, E], MigError::MissingSection),
        (Kind::State, &[R, M, P, E], MigError::MissingSection),
    ];
    for (kind, list, want) in lists {
        let mut bad = s;
        bad.kind = kind;
        bad.sections = Some(list);
        ensure!(parse_specs(&t, buf, seen, &[bad]) == Some(Err(want)));
    }
    Ok(())
}

/// Any bit of any fixed section fails its CRC; each section type its own.
pub fn sections_are_crc_checked(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let specs = standard(&t);
    let len = some!(build_stream(&specs, buf));
    let b2 = blob_len(&specs[0]) + blob_len(&specs[1]);
    let kinds = [
        (SectionType::Descriptor, MigError::BadDescriptorCrc),
        (SectionType::Registers, MigError::BadRegistersCrc),
        (SectionType::Mailbox, MigError::BadMailboxCrc),
        (SectionType::End, MigError::BadEndCrc),
    ];
    for base in [0, b2] {
        for (ty, want) in kinds {
            let Some((off, slen)) = section(some!(buf.get(base..len)), ty) else {
                continue;
            };
            for i in 0..slen {
                let at = base + off + i;
                ensure!(flip(buf, at, 1 << (i % 8)));
                let r = parse(&t, seen, some!(buf.get(..len)), len);
                ensure!(flip(buf, at, 1 << (i % 8)));
                ensure!(r == Err(want));
            }
        }
    }
    Ok(())
}

/// Runs: count, slice, section, duplicates and the CRC.
pub fn runs_are_checked(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let s = state_spec(&t, 0, RUNS0);
    let len = some!(build(&s, buf));
    let (pages, _) = some!(section(buf, SectionType::Pages));
    let run1 = pages + mb::RUN_HEADER_LEN + 3 * PAGE_SIZE + mb::RUN_CRC_LEN;
    // A bit of a page, of the CRC, of a header (wherever it leads).
    for at in [
        pages + mb::RUN_HEADER_LEN,
        pages + mb::RUN_HEADER_LEN + 5000,
        run1 - 1,
        run1 + mb::RUN_HEADER_LEN + PAGE_SIZE,
    ] {
        ensure!(flip(buf, at, 0x10));
        let r = parse(&t, seen, some!(buf.get(..len)), len);
        ensure!(flip(buf, at, 0x10));
        ensure!(r == Err(MigError::BadRunCrc));
    }
    for at in pages..pages + mb::RUN_HEADER_LEN {
        for bit in 0..8 {
            ensure!(flip(buf, at, 1 << bit));
            let r = parse(&t, seen, some!(buf.get(..len)), len);
            ensure!(flip(buf, at, 1 << bit));
            ensure!(r.map_err(MigError::errno) == Err(22));
        }
    }
    // Claims more pages than the section holds.
    put(buf, pages + 4, 5, 4);
    ensure!(expect_at(&t, seen, buf, len, MigError::RunPastSection));
    // A count of 65 (edited in: the scratch memory has no room for 65
    // pages), 0 and 0x8000_0001.
    for count in [65, 0, 0x8000_0001] {
        let len = some!(build(&s, buf));
        put(buf, pages + 4, count, 4);
        ensure!(expect_at(&t, seen, buf, len, MigError::BadRunCount));
    }
    let cases: [(&[Run], MigError); 8] = [
        (
            &[Run { start: 0, count: 0 }, Run { start: 1, count: 1 }],
            MigError::BadRunCount,
        ),
        (&[Run { start: 0, count: 0 }], MigError::RunPastSection),
        (
            &[Run {
                start: LAST_PAGE,
                count: 2,
            }],
            MigError::RunPastSlice,
        ),
        (
            &[Run {
                start: u32::MAX,
                count: 1,
            }],
            MigError::RunPastSlice,
        ),
        (
            &[Run {
                start: LAST_PAGE + 1,
                count: 1,
            }],
            MigError::RunPastSlice,
        ),
        (
            &[Run { start: 3, count: 2 }, Run { start: 4, count: 1 }],
            MigError::DuplicatePage,
        ),
        (
            &[
                Run { start: 9, count: 1 },
                Run {
                    start: 0,
                    count: 10,
                },
            ],
            MigError::DuplicatePage,
        ),
        (
            &[
                Run {
                    start: 60,
                    count: 4,
                },
                Run {
                    start: 63,
                    count: 1,
                },
            ],
            MigError::DuplicatePage,
        ),
    ];
    for (runs, want) in cases {
        ensure!(
            parse_specs(
                &t,
                buf,
                seen,
                &[pages_spec(&t, 0, runs), state_spec(&t, 1, &[])]
            ) == Some(Err(want))
        );
    }
    // Bytes left in the section after the last run (1 and 4108 - 1).
    for pad in [1, 4107] {
        let mut p = state_spec(&t, 0, RUNS2);
        p.pages_pad = pad;
        ensure!(parse_specs(&t, buf, seen, &[p]) == Some(Err(MigError::RunPastSection)));
    }
    // A page in two blobs is fine (the later wins); the bitmap is per blob.
    let again = [
        pages_spec(&t, 0, RUNS0),
        pages_spec(&t, 1, RUNS0),
        state_spec(&t, 2, RUNS0),
    ];
    ensure!(parse_specs(&t, buf, seen, &again) == Some(Ok(())));
    Ok(())
}

/// A stream cut anywhere is incomplete; nothing at all has no state blob.
pub fn truncation_is_refused(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let specs = standard(&t);
    let len = some!(build_stream(&specs, buf));
    let b1 = blob_len(&specs[0]);
    let b2 = b1 + blob_len(&specs[1]);
    let mut cuts = [0usize; 40];
    let mut n = 0;
    for base in [0, b1, b2] {
        for off in [
            1,
            4,
            HEADER_LEN - 1,
            HEADER_LEN,
            HEADER_LEN + 5,
            60,
            110,
            120,
            200,
            300,
            500,
            4000,
            9000,
        ] {
            if let Some(slot) = cuts.get_mut(n) {
                *slot = (base + off).min(len - 1);
                n += 1;
            }
        }
    }
    for &cut in cuts
        .get(..n)
        .unwrap_or(&[])
        .iter()
        .chain([len - 1, len - 8, len - 9].iter())
    {
        let mut p = some!(StreamParser::new(t, &mut *seen).ok());
        ensure!(p.feed(some!(buf.get(..cut))).is_ok());
        ensure!(!p.is_complete());
        ensure!(p.finish() == Err(MigError::Truncated));
    }
    for cut in [0, b1, b2] {
        ensure!(parse(&t, seen, some!(buf.get(..cut)), 1) == Err(MigError::NoStateBlob));
    }
    Ok(())
}

/// The blobs of a stream: numbers, repeated descriptors, the end count,
/// nothing after the state blob.
pub fn blob_sequence_is_checked(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let good = standard(&t);
    // Numbers count up from 0.
    for (blob, number) in [
        (0usize, 1u32),
        (1, 0),
        (1, 2),
        (2, 1),
        (2, 3),
        (2, u32::MAX),
    ] {
        let mut specs = good;
        put(
            &mut some!(specs.get_mut(blob)).desc,
            desc_off::NUMBER,
            u64::from(number),
            4,
        );
        ensure!(parse_specs(&t, buf, seen, &specs) == Some(Err(MigError::BadBlobNumber)));
    }
    // Any other field of a later descriptor differs: refused.
    for (off, width) in [
        (desc_off::STREAM_ID, 8),
        (desc_off::REVISION, 1),
        (desc_off::DRIVER_WORD, 4),
        (desc_off::IPU_MASK, 4),
    ] {
        for blob in [1usize, 2] {
            let mut specs = good;
            put(&mut some!(specs.get_mut(blob)).desc, off, 0x3, width);
            ensure!(parse_specs(&t, buf, seen, &specs) == Some(Err(MigError::DescriptorChanged)));
        }
    }
    // The fault record may change between blobs (the guest faulted
    // between two rounds): accepted.
    for blob in [1usize, 2] {
        let mut specs = good;
        put(
            &mut some!(specs.get_mut(blob)).desc,
            desc_off::FAULT_COUNT,
            5,
            4,
        );
        ensure!(parse_specs(&t, buf, seen, &specs) == Some(Ok(())));
    }
    // END counts the blobs.
    for count in [0, 2, 4] {
        let mut specs = good;
        specs[2].end = end(count);
        ensure!(parse_specs(&t, buf, seen, &specs) == Some(Err(MigError::BadEndCount)));
    }
    let mut specs = good;
    put(&mut specs[2].end, 4, 1, 4);
    ensure!(parse_specs(&t, buf, seen, &specs) == Some(Err(MigError::EndReserved)));
    // Nothing after the state blob: a byte, another blob.
    let len = some!(build_stream(&good, buf));
    for extra in [0u8, b'M'] {
        put(buf, len, u64::from(extra), 1);
        ensure!(expect_at(&t, seen, buf, len + 1, MigError::TrailingData));
    }
    let two = [state_spec(&t, 0, &[]), state_spec(&t, 1, &[])];
    ensure!(parse_specs(&t, buf, seen, &two) == Some(Err(MigError::TrailingData)));
    let after = [state_spec(&t, 0, &[]), pages_spec(&t, 1, RUNS0)];
    ensure!(parse_specs(&t, buf, seen, &after) == Some(Err(MigError::TrailingData)));
    // ... also when the extra bytes come in a later call.
    let len = some!(build_stream(&good, buf));
    let mut p = some!(StreamParser::new(t, &mut *seen).ok());
    ensure!(p.feed(some!(buf.get(..len))).is_ok());
    ensure!(p.feed(&[0]) == Err(MigError::TrailingData));
    Ok(())
}

/// `REGISTERS` values the card cannot reach are refused, one check each.
pub fn register_values_are_checked(buf: &mut [u8], seen: &mut [u64]) -> Check {
    use reg_off as o;
    use MigError::*;
    let t = some!(target());
    let p = Partition::of(&t.slice);
    let busy = busy_registers(&p);
    let cost = job_cost_ns(&fill_job(), &p);
    let idle = idle_registers();
    let mut disabled = idle;
    put(&mut disabled, o::Q_STATUS, 0, 4);
    // (base, offset, width, value, expected)
    let cases: [(&[u8; REGISTERS_LEN], usize, usize, u64, MigError); 34] = [
        (&busy, o::INT_STATUS, 4, 0x40, BadIntBits),
        (&busy, o::INT_ENABLE, 4, 0x8000_0000, BadIntBits),
        (&busy, o::HELD_INTS, 4, 0x7f, BadIntBits),
        (&idle, o::Q_STATUS, 4, 8, BadQueueStatus),
        (&idle, o::Q_STATUS, 4, 2, BadQueueStatus),
        (&busy, o::Q_STATUS, 4, 7, BadQueueStatus),
        (&busy, o::Q_STATUS, 4, 6, BadQueueStatus),
        (&idle, o::Q_ERROR, 4, 9, BadQueueError),
        (&idle, o::Q_SIZE, 4, 0, BadQueueSize),
        (&idle, o::Q_SIZE, 4, 1, BadQueueSize),
        (&idle, o::Q_SIZE, 4, 48, BadQueueSize),
        (&idle, o::Q_SIZE, 4, 8192, BadQueueSize),
        (&idle, o::Q_BASE, 8, 0x1_0000_1020, BadQueueBase),
        (&idle, o::CQ_BASE, 8, 1, BadQueueBase),
        (&idle, o::Q_HEAD, 4, 64, BadQueuePointer),
        (&idle, o::Q_TAIL, 4, 0xffff_ffff, BadQueuePointer),
        (&disabled, o::Q_HEAD, 4, 4096, BadQueuePointer),
        (&disabled, o::Q_TAIL, 4, 4096, BadQueuePointer),
        (&busy, o::HELD_CTRL, 4, 1, BadHeldCtrl),
        (&busy, o::HELD_CTRL, 4, 0x8000_0002, BadHeldCtrl),
        (&busy, o::HELD_CTRL, 4, 0xc000_0000, BadHeldCtrl),
        (&idle, o::HELD_CTRL, 4, 0x8000_0000, BadHeldCtrl),
        (&idle, o::REMAINING_NS, 8, 1, JobWhileIdle),
        (&idle, o::TOTAL_NS, 8, 1000, JobWhileIdle),
        (&idle, o::JOB + 63, 1, 1, JobWhileIdle),
        (&disabled, o::JOB, 4, 0x11, JobWhileIdle),
        (&busy, o::REMAINING_NS, 8, cost + 1, BadJobTime),
        (&busy, o::TOTAL_NS, 8, cost + 1, BadJobCost),
        (&busy, o::TOTAL_NS, 8, cost - 1, BadJobCost),
        (&busy, o::TOTAL_NS, 8, (1 << 32) + 1, BadJobCost),
        (&busy, o::JOB + 0x28, 4, 8192, BadJobCost),
        (&busy, o::RESERVED, 1, 1, RegistersReserved),
        (&busy, o::RESERVED + 15, 1, 0x80, RegistersReserved),
        (&idle, o::RESERVED + 8, 4, 1, RegistersReserved),
    ];
    for (base, off, width, v, want) in cases {
        let mut s = state_spec(&t, 0, RUNS2);
        s.regs = *base;
        put(&mut s.regs, off, v, width);
        ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Err(want)));
    }
    // The unmodified bases pass (so each refusal above is its edit's).
    for base in [&busy, &idle, &disabled] {
        let mut s = state_spec(&t, 0, RUNS2);
        s.regs = *base;
        ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Ok(())));
    }
    Ok(())
}

/// `MAILBOX` flags and `DESCRIPTOR` fields.
pub fn mailbox_and_descriptor_values_are_checked(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    for flags in 0..16u32 {
        let mut s = state_spec(&t, 0, &[]);
        s.mbox = mailbox(flags);
        let want = if flags > 7 {
            Err(MigError::BadMailboxFlags)
        } else if flags & mb::MB_PF_TOLD != 0 && flags & mb::MB_OUT_BUSY == 0 {
            Err(MigError::ToldWithoutMessage)
        } else {
            Ok(())
        };
        ensure!(parse_specs(&t, buf, seen, &[s]) == Some(want));
    }
    let mut s = state_spec(&t, 0, &[]);
    put(&mut s.mbox, mbox_off::RESERVED + 3, 1, 1);
    ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Err(MigError::MailboxReserved)));
    let cases: [(usize, usize, u64, MigError); 6] = [
        (desc_off::RESERVED, 1, 1, MigError::DescriptorReserved),
        (desc_off::VF, 4, 4, MigError::BadVfIndex),
        (desc_off::VF, 4, u64::from(u32::MAX), MigError::BadVfIndex),
        (desc_off::MEM_SIZE_MB, 4, 257, MigError::SliceTooLarge),
        (desc_off::FAULT_CODE, 4, 9, MigError::BadFaultRecord),
        (desc_off::FAULT_COUNT, 4, 0, MigError::BadFaultRecord),
    ];
    for (off, width, v, want) in cases {
        let mut s = pages_spec(&t, 0, RUNS0);
        put(&mut s.desc, off, v, width);
        ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Err(want)));
    }
    // No fault yet: code and address zero too (a valid record).
    let mut s = state_spec(&t, 0, &[]);
    put(&mut s.desc, desc_off::FAULT_COUNT, 0, 4);
    put(&mut s.desc, desc_off::FAULT_CODE, 0, 4);
    put(&mut s.desc, desc_off::FAULT_ADDR, 0x1000, 8);
    ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Err(MigError::BadFaultRecord)));
    put(&mut s.desc, desc_off::FAULT_ADDR, 0, 8);
    ensure!(parse_specs(&t, buf, seen, &[s]) == Some(Ok(())));
    Ok(())
}

/// Compatibility: each field of another VF, slice, card or driver is
/// `EOPNOTSUPP`, decided at the first `DESCRIPTOR`, before any page.
pub fn compatibility_is_decided(buf: &mut [u8], seen: &mut [u64]) -> Check {
    use desc_off as o;
    let t = some!(target());
    let good = some!(Descriptor::decode(&descriptor(&t, 0)).ok());
    ensure!(check_compat(&good, &t) == Ok(()));
    ensure!(t.driver_word == mb::DRIVER_WORD);
    ensure!(mb::DRIVER_WORD == 0x0001_0002);
    ensure!(t.cap_word() == 0x0004_0410);
    // The VF negotiated v1, or nothing yet: a v2 driver takes it.
    for word in [0x0001_0001u64, 0x0001_0000] {
        let mut raw = descriptor(&t, 0);
        put(&mut raw, o::DRIVER_WORD, word, 4);
        let d = some!(Descriptor::decode(&raw).ok());
        ensure!(check_compat(&d, &t) == Ok(()));
    }
    ensure!(mb::word_version(0x0001_0001) == Ok(Some(Version::V1)));
    ensure!(mb::word_version(0x0001_0000) == Ok(None));
    ensure!(mb::word_version(0x0001_0007) == Err(MigError::OtherDriver));
    let cases: [(usize, usize, u64, MigError); 12] = [
        (o::DEVICE_ID, 2, 0x0271, MigError::OtherDevice),
        (o::REVISION, 1, 2, MigError::OtherDevice),
        (o::INTERFACE, 4, 2, MigError::OtherInterface),
        (o::DRIVER_WORD, 4, 0x0001_0003, MigError::OtherDriver),
        (o::DRIVER_WORD, 4, 0x0002_0002, MigError::OtherDriver),
        (o::VF, 4, 1, MigError::OtherVf),
        (o::IPU_MASK, 4, 0x0f00 | 0x1000, MigError::OtherSlice),
        (o::VPU_MASK, 4, 0x8, MigError::OtherSlice),
        (o::JPU_MASK, 4, 0x2, MigError::OtherSlice),
        (o::MEM_SIZE_MB, 4, 32, MigError::OtherSlice),
        (o::CAPS, 4, 0x0004_0408, MigError::OtherCard),
        (o::CAPS, 4, 0x0005_0410, MigError::OtherCard),
    ];
    let specs = standard(&t);
    for (off, width, v, want) in cases {
        let mut raw = descriptor(&t, 0);
        put(&mut raw, off, v, width);
        let d = some!(Descriptor::decode(&raw).ok());
        ensure!(check_compat(&d, &t) == Err(want));
        ensure!(want.errno() == 95 && want.is_incompatible());
        // Through the parser: refused when the first DESCRIPTOR is
        // complete, whatever follows, and the source can be named.
        let mut bad = specs;
        for s in bad.iter_mut() {
            put(&mut s.desc, off, v, width);
        }
        let len = some!(build_stream(&bad, buf));
        let mut p = some!(StreamParser::new(t, &mut *seen).ok());
        let desc_end = entry(2) + DESCRIPTOR_LEN;
        ensure!(p.feed(some!(buf.get(..desc_end + 1))) == Err(want));
        ensure!(p.offset() == desc_end as u64);
        ensure!(p.pages() == 0);
        ensure!(p.source().map(|s| s.vf) == Some(d.vf));
        // The refusal sticks: the rest of the stream changes nothing.
        ensure!(p.feed(some!(buf.get(desc_end..len))) == Err(want));
        ensure!(p.finish() == Err(want) && p.pages() == 0);
    }
    // The card word's top byte is reserved: malformed, not another card.
    let mut raw = descriptor(&t, 0);
    put(&mut raw, o::CAPS + 3, 1, 1);
    ensure!(Descriptor::decode(&raw).err() == Some(MigError::DescriptorReserved));
    // Another slice of the same size (another base) is the same slice.
    let mut moved = t;
    moved.slice.mem_base_mb = 0;
    ensure!(check_compat(&good, &moved) == Ok(()));
    // A target that cannot migrate (empty or above 256 MiB), a bitmap too
    // small.
    for mem_size_mb in [0, 257, 512] {
        let mut big = t;
        big.slice.mem_size_mb = mem_size_mb;
        ensure!(check_compat(&good, &big) == Err(MigError::TargetCannotMigrate));
        ensure!(StreamParser::new(big, &mut *seen).err() == Some(MigError::TargetCannotMigrate));
    }
    ensure!(MigError::TargetCannotMigrate.errno() == 95);
    let short = some!(seen.get_mut(..mb::bitmap_words(LAST_PAGE + 1) - 1));
    ensure!(StreamParser::new(t, short).err() == Some(MigError::BitmapTooSmall));
    // Malformed is EINVAL, even in a descriptor of another VF.
    let mut raw = descriptor(&t, 0);
    put(&mut raw, o::VF, 9, 4);
    let e = some!(Descriptor::decode(&raw).err());
    ensure!(e == MigError::BadVfIndex && e.errno() == 22 && !e.is_incompatible());
    Ok(())
}

/// An error sticks; the log line can name both ends.
pub fn errors_stick_and_name_both_ends(buf: &mut [u8], seen: &mut [u64]) -> Check {
    let t = some!(target());
    let specs = standard(&t);
    let len = some!(build_stream(&specs, buf));
    let b1 = blob_len(&specs[0]);
    ensure!(flip(buf, b1 + 100, 1));
    let mut p = some!(StreamParser::new(t, &mut *seen).ok());
    let first = p.feed(some!(buf.get(..b1 + 150)));
    ensure!(first == Err(MigError::BadDescriptorCrc));
    ensure!(flip(buf, b1 + 100, 1));
    // Good bytes after a failure do not revive it.
    ensure!(p.feed(some!(buf.get(b1 + 150..len))) == first);
    ensure!(p.finish() == first && p.error() == first.err() && !p.is_complete());
    ensure!(p.registers().is_none() && p.mailbox().is_none());
    // The log line: reason, source (from the first descriptor), target.
    let src = some!(p.source());
    let mut line = [0u8; 200];
    let mut w = Writer {
        buf: &mut line,
        pos: 0,
    };
    ensure!(core::fmt::write(
        &mut w,
        format_args!("{}: {} -> {}", some!(first.err()), src, t)
    )
    .is_ok());
    let pos = w.pos;
    let text = some!(core::str::from_utf8(some!(line.get(..pos))).ok());
    ensure!(
        text == "DESCRIPTOR CRC mismatch: VF 2 of a 0270 rev 1 (IPU 0xf00 VPU 0x4 JPU 0x4 \
                 64 MiB, stream 0123456789abcdef) -> VF 2 of a 0270 rev 1 (IPU 0xf00 VPU 0x4 \
                 JPU 0x4 64 MiB)"
    );
    Ok(())
}

/// Every error has a short reason of its own and the errno of its class.
pub fn every_error_has_a_reason(_buf: &mut [u8], _seen: &mut [u64]) -> Check {
    for (i, e) in ALL_ERRORS.iter().enumerate() {
        let r = e.reason();
        ensure!(!r.is_empty() && r.len() <= 48);
        ensure!(e.errno() == if e.is_incompatible() { 95 } else { 22 });
        for other in ALL_ERRORS.get(..i).unwrap_or(&[]) {
            ensure!(other.reason() != r);
        }
    }
    Ok(())
}

/// Every [`MigError`] (for [`every_error_has_a_reason`]).
pub const ALL_ERRORS: [MigError; 60] = {
    use MigError::*;
    [
        BadMagic,
        BadFormatVersion,
        BadKind,
        BadSectionCount,
        BadTotalLength,
        BadHeaderCrc,
        UnknownSection,
        DuplicateSection,
        SectionOrder,
        SectionOverlap,
        SectionGap,
        SectionOutsideBlob,
        BlobNotFilled,
        MissingSection,
        UnexpectedSection,
        BadSectionLength,
        PagesCrcNotZero,
        BadDescriptorCrc,
        BadRegistersCrc,
        BadMailboxCrc,
        BadEndCrc,
        DescriptorReserved,
        BadVfIndex,
        SliceTooLarge,
        BadFaultRecord,
        BadBlobNumber,
        DescriptorChanged,
        TooManyBlobs,
        BadRunCount,
        RunPastSlice,
        RunPastSection,
        DuplicatePage,
        BadRunCrc,
        RegistersReserved,
        BadIntBits,
        BadQueueStatus,
        BadQueueError,
        BadQueueSize,
        BadQueueBase,
        BadQueuePointer,
        BadHeldCtrl,
        JobWhileIdle,
        BadJobCost,
        BadJobTime,
        BadMailboxFlags,
        ToldWithoutMessage,
        MailboxReserved,
        BadEndCount,
        EndReserved,
        TrailingData,
        Truncated,
        NoStateBlob,
        BitmapTooSmall,
        OtherDevice,
        OtherInterface,
        OtherDriver,
        OtherVf,
        OtherSlice,
        OtherCard,
        TargetCannotMigrate,
    ]
};

/// A `fmt::Write` into a byte buffer.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.pos.checked_add(s.len()).ok_or(core::fmt::Error)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.pos = end;
        Ok(())
    }
}

/// Every check, for the host's run-them-all test.
pub const CHECKS: &[(&str, CheckFn)] = &[
    ("crc32_is_zlibs", crc32_is_zlibs),
    ("job_cost_is_the_cost_model", job_cost_is_the_cost_model),
    ("valid_stream_in_any_chunks", valid_stream_in_any_chunks),
    ("state_blob_alone", state_blob_alone),
    ("header_is_checked", header_is_checked),
    ("table_is_checked", table_is_checked),
    ("sections_are_crc_checked", sections_are_crc_checked),
    ("runs_are_checked", runs_are_checked),
    ("truncation_is_refused", truncation_is_refused),
    ("blob_sequence_is_checked", blob_sequence_is_checked),
    ("register_values_are_checked", register_values_are_checked),
    (
        "mailbox_and_descriptor_values_are_checked",
        mailbox_and_descriptor_values_are_checked,
    ),
    ("compatibility_is_decided", compatibility_is_decided),
    (
        "errors_stick_and_name_both_ends",
        errors_stick_and_name_both_ends,
    ),
    ("every_error_has_a_reason", every_error_has_a_reason),
];
