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
 *   mlu270_job NODE stream COUNT [LEN] a stream of checked memcpy jobs;
 *                                      prints ok= reset= gone= failed= ...
 *                                      (wiped=: jobs that ran on memory a
 *                                      reset had zeroed)
 *   mlu270_job NODE hold MS            keep jobs in flight for MS ms (or
 *                                      until SIGTERM), then print what
 *                                      happened to them
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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
	       "ring_slots=%u\nmax_jobs=%u\nmax_len=%u\n",
	       i.abi_version, i.function, i.quarters, i.protocol_version,
	       i.ipu_mask, i.vpu_mask, i.jpu_mask, i.mem_mb, i.ring_slots,
	       i.max_jobs, i.max_len);
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

/* The stream's source (at 0) reads back as zeroes: a reset wiped it. */
static bool source_wiped(const uint8_t *buf, uint32_t len)
{
	uint8_t *now = xmalloc(len);
	int ret, tries = 0;
	bool wiped;

	/* Another reset may cancel the read too. */
	while (((ret = xfer(false, 0, now, len)) == -EIO || ret == -EINTR) && ++tries < 20)
		usleep(10000);
	wiped = !ret;

	for (uint32_t i = 0; wiped && i < len; i++)
		wiped = now[i] == 0;
	free(now);
	(void)buf;
	return wiped;
}

/*
 * Up to 8 memcpy jobs in flight, each checked by a CRC of its destination:
 * counts jobs that completed OK, were cancelled by a reset or an unbind, or
 * failed otherwise (or gave wrong data).
 */
static int cmd_stream(uint64_t count, uint32_t len, bool hold, uint64_t hold_ms)
{
	enum { DEPTH = 8 };
	uint64_t handles[DEPTH];
	uint64_t submitted = 0, collected = 0, ok = 0, reset = 0, wiped = 0, gone = 0, bad = 0;
	uint64_t enodev = 0, other_err = 0;
	unsigned int restarting = 0;
	uint64_t excused = 0;
	uint8_t *buf = xmalloc(len);
	uint32_t crc;
	struct timespec t0, now;
	int ret;

	struct sigaction sa = { .sa_handler = on_term };

	sigaction(SIGTERM, &sa, NULL);
	fill_pattern(buf, len, 11);
	crc = ref_crc32(buf, len);
	ret = xfer(true, 0, buf, len);
	if (ret) {
		fail("WRITE: %s", strerror(-ret));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		uint64_t ms = (now.tv_sec - t0.tv_sec) * 1000 +
			      (now.tv_nsec - t0.tv_nsec) / 1000000;
		bool more = !stop && (hold ? ms < hold_ms : submitted < count);

		if (more && submitted - collected < DEPTH) {
			struct mlu270_job job = {
				.opcode = MLU270_OP_IPU_MEMCPY, .src = 0,
				.dst = len * (1 + submitted % DEPTH), .len = len,
			};

			ret = submit(&job);
			if (ret == -EINTR)
				continue;
			if (ret == -ENODEV) {
				enodev++;
				break;
			}
			if (ret == -EIO && ++restarting < 20) {
				/* the queue is being reset: try again */
				usleep(10000);
				continue;
			}
			if (ret) {
				fail("SUBMIT: %s", strerror(-ret));
				other_err++;
				break;
			}
			restarting = 0;
			handles[submitted % DEPTH] = job.handle;
			submitted++;
			continue;
		}
		if (collected == submitted)
			break;

		struct mlu270_wait w;

		ret = wait_job(handles[collected % DEPTH], 20000, &w);
		if (ret == -EINTR)
			continue;
		if (ret == -ENODEV) {
			enodev++;
			break;
		}
		if (ret) {
			fail("WAIT: %s", strerror(-ret));
			other_err++;
			break;
		}
		uint64_t dst = len * (1 + collected % DEPTH);

		collected++;
		if (w.status == MLU270_STATUS_OK) {
			struct mlu270_wait c;

			ret = run((struct mlu270_job){ .opcode = MLU270_OP_IPU_CRC32,
				.src = dst, .len = len }, &c);
			if (ret == MLU270_STATUS_RESET) {
				reset++;
			} else if (ret == -ENODEV || ret == MLU270_STATUS_GONE) {
				gone++;
			} else if (!ret && c.result != crc &&
				   (collected <= excused || source_wiped(buf, len))) {
				/*
				 * A reset zeroes the function's memory: this job,
				 * and those submitted before the source is back,
				 * copied zeroes. Upload the source again.
				 */
				wiped++;
				if (collected > excused) {
					int tries = 0;

					excused = submitted;
					/* Another reset may cancel the upload too. */
					while (((ret = xfer(true, 0, buf, len)) == -EIO || ret == -EINTR) && ++tries < 20)
						usleep(10000);
					if (ret) {
						fail("WRITE after a reset failed: %s", strerror(-ret));
						bad++;
					}
				}
			} else if (ret || c.result != crc) {
				fail("job %" PRIu64 ": wrong data (%d, %#" PRIx64 ")",
				     collected, ret, (uint64_t)c.result);
				bad++;
			} else {
				ok++;
			}
		} else if (w.status == MLU270_STATUS_RESET) {
			reset++;
		} else if (w.status == MLU270_STATUS_GONE) {
			gone++;
		} else {
			fail("job %" PRIu64 ": status %u", collected, w.status);
			bad++;
		}
	}
	printf("submitted=%" PRIu64 " ok=%" PRIu64 " reset=%" PRIu64
	       " gone=%" PRIu64 " failed=%" PRIu64 " enodev=%" PRIu64
	       " errors=%" PRIu64 " wiped=%" PRIu64 "\n",
	       submitted, ok, reset, gone, bad, enodev, other_err, wiped);
	fflush(stdout);
	free(buf);
	return bad || other_err ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: mlu270_job NODE info|ops|errors|fill ADDR BYTE LEN|"
		"crc ADDR LEN|time OP LEN|stream COUNT [LEN]|hold MS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	node = argv[1];
	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", node, strerror(errno));
		return 1;
	}
	const char *cmd = argv[2];

	if (!strcmp(cmd, "info"))
		return cmd_info();
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
	if (!strcmp(cmd, "stream") && (argc == 4 || argc == 5))
		return cmd_stream(num(argv[3]), argc == 5 ? num(argv[4]) : 65536,
				  false, 0);
	if (!strcmp(cmd, "hold") && argc == 4)
		return cmd_stream(0, 4 << 20, true, num(argv[3]));
	usage();
	return 2;
}
