// SPDX-License-Identifier: GPL-2.0
/*
 * mlu270_timing: times operator actions for the benchmarks (busybox's date
 * has no sub-second clock). Each prints one number, in microseconds.
 *
 *   mlu270_timing enable PF N [DRIVER]   echo N > sriov_numvfs until all N VFs
 *                                        are bound to DRIVER (and, for
 *                                        mlu270_vf, ready); no DRIVER: until
 *                                        the N VFs exist
 *   mlu270_timing disable PF             echo 0 > sriov_numvfs
 *   mlu270_timing flr VF                 echo 1 > reset until the VF is ready
 *   mlu270_timing up IFNAME              set a network interface up (rtnetlink:
 *                                        the benchmark kernel has no INET for
 *                                        ip/ifconfig); prints nothing
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h> /* IFF_UP */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int write_attr(const char *dev, const char *attr, const char *value)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dev, attr);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		fprintf(stderr, "%s: %s\n", path, strerror(-ret));
	return ret;
}

static bool read_attr(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

/* Is VF i of PF bound to DRIVER (and ready, for mlu270_vf)? */
static bool vf_done(const char *pf, int i, const char *driver)
{
	char path[PATH_MAX], link[PATH_MAX], buf[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d", pf, i);
	if (access(path, F_OK))
		return false;
	if (!driver)
		return true;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d/driver", pf, i);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	if (strcmp(strrchr(link, '/') + 1, driver))
		return false;
	if (strcmp(driver, "mlu270_vf"))
		return true;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d/state", pf, i);
	return read_attr(path, buf, sizeof(buf)) && !strcmp(buf, "ready");
}

/* RTM_NEWLINK with IFF_UP for IFNAME; the kernel's acknowledgement says
 * whether it worked. */
static int link_up(const char *ifname)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		.nh.nlmsg_type = RTM_NEWLINK,
		.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
		.ifi.ifi_family = AF_UNSPEC,
		.ifi.ifi_flags = IFF_UP,
		.ifi.ifi_change = IFF_UP,
	};
	char buf[512];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	int fd, err;

	/* (not if_nametoindex(): glibc's needs an INET or UNIX socket) */
	snprintf(buf, sizeof(buf), "/sys/class/net/%s/ifindex", ifname);
	if (!read_attr(buf, buf, sizeof(buf)) || (req.ifi.ifi_index = atoi(buf)) <= 0) {
		fprintf(stderr, "%s: no such interface\n", ifname);
		return 1;
	}
	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (fd < 0 || send(fd, &req, req.nh.nlmsg_len, 0) < 0 || recv(fd, buf, sizeof(buf), 0) < 0) {
		fprintf(stderr, "rtnetlink: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	err = nh->nlmsg_type == NLMSG_ERROR ? ((struct nlmsgerr *)NLMSG_DATA(nh))->error : 0;
	if (err) {
		fprintf(stderr, "%s: up: %s\n", ifname, strerror(-err));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t t0;

	if (argc >= 4 && !strcmp(argv[1], "enable")) {
		int n = atoi(argv[3]);
		const char *driver = argc > 4 ? argv[4] : NULL;

		t0 = now_us();
		if (write_attr(argv[2], "sriov_numvfs", argv[3]))
			return 1;
		for (int i = 0; i < n; i++)
			while (!vf_done(argv[2], i, driver)) {
				if (now_us() - t0 > 30000000) {
					fprintf(stderr, "VF %d not done after 30 s\n", i);
					return 1;
				}
				usleep(200);
			}
	} else if (argc == 3 && !strcmp(argv[1], "disable")) {
		t0 = now_us();
		if (write_attr(argv[2], "sriov_numvfs", "0"))
			return 1;
	} else if (argc == 3 && !strcmp(argv[1], "flr")) {
		char path[PATH_MAX], buf[64];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/state", argv[2]);
		t0 = now_us();
		if (write_attr(argv[2], "reset", "1"))
			return 1;
		while (!read_attr(path, buf, sizeof(buf)) || strcmp(buf, "ready")) {
			if (now_us() - t0 > 30000000)
				return 1;
			usleep(200);
		}
	} else if (argc == 3 && !strcmp(argv[1], "up")) {
		return link_up(argv[2]);
	} else {
		fprintf(stderr, "usage: mlu270_timing enable PF N [DRIVER] | disable PF | flr VF | up IFNAME\n");
		return 2;
	}
	printf("%llu\n", (unsigned long long)(now_us() - t0));
	return 0;
}
