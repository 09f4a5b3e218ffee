// SPDX-License-Identifier: GPL-2.0
/*
 * mlu270_mmio: 32-bit register accesses to a function's BAR 0 through
 * /dev/mem, several in one process, in the order given.
 *
 *   mlu270_mmio BASE OP...
 *     OFF         read the register at BASE + OFF, print it as 0x%08x
 *     OFF=VALUE   write VALUE to the register at BASE + OFF
 *
 * BASE, OFF and VALUE in any strtoull() form (0x... for hex). The tests
 * used busybox devmem, one process per access; a mailbox message is 17
 * writes, and under the test kernel (KASAN, kmemleak, lockdep) and TCG a
 * process costs 40-70 ms.
 *
 * Exit 1 with the reason on stderr if an argument is malformed or out of
 * the mapped window, BASE is 0 (an empty BAR lookup in the caller), or
 * /dev/mem cannot be mapped; nothing is accessed
 * then (all operations are checked before the first access).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A function's BAR 0 is 16 KiB (Documentation/accel/mlu270/hardware.rst). */
#define WINDOW (16 * 1024)

struct op {
	uint64_t off;
	uint32_t value;
	bool write;
};

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

static bool parse_op(const char *arg, struct op *op)
{
	char off[64];
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	uint64_t v = 0;

	if (n == 0 || n >= sizeof(off))
		return false;
	memcpy(off, arg, n);
	off[n] = 0;
	if (!parse_u64(off, &op->off) || op->off % 4 || op->off > WINDOW - 4)
		return false;
	op->write = eq != NULL;
	if (op->write && (!parse_u64(eq + 1, &v) || v > UINT32_MAX))
		return false;
	op->value = (uint32_t)v;
	return true;
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	volatile uint32_t *regs;
	struct op *ops;
	uint64_t base;
	void *map;
	int fd, i;

	/*
	 * No BAR is at 0: a zero BASE is a caller whose BAR lookup came back
	 * empty (the shell turns "" into 0), not a register window.
	 */
	if (argc < 3 || !parse_u64(argv[1], &base) || !base || base % page) {
		fprintf(stderr, "usage: %s BASE (page aligned, not 0) OFF|OFF=VALUE...\n", argv[0]);
		return 1;
	}
	ops = calloc(argc - 2, sizeof(*ops));
	if (!ops) {
		perror("calloc");
		return 1;
	}
	for (i = 2; i < argc; i++) {
		if (!parse_op(argv[i], &ops[i - 2])) {
			fprintf(stderr, "%s: bad operation '%s' (OFF or OFF=VALUE, 32-bit aligned, below 0x%x)\n",
				argv[0], argv[i], WINDOW);
			return 1;
		}
	}
	fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0) {
		perror("/dev/mem");
		return 1;
	}
	map = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: mmap of 0x%" PRIx64 ": %s\n", argv[0], base, strerror(errno));
		return 1;
	}
	regs = map;
	for (i = 0; i < argc - 2; i++) {
		if (ops[i].write)
			regs[ops[i].off / 4] = ops[i].value;
		else
			printf("0x%08x\n", regs[ops[i].off / 4]);
	}
	munmap(map, WINDOW);
	close(fd);
	return fflush(stdout) ? 1 : 0;
}
