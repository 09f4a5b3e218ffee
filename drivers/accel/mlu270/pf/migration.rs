// SPDX-License-Identifier: GPL-2.0

//! The PF's migration service: moves one VF's device state to a VF of
//! another card (`Documentation/accel/mlu270/migration.rst`).
//!
//! It drives VF i's migration window through the states VFIO migration v2
//! names (`RUNNING`, `STOP`, `RUNNING_P2P`, `STOP_COPY`, `RESUMING`,
//! `PRE_COPY`, `PRE_COPY_P2P`), moves the stream through a DMA buffer of
//! the PF's, validates every byte of an incoming stream before the card
//! sees it ([`crate::mig_blob`]) and keeps the card's DMA dirty log.
//! Users: the PF node's `MLU270_IOCTL_VF_MIG` (administrators, tests), and
//! the VFIO variant driver (part 2), which calls the same methods.

use kernel::{
    dma::Coherent,
    io::{io_project, poll::read_poll_timeout, register::Array, Io},
    prelude::*,
    sync::atomic::Relaxed,
    time::Delta,
};

use crate::{
    card::Card,
    layout::MAX_VFS,
    mig_blob::{self, StreamParser, Target},
    regs::{self, mig_cmd, mig_res, MIG_LOG_MAX_RANGES},
    uapi::{vf_mig_op, VfMig},
};

/// Bytes the PF's DMA buffer of one VF's migration holds: one command's
/// worth of the stream (the card takes up to 4 MiB; a quarter of a MiB
/// keeps each command at 256 us of card time).
pub(crate) const CHUNK: usize = 256 << 10;

/// How long a command may take: the card needs 1 ns a byte, so even a
/// slow emulation finishes a chunk well within this.
const COMMAND_TIMEOUT: Delta = Delta::from_secs(5);

/// A VF's migration state, numbered as VFIO's `enum vfio_device_mig_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum MigState {
    /// Something failed: only a reset of the VF leaves this state.
    Error = 0,
    Stop = 1,
    Running = 2,
    StopCopy = 3,
    Resuming = 4,
    RunningP2p = 5,
    PreCopy = 6,
    PreCopyP2p = 7,
}

impl MigState {
    /// The state numbered `v`, if any.
    pub(crate) fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => Self::Error,
            1 => Self::Stop,
            2 => Self::Running,
            3 => Self::StopCopy,
            4 => Self::Resuming,
            5 => Self::RunningP2p,
            6 => Self::PreCopy,
            7 => Self::PreCopyP2p,
            _ => return None,
        })
    }
}

/// The built blob the save side is reading.
#[derive(Clone, Copy, Default)]
struct Reading {
    size: u64,
    read: u64,
    /// It is the state blob: the stream ends with it.
    state: bool,
}

/// One VF's migration, behind [`Card::mig`]'s lock of that VF.
///
/// # Locking
///
/// `Card::mig[i]` serialises everything done to VF i's migration window;
/// it may be held while waiting for the card (at most [`COMMAND_TIMEOUT`]
/// a command) and while copying from or to the caller's kernel buffer,
/// never across user memory access. It is taken before a `vfs[i]` lock
/// (briefly, to read the VF's slice and reset count), never after one:
/// the mailbox and fault service, which hold `vfs[i]`, never take it.
/// Each VF has its own lock and its own DMA buffer ([`Card::mig_bufs`],
/// used only under this lock): one VF's migration never waits for
/// another's.
pub(crate) struct VfMigration {
    state: MigState,
    /// [`Card::mig_resets`] of the VF when this migration began: a reset
    /// since then (FLR, PF-requested, VF disable) ended it on the card.
    generation: u32,
    /// The save side's current blob, if one is built.
    reading: Option<Reading>,
    /// The state blob was read to its end: the stream is over.
    saved: bool,
    /// Bytes of the stream taken by the load.
    loaded: u64,
    /// The validator of the stream being loaded.
    parser: Option<KBox<StreamParser<KVec<u64>>>>,
    /// DMA logging is on, with granules of `1 << log_shift` bytes.
    logging: bool,
    log_shift: u32,
    /// The ranges (IOVA, length) being logged: the first `log_ranges`.
    log_range: [(u64, u64); MIG_LOG_MAX_RANGES],
    log_ranges: usize,
    /// Pre-copy began and its first round is not built yet: what
    /// `SIZE_QUERY` reports is initial data, not dirty data.
    first_round: bool,
    /// The word of the stream being saved ([`mig_blob::driver_word`]: the
    /// protocol version the VF negotiated when the stream began).
    word: u32,
}

impl VfMigration {
    /// A VF that is not migrating.
    pub(crate) const fn new() -> Self {
        Self {
            state: MigState::Running,
            generation: 0,
            reading: None,
            saved: false,
            loaded: 0,
            parser: None,
            logging: false,
            log_shift: 0,
            log_range: [(0, 0); MIG_LOG_MAX_RANGES],
            log_ranges: 0,
            first_round: false,
            word: 0,
        }
    }

    /// Forget the migration: the card ended it (a reset of the VF). DMA
    /// logging is the caller's to decide: it survives an FLR.
    fn forget(&mut self) {
        self.state = MigState::Running;
        self.first_round = false;
        self.reading = None;
        self.saved = false;
        self.loaded = 0;
        self.parser = None;
        self.word = 0;
    }

    /// Forget the DMA log too (VF disable, or the card says it ended).
    fn forget_log(&mut self) {
        self.logging = false;
        self.log_shift = 0;
        self.log_ranges = 0;
    }
}

/// What a [`Card::mig_precopy_info`] reports, as VFIO's
/// `VFIO_MIG_GET_PRECOPY_INFO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PrecopyInfo {
    /// Bytes of the current round not read yet.
    pub(crate) initial_bytes: u64,
    /// Bytes the next round would carry now.
    pub(crate) dirty_bytes: u64,
}

/// The arcs VFIO migration v2 defines between two states (plus
/// `RUNNING` <-> `STOP` directly, for callers without P2P).
fn arc_defined(from: MigState, to: MigState) -> bool {
    use MigState::*;
    matches!(
        (from, to),
        (Running, RunningP2p | Stop | PreCopy)
            | (RunningP2p | Stop, Running)
            | (RunningP2p, Stop | PreCopyP2p)
            | (Stop, RunningP2p | StopCopy | Resuming)
            | (StopCopy | Resuming, Stop)
            | (PreCopy, Running | PreCopyP2p)
            | (PreCopyP2p, PreCopy | RunningP2p | StopCopy)
    )
}

/// The errno of a command's result (`migration.rst`, Results).
fn result_errno(res: u32) -> Result {
    match res {
        mig_res::OK => Ok(()),
        mig_res::EBUSY => Err(EBUSY),
        mig_res::EIO => Err(EIO),
        mig_res::MISMATCH => Err(EOPNOTSUPP),
        mig_res::ENOSPC => Err(ENOSPC),
        mig_res::CANCELED => Err(ENODEV),
        mig_res::ENOMSG => Err(ENOMSG),
        _ => Err(EINVAL),
    }
}

impl Card<'_> {
    fn mig_rd(&self, vf: usize, word: usize) -> u32 {
        regs::MIG_WORD::try_at(regs::mig_index(vf, word))
            .map(|loc| self.bar.read(loc).into())
            .unwrap_or(0)
    }

    fn mig_wr(&self, vf: usize, word: usize, value: u32) {
        if let Some(loc) = regs::MIG_WORD::try_at(regs::mig_index(vf, word)) {
            self.bar.write(loc, regs::MIG_WORD::from(value));
        }
    }

    fn mig_wr64(&self, vf: usize, word: usize, value: u64) {
        self.mig_wr(vf, word, value as u32);
        self.mig_wr(vf, word + 1, (value >> 32) as u32);
    }

    /// Runs command `cmd` with `arg` for VF `vf` and waits for its end.
    ///
    /// Its end is `MIG_DONE` changing; a command of ours that timed out
    /// and still runs would swallow this one's registers (the card ignores
    /// writes while `BUSY`) and report its own end: refuse while it runs.
    fn mig_command(&self, vf: usize, cmd: u32, arg: u32) -> Result {
        if self.mig_rd(vf, regs::MIG_STATUS) & regs::MIG_STATUS_BUSY != 0 {
            return Err(EBUSY);
        }
        let done = self.mig_rd(vf, regs::MIG_DONE);
        self.mig_wr(vf, regs::MIG_ARG, arg);
        self.mig_wr(vf, regs::MIG_CMD, cmd);
        read_poll_timeout(
            || Ok(self.mig_rd(vf, regs::MIG_DONE)),
            |now: &u32| *now != done,
            Delta::from_micros(20),
            COMMAND_TIMEOUT,
        )
        .inspect_err(|_| {
            dev_err!(
                self.pdev,
                "VF {}: migration command {:#x} did not complete\n",
                vf,
                cmd
            )
        })?;
        if self.mig_rd(vf, regs::MIG_STATUS) & regs::MIG_STATUS_BUSY != 0 {
            // Another end than ours (the window was reset under us).
            return Err(EIO);
        }
        result_errno(self.mig_rd(vf, regs::MIG_RESULT))
    }

    /// VF `vf`'s DMA buffer; the caller holds `mig[vf]`.
    fn mig_buf(&self, vf: usize) -> Result<&Coherent<[u8]>> {
        self.mig_bufs.get(vf).ok_or(EINVAL)
    }

    /// A command that moves `len` bytes between the card and VF `vf`'s
    /// buffer.
    fn mig_data(&self, vf: usize, cmd: u32, off: u64, len: usize) -> Result {
        let buf = self.mig_buf(vf)?;
        let len32 = u32::try_from(len).map_err(|_| EINVAL)?;
        if len > buf.len() {
            return Err(EINVAL);
        }
        self.mig_wr64(vf, regs::MIG_ADDR_LO, buf.dma_address());
        self.mig_wr(vf, regs::MIG_LEN, len32);
        self.mig_wr64(vf, regs::MIG_OFF_LO, off);
        self.mig_command(vf, cmd, 0)
    }

    fn mig_size(&self, vf: usize) -> u64 {
        u64::from(self.mig_rd(vf, regs::MIG_SIZE_LO))
            | u64::from(self.mig_rd(vf, regs::MIG_SIZE_LO + 1)) << 32
    }

    /// VF `vf`'s migration, locked, after noticing a reset that ended it.
    fn mig_lock(&self, vf: usize) -> Result<kernel::sync::MutexGuard<'_, VfMigration>> {
        let lock = self.mig.get(vf).ok_or(EINVAL)?;
        let mut m = lock.lock();
        let enabled = self.shared.vfs.get(vf).map(|l| l.lock().enabled);
        if enabled != Some(true) {
            m.forget();
            m.forget_log();
            return Err(ENODEV);
        }
        let generation = self.mig_resets.get(vf).map(|g| g.load(Relaxed));
        if generation != Some(m.generation) {
            // The card ended the pause, the stream and the load; the DMA
            // log survives an FLR, not a VF disable: ask the card.
            m.forget();
            m.generation = generation.unwrap_or(0);
            self.mig_settle(vf, &mut m);
        }
        Ok(m)
    }

    /// After a reset: the card must hold the VF as the driver now thinks
    /// of it (`RUNNING`). A command issued between the reset and the PF's
    /// noticing it (its `VF_EVENT`) may have paused or started something
    /// on the fresh VF: undo it, so that a tenant is never left frozen.
    fn mig_settle(&self, vf: usize, m: &mut VfMigration) {
        let status = self.mig_rd(vf, regs::MIG_STATUS);
        if status & regs::MIG_STATUS_LOADING != 0 {
            let _ = self.mig_command(vf, mig_cmd::LOAD_ABORT, 0);
        }
        if status & (regs::MIG_STATUS_TRACKING | regs::MIG_STATUS_BLOB) != 0 {
            let _ = self.mig_command(vf, mig_cmd::TRACK_STOP, 0);
        }
        if status & regs::MIG_STATUS_PAUSED != 0 {
            let _ = self.mig_command(vf, mig_cmd::RESUME, 0);
        }
        m.logging = status & regs::MIG_STATUS_DMA_LOG != 0;
        if !m.logging {
            m.forget_log();
        }
    }

    /// A step failed: the VF's migration is in `ERROR` until a reset, but
    /// a reset of the VF since it began means the card already ended it.
    fn mig_fail(&self, vf: usize, m: &mut VfMigration, e: Error) -> Error {
        if self.mig_resets.get(vf).map(|g| g.load(Relaxed)) != Some(m.generation) {
            // mig_lock settles it with the card at the next call.
            m.forget();
            return ENODEV;
        }
        let stopped = matches!(
            m.state,
            MigState::Stop
                | MigState::StopCopy
                | MigState::RunningP2p
                | MigState::PreCopyP2p
                | MigState::Resuming
        );
        if stopped && self.mig_rd(vf, regs::MIG_STATUS) & regs::MIG_STATUS_PAUSED == 0 {
            // The VF runs: a reset ended the migration and the PF has not
            // seen its VF_EVENT yet (a reset through VFIO, in flight).
            m.forget();
            return ENODEV;
        }
        if m.state == MigState::Resuming {
            // The card keeps a load after a failed DMA: drop it.
            let _ = self.mig_command(vf, mig_cmd::LOAD_ABORT, 0);
            m.parser = None;
        }
        m.state = MigState::Error;
        e
    }

    /// VF `vf`'s migration state.
    pub(crate) fn mig_state(&self, vf: usize) -> Result<MigState> {
        Ok(self.mig_lock(vf)?.state)
    }

    /// Moves VF `vf` to migration state `to` along one of the arcs VFIO
    /// defines (multi-step transitions are the caller's, as with VFIO's
    /// `vfio_mig_get_next_state()`).
    pub(crate) fn mig_set_state(&self, vf: usize, to: MigState) -> Result {
        let mut m = self.mig_lock(vf)?;
        let from = m.state;
        let vf32 = u32::try_from(vf)?;
        if from != to && !arc_defined(from, to) {
            // VFIO's rule: the state does not change.
            return Err(EINVAL);
        }
        let r = match (from, to) {
            _ if from == to => Ok(()),
            (MigState::Running, MigState::RunningP2p | MigState::Stop)
            | (MigState::PreCopy, MigState::PreCopyP2p) => self.mig_command(vf, mig_cmd::PAUSE, 0),
            (MigState::RunningP2p | MigState::Stop, MigState::Running)
            | (MigState::PreCopyP2p, MigState::PreCopy) => self.mig_command(vf, mig_cmd::RESUME, 0),
            (MigState::RunningP2p, MigState::Stop) | (MigState::Stop, MigState::RunningP2p) => {
                Ok(())
            }
            (MigState::Running, MigState::PreCopy)
            | (MigState::RunningP2p, MigState::PreCopyP2p) => {
                let word = self.mig_word(vf)?;
                self.mig_command(vf, mig_cmd::TRACK_START, word)
                    .inspect(|()| {
                        m.word = word;
                        m.first_round = true;
                    })
            }
            (MigState::PreCopy, MigState::Running)
            | (MigState::PreCopyP2p, MigState::RunningP2p) => {
                m.reading = None;
                m.word = 0;
                self.mig_command(vf, mig_cmd::TRACK_STOP, 0)
            }
            // The stream goes on: the rest of a round, then the state blob.
            (MigState::PreCopyP2p | MigState::Stop, MigState::StopCopy) => {
                m.saved = false;
                Ok(())
            }
            (MigState::StopCopy, MigState::Stop) => {
                m.reading = None;
                m.saved = false;
                m.word = 0;
                // No stream (it ended with the state blob): nothing to end.
                match self.mig_command(vf, mig_cmd::TRACK_STOP, 0) {
                    Err(e) if e == EINVAL => Ok(()),
                    r => r,
                }
            }
            (MigState::Stop, MigState::Resuming) => self.mig_load_begin(vf32, &mut m),
            (MigState::Resuming, MigState::Stop) => self.mig_load_commit(vf, &mut m),
            _ => Err(EINVAL),
        };
        match r {
            Ok(()) => {
                m.state = to;
                if to == MigState::Running {
                    m.reading = None;
                    m.saved = false;
                }
                Ok(())
            }
            Err(e) if (e == EINVAL || e == EBUSY) && from != MigState::Resuming => {
                // The card refused the step (a refused command changes
                // nothing): the VF is where it was. A refused commit
                // dropped the load, though.
                Err(e)
            }
            Err(e) => Err(self.mig_fail(vf, &mut m, e)),
        }
    }

    /// [`Card::mig_set_state`] for a caller that keeps its own state of the
    /// VF (the VFIO variant driver): the step is from `from`. If the VF is
    /// elsewhere (the PF reset it, or the PF node moved it), the two have
    /// drifted apart: the VF's migration is in `ERROR` until a reset.
    pub(crate) fn mig_step(&self, vf: usize, from: MigState, to: MigState) -> Result {
        {
            let mut m = self.mig_lock(vf)?;
            if m.state != from {
                dev_warn!(
                    self.pdev,
                    "VF {}: migration step from {:?} asked, but the VF is in {:?}\n",
                    vf,
                    from,
                    m.state
                );
                m.state = MigState::Error;
                return Err(EINVAL);
            }
        }
        self.mig_set_state(vf, to)
    }

    /// A VF whose stop-copy read failed to reach user memory lost stream
    /// bytes (the card moved on): the migration cannot go on.
    pub(crate) fn mig_data_lost(&self, vf: usize) {
        if let Ok(mut m) = self.mig_lock(vf) {
            if matches!(
                m.state,
                MigState::PreCopy | MigState::PreCopyP2p | MigState::StopCopy
            ) {
                let _ = self.mig_fail(vf, &mut m, EFAULT);
            }
        }
    }

    fn mig_load_begin(&self, vf: u32, m: &mut VfMigration) -> Result {
        let slice = self
            .shared
            .vfs
            .get(vf as usize)
            .map(|l| l.lock().slice)
            .ok_or(EINVAL)?;
        let target = Target::new(vf, slice, self.caps, self.pdev.revision_id());
        let mut seen = KVec::new();
        seen.resize(mig_blob::MAX_BITMAP_WORDS, 0u64, GFP_KERNEL)?;
        let parser = StreamParser::new(target, seen).map_err(|e| {
            dev_warn!(
                self.pdev,
                "VF {}: cannot load a migration stream: {}\n",
                vf,
                e.reason()
            );
            Error::from_errno(-e.errno())
        })?;
        let parser = KBox::new(parser, GFP_KERNEL)?;
        self.mig_command(vf as usize, mig_cmd::LOAD_BEGIN, 0)?;
        m.parser = Some(parser);
        m.loaded = 0;
        Ok(())
    }

    /// The word of a stream VF `vf` begins now: its negotiated version.
    fn mig_word(&self, vf: usize) -> Result<u32> {
        let negotiated = self
            .shared
            .vfs
            .get(vf)
            .ok_or(EINVAL)?
            .lock()
            .session
            .negotiated;
        Ok(mig_blob::driver_word(negotiated, mig_blob::LAYOUT_CODE))
    }

    fn mig_load_commit(&self, vf: usize, m: &mut VfMigration) -> Result {
        let checked = m.parser.as_ref().map(|p| p.finish());
        match checked {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                self.mig_refused(vf, m, e);
                let _ = self.mig_command(vf, mig_cmd::LOAD_ABORT, 0);
                m.parser = None;
                return Err(Error::from_errno(-e.errno()));
            }
            None => return Err(EINVAL),
        }
        // The guest's VF driver goes on with the version it negotiated with
        // the source PF, without a new HELLO: adopt it (check_compat made
        // sure this driver speaks it).
        let negotiated = m
            .parser
            .as_ref()
            .and_then(|p| p.descriptor())
            .map(|d| mig_blob::word_version(d.driver_word));
        let r = self.mig_command(vf, mig_cmd::LOAD_COMMIT, 0);
        m.parser = None;
        if r.is_ok() {
            if let (Some(Ok(version)), Some(lock)) = (negotiated, self.shared.vfs.get(vf)) {
                lock.lock().session.negotiated = version;
            }
        }
        if r.is_err() {
            dev_warn!(
                self.pdev,
                "VF {}: the card refused a migration stream the driver accepted\n",
                vf
            );
        }
        r
    }

    /// One line naming both ends of a refused stream, within the VF's log
    /// budget (the one its mailbox lines use).
    fn mig_refused(&self, vf: usize, m: &VfMigration, e: mig_blob::MigError) {
        let Some(parser) = m.parser.as_ref() else {
            return;
        };
        let now = self.now_ns();
        let permit = self
            .shared
            .vfs
            .get(vf)
            .and_then(|l| l.lock().session.take_log_permit(now));
        if permit.is_none() {
            return;
        }
        match parser.source() {
            Some(source) => dev_warn!(
                self.pdev,
                "VF {}: migration stream from {} refused at byte {}: {} (target {})\n",
                vf,
                source,
                parser.offset(),
                e.reason(),
                parser.target()
            ),
            None => dev_warn!(
                self.pdev,
                "VF {}: migration stream refused at byte {}: {} (target {})\n",
                vf,
                parser.offset(),
                e.reason(),
                parser.target()
            ),
        }
    }

    /// Reads the next bytes of VF `vf`'s stream (`PRE_COPY`,
    /// `PRE_COPY_P2P`, `STOP_COPY`) into `out`; returns how many. 0 means
    /// no data now (pre-copy: nothing written since the last round) or the
    /// end of the stream (`STOP_COPY`).
    pub(crate) fn mig_read(&self, vf: usize, out: &mut [u8]) -> Result<usize> {
        self.mig_read_in(vf, out).map(|(n, _)| n)
    }

    /// [`Card::mig_read`], with the state the read was made in (0 bytes
    /// in a pre-copy state: no data now; in `STOP_COPY`: the end).
    pub(crate) fn mig_read_in(&self, vf: usize, out: &mut [u8]) -> Result<(usize, MigState)> {
        let mut m = self.mig_lock(vf)?;
        let state = m.state;
        if m.state == MigState::Error {
            return Err(EINVAL);
        }
        let r = self.mig_read_locked(vf, &mut m, out);
        r.map(|n| (n, state)).map_err(|e| {
            if e == EAGAIN {
                // Nothing was consumed: back to STOP_COPY -> STOP and
                // start again.
                e
            } else {
                self.mig_fail(vf, &mut m, e)
            }
        })
    }

    fn mig_read_locked(&self, vf: usize, m: &mut VfMigration, out: &mut [u8]) -> Result<usize> {
        let mut done = 0usize;
        while done < out.len() {
            let mut reading = match m.reading {
                Some(r) => r,
                None => {
                    let state = match m.state {
                        MigState::PreCopy | MigState::PreCopyP2p => false,
                        MigState::StopCopy if !m.saved => true,
                        MigState::StopCopy => break,
                        _ => return Err(EINVAL),
                    };
                    let (cmd, arg) = if state {
                        // The word is the stream's first (pre-copy) one; the
                        // target adopts its version, so the VF must not have
                        // renegotiated since (it would need a new stream).
                        let word = self.mig_word(vf)?;
                        if m.word != 0 && m.word != word {
                            dev_warn!(
                                self.pdev,
                                "VF {}: renegotiated its mailbox protocol during pre-copy: start again\n",
                                vf
                            );
                            return Err(EAGAIN);
                        }
                        m.word = word;
                        (mig_cmd::SAVE_PREPARE, word)
                    } else {
                        (mig_cmd::PRECOPY_ROUND, 0)
                    };
                    match self.mig_command(vf, cmd, arg) {
                        Ok(()) => {}
                        Err(e) if e == ENOMSG => break,
                        Err(e) => return Err(e),
                    }
                    m.first_round = false;
                    Reading {
                        size: self.mig_size(vf),
                        read: 0,
                        state,
                    }
                }
            };
            let left = reading.size.saturating_sub(reading.read);
            let buf = self.mig_buf(vf)?;
            let n = (out.len() - done)
                .min(buf.len())
                .min(usize::try_from(left).unwrap_or(CHUNK));
            if n > 0 {
                self.mig_data(vf, mig_cmd::SAVE_READ, reading.read, n)?;
                let dst = out.get_mut(done..done + n).ok_or(EINVAL)?;
                io_project!(buf, [try: 0..n]).copy_to_slice(dst);
                reading.read += n as u64;
                done += n;
            }
            if reading.read >= reading.size {
                m.reading = None;
                if reading.state {
                    // The card ended the stream with its last byte.
                    m.saved = true;
                    m.word = 0;
                    break;
                }
                // Pre-copy hands out one round per read call.
                break;
            }
            m.reading = Some(reading);
        }
        Ok(done)
    }

    /// Takes the next bytes of the stream being loaded into VF `vf`
    /// (`RESUMING`): validated here first, then given to the card.
    pub(crate) fn mig_write(&self, vf: usize, data: &[u8]) -> Result<usize> {
        let mut m = self.mig_lock(vf)?;
        if m.state != MigState::Resuming {
            return Err(EINVAL);
        }
        let checked = m.parser.as_mut().map(|p| p.feed(data));
        match checked {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                self.mig_refused(vf, &m, e);
                let _ = self.mig_command(vf, mig_cmd::LOAD_ABORT, 0);
                m.parser = None;
                return Err(self.mig_fail(vf, &mut m, Error::from_errno(-e.errno())));
            }
            None => return Err(EINVAL),
        }
        let buf = self.mig_buf(vf)?;
        let mut done = 0usize;
        while done < data.len() {
            let n = (data.len() - done).min(buf.len());
            let src = data.get(done..done + n).ok_or(EINVAL)?;
            io_project!(buf, [try: 0..n]).copy_from_slice(src);
            let off = m.loaded;
            if let Err(e) = self.mig_data(vf, mig_cmd::LOAD_WRITE, off, n) {
                dev_warn!(
                    self.pdev,
                    "VF {}: the card refused migration data at byte {} (errno {})\n",
                    vf,
                    off,
                    e.to_errno()
                );
                return Err(self.mig_fail(vf, &mut m, e));
            }
            m.loaded += n as u64;
            done += n;
        }
        Ok(done)
    }

    /// VFIO's `VFIO_MIG_GET_PRECOPY_INFO` for VF `vf` (pre-copy states).
    pub(crate) fn mig_precopy_info(&self, vf: usize) -> Result<PrecopyInfo> {
        let m = self.mig_lock(vf)?;
        if !matches!(m.state, MigState::PreCopy | MigState::PreCopyP2p) {
            return Err(EINVAL);
        }
        let initial_bytes = m.reading.map_or(0, |r| r.size.saturating_sub(r.read));
        self.mig_command(vf, mig_cmd::SIZE_QUERY, 1)?;
        let round = self.mig_size(vf);
        if m.first_round {
            // The first round carries the VF's content: VFIO's initial
            // data, which QEMU waits for before it stops the VM.
            return Ok(PrecopyInfo {
                initial_bytes: round,
                dirty_bytes: 0,
            });
        }
        Ok(PrecopyInfo {
            initial_bytes,
            dirty_bytes: round,
        })
    }

    /// VFIO's `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`: the bytes the stop-copy
    /// phase of VF `vf` would carry now.
    pub(crate) fn mig_stop_copy_size(&self, vf: usize) -> Result<u64> {
        let m = self.mig_lock(vf)?;
        if m.state == MigState::Resuming || m.state == MigState::Error {
            return Err(EINVAL);
        }
        let pending = m.reading.map_or(0, |r| r.size.saturating_sub(r.read));
        if m.saved || m.reading.is_some_and(|r| r.state) {
            // The state blob is built: what is left of it is all there is.
            return Ok(pending);
        }
        self.mig_command(vf, mig_cmd::SIZE_QUERY, 0)?;
        Ok(pending.saturating_add(self.mig_size(vf)))
    }

    /// Starts logging VF `vf`'s DMA writes to `ranges` (IOVA, length) at
    /// granules of `1 << shift` bytes (VFIO's `DMA_LOGGING_START`).
    pub(crate) fn mig_log_start(&self, vf: usize, shift: u32, ranges: &[(u64, u64)]) -> Result {
        let mut m = self.mig_lock(vf)?;
        if m.logging {
            return Err(EBUSY);
        }
        if ranges.is_empty() || ranges.len() > 16 {
            return Err(if ranges.is_empty() { EINVAL } else { ENOSPC });
        }
        let mut raw = [0u8; 16 * 16];
        for (i, (iova, len)) in ranges.iter().enumerate() {
            let at = raw.get_mut(i * 16..i * 16 + 16).ok_or(EINVAL)?;
            at[..8].copy_from_slice(&iova.to_le_bytes());
            at[8..].copy_from_slice(&len.to_le_bytes());
        }
        let n = ranges.len() * 16;
        let buf = self.mig_buf(vf)?;
        io_project!(buf, [try: 0..n]).copy_from_slice(raw.get(..n).ok_or(EINVAL)?);
        self.mig_wr64(vf, regs::MIG_ADDR_LO, buf.dma_address());
        self.mig_wr(vf, regs::MIG_LEN, u32::try_from(n)?);
        self.mig_command(vf, mig_cmd::DMA_LOG_START, shift)?;
        m.logging = true;
        m.log_shift = shift;
        for (slot, range) in m.log_range.iter_mut().zip(ranges) {
            *slot = *range;
        }
        m.log_ranges = ranges.len();
        Ok(())
    }

    /// Writes the dirty bitmap of `bitmap.len() * 8` bytes (a bit a
    /// granule, little-endian) from IOVA `iova` into `bitmap` and clears
    /// the bits reported (VFIO's `DMA_LOGGING_REPORT`).
    pub(crate) fn mig_log_report(&self, vf: usize, iova: u64, bitmap: &mut [u8]) -> Result {
        if bitmap.len() % 8 != 0 {
            return Err(EINVAL);
        }
        self.mig_log_report_granules(vf, iova, bitmap.len() * 8, bitmap)
    }

    /// As [`Card::mig_log_report`], for exactly `granules` granules (the
    /// card clears no bit beyond them); `bitmap` holds them in whole
    /// 64-bit words.
    pub(crate) fn mig_log_report_granules(
        &self,
        vf: usize,
        iova: u64,
        granules: usize,
        bitmap: &mut [u8],
    ) -> Result {
        let m = self.mig_lock(vf)?;
        if !m.logging || bitmap.len() % 8 != 0 || granules > bitmap.len() * 8 {
            return Err(EINVAL);
        }
        let buf = self.mig_buf(vf)?;
        let mut done = 0usize;
        let used = granules.div_ceil(64) * 8;
        while done < used {
            let n = (used - done).min(buf.len());
            let granules = u32::try_from((n * 8).min(granules - done * 8))?;
            let at = u64::try_from(done * 8)?
                .checked_shl(m.log_shift)
                .and_then(|o| iova.checked_add(o))
                .ok_or(EINVAL)?;
            self.mig_wr64(vf, regs::MIG_ADDR_LO, buf.dma_address());
            self.mig_wr(vf, regs::MIG_LEN, u32::try_from(n)?);
            self.mig_wr64(vf, regs::MIG_OFF_LO, at);
            self.mig_command(vf, mig_cmd::DMA_LOG_REPORT, granules)?;
            let dst = bitmap.get_mut(done..done + n).ok_or(EINVAL)?;
            io_project!(buf, [try: 0..n]).copy_to_slice(dst);
            done += n;
        }
        Ok(())
    }

    /// The granule of VF `vf`'s DMA log, as a shift, and the ranges
    /// (IOVA, length) it logs, if it logs.
    pub(crate) fn mig_log_ranges(&self, vf: usize) -> Result<(u32, KVec<(u64, u64)>)> {
        let m = self.mig_lock(vf)?;
        if !m.logging {
            return Err(EINVAL);
        }
        let mut ranges = KVec::with_capacity(m.log_ranges, GFP_KERNEL)?;
        for range in m.log_range.iter().take(m.log_ranges) {
            ranges.push(*range, GFP_KERNEL)?;
        }
        Ok((m.log_shift, ranges))
    }

    /// Ends VF `vf`'s DMA log whatever the driver knows of it: a new user
    /// of the VF must not see (or inherit) the last one's.
    pub(crate) fn mig_log_end(&self, vf: usize) -> Result {
        let mut m = self.mig_lock(vf)?;
        m.forget_log();
        match self.mig_command(vf, mig_cmd::DMA_LOG_STOP, 0) {
            // Not logging.
            Err(e) if e == EINVAL => Ok(()),
            r => r,
        }
    }

    /// VF `vf` was reset (its VFIO variant driver's `reset_done`): the
    /// card ended its migration. Forget it now rather than when the PF's
    /// `VF_EVENT` of the reset comes in, so that a migration step right
    /// after the reset sees a running VF. The DMA log survives a reset.
    pub(crate) fn mig_reset(&self, vf: usize) -> Result {
        let mut m = self.mig_lock(vf)?;
        m.forget();
        self.mig_settle(vf, &mut m);
        Ok(())
    }

    /// Stops logging VF `vf`'s DMA writes (VFIO's `DMA_LOGGING_STOP`).
    pub(crate) fn mig_log_stop(&self, vf: usize) -> Result {
        let mut m = self.mig_lock(vf)?;
        if !m.logging {
            return Err(EINVAL);
        }
        m.logging = false;
        self.mig_command(vf, mig_cmd::DMA_LOG_STOP, 0)
    }
}

/// The little-endian 64-bit word at `at` of `data`.
fn le64(data: &[u8], at: usize) -> Result<u64> {
    let mut word = [0u8; 8];
    word.copy_from_slice(data.get(at..at + 8).ok_or(EINVAL)?);
    Ok(u64::from_le_bytes(word))
}

/// Allocates the DMA buffers of every VF's migration.
pub(crate) fn buffers(
    dev: &kernel::device::Device<kernel::device::Bound>,
) -> Result<[Coherent<[u8]>; MAX_VFS]> {
    const _: () = assert!(MAX_VFS == 4);
    Ok([
        Coherent::<u8>::zeroed_slice(dev, CHUNK, GFP_KERNEL)?,
        Coherent::<u8>::zeroed_slice(dev, CHUNK, GFP_KERNEL)?,
        Coherent::<u8>::zeroed_slice(dev, CHUNK, GFP_KERNEL)?,
        Coherent::<u8>::zeroed_slice(dev, CHUNK, GFP_KERNEL)?,
    ])
}

impl Card<'_> {
    /// `MLU270_IOCTL_VF_MIG` on the PF node (see [`crate::uapi::VfMig`]).
    pub(crate) fn vf_mig_ioctl(&self, req: &mut VfMig, data: &mut [u8]) -> Result {
        let vf = usize::try_from(req.vf)?;
        if vf >= MAX_VFS {
            return Err(EINVAL);
        }
        match req.op {
            vf_mig_op::GET_STATE => {}
            vf_mig_op::SET_STATE => {
                self.mig_set_state(vf, MigState::from_u32(req.arg).ok_or(EINVAL)?)?
            }
            vf_mig_op::READ => req.len = u64::try_from(self.mig_read(vf, data)?)?,
            vf_mig_op::WRITE => req.len = u64::try_from(self.mig_write(vf, data)?)?,
            vf_mig_op::PRECOPY_INFO => {
                let info = self.mig_precopy_info(vf)?;
                req.initial_bytes = info.initial_bytes;
                req.dirty_bytes = info.dirty_bytes;
            }
            vf_mig_op::STOP_COPY_SIZE => req.initial_bytes = self.mig_stop_copy_size(vf)?,
            vf_mig_op::LOG_START => {
                let mut ranges = [(0u64, 0u64); 16];
                let n = data.len() / 16;
                for (i, range) in ranges.iter_mut().enumerate().take(n) {
                    *range = (le64(data, i * 16)?, le64(data, i * 16 + 8)?);
                }
                self.mig_log_start(vf, req.arg, ranges.get(..n).ok_or(EINVAL)?)?;
            }
            vf_mig_op::LOG_REPORT => self.mig_log_report(vf, req.iova, data)?,
            vf_mig_op::LOG_STOP => self.mig_log_stop(vf)?,
            _ => return Err(EINVAL),
        }
        req.state = self.mig_state(vf)? as u32;
        Ok(())
    }
}
