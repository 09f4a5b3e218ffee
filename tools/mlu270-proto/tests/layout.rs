// SPDX-License-Identifier: GPL-2.0

//! Tests of the partition layout planner.

// Host tests may panic: that is how they fail.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use mlu270_proto::layout::*;
use Fraction::{Half, Quarter, Whole};

const CARD: CardCaps = CardCaps::mlu270(256);

fn custom(text: &str) -> Layout {
    match Layout::parse(text) {
        Ok(LayoutChoice::Custom(l)) => l,
        other => panic!("{text:?}: {other:?}"),
    }
}

/// Every layout that can exist: all sequences of 1..=4 fractions that fit.
fn all_layouts() -> Vec<Layout> {
    let mut out = Vec::new();
    let fr = [Quarter, Half, Whole];
    let mut stack: Vec<Vec<Fraction>> = vec![vec![]];
    while let Some(v) = stack.pop() {
        if !v.is_empty() {
            if let Ok(l) = Layout::new(&v) {
                out.push(l);
            } else {
                continue;
            }
        }
        if v.len() < MAX_VFS {
            for f in fr {
                let mut w = v.clone();
                w.push(f);
                stack.push(w);
            }
        }
    }
    out
}

#[test]
fn fraction_basics() {
    assert_eq!(Quarter.quarters(), 1);
    assert_eq!(Half.quarters(), 2);
    assert_eq!(Whole.quarters(), 4);
    for f in [Quarter, Half, Whole] {
        assert_eq!(Fraction::from_quarters(f.quarters()), Some(f));
        assert_eq!(Fraction::parse(f.as_str()), Ok(f));
        assert_eq!(f.to_string(), f.as_str());
    }
    assert_eq!(Fraction::from_quarters(0), None);
    assert_eq!(Fraction::from_quarters(3), None);
    assert_eq!(Fraction::parse("1"), Ok(Whole));
    assert_eq!(Fraction::parse("2/4"), Err(LayoutError::BadFraction));
}

#[test]
fn defaults() {
    assert_eq!(default_for(1).unwrap().fractions(), &[Whole]);
    assert_eq!(default_for(2).unwrap().fractions(), &[Half, Half]);
    assert_eq!(
        default_for(3).unwrap().fractions(),
        &[Half, Quarter, Quarter]
    );
    assert_eq!(
        default_for(4).unwrap().fractions(),
        &[Quarter, Quarter, Quarter, Quarter]
    );
    assert_eq!(default_for(0), Err(LayoutError::NoVfs));
    assert_eq!(default_for(5), Err(LayoutError::TooManyVfs));
    assert_eq!(default_for(usize::MAX), Err(LayoutError::TooManyVfs));
    for n in 1..=4 {
        let l = default_for(n).unwrap();
        assert_eq!(l.len(), n);
        assert!(!l.is_empty());
        assert_eq!(l.total_quarters(), 4, "defaults use the whole card");
    }
}

#[test]
fn default_plans() {
    let s = plan(&default_for(1).unwrap(), &CARD).unwrap();
    assert_eq!(s[0], Slice::whole(&CARD));
    assert!(s[1..].iter().all(Slice::is_empty));

    let s = plan(&default_for(2).unwrap(), &CARD).unwrap();
    assert_eq!(
        s[0],
        Slice {
            ipu_mask: 0x00ff,
            vpu_mask: 0x3,
            jpu_mask: 0x3,
            mem_base_mb: 0,
            mem_size_mb: 128,
            quarters: 2
        }
    );
    assert_eq!(
        s[1],
        Slice {
            ipu_mask: 0xff00,
            vpu_mask: 0xc,
            jpu_mask: 0xc,
            mem_base_mb: 128,
            mem_size_mb: 128,
            quarters: 2
        }
    );

    let s = plan(&default_for(3).unwrap(), &CARD).unwrap();
    assert_eq!(
        (s[0].ipu_mask, s[0].mem_base_mb, s[0].mem_size_mb),
        (0x00ff, 0, 128)
    );
    assert_eq!(
        (s[1].ipu_mask, s[1].vpu_mask, s[1].mem_base_mb),
        (0x0f00, 0x4, 128)
    );
    assert_eq!(
        (s[2].ipu_mask, s[2].jpu_mask, s[2].mem_base_mb),
        (0xf000, 0x8, 192)
    );
    assert!(s[3].is_empty());

    let s = plan(&default_for(4).unwrap(), &CARD).unwrap();
    for (q, sl) in s.iter().enumerate() {
        assert_eq!(sl.ipu_mask, 0xf << (4 * q));
        assert_eq!(sl.vpu_mask, 1 << q);
        assert_eq!(sl.jpu_mask, 1 << q);
        assert_eq!(sl.mem_base_mb, 64 * q as u32);
        assert_eq!(sl.mem_size_mb, 64);
        assert_eq!(sl.quarters, 1);
    }
}

#[test]
fn custom_layouts() {
    let l = custom("1/4 1/4");
    assert_eq!(l.fractions(), &[Quarter, Quarter]);
    let s = plan(&l, &CARD).unwrap();
    assert_eq!(s[0].ipu_mask, 0x000f);
    assert_eq!(s[1].ipu_mask, 0x00f0);
    assert!(s[2].is_empty() && s[3].is_empty());

    // Largest first: the 1/2 (VF 2) gets the first aligned pair.
    let l = custom("1/4 1/4 1/2");
    let s = plan(&l, &CARD).unwrap();
    assert_eq!(
        (s[2].ipu_mask, s[2].mem_base_mb, s[2].quarters),
        (0x00ff, 0, 2)
    );
    assert_eq!((s[0].ipu_mask, s[0].mem_base_mb), (0x0f00, 128));
    assert_eq!((s[1].ipu_mask, s[1].mem_base_mb), (0xf000, 192));

    // Alignment: 1/4 1/2 1/4 must not give the 1/2 quarters 1-2.
    let s = plan(&custom("1/4 1/2 1/4"), &CARD).unwrap();
    assert_eq!(s[1].vpu_mask, 0x3);
    assert_eq!(s[0].vpu_mask, 0x4);
    assert_eq!(s[2].vpu_mask, 0x8);

    assert_eq!(custom("1/2").fractions(), &[Half]);
    assert_eq!(custom("1/1\n").fractions(), &[Whole]);
    assert_eq!(custom("1/2,1/4,1/4").fractions(), &[Half, Quarter, Quarter]);
    assert_eq!(
        custom(" 1/2, 1/4 ,1/4 \n").fractions(),
        &[Half, Quarter, Quarter]
    );
    assert_eq!(custom("1/4\t1/4").len(), 2);
}

#[test]
fn default_keyword() {
    assert_eq!(Layout::parse("default"), Ok(LayoutChoice::Default));
    assert_eq!(Layout::parse("default\n"), Ok(LayoutChoice::Default));
    assert_eq!(Layout::parse("Default"), Err(LayoutError::BadFraction));
    assert_eq!(Layout::parse("default 1/4"), Err(LayoutError::BadFraction));
}

#[test]
fn invalid_layouts() {
    use LayoutError::*;
    let cases: &[(&str, LayoutError)] = &[
        ("1/2 1/2 1/4", Overcommitted),
        ("1/1 1/4", Overcommitted),
        ("1/1 1/1", Overcommitted),
        ("3/4", BadFraction),
        ("", Empty),
        ("\n", Empty),
        ("   ", Empty),
        ("1/4 x", BadFraction),
        ("1/4 1/4 1/4 1/4 1/4", TooMany),
        ("1/4 1/4 1/4 1/4 1/4 1/4 1/4 1/4 1/4", TooMany),
        ("1/4,,1/4", BadFraction),
        (",1/4", BadFraction),
        ("1/4,", BadFraction),
        (",", BadFraction),
        ("0", BadFraction),
        ("1/3", BadFraction),
        ("1/8", BadFraction),
        ("-1/4", BadFraction),
        ("1/4;1/4", BadFraction),
        ("½", BadFraction),
    ];
    for (text, err) in cases {
        assert_eq!(Layout::parse(text), Err(*err), "{text:?}");
        assert_eq!(err.errno(), 22, "invalid layouts are EINVAL");
    }
    assert_eq!(Layout::parse_bytes(b"1/4 \xff"), Err(BadFraction));
    assert_eq!(Layout::new(&[]), Err(Empty));
    assert_eq!(Layout::new(&[Quarter; 5]), Err(TooMany));
    assert_eq!(Layout::new(&[Whole, Quarter]), Err(Overcommitted));
}

#[test]
fn store_and_resolve() {
    // The operator may choose only while no VF exists, and nothing changes
    // on error (store_layout is pure: the caller keeps its old choice).
    assert_eq!(store_layout(b"1/4 1/4\n", 2), Err(LayoutError::Busy));
    assert_eq!(LayoutError::Busy.errno(), 16);
    assert_eq!(store_layout(b"1/4 1/4\n", 0), Ok(Some(custom("1/4 1/4"))));
    assert_eq!(store_layout(b"default\n", 0), Ok(None));
    assert_eq!(
        store_layout(b"1/2 1/2 1/4", 0),
        Err(LayoutError::Overcommitted)
    );

    let chosen = custom("1/4 1/4");
    assert_eq!(resolve(Some(&chosen), 2), Ok(chosen));
    assert_eq!(resolve(Some(&chosen), 1), Err(LayoutError::CountMismatch));
    assert_eq!(resolve(Some(&chosen), 3), Err(LayoutError::CountMismatch));
    assert_eq!(LayoutError::CountMismatch.errno(), 22);
    assert_eq!(resolve(Some(&chosen), 5), Err(LayoutError::TooManyVfs));
    assert_eq!(LayoutError::TooManyVfs.errno(), 34);
    assert_eq!(resolve(None, 5), Err(LayoutError::TooManyVfs));
    assert_eq!(resolve(None, 0), Err(LayoutError::NoVfs));
    for n in 1..=4 {
        assert_eq!(resolve(None, n), default_for(n));
    }
}

#[test]
fn format_round_trip() {
    for l in all_layouts() {
        let text = l.to_string();
        assert_eq!(Layout::parse(&text), Ok(LayoutChoice::Custom(l)));
        let mut buf = [0u8; 32];
        let n = l.format(&mut buf).unwrap();
        assert_eq!(&buf[..n], text.as_bytes());
        let with_commas = text.replace(' ', ",");
        assert_eq!(Layout::parse(&with_commas), Ok(LayoutChoice::Custom(l)));
    }
    assert_eq!(custom("1/2,1/4 1/4").to_string(), "1/2 1/4 1/4");
    let mut small = [0u8; 4];
    assert_eq!(
        custom("1/2 1/4").format(&mut small),
        Err(LayoutError::NoSpace)
    );
}

#[test]
fn all_layouts_disjoint_and_aligned() {
    let layouts = all_layouts();
    // 1..4 fractions summing to <= 4 quarters: 3 + 4 + 4 + 1 = 12.
    assert_eq!(layouts.len(), 12);
    for mem in [16u32, 17, 18, 19, 256, 1000, 2048] {
        let card = CardCaps::mlu270(mem);
        for l in &layouts {
            let s = plan(l, &card).unwrap();
            for (i, a) in s.iter().enumerate() {
                match l.get(i) {
                    Some(f) => {
                        assert_eq!(a.quarters, f.quarters());
                        assert_eq!(a.ipu_mask.count_ones(), 4 * u32::from(f.quarters()));
                        assert_eq!(a.vpu_mask.count_ones(), u32::from(f.quarters()));
                        assert_eq!(a.jpu_mask, a.vpu_mask);
                        assert!(a.vpu_mask <= 0xf);
                        // Natural alignment.
                        let first = a.vpu_mask.trailing_zeros() as u8;
                        assert_eq!(first % f.quarters(), 0, "{l} {a:?}");
                        // IPU clusters match the VPU quarters.
                        for q in 0..4 {
                            let has = a.vpu_mask & (1 << q) != 0;
                            assert_eq!(a.ipu_mask & (0xf << (4 * q)) != 0, has);
                        }
                        assert!(a.mem_base_mb + a.mem_size_mb <= mem);
                        if f == Whole {
                            assert_eq!(a.mem_size_mb, mem);
                        } else {
                            assert_eq!(a.mem_size_mb, card.quarter_mb() * u32::from(f.quarters()));
                            assert_eq!(a.mem_base_mb, card.quarter_mb() * u32::from(first));
                        }
                    }
                    None => assert_eq!(*a, Slice::EMPTY),
                }
                for b in s.iter().skip(i + 1) {
                    assert!(a.is_disjoint(b), "{l}: {a:?} vs {b:?}");
                    assert!(b.is_disjoint(a));
                }
            }
            // Deterministic.
            assert_eq!(plan(l, &card).unwrap(), s);
        }
    }
}

#[test]
fn bad_cards() {
    let l = default_for(4).unwrap();
    let mut c = CARD;
    c.ipu_cores = 8;
    assert_eq!(plan(&l, &c), Err(LayoutError::BadCard));
    let mut c = CARD;
    c.vpus = 0;
    assert_eq!(plan(&l, &c), Err(LayoutError::BadCard));
    let mut c = CARD;
    c.jpus = 5;
    assert_eq!(plan(&l, &c), Err(LayoutError::BadCard));
    assert_eq!(LayoutError::BadCard.errno(), 19);
    assert_eq!(plan(&l, &CardCaps::mlu270(3)), Err(LayoutError::NoSpace));
    assert_eq!(LayoutError::NoSpace.errno(), 28);
    assert!(plan(&l, &CardCaps::mlu270(4)).is_ok());
    assert!(plan(&l, &CardCaps::mlu270(u32::MAX)).is_ok());
}

#[test]
fn slice_helpers() {
    let s = plan(&default_for(4).unwrap(), &CARD).unwrap()[2];
    assert!(!s.is_empty());
    assert!(Slice::EMPTY.is_empty());
    assert!(Slice::default().is_empty());
    assert!(s.contains_range_mb(0, 64));
    assert!(s.contains_range_mb(63, 1));
    assert!(!s.contains_range_mb(63, 2));
    assert!(!s.contains_range_mb(64, 1));
    assert!(!s.contains_range_mb(0, 0), "empty ranges are not contained");
    assert!(!s.contains_range_mb(u32::MAX, 1));
    assert!(!s.contains_range_mb(1, u32::MAX), "wrapping range");
    assert!(!s.contains_range_mb(u32::MAX, u32::MAX));
    assert!(!Slice::EMPTY.contains_range_mb(0, 1));
    assert_eq!(s.absolute_mb(0), Some(128));
    assert_eq!(s.absolute_mb(63), Some(191));
    assert_eq!(s.absolute_mb(64), None);
    let huge = Slice {
        mem_base_mb: u32::MAX,
        mem_size_mb: 2,
        ..s
    };
    assert_eq!(huge.absolute_mb(1), None);
    assert_eq!(s.to_entry(), [0x0f00, 0x4, 0x4, 128, 64]);
    assert!(s.is_disjoint(&Slice::EMPTY));
    assert!(!s.is_disjoint(&s));
    let mem_overlap = Slice {
        ipu_mask: 0,
        vpu_mask: 0,
        jpu_mask: 0,
        mem_base_mb: 190,
        mem_size_mb: 10,
        quarters: 0,
    };
    assert!(!s.is_disjoint(&mem_overlap));
    assert!(!mem_overlap.is_disjoint(&s));
}

#[test]
fn errnos() {
    use LayoutError::*;
    for e in [
        Empty,
        BadFraction,
        TooMany,
        Overcommitted,
        CountMismatch,
        NoVfs,
    ] {
        assert_eq!(e.errno(), 22);
    }
}

#[test]
fn layout_accessors() {
    let l = custom("1/2 1/4");
    assert_eq!(l.get(0), Some(Half));
    assert_eq!(l.get(1), Some(Quarter));
    assert_eq!(l.get(2), None);
    assert_eq!(l.get(usize::MAX), None);
    assert_eq!(l.total_quarters(), 3);
    assert_eq!(
        Layout::parse_bytes(b"1/2 1/4\n"),
        Ok(LayoutChoice::Custom(l))
    );
    // A plan may leave quarters unused.
    let s = plan(&l, &CARD).unwrap();
    let used = s.iter().fold(0u8, |a, x| a | x.vpu_mask);
    assert_eq!(used, 0x7);
}
