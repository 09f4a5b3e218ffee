// SPDX-License-Identifier: GPL-2.0

//! Tests of the migration blob validator (`pf/mig_blob.rs`): the checks
//! KUnit also runs (`pf/mig_blob_test.rs`), then exhaustive runs that
//! only the host has time for.

// Host tests may panic: that is how they fail.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use mlu270_proto::mig_blob::*;
use mlu270_proto::mig_blob_test::{self as t, Check};

fn run(check: fn(&mut [u8], &mut [u64]) -> Check) {
    let mut buf = vec![0u8; t::SCRATCH_LEN];
    let mut seen = vec![0u64; t::SEEN_WORDS];
    if let Err(f) = check(&mut buf, &mut seen) {
        panic!("pf/mig_blob_test.rs:{}: {}", f.line, f.what);
    }
}

macro_rules! shared {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(t::$name);
            }
        )*
    };
}

shared!(
    crc32_is_zlibs,
    job_cost_is_the_cost_model,
    valid_stream_in_any_chunks,
    state_blob_alone,
    header_is_checked,
    table_is_checked,
    sections_are_crc_checked,
    runs_are_checked,
    truncation_is_refused,
    blob_sequence_is_checked,
    register_values_are_checked,
    mailbox_and_descriptor_values_are_checked,
    compatibility_is_decided,
    errors_stick_and_name_both_ends,
    every_error_has_a_reason,
);

/// The list KUnit does not use is complete too.
#[test]
fn check_list_is_complete() {
    assert_eq!(t::CHECKS.len(), 15);
    for (_, check) in t::CHECKS {
        run(*check);
    }
}

fn standard() -> (Target, Vec<u8>, [usize; 2]) {
    let target = t::target().unwrap();
    let specs = t::standard(&target);
    let mut buf = vec![0u8; t::stream_len(&specs)];
    let len = t::build_stream(&specs, &mut buf).unwrap();
    assert_eq!(len, buf.len());
    let b1 = t::blob_len(&specs[0]);
    let b2 = b1 + t::blob_len(&specs[1]);
    (target, buf, [b1, b2])
}

fn parse_chunks(target: &Target, data: &[u8], cuts: &[usize]) -> Result<(), MigError> {
    let mut seen = vec![0u64; MAX_BITMAP_WORDS];
    let mut p = StreamParser::new(*target, &mut seen[..])?;
    let mut at = 0;
    for &cut in cuts.iter().chain([data.len()].iter()) {
        let cut = cut.clamp(at, data.len());
        p.feed(&data[at..cut])?;
        at = cut;
    }
    p.finish()
}

/// xorshift64*: deterministic pseudo-random numbers for the fuzz runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn cuts(&mut self, len: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.below(40)).map(|_| self.below(len + 1)).collect();
        v.sort_unstable();
        v
    }
}

#[test]
fn every_chunk_size_and_random_splits() {
    let (target, data, _) = standard();
    for chunk in 1..=600 {
        let cuts: Vec<usize> = (chunk..data.len()).step_by(chunk).collect();
        assert_eq!(parse_chunks(&target, &data, &cuts), Ok(()), "chunk {chunk}");
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let cuts = rng.cuts(data.len());
        assert_eq!(parse_chunks(&target, &data, &cuts), Ok(()), "{cuts:?}");
    }
}

#[test]
fn every_truncation() {
    let (target, data, [b1, b2]) = standard();
    let mut seen = vec![0u64; MAX_BITMAP_WORDS];
    for cut in 0..data.len() {
        let mut p = StreamParser::new(target, &mut seen[..]).unwrap();
        assert_eq!(p.feed(&data[..cut]), Ok(()), "cut {cut}");
        let want = if [0, b1, b2].contains(&cut) {
            MigError::NoStateBlob
        } else {
            MigError::Truncated
        };
        assert_eq!(p.finish(), Err(want), "cut {cut}");
    }
}

/// The bytes of a stream that are not page data: headers, tables, fixed
/// sections, run headers and run CRCs.
fn structure(data: &[u8], bases: &[usize]) -> Vec<bool> {
    let mut mask = vec![false; data.len()];
    for &base in bases {
        let blob = &data[base..];
        let n = t::get32(blob, 0x10) as usize;
        mask[base..base + HEADER_LEN + n * TABLE_ENTRY_LEN].fill(true);
        for ty in [
            SectionType::Descriptor,
            SectionType::Registers,
            SectionType::Mailbox,
            SectionType::End,
        ] {
            if let Some((off, len)) = t::section(blob, ty) {
                mask[base + off..base + off + len].fill(true);
            }
        }
        let (off, len) = t::section(blob, SectionType::Pages).unwrap();
        let mut at = base + off;
        while at < base + off + len {
            let count = t::get32(data, at + 4) as usize;
            let end = at + RUN_HEADER_LEN + count * PAGE_SIZE + RUN_CRC_LEN;
            mask[at..at + RUN_HEADER_LEN].fill(true);
            mask[end - RUN_CRC_LEN..end].fill(true);
            at = end;
        }
    }
    mask
}

/// Every single-bit error outside the page data, and in a sample of the
/// pages, is refused, with the same error whatever the chunks (the verdict
/// depends on the bytes only).
#[test]
fn every_bit_flip_is_refused() {
    let (target, mut data, [b1, b2]) = standard();
    let mask = structure(&data, &[0, b1, b2]);
    let mut rng = Rng(42);
    let mut flips = 0;
    for off in 0..data.len() {
        if !mask[off] && off % 61 != 0 {
            continue;
        }
        for bit in 0..8 {
            data[off] ^= 1 << bit;
            let whole = parse_chunks(&target, &data, &[]);
            assert!(whole.is_err(), "offset {off} bit {bit}");
            assert_eq!(whole.unwrap_err().errno(), 22, "offset {off} bit {bit}");
            if bit == off % 8 {
                let cuts = rng.cuts(data.len());
                assert_eq!(
                    parse_chunks(&target, &data, &cuts),
                    whole,
                    "offset {off} {cuts:?}"
                );
            }
            data[off] ^= 1 << bit;
            flips += 1;
        }
    }
    let structural = mask.iter().filter(|&&m| m).count();
    assert_eq!(structural, 772);
    assert!(flips > 8 * structural, "{flips}");
}

/// Random damage (bytes overwritten, bytes dropped, garbage appended) is
/// always refused and never panics (debug builds check overflow).
#[test]
fn random_damage_is_refused() {
    let (target, data, _) = standard();
    let mut rng = Rng(7);
    for round in 0..3000 {
        let mut d = data.clone();
        match round % 3 {
            0 => {
                let mut changed = false;
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(d.len());
                    let v = rng.next() as u8;
                    changed |= d[at] != v;
                    d[at] = v;
                }
                if !changed {
                    continue;
                }
            }
            1 => {
                let at = rng.below(d.len());
                let n = 1 + rng.below(64.min(d.len() - at));
                d.drain(at..at + n);
            }
            _ => {
                for _ in 0..1 + rng.below(100) {
                    d.push(rng.next() as u8);
                }
            }
        }
        let cuts = rng.cuts(d.len());
        assert!(parse_chunks(&target, &d, &cuts).is_err(), "round {round}");
    }
    // Pure garbage of every length up to 300.
    for len in 0..300 {
        let g: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(parse_chunks(&target, &g, &[]).is_err());
    }
}

/// A hostile blob can claim up to 257 MiB and eight sections; the parser
/// still buffers nothing but its small fixed pieces.
#[test]
fn parser_stays_small() {
    let mut seen = vec![0u64; MAX_BITMAP_WORDS];
    let p = StreamParser::new(t::whole_target().unwrap(), &mut seen[..]).unwrap();
    assert!(
        core::mem::size_of_val(&p) < 1024,
        "{}",
        core::mem::size_of_val(&p)
    );
    // The bitmap can be owned too (the PF driver gives it a KVec).
    let owned = StreamParser::new(t::target().unwrap(), vec![0u64; 256]).unwrap();
    assert_eq!(owned.blobs(), 0);
    let short = StreamParser::new(t::target().unwrap(), [0u64; 255]);
    assert_eq!(short.err(), Some(MigError::BitmapTooSmall));
}
