// SPDX-License-Identifier: GPL-2.0
/*
 * mlu270_fuzz: a hostile VF. Drives the mailbox registers of a VF that no
 * driver owns through its sysfs resource0 file, bypassing the VF driver, and
 * sends COUNT messages chosen by SEED:
 *
 *   valid requests (HELLO, GET_RESOURCES, HEARTBEAT, QUERY_FAULT),
 *   random words, bad lengths (truncated, oversized, not a multiple of 4),
 *   replayed messages (same seq), replies and notifications (the wrong
 *   direction), SCRUB_MEMORY ranges in, at the edge of and outside the
 *   slice (with overflows), and floods (no pause: the rate limiter).
 *
 * It never sends RESET_REQUEST (a reset would zero the PF's counters that
 * the test compares with what was sent). It waits for the PF to take each
 * message (OUT_BUSY clears) and acknowledges every reply. It prints:
 *
 *   sent=N replies=N ok_replies=N error_replies=N stuck=N
 *
 * and exits 1 if the PF stopped taking messages (stuck > 0).
 *
 *   mlu270_fuzz /sys/bus/pci/devices/<vf> COUNT SEED
 *
 * With a fourth argument "faults" it makes COUNT device faults instead: it
 * points the VF's job queue at host memory it may not use (bus mastering
 * off, and an address with no RAM) and rings the doorbell, so the device's descriptor fetch fails
 * (DMA_ERROR, a fault the PF sees), and does it again. It prints
 *
 *   faults=N resets=N
 *
 * (resets: how often it found its queue cleared by a reset of the VF).
 * PAUSE_US spreads the faults out (a pause after each). Each fault names
 * host address 0x100_0000_0000 + (SEED & 0xff) * 64 KiB.
 *
 * With "ping" it measures the mailbox instead: HELLO, then COUNT HEARTBEAT
 * round trips, 25 ms apart (under the PF's rate limit). For each it times
 * the PF's acknowledgement of the doorbell (OUT_BUSY clears: the "echo"
 * floor, interrupt and IRQ thread only) and the reply (IN_VALID), and
 * prints min/p50/p99/max of both in microseconds:
 *
 *   ack_us=MIN/P50/P99/MAX reply_us=MIN/P50/P99/MAX lost=N
 *
 * With "echo PF INDEX" it measures the floor of the same round trip: the
 * tool plays the PF itself through the PF's resource0 (the PF must have
 * no driver that answers, e.g. pci-pf-stub): after the doorbell it polls
 * MB_PENDING, reads window INDEX's VF_MSG, acknowledges it and sends the
 * message back. No interrupt, no scheduling, no protocol: what the mailbox
 * hardware costs by itself. Same output as "ping".
 *
 *   mlu270_fuzz /sys/bus/pci/devices/<vf> COUNT SEED echo /sys/bus/pci/devices/<pf> INDEX
 *
 * With "resetloop" it asks for COUNT resets, each a HELLO and a
 * RESET_REQUEST whose reply it never acknowledges (with "resetloop-ack"
 * it does): the PF must not wait for the acknowledgement, and the card
 * resets the VF at its deadline. It prints
 *
 *   requests=N resets=N busy=N dropped=N lost=N
 *
 * (busy: EBUSY replies; dropped: requests that got no reply, the rate
 * limit's; lost: an accepted request without a reset, or a message the
 * PF did not take) and exits 1 if lost > 0. With "resetreq" it asks for
 * one reset, acknowledges the reply and prints "reset=1" once it came.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define Q_BASE_LO	0x100
#define Q_BASE_HI	0x104
#define Q_SIZE		0x108
#define Q_TAIL		0x110
#define Q_CTRL		0x114
#define Q_STATUS	0x118
#define CQ_BASE_LO	0x120
#define CQ_BASE_HI	0x124
#define Q_ENABLED	(1u << 0)
#define Q_STOPPED	(1u << 2)
#define SCRATCH		0x00c
#define MB_DOORBELL	0x200
#define MB_STATUS	0x204
#define MB_ACK		0x208
#define MB_OUT		0x280
#define MB_IN		0x2c0
#define OUT_BUSY	(1u << 0)
#define IN_VALID	(1u << 1)
#define WORDS		16

static volatile uint32_t *bar;
static uint32_t lcg_state;

static uint32_t rnd(void)
{
	lcg_state = lcg_state * 1664525u + 1013904223u;
	return lcg_state ^ (lcg_state >> 16);
}

static uint32_t rd(uint32_t off)
{
	return bar[off / 4];
}

static void wr(uint32_t off, uint32_t v)
{
	bar[off / 4] = v;
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static unsigned long replies, ok_replies, error_replies;

/* Takes a reply or notification from the PF, if any. */
static void drain(void)
{
	uint32_t w1;

	if (!(rd(MB_STATUS) & IN_VALID))
		return;
	w1 = rd(MB_IN + 4);
	replies++;
	if (w1 >> 16)
		error_replies++;
	else
		ok_replies++;
	wr(MB_ACK, 1);
}

/* Waits until the PF took our last message; 0 if it did within 2 s. */
static int wait_taken(void)
{
	uint64_t start = now_us();

	while (rd(MB_STATUS) & OUT_BUSY) {
		drain();
		if (now_us() - start > 2000000)
			return -1;
	}
	return 0;
}

static uint32_t header(uint32_t op, uint32_t flags, uint32_t len)
{
	return op | flags << 8 | len << 16;
}

static void make(uint32_t *m, const uint32_t *prev, uint16_t *seq)
{
	uint32_t kind = rnd() % 10;

	memset(m, 0, WORDS * 4);
	m[1] = ++*seq;
	switch (kind) {
	case 0: /* HELLO, sometimes with bad versions */
		m[0] = header(0x01, 0, 4);
		m[2] = (rnd() % 4) ? (1u | 2u << 16) : rnd();
		break;
	case 1: { /* GET_RESOURCES, HEARTBEAT, QUERY_FAULT */
		static const uint32_t ops[] = { 0x02, 0x04, 0x10 };

		m[0] = header(ops[rnd() % 3], 0, 0);
		break;
	}
	case 2: /* random words */
		for (int i = 0; i < WORDS; i++)
			m[i] = rnd();
		break;
	case 3: /* a valid opcode with a bad length or payload */
		m[0] = header(0x01 + rnd() % 4, 0, rnd() % 80);
		for (int i = 2; i < WORDS; i++)
			m[i] = (rnd() % 3) ? 0 : rnd();
		if (m[0] == header(0x03, 0, 0))
			m[0] = header(0x03, 0, 4); /* never a real RESET_REQUEST */
		break;
	case 4: /* replay the previous message, seq and all */
		memcpy(m, prev, WORDS * 4);
		if ((m[0] & 0xff) == 0x03 && !(m[0] & 0xff00))
			m[0] |= 0x01000000; /* reserved byte: not a reset */
		break;
	case 5: /* the PF's direction: a reply or a notification */
		m[0] = header((rnd() % 2) ? 0x81 : 0x02, 1 + rnd() % 3, 0);
		break;
	case 6: { /* SCRUB_MEMORY around and beyond the slice */
		static const uint32_t edges[] = {
			0, 1, 63, 64, 65, 127, 128, 255, 256, 0xffff,
			0x7fffffff, 0xfffffff0, 0xffffffff,
		};

		m[0] = header(0x11, 0, 8);
		m[2] = edges[rnd() % 13];
		m[3] = edges[rnd() % 13];
		break;
	}
	case 7: /* an opcode from no version */
		m[0] = header(0x05 + rnd() % 0x7a, 0, 4 * (rnd() % 15));
		break;
	case 8: /* a status in a request */
		m[0] = header(0x04, 0, 0);
		m[1] |= (1 + rnd() % 200) << 16;
		break;
	default: /* reserved header byte */
		m[0] = header(0x02, 0, 0) | (1 + rnd() % 255) << 24;
		break;
	}
}

static uint32_t fault_seed;

/* COUNT descriptor fetches that fail: each is a DMA_ERROR fault. */
static int fault_storm(unsigned long count, unsigned long pause_us)
{
	unsigned long faults = 0, resets = 0;
	uint32_t tail = 0;

	while (faults < count) {
		uint32_t st = rd(Q_STATUS);
		uint64_t start;

		if (!(st & Q_ENABLED) || (st & Q_STOPPED)) {
			if (!(st & Q_STOPPED) && rd(Q_SIZE) == 0)
				resets++; /* the PF reset us: registers cleared */
			wr(Q_CTRL, 0);
			/*
			 * 1 TiB: no RAM there either. SEED picks the 64 KiB
			 * block, so that two VFs' faults name two addresses.
			 */
			wr(Q_BASE_LO, (fault_seed & 0xff) << 16);
			wr(Q_BASE_HI, 0x100);
			wr(CQ_BASE_LO, 0x10000);
			wr(CQ_BASE_HI, 0x100);
			wr(Q_SIZE, 16);
			wr(Q_CTRL, 1);
			tail = 0;
		}
		tail = (tail + 1) % 16;
		wr(Q_TAIL, tail);
		start = now_us();
		while (!(rd(Q_STATUS) & Q_STOPPED) && (rd(Q_STATUS) & Q_ENABLED)) {
			/*
			 * Not a busy MMIO loop: under TCG every register read
			 * takes the emulator's big lock, and a spinning reader
			 * would slow the other functions' MMIO down, which is
			 * not what the storm is meant to measure.
			 */
			usleep(20);
			if (now_us() - start > 1000000) {
				fprintf(stderr, "the queue neither stopped nor was reset\n");
				printf("faults=%lu resets=%lu\n", faults, resets);
				return 1;
			}
		}
		faults++;
		if (pause_us)
			usleep(pause_us);
	}
	printf("faults=%lu resets=%lu\n", faults, resets);
	return 0;
}

/* Sends one message; 0 once the PF took it (within 2 s). */
static int post(const uint32_t *m)
{
	if (wait_taken())
		return -1;
	for (int i = 0; i < WORDS; i++)
		wr(MB_OUT + 4 * i, m[i]);
	wr(MB_DOORBELL, 1);
	return wait_taken();
}

/* Waits up to @ms for a PF message; its status word (w1 >> 16), or -1. */
static int await_reply(unsigned int ms, int ack)
{
	uint64_t start = now_us();

	while (!(rd(MB_STATUS) & IN_VALID)) {
		if (now_us() - start > ms * 1000ull)
			return -1;
		usleep(100);
	}
	{
		int status = rd(MB_IN + 4) >> 16;

		if (ack)
			wr(MB_ACK, 1);
		return status;
	}
}

/* HELLO (v1..v2), answered and acknowledged; 0 if the PF agreed. */
static int hello(uint16_t seq)
{
	uint32_t m[WORDS] = { header(0x01, 0, 4), seq, 1u | 2u << 16 };

	while (rd(MB_STATUS) & IN_VALID)
		wr(MB_ACK, 1);
	return post(m) || await_reply(1000, 1) ? -1 : 0;
}

/* Waits up to @ms for our reset (it clears SCRATCH); 0 if it came. */
static int await_reset(unsigned int ms)
{
	uint64_t start = now_us();

	while (rd(SCRATCH)) {
		if (now_us() - start > ms * 1000ull)
			return -1;
		usleep(200);
	}
	return 0;
}

/*
 * A VF that asks to be reset over and over: HELLO, RESET_REQUEST, and the
 * reply is never acknowledged (with @ack 0): the PF must neither wait for
 * it nor let the loop cost anybody else anything. Counts what the PF did:
 * resets (each request it accepted ends in one, by the card's deadline if
 * not by our ACK), EBUSY replies, and requests it dropped (rate limit).
 */
static int reset_loop(unsigned long count, int ack)
{
	unsigned long resets = 0, busy = 0, dropped = 0, lost = 0;
	uint16_t seq = 0;

	for (unsigned long i = 0; i < count; i++) {
		uint32_t m[WORDS] = { header(0x03, 0, 0) };
		int status;

		if (hello(++seq)) {
			/* No reply: the rate limit dropped the HELLO. */
			dropped++;
			usleep(20000);
			continue;
		}
		wr(SCRATCH, 1);
		m[1] = ++seq;
		if (post(m)) {
			lost++;
			continue;
		}
		status = await_reply(300, ack);
		if (status > 0) {
			busy += status == 16;
			continue;
		}
		if (status < 0)
			dropped++;
		/* Accepted (or dropped): the reset follows, or never comes. */
		if (await_reset(status < 0 ? 50 : 1000) == 0)
			resets++;
		else if (status == 0)
			lost++;
	}
	printf("requests=%lu resets=%lu busy=%lu dropped=%lu lost=%lu\n",
	       count, resets, busy, dropped, lost);
	return lost ? 1 : 0;
}

/* One RESET_REQUEST, acknowledged; 0 once the VF was reset. */
static int reset_request(void)
{
	uint32_t m[WORDS] = { header(0x03, 0, 0), 2 };

	if (hello(1))
		return 1;
	wr(SCRATCH, 1);
	if (post(m) || await_reply(1000, 1) != 0 || await_reset(2000))
		return 1;
	printf("reset=1\n");
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void stats(const char *name, uint64_t *v, unsigned long n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%s=%llu/%llu/%llu/%llu", name, (unsigned long long)v[0],
	       (unsigned long long)v[n / 2], (unsigned long long)v[(n * 99) / 100],
	       (unsigned long long)v[n - 1]);
}

/* The PF's BAR 0 and VF window, when the tool plays the PF ("echo"). */
static volatile uint32_t *pf_bar;
static uint32_t pf_index, pf_window;
#define PF_MB_PENDING	0x400
#define WIN_VF_MSG	0x00
#define WIN_PF_MSG	0x40
#define WIN_DOORBELL	0x80
#define WIN_ACK		0x88

/* The PF's half of a round trip: take the VF's message, send it back. */
static int echo_as_pf(uint64_t t0, uint64_t *ack)
{
	uint32_t m[WORDS];

	while (!(pf_bar[PF_MB_PENDING / 4] & (1u << pf_index)))
		if (now_us() - t0 > 1000000)
			return -1;
	for (int i = 0; i < WORDS; i++)
		m[i] = pf_bar[(pf_window + WIN_VF_MSG) / 4 + i];
	pf_bar[(pf_window + WIN_ACK) / 4] = 1;
	*ack = now_us() - t0;
	for (int i = 0; i < WORDS; i++)
		pf_bar[(pf_window + WIN_PF_MSG) / 4 + i] = m[i];
	pf_bar[(pf_window + WIN_DOORBELL) / 4] = 1;
	return 0;
}

/* One request; returns 0 and the two latencies, or -1 if no reply in 1 s. */
static int round_trip(const uint32_t *m, uint64_t *ack, uint64_t *reply)
{
	uint64_t t0;

	while (rd(MB_STATUS) & IN_VALID)
		wr(MB_ACK, 1);
	for (int i = 0; i < WORDS; i++)
		wr(MB_OUT + 4 * i, m[i]);
	t0 = now_us();
	wr(MB_DOORBELL, 1);
	if (pf_bar) {
		if (echo_as_pf(t0, ack))
			return -1;
	} else {
		while (rd(MB_STATUS) & OUT_BUSY)
			if (now_us() - t0 > 1000000)
				return -1;
		*ack = now_us() - t0;
	}
	while (!(rd(MB_STATUS) & IN_VALID))
		if (now_us() - t0 > 1000000)
			return -1;
	*reply = now_us() - t0;
	wr(MB_ACK, 1);
	return 0;
}

static int ping(unsigned long count)
{
	uint64_t *acks = calloc(count, sizeof(*acks)), *replies = calloc(count, sizeof(*replies));
	uint32_t m[WORDS] = { 0 };
	unsigned long n = 0, lost = 0;
	uint64_t a, r;

	if (!acks || !replies)
		return 2;
	m[0] = header(0x01, 0, 4);
	m[1] = 1;
	m[2] = 1u | 2u << 16;
	if (round_trip(m, &a, &r)) {
		fprintf(stderr, "no reply to HELLO\n");
		return 1;
	}
	for (unsigned long i = 0; i < count; i++) {
		usleep(25000);
		memset(m, 0, sizeof(m));
		m[0] = header(0x04, 0, 0);
		m[1] = (uint16_t)(i + 2);
		if (round_trip(m, &acks[n], &replies[n]))
			lost++;
		else
			n++;
	}
	if (!n)
		return 1;
	stats("ack_us", acks, n);
	putchar(' ');
	stats("reply_us", replies, n);
	printf(" lost=%lu\n", lost);
	return lost ? 1 : 0;
}

static void *map_bar0(const char *dev)
{
	char path[512];
	void *map;
	int fd;

	snprintf(path, sizeof(path), "%s/resource0", dev);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	map = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", path, strerror(errno));
		return NULL;
	}
	return map;
}

/* Turns on memory decoding of the function (no driver does it for us). */
static int enable_memory(const char *dev)
{
	char path[512];
	uint8_t cmd;
	int fd;

	snprintf(path, sizeof(path), "%s/config", dev);
	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &cmd, 1, 4) != 1)
		return -1;
	/* Memory space on; bus mastering off: the device may not touch RAM. */
	cmd = (cmd | 2) & ~4;
	if (pwrite(fd, &cmd, 1, 4) != 1)
		return -1;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long count, sent = 0, stuck = 0;
	uint32_t msg[WORDS], prev[WORDS] = { 0 };
	uint16_t seq = 0;
	bool echo = argc == 7 && !strcmp(argv[4], "echo");

	bool mode5 = argc == 5 && (!strcmp(argv[4], "ping") || !strcmp(argv[4], "resetloop") ||
				   !strcmp(argv[4], "resetloop-ack") || !strcmp(argv[4], "resetreq"));

	if (argc != 4 && !((argc == 5 || argc == 6) && !strcmp(argv[4], "faults")) &&
	    !mode5 && !echo) {
		fprintf(stderr, "usage: mlu270_fuzz /sys/bus/pci/devices/<vf> COUNT SEED [faults [PAUSE_US] | ping | resetloop | resetloop-ack | resetreq | echo PF INDEX]\n");
		return 2;
	}
	count = strtoul(argv[2], NULL, 0);
	lcg_state = strtoul(argv[3], NULL, 0);
	fault_seed = lcg_state;
	if (enable_memory(argv[1])) {
		fprintf(stderr, "%s: cannot enable memory decoding: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bar = map_bar0(argv[1]);
	if (!bar)
		return 1;
	if (echo) {
		if (strtoul(argv[6], NULL, 0) > 3 || enable_memory(argv[5])) {
			fprintf(stderr, "%s: bad VF index or no memory decoding\n", argv[5]);
			return 1;
		}
		pf_index = strtoul(argv[6], NULL, 0);
		pf_window = 0x1000 + 0x100 * pf_index;
		pf_bar = map_bar0(argv[5]);
		if (!pf_bar)
			return 1;
	}
	if (echo || (argc == 5 && !strcmp(argv[4], "ping")))
		return ping(count);
	if (argc == 5 && !strcmp(argv[4], "resetloop"))
		return reset_loop(count, 0);
	if (argc == 5 && !strcmp(argv[4], "resetloop-ack"))
		return reset_loop(count, 1);
	if (argc == 5 && !strcmp(argv[4], "resetreq"))
		return reset_request();
	if (argc >= 5)
		return fault_storm(count, argc == 6 ? strtoul(argv[5], NULL, 0) : 0);

	while (sent < count) {
		if (wait_taken()) {
			stuck++;
			break;
		}
		make(msg, prev, &seq);
		for (int i = 0; i < WORDS; i++)
			wr(MB_OUT + 4 * i, msg[i]);
		wr(MB_DOORBELL, 1);
		memcpy(prev, msg, sizeof(msg));
		sent++;
	}
	if (!stuck && wait_taken())
		stuck++;
	/* Let the last reply arrive. */
	usleep(20000);
	drain();
	printf("sent=%lu replies=%lu ok_replies=%lu error_replies=%lu stuck=%lu\n",
	       sent, replies, ok_replies, error_replies, stuck);
	return stuck ? 1 : 0;
}
