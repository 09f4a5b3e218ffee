// SPDX-License-Identifier: GPL-2.0

//! MLU270 partition layout planner.
//!
//! Shared, pure code (only `core`, no allocation, no panics) used by the PF
//! driver to turn the operator's choice of VF shapes into partition table
//! entries, and by the VF driver and the host tests to reason about slices.
//!
//! Terminology:
//!
//! * *quarter*: the allocation unit of the card: one IPU cluster (4 cores),
//!   one VPU, one JPU and a quarter of the device memory. Quarter `q` owns IPU
//!   cores `4q..4q+3`, VPU `q`, JPU `q` and memory
//!   `[q * Q, (q + 1) * Q)` MiB with `Q = CAP_MEM_MB / 4` (rounded down).
//! * *fraction*: the shape of one VF: 1/4, 1/2 or 1/1 of the card.
//! * *layout*: the ordered list of fractions, one per VF (entry `i` is VF `i`).
//! * *slice*: the resources of one function, exactly what the PF writes into
//!   its partition table entry (see `Documentation/accel/mlu270/hardware.rst`).
//!
//! The planner is deterministic: the same layout on the same card always gives
//! the same slices. Live migration relies on that (a VF's state only moves
//! between VFs of the same index on identically partitioned cards).
//!
//! This file is included into each driver with
//! `#[path = "../common/layout.rs"] mod layout;` and does not depend on any
//! other module.

// Each driver uses only part of this shared API (the VF driver never plans or
// validates requests, the PF driver never parses replies) and includes the
// file as a private module, so unused and "unreachable" `pub` items are
// expected here rather than a sign of dead code.
#![allow(dead_code, unreachable_pub)]

use core::fmt;

/// Maximum number of VFs of the card (`sriov_totalvfs`).
pub const MAX_VFS: usize = 4;

/// Number of quarters (allocation units) of the card.
pub const TOTAL_QUARTERS: u8 = 4;

/// IPU cores per quarter (one cluster).
pub const IPU_CORES_PER_QUARTER: u32 = 4;

/// The engine counts the planner expects (`CAP_IPU`, `CAP_VPU`, `CAP_JPU`).
pub const CARD_IPU_CORES: u32 = 16;
/// See [`CARD_IPU_CORES`].
pub const CARD_VPUS: u32 = 4;
/// See [`CARD_IPU_CORES`].
pub const CARD_JPUS: u32 = 4;

/// Errors of layout parsing, selection and planning.
///
/// Every error maps to the positive errno the driver returns to user space
/// (negated) through [`LayoutError::errno`]. All the ways a layout written by
/// an operator can be wrong map to `EINVAL`, as the sysfs ABI promises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The text holds no fraction at all (empty string, only separators).
    Empty,
    /// A token is not one of `1/4`, `1/2`, `1/1` (or `1`), or a separator is
    /// misplaced (e.g. two commas in a row).
    BadFraction,
    /// More fractions than VFs.
    TooMany,
    /// The fractions add up to more than the whole card.
    Overcommitted,
    /// `sriov_configure(n)` with an operator-chosen layout of another length.
    CountMismatch,
    /// `sriov_configure(0)` asked for a layout (0 means "disable VFs").
    NoVfs,
    /// More VFs requested than the card supports.
    TooManyVfs,
    /// The layout cannot change while VFs exist.
    Busy,
    /// The card does not report the expected engines (16/4/4).
    BadCard,
    /// The card memory is too small to give every quarter at least 1 MiB,
    /// or an output buffer is too small.
    NoSpace,
}

impl LayoutError {
    /// The positive Linux errno for this error.
    pub const fn errno(self) -> i32 {
        match self {
            Self::Empty
            | Self::BadFraction
            | Self::TooMany
            | Self::Overcommitted
            | Self::CountMismatch
            | Self::NoVfs => 22, // EINVAL
            Self::TooManyVfs => 34, // ERANGE
            Self::Busy => 16,       // EBUSY
            Self::BadCard => 19,    // ENODEV
            Self::NoSpace => 28,    // ENOSPC
        }
    }
}

/// The share of the card one VF gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fraction {
    /// 1/4: one cluster, one VPU, one JPU, a quarter of the memory.
    Quarter,
    /// 1/2: two clusters, two VPUs, two JPUs, half of the memory.
    Half,
    /// 1/1: the whole card.
    Whole,
}

impl Fraction {
    /// Size in quarters (1, 2 or 4).
    pub const fn quarters(self) -> u8 {
        match self {
            Self::Quarter => 1,
            Self::Half => 2,
            Self::Whole => 4,
        }
    }

    /// The fraction of `q` quarters, if it is a valid VF shape.
    pub const fn from_quarters(q: u8) -> Option<Self> {
        match q {
            1 => Some(Self::Quarter),
            2 => Some(Self::Half),
            4 => Some(Self::Whole),
            _ => None,
        }
    }

    /// Canonical text form, as shown in sysfs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Quarter => "1/4",
            Self::Half => "1/2",
            Self::Whole => "1/1",
        }
    }

    /// Parses one token. `1` is accepted as a synonym of `1/1`.
    pub fn parse(token: &str) -> Result<Self, LayoutError> {
        match token {
            "1/4" => Ok(Self::Quarter),
            "1/2" => Ok(Self::Half),
            "1/1" | "1" => Ok(Self::Whole),
            _ => Err(LayoutError::BadFraction),
        }
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ordered list of 1 to [`MAX_VFS`] fractions whose sum is at most the
/// whole card. Entry `i` is the shape of VF `i`.
///
/// The invariants are established by every constructor, so holders of a
/// `Layout` never need to re-check them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    fractions: [Fraction; MAX_VFS],
    len: u8,
}

/// What the operator wrote to the layout attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutChoice {
    /// `default`: use [`default_for`] of whatever N is configured.
    Default,
    /// An explicit layout; `sriov_numvfs` must then equal its length.
    Custom(Layout),
}

impl Layout {
    /// Builds a layout, checking 1..=4 entries and a total of at most 1/1.
    pub fn new(fractions: &[Fraction]) -> Result<Self, LayoutError> {
        if fractions.is_empty() {
            return Err(LayoutError::Empty);
        }
        if fractions.len() > MAX_VFS {
            return Err(LayoutError::TooMany);
        }
        let mut out = Self {
            fractions: [Fraction::Quarter; MAX_VFS],
            len: 0,
        };
        let mut total: u8 = 0;
        for (slot, f) in out.fractions.iter_mut().zip(fractions.iter()) {
            total = total.saturating_add(f.quarters());
            *slot = *f;
            out.len = out.len.saturating_add(1);
        }
        if total > TOTAL_QUARTERS {
            return Err(LayoutError::Overcommitted);
        }
        Ok(out)
    }

    /// Number of VFs of this layout (1..=4).
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always `false` (a layout has at least one VF); provided for clippy's
    /// `len_without_is_empty` and for symmetry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The fractions, VF 0 first.
    pub fn fractions(&self) -> &[Fraction] {
        self.fractions.get(..self.len()).unwrap_or(&[])
    }

    /// The fraction of VF `vf`, if it exists.
    pub fn get(&self, vf: usize) -> Option<Fraction> {
        self.fractions().get(vf).copied()
    }

    /// Sum of the fractions in quarters (at most 4).
    pub fn total_quarters(&self) -> u8 {
        self.fractions()
            .iter()
            .fold(0u8, |acc, f| acc.saturating_add(f.quarters()))
    }

    /// Parses the sysfs text form.
    ///
    /// Fractions are separated by whitespace and/or single commas
    /// (`"1/2 1/4 1/4"`, `"1/2,1/4,1/4"`, `"1/2, 1/4"`); surrounding
    /// whitespace, including the trailing newline `echo` adds, is ignored.
    /// `default` selects the default layout for the configured N.
    pub fn parse(text: &str) -> Result<LayoutChoice, LayoutError> {
        let text = text.trim();
        if text == "default" {
            return Ok(LayoutChoice::Default);
        }
        if text.is_empty() {
            return Err(LayoutError::Empty);
        }
        let mut buf = [Fraction::Quarter; MAX_VFS];
        let mut n: usize = 0;
        for field in text.split(',') {
            let mut field_tokens = 0usize;
            for token in field.split_ascii_whitespace() {
                let f = Fraction::parse(token)?;
                let slot = buf.get_mut(n).ok_or(LayoutError::TooMany)?;
                *slot = f;
                n = n.saturating_add(1);
                field_tokens = field_tokens.saturating_add(1);
            }
            // "1/2,,1/4", ",1/4" and "1/4," are typos, not layouts.
            if field_tokens == 0 {
                return Err(LayoutError::BadFraction);
            }
        }
        let used = buf.get(..n).ok_or(LayoutError::TooMany)?;
        Self::new(used).map(LayoutChoice::Custom)
    }

    /// Parses raw bytes from a sysfs store (must be UTF-8, see [`Self::parse`]).
    pub fn parse_bytes(bytes: &[u8]) -> Result<LayoutChoice, LayoutError> {
        let text = core::str::from_utf8(bytes).map_err(|_| LayoutError::BadFraction)?;
        Self::parse(text)
    }

    /// Writes the canonical text form (`"1/2 1/4 1/4"`, no newline) into
    /// `buf` and returns the number of bytes written.
    pub fn format(&self, buf: &mut [u8]) -> Result<usize, LayoutError> {
        let mut w = ByteWriter { buf, pos: 0 };
        fmt::write(&mut w, format_args!("{self}")).map_err(|_| LayoutError::NoSpace)?;
        Ok(w.pos)
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for frac in self.fractions() {
            f.write_str(sep)?;
            f.write_str(frac.as_str())?;
            sep = " ";
        }
        Ok(())
    }
}

/// A `fmt::Write` into a fixed byte buffer that fails instead of truncating.
struct ByteWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.pos.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.pos..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.pos = end;
        Ok(())
    }
}

/// The default layout for `num_vfs` VFs: 1 -> 1/1, 2 -> 1/2 + 1/2,
/// 3 -> 1/2 + 1/4 + 1/4, 4 -> 4 x 1/4.
///
/// `0` is [`LayoutError::NoVfs`] (the caller disables VFs instead),
/// more than 4 is [`LayoutError::TooManyVfs`] (`ERANGE`).
pub fn default_for(num_vfs: usize) -> Result<Layout, LayoutError> {
    use Fraction::{Half, Quarter, Whole};
    match num_vfs {
        0 => Err(LayoutError::NoVfs),
        1 => Layout::new(&[Whole]),
        2 => Layout::new(&[Half, Half]),
        3 => Layout::new(&[Half, Quarter, Quarter]),
        4 => Layout::new(&[Quarter, Quarter, Quarter, Quarter]),
        _ => Err(LayoutError::TooManyVfs),
    }
}

/// The layout `sriov_configure(num_vfs)` must use.
///
/// With an operator-chosen layout, `num_vfs` must equal its length
/// (`EINVAL` otherwise): the operator said how many VFs they want, silently
/// ignoring the choice would hand out different slices than requested.
/// Without one, the default for `num_vfs`. `num_vfs > 4` is `ERANGE`
/// whatever the choice; `0` is `EINVAL` (disabling needs no layout).
pub fn resolve(chosen: Option<&Layout>, num_vfs: usize) -> Result<Layout, LayoutError> {
    if num_vfs > MAX_VFS {
        return Err(LayoutError::TooManyVfs);
    }
    if num_vfs == 0 {
        return Err(LayoutError::NoVfs);
    }
    match chosen {
        Some(l) if l.len() == num_vfs => Ok(*l),
        Some(_) => Err(LayoutError::CountMismatch),
        None => default_for(num_vfs),
    }
}

/// Handles a write to the layout attribute.
///
/// Returns the new operator choice (`None` = back to the defaults). The
/// layout can only change while no VFs exist (`EBUSY`, as the partition
/// table is locked by the hardware while VF Enable is set); on any error the
/// caller keeps its previous choice unchanged.
pub fn store_layout(text: &[u8], current_num_vfs: usize) -> Result<Option<Layout>, LayoutError> {
    if current_num_vfs != 0 {
        return Err(LayoutError::Busy);
    }
    match Layout::parse_bytes(text)? {
        LayoutChoice::Default => Ok(None),
        LayoutChoice::Custom(l) => Ok(Some(l)),
    }
}

/// What the card reports in its `CAP_*` registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardCaps {
    /// `CAP_IPU`: IPU cores (16).
    pub ipu_cores: u32,
    /// `CAP_VPU`: VPUs (4).
    pub vpus: u32,
    /// `CAP_JPU`: JPUs (4).
    pub jpus: u32,
    /// `CAP_MEM_MB`: device memory in MiB.
    pub mem_mb: u32,
}

impl CardCaps {
    /// The emulated card with `mem_mb` MiB of memory.
    pub const fn mlu270(mem_mb: u32) -> Self {
        Self {
            ipu_cores: CARD_IPU_CORES,
            vpus: CARD_VPUS,
            jpus: CARD_JPUS,
            mem_mb,
        }
    }

    /// MiB of one quarter (memory is split evenly, remainder unused except
    /// by a 1/1 slice).
    pub const fn quarter_mb(&self) -> u32 {
        self.mem_mb / (TOTAL_QUARTERS as u32)
    }

    fn check(&self) -> Result<(), LayoutError> {
        if self.ipu_cores != CARD_IPU_CORES || self.vpus != CARD_VPUS || self.jpus != CARD_JPUS {
            return Err(LayoutError::BadCard);
        }
        if self.quarter_mb() == 0 {
            return Err(LayoutError::NoSpace);
        }
        Ok(())
    }
}

/// The resources of one function: exactly one partition table entry.
///
/// Memory is given in MiB; `mem_base_mb` is the physical base in device
/// memory, which only the PF knows (a function addresses its window from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Slice {
    /// IPU cores (bit c = core c), `IPU_MASK`.
    pub ipu_mask: u16,
    /// VPUs, bits 3:0, `VPU_MASK`.
    pub vpu_mask: u8,
    /// JPUs, bits 3:0, `JPU_MASK`.
    pub jpu_mask: u8,
    /// Window base in device memory, MiB, `MEM_BASE_MB`.
    pub mem_base_mb: u32,
    /// Window size, MiB, `MEM_SIZE_MB`.
    pub mem_size_mb: u32,
    /// Size in quarters (0 = empty, 1, 2 or 4).
    pub quarters: u8,
}

impl Slice {
    /// No resources (unused VF entries, and every VF while disabled).
    pub const EMPTY: Self = Self {
        ipu_mask: 0,
        vpu_mask: 0,
        jpu_mask: 0,
        mem_base_mb: 0,
        mem_size_mb: 0,
        quarters: 0,
    };

    /// The whole card (entry 0 while no VF is enabled, and a 1/1 VF).
    pub const fn whole(card: &CardCaps) -> Self {
        Self {
            ipu_mask: 0xffff,
            vpu_mask: 0xf,
            jpu_mask: 0xf,
            mem_base_mb: 0,
            mem_size_mb: card.mem_mb,
            quarters: TOTAL_QUARTERS,
        }
    }

    /// The PF's own slice of `fraction` (entry 0 of the table, used while no
    /// VF is enabled): the first quarters of the card, so that it can be
    /// compared with a VF's slice of the same size.
    pub fn native(card: &CardCaps, fraction: Fraction) -> Option<Self> {
        Self::quarters_at(card, 0, fraction.quarters())
    }

    /// `count` quarters starting at quarter `first` (`first + count <= 4`).
    fn quarters_at(card: &CardCaps, first: u8, count: u8) -> Option<Self> {
        if count == TOTAL_QUARTERS {
            return if first == 0 {
                Some(Self::whole(card))
            } else {
                None
            };
        }
        let end = first.checked_add(count)?;
        if count == 0 || end > TOTAL_QUARTERS {
            return None;
        }
        let qmask = quarter_bits(first, count);
        let mut ipu: u16 = 0;
        for q in first..end {
            // q < 4, so the shift is at most 12; checked_shl() documents that
            // and keeps the code free of overflow-check panics.
            let shift = u32::from(q).saturating_mul(IPU_CORES_PER_QUARTER);
            ipu |= 0xfu16.checked_shl(shift).unwrap_or(0);
        }
        let qmb = card.quarter_mb();
        Some(Self {
            ipu_mask: ipu,
            vpu_mask: qmask,
            jpu_mask: qmask,
            mem_base_mb: u32::from(first).checked_mul(qmb)?,
            mem_size_mb: u32::from(count).checked_mul(qmb)?,
            quarters: count,
        })
    }

    /// True when the slice has no engine and no memory.
    pub const fn is_empty(&self) -> bool {
        self.ipu_mask == 0 && self.vpu_mask == 0 && self.jpu_mask == 0 && self.mem_size_mb == 0
    }

    /// True when `[offset_mb, offset_mb + len_mb)`, relative to the start
    /// of this slice's window, is non-empty and inside the window.
    /// Overflow-safe: a range that wraps around is never contained.
    pub const fn contains_range_mb(&self, offset_mb: u32, len_mb: u32) -> bool {
        if len_mb == 0 {
            return false;
        }
        match offset_mb.checked_add(len_mb) {
            Some(end) => end <= self.mem_size_mb,
            None => false,
        }
    }

    /// Physical device-memory MiB of window offset `offset_mb`, if the
    /// offset is inside the window.
    pub const fn absolute_mb(&self, offset_mb: u32) -> Option<u32> {
        if offset_mb >= self.mem_size_mb {
            return None;
        }
        self.mem_base_mb.checked_add(offset_mb)
    }

    /// True when the two slices share no IPU core, VPU, JPU or MiB.
    pub const fn is_disjoint(&self, other: &Self) -> bool {
        if self.ipu_mask & other.ipu_mask != 0
            || self.vpu_mask & other.vpu_mask != 0
            || self.jpu_mask & other.jpu_mask != 0
        {
            return false;
        }
        if self.mem_size_mb == 0 || other.mem_size_mb == 0 {
            return true;
        }
        // Saturating ends: a wrapped range cannot come from plan(), and
        // saturating only makes the check stricter.
        let a_end = self.mem_base_mb.saturating_add(self.mem_size_mb);
        let b_end = other.mem_base_mb.saturating_add(other.mem_size_mb);
        a_end <= other.mem_base_mb || b_end <= self.mem_base_mb
    }

    /// The five partition table registers in offset order: `IPU_MASK`,
    /// `VPU_MASK`, `JPU_MASK`, `MEM_BASE_MB`, `MEM_SIZE_MB`.
    pub const fn to_entry(self) -> [u32; 5] {
        [
            self.ipu_mask as u32,
            self.vpu_mask as u32,
            self.jpu_mask as u32,
            self.mem_base_mb,
            self.mem_size_mb,
        ]
    }
}

/// Bit mask of quarters `first..first + count` (bit q = quarter q).
fn quarter_bits(first: u8, count: u8) -> u8 {
    let end = first.saturating_add(count);
    let mut bits = 0u8;
    for q in first..end.min(TOTAL_QUARTERS) {
        bits |= 1u8.checked_shl(u32::from(q)).unwrap_or(0);
    }
    bits
}

/// Assigns disjoint resources to every VF of `layout` on `card`.
///
/// Returns one slice per possible VF (index = VF index); entries beyond the
/// layout's length are [`Slice::EMPTY`]. Slices are naturally aligned (a 1/2
/// takes quarters 0-1 or 2-3, never 1-2) and allocated largest first, ties
/// in VF order, so any layout that sums to at most 1/1 fits (buddy
/// allocation cannot fragment) and the result is deterministic.
///
/// The PF's own entry 0 is not planned: the device gives the PF an empty
/// slice while VFs are enabled.
pub fn plan(layout: &Layout, card: &CardCaps) -> Result<[Slice; MAX_VFS], LayoutError> {
    card.check()?;
    if layout.is_empty() || layout.total_quarters() > TOTAL_QUARTERS {
        return Err(LayoutError::Overcommitted);
    }
    let mut out = [Slice::EMPTY; MAX_VFS];
    // Bit q set = quarter q taken.
    let mut used: u8 = 0;
    for size in [Fraction::Whole, Fraction::Half, Fraction::Quarter] {
        let count = size.quarters();
        // Indexed loop rather than enumerate(): the range cannot overflow,
        // so no overflow-check panic path is generated.
        for vf in 0..layout.len() {
            if layout.get(vf) != Some(size) {
                continue;
            }
            let mut placed = false;
            let mut first: u8 = 0;
            while first < TOTAL_QUARTERS {
                let bits = quarter_bits(first, count);
                if used & bits == 0 {
                    let slot = out.get_mut(vf).ok_or(LayoutError::TooMany)?;
                    *slot = Slice::quarters_at(card, first, count).ok_or(LayoutError::NoSpace)?;
                    used |= bits;
                    placed = true;
                    break;
                }
                first = first.saturating_add(count);
            }
            if !placed {
                return Err(LayoutError::Overcommitted);
            }
        }
    }
    Ok(out)
}
