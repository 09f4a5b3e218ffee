// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the nested VM of the vfio test (vfio_passthrough.sh): the VM has
 * one VF of the outer guest's card, passed through with vfio-pci. It loads
 * mlu270_vf, waits until the VF is ready (handshake with the PF driver of
 * the outer guest, over the mailbox), runs checked jobs with mlu270-smi and
 * reports on its console, one "INNER ..." line per step:
 *
 *   INNER booted <uptime s>
 *   INNER ready <vf> <uptime s>
 *   INNER jobs ok=<n> failed=<n> seconds=<s>
 *   INNER job <line>              (what a failed job printed)
 *   INNER splat <line>            (a kernel warning, if any)
 *   INNER done
 *
 * inner.mode=hold keeps running jobs until the VM is killed.
 *
 * A program rather than a shell script: in a VM nested in TCG every new
 * process costs about a second (a script's mounts and its polling loop's
 * sleeps took the VM 6 s from /init to its first line). This one starts
 * a process only for the jobs, whose tool is what the test exercises.
 * The VM has no ACPI to power off with: it leaves with a reset (QEMU runs
 * with -no-reboot and exits).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VF_DEVICE_ID "0x0271"
#define READY_TIMEOUT_S 120
#define POLL_MS 20

static const char *const ops[] = { "memcpy", "fill", "crc32", "matmul", "delta", "zigzag" };

/*
 * Kernel log lines that make the test fail (as clean_log in the outer
 * guest), besides "DMA-API: ... device driver ...".
 */
static const char *const splats[] = {
	"WARNING:", "BUG:", "KASAN", "circular locking", "Oops", "refcount_t",
};

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDOUT_FILENO, "INNER ", 6) < 0 || write(STDOUT_FILENO, line, n) < 0)
		return;
}

static double uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The first line of a sysfs or proc file, without its newline; "" if none. */
static void read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

static void leave(void)
{
	say("done");
	sync();
	reboot(RB_AUTOBOOT);
	_exit(1);
}

static bool load_driver(void)
{
	struct utsname u;
	char path[256];
	int fd;
	long r;

	if (uname(&u))
		return false;
	snprintf(path, sizeof(path), "/lib/modules/%s/extra/mlu270_vf.ko", u.release);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say("no %s: %s", path, strerror(errno));
		return false;
	}
	r = syscall(SYS_finit_module, fd, "", 0);
	if (r)
		say("loading mlu270_vf failed: %s", strerror(errno));
	close(fd);
	return r == 0;
}

/* The address of a VF of ours whose driver says "ready", in @vf. */
static bool find_ready_vf(char *vf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	char path[320], val[64];
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		read_line(path, val, sizeof(val));
		if (strcmp(val, VF_DEVICE_ID))
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/state", e->d_name);
		read_line(path, val, sizeof(val));
		if (!strcmp(val, "ready")) {
			snprintf(vf, len, "%s", e->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static bool is_splat(const char *line)
{
	const char *dma = strstr(line, "DMA-API: ");

	for (size_t i = 0; i < sizeof(splats) / sizeof(splats[0]); i++)
		if (strstr(line, splats[i]))
			return true;
	return dma && strstr(dma, "device driver");
}

/*
 * Prints the lines of @buf (which it cuts up) with @prefix: those that are
 * splats if @only_splats, else the last @tail lines (all if 0).
 */
static void print_lines(char *buf, const char *prefix, bool only_splats, unsigned tail)
{
	unsigned lines = 0, skip = 0;
	char *save;

	for (const char *c = buf; *c; c++)
		lines += *c == '\n';
	if (tail && lines > tail)
		skip = lines - tail;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (skip) {
			skip--;
			continue;
		}
		if (!only_splats || is_splat(line))
			say("%s%s", prefix, line);
	}
}

static void print_file(const char *path, const char *prefix)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	print_lines(buf, prefix, false, 0);
}

/* One job with the tool; its output goes to the console only if it fails. */
static bool run_job(const char *vf, const char *op)
{
	const char *log = "/tmp/job.log";
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl("/usr/bin/mlu270-smi", "mlu270-smi", "run", vf, op, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return true;
	print_file(log, "job ");
	return false;
}

static void run_ops(const char *vf, unsigned *ok, unsigned *failed)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (run_job(vf, ops[i]))
			(*ok)++;
		else
			(*failed)++;
	}
}

/* The kernel log: its splats, or its last @tail lines. */
static void print_kernel_log(bool only_splats, unsigned tail)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;

	if (len <= 0)
		return;
	buf = calloc(1, len + 1);
	if (!buf)
		return;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
	if (len > 0) {
		buf[len] = 0;
		print_lines(buf, only_splats ? "splat " : "log ", only_splats, tail);
	}
	free(buf);
}

int main(void)
{
	char cmdline[1024], vf[NAME_MAX + 1] = "", *save;
	unsigned ok = 0, failed = 0;
	bool hold = false;
	double start;

	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	say("booted %.2f", uptime());

	read_line("/proc/cmdline", cmdline, sizeof(cmdline));
	for (char *arg = strtok_r(cmdline, " ", &save); arg; arg = strtok_r(NULL, " ", &save))
		if (!strcmp(arg, "inner.mode=hold"))
			hold = true;

	load_driver();
	for (int waited = 0; !find_ready_vf(vf, sizeof(vf)); waited += POLL_MS) {
		if (waited >= READY_TIMEOUT_S * 1000) {
			say("no ready VF after %d s", READY_TIMEOUT_S);
			print_kernel_log(false, 20);
			leave();
		}
		sleep_ms(POLL_MS);
	}
	say("ready %s %.2f", vf, uptime());

	start = uptime();
	for (;;) {
		run_ops(vf, &ok, &failed);
		if (!hold)
			break;
		say("jobs ok=%u failed=%u", ok, failed);
	}
	run_ops(vf, &ok, &failed);
	say("jobs ok=%u failed=%u seconds=%.2f", ok, failed, uptime() - start);
	print_kernel_log(true, 0);
	leave();
	return 0;
}
