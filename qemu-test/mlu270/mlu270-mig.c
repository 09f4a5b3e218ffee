/*
 * Emulated MLU270: a VF's live migration to another card, through the
 * PF-only migration windows (Documentation/accel/mlu270/migration.rst):
 * pause and resume, blobs of a VF's state and device memory saved and
 * loaded through the PF's DMA, pre-copy tracking of written pages, and
 * logging of the pages the VF's DMA wrote.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "mlu270-internal.h"

/* ---- Pause and resume --------------------------------------------------- */


/* The VF's message is the PF's to read (not held by a migration pause). */
bool mlu270_vf_msg_pending(Mlu270Func *f)
{
    return f->vf_busy && !f->mb_held;
}

static void mlu270_mig_pause(Mlu270Func *f)
{
    if (f->mig_paused) {
        return;
    }
    f->mig_paused = 1;
    if (f->busy) {
        /* Checkpoint: the job has had no effect yet; freeze its clock. */
        int64_t left = timer_pending(f->timer) ?
            timer_expire_time_ns(f->timer) -
            qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) : 0;

        f->job_left = MAX(left, 0);
        timer_del(f->timer);
    }
}

static void mlu270_mig_resume(Mlu270State *s, Mlu270Func *f)
{
    uint32_t epoch = f->epoch;
    uint32_t held;

    if (!f->mig_paused) {
        return;
    }
    f->mig_paused = 0;
    if (f->busy) {
        timer_mod_ns(f->timer,
                     qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + f->job_left);
    }
    f->job_left = 0;
    if (f->q_ctrl_held) {
        held = f->q_ctrl_held & MLU270_Q_CTRL_ENABLE;
        f->q_ctrl_held = 0;
        mlu270_q_ctrl_write(s, f, held);
    }
    /* The mailbox, then the VF's own messages, in the order they came. */
    f->mb_held = 0;
    held = f->pf_int_held;
    f->pf_int_held = 0;
    if (held) {
        mlu270_raise(s, 0, held);
    }
    held = f->int_held & f->int_status;
    f->int_held = 0;
    if (held && f->epoch == epoch) {
        mlu270_raise(s, f->index, held);
    }
    if (f->epoch == epoch) {
        mlu270_q_kick(s, f);
    }
}

/* ---- Slices and pages --------------------------------------------------- */

/*
 * VF @vf's slice and its number of 4 KiB pages; 0 pages when the slice
 * cannot migrate (empty, or larger than a blob can carry).
 */
static uint32_t mig_slice_pages(Mlu270State *s, unsigned vf, Mlu270Slice *sl)
{
    *sl = mlu270_slice(s, vf + 1);
    if (!sl->size || sl->size > MLU270_MIG_MAX_SLICE_MB * MiB) {
        return 0;
    }
    return sl->size / MLU270_PAGE;
}

/* @map := the pages of the slice that hold something else than zeroes. */
static void mig_content_pages(Mlu270State *s, const Mlu270Slice *sl,
                              uint64_t *map)
{
    uint8_t *mem = mlu270_mem(s);

    memset(map, 0, MLU270_MIG_PAGE_WORDS * sizeof(uint64_t));
    for (uint64_t c = sl->base / MLU270_CHUNK;
         c < (sl->base + sl->size) / MLU270_CHUNK; c++) {
        if (!test_bit(c, s->written)) {
            continue;       /* zeroed since it was last written */
        }
        for (uint64_t a = c * MLU270_CHUNK; a < (c + 1) * MLU270_CHUNK;
             a += MLU270_PAGE) {
            if (!buffer_is_zero(mem + a, MLU270_PAGE)) {
                mlu270_pages_set(map, (a - sl->base) / MLU270_PAGE,
                                 (a - sl->base) / MLU270_PAGE + 1);
            }
        }
    }
}

/*
 * @map := the slice's pages written since tracking last took them; @take
 * also clears them (a round took them). Slices are MiB-aligned, so the
 * slice's bits start on a word of pages_written.
 */
static void mig_written_pages(Mlu270State *s, const Mlu270Slice *sl,
                              uint64_t *map, bool take)
{
    uint64_t *w = s->pages_written + sl->base / MLU270_PAGE / 64;
    uint64_t words = sl->size / MLU270_PAGE / 64;

    memset(map, 0, MLU270_MIG_PAGE_WORDS * sizeof(uint64_t));
    for (uint64_t i = 0; i < words; i++) {
        map[i] = w[i];
        if (take) {
            w[i] = 0;
        }
    }
}

/*
 * The next run of set pages at or after @from (at most
 * MLU270_RUN_MAX_PAGES long); false if there is none.
 */
static bool mig_next_run(const uint64_t *map, uint32_t npages, uint32_t from,
                         uint32_t *start, uint32_t *count)
{
    uint32_t p = from, n = 0;

    while (p < npages && !mlu270_page_test(map, p)) {
        p = (p % 64 == 0 && !map[p / 64]) ? p + 64 : p + 1;
    }
    if (p >= npages) {
        return false;
    }
    while (p + n < npages && n < MLU270_RUN_MAX_PAGES &&
           mlu270_page_test(map, p + n)) {
        n++;
    }
    *start = p;
    *count = n;
    return true;
}

/* Bytes of a PAGES section that carries the pages set in @map. */
static uint64_t mig_pages_len(const uint64_t *map, uint32_t npages)
{
    uint32_t p = 0, start, count;
    uint64_t len = 0;

    while (mig_next_run(map, npages, p, &start, &count)) {
        len += MLU270_RUN_HDR_SIZE + (uint64_t)count * MLU270_PAGE + 4;
        p = start + count;
    }
    return len;
}

static uint64_t mig_blob_len(uint32_t kind, uint64_t pages_len)
{
    if (kind == MLU270_BLOB_KIND_PAGES) {
        return MLU270_BLOB_HDR_SIZE + 2 * MLU270_BLOB_SECT_SIZE +
               MLU270_SECT_DESCRIPTOR_SIZE + pages_len;
    }
    return MLU270_BLOB_PREFIX_MAX + pages_len + MLU270_SECT_END_SIZE;
}

/* ---- Building a blob ---------------------------------------------------- */

static uint32_t mig_caps(void)
{
    return MLU270_NUM_IPU | MLU270_NUM_VPU << 8 | MLU270_NUM_JPU << 16;
}

static uint8_t mig_revision(Mlu270State *s)
{
    return PCI_DEVICE(s)->config[PCI_REVISION_ID];
}

static void mig_put_desc(Mlu270State *s, unsigned vf, uint8_t *d,
                         uint32_t number)
{
    Mlu270Mig *m = &s->mig[vf];
    Mlu270Func *f = &s->fn[vf + 1];
    Mlu270PartEntry *e = &s->part[vf + 1];

    memset(d, 0, MLU270_SECT_DESCRIPTOR_SIZE);
    stw_le_p(d + 0x00, MLU270_PF_DEVICE_ID);
    d[0x02] = mig_revision(s);
    stl_le_p(d + 0x04, MLU270_BLOB_IFACE_VERSION);
    stl_le_p(d + 0x08, vf);
    stl_le_p(d + 0x0c, e->ipu_mask);
    stl_le_p(d + 0x10, e->vpu_mask);
    stl_le_p(d + 0x14, e->jpu_mask);
    stl_le_p(d + 0x18, e->mem_size_mb);
    stl_le_p(d + 0x1c, mig_caps());
    stq_le_p(d + 0x20, m->stream_id);
    stl_le_p(d + 0x28, number);
    stl_le_p(d + 0x2c, m->word);
    stl_le_p(d + 0x30, f->fault_count);
    stl_le_p(d + 0x34, f->fault_code);
    stq_le_p(d + 0x38, f->fault_addr);
}

static void mig_put_regs(Mlu270Func *f, uint8_t *r)
{
    memset(r, 0, MLU270_SECT_REGISTERS_SIZE);
    stl_le_p(r + 0x00, f->scratch);
    stl_le_p(r + 0x04, f->misuse);
    stl_le_p(r + 0x08, f->int_status);
    stl_le_p(r + 0x0c, f->int_enable);
    stq_le_p(r + 0x10, f->q_base);
    stq_le_p(r + 0x18, f->cq_base);
    stl_le_p(r + 0x20, f->q_size);
    stl_le_p(r + 0x24, f->q_head);
    stl_le_p(r + 0x28, f->q_tail);
    stl_le_p(r + 0x2c, (f->q_enabled ? MLU270_Q_STATUS_ENABLED : 0) |
                       (f->busy ? MLU270_Q_STATUS_BUSY : 0) |
                       (f->q_stopped ? MLU270_Q_STATUS_STOPPED : 0));
    stl_le_p(r + 0x30, f->q_error);
    stl_le_p(r + 0x34, f->q_done);
    stl_le_p(r + 0x38, f->q_ctrl_held);
    stl_le_p(r + 0x3c, f->int_held);
    if (f->busy) {
        stq_le_p(r + 0x40, f->job_left);
        stq_le_p(r + 0x48, f->job_cost);
        memcpy(r + 0x60, f->desc, MLU270_DESC_SIZE);
    }
}

static void mig_put_mbox(Mlu270Func *f, uint8_t *mb)
{
    memset(mb, 0, MLU270_SECT_MAILBOX_SIZE);
    for (unsigned i = 0; i < MLU270_MB_WORDS; i++) {
        stl_le_p(mb + i * 4, f->vf_msg[i]);
        stl_le_p(mb + MLU270_MB_MSG_SIZE + i * 4, f->pf_msg[i]);
    }
    stl_le_p(mb + 0x80, (f->vf_busy ? MLU270_MB_FLAG_OUT_BUSY : 0) |
                        (mlu270_vf_msg_pending(f) ? MLU270_MB_FLAG_PF_TOLD : 0) |
                        (f->pf_busy ? MLU270_MB_FLAG_IN_VALID : 0));
}

static void mig_put_sect(uint8_t *table, unsigned i, uint32_t type,
                         uint64_t off, uint64_t len, uint32_t crc)
{
    uint8_t *e = table + MLU270_BLOB_HDR_SIZE + i * MLU270_BLOB_SECT_SIZE;

    stl_le_p(e + 0, type);
    stl_le_p(e + 4, off);
    stl_le_p(e + 8, len);
    stl_le_p(e + 12, crc);
}

/* CRC of a blob's header (bytes 0x00..0x13) and its section table. */
static uint32_t mig_table_crc(const uint8_t *table, uint32_t nsect)
{
    uint32_t crc = mlu270_crc32_update(0, table, 0x14);

    return mlu270_crc32_update(crc, table + MLU270_BLOB_HDR_SIZE,
                               nsect * MLU270_BLOB_SECT_SIZE);
}

/*
 * Build VF @vf's next blob of @kind over the pages set in blob.pages: the
 * fixed parts now, the pages when they are read. Sets MIG_SIZE.
 */
static void mig_build(Mlu270State *s, unsigned vf, uint32_t kind,
                      const Mlu270Slice *sl)
{
    Mlu270Mig *m = &s->mig[vf];
    Mlu270Func *f = &s->fn[vf + 1];
    Mlu270MigBlob *b = &m->blob;
    uint32_t nsect = kind == MLU270_BLOB_KIND_STATE ? 5 : 2;
    uint32_t off = MLU270_BLOB_HDR_SIZE + nsect * MLU270_BLOB_SECT_SIZE;
    uint8_t *p = b->prefix;
    unsigned i = 0;

    b->kind = kind;
    b->base = sl->base;
    b->npages = sl->size / MLU270_PAGE;
    b->pages_len = mig_pages_len(b->pages, b->npages);
    memset(p, 0, sizeof(b->prefix));

    mig_put_desc(s, vf, p + off, m->blob_no++);
    mig_put_sect(p, i++, MLU270_SECT_DESCRIPTOR, off,
                 MLU270_SECT_DESCRIPTOR_SIZE,
                 mlu270_crc32_update(0, p + off,
                                     MLU270_SECT_DESCRIPTOR_SIZE));
    off += MLU270_SECT_DESCRIPTOR_SIZE;
    if (kind == MLU270_BLOB_KIND_STATE) {
        mig_put_regs(f, p + off);
        mig_put_sect(p, i++, MLU270_SECT_REGISTERS, off,
                     MLU270_SECT_REGISTERS_SIZE,
                     mlu270_crc32_update(0, p + off,
                                         MLU270_SECT_REGISTERS_SIZE));
        off += MLU270_SECT_REGISTERS_SIZE;
        mig_put_mbox(f, p + off);
        mig_put_sect(p, i++, MLU270_SECT_MAILBOX, off,
                     MLU270_SECT_MAILBOX_SIZE,
                     mlu270_crc32_update(0, p + off,
                                         MLU270_SECT_MAILBOX_SIZE));
        off += MLU270_SECT_MAILBOX_SIZE;
    }
    b->prefix_len = off;
    mig_put_sect(p, i++, MLU270_SECT_PAGES, off, b->pages_len, 0);
    b->suffix_len = 0;
    if (kind == MLU270_BLOB_KIND_STATE) {
        memset(b->suffix, 0, sizeof(b->suffix));
        stl_le_p(b->suffix, m->blob_no);
        b->suffix_len = MLU270_SECT_END_SIZE;
        mig_put_sect(p, i++, MLU270_SECT_END, off + b->pages_len,
                     MLU270_SECT_END_SIZE,
                     mlu270_crc32_update(0, b->suffix, b->suffix_len));
    }
    b->total = b->prefix_len + b->pages_len + b->suffix_len;
    assert(b->total == mig_blob_len(kind, b->pages_len));

    stl_le_p(p + 0x00, MLU270_BLOB_MAGIC);
    stw_le_p(p + 0x04, MLU270_BLOB_VERSION);
    stw_le_p(p + 0x06, kind);
    stq_le_p(p + 0x08, b->total);
    stl_le_p(p + 0x10, nsect);
    stl_le_p(p + 0x14, mig_table_crc(p, nsect));

    b->rd_off = 0;
    b->rd_next_page = 0;
    b->run_start = b->run_count = b->run_pos = b->run_crc = 0;
    m->size = b->total;
}

/* Copy the next @len bytes of the built blob to @out. */
static void mig_emit(Mlu270State *s, unsigned vf, uint8_t *out, uint64_t len)
{
    Mlu270MigBlob *b = &s->mig[vf].blob;
    uint64_t pages_end = b->prefix_len + b->pages_len;
    uint8_t *mem = mlu270_mem(s);

    while (len) {
        uint64_t n;

        if (b->rd_off < b->prefix_len) {
            n = MIN(len, b->prefix_len - b->rd_off);
            memcpy(out, b->prefix + b->rd_off, n);
        } else if (b->rd_off < pages_end) {
            uint64_t data = (uint64_t)b->run_count * MLU270_PAGE;
            uint8_t tmp[MLU270_RUN_HDR_SIZE];

            if (!b->run_count) {
                if (!mig_next_run(b->pages, b->npages, b->rd_next_page,
                                  &b->run_start, &b->run_count)) {
                    /* (cannot happen: pages_len counted these runs) */
                    memset(out, 0, len);
                    b->rd_off += len;
                    return;
                }
                b->run_pos = 0;
                b->run_crc = 0;
                continue;
            }
            if (b->run_pos < MLU270_RUN_HDR_SIZE) {
                stl_le_p(tmp, b->run_start);
                stl_le_p(tmp + 4, b->run_count);
                n = MIN(len, MLU270_RUN_HDR_SIZE - b->run_pos);
                memcpy(out, tmp + b->run_pos, n);
                b->run_crc = mlu270_crc32_update(b->run_crc, out, n);
            } else if (b->run_pos < MLU270_RUN_HDR_SIZE + data) {
                uint64_t at = b->base +
                              (uint64_t)b->run_start * MLU270_PAGE +
                              b->run_pos - MLU270_RUN_HDR_SIZE;

                n = MIN(len, MLU270_RUN_HDR_SIZE + data - b->run_pos);
                if (at + n <= s->mem_size) {
                    memcpy(out, mem + at, n);
                } else {
                    memset(out, 0, n);  /* (the slice changed: no) */
                }
                b->run_crc = mlu270_crc32_update(b->run_crc, out, n);
            } else {
                uint64_t at = b->run_pos - MLU270_RUN_HDR_SIZE - data;

                stl_le_p(tmp, b->run_crc);
                n = MIN(len, 4 - at);
                memcpy(out, tmp + at, n);
            }
            b->run_pos += n;
            if (b->run_pos == MLU270_RUN_HDR_SIZE + data + 4) {
                b->rd_next_page = b->run_start + b->run_count;
                b->run_count = 0;
            }
        } else {
            n = MIN(len, b->total - b->rd_off);
            memcpy(out, b->suffix + (b->rd_off - pages_end), n);
        }
        out += n;
        len -= n;
        b->rd_off += n;
    }
}

/* ---- Streams ------------------------------------------------------------ */

static void mig_stream_open(Mlu270Mig *m, uint32_t word)
{
    m->stream = 1;
    m->stream_id = (uint64_t)g_random_int() << 32 | g_random_int();
    m->blob_no = 0;
    m->word = word;
}

/* Ends the stream: its ID, tracking and a built blob go. */
static void mig_stream_end(Mlu270Mig *m)
{
    m->stream = 0;
    m->stream_id = 0;
    m->blob_no = 0;
    m->word = 0;
    m->tracking = 0;
    memset(&m->blob, 0, sizeof(m->blob));
}

/* ---- Loading ------------------------------------------------------------ */

/* Nothing has run on VF @vf since its reset, and its slice is empty. */
static bool mig_vf_fresh(Mlu270State *s, unsigned vf, const Mlu270Slice *sl)
{
    Mlu270Func *f = &s->fn[vf + 1];

    if (f->scratch || f->misuse || f->int_status || f->int_enable ||
        f->q_base || f->cq_base || f->q_size || f->q_head || f->q_tail ||
        f->q_enabled || f->q_stopped || f->q_error || f->q_done ||
        f->busy || f->vf_busy || f->pf_busy || f->reset_armed ||
        f->q_ctrl_held || f->int_held || f->pf_int_held || f->mb_held) {
        return false;
    }
    for (uint64_t c = sl->base / MLU270_CHUNK;
         c < (sl->base + sl->size) / MLU270_CHUNK; c++) {
        if (test_bit(c, s->written) &&
            !buffer_is_zero(mlu270_mem(s) + c * MLU270_CHUNK,
                            MLU270_CHUNK)) {
            return false;
        }
    }
    return true;
}

/*
 * A load failed or was dropped: the VF is fresh again. Its registers were
 * not touched (LOAD_COMMIT applies them all or none); the pages the load
 * wrote are zeroed like at a reset, and counted as a scrub.
 */
static void mig_load_drop(Mlu270State *s, unsigned vf)
{
    Mlu270Mig *m = &s->mig[vf];
    Mlu270PartEntry *e = &s->part[vf + 1];

    m->loading = 0;
    memset(&m->load, 0, sizeof(m->load));
    mlu270_mem_zero(s, (uint64_t)e->mem_base_mb * MiB,
                    (uint64_t)e->mem_size_mb * MiB);
    e->scrubs++;
}

static uint32_t G_GNUC_PRINTF(3, 4) mig_bad(Mlu270State *s, unsigned vf,
                                            const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qemu_log_mask(LOG_GUEST_ERROR, "mlu270: VF %u: migration stream "
                  "refused: %s\n", vf, msg);
    return MLU270_MIG_RES_EBADMSG;
}

/* What is wrong with the header of the blob being received, or NULL. */
static const char *mig_header_invalid(const Mlu270MigLoad *l)
{
    if (ldl_le_p(l->table) != MLU270_BLOB_MAGIC ||
        lduw_le_p(l->table + 0x04) != MLU270_BLOB_VERSION) {
        return "magic or version";
    }
    if (l->kind != lduw_le_p(l->table + 0x06) ||
        l->total != ldq_le_p(l->table + 0x08) ||
        l->nsect != ldl_le_p(l->table + 0x10) ||
        ((l->kind != MLU270_BLOB_KIND_STATE || l->nsect != 5) &&
         (l->kind != MLU270_BLOB_KIND_PAGES || l->nsect != 2))) {
        return "kind or number of sections";
    }
    if (l->total > MLU270_BLOB_MAX_TOTAL) {
        return "length";
    }
    return NULL;
}

/*
 * What is wrong with the section table of the blob being received (its
 * header is valid), or NULL.
 */
static const char *mig_table_invalid(const Mlu270MigLoad *l)
{
    static const uint32_t state_types[] = {
        MLU270_SECT_DESCRIPTOR, MLU270_SECT_REGISTERS, MLU270_SECT_MAILBOX,
        MLU270_SECT_PAGES, MLU270_SECT_END,
    };
    static const uint32_t pages_types[] = {
        MLU270_SECT_DESCRIPTOR, MLU270_SECT_PAGES,
    };
    const uint32_t *types = l->kind == MLU270_BLOB_KIND_STATE ?
                            state_types : pages_types;
    uint64_t off = MLU270_BLOB_HDR_SIZE +
                   l->nsect * MLU270_BLOB_SECT_SIZE;

    if (mig_table_crc(l->table, l->nsect) != ldl_le_p(l->table + 0x14)) {
        return "header CRC";
    }
    for (uint32_t i = 0; i < l->nsect; i++) {
        const uint8_t *e = l->table + MLU270_BLOB_HDR_SIZE +
                           i * MLU270_BLOB_SECT_SIZE;
        uint32_t type = ldl_le_p(e), len = ldl_le_p(e + 8);
        uint32_t want = 0;

        if (type != types[i]) {
            return "section types or order";
        }
        if (ldl_le_p(e + 4) != off) {
            return "a section not where the previous one ends";
        }
        switch (type) {
        case MLU270_SECT_DESCRIPTOR:
            want = MLU270_SECT_DESCRIPTOR_SIZE;
            break;
        case MLU270_SECT_REGISTERS:
            want = MLU270_SECT_REGISTERS_SIZE;
            break;
        case MLU270_SECT_MAILBOX:
            want = MLU270_SECT_MAILBOX_SIZE;
            break;
        case MLU270_SECT_END:
            want = MLU270_SECT_END_SIZE;
            break;
        case MLU270_SECT_PAGES:
            if (ldl_le_p(e + 12)) {
                return "a PAGES section with a CRC";
            }
            want = len;
            break;
        }
        if (len != want) {
            return "a section's length";
        }
        off += len;
    }
    if (off != l->total) {
        return "sections that do not end where the blob does";
    }
    return NULL;
}

/* Header and section table of the blob being received. */
static uint32_t mig_load_table(Mlu270State *s, unsigned vf)
{
    Mlu270MigLoad *l = &s->mig[vf].load;
    const char *why = mig_table_invalid(l);

    if (why) {
        return mig_bad(s, vf, "%s", why);
    }
    memset(l->seen, 0, sizeof(l->seen));
    l->sect = 0;
    return MLU270_MIG_RES_OK;
}

/* The first blob's descriptor against the VF it is loaded into. */
static uint32_t mig_load_compatible(Mlu270State *s, unsigned vf,
                                    const uint8_t *d)
{
    Mlu270PartEntry *e = &s->part[vf + 1];
    const char *what = NULL;

    if (lduw_le_p(d) != MLU270_PF_DEVICE_ID || d[2] != mig_revision(s)) {
        what = "device or revision";
    } else if (ldl_le_p(d + 0x04) != MLU270_BLOB_IFACE_VERSION) {
        what = "interface version";
    } else if (ldl_le_p(d + 0x08) != vf) {
        what = "VF index";
    } else if (ldl_le_p(d + 0x0c) != e->ipu_mask ||
               ldl_le_p(d + 0x10) != e->vpu_mask ||
               ldl_le_p(d + 0x14) != e->jpu_mask ||
               ldl_le_p(d + 0x18) != e->mem_size_mb) {
        what = "slice";
    } else if (ldl_le_p(d + 0x1c) != mig_caps()) {
        what = "card capabilities";
    }
    if (what) {
        qemu_log_mask(LOG_GUEST_ERROR, "mlu270: VF %u: migration stream "
                      "of VF %u refused: %s differ\n", vf,
                      ldl_le_p(d + 0x08), what);
        return MLU270_MIG_RES_MISMATCH;
    }
    return MLU270_MIG_RES_OK;
}

/* A fixed section, complete in sect_buf. */
static uint32_t mig_load_fixed(Mlu270State *s, unsigned vf, uint32_t type,
                               uint32_t len, uint32_t crc)
{
    Mlu270MigLoad *l = &s->mig[vf].load;
    const uint8_t *d = l->sect_buf;
    uint32_t r;

    if (mlu270_crc32_update(0, d, len) != crc) {
        return mig_bad(s, vf, "CRC of section type %u", type);
    }
    switch (type) {
    case MLU270_SECT_DESCRIPTOR:
        if (d[3] || ldl_le_p(d + 0x1c) & 0xff000000) {
            return mig_bad(s, vf, "descriptor reserved bits");
        }
        if (ldl_le_p(d + 0x34) > MLU270_ST_BAD_QUEUE ||
            (!ldl_le_p(d + 0x30) && (ldl_le_p(d + 0x34) ||
                                     ldq_le_p(d + 0x38)))) {
            return mig_bad(s, vf, "fault record");
        }
        if (ldl_le_p(d + 0x28) != l->blobs) {
            return mig_bad(s, vf, "blob %u where %u was due",
                           ldl_le_p(d + 0x28), l->blobs);
        }
        if (!l->blobs) {
            r = mig_load_compatible(s, vf, d);
            if (r != MLU270_MIG_RES_OK) {
                return r;
            }
            memcpy(l->first_desc, d, len);
        } else if (memcmp(d, l->first_desc, 0x28) ||
                   memcmp(d + 0x2c, l->first_desc + 0x2c, 4)) {
            /*
             * The number counts up, and the fault record (0x30..0x3f) is
             * the source's as each blob was built: the guest may fault
             * between two rounds.
             */
            return mig_bad(s, vf, "blob %u of another stream", l->blobs);
        }
        break;
    case MLU270_SECT_REGISTERS:
        memcpy(l->regs, d, len);
        break;
    case MLU270_SECT_MAILBOX:
        if (ldl_le_p(d + 0x80) & ~(MLU270_MB_FLAG_OUT_BUSY |
                                   MLU270_MB_FLAG_PF_TOLD |
                                   MLU270_MB_FLAG_IN_VALID) ||
            ldl_le_p(d + 0x84)) {
            return mig_bad(s, vf, "mailbox flags");
        }
        memcpy(l->mbox, d, len);
        break;
    case MLU270_SECT_END:
        if (ldl_le_p(d) != l->blobs + 1 || ldl_le_p(d + 4)) {
            return mig_bad(s, vf, "END counts %u blobs of %u", ldl_le_p(d),
                           l->blobs + 1);
        }
        break;
    }
    return MLU270_MIG_RES_OK;
}

/*
 * Take bytes of a PAGES section (at most up to its end): runs, written
 * into the slice as they come. A bad CRC fails the whole load, which
 * zeroes the slice again, so a page is never left half-applied.
 */
static uint32_t mig_load_pages(Mlu270State *s, unsigned vf,
                               const uint8_t *p, uint64_t len)
{
    Mlu270MigLoad *l = &s->mig[vf].load;
    Mlu270Slice sl;
    uint32_t npages = mig_slice_pages(s, vf, &sl);

    while (len) {
        uint64_t data = (uint64_t)l->run_count * MLU270_PAGE;
        uint64_t n;

        if (l->run_pos < MLU270_RUN_HDR_SIZE) {
            n = MIN(len, MLU270_RUN_HDR_SIZE - l->run_pos);
            memcpy(l->run_hdr + l->run_pos, p, n);
            l->run_pos += n;
            if (l->run_pos == MLU270_RUN_HDR_SIZE) {
                l->run_start = ldl_le_p(l->run_hdr);
                l->run_count = ldl_le_p(l->run_hdr + 4);
                if (!l->run_count || l->run_count > MLU270_RUN_MAX_PAGES ||
                    l->run_start >= npages ||
                    l->run_count > npages - l->run_start) {
                    return mig_bad(s, vf, "run of %u pages at page %u",
                                   l->run_count, l->run_start);
                }
                for (uint32_t i = 0; i < l->run_count; i++) {
                    if (mlu270_page_test(l->seen, l->run_start + i)) {
                        return mig_bad(s, vf, "page %u twice in a blob",
                                       l->run_start + i);
                    }
                    mlu270_pages_set(l->seen, l->run_start + i,
                                     l->run_start + i + 1);
                }
                l->run_crc = mlu270_crc32_update(0, l->run_hdr,
                                                 MLU270_RUN_HDR_SIZE);
            }
        } else if (l->run_pos < MLU270_RUN_HDR_SIZE + data) {
            uint64_t at = sl.base + (uint64_t)l->run_start * MLU270_PAGE +
                          l->run_pos - MLU270_RUN_HDR_SIZE;

            n = MIN(len, MLU270_RUN_HDR_SIZE + data - l->run_pos);
            memcpy(mlu270_mem(s) + at, p, n);
            mlu270_mem_dirty(s, at, n);
            l->run_crc = mlu270_crc32_update(l->run_crc, p, n);
            l->run_pos += n;
        } else {
            uint64_t at = l->run_pos - MLU270_RUN_HDR_SIZE - data;

            n = MIN(len, 4 - at);
            memcpy(l->run_hdr + MLU270_RUN_HDR_SIZE + at, p, n);
            l->run_pos += n;
            if (at + n == 4) {
                if (ldl_le_p(l->run_hdr + MLU270_RUN_HDR_SIZE) !=
                    l->run_crc) {
                    return mig_bad(s, vf, "CRC of the run at page %u",
                                   l->run_start);
                }
                l->run_pos = 0;
                l->run_count = 0;
            }
        }
        p += n;
        len -= n;
    }
    return MLU270_MIG_RES_OK;
}

/* Sections done up to @l->sect: skip empty ones, notice the blob's end. */
static void mig_load_next_sect(Mlu270MigLoad *l)
{
    while (l->sect < l->nsect) {
        const uint8_t *e = l->table + MLU270_BLOB_HDR_SIZE +
                           l->sect * MLU270_BLOB_SECT_SIZE;

        if (l->blob_off < ldl_le_p(e + 4) + (uint64_t)ldl_le_p(e + 8)) {
            return;
        }
        l->sect++;
    }
    /* The blob is complete. */
    l->blobs++;
    if (l->kind == MLU270_BLOB_KIND_STATE) {
        l->complete = 1;
    }
    l->blob_off = 0;
}

/* Feed @len bytes of the stream to VF @vf's load. */
static uint32_t mig_load_feed(Mlu270State *s, unsigned vf, const uint8_t *p,
                              uint64_t len)
{
    Mlu270MigLoad *l = &s->mig[vf].load;
    uint32_t r = MLU270_MIG_RES_OK;

    while (len) {
        uint64_t table_end = MLU270_BLOB_HDR_SIZE +
                             (uint64_t)l->nsect * MLU270_BLOB_SECT_SIZE;
        uint64_t n;

        if (l->complete) {
            return mig_bad(s, vf, "data after the state blob");
        }
        if (l->blob_off < MLU270_BLOB_HDR_SIZE) {
            n = MIN(len, MLU270_BLOB_HDR_SIZE - l->blob_off);
            memcpy(l->table + l->blob_off, p, n);
            l->blob_off += n;
            if (l->blob_off == MLU270_BLOB_HDR_SIZE) {
                const char *why;

                l->kind = lduw_le_p(l->table + 0x06);
                l->total = ldq_le_p(l->table + 0x08);
                l->nsect = ldl_le_p(l->table + 0x10);
                why = mig_header_invalid(l);
                if (why) {
                    return mig_bad(s, vf, "%s", why);
                }
            }
        } else if (l->blob_off < table_end) {
            n = MIN(len, table_end - l->blob_off);
            memcpy(l->table + l->blob_off, p, n);
            l->blob_off += n;
            if (l->blob_off == table_end) {
                r = mig_load_table(s, vf);
                if (r == MLU270_MIG_RES_OK) {
                    mig_load_next_sect(l);
                }
            }
        } else {
            const uint8_t *e = l->table + MLU270_BLOB_HDR_SIZE +
                               l->sect * MLU270_BLOB_SECT_SIZE;
            uint32_t type = ldl_le_p(e), off = ldl_le_p(e + 4);
            uint32_t slen = ldl_le_p(e + 8);
            uint64_t pos = l->blob_off - off;

            n = MIN(len, slen - pos);
            if (type == MLU270_SECT_PAGES) {
                r = mig_load_pages(s, vf, p, n);
                if (r == MLU270_MIG_RES_OK && pos + n == slen &&
                    l->run_pos) {
                    r = mig_bad(s, vf, "a run past its section");
                }
            } else {
                memcpy(l->sect_buf + pos, p, n);
                if (pos + n == slen) {
                    r = mig_load_fixed(s, vf, type, slen, ldl_le_p(e + 12));
                }
            }
            l->blob_off += n;
            if (r == MLU270_MIG_RES_OK) {
                mig_load_next_sect(l);
            }
        }
        if (r != MLU270_MIG_RES_OK) {
            return r;
        }
        p += n;
        len -= n;
    }
    return MLU270_MIG_RES_OK;
}

/*
 * LOAD_COMMIT: apply the state blob to the (fresh, paused) VF, all or
 * nothing: values the device could not have reached are refused as a
 * QEMU migration stream with them would be.
 */
static uint32_t mig_load_commit(Mlu270State *s, unsigned vf)
{
    Mlu270MigLoad *l = &s->mig[vf].load;
    Mlu270Func *f = &s->fn[vf + 1];
    Mlu270Func saved = *f;
    const uint8_t *r = l->regs, *mb = l->mbox;
    uint32_t qs = ldl_le_p(r + 0x2c), flags = ldl_le_p(mb + 0x80);
    const char *why = NULL;

    if (!l->complete || l->blob_off) {
        return mig_bad(s, vf, "the stream ends before its state blob does");
    }
    f->scratch = ldl_le_p(r + 0x00);
    f->misuse = ldl_le_p(r + 0x04);
    f->int_status = ldl_le_p(r + 0x08);
    f->int_enable = ldl_le_p(r + 0x0c);
    f->q_base = ldq_le_p(r + 0x10);
    f->cq_base = ldq_le_p(r + 0x18);
    f->q_size = ldl_le_p(r + 0x20);
    f->q_head = ldl_le_p(r + 0x24);
    f->q_tail = ldl_le_p(r + 0x28);
    f->q_enabled = !!(qs & MLU270_Q_STATUS_ENABLED);
    f->busy = !!(qs & MLU270_Q_STATUS_BUSY);
    f->q_stopped = !!(qs & MLU270_Q_STATUS_STOPPED);
    f->q_error = ldl_le_p(r + 0x30);
    f->q_done = ldl_le_p(r + 0x34);
    f->q_ctrl_held = ldl_le_p(r + 0x38);
    f->int_held = ldl_le_p(r + 0x3c);
    f->job_left = ldq_le_p(r + 0x40);
    f->job_cost = ldq_le_p(r + 0x48);
    memcpy(f->desc, r + 0x60, MLU270_DESC_SIZE);
    for (unsigned i = 0; i < MLU270_MB_WORDS; i++) {
        f->vf_msg[i] = ldl_le_p(mb + i * 4);
        f->pf_msg[i] = ldl_le_p(mb + MLU270_MB_MSG_SIZE + i * 4);
    }
    f->vf_busy = !!(flags & MLU270_MB_FLAG_OUT_BUSY);
    f->pf_busy = !!(flags & MLU270_MB_FLAG_IN_VALID);
    /* The VF's message is new to this PF: it learns of it at RESUME. */
    f->mb_held = f->vf_busy;
    f->pf_int_held = f->vf_busy ? MLU270_INT_MB_RX : 0;

    if (qs & ~(MLU270_Q_STATUS_ENABLED | MLU270_Q_STATUS_BUSY |
               MLU270_Q_STATUS_STOPPED) ||
        (flags & MLU270_MB_FLAG_PF_TOLD && !f->vf_busy) ||
        !buffer_is_zero(r + 0x50, 0x10)) {
        why = "reserved or impossible bits";
    } else if (f->busy ? f->job_cost != mlu270_desc_cost(s, vf + 1, f->desc) ||
                         f->job_left > f->job_cost :
                         f->job_left || f->job_cost ||
                         !buffer_is_zero(f->desc, MLU270_DESC_SIZE)) {
        why = "the job in flight";
    } else {
        why = mlu270_func_state_invalid(s, vf + 1);
    }
    if (why) {
        *f = saved;
        return mig_bad(s, vf, "registers: %s", why);
    }
    return MLU270_MIG_RES_OK;
}

/* ---- DMA dirty logging -------------------------------------------------- */

static void mig_log_stop(Mlu270Mig *m)
{
    g_free(m->log_bits);
    m->log_bits = NULL;
    m->log_on = m->log_shift = m->log_nranges = m->log_nbits = 0;
    m->log_words = 0;
    memset(m->log_iova, 0, sizeof(m->log_iova));
    memset(m->log_len, 0, sizeof(m->log_len));
    memset(m->log_bit0, 0, sizeof(m->log_bit0));
}

/* A DMA write of VF @vf to [addr, addr + len): log its granules. */
void mlu270_mig_log_dma(Mlu270State *s, unsigned vf, uint64_t addr,
                        uint64_t len)
{
    Mlu270Mig *m = &s->mig[vf];
    uint64_t last;

    if (!m->log_on || !len) {
        return;
    }
    last = addr + len - 1 < addr ? UINT64_MAX : addr + len - 1;
    for (uint32_t i = 0; i < m->log_nranges; i++) {
        uint64_t lo = MAX(addr, m->log_iova[i]);
        uint64_t hi = MIN(last, m->log_iova[i] + m->log_len[i] - 1);

        if (lo > hi) {
            continue;
        }
        mlu270_pages_set(m->log_bits,
                         m->log_bit0[i] +
                         ((lo - m->log_iova[i]) >> m->log_shift),
                         m->log_bit0[i] +
                         ((hi - m->log_iova[i]) >> m->log_shift) + 1);
    }
}

static int mig_range_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* DMA_LOG_START's ranges, read from the PF driver's buffer. */
static uint32_t mig_log_start(Mlu270State *s, unsigned vf)
{
    Mlu270Mig *m = &s->mig[vf];
    uint32_t n = m->len / 16;
    uint64_t granule = 1ULL << m->arg, bits = 0;
    g_autofree uint64_t *r = g_new(uint64_t, 2 * n);

    uint32_t epoch = s->fn[vf + 1].epoch;

    if (!mlu270_dma(s, 0, m->addr, r, m->len, DMA_DIRECTION_TO_DEVICE) ||
        s->fn[vf + 1].epoch != epoch || !m->cmd) {
        return MLU270_MIG_RES_EIO;
    }
    for (uint32_t i = 0; i < n; i++) {
        r[2 * i] = le64_to_cpu(r[2 * i]);
        r[2 * i + 1] = le64_to_cpu(r[2 * i + 1]);
    }
    qsort(r, n, 2 * sizeof(uint64_t), mig_range_cmp);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t iova = r[2 * i], len = r[2 * i + 1];

        if (!len || iova % granule || len % granule ||
            iova + len - 1 < iova ||
            (i && r[2 * i - 2] + (r[2 * i - 1] - 1) >= iova)) {
            qemu_log_mask(LOG_GUEST_ERROR, "mlu270: VF %u: DMA log range "
                          "0x%" PRIx64 "+0x%" PRIx64 " refused\n", vf, iova,
                          len);
            return MLU270_MIG_RES_EINVAL;
        }
        if ((len >> m->arg) > MLU270_MIG_MAX_GRANULES - bits) {
            return MLU270_MIG_RES_ENOSPC;
        }
        m->log_iova[i] = iova;
        m->log_len[i] = len;
        m->log_bit0[i] = bits;
        bits += len >> m->arg;
    }
    m->log_nranges = n;
    m->log_shift = m->arg;
    m->log_nbits = bits;
    m->log_words = DIV_ROUND_UP(bits, 64);
    m->log_bits = g_new0(uint64_t, m->log_words);
    m->log_on = 1;
    return MLU270_MIG_RES_OK;
}

/*
 * DMA_LOG_REPORT: the bitmap of MIG_ARG granules from IOVA MIG_OFF to the
 * PF driver's buffer; the bits it reported are cleared once it is
 * written, so a failed write loses nothing.
 */
static uint32_t mig_log_report(Mlu270State *s, unsigned vf)
{
    Mlu270Mig *m = &s->mig[vf];
    uint64_t words = DIV_ROUND_UP(m->arg, 64);
    uint64_t last = m->off + ((uint64_t)m->arg << m->log_shift) - 1;
    g_autofree uint64_t *out = g_new0(uint64_t, words);

    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < m->log_nranges; i++) {
            uint64_t lo = MAX(m->off, m->log_iova[i]);
            uint64_t hi = MIN(last, m->log_iova[i] + m->log_len[i] - 1);

            if (lo > hi) {
                continue;
            }
            for (uint64_t k = (lo - m->off) >> m->log_shift;
                 k <= (hi - m->off) >> m->log_shift; k++) {
                uint64_t a = m->off + (k << m->log_shift);
                uint64_t bit = m->log_bit0[i] +
                               ((a - m->log_iova[i]) >> m->log_shift);

                if (!mlu270_page_test(m->log_bits, bit)) {
                    continue;
                }
                if (pass == 0) {
                    out[k / 64] |= 1ULL << (k % 64);
                } else {
                    m->log_bits[bit / 64] &= ~(1ULL << (bit % 64));
                }
            }
        }
        if (pass == 0) {
            for (uint64_t w = 0; w < words; w++) {
                out[w] = cpu_to_le64(out[w]);
            }
            uint32_t epoch = s->fn[vf + 1].epoch;

            if (!mlu270_dma(s, 0, m->addr, out, words * 8,
                            DMA_DIRECTION_FROM_DEVICE) ||
                s->fn[vf + 1].epoch != epoch || !m->log_on) {
                return MLU270_MIG_RES_EIO;
            }
        }
    }
    return MLU270_MIG_RES_OK;
}

/* ---- Commands ----------------------------------------------------------- */

static void mig_finish(Mlu270State *s, unsigned vf, uint32_t res)
{
    Mlu270Func *f = &s->fn[vf + 1];

    s->mig[vf].cmd = 0;
    f->mig_result = res;
    f->mig_done++;
    mlu270_raise(s, 0, MLU270_INT_MIG_DONE);
}

/* The end of a command that moves data: it does so now. */
static void mig_timer(void *opaque)
{
    Mlu270Mig *m = opaque;
    Mlu270State *s = m->dev;
    unsigned vf = m->vf;
    Mlu270Func *f = &s->fn[vf + 1];
    uint32_t epoch = f->epoch, cmd = m->cmd;
    uint32_t res = MLU270_MIG_RES_OK;
    /*
     * The PF's buffer may be anywhere, config space included: the DMA can
     * reset the VF or the card, which ends the command (CANCELED) and
     * everything it works on. Stop as soon as that happened.
     */
#define MLU270_MIG_GONE() (f->epoch != epoch || m->cmd != cmd)

    switch (m->cmd) {
    case MLU270_MIG_CMD_SAVE_READ: {
        g_autofree uint8_t *buf = g_malloc(m->len);
        Mlu270MigBlob saved = m->blob;

        mig_emit(s, vf, buf, m->len);
        if (!mlu270_dma(s, 0, m->addr, buf, m->len,
                        DMA_DIRECTION_FROM_DEVICE)) {
            if (MLU270_MIG_GONE()) {
                return;
            }
            m->blob = saved;    /* the PF may read it again */
            res = MLU270_MIG_RES_EIO;
        } else if (MLU270_MIG_GONE()) {
            return;
        } else if (m->blob.rd_off == m->blob.total) {
            if (m->blob.kind == MLU270_BLOB_KIND_STATE) {
                mig_stream_end(m);
            } else {
                m->blob.kind = 0;
            }
        }
        break;
    }
    case MLU270_MIG_CMD_LOAD_WRITE: {
        g_autofree uint8_t *buf = g_malloc(m->len);

        if (!mlu270_dma(s, 0, m->addr, buf, m->len,
                        DMA_DIRECTION_TO_DEVICE)) {
            if (MLU270_MIG_GONE()) {
                return;
            }
            res = MLU270_MIG_RES_EIO;
            break;
        }
        if (MLU270_MIG_GONE()) {
            return;
        }
        res = mig_load_feed(s, vf, buf, m->len);
        if (res == MLU270_MIG_RES_OK) {
            m->load.taken += m->len;
        } else {
            mig_load_drop(s, vf);
        }
        break;
    }
    case MLU270_MIG_CMD_DMA_LOG_START:
        res = mig_log_start(s, vf);
        if (MLU270_MIG_GONE()) {
            return;
        }
        if (res != MLU270_MIG_RES_OK) {
            mig_log_stop(m);
        }
        break;
    case MLU270_MIG_CMD_DMA_LOG_REPORT:
        res = mig_log_report(s, vf);
        if (MLU270_MIG_GONE()) {
            return;
        }
        break;
    default:
        return;
    }
#undef MLU270_MIG_GONE
    mig_finish(s, vf, res);
}

/* Start a command that moves @bytes: it ends after 1 ns a byte. */
static void mig_start(Mlu270State *s, unsigned vf, uint32_t cmd,
                      uint64_t bytes)
{
    Mlu270Mig *m = &s->mig[vf];

    m->cmd = cmd;
    timer_mod_ns(m->timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + bytes);
}

static bool mig_len_ok(Mlu270Mig *m)
{
    return m->len && m->len <= MLU270_MIG_MAX_LEN;
}

/*
 * Run command @cmd for VF @vf. Returns its result, or UINT32_MAX when it
 * keeps running (mig_timer finishes it).
 */
static uint32_t mig_command(Mlu270State *s, unsigned vf, uint32_t cmd)
{
    Mlu270Mig *m = &s->mig[vf];
    Mlu270Func *f = &s->fn[vf + 1];
    Mlu270MigBlob *b = &m->blob;
    Mlu270Slice sl;
    uint32_t npages = mig_slice_pages(s, vf, &sl);
    g_autofree uint64_t *map = g_new0(uint64_t, MLU270_MIG_PAGE_WORDS);
    uint64_t words;

    switch (cmd) {
    case MLU270_MIG_CMD_PAUSE:
        if (f->reset_armed) {
            /*
             * A deferred reset would fire during the pause (its deadline
             * is device time) and is not part of the VF's state.
             */
            return MLU270_MIG_RES_EBUSY;
        }
        mlu270_mig_pause(f);
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_RESUME:
        if (m->loading) {
            return MLU270_MIG_RES_EBUSY;
        }
        if (f->mig_paused) {
            /* A pre-copy stream goes on (VFIO's PRE_COPY_P2P -> PRE_COPY). */
            if (!m->tracking) {
                mig_stream_end(m);
            } else if (b->kind == MLU270_BLOB_KIND_STATE) {
                /*
                 * Its registers would be stale once the VF runs: retire
                 * it, its pages written again for the next round.
                 */
                for (uint32_t i = 0; i < b->npages / 64; i++) {
                    s->pages_written[b->base / MLU270_PAGE / 64 + i] |=
                        b->pages[i];
                }
                if (!b->rd_off) {
                    m->blob_no--;   /* nothing of it went out */
                }
                memset(b, 0, sizeof(*b));
            }
            mlu270_mig_resume(s, f);
        }
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_SIZE_QUERY:
        if (!npages || m->loading) {
            return MLU270_MIG_RES_EINVAL;
        }
        if (m->arg == MLU270_MIG_SIZE_PAGES && m->tracking) {
            mig_written_pages(s, &sl, map, false);
            m->size = mig_pages_len(map, npages);
            m->size = m->size ? mig_blob_len(MLU270_BLOB_KIND_PAGES,
                                             m->size) : 0;
        } else if (m->arg == MLU270_MIG_SIZE_STATE) {
            if (m->tracking) {
                mig_written_pages(s, &sl, map, false);
            } else {
                mig_content_pages(s, &sl, map);
            }
            m->size = mig_blob_len(MLU270_BLOB_KIND_STATE,
                                   mig_pages_len(map, npages));
        } else {
            return MLU270_MIG_RES_EINVAL;
        }
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_TRACK_START:
        if (!npages) {
            return MLU270_MIG_RES_EINVAL;
        }
        if (m->stream || m->loading) {
            return MLU270_MIG_RES_EBUSY;
        }
        mig_stream_open(m, m->arg);
        m->tracking = 1;
        /* Every page with content is "written" for the first round. */
        mig_content_pages(s, &sl, map);
        for (uint64_t i = 0; i < npages / 64; i++) {
            s->pages_written[sl.base / MLU270_PAGE / 64 + i] = map[i];
        }
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_TRACK_STOP:
        if (!m->stream) {
            return MLU270_MIG_RES_EINVAL;
        }
        mig_stream_end(m);
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_PRECOPY_ROUND:
        if (!m->tracking || !npages) {
            return MLU270_MIG_RES_EINVAL;
        }
        if (b->kind) {
            return MLU270_MIG_RES_EBUSY;
        }
        mig_written_pages(s, &sl, b->pages, true);
        if (buffer_is_zero(b->pages, sizeof(b->pages))) {
            return MLU270_MIG_RES_ENOMSG;
        }
        mig_build(s, vf, MLU270_BLOB_KIND_PAGES, &sl);
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_SAVE_PREPARE:
        if (!npages) {
            return MLU270_MIG_RES_EINVAL;
        }
        if (!f->mig_paused || m->loading || b->kind) {
            return MLU270_MIG_RES_EBUSY;
        }
        if (m->tracking) {
            mig_written_pages(s, &sl, b->pages, true);
        } else {
            if (!m->stream) {
                mig_stream_open(m, m->arg);
            }
            mig_content_pages(s, &sl, b->pages);
        }
        mig_build(s, vf, MLU270_BLOB_KIND_STATE, &sl);
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_SAVE_READ:
        if (!b->kind || m->off != b->rd_off || !mig_len_ok(m) ||
            m->len > b->total - b->rd_off) {
            return MLU270_MIG_RES_EINVAL;
        }
        mig_start(s, vf, cmd, m->len);
        return UINT32_MAX;
    case MLU270_MIG_CMD_LOAD_BEGIN:
        if (!npages) {
            return MLU270_MIG_RES_EINVAL;
        }
        if (!f->mig_paused || m->loading || m->stream ||
            !mig_vf_fresh(s, vf, &sl)) {
            return MLU270_MIG_RES_EBUSY;
        }
        memset(&m->load, 0, sizeof(m->load));
        m->loading = 1;
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_LOAD_WRITE:
        if (!m->loading || m->off != m->load.taken || !mig_len_ok(m)) {
            return MLU270_MIG_RES_EINVAL;
        }
        mig_start(s, vf, cmd, m->len);
        return UINT32_MAX;
    case MLU270_MIG_CMD_LOAD_COMMIT: {
        uint32_t res;

        if (!m->loading) {
            return MLU270_MIG_RES_EINVAL;
        }
        res = mig_load_commit(s, vf);
        if (res == MLU270_MIG_RES_OK) {
            m->loading = 0;
            memset(&m->load, 0, sizeof(m->load));
        } else {
            mig_load_drop(s, vf);
        }
        return res;
    }
    case MLU270_MIG_CMD_LOAD_ABORT:
        if (!m->loading) {
            return MLU270_MIG_RES_EINVAL;
        }
        mig_load_drop(s, vf);
        return MLU270_MIG_RES_OK;
    case MLU270_MIG_CMD_DMA_LOG_START:
        if (m->log_on) {
            return MLU270_MIG_RES_EBUSY;
        }
        if (m->arg < MLU270_MIG_MIN_GRANULE_SHIFT ||
            m->arg > MLU270_MIG_MAX_GRANULE_SHIFT || !m->len ||
            m->len % 16) {
            return MLU270_MIG_RES_EINVAL;
        }
        if (m->len > 16 * MLU270_MIG_MAX_RANGES) {
            return MLU270_MIG_RES_ENOSPC;
        }
        mig_start(s, vf, cmd, m->len);
        return UINT32_MAX;
    case MLU270_MIG_CMD_DMA_LOG_REPORT:
        words = DIV_ROUND_UP(m->arg, 64);
        if (!m->log_on || !m->arg || m->off % (1ULL << m->log_shift) ||
            words * 8 > m->len || !mig_len_ok(m) ||
            m->off + ((uint64_t)m->arg << m->log_shift) - 1 < m->off) {
            return MLU270_MIG_RES_EINVAL;
        }
        mig_start(s, vf, cmd, words * 8);
        return UINT32_MAX;
    case MLU270_MIG_CMD_DMA_LOG_STOP:
        if (!m->log_on) {
            return MLU270_MIG_RES_EINVAL;
        }
        mig_log_stop(m);
        return MLU270_MIG_RES_OK;
    default:
        mlu270_misuse(s, 0, "unknown migration command 0x%x for VF %u",
                      cmd, vf);
        return MLU270_MIG_RES_EINVAL;
    }
}

/* ---- The window --------------------------------------------------------- */

bool mlu270_mig_loading(Mlu270State *s, unsigned vf)
{
    return vf < MLU270_TOTAL_VFS && s->mig[vf].loading;
}

uint32_t mlu270_mig_read(Mlu270State *s, unsigned vf, hwaddr off)
{
    Mlu270Func *f = &s->fn[vf + 1];
    Mlu270Mig *m = &s->mig[vf];

    switch (off) {
    case MLU270_MIG_STATUS:
        return (f->mig_paused ? MLU270_MIG_STATUS_PAUSED : 0) |
               (m->cmd ? MLU270_MIG_STATUS_BUSY : 0) |
               (m->tracking ? MLU270_MIG_STATUS_TRACKING : 0) |
               (m->log_on ? MLU270_MIG_STATUS_DMA_LOG : 0) |
               (m->loading ? MLU270_MIG_STATUS_LOADING : 0) |
               (m->blob.kind ? MLU270_MIG_STATUS_BLOB : 0);
    case MLU270_MIG_RESULT:
        return f->mig_result;
    case MLU270_MIG_DONE:
        return f->mig_done;
    case MLU270_MIG_ADDR_LO:
        return m->addr;
    case MLU270_MIG_ADDR_HI:
        return m->addr >> 32;
    case MLU270_MIG_LEN:
        return m->len;
    case MLU270_MIG_OFF_LO:
        return m->off;
    case MLU270_MIG_OFF_HI:
        return m->off >> 32;
    case MLU270_MIG_SIZE_LO:
        return m->size;
    case MLU270_MIG_SIZE_HI:
        return m->size >> 32;
    case MLU270_MIG_ARG:
        return m->arg;
    default:
        return 0;
    }
}

void mlu270_mig_write(Mlu270State *s, unsigned vf, hwaddr off,
                      uint32_t val)
{
    Mlu270Mig *m = &s->mig[vf];
    uint32_t res;

    if (m->cmd && (off == MLU270_MIG_CMD || off == MLU270_MIG_ADDR_LO ||
                   off == MLU270_MIG_ADDR_HI || off == MLU270_MIG_LEN ||
                   off == MLU270_MIG_OFF_LO || off == MLU270_MIG_OFF_HI ||
                   off == MLU270_MIG_ARG)) {
        mlu270_misuse(s, 0, "migration window of VF %u written while busy",
                      vf);
        return;
    }
    switch (off) {
    case MLU270_MIG_CMD:
        break;
    case MLU270_MIG_ADDR_LO:
        m->addr = deposit64(m->addr, 0, 32, val);
        return;
    case MLU270_MIG_ADDR_HI:
        m->addr = deposit64(m->addr, 32, 32, val);
        return;
    case MLU270_MIG_LEN:
        m->len = val;
        return;
    case MLU270_MIG_OFF_LO:
        m->off = deposit64(m->off, 0, 32, val);
        return;
    case MLU270_MIG_OFF_HI:
        m->off = deposit64(m->off, 32, 32, val);
        return;
    case MLU270_MIG_ARG:
        m->arg = val;
        return;
    default:
        mlu270_misuse(s, 0, "write to read-only migration register 0x%x "
                      "of VF %u", (unsigned)off, vf);
        return;
    }
    if (!mlu270_vf_enabled(s, vf)) {
        mlu270_misuse(s, 0, "migration command 0x%x for VF %u, which is "
                      "not enabled", val, vf);
        res = MLU270_MIG_RES_EINVAL;
    } else {
        res = mig_command(s, vf, val);
    }
    if (res != UINT32_MAX) {
        mig_finish(s, vf, res);
    }
}

/* ---- Resets ------------------------------------------------------------- */

/*
 * A reset of function @f ends its pause, its stream, its load and a
 * command in progress (CANCELED, reported unless the whole card resets:
 * @scrub is false only then). DMA logging survives a reset the VF's
 * owner or PF asked for (@event: FLR, VF_RESET), so that QEMU does not
 * miss pages the VF wrote before it; VF disable and card resets end it.
 */
void mlu270_mig_func_reset(Mlu270State *s, Mlu270Func *f, bool scrub,
                           bool event)
{
    Mlu270Mig *m;

    f->mig_paused = 0;
    f->job_left = 0;
    f->int_held = f->pf_int_held = f->mb_held = f->q_ctrl_held = 0;
    if (!f->index) {
        return;
    }
    m = &s->mig[f->index - 1];
    if (m->cmd) {
        timer_del(m->timer);
        if (scrub) {
            mig_finish(s, f->index - 1, MLU270_MIG_RES_CANCELED);
        }
        m->cmd = 0;
    }
    mig_stream_end(m);
    m->loading = 0;
    memset(&m->load, 0, sizeof(m->load));
    if (!event) {
        mig_log_stop(m);
    }
}

/* A reset of the card: every window to its reset values. */
void mlu270_mig_card_reset(Mlu270State *s)
{
    for (unsigned vf = 0; vf < MLU270_TOTAL_VFS; vf++) {
        Mlu270Mig *m = &s->mig[vf];

        timer_del(m->timer);
        mig_log_stop(m);
        mig_stream_end(m);
        m->cmd = 0;
        m->addr = m->off = m->size = 0;
        m->len = m->arg = 0;
        m->loading = 0;
        memset(&m->load, 0, sizeof(m->load));
    }
    memset(s->pages_written, 0, s->pages_words * sizeof(uint64_t));
}

void mlu270_mig_realize(Mlu270State *s)
{
    for (unsigned vf = 0; vf < MLU270_TOTAL_VFS; vf++) {
        s->mig[vf].dev = s;
        s->mig[vf].vf = vf;
        s->mig[vf].timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, mig_timer,
                                        &s->mig[vf]);
    }
}

void mlu270_mig_exit(Mlu270State *s)
{
    for (unsigned vf = 0; vf < MLU270_TOTAL_VFS; vf++) {
        if (s->mig[vf].timer) {
            timer_free(s->mig[vf].timer);
            s->mig[vf].timer = NULL;
        }
        mig_log_stop(&s->mig[vf]);
    }
}

/* ---- Migration of the whole card (QEMU's) ------------------------------- */

/*
 * What is wrong with function @f's pause state as a migration stream
 * brought it, or NULL. @can_pause: @f is an enabled VF.
 */
const char *mlu270_mig_state_invalid(Mlu270Func *f, bool can_pause)
{
    if (!mlu270_flag(f->mig_paused) || !mlu270_flag(f->mb_held) ||
        (f->mig_paused && !can_pause)) {
        return "a migration pause of a function that cannot be paused";
    }
    if (!f->mig_paused && (f->job_left || f->int_held || f->pf_int_held ||
                           f->mb_held || f->q_ctrl_held)) {
        return "migration pause state without a pause";
    }
    if (f->mig_paused && f->busy && timer_pending(f->timer)) {
        return "a paused job whose clock runs";
    }
    if (f->job_left > MLU270_MAX_JOB_NS || (f->job_left && !f->busy) ||
        (f->int_held & ~MLU270_INT_ALL) ||
        (f->pf_int_held & ~(MLU270_INT_MB_RX | MLU270_INT_MB_ACK)) ||
        (f->mb_held && !f->vf_busy) ||
        (f->q_ctrl_held & ~(MLU270_Q_CTRL_HELD | MLU270_Q_CTRL_ENABLE)) ||
        (f->q_ctrl_held && !(f->q_ctrl_held & MLU270_Q_CTRL_HELD)) ||
        (f->q_ctrl_held && !f->busy)) {
        return "migration pause state";
    }
    if (f->mig_result > MLU270_MIG_RES_ENOMSG ||
        (f->mig_paused && f->reset_armed)) {
        return "migration command result";
    }
    return NULL;
}

/* Sent only while a VF is paused or a migration command was used. */
static bool mlu270_vf_migration_needed(void *opaque)
{
    Mlu270State *s = opaque;

    for (unsigned fn = 0; fn < MLU270_NUM_FUNCS; fn++) {
        if (s->fn[fn].mig_paused || s->fn[fn].mig_done ||
            s->fn[fn].mig_result) {
            return true;
        }
    }
    return false;
}

static const VMStateDescription vmstate_mlu270_func_migration = {
    .name = "mlu270/function/vf-migration",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(mig_paused, Mlu270Func),
        VMSTATE_UINT64(job_left, Mlu270Func),
        VMSTATE_UINT32(int_held, Mlu270Func),
        VMSTATE_UINT32(pf_int_held, Mlu270Func),
        VMSTATE_UINT32(mb_held, Mlu270Func),
        VMSTATE_UINT32(q_ctrl_held, Mlu270Func),
        VMSTATE_UINT32(mig_result, Mlu270Func),
        VMSTATE_UINT32(mig_done, Mlu270Func),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * The VF migration interface's state (a VF paused for its own migration
 * while the whole card migrates, e.g. the host itself moving).
 */
const VMStateDescription vmstate_mlu270_vf_migration = {
    .name = "mlu270/vf-migration",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = mlu270_vf_migration_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(fn, Mlu270State, MLU270_NUM_FUNCS, 1,
                             vmstate_mlu270_func_migration, Mlu270Func),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * The streams, loads, DMA logs and running commands of the VFs, when the
 * whole card migrates in the middle of a VF's migration (the host moving
 * while it moves a guest). Everything in it is checked as a stream from
 * elsewhere: mlu270_vf_streams_post_load().
 */

/* Where a built blob's read cursor must be, given the bytes read. */
static bool mig_cursor_ok(const Mlu270MigBlob *b)
{
    uint32_t p = 0, start, count;
    uint64_t pos;

    if (b->rd_off > b->prefix_len) {
        pos = MIN(b->rd_off, b->prefix_len + b->pages_len) - b->prefix_len;
        while (pos && mig_next_run(b->pages, b->npages, p, &start, &count)) {
            uint64_t len = MLU270_RUN_HDR_SIZE +
                           (uint64_t)count * MLU270_PAGE + 4;

            if (pos < len) {
                return b->rd_next_page == p && b->run_count == count &&
                       b->run_start == start && b->run_pos == pos;
            }
            pos -= len;
            p = start + count;
        }
    }
    return b->rd_next_page == p && !b->run_count;
}

static const char *mig_blob_invalid(Mlu270State *s, unsigned vf)
{
    Mlu270Mig *m = &s->mig[vf];
    Mlu270MigBlob *b = &m->blob;
    Mlu270Slice sl;
    uint32_t npages = mig_slice_pages(s, vf, &sl);

    if (!b->kind) {
        return buffer_is_zero(b, sizeof(*b)) ? NULL : "a blob without kind";
    }
    if ((b->kind != MLU270_BLOB_KIND_STATE &&
         b->kind != MLU270_BLOB_KIND_PAGES) || !m->stream) {
        return "blob kind";
    }
    if (!npages || b->npages != npages || b->base != sl.base ||
        !buffer_is_zero(b->pages + npages / 64,
                        (MLU270_MIG_PAGE_WORDS - npages / 64) * 8)) {
        return "a blob of another slice";
    }
    if (b->prefix_len != (b->kind == MLU270_BLOB_KIND_STATE ?
                          MLU270_BLOB_PREFIX_MAX :
                          mig_blob_len(MLU270_BLOB_KIND_PAGES, 0)) ||
        b->suffix_len != (b->kind == MLU270_BLOB_KIND_STATE ?
                          MLU270_SECT_END_SIZE : 0) ||
        b->pages_len != mig_pages_len(b->pages, npages) ||
        b->total != b->prefix_len + b->pages_len + b->suffix_len ||
        b->rd_off > b->total || !mig_cursor_ok(b)) {
        return "blob lengths or read position";
    }
    return NULL;
}

static const char *mig_load_invalid(Mlu270State *s, unsigned vf)
{
    Mlu270Mig *m = &s->mig[vf];
    Mlu270MigLoad *l = &m->load;
    Mlu270Slice sl;
    uint32_t npages = mig_slice_pages(s, vf, &sl);
    uint64_t table_end;
    const uint8_t *e;
    const char *why;

    if (!m->loading) {
        return buffer_is_zero(l, sizeof(*l)) ? NULL : "load without a load";
    }
    if (m->stream || !npages || !s->fn[vf + 1].mig_paused ||
        !mlu270_flag(l->complete) || (l->complete && l->blob_off) ||
        !buffer_is_zero(l->seen + npages / 64,
                        (MLU270_MIG_PAGE_WORDS - npages / 64) * 8)) {
        return "load state";
    }
    if (l->blob_off < MLU270_BLOB_HDR_SIZE) {
        return l->sect || l->run_pos ? "load position" : NULL;
    }
    why = mig_header_invalid(l);
    if (why) {
        return why;
    }
    table_end = MLU270_BLOB_HDR_SIZE + l->nsect * MLU270_BLOB_SECT_SIZE;
    if (l->blob_off < table_end) {
        return l->sect || l->run_pos ? "load position" : NULL;
    }
    why = mig_table_invalid(l);
    if (why) {
        return why;
    }
    if (l->sect >= l->nsect) {
        return "load section";
    }
    e = l->table + MLU270_BLOB_HDR_SIZE + l->sect * MLU270_BLOB_SECT_SIZE;
    if (l->blob_off < ldl_le_p(e + 4) ||
        l->blob_off >= ldl_le_p(e + 4) + (uint64_t)ldl_le_p(e + 8)) {
        return "load position in its section";
    }
    if (ldl_le_p(e) != MLU270_SECT_PAGES || l->run_pos < MLU270_RUN_HDR_SIZE) {
        return l->run_pos >= (ldl_le_p(e) == MLU270_SECT_PAGES ?
                              MLU270_RUN_HDR_SIZE : 1) ?
               "load run" : NULL;
    }
    if (!l->run_count || l->run_count > MLU270_RUN_MAX_PAGES ||
        l->run_start >= npages || l->run_count > npages - l->run_start ||
        l->run_pos >= MLU270_RUN_HDR_SIZE +
                      (uint64_t)l->run_count * MLU270_PAGE + 4) {
        return "load run";
    }
    return NULL;
}

static const char *mig_log_invalid(Mlu270Mig *m)
{
    uint64_t bits = 0;

    if (!m->log_on) {
        return m->log_shift || m->log_nranges || m->log_nbits ||
               m->log_words || m->log_bits ||
               !buffer_is_zero(m->log_iova, sizeof(m->log_iova)) ||
               !buffer_is_zero(m->log_len, sizeof(m->log_len)) ||
               !buffer_is_zero(m->log_bit0, sizeof(m->log_bit0)) ?
               "DMA log state without a log" : NULL;
    }
    if (m->log_on != 1 || m->log_shift < MLU270_MIG_MIN_GRANULE_SHIFT ||
        m->log_shift > MLU270_MIG_MAX_GRANULE_SHIFT || !m->log_nranges ||
        m->log_nranges > MLU270_MIG_MAX_RANGES) {
        return "DMA log";
    }
    for (uint32_t i = 0; i < m->log_nranges; i++) {
        uint64_t iova = m->log_iova[i], len = m->log_len[i];

        if (!len || (iova | len) & ((1ULL << m->log_shift) - 1) ||
            iova + len - 1 < iova ||
            (i && m->log_iova[i - 1] + (m->log_len[i - 1] - 1) >= iova) ||
            m->log_bit0[i] != bits ||
            (len >> m->log_shift) > MLU270_MIG_MAX_GRANULES - bits) {
            return "DMA log ranges";
        }
        bits += len >> m->log_shift;
    }
    if (m->log_nbits != bits || m->log_words != DIV_ROUND_UP(bits, 64)) {
        return "DMA log size";
    }
    return NULL;
}

/* A command that was running: its parameters as its start checked them. */
static const char *mig_cmd_invalid(Mlu270Mig *m)
{
    bool ok;

    switch (m->cmd) {
    case 0:
        ok = !timer_pending(m->timer);
        break;
    case MLU270_MIG_CMD_SAVE_READ:
        ok = m->blob.kind && m->off == m->blob.rd_off && mig_len_ok(m) &&
             m->len <= m->blob.total - m->blob.rd_off;
        break;
    case MLU270_MIG_CMD_LOAD_WRITE:
        ok = m->loading && m->off == m->load.taken && mig_len_ok(m);
        break;
    case MLU270_MIG_CMD_DMA_LOG_START:
        ok = !m->log_on && m->arg >= MLU270_MIG_MIN_GRANULE_SHIFT &&
             m->arg <= MLU270_MIG_MAX_GRANULE_SHIFT && m->len &&
             m->len % 16 == 0 && m->len <= 16 * MLU270_MIG_MAX_RANGES;
        break;
    case MLU270_MIG_CMD_DMA_LOG_REPORT:
        ok = m->log_on && m->arg && mig_len_ok(m) &&
             DIV_ROUND_UP(m->arg, 64) * 8 <= m->len &&
             m->off % (1ULL << m->log_shift) == 0 &&
             m->off + ((uint64_t)m->arg << m->log_shift) - 1 >= m->off;
        break;
    default:
        ok = false;
    }
    if (!ok || (m->cmd && !timer_pending(m->timer))) {
        return "the running command";
    }
    return NULL;
}

/*
 * What is wrong with the VFs' migration state as a machine stream brought
 * it, or NULL (and *bad_vf). Called from the PF's post_load, after every
 * subsection (they may come in any order: the pause is another's).
 */
const char *mlu270_mig_streams_invalid(Mlu270State *s, unsigned *bad_vf)
{
    for (unsigned vf = 0; vf < MLU270_TOTAL_VFS; vf++) {
        Mlu270Mig *m = &s->mig[vf];
        const char *why = NULL;

        if (!mlu270_flag(m->stream) || !mlu270_flag(m->tracking) ||
            !mlu270_flag(m->loading) || (m->tracking && !m->stream) ||
            (!m->stream && (m->stream_id || m->blob_no || m->word)) ||
            ((m->stream || m->loading || m->log_on || m->cmd) &&
             !mlu270_vf_enabled(s, vf))) {
            why = "stream state";
        }
        why = why ?: mig_log_invalid(m);
        why = why ?: mig_blob_invalid(s, vf);
        why = why ?: mig_load_invalid(s, vf);
        why = why ?: mig_cmd_invalid(m);
        if (why) {
            *bad_vf = vf;
            return why;
        }
    }
    return NULL;
}

/* A repeated subsection must not leak the bitmap it allocates. */
static int mlu270_vf_streams_pre_load(void *opaque)
{
    Mlu270State *s = opaque;

    for (unsigned vf = 0; vf < MLU270_TOTAL_VFS; vf++) {
        g_free(s->mig[vf].log_bits);
        s->mig[vf].log_bits = NULL;
        s->mig[vf].log_words = 0;
    }
    return 0;
}

static bool mlu270_vf_streams_needed(void *opaque)
{
    Mlu270State *s = opaque;

    for (unsigned vf = 0; vf < MLU270_TOTAL_VFS; vf++) {
        Mlu270Mig *m = &s->mig[vf];

        if (m->cmd || m->stream || m->loading || m->log_on) {
            return true;
        }
    }
    return false;
}

/* Checked before the bitmap's allocation, which its size would drive. */
static bool mig_log_words_ok(void *opaque, int version_id)
{
    Mlu270Mig *m = opaque;

    return m->log_words <= MLU270_MIG_MAX_GRANULES / 64;
}

static const VMStateDescription vmstate_mlu270_mig_blob = {
    .name = "mlu270/vf-migration/blob",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(kind, Mlu270MigBlob),
        VMSTATE_UINT32(prefix_len, Mlu270MigBlob),
        VMSTATE_UINT32(suffix_len, Mlu270MigBlob),
        VMSTATE_UINT64(pages_len, Mlu270MigBlob),
        VMSTATE_UINT64(total, Mlu270MigBlob),
        VMSTATE_UINT64(base, Mlu270MigBlob),
        VMSTATE_UINT32(npages, Mlu270MigBlob),
        VMSTATE_UINT8_ARRAY(prefix, Mlu270MigBlob, MLU270_BLOB_PREFIX_MAX),
        VMSTATE_UINT8_ARRAY(suffix, Mlu270MigBlob, MLU270_SECT_END_SIZE),
        VMSTATE_UINT64_ARRAY(pages, Mlu270MigBlob, MLU270_MIG_PAGE_WORDS),
        VMSTATE_UINT64(rd_off, Mlu270MigBlob),
        VMSTATE_UINT32(rd_next_page, Mlu270MigBlob),
        VMSTATE_UINT32(run_start, Mlu270MigBlob),
        VMSTATE_UINT32(run_count, Mlu270MigBlob),
        VMSTATE_UINT32(run_pos, Mlu270MigBlob),
        VMSTATE_UINT32(run_crc, Mlu270MigBlob),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_mlu270_mig_load = {
    .name = "mlu270/vf-migration/load",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(taken, Mlu270MigLoad),
        VMSTATE_UINT32(blobs, Mlu270MigLoad),
        VMSTATE_UINT32(complete, Mlu270MigLoad),
        VMSTATE_UINT8_ARRAY(first_desc, Mlu270MigLoad,
                            MLU270_SECT_DESCRIPTOR_SIZE),
        VMSTATE_UINT64(blob_off, Mlu270MigLoad),
        VMSTATE_UINT8_ARRAY(table, Mlu270MigLoad, MLU270_BLOB_TABLE_MAX),
        VMSTATE_UINT32(kind, Mlu270MigLoad),
        VMSTATE_UINT32(nsect, Mlu270MigLoad),
        VMSTATE_UINT32(sect, Mlu270MigLoad),
        VMSTATE_UINT64(total, Mlu270MigLoad),
        VMSTATE_UINT8_ARRAY(sect_buf, Mlu270MigLoad,
                            MLU270_SECT_REGISTERS_SIZE),
        VMSTATE_UINT8_ARRAY(run_hdr, Mlu270MigLoad, MLU270_RUN_HDR_SIZE + 4),
        VMSTATE_UINT32(run_start, Mlu270MigLoad),
        VMSTATE_UINT32(run_count, Mlu270MigLoad),
        VMSTATE_UINT32(run_crc, Mlu270MigLoad),
        VMSTATE_UINT64(run_pos, Mlu270MigLoad),
        VMSTATE_UINT64_ARRAY(seen, Mlu270MigLoad, MLU270_MIG_PAGE_WORDS),
        VMSTATE_UINT8_ARRAY(regs, Mlu270MigLoad, MLU270_SECT_REGISTERS_SIZE),
        VMSTATE_UINT8_ARRAY(mbox, Mlu270MigLoad, MLU270_SECT_MAILBOX_SIZE),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_mlu270_mig = {
    .name = "mlu270/vf-migration/vf",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(cmd, Mlu270Mig),
        VMSTATE_UINT64(addr, Mlu270Mig),
        VMSTATE_UINT64(off, Mlu270Mig),
        VMSTATE_UINT64(size, Mlu270Mig),
        VMSTATE_UINT32(len, Mlu270Mig),
        VMSTATE_UINT32(arg, Mlu270Mig),
        VMSTATE_TIMER_PTR(timer, Mlu270Mig),
        VMSTATE_UINT32(stream, Mlu270Mig),
        VMSTATE_UINT64(stream_id, Mlu270Mig),
        VMSTATE_UINT32(blob_no, Mlu270Mig),
        VMSTATE_UINT32(word, Mlu270Mig),
        VMSTATE_UINT32(tracking, Mlu270Mig),
        VMSTATE_UINT32(loading, Mlu270Mig),
        VMSTATE_UINT32(log_on, Mlu270Mig),
        VMSTATE_UINT32(log_shift, Mlu270Mig),
        VMSTATE_UINT32(log_nranges, Mlu270Mig),
        VMSTATE_UINT32(log_nbits, Mlu270Mig),
        VMSTATE_UINT32(log_words, Mlu270Mig),
        VMSTATE_VALIDATE("DMA log bitmap size", mig_log_words_ok),
        VMSTATE_VARRAY_UINT32_ALLOC(log_bits, Mlu270Mig, log_words, 0,
                                    vmstate_info_uint64, uint64_t),
        VMSTATE_UINT64_ARRAY(log_iova, Mlu270Mig, MLU270_MIG_MAX_RANGES),
        VMSTATE_UINT64_ARRAY(log_len, Mlu270Mig, MLU270_MIG_MAX_RANGES),
        VMSTATE_UINT64_ARRAY(log_bit0, Mlu270Mig, MLU270_MIG_MAX_RANGES),
        VMSTATE_STRUCT(blob, Mlu270Mig, 1, vmstate_mlu270_mig_blob,
                       Mlu270MigBlob),
        VMSTATE_STRUCT(load, Mlu270Mig, 1, vmstate_mlu270_mig_load,
                       Mlu270MigLoad),
        VMSTATE_END_OF_LIST()
    },
};

const VMStateDescription vmstate_mlu270_vf_streams = {
    .name = "mlu270/vf-streams",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = mlu270_vf_streams_needed,
    .pre_load = mlu270_vf_streams_pre_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(mig, Mlu270State, MLU270_TOTAL_VFS, 1,
                             vmstate_mlu270_mig, Mlu270Mig),
        VMSTATE_VARRAY_UINT32(pages_written, Mlu270State, pages_words, 0,
                              vmstate_info_uint64, uint64_t),
        VMSTATE_END_OF_LIST()
    },
};
