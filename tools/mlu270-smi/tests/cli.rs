// SPDX-License-Identifier: GPL-2.0
//! Runs the `mlu270-smi` binary against fixture sysfs trees built in a
//! temporary directory.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

const PF: &str = "0000:00:05.0";

struct Fixture {
    root: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Fixture {
    fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("mlu270-smi-test-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
        fs::create_dir_all(root.join("sys/bus/pci/drivers")).unwrap();
        fs::create_dir_all(root.join("sys/kernel/debug")).unwrap();
        Fixture { root }
    }

    fn dev(&self, addr: &str) -> PathBuf {
        self.root.join("sys/bus/pci/devices").join(addr)
    }

    fn write(&self, addr: &str, attr: &str, value: &str) {
        fs::write(self.dev(addr).join(attr), format!("{value}\n")).unwrap();
    }

    fn read(&self, addr: &str, attr: &str) -> String {
        fs::read_to_string(self.dev(addr).join(attr)).unwrap()
    }

    /// A PCI device directory (real sysfs: a symlink into /sys/devices; a
    /// plain directory is enough here).
    fn device(&self, addr: &str, vendor: &str, device: &str, driver: Option<&str>) {
        fs::create_dir_all(self.dev(addr)).unwrap();
        self.write(addr, "vendor", vendor);
        self.write(addr, "device", device);
        if let Some(d) = driver {
            let ddir = self.root.join("sys/bus/pci/drivers").join(d);
            fs::create_dir_all(&ddir).unwrap();
            symlink(format!("../../drivers/{d}"), self.dev(addr).join("driver")).unwrap();
        }
    }

    fn pf(&self, addr: &str, numvfs: u32, layout: &str) {
        self.device(addr, "0xcabc", "0x0270", Some("mlu270_pf"));
        self.write(addr, "sriov_totalvfs", "4");
        self.write(addr, "sriov_numvfs", &numvfs.to_string());
        self.write(addr, "layout", layout);
    }

    fn vf(&self, pf: &str, n: u32, addr: &str, slice: &[(&str, &str)]) {
        self.device(addr, "0xcabc", "0x0271", Some("mlu270_vf"));
        symlink(format!("../{pf}"), self.dev(addr).join("physfn")).unwrap();
        symlink(
            format!("../{addr}"),
            self.dev(pf).join(format!("virtfn{n}")),
        )
        .unwrap();
        for (k, v) in slice {
            self.write(addr, k, v);
        }
    }

    fn debugfs(&self, pf: &str, text: &str) {
        let d = self
            .root
            .join("sys/kernel/debug")
            .join(format!("mlu270_pf-{pf}"));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("vfs"), text).unwrap();
    }

    /// The card of the documentation: 4 VFs of 1/4, debugfs counters.
    fn four_vfs() -> Self {
        let f = Fixture::new();
        f.pf(PF, 4, "default");
        for i in 0..4u32 {
            let ipu = format!("0x{:04x}", 0xfu32 << (4 * i));
            let vpu = format!("0x{:x}", 1u32 << i);
            f.vf(
                PF,
                i,
                &format!("0000:00:05.{}", i + 1),
                &[
                    ("vf_index", &i.to_string()),
                    ("slice", "1/4"),
                    ("ipu_mask", &ipu),
                    ("vpu_mask", &vpu),
                    ("jpu_mask", &vpu),
                    ("mem_mb", "64"),
                    ("protocol_version", "2"),
                    ("state", if i == 2 { "going-away" } else { "ready" }),
                    ("job_node", &format!("mlu270-vf{i}")),
                ],
            );
        }
        f.write(PF, "job_node", "mlu270-pf0");
        f.debugfs(
            PF,
            "vfs 4 layout default\n\
             vf quarters ipu vpu jpu mem_mb version accepted rejected rate_limited replies_dropped resets faults last_fault_code last_fault_addr\n\
             0 1 0x000f 0x1 0x1 64 2 3 0 0 0 0 0 0 0x0\n\
             1 1 0x00f0 0x2 0x2 64 2 5 1 0 0 1 0 0 0x0\n\
             2 1 0x0f00 0x4 0x4 64 2 3 0 0 0 0 8 5 0x1000000000\n\
             3 1 0xf000 0x8 0x8 64 2 3 0 2 1 0 0 0 0x0\n",
        );
        f
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlu270-smi"));
        cmd.arg("--sysfs-root").arg(&self.root).args(args);
        let o = cmd.output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    }
}

// ---------------------------------------------------------------------------
// A tiny JSON parser (enough to check the output is valid and to walk it).

#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn get(&self, k: &str) -> &J {
        match self {
            J::Obj(m) => {
                &m.iter()
                    .find(|(key, _)| key == k)
                    .unwrap_or_else(|| panic!("no key {k} in {self:?}"))
                    .1
            }
            _ => panic!("not an object: {self:?}"),
        }
    }
    fn idx(&self, i: usize) -> &J {
        match self {
            J::Arr(a) => &a[i],
            _ => panic!("not an array: {self:?}"),
        }
    }
    fn len(&self) -> usize {
        match self {
            J::Arr(a) => a.len(),
            J::Obj(m) => m.len(),
            _ => panic!("no length: {self:?}"),
        }
    }
    fn s(&self) -> &str {
        match self {
            J::Str(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }
    fn n(&self) -> f64 {
        match self {
            J::Num(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && b" \t\r\n".contains(&self.b[self.i]) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at {}", c as char, self.i))
        }
    }
    fn lit(&mut self, s: &str, v: J) -> Result<J, String> {
        if self.b[self.i..].starts_with(s.as_bytes()) {
            self.i += s.len();
            Ok(v)
        } else {
            Err(format!("bad literal at {}", self.i))
        }
    }
    fn value(&mut self) -> Result<J, String> {
        self.ws();
        match self.b.get(self.i).ok_or("unexpected end")? {
            b'n' => self.lit("null", J::Null),
            b't' => self.lit("true", J::Bool(true)),
            b'f' => self.lit("false", J::Bool(false)),
            b'"' => Ok(J::Str(self.string()?)),
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(J::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(J::Arr(v));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(J::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value()?;
                    m.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(J::Obj(m));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            c if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while self.i < self.b.len()
                    && (self.b[self.i].is_ascii_digit() || b".eE+-".contains(&self.b[self.i]))
                {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[start..self.i]).unwrap();
                t.parse().map(J::Num).map_err(|_| format!("bad number {t}"))
            }
            c => Err(format!("unexpected '{}' at {}", *c as char, self.i)),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(format!("expected string at {}", self.i));
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = *self.b.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let h = std::str::from_utf8(&self.b[self.i..self.i + 4]).unwrap();
                            self.i += 4;
                            out.push(char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap());
                        }
                        _ => return Err("bad escape".into()),
                    }
                }
                c if c < 0x20 => {
                    return Err(format!("raw control character in string at {}", self.i))
                }
                _ => {
                    // Copy the UTF-8 sequence as is.
                    let start = self.i - 1;
                    let mut end = self.i;
                    while end < self.b.len() && (self.b[end] & 0xc0) == 0x80 {
                        end += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.b[start..end]).unwrap());
                    self.i = end;
                }
            }
        }
    }
}

fn parse_json(s: &str) -> J {
    let mut p = P {
        b: s.as_bytes(),
        i: 0,
    };
    let v = p
        .value()
        .unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{s}"));
    p.ws();
    assert_eq!(p.i, s.len(), "trailing data after JSON:\n{s}");
    v
}

// ---------------------------------------------------------------------------
// list

#[test]
fn no_card() {
    let f = Fixture::new();
    f.device("0000:00:01.0", "0x8086", "0x1237", None);
    let (code, out, err) = f.run(&["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("No MLU270 card found"), "{out}");
    let (code, out, _) = f.run(&["--json"]);
    assert_eq!(code, 0);
    let j = parse_json(&out);
    assert_eq!(j.get("cards").len(), 0);
    assert_eq!(j.get("standalone_vfs").len(), 0);
}

#[test]
fn no_sysfs_at_all_is_no_card() {
    let f = Fixture::new();
    fs::remove_dir_all(f.root.join("sys")).unwrap();
    let (code, out, _) = f.run(&[]);
    assert_eq!(code, 0);
    assert!(out.contains("No MLU270 card found"), "{out}");
}

#[test]
fn pf_without_vfs() {
    let f = Fixture::new();
    f.pf(PF, 0, "default");
    let (code, out, err) = f.run(&["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("PF 0000:00:05.0  driver mlu270_pf  vfs 0/4  layout default"),
        "{out}"
    );
    assert!(out.contains("no VFs"), "{out}");
    assert!(out.contains("no debugfs counters"), "{out}");
    let (code, out, _) = f.run(&["list", "--json"]);
    assert_eq!(code, 0);
    let j = parse_json(&out);
    let c = j.get("cards").idx(0);
    assert_eq!(c.get("address").s(), PF);
    assert_eq!(c.get("driver").s(), "mlu270_pf");
    assert_eq!(c.get("totalvfs").n(), 4.0);
    assert_eq!(c.get("numvfs").n(), 0.0);
    assert_eq!(c.get("layout").s(), "default");
    assert_eq!(c.get("debugfs"), &J::Null);
    assert_eq!(c.get("vfs").len(), 0);
}

#[test]
fn pf_not_bound() {
    let f = Fixture::new();
    f.device(PF, "0xcabc", "0x0270", None);
    let (code, out, _) = f.run(&[]);
    assert_eq!(code, 0);
    assert!(out.contains("driver -"), "{out}");
    assert!(out.contains("not bound to mlu270_pf"), "{out}");
    let j = parse_json(&f.run(&["--json"]).1);
    let c = j.get("cards").idx(0);
    assert_eq!(c.get("driver"), &J::Null);
    assert_eq!(c.get("layout"), &J::Null);
    assert_eq!(c.get("totalvfs"), &J::Null);
}

#[test]
fn four_vfs_table() {
    let f = Fixture::four_vfs();
    let (code, out, err) = f.run(&["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("vfs 4/4  layout default"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("VF "))
        .expect(&out);
    assert!(
        lines[header].contains("ADDRESS") && lines[header].contains("FAULTS"),
        "{out}"
    );
    let vf2: Vec<&str> = lines[header + 3].split_whitespace().collect();
    assert_eq!(
        vf2,
        [
            "2",
            "0000:00:05.3",
            "mlu270_vf",
            "1/4",
            "0x0f00",
            "0x4",
            "0x4",
            "64",
            "2",
            "going-away",
            "3",
            "0",
            "0",
            "0",
            "0",
            "8",
            "5",
            "0x1000000000",
            "mlu270-vf2"
        ],
        "{out}"
    );
    assert!(lines[header].ends_with("NODE"), "{out}");
    assert!(out.contains("layout default  node mlu270-pf0"), "{out}");
    assert_eq!(lines.len(), header + 5, "{out}");
}

#[test]
fn four_vfs_json() {
    let f = Fixture::four_vfs();
    let (code, out, err) = f.run(&["--json", "list"]);
    assert_eq!(code, 0, "{err}");
    let j = parse_json(&out);
    let c = j.get("cards").idx(0);
    assert_eq!(c.get("numvfs").n(), 4.0);
    assert_eq!(c.get("debugfs").get("vfs").n(), 4.0);
    assert_eq!(c.get("debugfs").get("layout").s(), "default");
    let vfs = c.get("vfs");
    assert_eq!(vfs.len(), 4);
    for i in 0..4 {
        let v = vfs.idx(i);
        assert_eq!(v.get("address").s(), format!("0000:00:05.{}", i + 1));
        assert_eq!(v.get("index").n(), i as f64);
        assert_eq!(v.get("vf_index").n(), i as f64);
        assert_eq!(v.get("driver").s(), "mlu270_vf");
        assert_eq!(v.get("slice").get("fraction").s(), "1/4");
        assert_eq!(v.get("slice").get("mem_mb").n(), 64.0);
        assert_eq!(v.get("protocol_version").n(), 2.0);
    }
    assert_eq!(c.get("job_node").s(), "mlu270-pf0");
    assert_eq!(vfs.idx(3).get("job_node").s(), "mlu270-vf3");
    let v1 = vfs.idx(1);
    assert_eq!(v1.get("slice").get("ipu_mask").s(), "0x00f0");
    assert_eq!(v1.get("counters").get("accepted").n(), 5.0);
    assert_eq!(v1.get("counters").get("rejected").n(), 1.0);
    assert_eq!(v1.get("counters").get("resets").n(), 1.0);
    let v2 = vfs.idx(2);
    assert_eq!(v2.get("state").s(), "going-away");
    assert_eq!(v2.get("counters").get("faults").n(), 8.0);
    assert_eq!(
        v2.get("counters").get("last_fault_addr").s(),
        "0x1000000000"
    );
    assert_eq!(j.get("standalone_vfs").len(), 0);
}

#[test]
fn vf_without_handshake_and_no_debugfs() {
    // VF 0 bound but no completed handshake (attributes fail: absent here),
    // VF 1 not bound to any driver; no debugfs file.
    let f = Fixture::new();
    f.pf(PF, 2, "1/4 1/4");
    f.vf(
        PF,
        0,
        "0000:00:05.1",
        &[("vf_index", "0"), ("state", "starting")],
    );
    f.device("0000:00:05.2", "0xcabc", "0x0271", None);
    symlink("../0000:00:05.2", f.dev(PF).join("virtfn1")).unwrap();
    let (code, out, err) = f.run(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("layout 1/4 1/4"), "{out}");
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.contains("0000:00:05.2"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row[0], "1");
    assert!(row[2..].iter().all(|c| *c == "-"), "{out}");
    let j = parse_json(&f.run(&["--json"]).1);
    let vfs = j.get("cards").idx(0).get("vfs");
    assert_eq!(vfs.idx(0).get("state").s(), "starting");
    assert_eq!(vfs.idx(0).get("slice").get("fraction"), &J::Null);
    assert_eq!(vfs.idx(0).get("counters"), &J::Null);
    assert_eq!(vfs.idx(1).get("driver"), &J::Null);
    assert_eq!(vfs.idx(1).get("vf_index"), &J::Null);
}

#[test]
fn debugfs_fills_slice_of_unbound_vf() {
    let f = Fixture::new();
    f.pf(PF, 1, "default");
    f.device("0000:00:05.1", "0xcabc", "0x0271", None);
    symlink("../0000:00:05.1", f.dev(PF).join("virtfn0")).unwrap();
    f.debugfs(
        PF,
        "vfs 1 layout default\nvf quarters ipu vpu jpu mem_mb version accepted rejected rate_limited replies_dropped resets faults last_fault_code last_fault_addr\n0 4 0xffff 0xf 0xf 256 0 0 0 0 0 0 0 0 0x0\n",
    );
    let j = parse_json(&f.run(&["--json"]).1);
    let v = j.get("cards").idx(0).get("vfs").idx(0);
    assert_eq!(v.get("slice").get("fraction").s(), "1/1");
    assert_eq!(v.get("slice").get("ipu_mask").s(), "0xffff");
    assert_eq!(v.get("slice").get("mem_mb").n(), 256.0);
    assert_eq!(
        v.get("protocol_version"),
        &J::Null,
        "version 0 means none yet"
    );
    assert_eq!(v.get("counters").get("version").n(), 0.0);
}

#[test]
fn standalone_vf_in_a_guest() {
    let f = Fixture::new();
    f.device("0000:00:04.0", "0xcabc", "0x0271", Some("mlu270_vf"));
    for (k, v) in [("vf_index", "3"), ("slice", "1/4"), ("state", "ready")] {
        f.write("0000:00:04.0", k, v);
    }
    let (code, out, _) = f.run(&[]);
    assert_eq!(code, 0);
    assert!(out.contains("VFs without a visible PF"), "{out}");
    let j = parse_json(&f.run(&["--json"]).1);
    let v = j.get("standalone_vfs").idx(0);
    assert_eq!(v.get("index"), &J::Null);
    assert_eq!(v.get("vf_index").n(), 3.0);
}

#[test]
fn json_escapes_strange_values() {
    let f = Fixture::new();
    f.pf(PF, 0, "default");
    // A hostile or broken attribute value must not break the JSON.
    fs::write(f.dev(PF).join("layout"), "a\"b\\c\u{1}\td é\n").unwrap();
    let (code, out, _) = f.run(&["--json"]);
    assert_eq!(code, 0);
    let j = parse_json(&out);
    assert_eq!(j.get("cards").idx(0).get("layout").s(), "a\"b\\c\u{1}\td é");
}

// ---------------------------------------------------------------------------
// set-vfs / set-layout

#[test]
fn set_vfs_writes_sriov_numvfs() {
    let f = Fixture::new();
    f.pf(PF, 0, "default");
    let (code, out, err) = f.run(&["set-vfs", PF, "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f.read(PF, "sriov_numvfs"), "3\n");
    assert!(out.contains("0000:00:05.0: numvfs set to 3"), "{out}");
    // Short address form, JSON result.
    let (code, out, err) = f.run(&["--json", "set-vfs", "00:05.0", "0"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f.read(PF, "sriov_numvfs"), "0\n");
    let j = parse_json(&out);
    assert_eq!(j.get("numvfs").n(), 0.0);
}

#[test]
fn set_layout_writes_layout() {
    let f = Fixture::new();
    f.pf(PF, 0, "default");
    let (code, _, err) = f.run(&["set-layout", PF, "1/2 1/4 1/4"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f.read(PF, "layout"), "1/2 1/4 1/4\n");
    // Unquoted fractions are joined; a shorter value replaces the file.
    let (code, _, err) = f.run(&["set-layout", PF, "1/4", "1/4"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f.read(PF, "layout"), "1/4 1/4\n");
    let (code, out, _) = f.run(&["--json", "set-layout", PF, "default"]);
    assert_eq!(code, 0);
    assert_eq!(f.read(PF, "layout"), "default\n");
    assert_eq!(parse_json(&out).get("layout").s(), "default");
}

#[test]
fn write_error_names_device_and_errno() {
    let f = Fixture::new();
    f.pf(PF, 4, "default");
    fs::remove_file(f.dev(PF).join("sriov_numvfs")).unwrap();
    fs::create_dir(f.dev(PF).join("sriov_numvfs")).unwrap();
    let (code, out, err) = f.run(&["set-vfs", PF, "2"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.starts_with(
            "mlu270-smi: 0000:00:05.0: cannot write sriov_numvfs: Is a directory (EISDIR): "
        ),
        "{err}"
    );
}

#[test]
fn missing_layout_attribute_hints_at_driver() {
    let f = Fixture::new();
    f.device(PF, "0xcabc", "0x0270", None);
    let (code, _, err) = f.run(&["set-layout", PF, "1/4"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("0000:00:05.0: cannot write layout: No such file or directory (ENOENT)"),
        "{err}"
    );
    assert!(err.contains("is mlu270_pf loaded"), "{err}");
}

#[test]
fn unknown_device() {
    let f = Fixture::new();
    let (code, _, err) = f.run(&["set-vfs", "0000:00:09.0", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("0000:00:09.0: no such PCI device"), "{err}");
    assert!(err.contains("is mlu270_pf loaded?"), "{err}");
}

#[test]
fn not_an_mlu270_pf() {
    let f = Fixture::four_vfs();
    let (code, _, err) = f.run(&["set-vfs", "0000:00:05.1", "1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("0000:00:05.1: not an MLU270 PF (cabc:0271"),
        "{err}"
    );
    assert_eq!(f.read("0000:00:05.1", "vf_index"), "0\n");
}

#[test]
fn read_only_file_as_non_root() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    f.pf(PF, 0, "default");
    let p = f.dev(PF).join("layout");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
    let (code, _, err) = f.run(&["set-layout", PF, "1/4"]);
    // root ignores the mode: then the write succeeds.
    if fs::OpenOptions::new().write(true).open(&p).is_ok() {
        assert_eq!(code, 0, "{err}");
    } else {
        assert_eq!(code, 1);
        assert!(
            err.contains(
                "0000:00:05.0: cannot write layout: Permission denied (EACCES): run as root"
            ),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------
// usage

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new();
    for args in [
        &["frobnicate"][..],
        &["set-vfs", PF][..],
        &["set-vfs", PF, "many"][..],
        &["set-layout", PF][..],
        &["--bogus"][..],
        &["list", "extra"][..],
    ] {
        let (code, _, err) = f.run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with("mlu270-smi: "), "{err}");
        assert!(err.contains("usage:"), "{err}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_mlu270-smi"))
        .arg("--sysfs-root")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help() {
    let f = Fixture::new();
    let (code, out, _) = f.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("set-layout <pf> <layout>"));
}

#[test]
fn run_and_bench_errors_name_the_device() {
    let f = Fixture::four_vfs();
    // No such device.
    let (code, _, err) = f.run(&["run", "00:09.0"]);
    assert_eq!(code, 1);
    assert!(err.contains("0000:00:09.0: no such PCI device"), "{err}");
    // Not an MLU270 function.
    f.device("0000:00:06.0", "0x8086", "0x10d3", None);
    let (code, _, err) = f.run(&["bench", "00:06.0"]);
    assert_eq!(code, 1);
    assert!(err.contains("not an MLU270 function (8086:10d3)"), "{err}");
    // A VF without a driver has no job node.
    f.device("0000:00:05.5", "0xcabc", "0x0271", None);
    let (code, _, err) = f.run(&["run", "0000:00:05.5", "nop"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("0000:00:05.5: no job node (no job_node attribute): bind mlu270_pf or mlu270_vf to it (driver: -)"),
        "{err}"
    );
    // The node file is missing.
    let (code, _, err) = f.run(&["run", "00:05.1"]);
    assert_eq!(code, 1);
    assert!(err.contains("0000:00:05.1: cannot open "), "{err}");
    assert!(
        err.contains("dev/mlu270-vf0: No such file or directory (ENOENT)"),
        "{err}"
    );
    // A plain file is not a job node: the ioctl says so.
    fs::create_dir_all(f.root.join("dev")).unwrap();
    fs::write(f.root.join("dev/mlu270-vf1"), "").unwrap();
    let (code, _, err) = f.run(&["bench", "00:05.2", "crc32"]);
    assert_eq!(code, 1);
    assert!(err.contains("0000:00:05.2: the benchmark on "), "{err}");
    assert!(err.contains("(ENOTTY): not a job node"), "{err}");
    // Bad op, bad --len.
    let (code, _, err) = f.run(&["run", "00:05.1", "dma"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("run: unknown op 'dma' (one of: nop memcpy fill crc32 matmul delta zigzag)"),
        "{err}"
    );
    let (code, _, err) = f.run(&["bench", "00:05.1", "--len", "0"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--len: '0' is not a number from 1 to 16777216"),
        "{err}"
    );
}
