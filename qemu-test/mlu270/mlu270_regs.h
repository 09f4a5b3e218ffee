/*
 * MLU270 emulated accelerator: register interface.
 *
 * The single source of register offsets and reset values for the device
 * model and its qtest. It must match Documentation/accel/mlu270/hardware.rst
 * (checked by qemu-test/mlu270/check_spec.py). No QEMU includes, so tests
 * and tools can use it as is.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef MLU270_REGS_H
#define MLU270_REGS_H

#define MLU270_VENDOR_ID            0xcabc
#define MLU270_PF_DEVICE_ID         0x0270
#define MLU270_VF_DEVICE_ID         0x0271
#define MLU270_TOTAL_VFS            4
#define MLU270_NUM_FUNCS            (MLU270_TOTAL_VFS + 1)
#define MLU270_SRIOV_CAP_OFFSET     0x100

#define MLU270_NUM_IPU              16
#define MLU270_NUM_VPU              4
#define MLU270_NUM_JPU              4
#define MLU270_MIB                  (1024 * 1024)

/* BARs */
#define MLU270_REG_BAR              0
#define MLU270_MSIX_BAR             2
#define MLU270_REG_BAR_SIZE         0x4000
#define MLU270_MSIX_BAR_SIZE        0x1000
#define MLU270_MSIX_PBA_OFFSET      0x800
#define MLU270_PF_MSIX_VECTORS      3
#define MLU270_VF_MSIX_VECTORS      2
#define MLU270_VEC_QUEUE            0
#define MLU270_VEC_MBOX             1
#define MLU270_VEC_PF_EVENT         2

/* Common block */
#define MLU270_REG_MAGIC            0x0000
#define MLU270_REG_VERSION          0x0004
#define MLU270_REG_FUNC_INFO        0x0008
#define MLU270_REG_SCRATCH          0x000c
#define MLU270_REG_CAP_IPU          0x0010
#define MLU270_REG_CAP_VPU          0x0014
#define MLU270_REG_CAP_JPU          0x0018
#define MLU270_REG_CAP_MEM_MB       0x001c
#define MLU270_REG_SLICE_IPU        0x0020
#define MLU270_REG_SLICE_VPU        0x0024
#define MLU270_REG_SLICE_JPU        0x0028
#define MLU270_REG_SLICE_MEM_MB     0x002c
#define MLU270_REG_MISUSE_COUNT     0x0030
#define MLU270_REG_INT_STATUS       0x0040
#define MLU270_REG_INT_ENABLE       0x0044

#define MLU270_RESET_MAGIC          0x4d4c5532
#define MLU270_RESET_VERSION        0x00010000
#define MLU270_RESET_SCRATCH        0x00000000
#define MLU270_RESET_CAP_IPU        0x00000010
#define MLU270_RESET_CAP_VPU        0x00000004
#define MLU270_RESET_CAP_JPU        0x00000004
#define MLU270_RESET_MISUSE_COUNT   0x00000000
#define MLU270_RESET_INT_STATUS     0x00000000
#define MLU270_RESET_INT_ENABLE     0x00000000

#define MLU270_FUNC_INFO_IS_VF      (1u << 31)

/* INT_STATUS / INT_ENABLE bits */
#define MLU270_INT_JOB_DONE         (1u << 0)
#define MLU270_INT_MB_RX            (1u << 1)
#define MLU270_INT_MB_ACK           (1u << 2)
#define MLU270_INT_FAULT            (1u << 3)
#define MLU270_INT_VF_EVENT         (1u << 4)
#define MLU270_INT_Q_ERROR          (1u << 5)
#define MLU270_INT_ALL              0x3f
#define MLU270_INT_MIG_DONE         (1u << 6)   /* PF only */
#define MLU270_INT_PF_ALL           0x7f

/* Job queue block */
#define MLU270_REG_Q_BASE_LO        0x0100
#define MLU270_REG_Q_BASE_HI        0x0104
#define MLU270_REG_Q_SIZE           0x0108
#define MLU270_REG_Q_HEAD           0x010c
#define MLU270_REG_Q_TAIL           0x0110
#define MLU270_REG_Q_CTRL           0x0114
#define MLU270_REG_Q_STATUS         0x0118
#define MLU270_REG_Q_ERROR          0x011c
#define MLU270_REG_CQ_BASE_LO       0x0120
#define MLU270_REG_CQ_BASE_HI       0x0124
#define MLU270_REG_Q_DONE           0x0128

#define MLU270_RESET_Q_BASE_LO      0x00000000
#define MLU270_RESET_Q_BASE_HI      0x00000000
#define MLU270_RESET_Q_SIZE         0x00000000
#define MLU270_RESET_Q_HEAD         0x00000000
#define MLU270_RESET_Q_TAIL         0x00000000
#define MLU270_RESET_Q_CTRL         0x00000000
#define MLU270_RESET_Q_STATUS       0x00000000
#define MLU270_RESET_Q_ERROR        0x00000000
#define MLU270_RESET_CQ_BASE_LO     0x00000000
#define MLU270_RESET_CQ_BASE_HI     0x00000000
#define MLU270_RESET_Q_DONE         0x00000000

#define MLU270_Q_CTRL_ENABLE        (1u << 0)
#define MLU270_Q_STATUS_ENABLED     (1u << 0)
#define MLU270_Q_STATUS_BUSY        (1u << 1)
#define MLU270_Q_STATUS_STOPPED     (1u << 2)
#define MLU270_Q_MIN_SIZE           2
#define MLU270_Q_MAX_SIZE           4096
#define MLU270_Q_ALIGN              64

/* Mailbox, VF side */
#define MLU270_REG_MB_DOORBELL      0x0200
#define MLU270_REG_MB_STATUS        0x0204
#define MLU270_REG_MB_ACK           0x0208
#define MLU270_REG_MB_OUT           0x0280
#define MLU270_REG_MB_IN            0x02c0

#define MLU270_RESET_MB_DOORBELL    0x00000000
#define MLU270_RESET_MB_STATUS      0x00000000
#define MLU270_RESET_MB_ACK         0x00000000
#define MLU270_RESET_MB_OUT         0x00000000
#define MLU270_RESET_MB_IN          0x00000000

#define MLU270_MB_MSG_SIZE          64
#define MLU270_MB_STATUS_OUT_BUSY   (1u << 0)
#define MLU270_MB_STATUS_IN_VALID   (1u << 1)

/* Global PF block */
#define MLU270_REG_MB_PENDING       0x0400
#define MLU270_REG_VF_EVENT         0x0404
#define MLU270_REG_DEV_CTRL         0x0408
#define MLU270_REG_NUM_VFS          0x040c
#define MLU270_REG_FAULT_STATUS     0x0410
#define MLU270_REG_FAULT_FUNC       0x0414
#define MLU270_REG_FAULT_CODE       0x0418
#define MLU270_REG_FAULT_ADDR_LO    0x041c
#define MLU270_REG_FAULT_ADDR_HI    0x0420
#define MLU270_REG_FAULT_COUNT      0x0424
#define MLU270_REG_PART_STATUS      0x0428

#define MLU270_RESET_MB_PENDING     0x00000000
#define MLU270_RESET_VF_EVENT       0x00000000
#define MLU270_RESET_DEV_CTRL       0x00000000
#define MLU270_RESET_NUM_VFS        0x00000000
#define MLU270_RESET_FAULT_STATUS   0x00000000
#define MLU270_RESET_FAULT_FUNC     0x00000000
#define MLU270_RESET_FAULT_CODE     0x00000000
#define MLU270_RESET_FAULT_ADDR_LO  0x00000000
#define MLU270_RESET_FAULT_ADDR_HI  0x00000000
#define MLU270_RESET_FAULT_COUNT    0x00000000
#define MLU270_RESET_PART_STATUS    0x00000000

#define MLU270_DEV_CTRL_RESET       (1u << 0)
#define MLU270_PART_STATUS_LOCKED   (1u << 0)
#define MLU270_PART_STATUS_INVALID(n) (1u << (8 + (n)))
#define MLU270_PART_STATUS_WRITE_REJECTED (1u << 16)

#define MLU270_PF_ONLY_START        0x0400

/* Per-VF windows in the PF: base + offsets */
#define MLU270_PFVF_BASE(i)         (0x1000 + (i) * 0x100)
#define MLU270_PFVF_WINDOW_SIZE     0x100
#define MLU270_PFVF_VF_MSG          0x0000
#define MLU270_PFVF_PF_MSG          0x0040
#define MLU270_PFVF_DOORBELL        0x0080
#define MLU270_PFVF_STATUS          0x0084
#define MLU270_PFVF_ACK             0x0088
#define MLU270_PFVF_VF_RESET        0x008c
#define MLU270_PFVF_VF_STATE        0x0090
#define MLU270_PFVF_ABORTED         0x0094
#define MLU270_PFVF_MISUSE          0x0098
#define MLU270_PFVF_FAULT_COUNT     0x00a0
#define MLU270_PFVF_FAULT_CODE      0x00a4
#define MLU270_PFVF_FAULT_ADDR_LO   0x00a8
#define MLU270_PFVF_FAULT_ADDR_HI   0x00ac

#define MLU270_RESET_PFVF_VF_MSG    0x00000000
#define MLU270_RESET_PFVF_PF_MSG    0x00000000
#define MLU270_RESET_PFVF_DOORBELL  0x00000000
#define MLU270_RESET_PFVF_STATUS    0x00000000
#define MLU270_RESET_PFVF_ACK       0x00000000
#define MLU270_RESET_PFVF_VF_RESET  0x00000000
#define MLU270_RESET_PFVF_VF_STATE  0x00000000
#define MLU270_RESET_PFVF_ABORTED   0x00000000
#define MLU270_RESET_PFVF_MISUSE    0x00000000
#define MLU270_RESET_PFVF_FAULT_COUNT 0x00000000
#define MLU270_RESET_PFVF_FAULT_CODE 0x00000000
#define MLU270_RESET_PFVF_FAULT_ADDR_LO 0x00000000
#define MLU270_RESET_PFVF_FAULT_ADDR_HI 0x00000000

#define MLU270_VF_RESET_NOW         (1u << 0)
#define MLU270_VF_RESET_ON_ACK      (1u << 1)
#define MLU270_VF_RESET_ACK_TIMEOUT_NS 100000000
#define MLU270_PFVF_STATUS_PF_BUSY  (1u << 0)
#define MLU270_PFVF_STATUS_VF_VALID (1u << 1)
#define MLU270_VF_STATE_ENABLED     (1u << 0)
#define MLU270_VF_STATE_Q_ENABLED   (1u << 1)
#define MLU270_VF_STATE_IN_FLIGHT   (1u << 2)

/*
 * Per-VF migration windows in the PF: base + offsets
 * (Documentation/accel/mlu270/migration.rst)
 */
#define MLU270_MIG_BASE(i)          (0x3000 + (i) * 0x100)
#define MLU270_MIG_WINDOW_SIZE      0x100
#define MLU270_MIG_CMD              0x0000
#define MLU270_MIG_STATUS           0x0004
#define MLU270_MIG_RESULT           0x0008
#define MLU270_MIG_DONE             0x000c
#define MLU270_MIG_ADDR_LO          0x0010
#define MLU270_MIG_ADDR_HI          0x0014
#define MLU270_MIG_LEN              0x0018
#define MLU270_MIG_OFF_LO           0x0020
#define MLU270_MIG_OFF_HI           0x0024
#define MLU270_MIG_SIZE_LO          0x0028
#define MLU270_MIG_SIZE_HI          0x002c
#define MLU270_MIG_ARG              0x0030

#define MLU270_RESET_MIG_CMD        0x00000000
#define MLU270_RESET_MIG_STATUS     0x00000000
#define MLU270_RESET_MIG_RESULT     0x00000000
#define MLU270_RESET_MIG_DONE       0x00000000
#define MLU270_RESET_MIG_ADDR_LO    0x00000000
#define MLU270_RESET_MIG_ADDR_HI    0x00000000
#define MLU270_RESET_MIG_LEN        0x00000000
#define MLU270_RESET_MIG_OFF_LO     0x00000000
#define MLU270_RESET_MIG_OFF_HI     0x00000000
#define MLU270_RESET_MIG_SIZE_LO    0x00000000
#define MLU270_RESET_MIG_SIZE_HI    0x00000000
#define MLU270_RESET_MIG_ARG        0x00000000

#define MLU270_MIG_CMD_PAUSE        0x01
#define MLU270_MIG_CMD_RESUME       0x02
#define MLU270_MIG_CMD_SIZE_QUERY   0x03
#define MLU270_MIG_CMD_TRACK_START  0x10
#define MLU270_MIG_CMD_TRACK_STOP   0x11
#define MLU270_MIG_CMD_PRECOPY_ROUND 0x12
#define MLU270_MIG_CMD_SAVE_PREPARE 0x13
#define MLU270_MIG_CMD_SAVE_READ    0x14
#define MLU270_MIG_CMD_LOAD_BEGIN   0x20
#define MLU270_MIG_CMD_LOAD_WRITE   0x21
#define MLU270_MIG_CMD_LOAD_COMMIT  0x22
#define MLU270_MIG_CMD_LOAD_ABORT   0x23
#define MLU270_MIG_CMD_DMA_LOG_START 0x30
#define MLU270_MIG_CMD_DMA_LOG_REPORT 0x31
#define MLU270_MIG_CMD_DMA_LOG_STOP 0x32

#define MLU270_MIG_STATUS_PAUSED    (1u << 0)
#define MLU270_MIG_STATUS_BUSY      (1u << 1)
#define MLU270_MIG_STATUS_TRACKING  (1u << 2)
#define MLU270_MIG_STATUS_DMA_LOG   (1u << 3)
#define MLU270_MIG_STATUS_LOADING   (1u << 4)
#define MLU270_MIG_STATUS_BLOB      (1u << 5)

#define MLU270_MIG_RES_OK           0
#define MLU270_MIG_RES_EINVAL       1
#define MLU270_MIG_RES_EBUSY        2
#define MLU270_MIG_RES_EIO          3
#define MLU270_MIG_RES_EBADMSG      4
#define MLU270_MIG_RES_MISMATCH     5
#define MLU270_MIG_RES_ENOSPC       6
#define MLU270_MIG_RES_CANCELED     7
#define MLU270_MIG_RES_ENOMSG       8

/* SIZE_QUERY's MIG_ARG: which blob to size. */
#define MLU270_MIG_SIZE_STATE       0
#define MLU270_MIG_SIZE_PAGES       1

/* Limits of the migration interface */
#define MLU270_MIG_MAX_LEN          (4 * MLU270_MIB)
#define MLU270_MIG_MAX_SLICE_MB     256
#define MLU270_MIG_PAGE_SIZE        4096
#define MLU270_MIG_MAX_RANGES       16
#define MLU270_MIG_MAX_GRANULES     (1u << 24)
#define MLU270_MIG_MIN_GRANULE_SHIFT 12
#define MLU270_MIG_MAX_GRANULE_SHIFT 21

/* Migration blob (migration.rst, "Blob layout"); little-endian */
#define MLU270_BLOB_MAGIC           0x4d554c4d  /* "MLUM" */
#define MLU270_BLOB_VERSION         1
#define MLU270_BLOB_KIND_STATE      1
#define MLU270_BLOB_KIND_PAGES      2
#define MLU270_BLOB_HDR_SIZE        0x18
#define MLU270_BLOB_SECT_SIZE       16
#define MLU270_BLOB_MAX_SECTS       8
#define MLU270_BLOB_MAX_TOTAL       (257ULL * MLU270_MIB)
#define MLU270_BLOB_IFACE_VERSION   1
#define MLU270_SECT_DESCRIPTOR      1
#define MLU270_SECT_REGISTERS       2
#define MLU270_SECT_MAILBOX         3
#define MLU270_SECT_PAGES           4
#define MLU270_SECT_END             5
#define MLU270_SECT_DESCRIPTOR_SIZE 64
#define MLU270_SECT_REGISTERS_SIZE  160
#define MLU270_SECT_MAILBOX_SIZE    136
#define MLU270_SECT_END_SIZE        8
#define MLU270_RUN_HDR_SIZE         8
#define MLU270_RUN_MAX_PAGES        64
/* MAILBOX flags */
#define MLU270_MB_FLAG_OUT_BUSY     (1u << 0)
#define MLU270_MB_FLAG_PF_TOLD      (1u << 1)
#define MLU270_MB_FLAG_IN_VALID     (1u << 2)

/* Partition table: entry n (0 = PF, 1 + i = VF i) */
#define MLU270_PART_BASE(n)         (0x2000 + (n) * 0x20)
#define MLU270_PART_ENTRY_SIZE      0x20
#define MLU270_PART_IPU_MASK        0x0000
#define MLU270_PART_VPU_MASK        0x0004
#define MLU270_PART_JPU_MASK        0x0008
#define MLU270_PART_MEM_BASE_MB     0x000c
#define MLU270_PART_MEM_SIZE_MB     0x0010
#define MLU270_PART_SCRUBS          0x0014

/* Job descriptor (64 bytes) and completion record (32 bytes) */
#define MLU270_DESC_SIZE            64
#define MLU270_DESC_OPCODE          0x00
#define MLU270_DESC_FLAGS           0x04
#define MLU270_DESC_TAG             0x08
#define MLU270_DESC_SRC             0x10
#define MLU270_DESC_DST             0x18
#define MLU270_DESC_AUX             0x20
#define MLU270_DESC_LEN             0x28
#define MLU270_DESC_ARG0            0x2c
#define MLU270_DESC_ARG1            0x30
#define MLU270_DESC_ARG2            0x34

#define MLU270_CPL_SIZE             32
#define MLU270_CPL_TAG              0x00
#define MLU270_CPL_STATUS           0x08
#define MLU270_CPL_SEQ              0x0c
#define MLU270_CPL_RESULT           0x10
#define MLU270_CPL_DURATION         0x18

#define MLU270_OP_NOP               0x00
#define MLU270_OP_DMA_H2D           0x01
#define MLU270_OP_DMA_D2H           0x02
#define MLU270_OP_IPU_MEMCPY        0x10
#define MLU270_OP_IPU_FILL          0x11
#define MLU270_OP_IPU_CRC32         0x12
#define MLU270_OP_IPU_MATMUL_I8     0x13
#define MLU270_OP_VPU_DELTA_ENC     0x20
#define MLU270_OP_VPU_DELTA_DEC     0x21
#define MLU270_OP_JPU_ZIGZAG        0x30
#define MLU270_OP_JPU_UNZIGZAG      0x31

#define MLU270_MAX_JOB_LEN          (16 * MLU270_MIB)
#define MLU270_MATMUL_MAX_DIM       256
#define MLU270_JPU_BLOCK            64
#define MLU270_ERROR_COST_NS        1000

#define MLU270_ST_OK                0
#define MLU270_ST_BAD_OPCODE        1
#define MLU270_ST_BAD_LEN           2
#define MLU270_ST_OUT_OF_SLICE      3
#define MLU270_ST_NO_ENGINE         4
#define MLU270_ST_DMA_ERROR         5
#define MLU270_ST_ABORTED           6
#define MLU270_ST_BAD_ARGS          7
#define MLU270_ST_BAD_QUEUE         8

#endif /* MLU270_REGS_H */
