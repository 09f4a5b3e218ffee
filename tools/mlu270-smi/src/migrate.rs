// SPDX-License-Identifier: GPL-2.0

//! `mlu270-smi migrate`: a VF's state (registers, queue, mailbox, device
//! memory) saved to a file and loaded into a VF, through the PF node's
//! `MLU270_IOCTL_VF_MIG` (root only). The file is the card's migration
//! stream (`Documentation/accel/mlu270/migration.rst`): the same VF index
//! of an identically partitioned card loads it.

use std::fs::File;
use std::io::{self, Read, Write};

use crate::job::{Node, VF_MIG_SIZE};

/// Operations of `struct mlu270_vf_mig`.
pub const OP_GET_STATE: u32 = 1;
pub const OP_SET_STATE: u32 = 2;
pub const OP_READ: u32 = 3;
pub const OP_WRITE: u32 = 4;
pub const OP_PRECOPY_INFO: u32 = 5;

/// VFIO's migration states.
pub const STOP: u32 = 1;
pub const RUNNING: u32 = 2;
pub const STOP_COPY: u32 = 3;
pub const RESUMING: u32 = 4;
pub const PRE_COPY: u32 = 6;
pub const PRE_COPY_P2P: u32 = 7;

/// Bytes one read or write moves (the driver's limit).
const CHUNK: usize = 1 << 20;
/// Pre-copy rounds at most before the stop-copy phase.
const MAX_ROUNDS: u32 = 8;

pub fn state_name(state: u32) -> &'static str {
    match state {
        0 => "error",
        STOP => "stop",
        RUNNING => "running",
        STOP_COPY => "stop-copy",
        RESUMING => "resuming",
        5 => "running-p2p",
        PRE_COPY => "pre-copy",
        PRE_COPY_P2P => "pre-copy-p2p",
        _ => "unknown",
    }
}

/// `struct mlu270_vf_mig` as returned.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reply {
    pub len: u64,
    pub state: u32,
    pub initial_bytes: u64,
    pub dirty_bytes: u64,
}

fn le32(raw: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(raw[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn le64(raw: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(raw[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// One `MLU270_IOCTL_VF_MIG` with a user buffer.
pub fn step(node: &Node, vf: u32, op: u32, arg: u32, buf: Option<&mut [u8]>) -> io::Result<Reply> {
    let mut raw = [0u8; VF_MIG_SIZE];
    raw[0..4].copy_from_slice(&vf.to_le_bytes());
    raw[4..8].copy_from_slice(&op.to_le_bytes());
    if let Some(buf) = buf {
        raw[8..16].copy_from_slice(&(buf.as_mut_ptr() as u64).to_le_bytes());
        raw[16..24].copy_from_slice(&(buf.len() as u64).to_le_bytes());
    }
    raw[32..36].copy_from_slice(&arg.to_le_bytes());
    node.vf_mig(&mut raw)?;
    Ok(Reply {
        len: le64(&raw, 16),
        state: le32(&raw, 36),
        initial_bytes: le64(&raw, 40),
        dirty_bytes: le64(&raw, 48),
    })
}

pub fn set_state(node: &Node, vf: u32, state: u32) -> io::Result<Reply> {
    step(node, vf, OP_SET_STATE, state, None)
}

/// What a save moved.
#[derive(Clone, Copy, Debug, Default)]
pub struct Saved {
    pub rounds: u32,
    pub precopy_bytes: u64,
    pub stop_copy_bytes: u64,
}

/// Reads the stream of the current phase to `file` until the driver has
/// no more for now; returns the bytes.
fn drain(node: &Node, vf: u32, file: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let r = step(node, vf, OP_READ, 0, Some(buf))?;
        if r.len == 0 {
            return Ok(total);
        }
        let n = r.len.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n])?;
        total += r.len;
    }
}

/// Saves VF `vf`'s state to `file`; the VF is left paused (`STOP`).
/// With `precopy`, its memory is first copied in rounds while it runs.
pub fn save(node: &Node, vf: u32, file: &mut File, precopy: bool) -> io::Result<Saved> {
    let mut buf = vec![0u8; CHUNK];
    let mut saved = Saved::default();
    if precopy {
        set_state(node, vf, PRE_COPY)?;
        while saved.rounds < MAX_ROUNDS {
            let n = drain(node, vf, file, &mut buf)?;
            if n == 0 {
                break;
            }
            saved.rounds += 1;
            saved.precopy_bytes += n;
        }
        set_state(node, vf, PRE_COPY_P2P)?;
    } else {
        set_state(node, vf, STOP)?;
    }
    set_state(node, vf, STOP_COPY)?;
    saved.stop_copy_bytes = drain(node, vf, file, &mut buf)?;
    set_state(node, vf, STOP)?;
    Ok(saved)
}

/// Loads `file` into VF `vf` (fresh: reset it first) and runs it.
pub fn load(node: &Node, vf: u32, file: &mut File) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    set_state(node, vf, STOP)?;
    set_state(node, vf, RESUMING)?;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        step(node, vf, OP_WRITE, 0, Some(&mut buf[..n]))?;
        total += n as u64;
    }
    set_state(node, vf, STOP)?;
    set_state(node, vf, RUNNING)?;
    Ok(total)
}
