// SPDX-License-Identifier: GPL-2.0
/*
 * mlu270_job: drives an MLU270 job node (/dev/mlu270-pf<n>, /dev/mlu270-vf<n>)
 * for the KTAP tests of this directory. Each command checks what it does and
 * exits 0 only if everything was as expected; "why" goes to stderr.
 *
 *   mlu270_job NODE info               the node's slice, key=value
 *   mlu270_job NODE ops                every engine op against a reference
 *   mlu270_job NODE errors             bad input gets the documented errno
 *   mlu270_job NODE fill ADDR BYTE LEN fill LEN bytes of the window
 *   mlu270_job NODE crc ADDR LEN       print the CRC-32 of a window range
 *   mlu270_job NODE time OP LEN        print the device time of one job
 *   mlu270_job NODE latency COUNT [OP LEN]
 *                                      COUNT jobs (default NOP) at queue
 *                                      depth 1 (each submitted and waited
 *                                      for before the next); prints the
 *                                      wall time of a
 *                                      round trip (SUBMIT + WAIT), nearest-
 *                                      rank percentiles, in microseconds:
 *                                      count=N min_us= p50_us= p99_us=
 *                                      max_us= (N: jobs that succeeded);
 *                                      exits 1 if any job failed
 *   mlu270_job NODE stream COUNT [LEN [READY_FILE]]
 *                                      a stream of COUNT checked memcpy jobs
 *                                      of LEN bytes (default 64 KiB); prints
 *                                      submitted= ok= reset= gone= failed=
 *                                      enodev= errors= wiped=
 *   mlu270_job NODE hold MS [READY_FILE]
 *                                      the same stream with 4 MiB jobs for
 *                                      MS ms (or until SIGTERM)
 *   mlu270_job NODE readloop MS [READY_FILE]
 *                                      4 MiB READs for MS ms; SIGUSR1
 *                                      interrupts them (EINTR); prints
 *                                      reads= eintr= errors=; READY_FILE
 *                                      appears once SIGUSR1 is handled
 *   mlu270_job NODE sigread MS       one 4 MiB READ, interrupted by a
 *                                      signal (SIGALRM) after MS ms; prints
 *                                      read=<errno name or 0> late_ms=N
 *                                      total_ms=N (late: from when the
 *                                      signal was due to the READ's return,
 *                                      -1 if the READ ended first; the
 *                                      handler itself only runs once the
 *                                      READ returns)
 *   mlu270_job NODE pending COUNT LEN [READY_FILE]
 *                                      submits COUNT fills of LEN bytes and
 *                                      never collects them; prints
 *                                      pending= refused=, then sleeps until
 *                                      SIGTERM
 *   mlu270_job NODE threads T COUNT    T threads share the file, each
 *                                      submits COUNT 1 MiB fills without
 *                                      collecting them; prints submitted=
 *                                      busy= other=
 *   mlu270_job NODE vfmig-log VF VFNODE [VFADDR]
 *                                      DMA dirty logging of VF (a PF node):
 *                                      prints [after_flr=] idle= after=
 *                                      again= stop= stop2= (see the
 *                                      function)
 *   mlu270_job NODE vfmig-arcs VF    VFIO's arc rules (a PF node, a fresh
 *                                      VF): prints undefined= state=
 *                                      commit= after=
 *   mlu270_job NODE vfmig-nocap VF   MLU270_IOCTL_VF_MIG without
 *                                      CAP_SYS_ADMIN (a PF node): prints
 *                                      own= passed= (see the function)
 *   mlu270_job NODE uffdread READY_FILE MS
 *                                      a 1 MiB READ into memory whose pages
 *                                      only userfaultfd provides, MS ms
 *                                      after READY_FILE appears; prints
 *                                      read=<errno name or 0>
 *
 * The stream keeps up to DEPTH (8) jobs in flight; each job's destination
 * is checked with a CRC job when it is collected. READY_FILE, if given, is
 * created (empty) as soon as the stream has its first full set of jobs in
 * flight (DEPTH, or COUNT if smaller), or its first job if a SUBMIT fails
 * before the set is full; and in any case when the command ends, so that a
 * test waiting for it never hangs (the output line then says what went
 * wrong). The test removes a stale READY_FILE before starting the stream.
 *
 * ok: right data; reset: the job, or its check, completed with RESET;
 * gone: GONE or ENODEV; failed: any other status, or wrong data;
 * enodev/errors: the stream stopped on ENODEV / another error.
 *
 * wiped: wrong data excused by a reset. A reset zeroes the function's
 * memory, the source included, so jobs that run after it copy zeroes
 * although nothing is broken. Zeroes alone do not prove a reset (a bug that
 * zeroes memory would look the same), and a reset between two jobs of the
 * stream fails none of them, so the stream asks the driver: wrong data
 * counts as wiped only if it is all zeroes, the source reads back as
 * zeroes, and the node's reset count (MLU270_IOCTL_INFO "resets") changed
 * since the stream read it before its last upload of the source. (The
 * driver may count a reset only when it notices it: the stream gives it up
 * to 2 s.) The source is then uploaded again, and all-zero data of the
 * jobs submitted before that upload counts as wiped too (they may have
 * copied zeroes). Any other wrong data is failed, with a "wrong data" line
 * on stderr; a zeroed source without a reset is reported as such and
 * uploaded again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>

#include <misc/mlu270.h>

static const char *node;
static int fd;
static int failures;
/* SIGTERM ends a stream early: it stops submitting and reports. */
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", node);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

static int xioctl(unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static int submit(struct mlu270_job *job)
{
	return xioctl(MLU270_IOCTL_SUBMIT, job);
}

static int wait_job(uint64_t handle, uint32_t timeout_ms, struct mlu270_wait *w)
{
	memset(w, 0, sizeof(*w));
	w->handle = handle;
	w->timeout_ms = timeout_ms;
	return xioctl(MLU270_IOCTL_WAIT, w);
}

/* Runs one job; returns -errno of the ioctls, else the job's status. */
static int run(struct mlu270_job job, struct mlu270_wait *out)
{
	struct mlu270_wait w;
	int ret;

	do
		ret = submit(&job);
	while (ret == -EINTR);
	if (ret)
		return ret;
	do
		ret = wait_job(job.handle, 10000, &w);
	while (ret == -EINTR);
	if (ret)
		return ret;
	if (out)
		*out = w;
	return (int)w.status;
}

static int xfer(bool to_device, uint64_t dev, void *buf, uint64_t len)
{
	struct mlu270_xfer x = {
		.dev_addr = dev, .user_addr = (uintptr_t)buf, .len = len,
	};

	return xioctl(to_device ? MLU270_IOCTL_WRITE : MLU270_IOCTL_READ, &x);
}

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

static uint32_t ref_crc32(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffff;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc;
}

static const uint8_t zz[64] = {
	 0,  1,  8, 16,  9,  2,  3, 10, 17, 24, 32, 25, 18, 11,  4,  5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13,  6,  7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p) {
		perror("calloc");
		exit(2);
	}
	return p;
}

static int get_info(struct mlu270_info *info)
{
	memset(info, 0, sizeof(*info));
	return xioctl(MLU270_IOCTL_INFO, info);
}

static int cmd_info(void)
{
	struct mlu270_info i;
	int ret = get_info(&i);

	if (ret) {
		fail("INFO: %s", strerror(-ret));
		return 1;
	}
	printf("abi_version=%u\nfunction=%u\nquarters=%u\nprotocol_version=%u\n"
	       "ipu_mask=0x%04x\nvpu_mask=0x%x\njpu_mask=0x%x\nmem_mb=%u\n"
	       "ring_slots=%u\nmax_jobs=%u\nmax_len=%u\nresets=%u\n",
	       i.abi_version, i.function, i.quarters, i.protocol_version,
	       i.ipu_mask, i.vpu_mask, i.jpu_mask, i.mem_mb, i.ring_slots,
	       i.max_jobs, i.max_len, i.resets);
	return 0;
}

#define CHECK_STATUS(what, got, want) do {				\
	int _g = (got);							\
	if (_g != (want))						\
		fail("%s: got %d (%s), want %d", what, _g,		\
		     _g < 0 ? strerror(-_g) : "status", want);		\
} while (0)

static void check_mem(const char *what, uint64_t dev, const uint8_t *ref,
		      size_t n)
{
	uint8_t *out = xmalloc(n);
	int ret = xfer(false, dev, out, n);

	if (ret)
		fail("%s: READ: %s", what, strerror(-ret));
	else if (memcmp(out, ref, n))
		fail("%s: device memory differs from the reference", what);
	free(out);
}

/* Every engine op against a reference computed here (as the qtest does). */
static int cmd_ops(void)
{
	enum { N = 4096, M = 7, NN = 9, K = 13 };
	uint8_t *src = xmalloc(N), *ref = xmalloc(N);
	int8_t a[M * K], b[K * NN];
	int32_t c[M * NN];
	struct mlu270_wait w;
	uint8_t prev;
	int ret;

	fill_pattern(src, N, 1);
	ret = xfer(true, 0x1000, src, N);
	CHECK_STATUS("WRITE", ret, 0);
	check_mem("WRITE/READ round trip", 0x1000, src, N);

	CHECK_STATUS("NOP", run((struct mlu270_job){ .opcode = MLU270_OP_NOP }, NULL), 0);

	CHECK_STATUS("IPU_MEMCPY", run((struct mlu270_job){
		.opcode = MLU270_OP_IPU_MEMCPY, .src = 0x1000, .dst = 0x9000,
		.len = N }, &w), 0);
	check_mem("IPU_MEMCPY", 0x9000, src, N);

	CHECK_STATUS("IPU_FILL", run((struct mlu270_job){
		.opcode = MLU270_OP_IPU_FILL, .dst = 0x9010, .len = 100,
		.arg0 = 0x1a5 }, NULL), 0);
	memcpy(ref, src, N);
	memset(ref + 0x10, 0xa5, 100);
	check_mem("IPU_FILL", 0x9000, ref, N);

	CHECK_STATUS("IPU_CRC32", run((struct mlu270_job){
		.opcode = MLU270_OP_IPU_CRC32, .src = 0x1000, .len = N }, &w), 0);
	if (w.result != ref_crc32(src, N))
		fail("IPU_CRC32: %#" PRIx64 ", want %#x", (uint64_t)w.result, ref_crc32(src, N));
	ret = xfer(true, 0x20000, "123456789", 9);
	CHECK_STATUS("WRITE 9 bytes", ret, 0);
	CHECK_STATUS("IPU_CRC32 check value", run((struct mlu270_job){
		.opcode = MLU270_OP_IPU_CRC32, .src = 0x20000, .len = 9 }, &w), 0);
	if (w.result != 0xcbf43926)
		fail("IPU_CRC32(\"123456789\") = %#" PRIx64, (uint64_t)w.result);

	fill_pattern((uint8_t *)a, sizeof(a), 2);
	fill_pattern((uint8_t *)b, sizeof(b), 3);
	CHECK_STATUS("WRITE A", xfer(true, 0x30000, a, sizeof(a)), 0);
	CHECK_STATUS("WRITE B", xfer(true, 0x31000, b, sizeof(b)), 0);
	CHECK_STATUS("IPU_MATMUL_I8", run((struct mlu270_job){
		.opcode = MLU270_OP_IPU_MATMUL_I8, .src = 0x30000,
		.aux = 0x31000, .dst = 0x32000, .arg0 = M, .arg1 = NN,
		.arg2 = K }, NULL), 0);
	for (int i = 0; i < M; i++)
		for (int j = 0; j < NN; j++) {
			int32_t acc = 0;

			for (int k = 0; k < K; k++)
				acc += a[i * K + k] * b[k * NN + j];
			c[i * NN + j] = acc; /* little-endian host */
		}
	check_mem("IPU_MATMUL_I8", 0x32000, (uint8_t *)c, sizeof(c));

	CHECK_STATUS("VPU_DELTA_ENC", run((struct mlu270_job){
		.opcode = MLU270_OP_VPU_DELTA_ENC, .src = 0x1000, .dst = 0x40000,
		.len = N, .arg0 = 0x33 }, NULL), 0);
	prev = 0x33;
	for (int i = 0; i < N; i++) {
		ref[i] = src[i] - prev;
		prev = src[i];
	}
	check_mem("VPU_DELTA_ENC", 0x40000, ref, N);
	CHECK_STATUS("VPU_DELTA_DEC", run((struct mlu270_job){
		.opcode = MLU270_OP_VPU_DELTA_DEC, .src = 0x40000,
		.dst = 0x40000, .len = N, .arg0 = 0x33 }, NULL), 0);
	check_mem("VPU_DELTA_DEC", 0x40000, src, N);

	CHECK_STATUS("JPU_ZIGZAG", run((struct mlu270_job){
		.opcode = MLU270_OP_JPU_ZIGZAG, .src = 0x1000, .dst = 0x50000,
		.len = N }, NULL), 0);
	for (int blk = 0; blk < N; blk += 64)
		for (int k = 0; k < 64; k++)
			ref[blk + k] = src[blk + zz[k]];
	check_mem("JPU_ZIGZAG", 0x50000, ref, N);
	CHECK_STATUS("JPU_UNZIGZAG", run((struct mlu270_job){
		.opcode = MLU270_OP_JPU_UNZIGZAG, .src = 0x50000,
		.dst = 0x60000, .len = N }, NULL), 0);
	check_mem("JPU_UNZIGZAG", 0x60000, src, N);

	/* A transfer larger than the bounce buffer, at the end of the window. */
	{
		struct mlu270_info info;
		size_t big = 3u << 20;
		uint8_t *buf = xmalloc(big);

		CHECK_STATUS("INFO", get_info(&info), 0);
		fill_pattern(buf, big, 7);
		uint64_t end = (uint64_t)info.mem_mb << 20;

		CHECK_STATUS("WRITE 3 MiB", xfer(true, end - big, buf, big), 0);
		check_mem("3 MiB at the end of the window", end - big, buf, big);
		CHECK_STATUS("IPU_CRC32 3 MiB", run((struct mlu270_job){
			.opcode = MLU270_OP_IPU_CRC32, .src = end - big,
			.len = big }, &w), 0);
		if (w.result != ref_crc32(buf, big))
			fail("IPU_CRC32 of 3 MiB: %#" PRIx64, (uint64_t)w.result);
		free(buf);
	}
	free(src);
	free(ref);
	return failures ? 1 : 0;
}

/* Bad input: the documented errno, nothing else happens. */
static int cmd_errors(void)
{
	struct mlu270_info info;
	struct mlu270_wait w;
	struct mlu270_job job;
	uint64_t window;
	uint8_t byte = 0;
	void *unmapped;

	CHECK_STATUS("INFO", get_info(&info), 0);
	window = (uint64_t)info.mem_mb << 20;

	job = (struct mlu270_job){ .opcode = MLU270_OP_DMA_H2D, .src = 0x1000,
				   .dst = 0, .len = 64 };
	CHECK_STATUS("DMA_H2D from userspace", submit(&job), -EPERM);
	job = (struct mlu270_job){ .opcode = MLU270_OP_DMA_D2H, .len = 64 };
	CHECK_STATUS("DMA_D2H from userspace", submit(&job), -EPERM);
	job = (struct mlu270_job){ .opcode = MLU270_OP_IPU_FILL,
				   .dst = window - 16, .len = 64 };
	CHECK_STATUS("FILL past the window", submit(&job), -ERANGE);
	job = (struct mlu270_job){ .opcode = MLU270_OP_IPU_MEMCPY,
				   .src = UINT64_MAX - 8, .dst = 0, .len = 64 };
	CHECK_STATUS("MEMCPY with a wrapping source", submit(&job), -ERANGE);
	job = (struct mlu270_job){ .opcode = MLU270_OP_IPU_MATMUL_I8,
				   .src = 0, .aux = 0, .dst = window - 4,
				   .arg0 = 2, .arg1 = 2, .arg2 = 2 };
	CHECK_STATUS("MATMUL C past the window", submit(&job), -ERANGE);
	job = (struct mlu270_job){ .opcode = MLU270_OP_NOP, .flags = 1 };
	CHECK_STATUS("non-zero flags", submit(&job), -EINVAL);
	job = (struct mlu270_job){ .opcode = MLU270_OP_NOP, .reserved = 1 };
	CHECK_STATUS("non-zero reserved", submit(&job), -EINVAL);

	/* The device's own errors come back as job status. */
	CHECK_STATUS("unknown opcode", run((struct mlu270_job){ .opcode = 0x7f }, NULL),
		     MLU270_STATUS_BAD_OPCODE);
	CHECK_STATUS("zero length", run((struct mlu270_job){
		.opcode = MLU270_OP_IPU_FILL, .len = 0 }, NULL),
		MLU270_STATUS_BAD_LEN);
	CHECK_STATUS("JPU length not a multiple of 64", run((struct mlu270_job){
		.opcode = MLU270_OP_JPU_ZIGZAG, .len = 65 }, NULL),
		MLU270_STATUS_BAD_LEN);
	CHECK_STATUS("matrix of 0 rows", run((struct mlu270_job){
		.opcode = MLU270_OP_IPU_MATMUL_I8, .arg0 = 0, .arg1 = 1,
		.arg2 = 1 }, NULL), MLU270_STATUS_BAD_ARGS);

	CHECK_STATUS("WAIT on an unknown handle", wait_job(0xdead, 10, &w), -EINVAL);
	job = (struct mlu270_job){ .opcode = MLU270_OP_IPU_FILL, .dst = 0,
				   .len = MLU270_MAX_LEN < window ? MLU270_MAX_LEN : window };
	CHECK_STATUS("long FILL", submit(&job), 0);
	CHECK_STATUS("WAIT 0 ms on a running job", wait_job(job.handle, 0, &w), -EAGAIN);
	CHECK_STATUS("WAIT for it", wait_job(job.handle, 10000, &w), 0);
	CHECK_STATUS("its status", (int)w.status, 0);
	CHECK_STATUS("WAIT twice", wait_job(job.handle, 10, &w), -EINVAL);

	/* A wait shorter than the jobs: ETIMEDOUT, the job stays pending. */
	{
		uint64_t hs[4];

		for (int i = 0; i < 4; i++) {
			job = (struct mlu270_job){ .opcode = MLU270_OP_IPU_FILL,
				.len = MLU270_MAX_LEN < window ? MLU270_MAX_LEN : window };
			CHECK_STATUS("long FILL", submit(&job), 0);
			hs[i] = job.handle;
		}
		CHECK_STATUS("WAIT 1 ms behind 4 long jobs", wait_job(hs[3], 1, &w), -ETIMEDOUT);
		for (int i = 0; i < 4; i++) {
			CHECK_STATUS("WAIT again", wait_job(hs[i], 10000, &w), 0);
			CHECK_STATUS("its status", (int)w.status, 0);
		}
	}

	CHECK_STATUS("WRITE past the window", xfer(true, window - 1, &byte, 2), -ERANGE);
	CHECK_STATUS("READ of 0 bytes", xfer(false, 0, &byte, 0), -EINVAL);
	unmapped = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK_STATUS("WRITE from an unmapped buffer", xfer(true, 0, unmapped, 4096), -EFAULT);
	CHECK_STATUS("READ into an unmapped buffer", xfer(false, 0, unmapped, 4096), -EFAULT);
	CHECK_STATUS("SUBMIT with a bad pointer", xioctl(MLU270_IOCTL_SUBMIT, unmapped), -EFAULT);
	CHECK_STATUS("unknown ioctl", xioctl(_IO(MLU270_IOCTL_BASE, 0x7f), NULL), -ENOTTY);

	/* Per-file limit of jobs not waited for. */
	{
		uint64_t handles[512];
		unsigned int n = 0;
		int ret = 0;

		while (n < 512) {
			job = (struct mlu270_job){ .opcode = MLU270_OP_NOP };
			ret = submit(&job);
			if (ret)
				break;
			handles[n++] = job.handle;
		}
		if (n != info.max_jobs || ret != -EBUSY)
			fail("file limit: %u jobs then %d, want %u then EBUSY", n,
			     ret, info.max_jobs);
		for (unsigned int i = 0; i < n; i++)
			CHECK_STATUS("WAIT a NOP", wait_job(handles[i], 10000, &w), 0);
	}
	/* The node still works. */
	CHECK_STATUS("NOP after the bad input", run((struct mlu270_job){
		.opcode = MLU270_OP_NOP }, NULL), 0);
	return failures ? 1 : 0;
}

static uint64_t num(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static int cmd_fill(uint64_t addr, uint32_t byte, uint32_t len)
{
	int ret = run((struct mlu270_job){ .opcode = MLU270_OP_IPU_FILL,
		.dst = addr, .len = len, .arg0 = byte }, NULL);

	if (ret) {
		fail("FILL: %s", ret < 0 ? strerror(-ret) : "bad status");
		return 1;
	}
	return 0;
}

static int cmd_crc(uint64_t addr, uint32_t len)
{
	struct mlu270_wait w;
	int ret = run((struct mlu270_job){ .opcode = MLU270_OP_IPU_CRC32,
		.src = addr, .len = len }, &w);

	if (ret) {
		fail("CRC32: %s", ret < 0 ? strerror(-ret) : "bad status");
		return 1;
	}
	printf("0x%08" PRIx64 "\n", (uint64_t)w.result);
	return 0;
}

static uint32_t opcode_by_name(const char *s)
{
	static const struct { const char *name; uint32_t op; } ops[] = {
		{ "nop", MLU270_OP_NOP }, { "memcpy", MLU270_OP_IPU_MEMCPY },
		{ "fill", MLU270_OP_IPU_FILL }, { "crc32", MLU270_OP_IPU_CRC32 },
		{ "delta", MLU270_OP_VPU_DELTA_ENC },
		{ "zigzag", MLU270_OP_JPU_ZIGZAG },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(s, ops[i].name))
			return ops[i].op;
	fprintf(stderr, "unknown op %s\n", s);
	exit(2);
}

static int cmd_time(uint32_t op, uint32_t len)
{
	struct mlu270_wait w;
	struct mlu270_job job = { .opcode = op, .len = len };
	int ret;

	if (op != MLU270_OP_IPU_FILL && op != MLU270_OP_NOP) {
		job.src = 0;
		job.dst = len;
	}
	ret = run(job, &w);
	if (ret) {
		fail("job: %s", ret < 0 ? strerror(-ret) : "bad status");
		return 1;
	}
	printf("%" PRIu64 "\n", (uint64_t)w.duration_ns);
	return 0;
}

/*
 * latency COUNT [OP LEN]: COUNT jobs at queue depth 1, each submitted and
 * waited for before the next; the wall time of each round trip (SUBMIT +
 * WAIT, CLOCK_MONOTONIC). A NOP is usually complete before its WAIT starts;
 * a longer job (say a 256 KiB fill, about 1 ms of device time on a quarter
 * slice) makes the waiter sleep, so the round trip measures the completion
 * interrupt path. Percentiles are nearest-rank: the p-th is the value at
 * rank ceil(p/100 * N) of the N sorted samples.
 */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t nearest_rank(const uint64_t *sorted, uint64_t n, unsigned int p)
{
	uint64_t rank = (p * n + 99) / 100;

	return sorted[rank ? rank - 1 : 0];
}

static uint64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (uint64_t)(b->tv_sec - a->tv_sec) * 1000000000u +
	       (uint64_t)b->tv_nsec - (uint64_t)a->tv_nsec;
}

static uint64_t us(uint64_t ns)
{
	return (ns + 500) / 1000;
}

static int cmd_latency(uint64_t count, uint32_t op, uint32_t len)
{
	struct mlu270_job job = { .opcode = op, .len = len };
	uint64_t *ns, n = 0, failed = 0;

	if (count == 0 || count > 10000000) {
		fprintf(stderr, "latency: COUNT must be 1 .. 10000000\n");
		return 2;
	}
	if (op != MLU270_OP_IPU_FILL && op != MLU270_OP_NOP) {
		job.src = 0;
		job.dst = len;
	}
	ns = xmalloc(count * sizeof(*ns));
	for (uint64_t i = 0; i < count; i++) {
		struct timespec t0, t1;
		int ret;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = run(job, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (ret) {
			fail("job %" PRIu64 ": %s", i,
			     ret < 0 ? strerror(-ret) : "bad status");
			failed++;
			/* The node is gone: no point going on. */
			if (ret == -ENODEV)
				break;
			continue;
		}
		ns[n++] = ns_between(&t0, &t1);
	}
	if (n) {
		qsort(ns, n, sizeof(*ns), cmp_u64);
		printf("count=%" PRIu64 " min_us=%" PRIu64 " p50_us=%" PRIu64
		       " p99_us=%" PRIu64 " max_us=%" PRIu64 "\n", n, us(ns[0]),
		       us(nearest_rank(ns, n, 50)), us(nearest_rank(ns, n, 99)),
		       us(ns[n - 1]));
	} else {
		printf("count=0\n");
	}
	free(ns);
	return failed ? 1 : 0;
}

/* A checked stream of memcpy jobs (stream and hold); see the header. */
enum { DEPTH = 8, RETRIES = 20 };

struct stream {
	/* what to do */
	uint64_t count;
	bool hold;
	uint64_t hold_ms;
	struct timespec t0;
	uint32_t len;
	uint8_t *buf;		/* the source, uploaded at 0 */
	uint32_t crc;		/* its CRC-32 */
	uint32_t zero_crc;	/* the CRC-32 of as many zeroes */
	/* jobs: number k (from 0) uses handles[k % DEPTH] */
	uint64_t handles[DEPTH];
	uint64_t submitted, collected;
	/* the reset rule */
	uint32_t resets;	/* INFO's resets before the last upload */
	uint64_t excused;	/* jobs below this number ran on a wiped source */
	/* READY_FILE */
	const char *ready_file;
	uint64_t ready_at;	/* jobs in flight that make the stream ready */
	bool ready;
	/* what happened */
	uint64_t ok, reset, wiped, gone, bad, enodev, other_err;
};

static bool stream_more(const struct stream *s)
{
	struct timespec now;

	if (stop)
		return false;
	if (!s->hold)
		return s->submitted < s->count;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return ns_between(&s->t0, &now) / 1000000 < s->hold_ms;
}

/* Creates READY_FILE, once: a test waiting for it may go on. */
static void stream_ready(struct stream *s)
{
	int f;

	if (s->ready)
		return;
	s->ready = true;
	if (!s->ready_file)
		return;
	f = open(s->ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (f < 0) {
		fail("READY_FILE %s: %s", s->ready_file, strerror(errno));
		s->other_err++;
		return;
	}
	close(f);
}

/*
 * Uploads the source at 0, after reading the node's reset count: a reset
 * after that read may have wiped the source. A reset may cancel the upload
 * (EIO): it is retried.
 */
static int stream_upload(struct stream *s)
{
	struct mlu270_info info;
	int ret, tries = 0;

	for (;;) {
		ret = get_info(&info);
		if (ret)
			return ret;
		s->resets = info.resets;
		ret = xfer(true, 0, s->buf, s->len);
		if ((ret != -EIO && ret != -EINTR) || ++tries >= RETRIES)
			return ret;
		usleep(10000);
	}
}

/* Submits memcpy job number s->submitted (source 0, its own destination). */
static int stream_submit(struct stream *s)
{
	struct mlu270_job job = {
		.opcode = MLU270_OP_IPU_MEMCPY, .src = 0,
		.dst = (uint64_t)s->len * (1 + s->submitted % DEPTH), .len = s->len,
	};
	int ret = submit(&job);

	if (ret)
		return ret;
	s->handles[s->submitted % DEPTH] = job.handle;
	s->submitted++;
	if (s->submitted - s->collected >= s->ready_at)
		stream_ready(s);
	return 0;
}

/* The stream's source (at 0) reads back as zeroes. */
static bool source_wiped(struct stream *s)
{
	uint8_t *now = xmalloc(s->len);
	int ret, tries = 0;
	bool wiped;

	/* Another reset may cancel the read too. */
	while (((ret = xfer(false, 0, now, s->len)) == -EIO || ret == -EINTR) &&
	       ++tries < RETRIES)
		usleep(10000);
	wiped = !ret;
	for (uint32_t i = 0; wiped && i < s->len; i++)
		wiped = now[i] == 0;
	free(now);
	return wiped;
}

/*
 * Was the function reset since the stream read its reset count before the
 * last upload? The driver counts a reset when it sees it, which may be a
 * little after the device zeroed the memory: give it 2 s.
 */
static bool reset_since_upload(struct stream *s)
{
	struct mlu270_info info;

	for (int i = 0; i < 100; i++) {
		if (!get_info(&info) && info.resets != s->resets)
			return true;
		usleep(20000);
	}
	return false;
}

/*
 * Runs the CRC check of a collected job: SUBMIT, then one more memcpy so
 * that the device stays busy while the check runs, then WAIT. Returns
 * -errno or the status of the check.
 */
static int stream_check(struct stream *s, uint64_t dst, struct mlu270_wait *c)
{
	struct mlu270_job job = {
		.opcode = MLU270_OP_IPU_CRC32, .src = dst, .len = s->len,
	};
	int ret, tries = 0;

	for (;;) {
		ret = submit(&job);
		if (ret == -EINTR)
			continue;
		if (ret != -EIO || ++tries >= RETRIES)
			break;
		usleep(10000);
	}
	if (ret)
		return ret;
	/* Errors here are the main loop's to handle at its next SUBMIT. */
	if (stream_more(s) && s->submitted - s->collected < DEPTH)
		(void)stream_submit(s);
	do
		ret = wait_job(job.handle, 20000, c);
	while (ret == -EINTR);
	return ret ? ret : (int)c->status;
}

/* Judges the data of collected job number k, which completed OK. */
static void stream_judge(struct stream *s, uint64_t k)
{
	uint64_t dst = (uint64_t)s->len * (1 + k % DEPTH);
	struct mlu270_wait c;
	int ret = stream_check(s, dst, &c);

	if (ret == MLU270_STATUS_RESET) {
		s->reset++;
		return;
	}
	if (ret == -ENODEV || ret == MLU270_STATUS_GONE) {
		s->gone++;
		return;
	}
	if (!ret && c.result == s->crc) {
		s->ok++;
		return;
	}
	if (!ret && k < s->excused && c.result == s->zero_crc) {
		/* Submitted before the source was back after a wipe. */
		s->wiped++;
		return;
	}
	if (!ret && c.result == s->zero_crc && source_wiped(s)) {
		if (reset_since_upload(s)) {
			/*
			 * A reset zeroed the function's memory: this job, and
			 * those submitted before the source is back, copied
			 * zeroes. Upload the source again.
			 */
			s->wiped++;
			s->excused = s->submitted;
		} else {
			fail("job %" PRIu64 ": wrong data (%#" PRIx64
			     "): the source reads back as zeroes but the function was not reset",
			     k, (uint64_t)c.result);
			s->bad++;
		}
		ret = stream_upload(s);
		if (ret) {
			fail("WRITE of the source again: %s", strerror(-ret));
			s->bad++;
		}
		return;
	}
	fail("job %" PRIu64 ": wrong data (%d, %#" PRIx64 ")", k, ret,
	     (uint64_t)c.result);
	s->bad++;
}

/*
 * Up to DEPTH memcpy jobs in flight, each checked by a CRC of its
 * destination: counts jobs that completed OK, were cancelled by a reset or
 * an unbind, ran on a source a reset had wiped, or failed otherwise (or
 * gave wrong data).
 */
static int cmd_stream(uint64_t count, uint32_t len, bool hold, uint64_t hold_ms,
		      const char *ready_file)
{
	struct stream *s = xmalloc(sizeof(*s));
	struct sigaction sa = { .sa_handler = on_term };
	struct mlu270_info info;
	unsigned int restarting = 0;
	int ret, rc;

	sigaction(SIGTERM, &sa, NULL);
	s->count = count;
	s->hold = hold;
	s->hold_ms = hold_ms;
	s->len = len;
	s->ready_file = ready_file;
	/*
	 * A full set of jobs in flight, or as many as the stream and the
	 * node's per-file limit allow.
	 */
	s->ready_at = DEPTH;
	if (!hold && count < s->ready_at)
		s->ready_at = count;
	if (!get_info(&info) && info.max_jobs && info.max_jobs < s->ready_at)
		s->ready_at = info.max_jobs;
	s->buf = xmalloc(len);
	fill_pattern(s->buf, len, 11);
	s->crc = ref_crc32(s->buf, len);
	{
		uint8_t *zero = xmalloc(len);	/* zeroed */

		s->zero_crc = ref_crc32(zero, len);
		free(zero);
	}
	ret = stream_upload(s);
	if (ret) {
		fail("WRITE: %s", strerror(-ret));
		s->other_err++;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	for (;;) {
		if (stream_more(s) && s->submitted - s->collected < DEPTH) {
			ret = stream_submit(s);
			if (ret == -EINTR)
				continue;
			if (ret && s->submitted)
				/* The queue does not take a full set now. */
				stream_ready(s);
			if (ret == -ENODEV) {
				s->enodev++;
				break;
			}
			if (ret == -EIO && ++restarting < RETRIES) {
				/* the queue is being reset: try again */
				usleep(10000);
				continue;
			}
			if (ret) {
				fail("SUBMIT: %s", strerror(-ret));
				s->other_err++;
				break;
			}
			restarting = 0;
			continue;
		}
		if (s->collected == s->submitted)
			break;

		uint64_t k = s->collected;
		unsigned int i = k % DEPTH;
		struct mlu270_wait w;

		ret = wait_job(s->handles[i], 20000, &w);
		if (ret == -EINTR)
			continue;
		if (ret == -ENODEV) {
			s->enodev++;
			break;
		}
		if (ret) {
			fail("WAIT: %s", strerror(-ret));
			s->other_err++;
			break;
		}
		s->collected++;
		if (w.status == MLU270_STATUS_OK) {
			stream_judge(s, k);
		} else if (w.status == MLU270_STATUS_RESET) {
			s->reset++;
		} else if (w.status == MLU270_STATUS_GONE) {
			s->gone++;
		} else {
			fail("job %" PRIu64 ": status %u", k, w.status);
			s->bad++;
		}
	}
out:
	/* Whatever happened, a test waiting for READY_FILE must not hang. */
	stream_ready(s);
	printf("submitted=%" PRIu64 " ok=%" PRIu64 " reset=%" PRIu64
	       " gone=%" PRIu64 " failed=%" PRIu64 " enodev=%" PRIu64
	       " errors=%" PRIu64 " wiped=%" PRIu64 "\n",
	       s->submitted, s->ok, s->reset, s->gone, s->bad, s->enodev,
	       s->other_err, s->wiped);
	fflush(stdout);
	rc = s->bad || s->other_err ? 1 : 0;
	free(s->buf);
	free(s);
	return rc;
}

/* ---- One file's trouble is that file's ---------------------------------- */

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void touch(const char *path)
{
	int f;

	if (!path)
		return;
	f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (f >= 0)
		close(f);
}

/*
 * READs interrupted by signals: each interrupted READ fails with EINTR,
 * which must cost this file its transfer and nobody anything else.
 */
static int cmd_readloop(uint64_t ms, const char *ready)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	uint64_t len = 4 << 20, reads = 0, eintr = 0, errors = 0;
	void *buf = xmalloc(len);
	uint64_t start = mono_ms();

	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGTERM, on_term);
	touch(ready);
	while (mono_ms() - start < ms && !stop) {
		int ret = xfer(false, 0, buf, len);

		if (!ret) {
			reads++;
		} else if (ret == -EINTR) {
			eintr++;
		} else {
			fail("READ: %s", strerror(-ret));
			errors++;
		}
	}
	printf("reads=%" PRIu64 " eintr=%" PRIu64 " errors=%" PRIu64 "\n",
	       reads, eintr, errors);
	free(buf);
	return errors ? 1 : 0;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * A READ that waits (for the bounce buffer, for ring space, for its job)
 * must end soon after a signal, whoever it waits behind.
 */
static int cmd_sigread(uint64_t ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { .it_value = { .tv_sec = ms / 1000,
					      .tv_usec = ms % 1000 * 1000 } };
	uint64_t len = 4 << 20;
	void *buf = xmalloc(len);
	uint64_t start, end;
	int ret;

	sigaction(SIGALRM, &sa, NULL);
	start = mono_ms();
	setitimer(ITIMER_REAL, &it, NULL);
	ret = xfer(false, 0, buf, len);
	end = mono_ms();
	printf("read=%s late_ms=%" PRId64 " total_ms=%" PRIu64 "\n",
	       ret == -EINTR ? "EINTR" : ret ? strerror(-ret) : "0",
	       end - start >= ms ? (int64_t)(end - start - ms) : (int64_t)-1, end - start);
	free(buf);
	return 0;
}

static int cmd_pending(uint64_t count, uint32_t len, const char *ready)
{
	uint64_t n = 0;
	int ret = 0;

	signal(SIGTERM, on_term);
	for (; n < count; n++) {
		struct mlu270_job j = {
			.opcode = MLU270_OP_IPU_FILL, .dst = 0, .len = len,
		};

		ret = submit(&j);
		if (ret)
			break;
	}
	printf("pending=%" PRIu64 " refused=%s\n", n, ret ? strerror(-ret) : "none");
	fflush(stdout);
	touch(ready);
	while (!stop)
		pause();
	return 0;
}

struct submitter {
	pthread_t thread;
	uint64_t count, ok, busy, other;
};

static void *submitter_main(void *arg)
{
	struct submitter *t = arg;

	for (uint64_t i = 0; i < t->count; i++) {
		struct mlu270_job j = {
			.opcode = MLU270_OP_IPU_FILL, .dst = 0, .len = 1 << 20,
		};
		int ret = submit(&j);

		if (!ret)
			t->ok++;
		else if (ret == -EBUSY)
			t->busy++;
		else
			t->other++;
	}
	return NULL;
}

/*
 * Threads sharing one file: the file has MAX_JOBS_PER_FILE places, however
 * many threads submit at once and however long they wait for ring space.
 */
static int cmd_threads(unsigned int nthreads, uint64_t count)
{
	struct submitter *t = xmalloc(nthreads * sizeof(*t));
	uint64_t ok = 0, busy = 0, other = 0;

	for (unsigned int i = 0; i < nthreads; i++) {
		t[i].count = count;
		if (pthread_create(&t[i].thread, NULL, submitter_main, &t[i])) {
			perror("pthread_create");
			return 2;
		}
	}
	for (unsigned int i = 0; i < nthreads; i++) {
		pthread_join(t[i].thread, NULL);
		ok += t[i].ok;
		busy += t[i].busy;
		other += t[i].other;
	}
	printf("submitted=%" PRIu64 " busy=%" PRIu64 " other=%" PRIu64 "\n",
	       ok, busy, other);
	free(t);
	return other ? 1 : 0;
}

struct uffd_read {
	void *buf;
	size_t len;
	int ret;
};

static void *uffd_reader(void *arg)
{
	struct uffd_read *r = arg;

	r->ret = xfer(false, 0, r->buf, r->len);
	return NULL;
}

/*
 * A READ whose user copy waits on a page only userfaultfd provides, as a
 * buffer backed by a FUSE daemon that does not answer would: the
 * function's unbind must not wait for it. The pages are provided (zero)
 * MS ms after READY_FILE is created, so that a kernel that does wait is
 * seen waiting that long, not forever.
 */
static int cmd_uffdread(const char *ready, uint64_t ms)
{
	size_t len = 1 << 20;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffd_read r = { .len = len };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zp;
	pthread_t thread;
	int uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		fail("userfaultfd: %s", strerror(errno));
		return 1;
	}
	r.buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.buf == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		return 1;
	}
	reg.range.start = (uintptr_t)r.buf;
	reg.range.len = len;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		fail("UFFDIO_REGISTER: %s", strerror(errno));
		return 1;
	}
	if (pthread_create(&thread, NULL, uffd_reader, &r)) {
		fail("pthread_create");
		return 1;
	}
	/* Give the READ time to reach its user copy. */
	usleep(300000);
	touch(ready);
	usleep(ms * 1000);
	zp.range.start = (uintptr_t)r.buf;
	zp.range.len = len;
	zp.mode = 0;
	ioctl(uffd, UFFDIO_ZEROPAGE, &zp);
	pthread_join(thread, NULL);
	printf("read=%s\n", r.ret ? strerror(-r.ret) : "0");
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: mlu270_job NODE info|ops|errors|fill ADDR BYTE LEN|"
		"crc ADDR LEN|time OP LEN|latency COUNT [OP LEN]|"
		"stream COUNT [LEN [READY_FILE]]|hold MS [READY_FILE]|"
		"readloop MS [READY_FILE]|sigread MS|pending COUNT LEN [READY_FILE]|threads T COUNT|"
		"uffdread READY_FILE MS\n");
	exit(2);
}

/*
 * vfmig-nocap VF: MLU270_IOCTL_VF_MIG (GET_STATE of VF) by root without
 * CAP_SYS_ADMIN, with a node it opened itself and with one opened before
 * it dropped the capability (the driver checks the opener's). Prints
 * own=<errno name or 0> passed=<errno name or 0>.
 */
static const char *ioctl_errname(int ret)
{
	if (!ret)
		return "0";
	return errno == EPERM ? "EPERM" : errno == EACCES ? "EACCES" :
	       errno == ENOTTY ? "ENOTTY" : errno == EINVAL ? "EINVAL" : "other";
}

static int drop_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct caps[2];
	unsigned int word = CAP_SYS_ADMIN / 32, bit = 1u << (CAP_SYS_ADMIN % 32);

	if (syscall(SYS_capget, &hdr, caps))
		return -1;
	caps[word].effective &= ~bit;
	caps[word].permitted &= ~bit;
	caps[word].inheritable &= ~bit;
	return syscall(SYS_capset, &hdr, caps);
}

static int cmd_vfmig_nocap(const char *path, unsigned int vf)
{
	struct mlu270_vf_mig req = { .vf = vf, .op = MLU270_VF_MIG_GET_STATE };
	int passed = open(path, O_RDWR | O_CLOEXEC), own, ret;
	const char *own_res, *passed_res;

	if (passed < 0 || drop_sys_admin()) {
		perror("vfmig-nocap");
		return 1;
	}
	own = open(path, O_RDWR | O_CLOEXEC);
	if (own < 0) {
		own_res = "open-failed";
	} else {
		ret = ioctl(own, MLU270_IOCTL_VF_MIG, &req);
		own_res = ioctl_errname(ret);
	}
	memset(&req, 0, sizeof(req));
	req.vf = vf;
	req.op = MLU270_VF_MIG_GET_STATE;
	ret = ioctl(passed, MLU270_IOCTL_VF_MIG, &req);
	passed_res = ioctl_errname(ret);
	printf("own=%s passed=%s\n", own_res, passed_res);
	return 0;
}

/*
 * vfmig-log VF VFNODE: DMA dirty logging of VF through the PF node (this
 * NODE): logging of all IOVAs below 2^40 at 2 MiB; the bits set with the
 * VF idle, after a 64 KiB READ through VFNODE (the card writes the VF
 * driver's bounce buffer and a completion record), and again (the report
 * cleared them); then LOG_STOP twice. Prints idle= after= again= stop=
 * stop2=.
 */
static long vfmig_log_bits(unsigned int vf, uint8_t *map, size_t len)
{
	struct mlu270_vf_mig req = {
		.vf = vf, .op = MLU270_VF_MIG_LOG_REPORT,
		.addr = (uintptr_t)map, .len = len, .iova = 0,
	};
	long bits = 0;

	if (ioctl(fd, MLU270_IOCTL_VF_MIG, &req))
		return -errno;
	for (size_t i = 0; i < len; i++)
		bits += __builtin_popcount(map[i]);
	return bits;
}

static int vfmig_step(unsigned int vf, uint32_t op, uint32_t arg,
		      uint32_t *state)
{
	struct mlu270_vf_mig req = { .vf = vf, .op = op, .arg = arg };
	int ret = ioctl(fd, MLU270_IOCTL_VF_MIG, &req) ? errno : 0;

	if (state)
		*state = req.state;
	return ret;
}

static const char *ename(int e)
{
	return !e ? "0" : e == EINVAL ? "EINVAL" : e == EBUSY ? "EBUSY" :
	       e == ENODEV ? "ENODEV" : e == EPERM ? "EPERM" : strerror(e);
}

/*
 * vfmig-arcs VF: VFIO's arc rules on a fresh VF: STOP, RESUMING, then an
 * arc VFIO does not define (RESUMING -> PRE_COPY) and the state after it,
 * then STOP with no stream (an empty stream is not complete) and the
 * state after that. Prints undefined= state= commit= after=.
 */
static int cmd_vfmig_arcs(unsigned int vf)
{
	uint32_t state = 0, after = 0;
	int undefined, commit;

	if (vfmig_step(vf, MLU270_VF_MIG_SET_STATE, 1, NULL) ||
	    vfmig_step(vf, MLU270_VF_MIG_SET_STATE, 4, NULL)) {
		fail("STOP, RESUMING: %s", strerror(errno));
		return 1;
	}
	undefined = vfmig_step(vf, MLU270_VF_MIG_SET_STATE, 6, NULL);
	vfmig_step(vf, MLU270_VF_MIG_GET_STATE, 0, &state);
	commit = vfmig_step(vf, MLU270_VF_MIG_SET_STATE, 1, NULL);
	vfmig_step(vf, MLU270_VF_MIG_GET_STATE, 0, &after);
	printf("undefined=%s state=%u commit=%s after=%u\n", ename(undefined),
	       state, ename(commit), after);
	return 0;
}

/*
 * vfmig-log VF VFNODE [VFADDR]: see above; with VFADDR, the VF is then
 * reset (its sysfs "reset"), read again, and the log still has its
 * writes: after_flr=.
 */
static int cmd_vfmig_log(unsigned int vf, const char *vfnode,
			 const char *vfaddr)
{
	uint64_t range[2] = { 0, 1ull << 40 };
	struct mlu270_vf_mig req = {
		.vf = vf, .op = MLU270_VF_MIG_LOG_START,
		.addr = (uintptr_t)range, .len = sizeof(range), .arg = 21,
	};
	size_t len = (1ull << (40 - 21)) / 8;
	uint8_t *map = calloc(1, len), *data = calloc(1, 65536);
	long idle, after, again;
	int vfd, stop, stop2;
	struct mlu270_xfer x;

	if (!map || !data || ioctl(fd, MLU270_IOCTL_VF_MIG, &req)) {
		fail("LOG_START: %s", strerror(errno));
		return 1;
	}
	idle = vfmig_log_bits(vf, map, len);
	vfd = open(vfnode, O_RDWR | O_CLOEXEC);
	x = (struct mlu270_xfer){ .dev_addr = 0, .user_addr = (uintptr_t)data,
				  .len = 65536 };
	if (vfd < 0 || ioctl(vfd, MLU270_IOCTL_READ, &x)) {
		fail("READ on %s: %s", vfnode, strerror(errno));
		return 1;
	}
	after = vfmig_log_bits(vf, map, len);
	again = vfmig_log_bits(vf, map, len);
	if (vfaddr) {
		char path[128];
		int rfd, rvfd, ok;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", vfaddr);
		rfd = open(path, O_WRONLY | O_CLOEXEC);
		ok = rfd >= 0 && write(rfd, "1", 1) == 1;
		if (rfd >= 0)
			close(rfd);
		/* The VF driver restarts its queue after the reset. */
		for (int i = 0; ok && i < 100; i++) {
			rvfd = ioctl(vfd, MLU270_IOCTL_READ, &x);
			if (!rvfd)
				break;
			usleep(100000);
		}
		printf("after_flr=%ld ", ok ? vfmig_log_bits(vf, map, len) : -1L);
	}
	memset(&req, 0, sizeof(req));
	req.vf = vf;
	req.op = MLU270_VF_MIG_LOG_STOP;
	stop = ioctl(fd, MLU270_IOCTL_VF_MIG, &req) ? errno : 0;
	stop2 = ioctl(fd, MLU270_IOCTL_VF_MIG, &req) ? errno : 0;
	printf("idle=%ld after=%ld again=%ld stop=%s stop2=%s\n", idle, after,
	       again, stop ? strerror(stop) : "0",
	       stop2 == EINVAL ? "EINVAL" : stop2 ? strerror(stop2) : "0");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (!strcmp(argv[2], "vfmig-nocap") && argc == 4)
		return cmd_vfmig_nocap(argv[1], num(argv[3]));
	node = argv[1];
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", node, strerror(errno));
		return 1;
	}
	const char *cmd = argv[2];

	if (!strcmp(cmd, "info"))
		return cmd_info();
	if (!strcmp(cmd, "vfmig-log") && (argc == 5 || argc == 6))
		return cmd_vfmig_log(num(argv[3]), argv[4],
				     argc == 6 ? argv[5] : NULL);
	if (!strcmp(cmd, "vfmig-arcs") && argc == 4)
		return cmd_vfmig_arcs(num(argv[3]));
	if (!strcmp(cmd, "ops"))
		return cmd_ops();
	if (!strcmp(cmd, "errors"))
		return cmd_errors();
	if (!strcmp(cmd, "fill") && argc == 6)
		return cmd_fill(num(argv[3]), num(argv[4]), num(argv[5]));
	if (!strcmp(cmd, "crc") && argc == 5)
		return cmd_crc(num(argv[3]), num(argv[4]));
	if (!strcmp(cmd, "time") && argc == 5)
		return cmd_time(opcode_by_name(argv[3]), num(argv[4]));
	if (!strcmp(cmd, "latency") && argc == 4)
		return cmd_latency(num(argv[3]), MLU270_OP_NOP, 0);
	if (!strcmp(cmd, "latency") && argc == 6)
		return cmd_latency(num(argv[3]), opcode_by_name(argv[4]),
				   num(argv[5]));
	if (!strcmp(cmd, "stream") && argc >= 4 && argc <= 6)
		return cmd_stream(num(argv[3]), argc >= 5 ? num(argv[4]) : 65536,
				  false, 0, argc == 6 ? argv[5] : NULL);
	if (!strcmp(cmd, "sigread") && argc == 4)
		return cmd_sigread(num(argv[3]));
	if (!strcmp(cmd, "readloop") && (argc == 4 || argc == 5))
		return cmd_readloop(num(argv[3]), argc == 5 ? argv[4] : NULL);
	if (!strcmp(cmd, "pending") && (argc == 5 || argc == 6))
		return cmd_pending(num(argv[3]), num(argv[4]),
				   argc == 6 ? argv[5] : NULL);
	if (!strcmp(cmd, "threads") && argc == 5)
		return cmd_threads(num(argv[3]), num(argv[4]));
	if (!strcmp(cmd, "uffdread") && argc == 5)
		return cmd_uffdread(argv[3], num(argv[4]));
	if (!strcmp(cmd, "hold") && (argc == 4 || argc == 5))
		return cmd_stream(0, 4 << 20, true, num(argv[3]),
				  argc == 5 ? argv[4] : NULL);
	usage();
	return 2;
}
