/*
 * QTest for the emulated MLU270: a VF's live migration to another card
 * (Documentation/accel/mlu270/migration.rst). Two cards in one machine:
 * card A's VF saves its state into guest memory through A's PF, card B's
 * VF loads it from there through B's PF, and the VF's queue, which is in
 * guest memory too, carries on on B.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "mlu270-qtest.h"

#define SLOT_B          6
#define CARD_B          " -m 512M -device mlu270,addr=0x6.0"
#define QUARTER         (MEM_MB / 4 * 1024 * 1024ULL)
#define PAGE            4096
#define COST_PER_BYTE   4       /* a quarter slice: 16 IPUs / 4 */

typedef struct Pair {
    Ctx *a, *b;
} Pair;

static Pair pair_new(int nvfs)
{
    Pair p;

    p.a = ctx_new(CARD_B);
    p.b = ctx_card(p.a, SLOT_B, 0xe8200000);
    part_quarters(p.a);
    part_quarters(p.b);
    vfs_enable(p.a, nvfs);
    vfs_enable(p.b, nvfs);
    return p;
}

static void pair_free(Pair p)
{
    ctx_free(p.b);
    ctx_free(p.a);
}

/* ---- The migration window ----------------------------------------------- */

static uint32_t mrd(Ctx *c, int vf, uint32_t off)
{
    return rd(c, &c->pf, MLU270_MIG_BASE(vf) + off);
}

static void mwr(Ctx *c, int vf, uint32_t off, uint32_t v)
{
    wr(c, &c->pf, MLU270_MIG_BASE(vf) + off, v);
}

static void mig_params(Ctx *c, int vf, uint64_t addr, uint32_t len,
                       uint64_t off, uint32_t arg)
{
    mwr(c, vf, MLU270_MIG_ADDR_LO, addr);
    mwr(c, vf, MLU270_MIG_ADDR_HI, addr >> 32);
    mwr(c, vf, MLU270_MIG_LEN, len);
    mwr(c, vf, MLU270_MIG_OFF_LO, off);
    mwr(c, vf, MLU270_MIG_OFF_HI, off >> 32);
    mwr(c, vf, MLU270_MIG_ARG, arg);
}

/* Run command @cmd to its end (stepping the clock); returns MIG_RESULT. */
static uint32_t mig_do(Ctx *c, int vf, uint32_t cmd)
{
    uint32_t done = mrd(c, vf, MLU270_MIG_DONE);

    mwr(c, vf, MLU270_MIG_CMD, cmd);
    for (int i = 0; i < 100000 && mrd(c, vf, MLU270_MIG_DONE) == done; i++) {
        g_assert_true(mrd(c, vf, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_BUSY);
        qtest_clock_step_next(c->qts);
    }
    g_assert_cmpuint(mrd(c, vf, MLU270_MIG_DONE), ==, done + 1);
    g_assert_false(mrd(c, vf, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_BUSY);
    return mrd(c, vf, MLU270_MIG_RESULT);
}

static uint32_t mig_arg(Ctx *c, int vf, uint32_t cmd, uint32_t arg)
{
    mwr(c, vf, MLU270_MIG_ARG, arg);
    return mig_do(c, vf, cmd);
}

static uint64_t mig_size(Ctx *c, int vf)
{
    return mrd(c, vf, MLU270_MIG_SIZE_LO) |
           (uint64_t)mrd(c, vf, MLU270_MIG_SIZE_HI) << 32;
}

/* The virtual clock (qtest cannot step it by 0: 1 ns). */
static int64_t now(Ctx *c)
{
    return qtest_clock_step(c->qts, 1);
}

/*
 * Read the built blob (MIG_SIZE bytes) of @c's VF @vf to guest memory at
 * @dst in @chunk-byte reads; returns its size.
 */
static uint64_t blob_read(Ctx *c, int vf, uint64_t dst, uint32_t chunk)
{
    uint64_t size = mig_size(c, vf);

    g_assert_true(mrd(c, vf, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_BLOB);
    for (uint64_t off = 0; off < size; off += chunk) {
        uint32_t n = MIN(chunk, size - off);

        mig_params(c, vf, dst + off, n, off, 0);
        g_assert_cmpuint(mig_do(c, vf, MLU270_MIG_CMD_SAVE_READ), ==,
                         MLU270_MIG_RES_OK);
    }
    g_assert_false(mrd(c, vf, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_BLOB);
    return size;
}

/*
 * Feed @len bytes of a stream at guest address @src to @c's loading VF
 * @vf, whose load has taken @taken bytes; returns the first result that
 * is not OK (the load is then over) or OK.
 */
static uint32_t stream_write(Ctx *c, int vf, uint64_t src, uint64_t len,
                             uint64_t taken, uint32_t chunk)
{
    for (uint64_t off = 0; off < len; off += chunk) {
        uint32_t n = MIN(chunk, len - off);
        uint32_t r;

        mig_params(c, vf, src + off, n, taken + off, 0);
        r = mig_do(c, vf, MLU270_MIG_CMD_LOAD_WRITE);
        if (r != MLU270_MIG_RES_OK) {
            return r;
        }
    }
    return MLU270_MIG_RES_OK;
}

/* Pause @c's VF @vf, load the stream at @src into it and commit. */
static uint32_t stream_load(Ctx *c, int vf, uint64_t src, uint64_t len,
                            uint32_t chunk)
{
    uint32_t r;

    g_assert_cmpuint(mig_do(c, vf, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    r = mig_do(c, vf, MLU270_MIG_CMD_LOAD_BEGIN);
    if (r != MLU270_MIG_RES_OK) {
        return r;
    }
    g_assert_true(mrd(c, vf, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_LOADING);
    r = stream_write(c, vf, src, len, 0, chunk);
    if (r != MLU270_MIG_RES_OK) {
        g_assert_false(mrd(c, vf, MLU270_MIG_STATUS) &
                       MLU270_MIG_STATUS_LOADING);
        return r;
    }
    return mig_do(c, vf, MLU270_MIG_CMD_LOAD_COMMIT);
}

/* CRC-32 of @len bytes of @f's slice at @dev, computed by the card. */
static uint64_t slice_crc(Ctx *c, Fn *f, uint64_t dev, uint32_t len)
{
    Cpl cpl = run(c, f, (Job){ .opcode = MLU270_OP_IPU_CRC32, .src = dev,
                               .len = len });

    g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    return cpl.result;
}

static void fill(Ctx *c, Fn *f, uint64_t dev, uint32_t len, uint8_t v)
{
    g_assert_cmpuint(run_status(c, f, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .dst = dev, .len = len, .arg0 = v }), ==, MLU270_ST_OK);
}

/* ---- Tests -------------------------------------------------------------- */

#define JOBS            9
#define LONG_LEN        (8 << 20)
#define FILL_BASE       0x2000000ULL
#define LONG_COST       ((uint64_t)LONG_LEN * COST_PER_BYTE)

/*
 * Save a running VF of card A (a long job in flight, more queued, a job
 * queued while paused, mailbox messages both ways, interrupts pending)
 * and load it into the same VF of card B: memory, queue and pending work
 * continue there exactly, every job completing once, in order.
 */
static void test_save_load(void)
{
    Pair p = pair_new(2);
    Ctx *a = p.a, *b = p.b;
    Fn *va = &a->vf[0], *vb = &b->vf[0];
    uint64_t buf = guest_alloc(a->alloc, 8 << 20);
    uint8_t pattern[64 << 10];
    uint32_t head, tail, done, ist, mb_in[16], crc_src;
    uint64_t size;
    Cpl cpl;

    msix_setup(a, va);
    wr(a, va, MLU270_REG_INT_ENABLE, MLU270_INT_ALL);
    wr(a, va, MLU270_REG_SCRATCH, 0x5ca1ab1e);
    q_setup(a, va);
    fill_pattern(pattern, sizeof(pattern), 77);
    upload(a, va, 0x100000, pattern, sizeof(pattern));
    crc_src = ref_crc32(pattern, sizeof(pattern));
    g_assert_cmpuint(slice_crc(a, va, 0x100000, sizeof(pattern)), ==,
                     crc_src);
    done = rd(a, va, MLU270_REG_Q_DONE);

    /* Job 1 copies 8 MiB (33 ms); jobs 2..8 fill a page each. */
    submit(a, va, &(Job){ .opcode = MLU270_OP_IPU_MEMCPY, .src = 0x100000,
                          .dst = 0x1000000, .len = LONG_LEN,
                          .tag = 0x5000 + 1 });
    for (int i = 2; i < JOBS; i++) {
        submit(a, va, &(Job){ .opcode = MLU270_OP_IPU_FILL,
                              .dst = FILL_BASE + i * PAGE, .len = PAGE,
                              .arg0 = i, .tag = 0x5000 + i });
    }
    qtest_clock_step(a->qts, LONG_COST / 3);
    g_assert_true(rd(a, va, MLU270_REG_Q_STATUS) & MLU270_Q_STATUS_BUSY);
    g_assert_cmpuint(rd(a, va, MLU270_REG_Q_DONE), ==, done);

    /* Mailbox in use both ways; the PF saw the VF's message. */
    wr(a, va, MLU270_REG_MB_OUT, 0xfeed0001);
    wr(a, va, MLU270_REG_MB_OUT + 60, 0xfeed0016);
    wr(a, va, MLU270_REG_MB_DOORBELL, 1);
    g_assert_cmphex(rd(a, &a->pf, MLU270_REG_MB_PENDING), ==, 1);
    wr(a, &a->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_PF_MSG, 0xbeef0001);
    wr(a, &a->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_PF_MSG + 4, 0xbeef0002);
    wr(a, &a->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_DOORBELL, 1);

    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    /* The guest queues job 9 while paused: its doorbell is kept. */
    submit(a, va, &(Job){ .opcode = MLU270_OP_IPU_FILL,
                          .dst = FILL_BASE + JOBS * PAGE, .len = PAGE,
                          .arg0 = JOBS, .tag = 0x5000 + JOBS });
    head = rd(a, va, MLU270_REG_Q_HEAD);
    tail = rd(a, va, MLU270_REG_Q_TAIL);
    ist = rd(a, va, MLU270_REG_INT_STATUS);
    g_assert_true(ist & MLU270_INT_MB_RX);
    for (int i = 0; i < 16; i++) {
        mb_in[i] = rd(a, va, MLU270_REG_MB_IN + 4 * i);
    }

    /* Save: one state blob (no pre-copy), read in 1 MiB chunks. */
    g_assert_cmpuint(mig_arg(a, 0, MLU270_MIG_CMD_SIZE_QUERY,
                             MLU270_MIG_SIZE_STATE), ==, MLU270_MIG_RES_OK);
    size = mig_size(a, 0);
    g_assert_cmpuint(mig_arg(a, 0, MLU270_MIG_CMD_SAVE_PREPARE, 0x00010002),
                     ==, MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_size(a, 0), ==, size);
    g_assert_cmpuint(size, <, 8 << 20);
    g_assert_cmpuint(blob_read(a, 0, buf, 1 << 20), ==, size);
    /* The blob names itself: magic, state kind, its length. */
    g_assert_cmphex(qtest_readl(a->qts, buf), ==, MLU270_BLOB_MAGIC);
    g_assert_cmphex(qtest_readw(a->qts, buf + 6), ==, MLU270_BLOB_KIND_STATE);
    g_assert_cmpuint(qtest_readq(a->qts, buf + 8), ==, size);

    /* Load into B's VF 0 in odd chunks, then commit. */
    g_assert_cmpuint(stream_load(b, 0, buf, size, 100003), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmphex(mrd(b, 0, MLU270_MIG_STATUS), ==,
                    MLU270_MIG_STATUS_PAUSED);
    g_assert_cmphex(rd(b, vb, MLU270_REG_SCRATCH), ==, 0x5ca1ab1e);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_Q_HEAD), ==, head);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_Q_TAIL), ==, tail);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_Q_DONE), ==, done);
    g_assert_cmphex(rd(b, vb, MLU270_REG_Q_STATUS), ==,
                    MLU270_Q_STATUS_ENABLED | MLU270_Q_STATUS_BUSY);
    g_assert_cmphex(rd(b, vb, MLU270_REG_INT_STATUS), ==, ist);
    g_assert_cmphex(rd(b, vb, MLU270_REG_MB_STATUS), ==,
                    MLU270_MB_STATUS_OUT_BUSY | MLU270_MB_STATUS_IN_VALID);
    for (int i = 0; i < 16; i++) {
        g_assert_cmphex(rd(b, vb, MLU270_REG_MB_IN + 4 * i), ==, mb_in[i]);
    }
    g_assert_cmphex(rd(b, &b->pf, MLU270_REG_MB_PENDING), ==, 0);

    /* The source is reset (FLR) as after a real migration. */
    cfg_writew(a, va->devfn, find_cap(a, va->devfn, PCI_CAP_ID_EXP) +
               PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR);
    cfg_writew(a, va->devfn, PCI_COMMAND,
               PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    g_assert_cmpuint(rd(a, va, MLU270_REG_Q_STATUS), ==, 0);

    /* RESUME on B: the VF's message reaches B's PF, the jobs finish. */
    msix_setup(b, vb);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmphex(rd(b, &b->pf, MLU270_REG_MB_PENDING), ==, 1);
    g_assert_true(rd(b, &b->pf, MLU270_REG_INT_STATUS) & MLU270_INT_MB_RX);
    g_assert_cmphex(rd(b, &b->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_VF_MSG),
                    ==, 0xfeed0001);
    g_assert_cmphex(rd(b, &b->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_VF_MSG +
                       60), ==, 0xfeed0016);
    vb->ring = va->ring;
    vb->cq = va->cq;
    vb->tail = va->tail;
    /* The long job finishes exactly when the time it had left is up. */
    qtest_clock_step(b->qts, LONG_COST - LONG_COST / 3 - 1);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_Q_DONE), ==, done);
    qtest_clock_step(b->qts, 1);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_Q_DONE), ==, done + 1);
    wait_done(b, vb, done + JOBS);
    qtest_clock_step(b->qts, 100 * 1000 * 1000);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_Q_DONE), ==, done + JOBS);
    g_assert_true(msix_pending(b, vb, MLU270_VEC_QUEUE));
    for (int i = 1; i <= JOBS; i++) {
        cpl = cpl_read(b, vb, (head + i - 1) % Q_ENTRIES);
        g_assert_cmphex(cpl.tag, ==, 0x5000 + i);
        g_assert_cmpuint(cpl.seq, ==, done + i);
        g_assert_cmpuint(cpl.status, ==, MLU270_ST_OK);
    }
    /* The long job took its whole cost, a third of it on A. */
    cpl = cpl_read(b, vb, head % Q_ENTRIES);
    g_assert_cmpuint(cpl.duration, ==, (uint64_t)LONG_LEN * COST_PER_BYTE);
    /* B's slice: what A had, and the jobs' effects. */
    g_assert_cmpuint(slice_crc(b, vb, 0x100000, sizeof(pattern)), ==,
                     crc_src);
    g_assert_cmpuint(slice_crc(b, vb, 0x1000000, sizeof(pattern)), ==,
                     crc_src);
    for (int i = 2; i <= JOBS; i++) {
        uint8_t want[PAGE];

        memset(want, i, sizeof(want));
        g_assert_cmpuint(slice_crc(b, vb, FILL_BASE + i * PAGE, PAGE), ==,
                         ref_crc32(want, sizeof(want)));
    }
    /* Nothing ran twice: A's VF did no more. */
    g_assert_cmpuint(rd(a, va, MLU270_REG_Q_DONE), ==, 0);
    pair_free(p);
}

/*
 * A running VF's slice in pre-copy rounds while a job stream writes to it
 * half the time: the rounds shrink to what the stream writes between
 * them, the stop-copy phase carries only the last round's pages, and B
 * ends with exactly A's memory. Prints the bytes in the stop-copy phase
 * with and without pre-copy.
 */
static void test_precopy(void)
{
    Pair p = pair_new(1);
    Ctx *a = p.a, *b = p.b;
    Fn *va = &a->vf[0], *vb = &b->vf[0];
    uint64_t buf = guest_alloc(a->alloc, 96 << 20);
    uint64_t at = 0, len, plain, stop, round_bytes[8];
    uint32_t seed = 1, r;
    int rounds = 0;

    q_setup(a, va);
    /* 16 MiB of content in 1 MiB fills of distinct bytes. */
    for (int i = 0; i < 16; i++) {
        fill(a, va, (uint64_t)i << 20, 1 << 20, 0x10 + i);
    }
    g_assert_cmpuint(mig_arg(a, 0, MLU270_MIG_CMD_SIZE_QUERY,
                             MLU270_MIG_SIZE_STATE), ==, MLU270_MIG_RES_OK);
    plain = mig_size(a, 0);
    g_assert_cmpuint(plain, >, 16 << 20);

    g_assert_cmpuint(mig_arg(a, 0, MLU270_MIG_CMD_TRACK_START, 7), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    for (; rounds < 6; rounds++) {
        /*
         * The job stream: 16 random 4 KiB pages filled, each job followed
         * by as much idle time as it took (50% busy).
         */
        for (int j = 0; j < 16; j++) {
            seed = seed * 1103515245 + 12345;
            fill(a, va, ((seed >> 8) % 4096) * PAGE, PAGE, seed >> 24);
            qtest_clock_step(a->qts, PAGE * COST_PER_BYTE);
        }
        r = mig_do(a, 0, MLU270_MIG_CMD_PRECOPY_ROUND);
        g_assert_cmpuint(r, ==, MLU270_MIG_RES_OK);
        len = blob_read(a, 0, buf + at, 4 << 20);
        round_bytes[rounds] = len;
        g_assert_cmpuint(stream_write(b, 0, buf + at, len, at, 1 << 20), ==,
                         MLU270_MIG_RES_OK);
        at += len;
    }
    /* Round 0 has all the content; later ones what the stream wrote. */
    g_assert_cmpuint(round_bytes[0], >, 16 << 20);
    for (int i = 1; i < rounds; i++) {
        g_assert_cmpuint(round_bytes[i], <=, 16 * (PAGE + 12) + 0x200);
    }
    /* Nothing written since the last round: no blob. */
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PRECOPY_ROUND), ==,
                     MLU270_MIG_RES_ENOMSG);

    /* Stop-copy: one more burst of the stream, then PAUSE. */
    for (int j = 0; j < 16; j++) {
        seed = seed * 1103515245 + 12345;
        fill(a, va, ((seed >> 8) % 4096) * PAGE, PAGE, seed >> 24);
        qtest_clock_step(a->qts, PAGE * COST_PER_BYTE);
    }
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_SAVE_PREPARE), ==,
                     MLU270_MIG_RES_OK);
    stop = blob_read(a, 0, buf + at, 4 << 20);
    g_assert_cmpuint(stop, <, 17 * (PAGE + 12) + 0x200);
    g_assert_cmpuint(stream_write(b, 0, buf + at, stop, at, 1 << 20), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_COMMIT), ==,
                     MLU270_MIG_RES_OK);
    g_test_message("figure: stop-copy bytes with pre-copy %" PRIu64
                   ", without %" PRIu64 " (16 MiB of content, 16 pages "
                   "written between rounds, 50%% busy)", stop, plain);

    /* B has A's memory, page for page. */
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    /* B's queue was A's ring: give it its own. */
    wr(b, vb, MLU270_REG_Q_CTRL, 0);
    q_setup(b, vb);
    for (uint64_t off = 0; off < QUARTER; off += 16 << 20) {
        g_assert_cmpuint(slice_crc(b, vb, off, 16 << 20), ==,
                         slice_crc(a, va, off, 16 << 20));
    }
    pair_free(p);
}

/*
 * Save and load of a full 64 MiB slice: the figures are the card's time
 * for each (guest virtual time, from the command that starts it to the
 * last read or write).
 */
static void test_save_load_time(void)
{
    Pair p = pair_new(1);
    Ctx *a = p.a, *b = p.b;
    Fn *va = &a->vf[0];
    uint64_t buf = guest_alloc(a->alloc, 80 << 20);
    uint64_t size;
    int64_t t0, t_save, t_load;

    q_setup(a, va);
    for (uint64_t off = 0; off < QUARTER; off += 16 << 20) {
        fill(a, va, off, 16 << 20, 0xa5 ^ (off >> 20));
    }
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    t0 = now(a);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_SAVE_PREPARE), ==,
                     MLU270_MIG_RES_OK);
    size = blob_read(a, 0, buf, 4 << 20);
    t_save = now(a) - t0;
    g_assert_cmpuint(size, >, QUARTER);
    t0 = now(b);
    g_assert_cmpuint(stream_load(b, 0, buf, size, 4 << 20), ==,
                     MLU270_MIG_RES_OK);
    t_load = now(b) - t0;
    g_test_message("figure: 64 MiB slice: blob %" PRIu64 " bytes, save %"
                   PRId64 " us, load %" PRId64 " us (device time)", size,
                   t_save / 1000, t_load / 1000);
    /* At most 1 ns a byte and a little for the commands. */
    g_assert_cmpint(t_save, <, size + 1000000);
    g_assert_cmpint(t_load, <, size + 1000000);
    pair_free(p);
}

/* Write ranges for DMA_LOG_START into guest memory at @at. */
static void log_ranges(Ctx *c, uint64_t at, const uint64_t *r, int n)
{
    for (int i = 0; i < 2 * n; i++) {
        qtest_writeq(c->qts, at + 8 * i, r[i]);
    }
}

static uint64_t log_report(Ctx *c, int vf, uint64_t out, uint64_t iova,
                           uint32_t granules)
{
    mig_params(c, vf, out, 4096, iova, granules);
    g_assert_cmpuint(mig_do(c, vf, MLU270_MIG_CMD_DMA_LOG_REPORT), ==,
                     MLU270_MIG_RES_OK);
    return qtest_readq(c->qts, out);
}

/*
 * DMA dirty logging reports exactly the pages the VF's DMA wrote inside
 * the ranges (job results and completion records; never reads), clears
 * what it reported, survives an FLR and ends with VF disable; bad range
 * lists are refused.
 */
static void test_dma_log(void)
{
    Ctx *c = ctx_new(NULL);
    Fn *v = &c->vf[0];
    uint64_t data = guest_alloc(c->alloc, 1 << 20);
    uint64_t lists = guest_alloc(c->alloc, 4096);
    uint64_t out = guest_alloc(c->alloc, 4096);
    uint64_t ranges[2 * 17];
    uint64_t cq_page;

    part_quarters(c);
    vfs_enable(c, 1);
    q_setup(c, v);
    data = QEMU_ALIGN_UP(data, 64 * PAGE);
    cq_page = v->cq & ~(uint64_t)(PAGE - 1);

    /* Refused: unaligned, overlapping, empty, 17 ranges, 2^25 granules. */
    ranges[0] = data + 1, ranges[1] = PAGE;
    log_ranges(c, lists, ranges, 1);
    mig_params(c, 0, lists, 16, 0, 12);
    g_assert_cmpuint(mig_do(c, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_EINVAL);
    ranges[0] = data, ranges[1] = 2 * PAGE;
    ranges[2] = data + PAGE, ranges[3] = PAGE;
    log_ranges(c, lists, ranges, 2);
    mig_params(c, 0, lists, 32, 0, 12);
    g_assert_cmpuint(mig_do(c, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_EINVAL);
    ranges[1] = 0;
    log_ranges(c, lists, ranges, 1);
    mig_params(c, 0, lists, 16, 0, 12);
    g_assert_cmpuint(mig_do(c, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_EINVAL);
    mig_params(c, 0, lists, 17 * 16, 0, 12);
    g_assert_cmpuint(mig_do(c, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_ENOSPC);
    ranges[0] = 0, ranges[1] = 1ULL << 37;
    log_ranges(c, lists, ranges, 1);
    mig_params(c, 0, lists, 16, 0, 12);
    g_assert_cmpuint(mig_do(c, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_ENOSPC);
    g_assert_false(mrd(c, 0, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_DMA_LOG);

    /*
     * Three ranges: 64 pages of data, the completion ring's page(s), and
     * page 65 of the data (page 64 is in none).
     */
    ranges[0] = data, ranges[1] = 64 * PAGE;
    ranges[2] = cq_page, ranges[3] = 2 * PAGE;
    ranges[4] = data + 65 * PAGE, ranges[5] = PAGE;
    if (cq_page >= data && cq_page < data + 66 * PAGE) {
        g_assert_not_reached();     /* (separate allocations) */
    }
    log_ranges(c, lists, ranges, 3);
    mig_params(c, 0, lists, 48, 0, 12);
    g_assert_cmpuint(mig_do(c, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmphex(mrd(c, 0, MLU270_MIG_STATUS), ==,
                    MLU270_MIG_STATUS_DMA_LOG);
    g_assert_cmphex(log_report(c, 0, out, data, 64), ==, 0);

    /* Reads are not logged: a host-to-device copy from page 9. */
    g_assert_cmpuint(run_status(c, v, (Job){ .opcode = MLU270_OP_DMA_H2D,
                     .src = data + 9 * PAGE, .dst = 0, .len = PAGE }), ==,
                     MLU270_ST_OK);
    /* Writes: page 1, pages 5-6 (8 KiB), 100 bytes at the end of 63. */
    g_assert_cmpuint(run_status(c, v, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = 0, .dst = data + PAGE, .len = PAGE }), ==,
                     MLU270_ST_OK);
    g_assert_cmpuint(run_status(c, v, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = 0, .dst = data + 5 * PAGE, .len = 2 * PAGE }), ==,
                     MLU270_ST_OK);
    g_assert_cmpuint(run_status(c, v, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = 0, .dst = data + 64 * PAGE - 100, .len = 100 }),
                     ==, MLU270_ST_OK);
    /*
     * A write across page 64 (in no range) into page 65: only page 65's
     * bit, nothing in the first range.
     */
    g_assert_cmpuint(run_status(c, v, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = 0, .dst = data + 65 * PAGE - 100, .len = 200 }),
                     ==, MLU270_ST_OK);
    g_assert_cmphex(log_report(c, 0, out, data, 64), ==,
                    (1ULL << 1) | (3ULL << 5) | (1ULL << 63));
    g_assert_cmphex(log_report(c, 0, out, data + 64 * PAGE, 2), ==, 2);
    /* Reported bits are cleared. */
    g_assert_cmphex(log_report(c, 0, out, data, 64), ==, 0);
    /* Completion records: the ring's page(s). */
    g_assert_cmphex(log_report(c, 0, out, cq_page, 2) & 1, ==, 1);
    g_assert_cmphex(log_report(c, 0, out, cq_page, 2), ==, 0);

    /* An FLR keeps the log; a write after it is logged. */
    cfg_writew(c, v->devfn, find_cap(c, v->devfn, PCI_CAP_ID_EXP) +
               PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR);
    g_assert_true(mrd(c, 0, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_DMA_LOG);
    cfg_writew(c, v->devfn, PCI_COMMAND,
               PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    q_setup(c, v);
    g_assert_cmpuint(run_status(c, v, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = 0, .dst = data + 2 * PAGE, .len = 8 }), ==,
                     MLU270_ST_OK);
    g_assert_cmphex(log_report(c, 0, out, data, 64), ==, 1ULL << 2);
    /* A second start is refused while logging. */
    mig_params(c, 0, lists, 16, 0, 12);
    g_assert_cmpuint(mig_do(c, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_EBUSY);
    /* VF disable ends it. */
    vfs_disable(c);
    g_assert_false(mrd(c, 0, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_DMA_LOG);
    ctx_free(c);
}

/* Two blobs (a pages blob, then the state blob) of a VF with content. */
static uint64_t make_stream(Ctx *a, uint64_t buf, uint64_t *first_len)
{
    Fn *va = &a->vf[0];
    uint64_t len;

    q_setup(a, va);
    wr(a, va, MLU270_REG_SCRATCH, 0x77);
    fill(a, va, 0, 3 * PAGE, 0x42);
    fill(a, va, 70 * PAGE, 2 * PAGE, 0x43);
    g_assert_cmpuint(mig_arg(a, 0, MLU270_MIG_CMD_TRACK_START, 9), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PRECOPY_ROUND), ==,
                     MLU270_MIG_RES_OK);
    *first_len = blob_read(a, 0, buf, 1 << 20);
    fill(a, va, PAGE, PAGE, 0x44);
    /* A fault between the rounds: the blobs' fault records differ. */
    g_assert_cmpuint(run_status(a, va, (Job){ .opcode = MLU270_OP_IPU_FILL,
                     .dst = QUARTER, .len = PAGE }), ==,
                     MLU270_ST_OUT_OF_SLICE);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_SAVE_PREPARE), ==,
                     MLU270_MIG_RES_OK);
    len = blob_read(a, 0, buf + *first_len, 1 << 20);
    return *first_len + len;
}

/* B's VF 0 is as fresh as before: nothing of a refused load stayed. */
static void assert_untouched(Ctx *b, uint32_t scrubs_before)
{
    Fn *vb = &b->vf[0];

    g_assert_cmphex(mrd(b, 0, MLU270_MIG_STATUS), ==,
                    MLU270_MIG_STATUS_PAUSED);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_SCRATCH), ==, 0);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_Q_STATUS), ==, 0);
    g_assert_cmpuint(rd(b, vb, MLU270_REG_MB_STATUS), ==, 0);
    g_assert_cmpuint(rd(b, &b->pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS),
                     ==, scrubs_before + 1);
    /* A fresh VF: another load may begin. */
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_ABORT), ==,
                     MLU270_MIG_RES_OK);
}

static uint32_t load_mutated(Pair *p, uint64_t buf, uint64_t len,
                             uint64_t at, uint8_t xor, uint32_t chunk)
{
    Ctx *b = p->b;
    uint8_t old = qtest_readb(b->qts, buf + at);
    uint32_t scrubs = rd(b, &b->pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS);
    uint32_t r;

    qtest_writeb(b->qts, buf + at, old ^ xor);
    r = stream_load(b, 0, buf, len, chunk);
    qtest_writeb(b->qts, buf + at, old);
    if (r != MLU270_MIG_RES_OK) {
        assert_untouched(b, scrubs);
    }
    return r;
}

/*
 * Corrupt, truncated, extended and mismatched streams are refused and
 * leave the target VF as it was; the intact stream then loads.
 */
static void test_bad_blobs(void)
{
    Pair p = pair_new(2);
    Ctx *a = p.a, *b = p.b;
    uint64_t buf = guest_alloc(a->alloc, 4 << 20);
    uint64_t first, len, scrubs;
    /* One byte of each part: the first blob's header, table, descriptor,
     * run header, page, run CRC; the state blob's header, registers,
     * mailbox and END. */
    uint64_t spots[10];

    len = make_stream(a, buf, &first);
    spots[0] = 0x05;
    spots[1] = 0x18 + 4;
    spots[2] = 0x38 + 8;
    spots[3] = 0x78 + 4;
    spots[4] = 0x78 + 8 + 100;
    spots[5] = 0x78 + 8 + 3 * PAGE + 1;
    spots[6] = first + 0x0a;
    spots[7] = first + 0x68 + 0x40 + 0x20;
    spots[8] = first + 0x68 + 0x40 + 0xa0 + 0x10;
    spots[9] = len - 4;
    for (int i = 0; i < 10; i++) {
        g_assert_cmpuint(load_mutated(&p, buf, len, spots[i], 0x01, 4096),
                         ==, MLU270_MIG_RES_EBADMSG);
    }

    /* Truncated: the commit refuses an incomplete stream. */
    scrubs = rd(b, &b->pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(stream_write(b, 0, buf, len - 1, 0, 65536), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_COMMIT), ==,
                     MLU270_MIG_RES_EBADMSG);
    assert_untouched(b, scrubs);
    /* Only the state blob (the pages blob missing): blob 1 is not 0. */
    scrubs = rd(b, &b->pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(stream_write(b, 0, buf + first, len - first, 0, 65536),
                     ==, MLU270_MIG_RES_EBADMSG);
    assert_untouched(b, scrubs);
    /* More bytes after the state blob. */
    scrubs = rd(b, &b->pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(stream_write(b, 0, buf, len, 0, 65536), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(stream_write(b, 0, buf, 16, len, 16), ==,
                     MLU270_MIG_RES_EBADMSG);
    assert_untouched(b, scrubs);
    /* A write that does not continue the stream is refused, load kept. */
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    mig_params(b, 0, buf, 16, 5, 0);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_WRITE), ==,
                     MLU270_MIG_RES_EINVAL);
    g_assert_true(mrd(b, 0, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_LOADING);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_ABORT), ==,
                     MLU270_MIG_RES_OK);

    /*
     * B partitioned otherwise: VF 1 has exactly A's VF 0's slice, VF 0 a
     * half. Loading into VF 1 differs only in the VF index, into VF 0 in
     * the slice: MISMATCH before anything is written, either way.
     */
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    vfs_disable(b);
    part_set(b, 1, 0xff00, 0xc, 0xc, 128, 128);
    part_set(b, 2, 0xf, 0x1, 0x1, 0, 64);
    vfs_enable(b, 2);
    g_assert_cmpuint(stream_load(b, 1, buf, len, 65536), ==,
                     MLU270_MIG_RES_MISMATCH);
    g_assert_cmpuint(stream_load(b, 0, buf, len, 65536), ==,
                     MLU270_MIG_RES_MISMATCH);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    /* VF 0 with A's VF 0's slice at another base: that is compatible. */
    vfs_disable(b);
    part_set(b, 1, 0xf, 0x1, 0x1, 128, 64);
    part_set(b, 2, 0xf0, 0x2, 0x2, 0, 64);
    vfs_enable(b, 2);

    /* A target that is not fresh, or not paused, refuses to begin. */
    wr(b, &b->vf[0], MLU270_REG_SCRATCH, 1);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_EBUSY);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_EBUSY);
    vfs_disable(b);
    vfs_enable(b, 2);

    /* The intact stream loads, with the later blob's page 1. */
    g_assert_cmpuint(stream_load(b, 0, buf, len, 65536), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmphex(rd(b, &b->vf[0], MLU270_REG_SCRATCH), ==, 0x77);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    wr(b, &b->vf[0], MLU270_REG_Q_CTRL, 0);
    q_setup(b, &b->vf[0]);
    {
        uint8_t want[3 * PAGE];

        memset(want, 0x42, sizeof(want));
        memset(want + PAGE, 0x44, PAGE);
        g_assert_cmpuint(slice_crc(b, &b->vf[0], 0, sizeof(want)), ==,
                         ref_crc32(want, sizeof(want)));
        memset(want, 0x43, 2 * PAGE);
        g_assert_cmpuint(slice_crc(b, &b->vf[0], 70 * PAGE, 2 * PAGE), ==,
                         ref_crc32(want, 2 * PAGE));
    }
    pair_free(p);
}

/*
 * Random damage to a valid stream (bit flips, bytes, truncation, random
 * chunk sizes), and random commands and parameters: the model never
 * crashes, and every damaged stream is refused with the target fresh.
 */
static void test_blob_fuzz(void)
{
    Pair p = pair_new(2);
    Ctx *a = p.a, *b = p.b;
    uint64_t buf = guest_alloc(a->alloc, 4 << 20);
    uint64_t first, len;
    uint32_t st = 12345;

    len = make_stream(a, buf, &first);
    for (int i = 0; i < 150; i++) {
        uint64_t at, cut;
        uint32_t chunk, r;

        st = st * 1103515245 + 12345;
        at = (st >> 4) % len;
        st = st * 1103515245 + 12345;
        chunk = 1 + (st >> 8) % 70000;
        st = st * 1103515245 + 12345;
        if (i % 3 == 0) {
            /* Truncated at a random point, committed. */
            uint32_t scrubs = rd(b, &b->pf, MLU270_PART_BASE(1) +
                                 MLU270_PART_SCRUBS);

            cut = at;
            g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_PAUSE), ==,
                             MLU270_MIG_RES_OK);
            g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                             MLU270_MIG_RES_OK);
            r = stream_write(b, 0, buf, cut, 0, chunk);
            if (r == MLU270_MIG_RES_OK) {
                r = mig_do(b, 0, MLU270_MIG_CMD_LOAD_COMMIT);
            }
            g_assert_cmpuint(r, ==, MLU270_MIG_RES_EBADMSG);
            assert_untouched(b, scrubs);
        } else {
            r = load_mutated(&p, buf, len, at, 1 + (st >> 24) % 255, chunk);
            g_assert_cmpuint(r, !=, MLU270_MIG_RES_OK);
        }
    }
    /* Random commands with random parameters on both cards' windows. */
    for (int i = 0; i < 400; i++) {
        Ctx *c = i % 2 ? a : b;
        int vf = (st >> 16) % 2;
        static const uint32_t cmds[] = {
            0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x21,
            0x22, 0x23, 0x30, 0x31, 0x32, 0x7f,
        };

        st = st * 1103515245 + 12345;
        mig_params(c, vf, (st & 1) ? buf + (st >> 12) % (2 << 20) :
                   (uint64_t)st << 20, (st >> 3) % (5 << 20),
                   (st >> 7) % 3 ? 0 : st >> 5, (st >> 9) % 40);
        st = st * 1103515245 + 12345;
        mig_do(c, vf, cmds[(st >> 16) % G_N_ELEMENTS(cmds)]);
    }
    g_assert_cmphex(rd(a, &a->pf, MLU270_REG_MAGIC), ==, MLU270_RESET_MAGIC);
    g_assert_cmphex(rd(b, &b->pf, MLU270_REG_MAGIC), ==, MLU270_RESET_MAGIC);
    pair_free(p);
}

/* ---- The whole card migrating in the middle ----------------------------- */

#define MACHINE "-machine q35 -nodefaults %s -device mlu270,addr=0x5.0" CARD_B

static void wait_migrated(QTestState *qts)
{
    for (int i = 0; i < 6000 && strcmp(migrate_status(qts), "completed");
         i++) {
        g_assert_cmpstr(migrate_status(qts), !=, "failed");
        g_usleep(10000);
    }
    g_assert_cmpstr(migrate_status(qts), ==, "completed");
}

/* Save the machine of @p to the file @path (the source stops). */
static void pair_save(Pair *p, const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);

    qtest_qmp_assert_success(p->a->qts, "{ 'execute': 'migrate',"
                             "  'arguments': { 'uri': %s } }", uri);
    wait_migrated(p->a->qts);
}

/*
 * Start a machine like @p's from the file @path; on success switch @p to
 * it (the old one is quit) and return true.
 */
static bool pair_load(Pair *p, const char *path)
{
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    QTestState *dst;
    const char *st;

    dst = qtest_initf(MACHINE " -incoming defer",
                      g_getenv("MLU270_QEMU_EXTRA_ARGS") ?: "");
    qtest_qmp_assert_success(dst, "{ 'execute': 'migrate-incoming',"
                             "  'arguments': { 'uri': %s,"
                             "                 'exit-on-error': false } }",
                             uri);
    for (int i = 0; i < 6000; i++) {
        st = migrate_status(dst);
        if (!strcmp(st, "failed") || !strcmp(st, "completed")) {
            break;
        }
        g_usleep(10000);
    }
    if (strcmp(migrate_status(dst), "completed")) {
        qtest_quit(dst);
        return false;
    }
    qpci_free_pc(p->a->bus);
    qtest_quit(p->a->qts);
    p->a->qts = p->b->qts = dst;
    p->a->bus = p->b->bus = qpci_new_pc(dst, p->a->alloc);
    return true;
}

/*
 * A VF's state as the whole machine would carry it, mid-way: A's VF 0
 * tracking, a pages blob half read and a SAVE_READ running, DMA logging
 * with a page logged; B's VF 0 half way through a run of the load.
 */
static uint64_t mid_way(Pair *p, uint64_t buf, uint64_t data)
{
    Ctx *a = p->a, *b = p->b;
    Fn *va = &a->vf[0];
    uint64_t ranges[2] = { data, 64 * PAGE };

    q_setup(a, va);
    for (int i = 0; i < 32; i++) {
        fill(a, va, (uint64_t)i * 3 * PAGE, PAGE, 0x30 + i);
    }
    log_ranges(a, buf, ranges, 1);
    mig_params(a, 0, buf, 16, 0, 12);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_DMA_LOG_START), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(run_status(a, va, (Job){ .opcode = MLU270_OP_DMA_D2H,
                     .src = 0, .dst = data + 3 * PAGE, .len = 16 }), ==,
                     MLU270_ST_OK);
    g_assert_cmpuint(mig_arg(a, 0, MLU270_MIG_CMD_TRACK_START, 5), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PRECOPY_ROUND), ==,
                     MLU270_MIG_RES_OK);
    mig_params(a, 0, buf, 5000, 0, 0);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_SAVE_READ), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(stream_write(b, 0, buf, 5000, 0, 5000), ==,
                     MLU270_MIG_RES_OK);
    /* The next read is running when the machine stops. */
    mig_params(a, 0, buf + 5000, mig_size(a, 0) - 5000, 5000, 0);
    mwr(a, 0, MLU270_MIG_CMD, MLU270_MIG_CMD_SAVE_READ);
    g_assert_true(mrd(a, 0, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_BUSY);
    return mig_size(a, 0);
}

/*
 * The whole machine migrates (QEMU's migration) in the middle of a VF's:
 * the running command, the half-read blob, the half-loaded run, tracking
 * and the DMA log all go on on the new machine, and the VF's migration
 * completes there with A's memory on B.
 */
static void test_card_migrates(void)
{
    Pair p = pair_new(1);
    g_autofree char *path = g_strdup_printf("%s/mlu270-vfmig-%d.mig",
                                            g_get_tmp_dir(), getpid());
    uint64_t buf = guest_alloc(p.a->alloc, 8 << 20);
    uint64_t data = QEMU_ALIGN_UP(guest_alloc(p.a->alloc, 1 << 20),
                                  64 * PAGE);
    uint64_t size, at, out = buf + (6 << 20);
    Ctx *a, *b;
    uint32_t done;

    size = mid_way(&p, buf, data);
    done = mrd(p.a, 0, MLU270_MIG_DONE);
    pair_save(&p, path);
    g_assert_true(pair_load(&p, path));
    unlink(path);
    a = p.a;
    b = p.b;

    /* The read that was running ends here, then the rest of the round. */
    g_assert_cmphex(mrd(a, 0, MLU270_MIG_STATUS), ==,
                    MLU270_MIG_STATUS_BUSY | MLU270_MIG_STATUS_TRACKING |
                    MLU270_MIG_STATUS_DMA_LOG | MLU270_MIG_STATUS_BLOB);
    while (mrd(a, 0, MLU270_MIG_DONE) == done) {
        qtest_clock_step_next(a->qts);
    }
    g_assert_cmpuint(mrd(a, 0, MLU270_MIG_RESULT), ==, MLU270_MIG_RES_OK);
    g_assert_false(mrd(a, 0, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_BLOB);
    g_assert_cmpuint(stream_write(b, 0, buf + 5000, size - 5000, 5000,
                                  65536), ==, MLU270_MIG_RES_OK);
    /* The page the DMA log had before is still reported. */
    g_assert_cmphex(log_report(a, 0, out, data, 64), ==, 1ULL << 3);

    /* Stop-copy and commit; B has A's memory. */
    fill(a, &a->vf[0], 7 * PAGE, PAGE, 0x99);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_SAVE_PREPARE), ==,
                     MLU270_MIG_RES_OK);
    at = size;
    size = blob_read(a, 0, buf + at, 1 << 20);
    g_assert_cmpuint(stream_write(b, 0, buf + at, size, at, 65536), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_COMMIT), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_RESUME), ==,
                     MLU270_MIG_RES_OK);
    wr(b, &b->vf[0], MLU270_REG_Q_CTRL, 0);
    q_setup(b, &b->vf[0]);
    g_assert_cmpuint(slice_crc(b, &b->vf[0], 0, 1 << 20), ==,
                     slice_crc(a, &a->vf[0], 0, 1 << 20));
    pair_free(p);
}

/*
 * A machine stream whose VF migration state the card could not have
 * reached is refused; the same stream unmodified loads.
 */
static void test_bad_streams_state(void)
{
    Pair p = pair_new(1);
    g_autofree char *path = g_strdup_printf("%s/mlu270-vfbad-%d.mig",
                                            g_get_tmp_dir(), getpid());
    uint64_t buf = guest_alloc(p.a->alloc, 8 << 20);
    uint64_t data = QEMU_ALIGN_UP(guest_alloc(p.a->alloc, 1 << 20),
                                  64 * PAGE);
    static const char name[] = "mlu270/vf-streams";
    /*
     * VF 0's fields, big-endian in the stream: the scalars, then (with one
     * word of DMA log bitmap here) the log ranges and the blob.
     */
    enum { CMD = 0, STREAM = 44, TRACKING = 64, LOADING = 68,
           LOG_NRANGES = 80, LOG_WORDS = 88, LOG_ITEMS = 92 + 8,
           BLOB = LOG_ITEMS + 3 * 16 * 8, BLOB_NPAGES = BLOB + 36,
           BLOB_PAGES = BLOB + 40 + 464 + 8,
           BLOB_RD_OFF = BLOB_PAGES + 8192, BLOB_RUN_POS = BLOB_RD_OFF + 20 };
    static const struct {
        int off, size;
        uint64_t value;
        const char *what;
    } bad[] = {
        { CMD, 4, 0x77, "an unknown command running" },
        { CMD, 4, MLU270_MIG_CMD_LOAD_WRITE, "a load write without a load" },
        { STREAM, 4, 2, "a flag that is not 0 or 1" },
        { STREAM, 4, 0, "tracking and a blob without a stream" },
        { LOADING, 4, 1, "a load and a stream at once" },
        { LOG_NRANGES, 4, 17, "17 DMA log ranges" },
        { LOG_WORDS, 4, 0x7fffffff, "a 16 GiB DMA log bitmap" },
        { TRACKING, 4, 3, "tracking 3" },
        { LOG_ITEMS + 128, 8, 0, "an empty DMA log range" },
        { BLOB_NPAGES, 4, 1 << 20, "a blob of more pages than its slice" },
        { BLOB_PAGES + 8191, 1, 0x80, "a blob page past the slice" },
        { BLOB_RD_OFF, 8, 1, "a read position off the cursor" },
        { BLOB_RUN_POS, 4, 9999, "a run position off the cursor" },
    };
    g_autofree gchar *stream = NULL;
    gsize len;
    uint8_t *at = NULL;

    mid_way(&p, buf, data);
    /* B's load is not part of this: drop it, so A's is the only section. */
    g_assert_cmpuint(mig_do(p.b, 0, MLU270_MIG_CMD_LOAD_ABORT), ==,
                     MLU270_MIG_RES_OK);
    pair_save(&p, path);
    g_assert_true(g_file_get_contents(path, &stream, &len, NULL));
    for (gsize i = 1; i + sizeof(name) + 4 + 128 <= len; i++) {
        if (stream[i - 1] == sizeof(name) - 1 &&
            !memcmp(stream + i, name, sizeof(name) - 1)) {
            g_assert_null(at);
            at = (uint8_t *)stream + i + sizeof(name) - 1 + 4;
        }
    }
    g_assert_nonnull(at);
    g_assert_cmpuint(ldl_be_p(at + CMD), ==, MLU270_MIG_CMD_SAVE_READ);
    g_assert_cmpuint(ldl_be_p(at + STREAM), ==, 1);
    g_assert_cmpuint(ldl_be_p(at + LOG_NRANGES), ==, 1);
    g_assert_cmpuint(ldl_be_p(at + LOG_WORDS), ==, 1);
    g_assert_cmpuint(ldl_be_p(at + BLOB), ==, MLU270_BLOB_KIND_PAGES);
    g_assert_cmpuint(ldl_be_p(at + BLOB_NPAGES), ==, QUARTER / PAGE);
    g_assert_cmpuint(ldq_be_p(at + BLOB_RD_OFF), ==, 5000);

    for (int k = 0; k < ARRAY_SIZE(bad); k++) {
        uint8_t *f = at + bad[k].off;
        uint8_t saved[8];

        memcpy(saved, f, bad[k].size);
        if (bad[k].size == 8) {
            stq_be_p(f, bad[k].value);
        } else if (bad[k].size == 4) {
            stl_be_p(f, bad[k].value);
        } else {
            *f = bad[k].value;
        }
        g_assert_true(g_file_set_contents(path, stream, len, NULL));
        if (g_test_verbose()) {
            g_test_message("%s", bad[k].what);
        }
        g_assert_false(pair_load(&p, path));
        memcpy(f, saved, bad[k].size);
    }
    /* As saved: it loads (the offsets above are the right ones). */
    g_assert_true(g_file_set_contents(path, stream, len, NULL));
    g_assert_true(pair_load(&p, path));
    unlink(path);
    pair_free(p);
}

static void flr(Ctx *c, Fn *f)
{
    cfg_writew(c, f->devfn, find_cap(c, f->devfn, PCI_CAP_ID_EXP) +
               PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR);
    cfg_writew(c, f->devfn, PCI_COMMAND,
               PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/*
 * A reset of the VF ends its migration in any phase: a running SAVE_READ
 * ends with CANCELED and writes nothing more, the stream and its blob are
 * gone; a load half way is dropped and the slice zeroed.
 */
static void test_reset_cancels(void)
{
    Pair p = pair_new(1);
    Ctx *a = p.a, *b = p.b;
    Fn *va = &a->vf[0], *vb = &b->vf[0];
    uint64_t buf = guest_alloc(a->alloc, 4 << 20);
    uint8_t zero[PAGE] = { 0 };
    uint32_t done, scrubs;

    q_setup(a, va);
    fill(a, va, 0, 1 << 20, 0x61);
    g_assert_cmpuint(mig_arg(a, 0, MLU270_MIG_CMD_TRACK_START, 1), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_PRECOPY_ROUND), ==,
                     MLU270_MIG_RES_OK);
    /* The first 5000 bytes go to B, whose load is then mid-run. */
    mig_params(a, 0, buf, 5000, 0, 0);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_SAVE_READ), ==,
                     MLU270_MIG_RES_OK);
    qtest_memset(a->qts, buf + 5000, 0xee, 1 << 20);
    mig_params(a, 0, buf + 5000, mig_size(a, 0) - 5000, 5000, 0);
    done = mrd(a, 0, MLU270_MIG_DONE);
    mwr(a, 0, MLU270_MIG_CMD, MLU270_MIG_CMD_SAVE_READ);
    g_assert_true(mrd(a, 0, MLU270_MIG_STATUS) & MLU270_MIG_STATUS_BUSY);
    flr(a, va);
    g_assert_cmpuint(mrd(a, 0, MLU270_MIG_DONE), ==, done + 1);
    g_assert_cmpuint(mrd(a, 0, MLU270_MIG_RESULT), ==,
                     MLU270_MIG_RES_CANCELED);
    g_assert_cmphex(mrd(a, 0, MLU270_MIG_STATUS), ==, 0);
    g_assert_true(rd(a, &a->pf, MLU270_REG_INT_STATUS) & MLU270_INT_MIG_DONE);
    /* Nothing more was written, and the blob is gone. */
    qtest_clock_step(a->qts, 10 * 1000 * 1000);
    g_assert_cmphex(qtest_readb(a->qts, buf + 5000), ==, 0xee);
    g_assert_cmphex(qtest_readb(a->qts, buf + mig_size(a, 0) - 1), ==, 0xee);
    mig_params(a, 0, buf + 5000, 4096, 5000, 0);
    g_assert_cmpuint(mig_do(a, 0, MLU270_MIG_CMD_SAVE_READ), ==,
                     MLU270_MIG_RES_EINVAL);

    /* B: a load half way, then an FLR. */
    scrubs = rd(b, &b->pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_LOAD_BEGIN), ==,
                     MLU270_MIG_RES_OK);
    g_assert_cmpuint(stream_write(b, 0, buf, 5000, 0, 5000), ==,
                     MLU270_MIG_RES_OK);
    flr(b, vb);
    g_assert_cmphex(mrd(b, 0, MLU270_MIG_STATUS), ==, 0);
    g_assert_cmpuint(rd(b, &b->pf, MLU270_PART_BASE(1) + MLU270_PART_SCRUBS),
                     ==, scrubs + 1);
    q_setup(b, vb);
    g_assert_cmpuint(slice_crc(b, vb, 0, PAGE), ==, ref_crc32(zero, PAGE));

    /*
     * A deferred VF_RESET of a paused VF (its guest cannot acknowledge,
     * the deadline would fire during the pause): the reset is at once.
     */
    g_assert_cmpuint(mig_do(b, 0, MLU270_MIG_CMD_PAUSE), ==,
                     MLU270_MIG_RES_OK);
    wr(b, &b->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_PF_MSG, 0x1234);
    wr(b, &b->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_DOORBELL, 1);
    wr(b, &b->pf, MLU270_REG_VF_EVENT, 1);
    wr(b, &b->pf, MLU270_PFVF_BASE(0) + MLU270_PFVF_VF_RESET,
       MLU270_VF_RESET_NOW | MLU270_VF_RESET_ON_ACK);
    g_assert_cmphex(mrd(b, 0, MLU270_MIG_STATUS), ==, 0);
    g_assert_cmphex(rd(b, &b->pf, MLU270_REG_VF_EVENT), ==, 1);
    g_assert_cmphex(rd(b, vb, MLU270_REG_MB_STATUS), ==, 0);
    pair_free(p);
}

void mlu270_mig_tests_add(void)
{
    qtest_add_func("/mlu270/vf-migration/save-load", test_save_load);
    qtest_add_func("/mlu270/vf-migration/precopy", test_precopy);
    qtest_add_func("/mlu270/vf-migration/save-load-time",
                   test_save_load_time);
    qtest_add_func("/mlu270/vf-migration/dma-log", test_dma_log);
    qtest_add_func("/mlu270/vf-migration/bad-blobs", test_bad_blobs);
    qtest_add_func("/mlu270/vf-migration/fuzz", test_blob_fuzz);
    qtest_add_func("/mlu270/vf-migration/card-migrates", test_card_migrates);
    qtest_add_func("/mlu270/vf-migration/reset-cancels", test_reset_cancels);
    qtest_add_func("/mlu270/vf-migration/bad-card-stream",
                   test_bad_streams_state);
}
