/*
 * Emulated MLU270: a VF's live migration to another card, through the
 * PF-only migration windows (Documentation/accel/mlu270/migration.rst).
 * Implemented so far: PAUSE and RESUME.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
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

uint32_t mlu270_mig_read(Mlu270State *s, unsigned vf, hwaddr off)
{
    Mlu270Func *f = &s->fn[vf + 1];

    switch (off) {
    case MLU270_MIG_STATUS:
        return f->mig_paused ? MLU270_MIG_STATUS_PAUSED : 0;
    case MLU270_MIG_RESULT:
        return f->mig_result;
    case MLU270_MIG_DONE:
        return f->mig_done;
    default:
        return 0;
    }
}

void mlu270_mig_write(Mlu270State *s, unsigned vf, hwaddr off,
                      uint32_t val)
{
    Mlu270Func *f = &s->fn[vf + 1];
    uint32_t res = MLU270_MIG_RES_OK;

    if (off != MLU270_MIG_CMD) {
        mlu270_misuse(s, 0, "write to read-only migration register 0x%x "
                      "of VF %u", (unsigned)off, vf);
        return;
    }
    if (!mlu270_vf_enabled(s, vf)) {
        mlu270_misuse(s, 0, "migration command 0x%x for VF %u, which is "
                      "not enabled", val, vf);
        res = MLU270_MIG_RES_EINVAL;
    } else if (val == MLU270_MIG_CMD_PAUSE && f->reset_armed) {
        /*
         * A deferred reset would fire during the pause (its deadline is
         * device time) and is not part of the VF's state: refused.
         */
        res = MLU270_MIG_RES_EBUSY;
    } else if (val == MLU270_MIG_CMD_PAUSE) {
        mlu270_mig_pause(f);
    } else if (val == MLU270_MIG_CMD_RESUME) {
        mlu270_mig_resume(s, f);
    } else {
        mlu270_misuse(s, 0, "unknown migration command 0x%x for VF %u",
                      val, vf);
        res = MLU270_MIG_RES_EINVAL;
    }
    f->mig_result = res;
    f->mig_done++;
}

/* A reset ends a migration pause with the rest of the function's state. */
void mlu270_mig_func_reset(Mlu270Func *f)
{
    f->mig_paused = 0;
    f->job_left = 0;
    f->int_held = f->pf_int_held = f->mb_held = f->q_ctrl_held = 0;
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
    if (f->mig_result > MLU270_MIG_RES_EBUSY ||
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
