// SPDX-License-Identifier: GPL-2.0
/*
 * mlu270_kmsg: read the kernel log by record sequence number (/dev/kmsg),
 * so that a test can look at "everything logged since X" and tell "not
 * found" from "not looked at". dmesg plus a text marker cannot: once the
 * marker has rolled out of the ring buffer, a search for a warning after it
 * finds nothing and passes.
 *
 *   mlu270_kmsg mark TEXT   log TEXT (at level 5) and print the sequence
 *                           number of that record
 *   mlu270_kmsg since SEQ   print the text of every record after SEQ, one
 *                           line each (continuation lines included); exit
 *                           3 if records after SEQ were overwritten before
 *                           they could be read (the caller must not treat
 *                           the output as complete)
 *
 * Exit 1 on any other error, with the reason on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A record is at most this long (the kernel's CONSOLE_EXT_LOG_MAX is 8 KiB). */
#define RECORD_MAX 16384

struct record {
	uint64_t seq;
	char *text;	/* after the ';' of the record's prefix */
	size_t len;
};

static char buf[RECORD_MAX + 1];

/*
 * Reads the next record; returns 1 with *rec filled, 0 at the end of the log,
 * -EPIPE if records were overwritten since the last read (the next read
 * returns the oldest record still there), or another negative errno.
 */
static int next_record(int fd, struct record *rec)
{
	ssize_t n = read(fd, buf, RECORD_MAX);
	char *semi;

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	buf[n] = '\0';
	/* "<prio>,<seq>,<usec>,<flags>[,...];text\n[ KEY=value\n...]" */
	if (sscanf(buf, "%*u,%" SCNu64 ",", &rec->seq) != 1)
		return -EINVAL;
	semi = strchr(buf, ';');
	if (!semi)
		return -EINVAL;
	rec->text = semi + 1;
	rec->len = strcspn(rec->text, "\n");
	return 1;
}

/* Prints the text of a record: escaped non-printables as the kernel gives them. */
static void print_record(const struct record *rec)
{
	fwrite(rec->text, 1, rec->len, stdout);
	putchar('\n');
}

static int open_log(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		perror("mlu270_kmsg: /dev/kmsg");
	return fd;
}

static int cmd_mark(const char *text)
{
	struct record rec;
	uint64_t found = 0;
	bool have = false;
	int fd, wfd, ret;
	char line[1024];
	int len;

	/* The newline ends the record: an unterminated one is not readable yet. */
	len = snprintf(line, sizeof(line), "<5>%s\n", text);
	if (len < 0 || (size_t)len >= sizeof(line) || strchr(text, '\n')) {
		fprintf(stderr, "mlu270_kmsg: bad marker text\n");
		return 1;
	}
	/* Open the reader first: the marker cannot roll out before we see it. */
	fd = open_log();
	if (fd < 0)
		return 1;
	wfd = open("/dev/kmsg", O_WRONLY);
	if (wfd < 0 || write(wfd, line, len) != len) {
		perror("mlu270_kmsg: writing /dev/kmsg");
		return 1;
	}
	close(wfd);
	/* The marker is the last record with exactly this text. */
	while ((ret = next_record(fd, &rec)) != 0) {
		if (ret == -EPIPE)
			continue;
		if (ret < 0) {
			fprintf(stderr, "mlu270_kmsg: reading /dev/kmsg: %s\n", strerror(-ret));
			return 1;
		}
		if (rec.len == strlen(text) && !memcmp(rec.text, text, rec.len)) {
			found = rec.seq;
			have = true;
		}
	}
	close(fd);
	if (!have) {
		fprintf(stderr, "mlu270_kmsg: the marker did not appear in the kernel log\n");
		return 1;
	}
	printf("%" PRIu64 "\n", found);
	return 0;
}

static int cmd_since(uint64_t after)
{
	struct record rec;
	uint64_t prev = 0;
	bool lost = false;
	int fd, ret;

	fd = open_log();
	if (fd < 0)
		return 1;
	while ((ret = next_record(fd, &rec)) != 0) {
		/* Overwritten while we read: the next record shows the gap. */
		if (ret == -EPIPE)
			continue;
		if (ret < 0) {
			fprintf(stderr, "mlu270_kmsg: reading /dev/kmsg: %s\n", strerror(-ret));
			return 1;
		}
		/*
		 * A gap before this record (or before the oldest record still
		 * there) that reaches past SEQ lost records we were asked for.
		 */
		if (rec.seq > (prev > after ? prev : after) + 1)
			lost = true;
		prev = rec.seq;
		if (rec.seq > after)
			print_record(&rec);
	}
	close(fd);
	fflush(stdout);
	if (lost) {
		fprintf(stderr, "mlu270_kmsg: kernel log records after %" PRIu64
			" were overwritten before they were read\n", after);
		return 3;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *end;

	if (argc == 3 && !strcmp(argv[1], "mark"))
		return cmd_mark(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "since")) {
		uint64_t seq;

		errno = 0;
		seq = strtoull(argv[2], &end, 10);
		if (!errno && end != argv[2] && !*end)
			return cmd_since(seq);
	}
	fprintf(stderr, "usage: mlu270_kmsg mark TEXT | since SEQ\n");
	return 1;
}
