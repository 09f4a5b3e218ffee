// SPDX-License-Identifier: GPL-2.0
//! The job nodes (`/dev/mlu270-pf<n>`, `/dev/mlu270-vf<n>`): the ioctls of
//! `include/uapi/misc/mlu270.h` (described in
//! `Documentation/accel/mlu270/job-uapi.rst`), a checked job run and a
//! short benchmark.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Instant;

const IOC_TYPE: u64 = 0xcb;
const IOC_WRITE: u64 = 1;
const IOC_READ: u64 = 2;

const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (IOC_TYPE << 8) | nr
}

const INFO_SIZE: usize = 64;
const JOB_SIZE: usize = 64;
const WAIT_SIZE: usize = 32;
const XFER_SIZE: usize = 32;
const IOCTL_INFO: u64 = ioc(IOC_READ, 0x00, INFO_SIZE);
const IOCTL_SUBMIT: u64 = ioc(IOC_READ | IOC_WRITE, 0x01, JOB_SIZE);
const IOCTL_WAIT: u64 = ioc(IOC_READ | IOC_WRITE, 0x02, WAIT_SIZE);
const IOCTL_WRITE: u64 = ioc(IOC_WRITE, 0x03, XFER_SIZE);
const IOCTL_READ: u64 = ioc(IOC_WRITE, 0x04, XFER_SIZE);
pub const VF_MIG_SIZE: usize = 64;
const IOCTL_VF_MIG: u64 = ioc(IOC_READ | IOC_WRITE, 0x05, VF_MIG_SIZE);

pub const OP_NOP: u32 = 0x00;
pub const OP_MEMCPY: u32 = 0x10;
pub const OP_FILL: u32 = 0x11;
pub const OP_CRC32: u32 = 0x12;
pub const OP_MATMUL: u32 = 0x13;
pub const OP_DELTA_ENC: u32 = 0x20;
pub const OP_ZIGZAG: u32 = 0x30;

/// Operations by the names the tool takes.
pub const OPS: &[(&str, u32)] = &[
    ("nop", OP_NOP),
    ("memcpy", OP_MEMCPY),
    ("fill", OP_FILL),
    ("crc32", OP_CRC32),
    ("matmul", OP_MATMUL),
    ("delta", OP_DELTA_ENC),
    ("zigzag", OP_ZIGZAG),
];

pub fn op_by_name(name: &str) -> Option<u32> {
    OPS.iter().find(|(n, _)| *n == name).map(|(_, op)| *op)
}

pub fn op_name(op: u32) -> &'static str {
    OPS.iter().find(|(_, o)| *o == op).map_or("?", |(n, _)| n)
}

/// The name of a job status (device codes, then the driver's).
pub fn status_name(status: u32) -> String {
    match status {
        0 => "OK".into(),
        1 => "BAD_OPCODE".into(),
        2 => "BAD_LEN".into(),
        3 => "OUT_OF_SLICE".into(),
        4 => "NO_ENGINE".into(),
        5 => "DMA_ERROR".into(),
        6 => "ABORTED".into(),
        7 => "BAD_ARGS".into(),
        0x100 => "RESET".into(),
        0x101 => "QUEUE_ERROR".into(),
        0x102 => "GONE".into(),
        0x103 => "BAD_RECORD".into(),
        s => format!("status {s:#x}"),
    }
}

mod sys {
    use std::os::raw::{c_int, c_ulong, c_void};
    extern "C" {
        pub fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int;
    }
}

/// An open job node.
pub struct Node {
    file: File,
}

/// `struct mlu270_info`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    pub abi_version: u32,
    pub function: u32,
    pub quarters: u32,
    pub protocol_version: u32,
    pub ipu_mask: u32,
    pub vpu_mask: u32,
    pub jpu_mask: u32,
    pub mem_mb: u32,
    pub ring_slots: u32,
    pub max_jobs: u32,
    pub max_len: u32,
}

/// A job (`struct mlu270_job`); device addresses are window offsets.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub opcode: u32,
    pub src: u64,
    pub dst: u64,
    pub aux: u64,
    pub len: u32,
    pub arg0: u32,
    pub arg1: u32,
    pub arg2: u32,
}

/// What `MLU270_IOCTL_WAIT` returns.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: u32,
    pub result: u64,
    pub duration_ns: u64,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | (u64::from(le32(b, at + 4)) << 32)
}

impl Info {
    pub fn decode(raw: &[u8; INFO_SIZE]) -> Self {
        let w = |i: usize| le32(raw, i * 4);
        Info {
            abi_version: w(0),
            function: w(1),
            quarters: w(2),
            protocol_version: w(3),
            ipu_mask: w(4),
            vpu_mask: w(5),
            jpu_mask: w(6),
            mem_mb: w(7),
            ring_slots: w(8),
            max_jobs: w(9),
            max_len: w(10),
        }
    }
}

impl Job {
    pub fn encode(&self) -> [u8; JOB_SIZE] {
        let mut raw = [0u8; JOB_SIZE];
        raw[0..4].copy_from_slice(&self.opcode.to_le_bytes());
        raw[8..16].copy_from_slice(&self.src.to_le_bytes());
        raw[16..24].copy_from_slice(&self.dst.to_le_bytes());
        raw[24..32].copy_from_slice(&self.aux.to_le_bytes());
        raw[32..36].copy_from_slice(&self.len.to_le_bytes());
        raw[36..40].copy_from_slice(&self.arg0.to_le_bytes());
        raw[40..44].copy_from_slice(&self.arg1.to_le_bytes());
        raw[44..48].copy_from_slice(&self.arg2.to_le_bytes());
        raw
    }
}

impl Node {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Node { file })
    }

    /// One ioctl whose argument is `buf`; the request encodes `N`.
    fn ioctl<const N: usize>(&self, request: u64, buf: &mut [u8; N]) -> io::Result<()> {
        debug_assert_eq!((request >> 16) & 0x3fff, N as u64);
        // SAFETY: `buf` is valid for reads and writes of `N` bytes for the
        // duration of the call, and every request used here encodes a size
        // of `N`, so the driver accesses no more than that.
        let ret =
            unsafe { sys::ioctl(self.file.as_raw_fd(), request as _, buf.as_mut_ptr().cast()) };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    pub fn info(&self) -> io::Result<Info> {
        let mut raw = [0u8; INFO_SIZE];
        self.ioctl(IOCTL_INFO, &mut raw)?;
        Ok(Info::decode(&raw))
    }

    pub fn submit(&self, job: &Job) -> io::Result<u64> {
        let mut raw = job.encode();
        self.ioctl(IOCTL_SUBMIT, &mut raw)?;
        Ok(le64(&raw, 48))
    }

    pub fn wait(&self, handle: u64, timeout_ms: u32) -> io::Result<Outcome> {
        let mut raw = [0u8; WAIT_SIZE];
        raw[0..8].copy_from_slice(&handle.to_le_bytes());
        raw[8..12].copy_from_slice(&timeout_ms.to_le_bytes());
        self.ioctl(IOCTL_WAIT, &mut raw)?;
        Ok(Outcome {
            status: le32(&raw, 12),
            result: le64(&raw, 16),
            duration_ns: le64(&raw, 24),
        })
    }

    pub fn run(&self, job: &Job) -> io::Result<Outcome> {
        let handle = self.submit(job)?;
        self.wait(handle, 30_000)
    }

    fn xfer(&self, request: u64, dev: u64, ptr: u64, len: usize) -> io::Result<()> {
        let mut raw = [0u8; XFER_SIZE];
        raw[0..8].copy_from_slice(&dev.to_le_bytes());
        raw[8..16].copy_from_slice(&ptr.to_le_bytes());
        raw[16..24].copy_from_slice(&(len as u64).to_le_bytes());
        self.ioctl(request, &mut raw)
    }

    /// Copies `data` to the window at `dev`.
    pub fn write(&self, dev: u64, data: &[u8]) -> io::Result<()> {
        // The driver only reads `data.len()` bytes at this address.
        self.xfer(IOCTL_WRITE, dev, data.as_ptr() as u64, data.len())
    }

    /// `MLU270_IOCTL_VF_MIG` (the PF node; `struct mlu270_vf_mig`).
    pub fn vf_mig(&self, raw: &mut [u8; VF_MIG_SIZE]) -> io::Result<()> {
        self.ioctl(IOCTL_VF_MIG, raw)
    }

    /// Fills `data` from the window at `dev`.
    pub fn read(&self, dev: u64, data: &mut [u8]) -> io::Result<()> {
        self.xfer(IOCTL_READ, dev, data.as_mut_ptr() as u64, data.len())
    }
}

/// CRC-32 (IEEE 802.3), as the device's `IPU_CRC32`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A deterministic test pattern.
pub fn pattern(len: usize, mut seed: u32) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        })
        .collect()
}

/// One checked step of `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: &'static str,
    pub status: String,
    pub duration_ns: u64,
    pub ok: bool,
    pub detail: String,
}

/// Runs `op` on the node with a result the tool can check: the data is
/// written with `MLU270_IOCTL_WRITE`, the job runs, the result (a CRC, or
/// the destination read back) is compared with the tool's own.
pub fn checked_run(node: &Node, op: u32, len: usize) -> io::Result<Vec<Check>> {
    let info = node.info()?;
    let window = u64::from(info.mem_mb) << 20;
    // An empty window (the PF while VFs are enabled): the driver's errno says why.
    if window != 0 && window < 2 * len as u64 {
        return Err(io::Error::other(format!(
            "the window ({} MiB) is too small for {len} bytes",
            info.mem_mb
        )));
    }
    let src = pattern(len, 0x5eed);
    let mut checks = Vec::new();
    let mut step = |what: &'static str, job: Job, check: &dyn Fn(&Outcome) -> (bool, String)| {
        let o = node.run(&job)?;
        let (ok, detail) = if o.status == 0 {
            check(&o)
        } else {
            (false, String::new())
        };
        checks.push(Check {
            what,
            status: status_name(o.status),
            duration_ns: o.duration_ns,
            ok: ok && o.status == 0,
            detail,
        });
        io::Result::Ok(())
    };
    let none = |_: &Outcome| (true, String::new());
    let dst = len as u64;
    node.write(0, &src)?;
    let len32 = len as u32;
    match op {
        OP_NOP => step("nop", Job::default(), &none)?,
        OP_CRC32 => {
            let want = crc32(&src);
            step(
                "crc32",
                Job {
                    opcode: OP_CRC32,
                    len: len32,
                    ..Job::default()
                },
                &|o| (o.result == u64::from(want), format!("{:#010x}", o.result)),
            )?
        }
        OP_FILL | OP_MEMCPY | OP_DELTA_ENC | OP_ZIGZAG => {
            let (job, want): (Job, Vec<u8>) = match op {
                OP_FILL => (
                    Job {
                        opcode: OP_FILL,
                        dst,
                        len: len32,
                        arg0: 0xa5,
                        ..Job::default()
                    },
                    vec![0xa5; len],
                ),
                OP_MEMCPY => (
                    Job {
                        opcode: OP_MEMCPY,
                        src: 0,
                        dst,
                        len: len32,
                        ..Job::default()
                    },
                    src.clone(),
                ),
                OP_DELTA_ENC => {
                    let mut prev = 0u8;
                    let want = src
                        .iter()
                        .map(|&b| {
                            let d = b.wrapping_sub(prev);
                            prev = b;
                            d
                        })
                        .collect();
                    (
                        Job {
                            opcode: OP_DELTA_ENC,
                            src: 0,
                            dst,
                            len: len32,
                            ..Job::default()
                        },
                        want,
                    )
                }
                _ => {
                    const ZZ: [usize; 64] = [
                        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40,
                        48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36,
                        29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
                        54, 47, 55, 62, 63,
                    ];
                    let mut want = vec![0u8; len];
                    for (blk, out) in want.chunks_exact_mut(64).enumerate() {
                        for (k, b) in out.iter_mut().enumerate() {
                            *b = src[blk * 64 + ZZ[k]];
                        }
                    }
                    (
                        Job {
                            opcode: OP_ZIGZAG,
                            src: 0,
                            dst,
                            len: len32,
                            ..Job::default()
                        },
                        want,
                    )
                }
            };
            step(op_name(op), job, &|_| {
                let mut got = vec![0u8; len];
                match node.read(dst, &mut got) {
                    Ok(()) if got == want => (true, String::new()),
                    Ok(()) => (false, "the result differs from the tool's".into()),
                    Err(e) => (false, format!("read back: {e}")),
                }
            })?
        }
        OP_MATMUL => {
            const M: usize = 8;
            const N: usize = 8;
            const K: usize = 8;
            let a: Vec<i8> = pattern(M * K, 2).into_iter().map(|b| b as i8).collect();
            let b: Vec<i8> = pattern(K * N, 3).into_iter().map(|b| b as i8).collect();
            node.write(0, &a.iter().map(|&x| x as u8).collect::<Vec<_>>())?;
            node.write(4096, &b.iter().map(|&x| x as u8).collect::<Vec<_>>())?;
            let mut want = Vec::with_capacity(M * N * 4);
            for i in 0..M {
                for j in 0..N {
                    let acc: i32 = (0..K)
                        .map(|k| i32::from(a[i * K + k]) * i32::from(b[k * N + j]))
                        .sum();
                    want.extend_from_slice(&acc.to_le_bytes());
                }
            }
            step(
                "matmul",
                Job {
                    opcode: OP_MATMUL,
                    src: 0,
                    aux: 4096,
                    dst: 8192,
                    arg0: M as u32,
                    arg1: N as u32,
                    arg2: K as u32,
                    ..Job::default()
                },
                &|_| {
                    let mut got = vec![0u8; M * N * 4];
                    match node.read(8192, &mut got) {
                        Ok(()) if got == want => (true, String::new()),
                        Ok(()) => (false, "the result differs from the tool's".into()),
                        Err(e) => (false, format!("read back: {e}")),
                    }
                },
            )?
        }
        _ => return Err(io::Error::other(format!("unknown operation {op:#x}"))),
    }
    Ok(checks)
}

/// What `bench` measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Bench {
    pub op: &'static str,
    pub len: u32,
    pub jobs: u32,
    pub wall_ns: u64,
    pub device_ns: u64,
    pub min_ns: u64,
    pub median_ns: u64,
    pub max_ns: u64,
}

impl Bench {
    /// Bytes per second of device time (what the slice delivers).
    pub fn device_mb_s(&self) -> f64 {
        mb_s(u64::from(self.len) * u64::from(self.jobs), self.device_ns)
    }

    /// Bytes per second of wall time (with the host's overheads).
    pub fn wall_mb_s(&self) -> f64 {
        mb_s(u64::from(self.len) * u64::from(self.jobs), self.wall_ns)
    }
}

fn mb_s(bytes: u64, ns: u64) -> f64 {
    if ns == 0 {
        0.0
    } else {
        bytes as f64 * 1e9 / ns as f64 / 1e6
    }
}

/// The side of the largest cube of at most `volume` elements, 1 to 256 (the
/// device's largest matmul dimension).
pub fn matmul_side(volume: u32) -> u32 {
    let mut d = 1u32;
    while d < 256 && (d + 1).pow(3) <= volume {
        d += 1;
    }
    d
}

/// Keeps up to 16 jobs of `op` in flight until `jobs` have completed.
pub fn bench(node: &Node, op: u32, len: u32, jobs: u32) -> io::Result<Bench> {
    const DEPTH: usize = 16;
    let info = node.info()?;
    let window = u64::from(info.mem_mb) << 20;
    if op != OP_NOP && window != 0 && 2 * u64::from(len) > window {
        return Err(io::Error::other(format!(
            "the window ({} MiB) is too small for {len} bytes",
            info.mem_mb
        )));
    }
    let (job, len) = if op == OP_MATMUL {
        // A matmul's work is M * N * K multiply-accumulates, not a length:
        // the largest cube whose volume fits in `len` stands for it, and the
        // throughput is then in millions of multiply-accumulates per second.
        let d = matmul_side(len);
        let job = Job {
            opcode: op,
            src: 0,
            aux: u64::from(d * d),
            dst: u64::from(2 * d * d),
            arg0: d,
            arg1: d,
            arg2: d,
            ..Job::default()
        };
        (job, d * d * d)
    } else {
        let job = Job {
            opcode: op,
            src: 0,
            dst: if op == OP_FILL { 0 } else { u64::from(len) },
            len,
            ..Job::default()
        };
        (job, len)
    };
    let mut durations = Vec::with_capacity(jobs as usize);
    let mut in_flight = std::collections::VecDeque::new();
    let start = Instant::now();
    let mut submitted = 0;
    while durations.len() < jobs as usize {
        if submitted < jobs && in_flight.len() < DEPTH {
            in_flight.push_back(node.submit(&job)?);
            submitted += 1;
            continue;
        }
        let Some(h) = in_flight.pop_front() else {
            break;
        };
        let o = node.wait(h, 30_000)?;
        if o.status != 0 {
            return Err(io::Error::other(format!(
                "a job failed with {}",
                status_name(o.status)
            )));
        }
        durations.push(o.duration_ns);
    }
    let wall_ns = start.elapsed().as_nanos() as u64;
    durations.sort_unstable();
    Ok(Bench {
        op: op_name(op),
        len,
        jobs,
        wall_ns,
        device_ns: durations.iter().sum(),
        min_ns: durations.first().copied().unwrap_or(0),
        median_ns: durations.get(durations.len() / 2).copied().unwrap_or(0),
        max_ns: durations.last().copied().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_side_is_the_largest_cube_that_fits() {
        assert_eq!(matmul_side(0), 1);
        assert_eq!(matmul_side(7), 1);
        assert_eq!(matmul_side(8), 2);
        assert_eq!(matmul_side(65536), 40);
        assert_eq!(matmul_side(256 * 256 * 256), 256);
        assert_eq!(matmul_side(u32::MAX), 256);
    }

    #[test]
    fn ioctl_numbers_match_the_uapi_header() {
        // _IOR(0xcb, 0, 64), _IOWR(0xcb, 1, 64), _IOWR(0xcb, 2, 32),
        // _IOW(0xcb, 3, 32), _IOW(0xcb, 4, 32)
        assert_eq!(IOCTL_INFO, 0x8040_cb00);
        assert_eq!(IOCTL_SUBMIT, 0xc040_cb01);
        assert_eq!(IOCTL_WAIT, 0xc020_cb02);
        assert_eq!(IOCTL_WRITE, 0x4020_cb03);
        assert_eq!(IOCTL_READ, 0x4020_cb04);
        assert_eq!(IOCTL_VF_MIG, 0xc040_cb05);
    }

    #[test]
    fn layouts() {
        let j = Job {
            opcode: OP_FILL,
            dst: 0x1122,
            len: 7,
            arg0: 0xa5,
            ..Job::default()
        }
        .encode();
        assert_eq!(le32(&j, 0), OP_FILL);
        assert_eq!(le32(&j, 4), 0, "flags");
        assert_eq!(le64(&j, 16), 0x1122);
        assert_eq!(le32(&j, 32), 7);
        assert_eq!(le32(&j, 36), 0xa5);
        assert_eq!(le64(&j, 56), 0, "reserved");
        let mut raw = [0u8; INFO_SIZE];
        raw[4] = 2;
        raw[28] = 64;
        let i = Info::decode(&raw);
        assert_eq!((i.function, i.mem_mb), (2, 64));
    }

    #[test]
    fn crc_and_names() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(op_by_name("memcpy"), Some(OP_MEMCPY));
        assert_eq!(op_by_name("dma"), None);
        assert_eq!(status_name(0x100), "RESET");
        assert_eq!(status_name(0x1ff), "status 0x1ff");
        let b = Bench {
            op: "memcpy",
            len: 1000,
            jobs: 10,
            wall_ns: 20_000,
            device_ns: 10_000,
            min_ns: 1000,
            median_ns: 1000,
            max_ns: 1000,
        };
        assert_eq!(b.device_mb_s(), 1000.0);
        assert_eq!(b.wall_mb_s(), 500.0);
    }
}
