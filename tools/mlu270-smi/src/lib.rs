// SPDX-License-Identifier: GPL-2.0
//! `mlu270-smi`: the operator's view of MLU270 cards (PFs bound to
//! `mlu270_pf`) and their SR-IOV VFs, from sysfs and the PF's debugfs file.
//!
//! std only: hand-written argument parsing and JSON output; the job nodes'
//! ioctls through libc's `ioctl()` (`job.rs`).

pub mod job;
pub mod migrate;

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const VENDOR: u16 = 0xcabc;
pub const PF_DEVICE: u16 = 0x0270;
pub const VF_DEVICE: u16 = 0x0271;

const PROG: &str = "mlu270-smi";

pub const USAGE: &str = "\
usage: mlu270-smi [--json] [--sysfs-root DIR] [COMMAND]

commands:
  list                      every MLU270 card and its VFs (default)
  set-layout <pf> <layout>  choose the VF shapes, e.g. \"1/4 1/4 1/2\" or \"default\"
                            (only while no VF is enabled)
  set-vfs <pf> <n>          enable n VFs (0 removes them; a non-zero count
                            needs 0 first)
  run <function> [op]       run op on the function's job node and check the
                            result against the tool's own (default: crc32);
                            op: nop memcpy fill crc32 matmul delta zigzag
  bench <function> [op]     keep 16 jobs of op (default: memcpy) in flight
                            and report the throughput
  migrate save <pf> <vf> <file>
                            pause VF <vf> (an index) of <pf> and save its
                            state and memory to <file>; it stays paused
                            (--precopy: copy its memory while it runs first)
  migrate load <pf> <vf> <file>
                            load <file> into VF <vf> (a fresh one: reset
                            it first) and run it; same VF index on an
                            identically partitioned card only
  migrate resume <pf> <vf>  run a VF paused by migrate save again
  migrate state <pf> <vf>   print the VF's migration state

options:
  --json             JSON output (list, run, bench)
  --len BYTES        data size of run and bench (default 65536; for a
                     matmul bench, multiply-accumulates: M = N = K = the
                     cube root, and MB/s reads as millions of them per s)
  --count N          jobs of bench (default 256)
  --precopy          migrate save: pre-copy rounds while the VF runs
  --sysfs-root DIR   read and write sysfs/debugfs below DIR (default /)
  -h, --help         this help
  -V, --version      the version
";

/// Exit codes.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

// ---------------------------------------------------------------------------
// Arguments

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    List,
    SetLayout {
        pf: String,
        layout: String,
    },
    SetVfs {
        pf: String,
        n: u32,
    },
    Run {
        function: String,
        op: u32,
    },
    Bench {
        function: String,
        op: u32,
    },
    Migrate {
        action: String,
        pf: String,
        vf: u32,
        file: Option<String>,
        precopy: bool,
    },
    Help,
    Version,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub json: bool,
    pub root: PathBuf,
    pub len: u32,
    pub count: u32,
    pub command: Command,
}

/// `--len` and `--count` values.
fn parse_value(opt: &str, text: Option<&String>, max: u32) -> Result<u32, String> {
    let text = text.ok_or_else(|| format!("{opt} needs a number"))?;
    match text.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("{opt}: '{text}' is not a number from 1 to {max}")),
    }
}

/// Parses the arguments (without the program name). Options may appear
/// anywhere; `--` ends them.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut json = false;
    let mut root = PathBuf::from("/");
    let mut positional: Vec<String> = Vec::new();
    let mut help = false;
    let mut version = false;
    let mut i = 0;
    let mut only_positional = false;
    let mut len = 65536;
    let mut count = 256;
    let mut precopy = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_positional {
            positional.push(a.clone());
            continue;
        }
        match a.as_str() {
            "--" => only_positional = true,
            "--json" => json = true,
            "--precopy" => precopy = true,
            "-h" | "--help" => help = true,
            "-V" | "--version" => version = true,
            "--len" => {
                len = parse_value("--len", args.get(i), 16 << 20)?;
                i += 1;
            }
            "--count" => {
                count = parse_value("--count", args.get(i), 1 << 20)?;
                i += 1;
            }
            "--sysfs-root" => {
                let dir = args
                    .get(i)
                    .ok_or_else(|| "--sysfs-root needs a directory".to_string())?;
                i += 1;
                root = PathBuf::from(dir);
            }
            s if s.starts_with("--sysfs-root=") => {
                let dir = &s["--sysfs-root=".len()..];
                if dir.is_empty() {
                    return Err("--sysfs-root needs a directory".into());
                }
                root = PathBuf::from(dir);
            }
            // Neither an address, a layout nor a count starts with '-'.
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option '{s}'"));
            }
            _ => positional.push(a.clone()),
        }
    }
    if help {
        return Ok(Options {
            json,
            root,
            len,
            count,
            command: Command::Help,
        });
    }
    if version {
        return Ok(Options {
            json,
            root,
            len,
            count,
            command: Command::Version,
        });
    }
    let command = match positional.first().map(String::as_str) {
        None | Some("list") => {
            if positional.len() > 1 {
                return Err(format!("list: unexpected argument '{}'", positional[1]));
            }
            Command::List
        }
        Some("set-layout") => {
            if positional.len() < 3 {
                return Err("set-layout needs <pf> <layout>".into());
            }
            // Allow an unquoted layout: set-layout PF 1/4 1/4 1/2
            let layout = positional[2..].join(" ");
            Command::SetLayout {
                pf: normalize_addr(&positional[1]),
                layout,
            }
        }
        Some("set-vfs") => {
            if positional.len() != 3 {
                return Err("set-vfs needs <pf> <n>".into());
            }
            let n = positional[2]
                .parse::<u32>()
                .map_err(|_| format!("set-vfs: '{}' is not a VF count", positional[2]))?;
            Command::SetVfs {
                pf: normalize_addr(&positional[1]),
                n,
            }
        }
        Some(cmd @ ("run" | "bench")) => {
            if !(2..=3).contains(&positional.len()) {
                return Err(format!("{cmd} needs <function> [op]"));
            }
            let default = if cmd == "run" { "crc32" } else { "memcpy" };
            let name = positional.get(2).map_or(default, String::as_str);
            let op = job::op_by_name(name).ok_or_else(|| {
                let names: Vec<&str> = job::OPS.iter().map(|(n, _)| *n).collect();
                format!("{cmd}: unknown op '{name}' (one of: {})", names.join(" "))
            })?;
            let function = normalize_addr(&positional[1]);
            if cmd == "run" {
                Command::Run { function, op }
            } else {
                Command::Bench { function, op }
            }
        }
        Some("migrate") => {
            let action = positional.get(1).cloned().unwrap_or_default();
            let want = match action.as_str() {
                "save" | "load" => 5,
                "resume" | "state" => 4,
                _ => return Err("migrate needs save, load, resume or state".into()),
            };
            if positional.len() != want {
                return Err(format!(
                    "migrate {action} needs <pf> <vf>{}",
                    if want == 5 { " <file>" } else { "" }
                ));
            }
            let vf = positional[3]
                .parse::<u32>()
                .ok()
                .filter(|vf| *vf < 4)
                .ok_or_else(|| format!("migrate: '{}' is not a VF index (0..3)", positional[3]))?;
            Command::Migrate {
                action,
                pf: normalize_addr(&positional[2]),
                vf,
                file: positional.get(4).cloned(),
                precopy,
            }
        }
        Some(other) => return Err(format!("unknown command '{other}'")),
    };
    Ok(Options {
        json,
        root,
        len,
        count,
        command,
    })
}

/// "00:05.0" -> "0000:00:05.0" (domain 0 by default), lower case.
pub fn normalize_addr(a: &str) -> String {
    let a = a.trim().to_ascii_lowercase();
    if a.matches(':').count() == 1 {
        format!("0000:{a}")
    } else {
        a
    }
}

// ---------------------------------------------------------------------------
// Errors

/// The symbolic name of the common errnos (Linux numbering).
pub fn errno_name(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "EPERM",
        2 => "ENOENT",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        11 => "EAGAIN",
        12 => "ENOMEM",
        14 => "EFAULT",
        13 => "EACCES",
        16 => "EBUSY",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        25 => "ENOTTY",
        28 => "ENOSPC",
        30 => "EROFS",
        34 => "ERANGE",
        71 => "EPROTO",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        _ => return None,
    })
}

/// "Device or resource busy (EBUSY)" instead of std's "(os error 16)".
pub fn describe_io_error(e: &io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => {
            let base = match text.rfind(" (os error ") {
                Some(pos) => text[..pos].to_string(),
                None => text,
            };
            match errno_name(code) {
                Some(name) => format!("{base} ({name})"),
                None => format!("{base} (errno {code})"),
            }
        }
        None => text,
    }
}

/// What the operator's write was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    NumVfs,
    Layout,
}

/// What to do about an errno from a write (`numvfs`: the current count).
pub fn hint(target: Target, code: i32, pf: &str, ctx: &WriteContext) -> String {
    match (errno_name(code).unwrap_or(""), target) {
        ("EBUSY", Target::NumVfs) => match ctx.numvfs {
            Some(n) if n > 0 => format!(
                "{n} VF{} {} enabled; set 0 first ({PROG} set-vfs {pf} 0)",
                if n == 1 { "" } else { "s" },
                if n == 1 { "is" } else { "are" }
            ),
            _ => format!("VFs are enabled; set 0 first ({PROG} set-vfs {pf} 0)"),
        },
        ("EBUSY", Target::Layout) => format!(
            "the layout can only change while no VF is enabled; set 0 first ({PROG} set-vfs {pf} 0)"
        ),
        ("EINVAL", Target::NumVfs) => match &ctx.layout {
            Some(l) if l != "default" => format!(
                "the chosen layout \"{l}\" has {} VF{}: set that count, or '{PROG} set-layout {pf} default'",
                layout_len(l),
                if layout_len(l) == 1 { "" } else { "s" }
            ),
            _ => "not a valid VF count".to_string(),
        },
        ("EINVAL", Target::Layout) => "not a valid layout: 1 to 4 fractions (1/4, 1/2, 1/1) totalling at most 1/1, e.g. \"1/2 1/4 1/4\", or \"default\"".to_string(),
        ("ERANGE", _) => match ctx.totalvfs {
            Some(t) => format!("at most {t} VFs (sriov_totalvfs)"),
            None => "above sriov_totalvfs".to_string(),
        },
        ("EACCES", _) | ("EPERM", _) | ("EROFS", _) => "run as root".to_string(),
        ("ENOENT", Target::NumVfs) => {
            "no such attribute: is it an SR-IOV PF, and is mlu270_pf loaded?".to_string()
        }
        ("ENOENT", Target::Layout) => {
            "no 'layout' attribute: is mlu270_pf loaded and bound to this device?".to_string()
        }
        ("EIO", _) => "the device refused the change; see dmesg".to_string(),
        ("EISDIR", _) | ("ENOTDIR", _) => "unexpected sysfs tree; is this a PCI device directory?".to_string(),
        _ => "see dmesg".to_string(),
    }
}

fn layout_len(layout: &str) -> usize {
    layout
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .count()
}

/// What was known about the PF before a write, for the hints.
#[derive(Default, Debug)]
pub struct WriteContext {
    pub numvfs: Option<u32>,
    pub totalvfs: Option<u32>,
    pub layout: Option<String>,
}

// ---------------------------------------------------------------------------
// Model

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Slice {
    pub fraction: Option<String>,
    pub ipu_mask: Option<String>,
    pub vpu_mask: Option<String>,
    pub jpu_mask: Option<String>,
    pub mem_mb: Option<u64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Vf {
    pub address: String,
    /// The PF's number for it (virtfnN); None for a VF without its PF.
    pub index: Option<u32>,
    /// The VF's own `vf_index` attribute (device's FUNC_INFO).
    pub vf_index: Option<u32>,
    pub driver: Option<String>,
    pub slice: Slice,
    pub protocol_version: Option<u32>,
    pub state: Option<String>,
    /// The job node under /dev (`job_node`), while mlu270_vf is bound.
    pub job_node: Option<String>,
    /// The PF's debugfs columns for this VF, in file order (without "vf").
    pub counters: Option<Vec<(String, String)>>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Card {
    pub address: String,
    pub driver: Option<String>,
    pub totalvfs: Option<u32>,
    pub numvfs: Option<u32>,
    pub layout: Option<String>,
    /// The native job node under /dev (`job_node`).
    pub job_node: Option<String>,
    /// debugfs "vfs N layout L" header, if the file was readable.
    pub debugfs: Option<DebugfsHeader>,
    pub vfs: Vec<Vf>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DebugfsHeader {
    pub vfs: Option<u32>,
    pub layout: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub cards: Vec<Card>,
    /// VFs whose PF is not visible (e.g. a VF passed through to a guest).
    pub standalone_vfs: Vec<Vf>,
}

// ---------------------------------------------------------------------------
// sysfs reading

pub struct Sysfs {
    root: PathBuf,
}

impl Sysfs {
    pub fn new(root: &Path) -> Self {
        Sysfs {
            root: root.to_path_buf(),
        }
    }

    pub fn devices_dir(&self) -> PathBuf {
        self.root.join("sys/bus/pci/devices")
    }

    pub fn device_dir(&self, addr: &str) -> PathBuf {
        self.devices_dir().join(addr)
    }

    pub fn debugfs_vfs(&self, pf: &str) -> PathBuf {
        self.root
            .join("sys/kernel/debug")
            .join(format!("mlu270_pf-{pf}"))
            .join("vfs")
    }

    fn read(&self, addr: &str, attr: &str) -> Option<String> {
        read_trimmed(&self.device_dir(addr).join(attr))
    }

    fn read_u32(&self, addr: &str, attr: &str) -> Option<u32> {
        self.read(addr, attr)?.parse().ok()
    }

    fn read_hex(&self, addr: &str, attr: &str) -> Option<u16> {
        let s = self.read(addr, attr)?;
        u16::from_str_radix(s.trim_start_matches("0x"), 16).ok()
    }

    fn link_name(&self, addr: &str, link: &str) -> Option<String> {
        let target = fs::read_link(self.device_dir(addr).join(link)).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }

    pub fn id(&self, addr: &str) -> Option<(u16, u16)> {
        Some((
            self.read_hex(addr, "vendor")?,
            self.read_hex(addr, "device")?,
        ))
    }

    /// Every PCI address, sorted.
    fn addresses(&self) -> io::Result<Vec<String>> {
        let mut v = Vec::new();
        for e in fs::read_dir(self.devices_dir())? {
            let e = e?;
            v.push(e.file_name().to_string_lossy().into_owned());
        }
        v.sort();
        Ok(v)
    }

    /// The whole inventory. A missing /sys/bus/pci/devices is "no card".
    pub fn inventory(&self) -> Inventory {
        let addrs = self.addresses().unwrap_or_default();
        let mut inv = Inventory::default();
        let mut claimed: Vec<String> = Vec::new();
        for a in &addrs {
            if self.id(a) == Some((VENDOR, PF_DEVICE)) {
                let card = self.card(a);
                claimed.extend(card.vfs.iter().map(|v| v.address.clone()));
                inv.cards.push(card);
            }
        }
        for a in &addrs {
            if self.id(a) == Some((VENDOR, VF_DEVICE)) && !claimed.contains(a) {
                inv.standalone_vfs.push(self.vf(a, None, None));
            }
        }
        inv
    }

    pub fn card(&self, addr: &str) -> Card {
        let debug = read_debugfs(&self.debugfs_vfs(addr));
        let mut card = Card {
            address: addr.to_string(),
            driver: self.link_name(addr, "driver"),
            totalvfs: self.read_u32(addr, "sriov_totalvfs"),
            numvfs: self.read_u32(addr, "sriov_numvfs"),
            layout: self.read(addr, "layout"),
            job_node: self.read(addr, "job_node"),
            debugfs: debug.as_ref().map(|d| d.header.clone()),
            vfs: Vec::new(),
        };
        // virtfnN links, in N order.
        let mut links: Vec<(u32, String)> = Vec::new();
        if let Ok(rd) = fs::read_dir(self.device_dir(addr)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(n) = name.strip_prefix("virtfn").and_then(|n| n.parse().ok()) {
                    if let Some(vf) = self.link_name(addr, &name) {
                        links.push((n, vf));
                    }
                }
            }
        }
        links.sort();
        for (n, vf) in links {
            let row = debug.as_ref().and_then(|d| d.row(n));
            card.vfs.push(self.vf(&vf, Some(n), row));
        }
        card
    }

    fn vf(&self, addr: &str, index: Option<u32>, row: Option<Vec<(String, String)>>) -> Vf {
        let col = |name: &str| -> Option<String> {
            row.as_ref()?
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        // The VF's attributes first; the PF's debugfs row fills the gaps
        // (e.g. a VF not bound to mlu270_vf).
        let fraction = self.read(addr, "slice").or_else(|| {
            col("quarters").and_then(|q| match q.as_str() {
                "0" => Some("empty".to_string()),
                "1" => Some("1/4".to_string()),
                "2" => Some("1/2".to_string()),
                "4" => Some("1/1".to_string()),
                _ => None,
            })
        });
        let slice = Slice {
            fraction,
            ipu_mask: self.read(addr, "ipu_mask").or_else(|| col("ipu")),
            vpu_mask: self.read(addr, "vpu_mask").or_else(|| col("vpu")),
            jpu_mask: self.read(addr, "jpu_mask").or_else(|| col("jpu")),
            mem_mb: self
                .read(addr, "mem_mb")
                .or_else(|| col("mem_mb"))
                .and_then(|s| s.parse().ok()),
        };
        let protocol_version = self.read_u32(addr, "protocol_version").or_else(|| {
            col("version")
                .and_then(|s| s.parse().ok())
                .filter(|&v| v != 0)
        });
        Vf {
            address: addr.to_string(),
            index,
            vf_index: self.read_u32(addr, "vf_index"),
            driver: self.link_name(addr, "driver"),
            slice,
            protocol_version,
            state: self.read(addr, "state"),
            job_node: self.read(addr, "job_node"),
            counters: row,
        }
    }

    /// The job node of a bound PF or VF (`/dev/` + its `job_node`).
    pub fn job_node(&self, addr: &str) -> Result<PathBuf, String> {
        match self.id(addr) {
            None => return Err(format!("{addr}: no such PCI device")),
            Some((VENDOR, PF_DEVICE | VF_DEVICE)) => {}
            Some((v, d)) => {
                return Err(format!("{addr}: not an MLU270 function ({v:04x}:{d:04x})"))
            }
        }
        let name = self.read(addr, "job_node").ok_or_else(|| {
            format!(
                "{addr}: no job node (no job_node attribute): bind mlu270_pf or mlu270_vf to it (driver: {})",
                dash(&self.link_name(addr, "driver"))
            )
        })?;
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(format!("{addr}: bad job_node '{name}'"));
        }
        Ok(self.root.join("dev").join(name))
    }

    /// Writes `value` to the PF's attribute, with an error naming the
    /// device, the errno and a hint.
    pub fn write_attr(&self, pf: &str, target: Target, value: &str) -> Result<(), String> {
        let attr = match target {
            Target::NumVfs => "sriov_numvfs",
            Target::Layout => "layout",
        };
        let dir = self.device_dir(pf);
        if !dir.exists() {
            return Err(format!(
                "{pf}: no such PCI device ({}); is mlu270_pf loaded? ('{PROG} list' shows the cards)",
                dir.display()
            ));
        }
        match self.id(pf) {
            Some((VENDOR, PF_DEVICE)) | None => {}
            Some((v, d)) => {
                return Err(format!(
                "{pf}: not an MLU270 PF ({v:04x}:{d:04x}, expected {VENDOR:04x}:{PF_DEVICE:04x})"
            ))
            }
        }
        let ctx = WriteContext {
            numvfs: self.read_u32(pf, "sriov_numvfs"),
            totalvfs: self.read_u32(pf, "sriov_totalvfs"),
            layout: self.read(pf, "layout"),
        };
        let path = dir.join(attr);
        let res = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{value}\n").as_bytes()));
        res.map_err(|e| write_error(pf, target, &e, &ctx))
    }
}

/// "<pf>: cannot write <attr>: <strerror> (<ERRNO>): <hint>".
pub fn write_error(pf: &str, target: Target, e: &io::Error, ctx: &WriteContext) -> String {
    let attr = match target {
        Target::NumVfs => "sriov_numvfs",
        Target::Layout => "layout",
    };
    let code = e.raw_os_error().unwrap_or(0);
    format!(
        "{pf}: cannot write {attr}: {}: {}",
        describe_io_error(e),
        hint(target, code, pf, ctx)
    )
}

fn read_trimmed(p: &Path) -> Option<String> {
    let s = fs::read_to_string(p).ok()?;
    Some(s.trim().to_string())
}

// ---------------------------------------------------------------------------
// debugfs

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Debugfs {
    pub header: DebugfsHeader,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Debugfs {
    /// The row of VF `n` as (column, value) pairs, without the "vf" column.
    pub fn row(&self, n: u32) -> Option<Vec<(String, String)>> {
        let vf_col = self.columns.iter().position(|c| c == "vf")?;
        let row = self
            .rows
            .iter()
            .find(|r| r.get(vf_col).and_then(|v| v.parse::<u32>().ok()) == Some(n))?;
        Some(
            self.columns
                .iter()
                .zip(row.iter())
                .enumerate()
                .filter(|(i, _)| *i != vf_col)
                .map(|(_, (c, v))| (c.clone(), v.clone()))
                .collect(),
        )
    }
}

fn read_debugfs(p: &Path) -> Option<Debugfs> {
    parse_debugfs(&fs::read_to_string(p).ok()?)
}

/// Parses the PF's `vfs` file:
/// ```text
/// vfs 4 layout default
/// vf quarters ipu vpu jpu mem_mb version accepted ...
/// 0 1 0x000f 0x1 0x1 64 2 3 ...
/// ```
/// Columns are taken by name from the column header line.
pub fn parse_debugfs(text: &str) -> Option<Debugfs> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next()?;
    let rest = first.trim().strip_prefix("vfs")?.trim_start();
    let (count, after) = match rest.split_once(char::is_whitespace) {
        Some((c, a)) => (c, a.trim_start()),
        None => (rest, ""),
    };
    let layout = after
        .strip_prefix("layout")
        .unwrap_or("")
        .trim()
        .to_string();
    let header = DebugfsHeader {
        vfs: count.parse().ok(),
        layout,
    };
    let columns: Vec<String> = match lines.next() {
        Some(l) => l.split_whitespace().map(str::to_string).collect(),
        None => Vec::new(),
    };
    let rows = lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    Some(Debugfs {
        header,
        columns,
        rows,
    })
}

// ---------------------------------------------------------------------------
// JSON

/// A JSON string literal with the escapes RFC 8259 requires.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt_str(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "null".to_string(), json_str)
}

fn json_opt_num<T: std::fmt::Display>(n: &Option<T>) -> String {
    n.as_ref()
        .map_or_else(|| "null".to_string(), |n| n.to_string())
}

/// A debugfs value: a decimal number as a JSON number, anything else a string.
fn json_value(v: &str) -> String {
    if !v.is_empty() && v.len() < 20 && v.bytes().all(|b| b.is_ascii_digit()) {
        v.trim_start_matches('0')
            .parse::<u64>()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "0".to_string())
    } else {
        json_str(v)
    }
}

fn vf_json(vf: &Vf, indent: &str) -> String {
    let i2 = format!("{indent}  ");
    let counters = match &vf.counters {
        None => "null".to_string(),
        Some(c) => {
            let items: Vec<String> = c
                .iter()
                .map(|(k, v)| format!("{i2}  {}: {}", json_str(k), json_value(v)))
                .collect();
            format!("{{\n{}\n{i2}}}", items.join(",\n"))
        }
    };
    format!(
        "{indent}{{\n\
         {i2}\"address\": {},\n\
         {i2}\"index\": {},\n\
         {i2}\"vf_index\": {},\n\
         {i2}\"driver\": {},\n\
         {i2}\"slice\": {{\"fraction\": {}, \"ipu_mask\": {}, \"vpu_mask\": {}, \"jpu_mask\": {}, \"mem_mb\": {}}},\n\
         {i2}\"protocol_version\": {},\n\
         {i2}\"state\": {},\n\
         {i2}\"job_node\": {},\n\
         {i2}\"counters\": {}\n\
         {indent}}}",
        json_str(&vf.address),
        json_opt_num(&vf.index),
        json_opt_num(&vf.vf_index),
        json_opt_str(&vf.driver),
        json_opt_str(&vf.slice.fraction),
        json_opt_str(&vf.slice.ipu_mask),
        json_opt_str(&vf.slice.vpu_mask),
        json_opt_str(&vf.slice.jpu_mask),
        json_opt_num(&vf.slice.mem_mb),
        json_opt_num(&vf.protocol_version),
        json_opt_str(&vf.state),
        json_opt_str(&vf.job_node),
        counters,
    )
}

fn vf_list_json(vfs: &[Vf], indent: &str) -> String {
    if vfs.is_empty() {
        return "[]".to_string();
    }
    let items: Vec<String> = vfs
        .iter()
        .map(|v| vf_json(v, &format!("{indent}  ")))
        .collect();
    format!("[\n{}\n{indent}]", items.join(",\n"))
}

pub fn inventory_json(inv: &Inventory) -> String {
    let mut cards = Vec::new();
    for c in &inv.cards {
        let debugfs = match &c.debugfs {
            None => "null".to_string(),
            Some(h) => format!(
                "{{\"vfs\": {}, \"layout\": {}}}",
                json_opt_num(&h.vfs),
                json_str(&h.layout)
            ),
        };
        cards.push(format!(
            "    {{\n\
             \x20     \"address\": {},\n\
             \x20     \"driver\": {},\n\
             \x20     \"totalvfs\": {},\n\
             \x20     \"numvfs\": {},\n\
             \x20     \"layout\": {},\n\
             \x20     \"job_node\": {},\n\
             \x20     \"debugfs\": {},\n\
             \x20     \"vfs\": {}\n\
             \x20   }}",
            json_str(&c.address),
            json_opt_str(&c.driver),
            json_opt_num(&c.totalvfs),
            json_opt_num(&c.numvfs),
            json_opt_str(&c.layout),
            json_opt_str(&c.job_node),
            debugfs,
            vf_list_json(&c.vfs, "      "),
        ));
    }
    let cards = if cards.is_empty() {
        "[]".to_string()
    } else {
        format!("[\n{}\n  ]", cards.join(",\n"))
    };
    format!(
        "{{\n  \"cards\": {},\n  \"standalone_vfs\": {}\n}}\n",
        cards,
        vf_list_json(&inv.standalone_vfs, "  ")
    )
}

// ---------------------------------------------------------------------------
// Table

fn dash(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".to_string())
}

fn dash_num<T: std::fmt::Display>(n: &Option<T>) -> String {
    n.as_ref()
        .map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// Columns of the VF table: (header, value).
const COUNTER_COLUMNS: &[(&str, &str)] = &[
    ("accepted", "ACC"),
    ("rejected", "REJ"),
    ("rate_limited", "RATE"),
    ("replies_dropped", "DROP"),
    ("resets", "RESETS"),
    ("faults", "FAULTS"),
    ("last_fault_code", "LASTCODE"),
    ("last_fault_addr", "LASTADDR"),
];

fn vf_rows(vfs: &[Vf]) -> Vec<Vec<String>> {
    let mut rows = vec![{
        let mut h: Vec<String> = [
            "VF", "ADDRESS", "DRIVER", "SLICE", "IPU", "VPU", "JPU", "MEM_MB", "PROTO", "STATE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        h.extend(COUNTER_COLUMNS.iter().map(|(_, h)| h.to_string()));
        h.push("NODE".to_string());
        h
    }];
    for vf in vfs {
        let mut r = vec![
            dash_num(&vf.index.or(vf.vf_index)),
            vf.address.clone(),
            dash(&vf.driver),
            dash(&vf.slice.fraction),
            dash(&vf.slice.ipu_mask),
            dash(&vf.slice.vpu_mask),
            dash(&vf.slice.jpu_mask),
            dash_num(&vf.slice.mem_mb),
            dash_num(&vf.protocol_version),
            dash(&vf.state),
        ];
        for (key, _) in COUNTER_COLUMNS {
            let v = vf
                .counters
                .as_ref()
                .and_then(|c| c.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
            r.push(dash(&v));
        }
        r.push(dash(&vf.job_node));
        rows.push(r);
    }
    rows
}

fn render_rows(rows: &[Vec<String>], indent: &str, out: &mut String) {
    let ncol = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; ncol];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    for r in rows {
        let mut line = String::from(indent);
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{:<w$}  ", c, w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

pub fn inventory_table(inv: &Inventory) -> String {
    let mut out = String::new();
    if inv.cards.is_empty() && inv.standalone_vfs.is_empty() {
        out.push_str("No MLU270 card found (no PCI device cabc:0270 or cabc:0271).\n");
        return out;
    }
    for (i, c) in inv.cards.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "PF {}  driver {}  vfs {}/{}  layout {}  node {}",
            c.address,
            dash(&c.driver),
            dash_num(&c.numvfs),
            dash_num(&c.totalvfs),
            dash(&c.layout),
            dash(&c.job_node),
        );
        if c.driver.as_deref() != Some("mlu270_pf") {
            out.push_str("  (not bound to mlu270_pf: no layout, no VF service)\n");
        }
        if c.debugfs.is_none() {
            let _ = writeln!(
                out,
                "  (no debugfs counters: /sys/kernel/debug/mlu270_pf-{}/vfs not readable)",
                c.address
            );
        }
        if c.vfs.is_empty() {
            out.push_str("  no VFs\n");
        } else {
            render_rows(&vf_rows(&c.vfs), "  ", &mut out);
        }
    }
    if !inv.standalone_vfs.is_empty() {
        if !inv.cards.is_empty() {
            out.push('\n');
        }
        out.push_str("VFs without a visible PF:\n");
        render_rows(&vf_rows(&inv.standalone_vfs), "  ", &mut out);
    }
    out
}

// ---------------------------------------------------------------------------
// Entry point

/// Runs the tool; returns the exit code.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(msg) => {
            let _ = writeln!(err, "{PROG}: {msg}");
            let _ = write!(err, "{USAGE}");
            return EXIT_USAGE;
        }
    };
    let sys = Sysfs::new(&opts.root);
    let result = match &opts.command {
        Command::Help => {
            let _ = write!(out, "{USAGE}");
            Ok(())
        }
        Command::Version => {
            let _ = writeln!(out, "{PROG} {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::List => {
            let inv = sys.inventory();
            let text = if opts.json {
                inventory_json(&inv)
            } else {
                inventory_table(&inv)
            };
            out.write_all(text.as_bytes())
                .map_err(|e| format!("cannot write the output: {}", describe_io_error(&e)))
        }
        Command::SetLayout { pf, layout } => sys
            .write_attr(pf, Target::Layout, layout)
            .map(|()| report_set(out, opts.json, pf, "layout", &json_str(layout), layout)),
        Command::SetVfs { pf, n } => sys
            .write_attr(pf, Target::NumVfs, &n.to_string())
            .map(|()| report_set(out, opts.json, pf, "numvfs", &n.to_string(), &n.to_string())),
        Command::Run { function, op } => run_job(&sys, out, &opts, function, *op),
        Command::Bench { function, op } => run_bench(&sys, out, &opts, function, *op),
        Command::Migrate {
            action,
            pf,
            vf,
            file,
            precopy,
        } => run_migrate(
            &sys,
            out,
            opts.json,
            action,
            pf,
            *vf,
            file.as_deref(),
            *precopy,
        ),
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(msg) => {
            let _ = writeln!(err, "{PROG}: {msg}");
            EXIT_ERROR
        }
    }
}

/// `migrate`: the PF node's `MLU270_IOCTL_VF_MIG`.
#[allow(clippy::too_many_arguments)]
fn run_migrate(
    sys: &Sysfs,
    out: &mut dyn Write,
    json: bool,
    action: &str,
    pf: &str,
    vf: u32,
    file: Option<&str>,
    precopy: bool,
) -> Result<(), String> {
    let (path, node) = open_node(sys, pf)?;
    let fail = |what: &str, e: &io::Error| {
        let hint = match e.raw_os_error() {
            Some(1) => ": migration needs CAP_SYS_ADMIN",
            Some(16) => ": the VF is not fresh (reset it first) or not in a state that allows this",
            Some(19) => ": the VF was reset or disabled meanwhile",
            Some(22) => ": a malformed stream or a step the VF's state does not allow (see dmesg)",
            Some(95) => ": the stream is for another VF index, slice or card (see dmesg)",
            _ => "",
        };
        format!(
            "{pf}: VF {vf}: {what} on {}: {}{hint}",
            path.display(),
            describe_io_error(e)
        )
    };
    let text = match action {
        "save" => {
            let name = file.unwrap_or_default();
            let mut f = std::fs::File::create(name)
                .map_err(|e| format!("cannot create {name}: {}", describe_io_error(&e)))?;
            let s = migrate::save(&node, vf, &mut f, precopy).map_err(|e| fail("save", &e))?;
            if json {
                format!(
                    "{{\"pf\": {}, \"vf\": {vf}, \"file\": {}, \"rounds\": {}, \"precopy_bytes\": {}, \"stop_copy_bytes\": {}}}\n",
                    json_str(pf),
                    json_str(name),
                    s.rounds,
                    s.precopy_bytes,
                    s.stop_copy_bytes
                )
            } else {
                format!(
                    "{pf}: VF {vf} saved to {name}: {} bytes ({} pre-copy rounds, {} bytes; stop-copy {} bytes); the VF is paused\n",
                    s.precopy_bytes + s.stop_copy_bytes,
                    s.rounds,
                    s.precopy_bytes,
                    s.stop_copy_bytes
                )
            }
        }
        "load" => {
            let name = file.unwrap_or_default();
            let mut f = std::fs::File::open(name)
                .map_err(|e| format!("cannot open {name}: {}", describe_io_error(&e)))?;
            let n = migrate::load(&node, vf, &mut f).map_err(|e| fail("load", &e))?;
            if json {
                format!(
                    "{{\"pf\": {}, \"vf\": {vf}, \"bytes\": {n}}}\n",
                    json_str(pf)
                )
            } else {
                format!("{pf}: VF {vf} loaded from {name} ({n} bytes) and running\n")
            }
        }
        "resume" => {
            migrate::set_state(&node, vf, migrate::RUNNING).map_err(|e| fail("resume", &e))?;
            format!("{pf}: VF {vf} running\n")
        }
        _ => {
            let r = migrate::step(&node, vf, migrate::OP_GET_STATE, 0, None)
                .map_err(|e| fail("state", &e))?;
            if json {
                format!(
                    "{{\"pf\": {}, \"vf\": {vf}, \"state\": {}}}\n",
                    json_str(pf),
                    json_str(migrate::state_name(r.state))
                )
            } else {
                format!("{}\n", migrate::state_name(r.state))
            }
        }
    };
    out.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write the output: {}", describe_io_error(&e)))
}

/// Opens the job node of `function`, with errors naming the device.
fn open_node(sys: &Sysfs, function: &str) -> Result<(PathBuf, job::Node), String> {
    let path = sys.job_node(function)?;
    let node = job::Node::open(&path).map_err(|e| {
        format!(
            "{function}: cannot open {}: {}",
            path.display(),
            describe_io_error(&e)
        )
    })?;
    Ok((path, node))
}

fn node_error(function: &str, path: &Path, what: &str, e: &io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(16) => ": the PF's native node takes no jobs while VFs are enabled (set-vfs <pf> 0)",
        Some(19) => ": the function went away (driver unbound)",
        Some(25) => ": not a job node",
        _ => "",
    };
    format!(
        "{function}: {what} on {}: {}{hint}",
        path.display(),
        describe_io_error(e)
    )
}

fn run_job(
    sys: &Sysfs,
    out: &mut dyn Write,
    opts: &Options,
    function: &str,
    op: u32,
) -> Result<(), String> {
    let (path, node) = open_node(sys, function)?;
    let len = if op == job::OP_ZIGZAG {
        (opts.len / 64).max(1) * 64
    } else {
        opts.len
    };
    let checks = job::checked_run(&node, op, len as usize)
        .map_err(|e| node_error(function, &path, "the job", &e))?;
    let ok = checks.iter().all(|c| c.ok);
    let text = if opts.json {
        let items: Vec<String> = checks
            .iter()
            .map(|c| {
                format!(
                    "{{\"op\": {}, \"status\": {}, \"duration_ns\": {}, \"ok\": {}, \"detail\": {}}}",
                    json_str(c.what),
                    json_str(&c.status),
                    c.duration_ns,
                    c.ok,
                    json_str(&c.detail)
                )
            })
            .collect();
        format!(
            "{{\"function\": {}, \"node\": {}, \"len\": {len}, \"jobs\": [{}], \"ok\": {ok}}}\n",
            json_str(function),
            json_str(&path.display().to_string()),
            items.join(", ")
        )
    } else {
        let mut t = String::new();
        for c in &checks {
            let _ = writeln!(
                t,
                "{function}: {} of {len} bytes: {} in {} ns: {}{}",
                c.what,
                c.status,
                c.duration_ns,
                if c.ok { "ok" } else { "WRONG" },
                if c.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.detail)
                }
            );
        }
        t
    };
    out.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write the output: {}", describe_io_error(&e)))?;
    if ok {
        Ok(())
    } else {
        Err(format!("{function}: the job's result is wrong"))
    }
}

fn run_bench(
    sys: &Sysfs,
    out: &mut dyn Write,
    opts: &Options,
    function: &str,
    op: u32,
) -> Result<(), String> {
    let (path, node) = open_node(sys, function)?;
    let len = if op == job::OP_ZIGZAG {
        (opts.len / 64).max(1) * 64
    } else {
        opts.len
    };
    let b = job::bench(&node, op, len, opts.count)
        .map_err(|e| node_error(function, &path, "the benchmark", &e))?;
    let text = if opts.json {
        format!(
            "{{\"function\": {}, \"op\": {}, \"len\": {}, \"jobs\": {}, \"wall_ns\": {}, \"device_ns\": {}, \"job_ns\": {{\"min\": {}, \"median\": {}, \"max\": {}}}, \"device_mb_s\": {:.1}, \"wall_mb_s\": {:.1}}}\n",
            json_str(function),
            json_str(b.op),
            b.len,
            b.jobs,
            b.wall_ns,
            b.device_ns,
            b.min_ns,
            b.median_ns,
            b.max_ns,
            b.device_mb_s(),
            b.wall_mb_s()
        )
    } else {
        format!(
            "{function}: {} jobs of {} x {} bytes: device {:.1} MB/s (job min/median/max {}/{}/{} ns), wall {:.1} MB/s\n",
            b.jobs,
            b.op,
            b.len,
            b.device_mb_s(),
            b.min_ns,
            b.median_ns,
            b.max_ns,
            b.wall_mb_s()
        )
    };
    out.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write the output: {}", describe_io_error(&e)))
}

fn report_set(out: &mut dyn Write, json: bool, pf: &str, key: &str, json_val: &str, text: &str) {
    let _ = if json {
        writeln!(
            out,
            "{{\"address\": {}, \"{key}\": {json_val}, \"ok\": true}}",
            json_str(pf)
        )
    } else {
        writeln!(out, "{pf}: {key} set to {text}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn errno_text() {
        assert_eq!(
            describe_io_error(&err(16)),
            "Device or resource busy (EBUSY)"
        );
        assert_eq!(
            describe_io_error(&err(34)),
            "Numerical result out of range (ERANGE)"
        );
        assert!(describe_io_error(&err(200)).ends_with("(errno 200)"));
    }

    #[test]
    fn hints() {
        let ctx = WriteContext {
            numvfs: Some(4),
            totalvfs: Some(4),
            layout: Some("1/4 1/4".into()),
        };
        let pf = "0000:00:05.0";
        assert_eq!(
            hint(Target::NumVfs, 16, pf, &ctx),
            "4 VFs are enabled; set 0 first (mlu270-smi set-vfs 0000:00:05.0 0)"
        );
        assert!(hint(Target::Layout, 16, pf, &ctx).contains("set-vfs 0000:00:05.0 0"));
        assert!(hint(Target::NumVfs, 22, pf, &ctx).contains("\"1/4 1/4\" has 2 VFs"));
        assert!(hint(Target::Layout, 22, pf, &ctx).starts_with("not a valid layout"));
        assert_eq!(
            hint(Target::NumVfs, 34, pf, &ctx),
            "at most 4 VFs (sriov_totalvfs)"
        );
        assert_eq!(hint(Target::NumVfs, 13, pf, &ctx), "run as root");
        assert_eq!(hint(Target::Layout, 1, pf, &ctx), "run as root");
        assert!(hint(Target::NumVfs, 2, pf, &ctx).contains("is mlu270_pf loaded?"));
        assert!(hint(Target::NumVfs, 5, pf, &ctx).contains("dmesg"));
        let one = WriteContext {
            numvfs: Some(1),
            ..Default::default()
        };
        assert!(hint(Target::NumVfs, 16, pf, &one).starts_with("1 VF is enabled"));
    }

    #[test]
    fn full_messages() {
        let pf = "0000:00:05.0";
        let ctx = WriteContext {
            numvfs: Some(4),
            totalvfs: Some(4),
            layout: Some("default".into()),
        };
        assert_eq!(
            write_error(pf, Target::NumVfs, &err(16), &ctx),
            "0000:00:05.0: cannot write sriov_numvfs: Device or resource busy (EBUSY): \
             4 VFs are enabled; set 0 first (mlu270-smi set-vfs 0000:00:05.0 0)"
        );
        assert_eq!(
            write_error(pf, Target::NumVfs, &err(34), &ctx),
            "0000:00:05.0: cannot write sriov_numvfs: Numerical result out of range (ERANGE): \
             at most 4 VFs (sriov_totalvfs)"
        );
        assert_eq!(
            write_error(pf, Target::Layout, &err(13), &ctx),
            "0000:00:05.0: cannot write layout: Permission denied (EACCES): run as root"
        );
        assert!(write_error(pf, Target::Layout, &err(22), &ctx).starts_with(
            "0000:00:05.0: cannot write layout: Invalid argument (EINVAL): not a valid layout"
        ));
    }

    #[test]
    fn json_escaping() {
        assert_eq!(json_str("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(json_value("007"), "7");
        assert_eq!(json_value("0"), "0");
        assert_eq!(json_value("0x0"), "\"0x0\"");
        assert_eq!(
            json_value("99999999999999999999"),
            "\"99999999999999999999\""
        );
    }

    #[test]
    fn debugfs_parse() {
        let d = parse_debugfs(
            "vfs 3 layout 1/2 1/4 1/4\nvf quarters version accepted\n0 2 2 7\n1 1 1 0\n2 1 0 0\n",
        )
        .unwrap();
        assert_eq!(d.header.vfs, Some(3));
        assert_eq!(d.header.layout, "1/2 1/4 1/4");
        let r = d.row(1).unwrap();
        assert_eq!(
            r,
            vec![
                ("quarters".to_string(), "1".to_string()),
                ("version".to_string(), "1".to_string()),
                ("accepted".to_string(), "0".to_string())
            ]
        );
        assert!(d.row(3).is_none());
        assert!(parse_debugfs("garbage").is_none());
        assert_eq!(
            parse_debugfs("vfs 0 layout default\n").unwrap().header.vfs,
            Some(0)
        );
    }

    #[test]
    fn args() {
        let a = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&[]).unwrap().command, Command::List);
        let o = a(&["--sysfs-root=/tmp/x", "set-vfs", "00:05.0", "2", "--json"]).unwrap();
        assert_eq!(o.root, PathBuf::from("/tmp/x"));
        assert!(o.json);
        assert_eq!(
            o.command,
            Command::SetVfs {
                pf: "0000:00:05.0".into(),
                n: 2
            }
        );
        assert!(a(&["set-vfs", "x", "-1"]).is_err());
        assert!(a(&["--sysfs-root"]).is_err());
        assert_eq!(normalize_addr("0000:00:05.0"), "0000:00:05.0");
    }

    #[test]
    fn migrate_args() {
        let a = |v: &[&str]| parse_args(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            a(&["migrate", "save", "00:05.0", "1", "/tmp/vf1", "--precopy"])
                .unwrap()
                .command,
            Command::Migrate {
                action: "save".into(),
                pf: "0000:00:05.0".into(),
                vf: 1,
                file: Some("/tmp/vf1".into()),
                precopy: true
            }
        );
        assert_eq!(
            a(&["migrate", "state", "00:05.0", "3"]).unwrap().command,
            Command::Migrate {
                action: "state".into(),
                pf: "0000:00:05.0".into(),
                vf: 3,
                file: None,
                precopy: false
            }
        );
        assert!(a(&["migrate", "save", "00:05.0", "4", "/tmp/x"]).is_err());
        assert!(a(&["migrate", "load", "00:05.0", "0"]).is_err());
        assert!(a(&["migrate", "state", "00:05.0", "0", "extra"]).is_err());
        assert!(a(&["migrate", "copy", "00:05.0", "0"]).is_err());
        assert!(a(&["migrate"]).is_err());
    }
}
