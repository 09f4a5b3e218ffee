// SPDX-License-Identifier: GPL-2.0
/*
 * mlu270_vfio_mig: the VFIO migration uAPI of mlu270_vfio_pci (the VFIO
 * variant driver of the MLU270's VFs) from userspace, without a VM, in the
 * way of the kernel's tools/testing/selftests/vfio: the process plays QEMU
 * on both ends of a live migration. Both VFs are opened through their VFIO
 * device cdev (/dev/vfio/devices/vfioN), bound to one iommufd and attached
 * to the same IOAS, so a job ring and buffers in this process's memory have
 * the same IOVAs for the source and the target VF: the target goes on with
 * the source's ring where the source stopped, as a migrated VM's VF does.
 *
 *   mlu270_vfio_mig migrate SRC DST     a live migration with a checked job
 *                                       stream (pre-copy rounds, jobs in
 *                                       flight at the stop), then the stream
 *                                       goes on on DST; prints the figures
 *   mlu270_vfio_mig dirty SRC           DMA dirty logging
 *   mlu270_vfio_mig arcs SRC            every arc of the migration FSM
 *   mlu270_vfio_mig flr-stopcopy SRC    VFIO_DEVICE_RESET during STOP_COPY
 *   mlu270_vfio_mig reset-race SRC      VFIO_DEVICE_RESET in a loop racing
 *                                       migration arcs and data fd reads
 *   mlu270_vfio_mig close-resuming DST  the device fd closed in RESUMING
 *   mlu270_vfio_mig corrupt SRC DST     a corrupt stream is refused (EINVAL)
 *   mlu270_vfio_mig mismatch SRC DST    a stream for another VF index or
 *                                       slice is refused (EOPNOTSUPP)
 *
 * SRC and DST are PCI addresses of VFs bound to mlu270_vfio_pci. migrate
 * and corrupt need two VFs of the same index with the same slice (two
 * identically partitioned cards); mismatch needs two that differ in one of
 * them.
 *
 * Output: every line starts with "# " (KTAP diagnostics: the calling suite
 * makes one result of each command). Each check prints "# PASS what" or
 * "# FAIL what (details)"; the last line counts them. Exit 0 if every
 * check passed, 1 if one failed, 2 if the command could not run (usage,
 * a VF that cannot be opened, a precondition the caller did not meet).
 *
 * The expected errnos come from the kernel (drivers/vfio/vfio_main.c,
 * include/linux/vfio.h, include/uapi/linux/vfio.h of Linux 7.3) and from
 * the PF driver's migration service (drivers/accel/mlu270/pf/migration.rs);
 * each check says which.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/types.h>
#include <linux/vfio.h>

/*
 * The build machine's <linux/vfio.h> is Linux 6.1's and it has no
 * <linux/iommufd.h>: what this program needs of newer kernels is defined
 * here, as Linux 7.3's include/uapi/linux/vfio.h and iommufd.h define it.
 */
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#endif

#ifndef IOMMUFD_TYPE
#define IOMMUFD_TYPE (';')
#endif
#ifndef IOMMU_IOAS_ALLOC
#define IOMMUFD_CMD_IOAS_ALLOC 0x81
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)
#endif
#ifndef IOMMU_IOAS_MAP
#define IOMMUFD_CMD_IOAS_MAP 0x85
enum iommufd_ioas_map_flags {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};
struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)
#endif

#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32		argsz;
	__u32		flags;
#define VFIO_DEVICE_BIND_FLAG_TOKEN (1 << 0)
	__s32		iommufd;
	__u32		out_devid;
	__aligned_u64	token_uuid_ptr;
};

#define VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)
#endif
#ifndef VFIO_DEVICE_ATTACH_IOMMUFD_PT
struct vfio_device_attach_iommufd_pt {
	__u32	argsz;
	__u32	flags;
#define VFIO_DEVICE_ATTACH_PASID	(1 << 0)
	__u32	pt_id;
	__u32	pasid;
};

#define VFIO_DEVICE_ATTACH_IOMMUFD_PT		_IO(VFIO_TYPE, VFIO_BASE + 19)
#endif
#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY		(1 << 2)
/* enum vfio_device_mig_state's later values (an enum cannot be extended) */
#define VFIO_DEVICE_STATE_PRE_COPY	6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P	7
#define VFIO_DEVICE_STATE_NR		8
#endif
#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
#define VFIO_PRECOPY_INFO_REINIT (1 << 0) /* output - new initial data is present */
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};

#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
struct vfio_device_feature_mig_data_size {
	__aligned_u64 stop_copy_length;
};

#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif

/* The VF's registers, descriptors and records (hardware.rst). */
#define REG_MAGIC		0x0000
#define  MAGIC_VALUE		0x4d4c5532
#define REG_FUNC_INFO		0x0008
#define REG_SCRATCH		0x000c
#define REG_SLICE_IPU		0x0020
#define REG_SLICE_VPU		0x0024
#define REG_SLICE_JPU		0x0028
#define REG_SLICE_MEM_MB	0x002c
#define REG_INT_STATUS		0x0040
#define REG_INT_ENABLE		0x0044
#define REG_Q_BASE_LO		0x0100
#define REG_Q_BASE_HI		0x0104
#define REG_Q_SIZE		0x0108
#define REG_Q_HEAD		0x010c
#define REG_Q_TAIL		0x0110
#define REG_Q_CTRL		0x0114
#define  Q_CTRL_ENABLE		0x1
#define REG_Q_STATUS		0x0118
#define  Q_STATUS_ENABLED	0x1
#define  Q_STATUS_STOPPED	0x4
#define REG_Q_ERROR		0x011c
#define REG_CQ_BASE_LO		0x0120
#define REG_CQ_BASE_HI		0x0124
#define REG_Q_DONE		0x0128

#define OP_DMA_H2D		0x01
#define OP_DMA_D2H		0x02
#define OP_IPU_CRC32		0x12

struct mlu270_desc {
	uint32_t opcode;
	uint32_t flags;
	uint64_t tag;
	uint64_t src;
	uint64_t dst;
	uint64_t aux;
	uint32_t len;
	uint32_t arg0;
	uint32_t arg1;
	uint32_t arg2;
	uint64_t reserved;
};
_Static_assert(sizeof(struct mlu270_desc) == 64, "descriptor layout");

struct mlu270_record {
	uint64_t tag;
	uint32_t status;
	uint32_t seq;
	uint64_t result;
	uint64_t duration_ns;
};
_Static_assert(sizeof(struct mlu270_record) == 32, "record layout");

#define KiB			1024u
#define MiB			(1024u * KiB)
#define PAGE			4096u

/*
 * Device memory of the VF (offsets in its window; every slice of a card
 * split four ways has 64 MiB, this needs 16): a 4 MiB pattern P, the
 * copy jobs' 64 KiB blocks B[a], a block for smoke tests.
 */
#define DEV_P			0u
#define P_LEN			(4 * MiB)
#define DEV_B			(8 * MiB)
#define PAIR_LEN		(64 * KiB)
#define NPAIRS			24
#define DEV_SMOKE		(12 * MiB)
#define MIN_SLICE_MB		16u

/*
 * Host memory: one arena, mapped into the IOAS once; the IOVA of a byte is
 * arena_iova plus its offset. Three rings: the migrating job stream's and
 * one scratch ring per VF for smoke tests.
 */
#define RING_SLOTS		512u
#define RING_BYTES		(64 * KiB)	/* SQ 32 KiB, CQ 16 KiB */
#define A_RING(i)		((i) * RING_BYTES)
#define A_DIRTY			(256 * KiB)	/* 64 pages for the dirty log */
#define DIRTY_PAGES		64u
#define A_SMOKE_SRC		(512 * KiB)
#define A_SMOKE_DST		(576 * KiB)
#define A_P_SRC			(1 * MiB)
#define A_P_READ		(5 * MiB)
#define A_S			(9 * MiB)	/* sources of the copy pairs */
#define A_R			(11 * MiB)	/* their destinations */
#define A_B_READ		(13 * MiB)
#define ARENA_LEN		(16 * MiB)

/* The bytes the job stream's VF holds before pre-copy: P and B[0..7]. */
#define CONTENT_BYTES		(P_LEN + 8 * PAIR_LEN)

#define TAG(j)			(0x4d49470000000000ull | (j))	/* "MIG" */
#define SCRATCH_VALUE		0x6d696721u
#define WAIT_MS			60000
#define IOBUF_LEN		(1 * MiB)
#define MAX_STREAM		(300ull * MiB)

static unsigned int n_checks, n_failed;

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "?";
}

/* One check: "# PASS ..." or "# FAIL ..."; returns ok. */
__attribute__((format(printf, 2, 3)))
static bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	n_checks++;
	if (!ok)
		n_failed++;
	printf("# %s ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return ok;
}

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("#   ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* The command cannot go on: a setup step failed (exit 2). */
__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	printf("# ERROR: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (%u checks before, %u failed)\n", n_checks, n_failed);
	exit(2);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* CRC-32 as zlib's crc32(0, p, len) (the card's IPU_CRC32). */
static uint32_t crc32_of(const uint8_t *p, size_t len)
{
	static uint32_t table[256];
	uint32_t c = 0xffffffffu;
	size_t i;

	if (!table[1]) {
		for (uint32_t n = 0; n < 256; n++) {
			uint32_t v = n;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[n] = v;
		}
	}
	for (i = 0; i < len; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* A pattern that differs per seed and per 32-bit word, never all zero. */
static uint32_t pattern_word(uint32_t seed, uint32_t i)
{
	uint32_t x = (seed + 1) * 0x9e3779b9u ^ (i + 1) * 0x85ebca6bu;

	x ^= x >> 15;
	x *= 0x2c1b3c6du;
	x ^= x >> 12;
	return x | 1;
}

static void pattern_fill(void *buf, size_t len, uint32_t seed)
{
	uint32_t *w = buf;

	for (size_t i = 0; i < len / 4; i++)
		w[i] = pattern_word(seed, i);
}

/* Index of the first word of buf that is not the pattern, or -1. */
static long pattern_diff(const void *buf, size_t len, uint32_t seed)
{
	const uint32_t *w = buf;

	for (size_t i = 0; i < len / 4; i++)
		if (w[i] != pattern_word(seed, i))
			return (long)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* iommufd, the IOAS and the arena                                     */

static int iommufd = -1;
static uint32_t ioas_id;
static uint8_t *arena;
static uint64_t arena_iova;

#define IOVA(p)		(arena_iova + (uint64_t)((const uint8_t *)(p) - arena))
#define AT(off)		((void *)(arena + (off)))

static void iommu_setup(void)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0)
		die("/dev/iommu: %s", errname(errno));
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		die("IOMMU_IOAS_ALLOC: %s", errname(errno));
	ioas_id = alloc.out_ioas_id;
}

/*
 * Maps the arena into the IOAS, at an IOVA the kernel picks: after the
 * devices are attached, so that it avoids their reserved regions (a
 * mapping in one would make a later attach fail).
 */
static void arena_map(void)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.length = ARENA_LEN,
	};

	arena = mmap(NULL, ARENA_LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (arena == MAP_FAILED)
		die("mmap of the arena: %s", errname(errno));
	memset(arena, 0, ARENA_LEN);
	map.user_va = (uintptr_t)arena;
	if (ioctl(iommufd, IOMMU_IOAS_MAP, &map))
		die("IOMMU_IOAS_MAP: %s", errname(errno));
	arena_iova = map.iova;
}

/* ------------------------------------------------------------------ */
/* A VF through its VFIO device cdev                                   */

struct dev {
	const char *bdf;
	const char *name;	/* "SRC", "DST" */
	int fd;
	volatile uint32_t *bar0;
	uint64_t bar0_size, bar0_off, cfg_off;
	uint32_t fn, ipu, vpu, jpu, mem_mb;
};

static uint32_t rd(struct dev *d, uint32_t off)
{
	uint32_t v = 0xffffffffu;

	if (d->bar0)
		return d->bar0[off / 4];
	if (pread(d->fd, &v, 4, d->bar0_off + off) != 4)
		return 0xffffffffu;
	return v;
}

static void wr(struct dev *d, uint32_t off, uint32_t v)
{
	if (d->bar0) {
		d->bar0[off / 4] = v;
		return;
	}
	if (pwrite(d->fd, &v, 4, d->bar0_off + off) != 4)
		note("%s: BAR 0 write at 0x%x failed: %s", d->name, off, errname(errno));
}

/* Memory decoding and bus mastering on, as QEMU restores a VF's command
 * register (config space is not in the device's migration stream). */
static void pci_enable(struct dev *d)
{
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;

	if (pwrite(d->fd, &cmd, 2, d->cfg_off + PCI_COMMAND) != 2)
		die("%s: writing the command register: %s", d->name, errname(errno));
}

static void cdev_path(struct dev *d, char *path, size_t len)
{
	char dir[256];
	struct dirent *e;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", d->bdf);
	dp = opendir(dir);
	if (!dp)
		die("%s: %s: %s (not bound to a VFIO driver with the device cdev?)",
		    d->name, dir, errname(errno));
	path[0] = '\0';
	while ((e = readdir(dp)))
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(path, len, "/dev/vfio/devices/%s", e->d_name);
			break;
		}
	closedir(dp);
	if (!path[0])
		die("%s: no vfio device in %s", d->name, dir);
}

static int region(struct dev *d, uint32_t index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, ri);
}

/* Opens the VF's cdev, binds it to the iommufd, attaches it to the IOAS
 * and maps BAR 0 (pread/pwrite if the region cannot be mmapped). */
static void dev_open(struct dev *d)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .flags = 0 };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach), .flags = 0 };
	struct vfio_region_info ri;
	char path[300];
	void *p;

	cdev_path(d, path, sizeof(path));
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		die("%s: open %s: %s", d->name, path, errname(errno));
	bind.iommufd = iommufd;
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		die("%s: VFIO_DEVICE_BIND_IOMMUFD: %s", d->name, errname(errno));
	attach.pt_id = ioas_id;
	if (ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		die("%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", d->name, errname(errno));
	if (region(d, VFIO_PCI_CONFIG_REGION_INDEX, &ri))
		die("%s: config region: %s", d->name, errname(errno));
	d->cfg_off = ri.offset;
	if (region(d, VFIO_PCI_BAR0_REGION_INDEX, &ri) || ri.size < 0x200)
		die("%s: BAR 0 region: %s, %llu bytes", d->name, errname(errno),
		    (unsigned long long)ri.size);
	d->bar0_off = ri.offset;
	d->bar0_size = ri.size;
	d->bar0 = NULL;
	if (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		p = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, ri.offset);
		if (p != MAP_FAILED)
			d->bar0 = p;
	}
	pci_enable(d);
	if (rd(d, REG_MAGIC) != MAGIC_VALUE)
		die("%s: BAR 0 MAGIC reads 0x%08x", d->name, rd(d, REG_MAGIC));
	d->fn = rd(d, REG_FUNC_INFO) & 0xff;
	d->ipu = rd(d, REG_SLICE_IPU);
	d->vpu = rd(d, REG_SLICE_VPU);
	d->jpu = rd(d, REG_SLICE_JPU);
	d->mem_mb = rd(d, REG_SLICE_MEM_MB);
	if (!d->ipu || d->mem_mb < MIN_SLICE_MB)
		die("%s (%s): its slice (IPU 0x%x, %u MiB) needs IPU cores and %u MiB",
		    d->name, d->bdf, d->ipu, d->mem_mb, MIN_SLICE_MB);
}

/* Closes the device: the BAR mapping holds the file too, so it goes
 * first; the last reference makes VFIO close the device. */
static void dev_close(struct dev *d)
{
	if (d->bar0)
		munmap((void *)d->bar0, d->bar0_size);
	d->bar0 = NULL;
	close(d->fd);
	d->fd = -1;
}

/* ------------------------------------------------------------------ */
/* VFIO_DEVICE_FEATURE and the migration states                        */

static const char *const state_names[] = {
	[VFIO_DEVICE_STATE_ERROR] = "ERROR",
	[VFIO_DEVICE_STATE_STOP] = "STOP",
	[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
	[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
	[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
	[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
	[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
};

static const char *sname(int s)
{
	static char buf[4][24];
	static int i;

	if (s >= 0 && s < (int)(sizeof(state_names) / sizeof(state_names[0])))
		return state_names[s];
	i = (i + 1) % 4;
	if (s < 0)
		snprintf(buf[i], sizeof(buf[i]), "(GET failed: %s)", errname(-s));
	else
		snprintf(buf[i], sizeof(buf[i]), "state %d", s);
	return buf[i];
}

/*
 * VFIO_DEVICE_FEATURE with FLAGS (feature index | GET/SET/PROBE) and LEN
 * bytes of DATA (in and out). Returns 0 or -errno.
 */
static int feature(struct dev *d, uint32_t flags, void *data, size_t len)
{
	uint64_t buf[(sizeof(struct vfio_device_feature) + 64) / 8];
	struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
	int r;

	if (len > 64)
		die("feature data of %zu bytes", len);
	memset(buf, 0, sizeof(buf));
	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	if (len)
		memcpy(f->data, data, len);
	r = ioctl(d->fd, VFIO_DEVICE_FEATURE, f);
	if (r)
		return -errno;
	if (len)
		memcpy(data, f->data, len);
	return 0;
}

/* The migration state, or -errno. */
static int get_state(struct dev *d)
{
	struct vfio_device_feature_mig_state mig = { .data_fd = -1 };
	int r = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			&mig, sizeof(mig));

	return r ? r : (int)mig.device_state;
}

/* SET the migration state; *data_fd gets the new session's fd or -1.
 * Returns 0 or -errno. */
static int set_state(struct dev *d, uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state mig = { .device_state = state, .data_fd = -1 };
	int r = feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			&mig, sizeof(mig));

	*data_fd = r ? -1 : mig.data_fd;
	return r;
}

/* SET a state that must be reached without a new data fd; one check. */
static bool go(struct dev *d, uint32_t state)
{
	int fd, r = set_state(d, state, &fd), now = get_state(d);
	bool ok = !r && fd == -1 && now == (int)state;

	check(ok, "%s: -> %s (SET %s, data_fd %d, GET %s)", d->name, sname(state),
	      errname(-r), fd, sname(now));
	if (fd >= 0)
		close(fd);
	return ok;
}

/* SET a state that starts a data transfer session: a new data fd. */
static int go_session(struct dev *d, uint32_t state)
{
	int fd, r = set_state(d, state, &fd), now = get_state(d);
	bool ok = !r && fd >= 0 && now == (int)state;

	check(ok, "%s: -> %s returns a new data fd (SET %s, data_fd %d, GET %s)", d->name,
	      sname(state), errname(-r), fd, sname(now));
	if (!ok && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* VFIO_DEVICE_RESET (an FLR): any migration state becomes RUNNING. */
static bool reset_running(struct dev *d, const char *why)
{
	int r = ioctl(d->fd, VFIO_DEVICE_RESET) ? errno : 0;
	int now = get_state(d);

	/* (vfio-pci restores config space after the FLR; to be sure) */
	pci_enable(d);
	return check(!r && now == VFIO_DEVICE_STATE_RUNNING,
		     "%s: VFIO_DEVICE_RESET (%s) gives RUNNING (reset %s, GET %s)", d->name, why,
		     errname(r), sname(now));
}

/* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, or -errno. */
static int64_t data_size(struct dev *d)
{
	struct vfio_device_feature_mig_data_size ds = { 0 };
	int r = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
			&ds, sizeof(ds));

	return r ? r : (int64_t)ds.stop_copy_length;
}

/* VFIO_MIG_GET_PRECOPY_INFO on a data fd; 0 or errno. */
static int precopy_info(int fd, uint32_t argsz, struct vfio_precopy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = argsz;
	return ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, info) ? errno : 0;
}

/* The device reports migration with exactly the three flags. */
static void check_migration_flags(struct dev *d)
{
	struct vfio_device_feature_migration mig = { 0 };
	uint64_t want = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY;
	int r = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig,
			sizeof(mig));

	check(!r && mig.flags == want,
	      "%s: VFIO_DEVICE_FEATURE_MIGRATION: STOP_COPY | P2P | PRE_COPY (%s, flags 0x%llx)",
	      d->name, errname(-r), (unsigned long long)mig.flags);
}

/* ------------------------------------------------------------------ */
/* Data streams                                                        */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die("out of memory for %zu bytes of stream", b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static uint8_t iobuf[IOBUF_LEN];

/*
 * Reads a pre-copy round: until read() fails with ENOMSG, the temporary end
 * of the stream (include/uapi/linux/vfio.h, VFIO_MIG_GET_PRECOPY_INFO: "When
 * read() is done on this temporary end of stream the kernel driver should
 * return ENOMSG"). 0 is the permanent end of STOP_COPY, never of pre-copy.
 * Returns the bytes read, -1 after a failed check.
 */
static long long read_round(int fd, struct buf *out, const char *what)
{
	long long n = 0;

	for (;;) {
		ssize_t r = read(fd, iobuf, sizeof(iobuf));

		if (r > 0) {
			buf_add(out, iobuf, r);
			n += r;
			if ((unsigned long long)n > MAX_STREAM) {
				check(false, "%s: a pre-copy round of more than %llu bytes", what,
				      MAX_STREAM);
				return -1;
			}
			continue;
		}
		if (r == 0) {
			check(false, "%s: read() returned 0 in pre-copy after %lld bytes (the temporary end is ENOMSG)",
			      what, n);
			return -1;
		}
		if (errno == ENOMSG)
			return n;
		check(false, "%s: read() failed after %lld bytes: %s", what, n, errname(errno));
		return -1;
	}
}

/* Reads STOP_COPY's data to its end (read() = 0; ENOMSG "may not be
 * returned in STOP_COPY"). Returns the bytes, -1 after a failed check. */
static long long read_to_eof(int fd, struct buf *out, const char *what)
{
	long long n = 0;

	for (;;) {
		ssize_t r = read(fd, iobuf, sizeof(iobuf));

		if (r == 0)
			return n;
		if (r < 0) {
			check(false, "%s: read() failed after %lld bytes: %s", what, n,
			      errname(errno));
			return -1;
		}
		if (out)
			buf_add(out, iobuf, r);
		n += r;
		if ((unsigned long long)n > MAX_STREAM) {
			check(false, "%s: more than %llu bytes", what, MAX_STREAM);
			return -1;
		}
	}
}

/*
 * Writes the stream in pieces of CHUNK bytes (the user need not keep the
 * source's segmentation). Returns 0, or the errno of the first failing
 * write with *at the stream offset where it failed.
 */
static int write_stream(int fd, const uint8_t *p, size_t len, size_t chunk, size_t *at)
{
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		ssize_t r = write(fd, p + done, n);

		if (r < 0) {
			*at = done;
			return errno;
		}
		if (r == 0) {
			*at = done;
			return EIO;
		}
		done += r;
	}
	*at = done;
	return 0;
}

/* A write() that the refused or ended session must fail with ENODEV. */
static void check_stale_fd(int fd, bool reading, const char *what)
{
	uint8_t byte = 0;
	ssize_t r = reading ? read(fd, iobuf, 4096) : write(fd, &byte, 1);
	int e = r < 0 ? errno : 0;

	check(r < 0 && e == ENODEV, "%s: %s() on the old data fd fails with ENODEV (got %zd, %s)",
	      what, reading ? "read" : "write", r, errname(e));
}

/* ------------------------------------------------------------------ */
/* Job rings                                                           */

struct job {
	uint32_t opcode;
	uint32_t crc;	/* the result a CRC job must report */
	int pair;	/* a D2H that ends copy pair a: R[a] must hold pattern a */
};

struct ring {
	const char *name;
	struct mlu270_desc *sq;
	struct mlu270_record *cq;
	uint32_t tail;	/* descriptors written; the ring never wraps */
	uint32_t rung;	/* descriptors handed to the device (Q_TAIL) */
	struct job job[RING_SLOTS];
};

/* Ring 0 carries the migrating job stream; 1 and 2 are scratch rings. */
static struct ring rings[3] = { { .name = "stream" }, { .name = "scratch 1" },
				{ .name = "scratch 2" } };
static uint32_t crc_p;

static void ring_init(void)
{
	for (int i = 0; i < 3; i++) {
		rings[i].sq = AT(A_RING(i));
		rings[i].cq = AT(A_RING(i) + RING_SLOTS * sizeof(struct mlu270_desc));
	}
	pattern_fill(AT(A_P_SRC), P_LEN, 0x50);
	crc_p = crc32_of(AT(A_P_SRC), P_LEN);
	for (int a = 0; a < NPAIRS; a++)
		pattern_fill(AT(A_S + a * PAIR_LEN), PAIR_LEN, a);
	pattern_fill(AT(A_SMOKE_SRC), 64 * KiB, 0x5e);
}

/* Programs VF d's queue with ring r, empty; the records are poisoned so
 * that a record the device did not write is seen. */
static bool ring_start(struct dev *d, struct ring *r)
{
	uint64_t sq = IOVA(r->sq), cq = IOVA(r->cq);
	uint32_t st;

	memset(r->sq, 0, RING_SLOTS * sizeof(*r->sq));
	memset(r->cq, 0xff, RING_SLOTS * sizeof(*r->cq));
	memset(r->job, 0, sizeof(r->job));
	r->tail = r->rung = 0;
	wr(d, REG_Q_CTRL, 0);
	wr(d, REG_INT_ENABLE, 0);
	wr(d, REG_INT_STATUS, ~0u);
	wr(d, REG_Q_BASE_LO, (uint32_t)sq);
	wr(d, REG_Q_BASE_HI, (uint32_t)(sq >> 32));
	wr(d, REG_CQ_BASE_LO, (uint32_t)cq);
	wr(d, REG_CQ_BASE_HI, (uint32_t)(cq >> 32));
	wr(d, REG_Q_SIZE, RING_SLOTS);
	wr(d, REG_Q_CTRL, Q_CTRL_ENABLE);
	st = rd(d, REG_Q_STATUS);
	if (!(st & Q_STATUS_ENABLED) || rd(d, REG_Q_DONE) != 0)
		return check(false, "%s: the %s ring enables (Q_STATUS 0x%x, Q_ERROR %u)", d->name,
			     r->name, st, rd(d, REG_Q_ERROR));
	return true;
}

static void q_job(struct ring *r, uint32_t op, uint64_t src, uint64_t dst, uint32_t len,
		  uint32_t crc, int pair)
{
	uint32_t j = r->tail;

	if (j >= RING_SLOTS - 1)
		die("the %s ring is full", r->name);
	r->sq[j] = (struct mlu270_desc){
		.opcode = op, .tag = TAG(j), .src = src, .dst = dst, .len = len,
	};
	r->job[j] = (struct job){ .opcode = op, .crc = crc, .pair = pair };
	r->tail++;
}

/* Copy pair a: S[a] -> B[a] on the device -> R[a]. */
static void q_pair(struct ring *r, int a)
{
	memset(AT(A_R + a * PAIR_LEN), 0, PAIR_LEN);
	q_job(r, OP_DMA_H2D, IOVA(AT(A_S + a * PAIR_LEN)), DEV_B + a * PAIR_LEN, PAIR_LEN, 0, -1);
	q_job(r, OP_DMA_D2H, DEV_B + a * PAIR_LEN, IOVA(AT(A_R + a * PAIR_LEN)), PAIR_LEN, 0, a);
}

static void q_crc_p(struct ring *r)
{
	q_job(r, OP_IPU_CRC32, DEV_P, 0, P_LEN, crc_p, -1);
}

static void doorbell(struct dev *d, struct ring *r)
{
	/* the descriptors must be in memory before the device fetches them */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(d, REG_Q_TAIL, r->tail);
	r->rung = r->tail;
}

/* Waits until VF d's Q_DONE counts every descriptor rung (the device
 * writes a record before Q_DONE counts it); false, reported, if the queue
 * stopped or WAIT_MS passed. */
static bool ring_wait(struct dev *d, struct ring *r)
{
	double end = now_ms() + WAIT_MS;
	uint32_t done = 0, st = 0;

	for (;;) {
		st = rd(d, REG_Q_STATUS);
		done = rd(d, REG_Q_DONE);
		if (done >= r->rung || (st & Q_STATUS_STOPPED) || now_ms() > end)
			break;
		usleep(1000);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (done == r->rung && !(st & Q_STATUS_STOPPED))
		return true;
	return check(false, "%s: the %s ring's %u jobs complete (Q_DONE %u, Q_STATUS 0x%x, Q_ERROR %u)",
		     d->name, r->name, r->rung, done, st, rd(d, REG_Q_ERROR));
}

static bool record_done(struct ring *r, uint32_t j)
{
	return __atomic_load_n(&r->cq[j].tag, __ATOMIC_ACQUIRE) == TAG(j);
}

/*
 * Checks jobs [from, to) of ring r: each has its record (its own tag), OK,
 * seq = its position + 1 (Q_DONE after it: a job run twice or lost shifts
 * every later seq), the right result (CRC, else 0) and, for the D2H of a
 * copy pair, the pair's pattern in R[a]. One check.
 */
static bool ring_verify(struct ring *r, uint32_t from, uint32_t to, const char *what)
{
	unsigned int bad = 0;

	for (uint32_t j = from; j < to; j++) {
		struct mlu270_record rec = r->cq[j];
		struct job *job = &r->job[j];
		uint64_t result = job->opcode == OP_IPU_CRC32 ? job->crc : 0;
		long diff = -1;

		if (job->pair >= 0 && rec.status == 0)
			diff = pattern_diff(AT(A_R + job->pair * PAIR_LEN), PAIR_LEN, job->pair);
		if (rec.tag == TAG(j) && rec.status == 0 && rec.seq == j + 1 &&
		    rec.result == result && diff < 0)
			continue;
		if (bad++ < 4)
			note("job %u (op 0x%x): tag 0x%llx status %u seq %u result 0x%llx (want 0x%llx)%s",
			     j, job->opcode, (unsigned long long)rec.tag, rec.status, rec.seq,
			     (unsigned long long)rec.result, (unsigned long long)result,
			     diff >= 0 ? ", wrong data" : "");
	}
	return check(!bad, "%s: jobs %u..%u each completed once, in order, OK, with the right result and data (%u bad)",
		     what, from, to ? to - 1 : 0, bad);
}

/* The VF runs a checked copy on scratch ring r (a new queue). */
static bool smoke(struct dev *d, struct ring *r, const char *what)
{
	uint8_t *dst = AT(A_SMOKE_DST);

	memset(dst, 0, 64 * KiB);
	if (!ring_start(d, r))
		return false;
	q_job(r, OP_DMA_H2D, IOVA(AT(A_SMOKE_SRC)), DEV_SMOKE, 64 * KiB, 0, -1);
	q_job(r, OP_DMA_D2H, DEV_SMOKE, IOVA(dst), 64 * KiB, 0, -1);
	doorbell(d, r);
	if (!ring_wait(d, r))
		return false;
	return check(r->cq[0].status == 0 && r->cq[1].status == 0 && r->cq[1].seq == 2 &&
		     pattern_diff(dst, 64 * KiB, 0x5e) < 0,
		     "%s: %s runs a checked copy (status %u/%u)", d->name, what, r->cq[0].status,
		     r->cq[1].status);
}

/* ------------------------------------------------------------------ */
/* The source side of a live migration                                 */

struct saved {
	struct buf stream;
	long long pre_bytes, stop_bytes;
	int64_t stop_estimate;
	int rounds;
	uint32_t done_at_stop, queued_at_stop;
	double t_stop;		/* when the VF stopped (-> PRE_COPY_P2P) */
	struct mlu270_record *cq_at_stop;
	uint8_t *r_at_stop;
};

/*
 * SRC runs a checked job stream on ring 0 and is migrated out of it:
 * RUNNING -> PRE_COPY (two rounds, the second after jobs wrote device
 * memory) -> PRE_COPY_P2P with jobs still queued -> STOP_COPY (read to
 * the end) -> STOP. The stream is in s->stream. False if the source side
 * failed so badly that loading makes no sense.
 */
static bool save_source(struct dev *src, struct saved *s)
{
	struct ring *r = &rings[0];
	struct vfio_precopy_info info;
	int64_t est;
	int fd, e;

	memset(s, 0, sizeof(*s));
	check_migration_flags(src);
	check(get_state(src) == VFIO_DEVICE_STATE_RUNNING, "SRC: the VF starts in RUNNING (%s)",
	      sname(get_state(src)));

	/* The content that pre-copy must move: P and B[0..7]. */
	if (!ring_start(src, r))
		return false;
	q_job(r, OP_DMA_H2D, IOVA(AT(A_P_SRC)), DEV_P, P_LEN, 0, -1);
	for (int a = 0; a < 8; a++)
		q_pair(r, a);
	doorbell(src, r);
	if (!ring_wait(src, r) || !ring_verify(r, 0, r->tail, "SRC before the migration"))
		return false;
	wr(src, REG_SCRATCH, SCRATCH_VALUE);

	est = data_size(src);
	check(est >= CONTENT_BYTES,
	      "SRC: MIG_DATA_SIZE in RUNNING covers the VF's %u bytes of content (%lld)",
	      CONTENT_BYTES, (long long)est);

	fd = go_session(src, VFIO_DEVICE_STATE_PRE_COPY);
	if (fd < 0)
		return false;

	/* vfio_check_precopy_ioctl(): argsz below dirty_bytes' end is EINVAL */
	e = precopy_info(fd, offsetof(struct vfio_precopy_info, dirty_bytes), &info);
	check(e == EINVAL, "SRC: VFIO_MIG_GET_PRECOPY_INFO with a short argsz: EINVAL (%s)",
	      errname(e));
	/*
	 * Before any read, the first round is initial data (uAPI:
	 * "initial_bytes reflects the estimated data size until the
	 * initial phase is done", which QEMU waits for before it stops the
	 * VM): at least the VF's content, and nothing of it is dirty data.
	 */
	e = precopy_info(fd, sizeof(info), &info);
	check(!e && info.initial_bytes >= CONTENT_BYTES && info.dirty_bytes == 0,
	      "SRC: PRECOPY_INFO before any read: the content is initial_bytes (>= %u), dirty_bytes 0 (%s, initial %llu, dirty %llu)",
	      CONTENT_BYTES, errname(e), (unsigned long long)info.initial_bytes,
	      (unsigned long long)info.dirty_bytes);

	s->pre_bytes = read_round(fd, &s->stream, "SRC pre-copy round 1");
	check(s->pre_bytes >= CONTENT_BYTES,
	      "SRC: pre-copy round 1 carries the content (%lld bytes, then ENOMSG)", s->pre_bytes);
	e = precopy_info(fd, sizeof(info), &info);
	check(!e && !info.initial_bytes && !info.dirty_bytes,
	      "SRC: the first round read to its temporary end: initial_bytes 0, dirty_bytes 0 (%s, initial %llu, dirty %llu)",
	      errname(e), (unsigned long long)info.initial_bytes,
	      (unsigned long long)info.dirty_bytes);
	check(read_round(fd, &s->stream, "SRC idle pre-copy") == 0,
	      "SRC: an idle VF's next read() is ENOMSG at once");

	/* Jobs while pre-copying write B[8..11]: the next round has them. */
	for (int a = 8; a < 12; a++)
		q_pair(r, a);
	doorbell(src, r);
	if (!ring_wait(src, r) || !ring_verify(r, 0, r->tail, "SRC during pre-copy"))
		return false;
	e = precopy_info(fd, sizeof(info), &info);
	check(!e && !info.initial_bytes && info.dirty_bytes >= 4 * PAIR_LEN,
	      "SRC: PRECOPY_INFO counts the pages jobs wrote as dirty_bytes, initial_bytes stays 0 (%s, initial %llu, dirty %llu)",
	      errname(e), (unsigned long long)info.initial_bytes,
	      (unsigned long long)info.dirty_bytes);
	{
		long long n = read_round(fd, &s->stream, "SRC pre-copy round 2");

		check(n >= 4 * PAIR_LEN && n < 1 * MiB,
		      "SRC: round 2 carries only what was written since round 1 (%lld bytes)", n);
		s->pre_bytes += n > 0 ? n : 0;
	}
	s->rounds = 2;

	/*
	 * A burst of jobs (32 CRCs of P, 4 MiB each, and 8 copy pairs), and
	 * the VF stops right after the doorbell: most of them are still
	 * queued or running (a CRC of 4 MiB takes 16.8 ms of device time on
	 * a quarter slice, the burst over half a second).
	 */
	for (int i = 0; i < 8; i++) {
		q_crc_p(r);
		q_crc_p(r);
		q_pair(r, 12 + i);
		q_crc_p(r);
		q_crc_p(r);
	}
	doorbell(src, r);
	s->t_stop = now_ms();
	if (!go(src, VFIO_DEVICE_STATE_PRE_COPY_P2P)) {
		close(fd);
		return false;
	}
	for (uint32_t j = 0; j < r->tail; j++)
		s->done_at_stop += record_done(r, j);
	s->queued_at_stop = r->tail - s->done_at_stop;
	check(s->queued_at_stop > 0,
	      "SRC: jobs were queued or running when the VF stopped (%u of %u done)",
	      s->done_at_stop, r->tail);
	/* What the stopped source must leave alone (no DMA in STOP). */
	s->cq_at_stop = malloc(RING_SLOTS * sizeof(struct mlu270_record));
	s->r_at_stop = malloc(NPAIRS * PAIR_LEN);
	if (!s->cq_at_stop || !s->r_at_stop)
		die("out of memory");
	memcpy(s->cq_at_stop, r->cq, RING_SLOTS * sizeof(struct mlu270_record));
	memcpy(s->r_at_stop, AT(A_R), NPAIRS * PAIR_LEN);

	est = data_size(src);
	check(est > 0 && est < CONTENT_BYTES / 2,
	      "SRC: MIG_DATA_SIZE after pre-copy is what is left (%lld < %u)", (long long)est,
	      CONTENT_BYTES / 2);

	/* The saving group shares one session: no new fd for STOP_COPY. */
	if (!go(src, VFIO_DEVICE_STATE_STOP_COPY)) {
		close(fd);
		return false;
	}
	e = precopy_info(fd, sizeof(info), &info);
	check(e == EINVAL, "SRC: PRECOPY_INFO in STOP_COPY: EINVAL (%s)", errname(e));
	s->stop_estimate = data_size(src);
	s->stop_bytes = read_to_eof(fd, &s->stream, "SRC stop-copy");
	check(s->stop_bytes > 0, "SRC: STOP_COPY reads %lld bytes, then read() = 0", s->stop_bytes);
	check(read(fd, iobuf, 4096) == 0, "SRC: read() at the end of STOP_COPY stays 0");
	check(s->stop_bytes > 0 && s->stop_estimate >= s->stop_bytes &&
	      s->stop_estimate <= 2 * s->stop_bytes,
	      "SRC: MIG_DATA_SIZE in STOP_COPY (%lld) estimates the %lld bytes that came",
	      (long long)s->stop_estimate, s->stop_bytes);
	go(src, VFIO_DEVICE_STATE_STOP);
	close(fd);
	return s->stop_bytes > 0 && s->pre_bytes > 0;
}

/* The stopped source did no DMA since it stopped: its records and the
 * copies' destinations are as they were. Waits until the stop is at least
 * 50 ms old (longer than any job of the stream); returns the ms waited. */
static double check_source_quiet(struct saved *s)
{
	double waited = 0, age = now_ms() - s->t_stop;

	if (age < 50) {
		waited = 50 - age;
		sleep_ms((unsigned int)waited + 1);
	}
	check(!memcmp(s->cq_at_stop, rings[0].cq, RING_SLOTS * sizeof(struct mlu270_record)) &&
	      !memcmp(s->r_at_stop, AT(A_R), NPAIRS * PAIR_LEN),
	      "SRC: no DMA after the stop (records and data as at the stop, %.0f ms later)",
	      now_ms() - s->t_stop);
	return waited;
}

/* The rest of the job stream after the migration or after the source
 * resumed, and a read-back of all the device memory the stream wrote. */
static void stream_goes_on(struct dev *d, const char *what)
{
	struct ring *r = &rings[0];
	uint32_t first = r->tail;
	char desc[96];
	long diff = -1;
	int a;

	for (a = 20; a < NPAIRS; a++)
		q_pair(r, a);
	q_crc_p(r);
	memset(AT(A_P_READ), 0, P_LEN);
	memset(AT(A_B_READ), 0, NPAIRS * PAIR_LEN);
	q_job(r, OP_DMA_D2H, DEV_P, IOVA(AT(A_P_READ)), P_LEN, 0, -1);
	q_job(r, OP_DMA_D2H, DEV_B, IOVA(AT(A_B_READ)), NPAIRS * PAIR_LEN, 0, -1);
	doorbell(d, r);
	if (!ring_wait(d, r))
		return;
	snprintf(desc, sizeof(desc), "%s: the stream goes on", what);
	ring_verify(r, first, r->tail, desc);
	for (a = 0; a < NPAIRS && diff < 0; a++)
		diff = pattern_diff(AT(A_B_READ + a * PAIR_LEN), PAIR_LEN, a);
	check(pattern_diff(AT(A_P_READ), P_LEN, 0x50) < 0 && diff < 0,
	      "%s: device memory holds P and every copy's block (read back by jobs)", what);
}

/* ------------------------------------------------------------------ */
/* Subcommands                                                         */

static bool same_slot(struct dev *a, struct dev *b)
{
	return a->fn == b->fn && a->ipu == b->ipu && a->vpu == b->vpu && a->jpu == b->jpu &&
	       a->mem_mb == b->mem_mb;
}

static void describe(struct dev *d)
{
	printf("# %s %s: function %u, slice IPU 0x%x VPU 0x%x JPU 0x%x, %u MiB\n", d->name,
	       d->bdf, d->fn, d->ipu, d->vpu, d->jpu, d->mem_mb);
}

static void cmd_migrate(struct dev *src, struct dev *dst)
{
	struct ring *r = &rings[0];
	double waited, t_run;
	struct saved s;
	size_t at;
	int fd, e;

	if (!same_slot(src, dst))
		die("migrate needs two VFs of the same index and slice");
	check_migration_flags(dst);
	check(get_state(dst) == VFIO_DEVICE_STATE_RUNNING, "DST: the VF starts in RUNNING (%s)",
	      sname(get_state(dst)));
	if (!save_source(src, &s))
		return;

	/* The target: RUNNING -> STOP (through RUNNING_P2P) -> RESUMING. */
	if (!go(dst, VFIO_DEVICE_STATE_STOP))
		return;
	fd = go_session(dst, VFIO_DEVICE_STATE_RESUMING);
	if (fd < 0)
		return;
	e = write_stream(fd, s.stream.p, s.stream.len, 100003, &at);
	check(!e, "DST: the whole stream is written (%zu bytes, in 100003-byte writes: %s at %zu)",
	      s.stream.len, errname(e), at);
	pci_enable(dst);
	if (!go(dst, VFIO_DEVICE_STATE_STOP)) {
		close(fd);
		return;
	}
	close(fd);
	waited = check_source_quiet(&s);
	if (!go(dst, VFIO_DEVICE_STATE_RUNNING))
		return;
	t_run = now_ms();

	/* Everything queued on SRC completes on DST, once; the stream goes on. */
	if (!ring_wait(dst, r))
		return;
	check(rd(dst, REG_SCRATCH) == SCRATCH_VALUE && rd(dst, REG_Q_DONE) == r->tail &&
	      rd(dst, REG_Q_HEAD) == r->tail && rd(dst, REG_Q_ERROR) == 0,
	      "DST: registers carried over (SCRATCH 0x%x, Q_DONE %u, Q_HEAD %u of %u, Q_ERROR %u)",
	      rd(dst, REG_SCRATCH), rd(dst, REG_Q_DONE), rd(dst, REG_Q_HEAD), r->tail,
	      rd(dst, REG_Q_ERROR));
	ring_verify(r, 0, r->tail, "DST: every job of SRC's stream");
	stream_goes_on(dst, "DST");
	check(get_state(src) == VFIO_DEVICE_STATE_STOP, "SRC: still in STOP (%s)",
	      sname(get_state(src)));
	reset_running(src, "the migrated-away source");

	printf("# figure: %s -> %s: pre-copy %d rounds, %lld bytes; stop-copy %lld bytes (MIG_DATA_SIZE %lld); stream %zu bytes\n",
	       src->bdf, dst->bdf, s.rounds, s.pre_bytes, s.stop_bytes,
	       (long long)s.stop_estimate, s.stream.len);
	printf("# figure: downtime %.1f ms (SRC stopped -> DST RUNNING, guest clock, less %.1f ms the test waited); jobs at the stop: %u done on SRC, %u queued, completed on DST\n",
	       t_run - s.t_stop - waited, waited, s.done_at_stop, s.queued_at_stop);
}

/*
 * Loads a stream the target must refuse with WANT (at a write or at
 * RESUMING -> STOP); then the target is in ERROR, which only a reset
 * leaves, and the reset VF works.
 */
static void load_refused(struct dev *dst, struct buf *stream, int want)
{
	int fd, e, r, now, dummy;
	const char *where = "write";
	size_t at;

	check(get_state(dst) == VFIO_DEVICE_STATE_RUNNING, "DST: the VF starts in RUNNING (%s)",
	      sname(get_state(dst)));
	if (!go(dst, VFIO_DEVICE_STATE_STOP))
		return;
	fd = go_session(dst, VFIO_DEVICE_STATE_RESUMING);
	if (fd < 0)
		return;
	e = write_stream(fd, stream->p, stream->len, 100003, &at);
	if (!e) {
		where = "RESUMING -> STOP";
		e = -set_state(dst, VFIO_DEVICE_STATE_STOP, &dummy);
		if (dummy >= 0)
			close(dummy);
	}
	check(e == want, "DST: the stream is refused with %s (%s at %s, byte %zu of %zu)",
	      errname(want), errname(e), where, at, stream->len);
	now = get_state(dst);
	check(now == VFIO_DEVICE_STATE_ERROR, "DST: the refused load leaves the VF in ERROR (%s)",
	      sname(now));
	/*
	 * ERROR is left only by VFIO_DEVICE_RESET (uAPI: "To recover from
	 * ERROR VFIO_DEVICE_RESET must be used"): a SET fails with EINVAL,
	 * as vfio_mig_get_next_state() fails for cur = ERROR (without its
	 * WARN: the driver must not call it in ERROR).
	 */
	r = set_state(dst, VFIO_DEVICE_STATE_RUNNING, &dummy);
	if (dummy >= 0)
		close(dummy);
	now = get_state(dst);
	check(r == -EINVAL && now == VFIO_DEVICE_STATE_ERROR,
	      "DST: SET RUNNING in ERROR fails with EINVAL and changes nothing (%s, %s)",
	      errname(-r), sname(now));
	reset_running(dst, "leaves ERROR");
	check_stale_fd(fd, false, "DST after the reset");
	close(fd);
	smoke(dst, &rings[2], "after the refused load and the reset");
}

/* After the target refused the stream, the source resumes: every job it
 * had (done, running or queued at the stop) completes once, the rest after
 * the resume, and the stream goes on. */
static void source_resumes(struct dev *src)
{
	struct ring *r = &rings[0];

	if (!go(src, VFIO_DEVICE_STATE_RUNNING) || !ring_wait(src, r))
		return;
	ring_verify(r, 0, r->tail, "SRC resumed: every job of its stream");
	stream_goes_on(src, "SRC resumed");
}

static void cmd_corrupt(struct dev *src, struct dev *dst)
{
	struct saved s;

	if (!same_slot(src, dst))
		die("corrupt needs two VFs of the same index and slice (the stream must be compatible)");
	if (!save_source(src, &s))
		return;
	if (s.stream.len <= 70000)
		die("a stream of %zu bytes", s.stream.len);
	/* A byte of the first pages run: its CRC no longer matches. */
	s.stream.p[70000] ^= 0xff;
	load_refused(dst, &s.stream, EINVAL);
	check_source_quiet(&s);
	source_resumes(src);
}

static void cmd_mismatch(struct dev *src, struct dev *dst)
{
	struct saved s;

	if (same_slot(src, dst))
		die("mismatch needs two VFs that differ in index or slice");
	if (!save_source(src, &s))
		return;
	load_refused(dst, &s.stream, EOPNOTSUPP);
	check_source_quiet(&s);
	source_resumes(src);
}

/* A VF's whole stream, read in STOP_COPY (RUNNING -> STOP_COPY), the VF
 * left in STOP. */
static bool save_plain(struct dev *d, struct buf *out)
{
	int fd = go_session(d, VFIO_DEVICE_STATE_STOP_COPY);
	long long n;

	if (fd < 0)
		return false;
	n = read_to_eof(fd, out, "plain save");
	close(fd);
	return go(d, VFIO_DEVICE_STATE_STOP) && check(n > 0, "%s: a stream of %lld bytes", d->name, n);
}

static void cmd_flr_stopcopy(struct dev *d)
{
	struct ring *r = &rings[1];
	struct buf again = { 0 };
	long long n;
	ssize_t got;
	int fd;

	if (!ring_start(d, r))
		return;
	q_job(r, OP_DMA_H2D, IOVA(AT(A_P_SRC)), DEV_P, P_LEN, 0, -1);
	doorbell(d, r);
	if (!ring_wait(d, r) || !ring_verify(r, 0, r->tail, "SRC content"))
		return;
	fd = go_session(d, VFIO_DEVICE_STATE_STOP_COPY);
	if (fd < 0)
		return;
	got = read(fd, iobuf, 64 * KiB);
	check(got > 0, "SRC: STOP_COPY read() returns data (%zd, %s)", got,
	      errname(got < 0 ? errno : 0));
	/* An FLR ends the migration: RUNNING, the session's fd is dead. */
	reset_running(d, "in STOP_COPY");
	check_stale_fd(fd, true, "SRC after the reset");
	close(fd);
	smoke(d, r, "after the reset");
	/* A new save works from scratch and the VF runs after it. */
	fd = go_session(d, VFIO_DEVICE_STATE_STOP_COPY);
	if (fd < 0)
		return;
	n = read_to_eof(fd, &again, "SRC second save");
	check(n > 0, "SRC: a new STOP_COPY session after the reset reads %lld bytes to its end", n);
	close(fd);
	go(d, VFIO_DEVICE_STATE_RUNNING);
	smoke(d, r, "after the second save");
	free(again.p);
}

static void cmd_close_resuming(struct dev *d)
{
	struct ring *r = &rings[2];
	struct buf stream = { 0 };
	size_t at, half;
	int fd, e, now;

	/* A stream of this very VF with P in its memory. */
	if (!ring_start(d, r))
		return;
	q_job(r, OP_DMA_H2D, IOVA(AT(A_P_SRC)), DEV_P, P_LEN, 0, -1);
	doorbell(d, r);
	if (!ring_wait(d, r) || !ring_verify(r, 0, r->tail, "DST content") ||
	    !save_plain(d, &stream))
		return;
	/* A reset makes the VF fresh, as a load needs. */
	if (!reset_running(d, "before the load"))
		return;
	fd = go_session(d, VFIO_DEVICE_STATE_RESUMING);
	if (fd < 0)
		return;
	half = stream.len / 2;
	e = write_stream(fd, stream.p, half, 100003, &at);
	check(!e, "DST: half of the stream is written (%zu bytes: %s)", half, errname(e));

	/* The user goes away in RESUMING. */
	dev_close(d);
	check_stale_fd(fd, false, "DST after the device fd was closed in RESUMING");
	close(fd);
	dev_open(d);
	now = get_state(d);
	check(now == VFIO_DEVICE_STATE_RUNNING, "DST: reopened, the VF is in RUNNING (%s)",
	      sname(now));

	/* Nothing of the aborted load is left: a whole load works. */
	fd = go_session(d, VFIO_DEVICE_STATE_RESUMING);
	if (fd < 0)
		return;
	e = write_stream(fd, stream.p, stream.len, 65536 + 17, &at);
	check(!e, "DST: the whole stream is written (%zu bytes: %s at %zu)", stream.len,
	      errname(e), at);
	pci_enable(d);
	if (!go(d, VFIO_DEVICE_STATE_STOP) || !go(d, VFIO_DEVICE_STATE_RUNNING)) {
		close(fd);
		return;
	}
	close(fd);
	/* The loaded VF goes on with its ring (Q_DONE 1) and has P. */
	memset(AT(A_P_READ), 0, P_LEN);
	q_job(r, OP_DMA_D2H, DEV_P, IOVA(AT(A_P_READ)), P_LEN, 0, -1);
	doorbell(d, r);
	if (ring_wait(d, r))
		ring_verify(r, 0, r->tail, "DST after the load");
	check(pattern_diff(AT(A_P_READ), P_LEN, 0x50) < 0,
	      "DST: the loaded VF's memory holds P");
	free(stream.p);
}

/* ------------------------------------------------------------------ */
/* VFIO_DEVICE_RESET racing the migration                              */

#define RACE_MS			2000
#define RACE_STOPCOPY_READ	(256 * KiB)

/*
 * Two threads on one VF for RACE_MS: one resets it in a loop, the other
 * runs it through pre-copy and stop-copy sessions. A step of the second
 * that the reset overtook fails with EINVAL (the state it started from is
 * gone: a SET, or a read in a state that has no data) or ENODEV (its data
 * fd's session ended); any other errno is a bug.
 */
struct race {
	struct dev *d;
	double end;
	/* the reset thread */
	unsigned int resets, busy, reset_bad;
	int reset_bad_errno;
	/* the migration thread */
	unsigned int cycles, whole, steps, lost, bad;
	int bad_errno;
	const char *bad_what;
};

/* A step of the migration thread ended with errno E (0: it worked);
 * true if it worked. */
static bool race_step(struct race *rc, int e, const char *what)
{
	if (!e) {
		rc->steps++;
		return true;
	}
	if (e == EINVAL || e == ENODEV) {
		rc->lost++;
		return false;
	}
	if (!rc->bad++) {
		rc->bad_errno = e;
		rc->bad_what = what;
	}
	return false;
}

static void *race_resets(void *arg)
{
	struct race *rc = arg;

	while (now_ms() < rc->end) {
		if (!ioctl(rc->d->fd, VFIO_DEVICE_RESET)) {
			rc->resets++;
		} else if (errno == EAGAIN || errno == EBUSY) {
			/* the core's pci_try_reset_function() did not get the
			 * device lock: not a failure */
			rc->busy++;
			sched_yield();
		} else if (!rc->reset_bad++) {
			rc->reset_bad_errno = errno;
		}
	}
	return NULL;
}

/* SET TO in the race; a data fd it returns goes to *fd (or is closed). */
static bool race_set(struct race *rc, uint32_t to, int *fd, const char *what)
{
	int got, r = set_state(rc->d, to, &got);

	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
	return race_step(rc, -r, what);
}

static void *race_migrations(void *arg)
{
	struct race *rc = arg;
	uint8_t *buf = malloc(IOBUF_LEN);
	bool whole;
	int fd;

	if (!buf)
		return NULL;
	while (now_ms() < rc->end) {
		long long n = 0;

		/* RUNNING -> PRE_COPY, a round (to ENOMSG), -> RUNNING */
		rc->cycles++;
		whole = race_set(rc, VFIO_DEVICE_STATE_PRE_COPY, &fd, "RUNNING -> PRE_COPY");
		if (fd >= 0) {
			for (;;) {
				ssize_t r = read(fd, buf, IOBUF_LEN);

				if (r > 0 && (n += r) < (long long)MAX_STREAM)
					continue;
				if (r < 0 && errno != ENOMSG)
					whole &= race_step(rc, errno, "a pre-copy read()");
				break;
			}
			close(fd);
		}
		whole &= race_set(rc, VFIO_DEVICE_STATE_RUNNING, NULL, "PRE_COPY -> RUNNING");

		/* RUNNING -> STOP -> STOP_COPY, a read, -> STOP -> RUNNING */
		whole &= race_set(rc, VFIO_DEVICE_STATE_STOP, NULL, "RUNNING -> STOP");
		whole &= race_set(rc, VFIO_DEVICE_STATE_STOP_COPY, &fd, "STOP -> STOP_COPY");
		if (fd >= 0) {
			ssize_t r = read(fd, buf, RACE_STOPCOPY_READ);

			if (r < 0)
				whole &= race_step(rc, errno, "a stop-copy read()");
		}
		whole &= race_set(rc, VFIO_DEVICE_STATE_STOP, NULL, "STOP_COPY -> STOP");
		if (fd >= 0)
			close(fd);
		whole &= race_set(rc, VFIO_DEVICE_STATE_RUNNING, NULL, "STOP -> RUNNING");
		rc->whole += whole;
	}
	free(buf);
	return NULL;
}

static void cmd_reset_race(struct dev *d)
{
	struct race rc = { .d = d };
	pthread_t resetter, migrator;
	int r = 0, tries, now;

	if (!reset_running(d, "before the race"))
		return;
	rc.end = now_ms() + RACE_MS;
	if (pthread_create(&resetter, NULL, race_resets, &rc) ||
	    pthread_create(&migrator, NULL, race_migrations, &rc))
		die("pthread_create failed");
	pthread_join(resetter, NULL);
	pthread_join(migrator, NULL);
	note("%u resets (%u busy), %u migration cycles (%u without a lost step), %u steps worked, %u lost the race",
	     rc.resets, rc.busy, rc.cycles, rc.whole, rc.steps, rc.lost);
	check(!rc.reset_bad && rc.resets > 0,
	      "SRC: the resetting thread's VFIO_DEVICE_RESETs worked or were EAGAIN/EBUSY (%u resets, %u failed otherwise, first %s)",
	      rc.resets, rc.reset_bad, errname(rc.reset_bad ? rc.reset_bad_errno : 0));
	check(!rc.bad && rc.steps > 0,
	      "SRC: the migrating thread's steps worked or lost the race with EINVAL/ENODEV (%u steps worked, %u lost, %u failed otherwise, first %s at %s)",
	      rc.steps, rc.lost, rc.bad, errname(rc.bad ? rc.bad_errno : 0),
	      rc.bad ? rc.bad_what : "-");

	/* Alone again: one reset (the core's trylock may still meet a
	 * holder of the device lock a moment) gives RUNNING, and jobs run. */
	for (tries = 0; tries < 50; tries++) {
		r = ioctl(d->fd, VFIO_DEVICE_RESET) ? errno : 0;
		if (r != EAGAIN && r != EBUSY)
			break;
		sleep_ms(20);
	}
	pci_enable(d);
	now = get_state(d);
	check(!r && now == VFIO_DEVICE_STATE_RUNNING,
	      "SRC: after the race VFIO_DEVICE_RESET gives RUNNING (reset %s, GET %s)", errname(r),
	      sname(now));
	smoke(d, &rings[1], "after the race and a reset");
}

/* A copy of vfio_from_fsm_table in drivers/vfio/vfio_main.c (Linux 7.3):
 * the next state on the way from a state to another. With all three
 * flags no state is skipped. */
static const uint8_t fsm[8][8] = {
	[VFIO_DEVICE_STATE_STOP] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RESUMING,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_RUNNING] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_PRE_COPY] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_PRE_COPY_P2P] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_PRE_COPY,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_STOP_COPY] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP_COPY,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_RESUMING] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_RESUMING,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_RUNNING_P2P] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_RUNNING,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_PRE_COPY_P2P,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_STOP,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_RUNNING_P2P,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
	[VFIO_DEVICE_STATE_ERROR] = {
		[VFIO_DEVICE_STATE_STOP] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_RUNNING] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_PRE_COPY] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_STOP_COPY] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_RESUMING] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_RUNNING_P2P] = VFIO_DEVICE_STATE_ERROR,
		[VFIO_DEVICE_STATE_ERROR] = VFIO_DEVICE_STATE_ERROR,
	},
};

/*
 * The way vfio_mig_get_next_state() goes from FROM to TO (FROM not ERROR):
 * the states after FROM into path[], their number returned; -1 where it
 * fails with EINVAL (TO is ERROR or unknown, or the table says ERROR:
 * STOP_COPY -> PRE_COPY*).
 */
static int fsm_path(int from, int to, int *path)
{
	int n = 0, cur = from;

	if (to < 0 || to >= VFIO_DEVICE_STATE_NR || to == VFIO_DEVICE_STATE_ERROR)
		return -1;
	while (cur != to) {
		cur = fsm[cur][to];
		if (cur == VFIO_DEVICE_STATE_ERROR || n >= 7)
			return -1;
		path[n++] = cur;
	}
	return n;
}

/* The arcs that return a new data fd (vfio.h: "These arcs begin the
 * process of saving the device state and will return a new data_fd";
 * STOP -> RESUMING likewise). */
static bool arc_opens_session(int prev, int next)
{
	return (prev == VFIO_DEVICE_STATE_RUNNING && next == VFIO_DEVICE_STATE_PRE_COPY) ||
	       (prev == VFIO_DEVICE_STATE_RUNNING_P2P && next == VFIO_DEVICE_STATE_PRE_COPY_P2P) ||
	       (prev == VFIO_DEVICE_STATE_STOP && next == VFIO_DEVICE_STATE_STOP_COPY) ||
	       (prev == VFIO_DEVICE_STATE_STOP && next == VFIO_DEVICE_STATE_RESUMING);
}

static const int real_states[] = {
	VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP_COPY,
	VFIO_DEVICE_STATE_RESUMING, VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_PRE_COPY,
	VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

/*
 * One SET from FROM to TO, from a reset VF. A defined transition (one
 * step or several) must succeed, end in TO and return a new data fd
 * exactly when its last arc starts a session; an undefined one fails with
 * the EINVAL of vfio_mig_get_next_state() and changes nothing. A VF in
 * RESUMING gets a compatible stream first (leaving RESUMING commits it).
 */
static void one_arc(struct dev *d, int from, int to, struct buf *stream)
{
	int path[8], n = fsm_path(from, to, path);
	int fd_from = -1, fd_to = -1, r, now, e;
	char way[160] = "";
	size_t at, len = 0;

	if (ioctl(d->fd, VFIO_DEVICE_RESET) || get_state(d) != VFIO_DEVICE_STATE_RUNNING) {
		check(false, "%s -> %s: the VF does not reset to RUNNING (%s)", sname(from),
		      sname(to), sname(get_state(d)));
		return;
	}
	if (from != VFIO_DEVICE_STATE_RUNNING) {
		r = set_state(d, from, &fd_from);
		if (r || get_state(d) != from) {
			check(false, "%s -> %s: RUNNING -> %s fails (%s, %s)", sname(from), sname(to),
			      sname(from), errname(-r), sname(get_state(d)));
			goto out;
		}
	}
	if (from == VFIO_DEVICE_STATE_RESUMING && n > 0) {
		e = write_stream(fd_from, stream->p, stream->len, 1 * MiB, &at);
		if (e) {
			check(false, "%s -> %s: writing the stream fails (%s at %zu)", sname(from),
			      sname(to), errname(e), at);
			goto out;
		}
	}
	for (int i = 0; i < n && len < sizeof(way); i++)
		len += snprintf(way + len, sizeof(way) - len, " -> %s", sname(path[i]));
	r = set_state(d, to, &fd_to);
	now = get_state(d);
	if (n < 0) {
		check(r == -EINVAL && now == from && fd_to < 0,
		      "%s -> %s: undefined, EINVAL, state unchanged (%s, data_fd %d, GET %s)",
		      sname(from), sname(to), errname(-r), fd_to, sname(now));
	} else {
		bool want_fd = n > 0 && arc_opens_session(n > 1 ? path[n - 2] : from, to);

		check(!r && now == to && (fd_to >= 0) == want_fd,
		      "%s%s: %s (%s, data_fd %d, GET %s)", sname(from), n ? way : " -> itself",
		      want_fd ? "a new data fd" : "no data fd", errname(-r), fd_to, sname(now));
		/* The saving group shares its session: PRE_COPY's fd streams
		 * the stop-copy data to its end. */
		if (!r && to == VFIO_DEVICE_STATE_STOP_COPY && fd_from >= 0 &&
		    (from == VFIO_DEVICE_STATE_PRE_COPY || from == VFIO_DEVICE_STATE_PRE_COPY_P2P))
			check(read_to_eof(fd_from, NULL, "the pre-copy session in STOP_COPY") > 0,
			      "%s -> STOP_COPY: the session's fd reads the stop-copy data to its end",
			      sname(from));
	}
out:
	if (fd_from >= 0)
		close(fd_from);
	if (fd_to >= 0)
		close(fd_to);
}

static void cmd_arcs(struct dev *d)
{
	struct buf stream = { 0 };
	int fd, r, now, dummy;
	const size_t ns = sizeof(real_states) / sizeof(real_states[0]);

	check_migration_flags(d);
	/* The stream the RESUMING cases load: this VF's own (compatible). */
	if (!save_plain(d, &stream))
		return;
	for (size_t i = 0; i < ns; i++) {
		for (size_t j = 0; j < ns; j++)
			one_arc(d, real_states[i], real_states[j], &stream);
		one_arc(d, real_states[i], VFIO_DEVICE_STATE_ERROR, &stream);
	}
	/* An unknown state: vfio_mig_get_next_state()'s new_fsm check. */
	one_arc(d, VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_NR, &stream);

	/* Leaving RESUMING with an incomplete (empty) stream must fail (uAPI:
	 * "the migration driver must fail the SET_STATE ioctl"): EINVAL, the
	 * service's incomplete-stream errno, and the VF is in ERROR. */
	if (reset_running(d, "before an empty load")) {
		fd = go_session(d, VFIO_DEVICE_STATE_RESUMING);
		r = set_state(d, VFIO_DEVICE_STATE_STOP, &dummy);
		now = get_state(d);
		check(r == -EINVAL && now == VFIO_DEVICE_STATE_ERROR,
		      "RESUMING -> STOP with nothing written: EINVAL, ERROR (%s, %s)", errname(-r),
		      sname(now));
		r = set_state(d, VFIO_DEVICE_STATE_RUNNING, &dummy);
		now = get_state(d);
		check(r == -EINVAL && now == VFIO_DEVICE_STATE_ERROR,
		      "ERROR -> RUNNING: EINVAL, still ERROR (%s, %s)", errname(-r), sname(now));
		/* ERROR is no state one SETs, not even from ERROR:
		 * vfio_mig_get_next_state(ERROR, ERROR) is ERROR, EINVAL. */
		r = set_state(d, VFIO_DEVICE_STATE_ERROR, &dummy);
		now = get_state(d);
		check(r == -EINVAL && now == VFIO_DEVICE_STATE_ERROR && dummy < 0,
		      "ERROR -> ERROR: EINVAL, still ERROR (%s, %s, data_fd %d)", errname(-r),
		      sname(now), dummy);
		if (dummy >= 0)
			close(dummy);
		if (fd >= 0)
			close(fd);
	}
	reset_running(d, "leaves ERROR");
	smoke(d, &rings[1], "after every arc");
	free(stream.p);
}

/* ------------------------------------------------------------------ */
/* DMA dirty logging                                                   */

/*
 * The errno of a second DMA_LOGGING_START before a STOP. The core does not
 * check it (vfio_ioctl_device_feature_logging_start() calls log_start()
 * whatever the state; the uAPI only says "Another start is not allowed in
 * the meantime"): it is the driver's. The PF's service refuses it with
 * EBUSY (migration.rs, mig_log_start), which the driver passes on. (mlx5
 * and pds return EINVAL there.)
 */
#define LOG_RESTART_ERRNO	EBUSY

/*
 * The card logs at most 2^24 pages (MIG_LOG_MAX_GRANULES, regs.rs: 64 GiB
 * at 4 KiB); the driver logs at the page size asked for and refuses more
 * pages with E2BIG (it no longer raises the page size: a coarser page
 * would report pages the VMM did not ask about). START needs no mapping:
 * the big ranges are at IOVAs far from the arena (1 TiB, 2 TiB).
 */
#define LOG_MAX_PAGES		(1ull << 24)
#define FAR_IOVA		(1ull << 40)
#define FAR_IOVA2		(1ull << 41)
/*
 * A page size that is not a power of two, with a range the core's
 * IS_ALIGNED() (a mask test: x & (a - 1)) lets through, so that the
 * driver sees it: 12 KiB, a range of 48 KiB at 3 << 36 (both multiples of
 * 3 << 14, which have bits 0-13 clear).
 */
#define ODD_PAGE		(3ull * PAGE)
#define ODD_IOVA		(3ull << 36)
#define ODD_LEN			(16ull * ODD_PAGE / 4)
/* A REPORT over 2^46 bytes at 1 GiB pages: a bitmap of 2^16 bits. */
#define HUGE_LEN		(1ull << 46)
#define HUGE_PAGE		(1ull << 30)
#define HUGE_WORDS		(HUGE_LEN / HUGE_PAGE / 64)
#define HUGE_MS			2000.0

static int log_start(struct dev *d, uint64_t page_size, uint32_t n,
		     struct vfio_device_feature_dma_logging_range *ranges, uint64_t *page_out)
{
	struct vfio_device_feature_dma_logging_control c = {
		.page_size = page_size, .num_ranges = n, .ranges = (uintptr_t)ranges,
	};
	int r = feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &c,
			sizeof(c));

	if (page_out)
		*page_out = c.page_size;
	return r;
}

static int log_stop(struct dev *d)
{
	return feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0);
}

/* The bitmap of [iova, iova + length) in WORDS words: bit k for page k. */
static int log_report_len(struct dev *d, uint64_t iova, uint64_t length, uint64_t page_size,
			  uint64_t *bits, size_t words)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = iova, .length = length, .page_size = page_size,
		.bitmap = (uintptr_t)bits,
	};

	/* The report only sets bits (uAPI): it starts from zero. */
	memset(bits, 0, words * sizeof(*bits));
	return feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &rep,
		       sizeof(rep));
}

/* The bitmap of [iova, iova + pages * page_size) (pages <= 64). */
static int log_report(struct dev *d, uint64_t iova, uint32_t pages, uint64_t page_size,
		      uint64_t *bits)
{
	return log_report_len(d, iova, (uint64_t)pages * page_size, page_size, bits, 1);
}

/*
 * The bits of MAP (WORDS words) that differ from exactly the N bits of
 * WANT (bit indexes; those at or beyond WORDS * 64 are not counted); the
 * first differing word is noted.
 */
static unsigned int bits_wrong(const uint64_t *map, size_t words, const uint64_t *want,
			       unsigned int n)
{
	unsigned int wrong = 0, noted = 0;

	for (size_t w = 0; w < words; w++) {
		uint64_t expect = 0, diff;

		for (unsigned int i = 0; i < n; i++)
			if (want[i] / 64 == w)
				expect |= 1ull << (want[i] % 64);
		diff = map[w] ^ expect;
		if (!diff)
			continue;
		wrong += __builtin_popcountll(diff);
		if (noted++ < 4)
			note("bitmap word %zu (bits %zu..%zu): 0x%016llx, want 0x%016llx", w, w * 64,
			     w * 64 + 63, (unsigned long long)map[w], (unsigned long long)expect);
	}
	return wrong;
}

/*
 * A START that the driver must refuse with WANT; then nothing is left half
 * started: a START over GOOD (two ranges) at 4 KiB works, keeps 4 KiB, and
 * its STOP works. Two checks.
 */
static void start_refused(struct dev *d, uint64_t page_size, uint32_t n,
			  struct vfio_device_feature_dma_logging_range *ranges, int want,
			  const char *what, struct vfio_device_feature_dma_logging_range *good)
{
	uint64_t page_out = 0;
	int e = log_start(d, page_size, n, ranges, &page_out), e2 = 0;

	check(e == -want, "START %s: %s (%s, page_size out %llu)", what, errname(want),
	      errname(-e), e ? 0ull : (unsigned long long)page_out);
	if (!e)
		log_stop(d);	/* it was taken: end it, the next check is about leftovers */
	page_out = 0;
	e = log_start(d, PAGE, 2, good, &page_out);
	e2 = e ? 0 : log_stop(d);
	check(!e && !e2 && page_out == PAGE,
	      "after the refused START %s, a START over two ranges at 4 KiB works (%s, page_size %llu) and so does its STOP (%s)",
	      what, errname(-e), (unsigned long long)page_out, errname(-e2));
	if (e)
		log_stop(d);	/* a log left on (EBUSY): off for the next checks */
}

static uint64_t dirty_iova(uint32_t page)
{
	return arena_iova + A_DIRTY + (uint64_t)page * PAGE;
}

/* A job that writes host pages [page, page + n) (a DMA write: logged). */
static void q_write_pages(struct ring *r, uint32_t page, uint32_t n)
{
	q_job(r, OP_DMA_D2H, DEV_SMOKE, dirty_iova(page), n * PAGE, 0, -1);
}

static bool run(struct dev *d, struct ring *r, const char *what)
{
	uint32_t first = r->rung;

	doorbell(d, r);
	return ring_wait(d, r) && ring_verify(r, first, r->tail, what);
}

/* REPORT of PAGES pages of PAGE_SIZE from IOVA is exactly WANT. */
static void report_is(struct dev *d, uint64_t iova, uint32_t pages, uint64_t page_size,
		      uint64_t want, const char *what)
{
	uint64_t bits;
	int r = log_report(d, iova, pages, page_size, &bits);

	check(!r && bits == want, "%s (REPORT %s, bitmap 0x%llx, want 0x%llx)", what, errname(-r),
	      (unsigned long long)bits, (unsigned long long)want);
}

static void cmd_dirty(struct dev *d)
{
	/* Range A: dirty pages 0..31; range B: pages 40..63 (a gap between). */
	struct vfio_device_feature_dma_logging_range two[2] = {
		{ .iova = dirty_iova(0), .length = 32 * PAGE },
		{ .iova = dirty_iova(40), .length = 24 * PAGE },
	};
	struct vfio_device_feature_dma_logging_range many[20], bad[2];
	uint64_t A = dirty_iova(0), B = dirty_iova(40), page_out = 0;
	struct ring *r = &rings[1];
	int e;

	/* The core's feature checks (vfio_check_feature) and its checks of
	 * the arguments (vfio_ioctl_device_feature_logging_start/_report). */
	check(!feature(d, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0) &&
	      !feature(d, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0) &&
	      !feature(d, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, NULL, 0),
	      "PROBE: DMA logging START, STOP and REPORT are supported");
	e = log_start(d, PAGE, 0, two, NULL);
	check(e == -EINVAL, "START with no range: EINVAL (%s)", errname(-e));
	e = log_start(d, PAGE, PAGE / sizeof(two[0]) + 1, two, NULL);
	check(e == -E2BIG, "START with more ranges than fit a page (257): E2BIG (%s)", errname(-e));
	bad[0] = (struct vfio_device_feature_dma_logging_range){ .iova = A + 512, .length = PAGE };
	e = log_start(d, PAGE, 1, bad, NULL);
	check(e == -EINVAL, "START with a range not aligned to page_size: EINVAL (%s)", errname(-e));
	bad[0] = (struct vfio_device_feature_dma_logging_range){ .iova = A, .length = 2 * PAGE };
	bad[1] = (struct vfio_device_feature_dma_logging_range){ .iova = A + PAGE, .length = PAGE };
	e = log_start(d, PAGE, 2, bad, NULL);
	check(e == -EINVAL, "START with overlapping ranges: EINVAL (%s)", errname(-e));
	{
		uint64_t bits;

		e = log_report(d, A, 32, 2048, &bits);
		check(e == -EINVAL, "REPORT with page_size 2048: EINVAL (%s)", errname(-e));
		e = log_report(d, A, 8, 3 * PAGE, &bits);
		check(e == -EINVAL, "REPORT with page_size 12288: EINVAL (%s)", errname(-e));
		e = log_report(d, A, 32, PAGE, &bits);
		check(e == -EINVAL, "REPORT while not logging: EINVAL (%s)", errname(-e));
	}

	/*
	 * Arguments the core lets through and the driver must refuse, each
	 * refusal leaving nothing half started. A range of length 0 passes
	 * vfio_ioctl_device_feature_logging_start() (aligned, no overlap: its
	 * node ends before it starts); the kernel crate refuses it. The core
	 * checks the ranges with IS_ALIGNED(x, page_size), which for page_size
	 * 0 is x == 0: only {0, 0} reaches the driver.
	 */
	bad[0] = (struct vfio_device_feature_dma_logging_range){ .iova = A, .length = 0 };
	start_refused(d, PAGE, 1, bad, EINVAL, "with a range of length 0", two);
	bad[0] = (struct vfio_device_feature_dma_logging_range){ .iova = A, .length = 32 * PAGE };
	bad[1] = (struct vfio_device_feature_dma_logging_range){ .iova = B, .length = 0 };
	start_refused(d, PAGE, 2, bad, EINVAL, "with a second range of length 0", two);
	start_refused(d, 0, 2, two, EINVAL, "with page_size 0", two);
	bad[0] = (struct vfio_device_feature_dma_logging_range){ .iova = 0, .length = 0 };
	start_refused(d, 0, 1, bad, EINVAL, "with page_size 0 over {iova 0, length 0}", two);
	bad[0] = (struct vfio_device_feature_dma_logging_range){ .iova = ODD_IOVA, .length = ODD_LEN };
	start_refused(d, ODD_PAGE, 1, bad, EINVAL,
		      "with page_size 12288 (not a power of two; a 48 KiB range at 3 << 36)", two);

	/* More pages than the card logs at the page size asked for: E2BIG. */
	bad[0] = (struct vfio_device_feature_dma_logging_range){
		.iova = FAR_IOVA, .length = (LOG_MAX_PAGES + 1) * PAGE };
	start_refused(d, PAGE, 1, bad, E2BIG, "of 2^24 + 1 pages at 4 KiB (64 GiB + 4 KiB)", two);
	bad[0] = (struct vfio_device_feature_dma_logging_range){
		.iova = FAR_IOVA, .length = LOG_MAX_PAGES / 2 * PAGE };
	bad[1] = (struct vfio_device_feature_dma_logging_range){
		.iova = FAR_IOVA2, .length = (LOG_MAX_PAGES / 2 + 1) * PAGE };
	start_refused(d, PAGE, 2, bad, E2BIG, "of two ranges of 2^23 and 2^23 + 1 pages at 4 KiB",
		      two);
	bad[0] = (struct vfio_device_feature_dma_logging_range){
		.iova = FAR_IOVA, .length = LOG_MAX_PAGES * PAGE };
	page_out = 0;
	e = log_start(d, PAGE, 1, bad, &page_out);
	check(!e && page_out == PAGE,
	      "START of exactly 2^24 pages at 4 KiB (64 GiB) works at 4 KiB (%s, page_size %llu)",
	      errname(-e), (unsigned long long)page_out);
	if (!e) {
		e = log_stop(d);
		check(!e, "its STOP (%s)", errname(-e));
	}

	/* A logging session over A and B at 4 KiB. */
	e = log_start(d, PAGE, 2, two, &page_out);
	if (!check(!e && page_out == PAGE, "START over two ranges at 4 KiB (%s, page_size %llu)",
		   errname(-e), (unsigned long long)page_out))
		return;
	e = log_start(d, PAGE, 2, two, NULL);
	check(e == -LOG_RESTART_ERRNO, "a second START before STOP: %s (%s)",
	      errname(LOG_RESTART_ERRNO), errname(-e));
	if (!ring_start(d, r))
		return;
	/* Writes: A 3, 17, 28-30, B 0 and 23; a read of A 5 (reads are not
	 * logged). The ring's own records are outside both ranges. */
	q_job(r, OP_DMA_H2D, dirty_iova(5), DEV_SMOKE + 64 * KiB, PAGE, 0, -1);
	q_write_pages(r, 3, 1);
	q_write_pages(r, 17, 1);
	q_write_pages(r, 28, 3);
	q_write_pages(r, 40, 1);
	q_write_pages(r, 63, 1);
	if (!run(d, r, "jobs writing host pages"))
		return;
	report_is(d, A, 32, PAGE, 1ull << 3 | 1ull << 17 | 7ull << 28,
		  "REPORT of A: exactly the pages written (3, 17, 28-30), not the page read (5)");
	report_is(d, B, 24, PAGE, 1ull << 0 | 1ull << 23, "REPORT of B: exactly pages 0 and 23");
	report_is(d, A, 32, PAGE, 0, "a second REPORT of A is clean (a report clears)");
	report_is(d, B, 24, PAGE, 0, "a second REPORT of B is clean");

	/* Another reporting page size than START's: 8 KiB pages 3 = 6-7. */
	q_write_pages(r, 6, 1);
	if (!run(d, r, "a job writing page 6"))
		return;
	report_is(d, A, 16, 2 * PAGE, 1ull << 3, "REPORT at 8 KiB: page 6 is in 8 KiB page 3");
	report_is(d, A, 32, PAGE, 0, "and the 8 KiB report cleared it at 4 KiB too");

	/*
	 * REPORTs over more than the logged ranges: the driver asks the card
	 * only about their intersection with the request. The whole arena at
	 * 4 KiB: A page 9 and B page 5 (dirty page 45) were written, and so
	 * were dirty page 35 (in the gap between A and B) and the ring's
	 * records, outside both ranges: only the two pages in them are
	 * reported.
	 */
	q_write_pages(r, 9, 1);
	q_write_pages(r, 35, 1);
	q_write_pages(r, 45, 1);
	if (!run(d, r, "jobs writing pages in and between the ranges"))
		return;
	{
		static uint64_t map[ARENA_LEN / PAGE / 64];
		const uint64_t want[2] = { A_DIRTY / PAGE + 9, A_DIRTY / PAGE + 45 };
		unsigned int wrong;

		e = log_report_len(d, arena_iova, ARENA_LEN, PAGE, map, ARENA_LEN / PAGE / 64);
		wrong = e ? 0 : bits_wrong(map, ARENA_LEN / PAGE / 64, want, 2);
		check(!e && !wrong,
		      "REPORT of the whole arena (16 MiB at 4 KiB): only the pages written inside the ranges (A 9, B 5), not the gap's page 35 nor the ring's records (%s, %u wrong bits)",
		      errname(-e), wrong);
	}

	/*
	 * A REPORT over 64 TiB (2^46 bytes from IOVA 0) at 1 GiB pages (an
	 * 8 KiB bitmap): it returns within 2 s (the driver does not walk the
	 * 2^34 4 KiB pages of the request with the card) and sets exactly the
	 * bits of the GiBs of A page 12 and B page 10.
	 */
	q_write_pages(r, 12, 1);
	q_write_pages(r, 50, 1);
	if (!run(d, r, "jobs writing A page 12 and B page 10"))
		return;
	{
		static uint64_t huge[HUGE_WORDS];
		/* 0 unless the kernel put the arena above 64 TiB */
		uint64_t base = arena_iova & ~(HUGE_LEN - 1);
		const uint64_t want[2] = { (dirty_iova(12) - base) / HUGE_PAGE,
					   (dirty_iova(50) - base) / HUGE_PAGE };
		unsigned int wrong;
		double t0 = now_ms(), ms;

		e = log_report_len(d, base, HUGE_LEN, HUGE_PAGE, huge, HUGE_WORDS);
		ms = now_ms() - t0;
		check(!e && ms < HUGE_MS,
		      "REPORT of iova 0x%llx, length 2^46 at 1 GiB pages returns within %.0f ms (%s in %.1f ms, CLOCK_MONOTONIC)",
		      (unsigned long long)base, HUGE_MS, errname(-e), ms);
		wrong = e ? 0 : bits_wrong(huge, HUGE_WORDS, want, 2);
		check(!e && !wrong,
		      "and it sets exactly the bits of the GiBs of the pages written in the ranges (bits %llu, %llu: %s, %u wrong bits)",
		      (unsigned long long)want[0], (unsigned long long)want[1], errname(-e), wrong);
	}
	report_is(d, A, 32, PAGE, 0, "after it A is clean at 4 KiB (the 1 GiB report cleared page 12)");
	report_is(d, B, 24, PAGE, 0, "and B too (page 10)");

	/* Logging survives a reset of the VF (a guest's FLR must not make
	 * the VMM miss dirty pages; migration.rst, DMA dirty logging). */
	if (reset_running(d, "while logging") && ring_start(d, r)) {
		q_write_pages(r, 50, 1);
		if (run(d, r, "a job after the reset"))
			report_is(d, B, 24, PAGE, 1ull << 10,
				  "after VFIO_DEVICE_RESET the log goes on (B page 10)");
	}
	e = log_stop(d);
	check(!e, "STOP (%s)", errname(-e));
	{
		uint64_t bits;

		e = log_report(d, A, 32, PAGE, &bits);
		check(e == -EINVAL, "REPORT after STOP: EINVAL (%s)", errname(-e));
	}

	/*
	 * Logging at 8 KiB over 16 4 KiB pages from an 8 KiB-aligned IOVA G
	 * in the dirty area. A REPORT at 4 KiB must cover whole 8 KiB pages
	 * (the card clears whole pages: the other half of one would be lost):
	 * an IOVA or a length inside one is EINVAL, and clears nothing. One
	 * of whole pages maps each 8 KiB page written onto two 4 KiB bits.
	 */
	{
		uint64_t G = (A + 2 * PAGE - 1) & ~(uint64_t)(2 * PAGE - 1), bits;
		uint32_t g = (uint32_t)((G - A) / PAGE);	/* G's dirty page: 0 or 1 */
		struct vfio_device_feature_dma_logging_range r8 = { .iova = G, .length = 16 * PAGE };

		bool started;

		page_out = 0;
		e = log_start(d, 2 * PAGE, 1, &r8, &page_out);
		started = !e;
		check(!e && page_out == 2 * PAGE,
		      "START at 8 KiB over 64 KiB from an 8 KiB-aligned IOVA logs at 8 KiB (%s, page_size %llu)",
		      errname(-e), (unsigned long long)page_out);
		if (started && ring_start(d, r)) {
			/* 8 KiB pages 1 (its first half), 5 (whole), 6 (its second half) */
			q_write_pages(r, g + 2, 1);
			q_write_pages(r, g + 10, 2);
			q_write_pages(r, g + 13, 1);
			if (run(d, r, "jobs writing 8 KiB pages 1, 5 and 6")) {
				e = log_report(d, G + PAGE, 14, PAGE, &bits);
				check(e == -EINVAL,
				      "REPORT at 4 KiB from an IOVA inside an 8 KiB page of the log: EINVAL (%s, bitmap 0x%llx)",
				      errname(-e), (unsigned long long)bits);
				e = log_report(d, G, 15, PAGE, &bits);
				check(e == -EINVAL,
				      "REPORT at 4 KiB of a length ending inside an 8 KiB page of the log: EINVAL (%s, bitmap 0x%llx)",
				      errname(-e), (unsigned long long)bits);
				report_is(d, G, 16, PAGE, 3ull << 2 | 3ull << 10 | 3ull << 12,
					  "REPORT at 4 KiB of whole 8 KiB pages: two bits for each 8 KiB page written (1, 5, 6); the refused REPORTs cleared nothing");
				report_is(d, G, 16, PAGE, 0, "a second REPORT at 4 KiB is clean");
			}
		}
		if (started) {
			e = log_stop(d);
			check(!e, "STOP of the 8 KiB log (%s)", errname(-e));
		}
	}

	/*
	 * 20 ranges: the core guarantees a page of ranges (256), the card
	 * takes 16; the driver merges them. Pages written in two of them are
	 * reported in those and no other.
	 */
	for (int i = 0; i < 20; i++) {
		uint32_t page = i < 16 ? 2 * i : 40 + 2 * (i - 16);

		many[i] = (struct vfio_device_feature_dma_logging_range){
			.iova = dirty_iova(page), .length = PAGE };
	}
	e = log_start(d, PAGE, 20, many, &page_out);
	check(!e, "START with 20 one-page ranges (the driver merges them) (%s)", errname(-e));
	if (!e) {
		unsigned int wrong = 0;

		q_write_pages(r, 4, 1);
		q_write_pages(r, 46, 1);
		if (run(d, r, "jobs writing two pages")) {
			for (int i = 0; i < 20; i++) {
				uint64_t bits, want = many[i].iova == dirty_iova(4) ||
						      many[i].iova == dirty_iova(46);
				int rr = log_report(d, many[i].iova, 1, PAGE, &bits);

				if (rr || bits != want) {
					wrong++;
					note("range %d: REPORT %s, bit %llu", i, errname(-rr),
					     (unsigned long long)bits);
				}
			}
			check(!wrong, "each of the 20 ranges reports exactly its writes (%u wrong)",
			      wrong);
		}
		e = log_stop(d);
		check(!e, "STOP (%s)", errname(-e));
	}

	/*
	 * Closing the device fd while logging ends the log: the next user of
	 * the VF has none (a REPORT is EINVAL, as before any START, though
	 * the last user's jobs wrote a logged page), and its START works.
	 */
	e = log_start(d, PAGE, 2, two, NULL);
	check(!e, "START again (%s)", errname(-e));
	if (!e && ring_start(d, r)) {
		q_write_pages(r, 7, 1);
		run(d, r, "a job writing A page 7 before the close");
	}
	dev_close(d);
	dev_open(d);
	{
		uint64_t bits;

		e = log_report(d, A, 32, PAGE, &bits);
		check(e == -EINVAL,
		      "reopened after the device fd was closed while logging: REPORT fails with EINVAL, no log carried to the next user (%s, bitmap 0x%llx)",
		      errname(-e), (unsigned long long)bits);
	}
	e = log_start(d, PAGE, 2, two, NULL);
	check(!e, "after the device fd was closed while logging, START works again (%s)",
	      errname(-e));
	e = log_stop(d);
	check(!e, "STOP (%s)", errname(-e));
	smoke(d, r, "after the logging");
}

/* ------------------------------------------------------------------ */

static void usage(const char *prog)
{
	printf("# usage: %s migrate|corrupt|mismatch SRC DST | dirty|arcs|flr-stopcopy|reset-race SRC | close-resuming DST\n",
	       prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct dev a = { .name = "SRC", .fd = -1 }, b = { .name = "DST", .fd = -1 };
	const char *cmd;
	bool two;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		usage(argv[0]);
	cmd = argv[1];
	two = !strcmp(cmd, "migrate") || !strcmp(cmd, "corrupt") || !strcmp(cmd, "mismatch");
	if (argc != (two ? 4 : 3))
		usage(argv[0]);
	if (!strcmp(cmd, "close-resuming"))
		a.name = "DST";
	a.bdf = argv[2];
	b.bdf = two ? argv[3] : NULL;
	printf("# mlu270_vfio_mig %s %s%s%s\n", cmd, a.bdf, two ? " -> " : "", two ? b.bdf : "");

	iommu_setup();
	dev_open(&a);
	describe(&a);
	if (two) {
		dev_open(&b);
		describe(&b);
	}
	arena_map();
	ring_init();

	if (!strcmp(cmd, "migrate"))
		cmd_migrate(&a, &b);
	else if (!strcmp(cmd, "corrupt"))
		cmd_corrupt(&a, &b);
	else if (!strcmp(cmd, "mismatch"))
		cmd_mismatch(&a, &b);
	else if (!strcmp(cmd, "dirty"))
		cmd_dirty(&a);
	else if (!strcmp(cmd, "arcs"))
		cmd_arcs(&a);
	else if (!strcmp(cmd, "flr-stopcopy"))
		cmd_flr_stopcopy(&a);
	else if (!strcmp(cmd, "reset-race"))
		cmd_reset_race(&a);
	else if (!strcmp(cmd, "close-resuming"))
		cmd_close_resuming(&a);
	else
		usage(argv[0]);

	printf("# mlu270_vfio_mig %s: %u checks, %u failed\n", cmd, n_checks, n_failed);
	return n_failed || !n_checks ? 1 : 0;
}
