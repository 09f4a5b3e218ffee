/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * User ABI of the MLU270 job nodes: /dev/mlu270-pf<n> (the whole card,
 * "native", while no VF is enabled) and /dev/mlu270-vf<n> (a VF's slice).
 * The PCI device's "job_node" sysfs attribute names its node.
 *
 * Documentation/accel/mlu270/job-uapi.rst describes it; the drivers' view
 * of the same layouts is drivers/accel/mlu270/common/uapi.rs.
 */
#ifndef _UAPI_MISC_MLU270_H
#define _UAPI_MISC_MLU270_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MLU270_ABI_VERSION	2

/* Operations (the device's opcodes). */
#define MLU270_OP_NOP		0x00
#define MLU270_OP_DMA_H2D	0x01	/* kernel only */
#define MLU270_OP_DMA_D2H	0x02	/* kernel only */
#define MLU270_OP_IPU_MEMCPY	0x10
#define MLU270_OP_IPU_FILL	0x11
#define MLU270_OP_IPU_CRC32	0x12
#define MLU270_OP_IPU_MATMUL_I8	0x13
#define MLU270_OP_VPU_DELTA_ENC	0x20
#define MLU270_OP_VPU_DELTA_DEC	0x21
#define MLU270_OP_JPU_ZIGZAG	0x30
#define MLU270_OP_JPU_UNZIGZAG	0x31

/* Job status: the device's codes, then the driver's. */
#define MLU270_STATUS_OK		0
#define MLU270_STATUS_BAD_OPCODE	1
#define MLU270_STATUS_BAD_LEN		2
#define MLU270_STATUS_OUT_OF_SLICE	3
#define MLU270_STATUS_NO_ENGINE		4
#define MLU270_STATUS_DMA_ERROR		5
#define MLU270_STATUS_ABORTED		6
#define MLU270_STATUS_BAD_ARGS		7
#define MLU270_STATUS_RESET		0x100	/* function reset before completion */
#define MLU270_STATUS_QUEUE_ERROR	0x101	/* the queue stopped */
#define MLU270_STATUS_GONE		0x102	/* the driver unbound */
#define MLU270_STATUS_BAD_RECORD	0x103	/* bad completion record */

#define MLU270_MAX_LEN		(16u << 20)

struct mlu270_info {
	__u32 abi_version;	/* MLU270_ABI_VERSION */
	__u32 function;		/* 0: PF (whole card); 1 + i: VF i */
	__u32 quarters;		/* slice size in quarters of the card */
	__u32 protocol_version;	/* mailbox protocol (VF), 0 on the PF */
	__u32 ipu_mask;
	__u32 vpu_mask;
	__u32 jpu_mask;
	__u32 mem_mb;		/* size of the memory window */
	__u32 ring_slots;
	__u32 max_jobs;		/* jobs an open file may have not waited for */
	__u32 max_len;		/* MLU270_MAX_LEN */
	__u32 resets;		/* changes at every reset of the function */
	__u64 reserved[2];
};

/* Device addresses are offsets in the function's memory window. */
struct mlu270_job {
	__u32 opcode;
	__u32 flags;		/* must be 0 */
	__u64 src;
	__u64 dst;
	__u64 aux;		/* matrix B of IPU_MATMUL_I8 */
	__u32 len;
	__u32 arg0;
	__u32 arg1;
	__u32 arg2;
	__u64 handle;		/* out: for MLU270_IOCTL_WAIT */
	__u64 reserved;		/* must be 0 */
};

struct mlu270_wait {
	__u64 handle;		/* in */
	__u32 timeout_ms;	/* in: 0 = do not sleep (EAGAIN if not done) */
	__u32 status;		/* out: MLU270_STATUS_* */
	__u64 result;		/* out: CRC-32 of IPU_CRC32, else 0 */
	__u64 duration_ns;	/* out: device time of the job */
};

struct mlu270_xfer {
	__u64 dev_addr;		/* offset in the window */
	__u64 user_addr;	/* user buffer */
	__u64 len;		/* 1..MLU270_MAX_LEN */
	__u64 flags;		/* must be 0 */
};

/*
 * One step of VF @vf's migration, on the PF node only and for an opener
 * with CAP_SYS_ADMIN (Documentation/accel/mlu270/job-uapi.rst). States
 * are numbered as VFIO's enum vfio_device_mig_state.
 */
enum mlu270_vf_mig_op {
	MLU270_VF_MIG_GET_STATE = 1,
	MLU270_VF_MIG_SET_STATE = 2,	/* arg: the state (one VFIO arc) */
	MLU270_VF_MIG_READ = 3,		/* the stream: PRE_COPY*, STOP_COPY */
	MLU270_VF_MIG_WRITE = 4,	/* the stream: RESUMING */
	MLU270_VF_MIG_PRECOPY_INFO = 5,	/* initial_bytes, dirty_bytes */
	MLU270_VF_MIG_STOP_COPY_SIZE = 6, /* initial_bytes */
	MLU270_VF_MIG_LOG_START = 7,	/* addr: {iova, length} pairs; arg: log2 granule */
	MLU270_VF_MIG_LOG_REPORT = 8,	/* addr: bitmap of len bytes from iova */
	MLU270_VF_MIG_LOG_STOP = 9,
};

#define MLU270_VF_MIG_MAX_LEN	(1u << 20)

struct mlu270_vf_mig {
	__u32 vf;		/* VF index */
	__u32 op;		/* enum mlu270_vf_mig_op */
	__u64 addr;		/* user buffer */
	__u64 len;		/* its bytes; out: bytes READ or WRITE moved */
	__u64 iova;		/* LOG_REPORT: IOVA of the first bit */
	__u32 arg;		/* SET_STATE: state; LOG_START: log2 granule */
	__u32 state;		/* out: the VF's migration state (in: 0) */
	__u64 initial_bytes;	/* out (in: 0) */
	__u64 dirty_bytes;	/* out (in: 0) */
	__u64 reserved;		/* must be 0 */
};

#define MLU270_IOCTL_BASE	0xcb
#define MLU270_IOCTL_INFO	_IOR(MLU270_IOCTL_BASE, 0x00, struct mlu270_info)
#define MLU270_IOCTL_SUBMIT	_IOWR(MLU270_IOCTL_BASE, 0x01, struct mlu270_job)
#define MLU270_IOCTL_WAIT	_IOWR(MLU270_IOCTL_BASE, 0x02, struct mlu270_wait)
#define MLU270_IOCTL_WRITE	_IOW(MLU270_IOCTL_BASE, 0x03, struct mlu270_xfer)
#define MLU270_IOCTL_READ	_IOW(MLU270_IOCTL_BASE, 0x04, struct mlu270_xfer)
#define MLU270_IOCTL_VF_MIG	_IOWR(MLU270_IOCTL_BASE, 0x05, struct mlu270_vf_mig)

#endif /* _UAPI_MISC_MLU270_H */
