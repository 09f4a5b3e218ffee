// SPDX-License-Identifier: GPL-2.0

//! Host build of the code the MLU270 PF and VF drivers share, and of the
//! PF driver's pure modules.
//!
//! The kernel modules include the very same files with `#[path]`; this crate
//! exists so that `cargo test` can exercise them on the host. The crate is
//! `no_std` outside of tests to prove the files need nothing but `core`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[path = "../../../drivers/accel/mlu270/common/layout.rs"]
pub mod layout;
#[path = "../../../drivers/accel/mlu270/pf/mig_blob.rs"]
pub mod mig_blob;
#[path = "../../../drivers/accel/mlu270/pf/mig_blob_test.rs"]
pub mod mig_blob_test;
#[path = "../../../drivers/accel/mlu270/common/protocol.rs"]
pub mod protocol;
