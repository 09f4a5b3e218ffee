// SPDX-License-Identifier: GPL-2.0

//! The job device's user ABI: ioctl numbers, structure layouts and job
//! checks, shared by the PF (native) and VF drivers.
//!
//! The C view of the same ABI is `include/uapi/misc/mlu270.h`; both are
//! described in `Documentation/accel/mlu270/job-uapi.rst`. Structures are
//! little-endian with explicit padding and are decoded field by field from
//! the bytes userspace passes (no transmutes); every reserved field must be
//! zero so that it can be given a meaning later.
//!
//! Pure code (no device access), so the KUnit suite tests it directly.

// Each driver uses the parts of its own side.
#![allow(dead_code, unreachable_pub)]

use kernel::{
    ioctl::{_IOR, _IOW, _IOWR},
    prelude::*,
};

/// ABI version reported by `MLU270_IOCTL_INFO`.
pub const ABI_VERSION: u32 = 2;

/// The ioctl type byte ("CB" for Cambricon).
const IOC_TYPE: u32 = 0xcb;

pub const INFO_SIZE: usize = 64;
pub const JOB_SIZE: usize = 64;
pub const WAIT_SIZE: usize = 32;
pub const XFER_SIZE: usize = 32;

pub const IOCTL_INFO: u32 = _IOR::<[u8; INFO_SIZE]>(IOC_TYPE, 0x00);
pub const IOCTL_SUBMIT: u32 = _IOWR::<[u8; JOB_SIZE]>(IOC_TYPE, 0x01);
pub const IOCTL_WAIT: u32 = _IOWR::<[u8; WAIT_SIZE]>(IOC_TYPE, 0x02);
pub const IOCTL_WRITE: u32 = _IOW::<[u8; XFER_SIZE]>(IOC_TYPE, 0x03);
pub const IOCTL_READ: u32 = _IOW::<[u8; XFER_SIZE]>(IOC_TYPE, 0x04);
/// The PF node only, `CAP_SYS_ADMIN`: one step of a VF's migration.
pub const IOCTL_VF_MIG: u32 = _IOWR::<[u8; VF_MIG_SIZE]>(IOC_TYPE, 0x05);

pub const VF_MIG_SIZE: usize = 64;
/// Most bytes one `MLU270_IOCTL_VF_MIG` moves (`READ`, `WRITE`, a
/// report's bitmap).
pub const VF_MIG_MAX_LEN: u64 = 1 << 20;
/// Most DMA log ranges (`LOG_START`).
pub const VF_MIG_MAX_RANGES: u64 = 16;

/// Largest `len` of a job or a transfer (the device's limit).
pub const MAX_LEN: u32 = 16 << 20;

/// Device operations (`Documentation/accel/mlu270/hardware.rst`).
pub mod op {
    pub const NOP: u32 = 0x00;
    pub const DMA_H2D: u32 = 0x01;
    pub const DMA_D2H: u32 = 0x02;
    pub const IPU_MEMCPY: u32 = 0x10;
    pub const IPU_FILL: u32 = 0x11;
    pub const IPU_CRC32: u32 = 0x12;
    pub const IPU_MATMUL_I8: u32 = 0x13;
    pub const VPU_DELTA_ENC: u32 = 0x20;
    pub const VPU_DELTA_DEC: u32 = 0x21;
    pub const JPU_ZIGZAG: u32 = 0x30;
    pub const JPU_UNZIGZAG: u32 = 0x31;
}

/// Job status codes: the device's (below 0x100) and the driver's.
pub mod status {
    pub const OK: u32 = 0;
    pub const BAD_OPCODE: u32 = 1;
    pub const BAD_LEN: u32 = 2;
    pub const OUT_OF_SLICE: u32 = 3;
    pub const NO_ENGINE: u32 = 4;
    pub const DMA_ERROR: u32 = 5;
    pub const ABORTED: u32 = 6;
    pub const BAD_ARGS: u32 = 7;
    /// The function was reset (FLR, or by the PF) before the job completed.
    pub const RESET: u32 = 0x100;
    /// The queue stopped (`Q_ERROR`) before the job completed.
    pub const QUEUE_ERROR: u32 = 0x101;
    /// The driver is unbinding; the job was cancelled.
    pub const GONE: u32 = 0x102;
    /// The device's completion record did not match the job.
    pub const BAD_RECORD: u32 = 0x103;
}

/// What `MLU270_IOCTL_INFO` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// 0 for the PF (the whole card), 1 + i for VF i.
    pub function: u32,
    /// Slice size in quarters of the card (4 = whole card).
    pub quarters: u32,
    /// Negotiated mailbox protocol version (0 on the PF).
    pub protocol_version: u32,
    pub ipu_mask: u32,
    pub vpu_mask: u32,
    pub jpu_mask: u32,
    pub mem_mb: u32,
    pub ring_slots: u32,
    pub max_jobs: u32,
    /// Changes whenever the memory window may have lost its contents (see
    /// `JobStats::resets`), so data written before it changed may be gone
    /// even if no job of the caller was in flight to report `RESET`.
    pub resets: u32,
}

impl Info {
    pub fn encode(&self) -> [u8; INFO_SIZE] {
        let mut out = [0u8; INFO_SIZE];
        let words = [
            ABI_VERSION,
            self.function,
            self.quarters,
            self.protocol_version,
            self.ipu_mask,
            self.vpu_mask,
            self.jpu_mask,
            self.mem_mb,
            self.ring_slots,
            self.max_jobs,
            MAX_LEN,
            self.resets,
        ];
        for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }
}

/// A job as userspace submits it (`struct mlu270_job`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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

fn le32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        word.copy_from_slice(src);
    }
    u32::from_le_bytes(word)
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        word.copy_from_slice(src);
    }
    u64::from_le_bytes(word)
}

impl Job {
    /// Decodes `struct mlu270_job`; `flags` and the reserved word must be 0
    /// (the `handle` output field is ignored).
    pub fn decode(raw: &[u8; JOB_SIZE]) -> Result<Self> {
        if le32(raw, 4) != 0 || le64(raw, 56) != 0 {
            return Err(EINVAL);
        }
        Ok(Self {
            opcode: le32(raw, 0),
            src: le64(raw, 8),
            dst: le64(raw, 16),
            aux: le64(raw, 24),
            len: le32(raw, 32),
            arg0: le32(raw, 36),
            arg1: le32(raw, 40),
            arg2: le32(raw, 44),
        })
    }

    /// Writes the handle into the output field of a submitted `raw` job.
    pub fn set_handle(raw: &mut [u8; JOB_SIZE], handle: u64) {
        raw[48..56].copy_from_slice(&handle.to_le_bytes());
    }

    /// The device ranges `(start, length)` the job reads or writes, for the
    /// operations that take device addresses; unknown opcodes have none
    /// (the device completes them with `BAD_OPCODE`).
    fn ranges(&self) -> [(u64, u64); 3] {
        let len = u64::from(self.len);
        match self.opcode {
            op::IPU_MEMCPY
            | op::VPU_DELTA_ENC
            | op::VPU_DELTA_DEC
            | op::JPU_ZIGZAG
            | op::JPU_UNZIGZAG => [(self.src, len), (self.dst, len), (0, 0)],
            op::IPU_FILL => [(self.dst, len), (0, 0), (0, 0)],
            op::IPU_CRC32 => [(self.src, len), (0, 0), (0, 0)],
            op::IPU_MATMUL_I8 => {
                let (m, n, k) = (
                    u64::from(self.arg0),
                    u64::from(self.arg1),
                    u64::from(self.arg2),
                );
                [(self.src, m * k), (self.aux, k * n), (self.dst, m * n * 4)]
            }
            _ => [(0, 0); 3],
        }
    }

    /// Checks a job from userspace against the function's window of
    /// `window` bytes before it reaches the device.
    ///
    /// Host addresses are the kernel's business: `DMA_H2D`/`DMA_D2H` are
    /// refused (`EPERM`; userspace moves data with `MLU270_IOCTL_WRITE` and
    /// `MLU270_IOCTL_READ`). A device range outside the window is refused
    /// (`ERANGE`) instead of letting the device fault, which would count
    /// against the function's fault budget. Everything else (lengths,
    /// matrix sizes, unknown opcodes) is the device's to judge: it
    /// completes such jobs with an error status.
    pub fn check(&self, window: u64) -> Result {
        if matches!(self.opcode, op::DMA_H2D | op::DMA_D2H) {
            return Err(EPERM);
        }
        // Matrix dimensions and lengths the device rejects anyway need no
        // range check (and must not overflow it).
        let sized = match self.opcode {
            op::IPU_MATMUL_I8 => [self.arg0, self.arg1, self.arg2]
                .iter()
                .all(|d| (1..=256).contains(d)),
            _ => self.len != 0 && self.len <= MAX_LEN,
        };
        if !sized {
            return Ok(());
        }
        for (start, len) in self.ranges() {
            if len == 0 {
                continue;
            }
            match start.checked_add(len) {
                Some(end) if end <= window => {}
                _ => return Err(ERANGE),
            }
        }
        Ok(())
    }
}

/// `struct mlu270_wait`: which job, how long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitRequest {
    pub handle: u64,
    /// 0: do not sleep (`EAGAIN` if the job is not done).
    pub timeout_ms: u32,
}

impl WaitRequest {
    pub fn decode(raw: &[u8; WAIT_SIZE]) -> Self {
        Self {
            handle: le64(raw, 0),
            timeout_ms: le32(raw, 8),
        }
    }
}

/// The outcome of a job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub status: u32,
    pub result: u64,
    pub duration_ns: u64,
}

impl Outcome {
    pub const fn failed(status: u32) -> Self {
        Self {
            status,
            result: 0,
            duration_ns: 0,
        }
    }

    /// Fills the output fields of a `struct mlu270_wait`.
    pub fn encode_into(&self, raw: &mut [u8; WAIT_SIZE]) {
        raw[12..16].copy_from_slice(&self.status.to_le_bytes());
        raw[16..24].copy_from_slice(&self.result.to_le_bytes());
        raw[24..32].copy_from_slice(&self.duration_ns.to_le_bytes());
    }
}

/// `struct mlu270_xfer`: a copy between user memory and the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub dev_addr: u64,
    pub user_addr: u64,
    pub len: u64,
}

impl Transfer {
    /// Decodes and checks a transfer against a window of `window` bytes.
    pub fn decode(raw: &[u8; XFER_SIZE], window: u64) -> Result<Self> {
        if le64(raw, 24) != 0 {
            return Err(EINVAL);
        }
        let xfer = Self {
            dev_addr: le64(raw, 0),
            user_addr: le64(raw, 8),
            len: le64(raw, 16),
        };
        if xfer.len == 0 || xfer.len > u64::from(MAX_LEN) {
            return Err(EINVAL);
        }
        match xfer.dev_addr.checked_add(xfer.len) {
            Some(end) if end <= window => Ok(xfer),
            _ => Err(ERANGE),
        }
    }
}

/// `struct mlu270_vf_mig`: one step of VF `vf`'s migration
/// (`Documentation/accel/mlu270/job-uapi.rst`, VF migration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VfMig {
    pub vf: u32,
    pub op: u32,
    /// User buffer of `READ`, `WRITE`, `LOG_START` (ranges) and
    /// `LOG_REPORT` (bitmap).
    pub addr: u64,
    /// Its bytes; on return, the bytes `READ` or `WRITE` moved.
    pub len: u64,
    /// `LOG_REPORT`: the IOVA of the bitmap's first bit.
    pub iova: u64,
    /// `SET_STATE`: the state; `LOG_START`: log2 of the granule.
    pub arg: u32,
    /// On return: the VF's migration state.
    pub state: u32,
    /// On return: `PRECOPY_INFO`'s initial bytes, `STOP_COPY_SIZE`'s size.
    pub initial_bytes: u64,
    /// On return: `PRECOPY_INFO`'s dirty bytes.
    pub dirty_bytes: u64,
}

/// `MLU270_VF_MIG_*` operations.
pub mod vf_mig_op {
    pub const GET_STATE: u32 = 1;
    pub const SET_STATE: u32 = 2;
    pub const READ: u32 = 3;
    pub const WRITE: u32 = 4;
    pub const PRECOPY_INFO: u32 = 5;
    pub const STOP_COPY_SIZE: u32 = 6;
    pub const LOG_START: u32 = 7;
    pub const LOG_REPORT: u32 = 8;
    pub const LOG_STOP: u32 = 9;
}

impl VfMig {
    /// Decodes and checks a request: a known operation, reserved bytes
    /// zero, a buffer length its operation accepts.
    pub fn decode(raw: &[u8; VF_MIG_SIZE]) -> Result<Self> {
        let req = Self {
            vf: le32(raw, 0),
            op: le32(raw, 4),
            addr: le64(raw, 8),
            len: le64(raw, 16),
            iova: le64(raw, 24),
            arg: le32(raw, 32),
            state: le32(raw, 36),
            initial_bytes: le64(raw, 40),
            dirty_bytes: le64(raw, 48),
        };
        if le64(raw, 56) != 0 || req.state != 0 || req.initial_bytes != 0 || req.dirty_bytes != 0 {
            return Err(EINVAL);
        }
        let len_ok = match req.op {
            vf_mig_op::GET_STATE
            | vf_mig_op::SET_STATE
            | vf_mig_op::PRECOPY_INFO
            | vf_mig_op::STOP_COPY_SIZE
            | vf_mig_op::LOG_STOP => req.len == 0,
            vf_mig_op::READ | vf_mig_op::WRITE => req.len > 0 && req.len <= VF_MIG_MAX_LEN,
            vf_mig_op::LOG_START => {
                req.len > 0 && req.len % 16 == 0 && req.len <= 16 * VF_MIG_MAX_RANGES
            }
            vf_mig_op::LOG_REPORT => req.len > 0 && req.len % 8 == 0 && req.len <= VF_MIG_MAX_LEN,
            _ => return Err(EINVAL),
        };
        if !len_ok {
            return Err(EINVAL);
        }
        Ok(req)
    }

    /// The bytes of user memory the operation reads before it runs.
    pub fn input_len(&self) -> usize {
        match self.op {
            vf_mig_op::WRITE | vf_mig_op::LOG_START => self.len as usize,
            _ => 0,
        }
    }

    /// The bytes of the kernel buffer the operation needs.
    pub fn buffer_len(&self) -> usize {
        match self.op {
            vf_mig_op::READ | vf_mig_op::WRITE | vf_mig_op::LOG_START | vf_mig_op::LOG_REPORT => {
                self.len as usize
            }
            _ => 0,
        }
    }

    /// The bytes of the kernel buffer copied to user memory after it ran.
    pub fn output_len(&self) -> usize {
        match self.op {
            vf_mig_op::READ | vf_mig_op::LOG_REPORT => self.len as usize,
            _ => 0,
        }
    }

    pub fn encode_into(&self, raw: &mut [u8; VF_MIG_SIZE]) {
        let fields: [(usize, &[u8]); 9] = [
            (0, &self.vf.to_le_bytes()),
            (4, &self.op.to_le_bytes()),
            (8, &self.addr.to_le_bytes()),
            (16, &self.len.to_le_bytes()),
            (24, &self.iova.to_le_bytes()),
            (32, &self.arg.to_le_bytes()),
            (36, &self.state.to_le_bytes()),
            (40, &self.initial_bytes.to_le_bytes()),
            (48, &self.dirty_bytes.to_le_bytes()),
        ];
        for (at, bytes) in fields {
            if let Some(dst) = raw.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
    }
}
