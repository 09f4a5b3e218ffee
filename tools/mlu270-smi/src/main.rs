// SPDX-License-Identifier: GPL-2.0
//! `mlu270-smi`: see README.md.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = mlu270_smi::run(&args, &mut stdout.lock(), &mut stderr.lock());
    std::process::exit(code);
}
