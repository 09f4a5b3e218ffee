// SPDX-License-Identifier: GPL-2.0
/*
 * mlu270_vfio_open: open a VF bound to vfio-pci the way QEMU does (legacy
 * group + type1 container), to play a VM that takes the VF.
 *
 *   mlu270_vfio_open once BDF
 *       open the VF's device fd and close it; exit 0 if that worked
 *   mlu270_vfio_open hold BDF MS
 *       open it, print "opened", keep it MS milliseconds, close it
 *   mlu270_vfio_open race BDF NUMVFS_FILE DELAY_MS HOLD_MS
 *       a thread writes "0" to NUMVFS_FILE (the PF's sriov_numvfs); DELAY_MS
 *       after it started, this thread tries to open the VF every
 *       millisecond until the write returns, keeping it HOLD_MS if an open
 *       works (a VM that took the VF while the PF driver disables SR-IOV).
 *       Prints "write=<0|errno name> write_ms=N attempts=N refused=N
 *       opened=N gone=N other=N".
 *
 * An attempt is "refused" if the kernel said EBUSY, "gone" if the VF's group
 * or device no longer exists (ENOENT, ENODEV), "other" for any other error.
 * Exit 1 on a usage error or if the first step fails, with the reason on
 * stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static char group_path[PATH_MAX + 16];
static const char *bdf;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* /dev/vfio/<group> of the VF, from its iommu_group link. */
static int find_group(void)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *name;
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", link, strerror(errno));
		return -1;
	}
	target[n] = '\0';
	name = strrchr(target, '/');
	snprintf(group_path, sizeof(group_path), "/dev/vfio/%s", name ? name + 1 : target);
	return 0;
}

struct vfio_fds {
	int container, group, device;
};

static void close_vfio(struct vfio_fds *f)
{
	if (f->device >= 0)
		close(f->device);
	if (f->group >= 0)
		close(f->group);
	if (f->container >= 0)
		close(f->container);
	f->container = f->group = f->device = -1;
}

/* Opens the VF's device fd; returns 0 or the errno of the step that failed. */
static int open_vfio(struct vfio_fds *f)
{
	int err;

	f->container = f->group = f->device = -1;
	f->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (f->container < 0)
		goto fail;
	f->group = open(group_path, O_RDWR | O_CLOEXEC);
	if (f->group < 0)
		goto fail;
	if (ioctl(f->group, VFIO_GROUP_SET_CONTAINER, &f->container) < 0)
		goto fail;
	if (ioctl(f->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		goto fail;
	f->device = ioctl(f->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (f->device < 0)
		goto fail;
	return 0;
fail:
	err = errno;
	close_vfio(f);
	return err;
}

static const char *numvfs_file;
static atomic_int write_done;
static int write_err;
static double write_ms;

static void *disable_vfs(void *arg)
{
	double start = now_ms();
	int fd = open(numvfs_file, O_WRONLY | O_CLOEXEC);

	(void)arg;
	if (fd < 0 || write(fd, "0", 1) != 1)
		write_err = errno;
	if (fd >= 0)
		close(fd);
	write_ms = now_ms() - start;
	atomic_store(&write_done, 1);
	return NULL;
}

static void sleep_ms(double ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1e3),
			       .tv_nsec = (long)((ms - (time_t)(ms / 1e3) * 1e3) * 1e6) };

	nanosleep(&ts, NULL);
}

static int race(double delay_ms, double hold_ms)
{
	unsigned int attempts = 0, refused = 0, opened = 0, gone = 0, other = 0;
	int last_other = 0;
	pthread_t writer;
	struct vfio_fds f;

	if (pthread_create(&writer, NULL, disable_vfs, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	sleep_ms(delay_ms);
	while (!atomic_load(&write_done)) {
		int err = open_vfio(&f);

		attempts++;
		if (!err) {
			opened++;
			sleep_ms(hold_ms);
			close_vfio(&f);
		} else if (err == EBUSY) {
			refused++;
		} else if (err == ENOENT || err == ENODEV) {
			gone++;
		} else {
			other++;
			last_other = err;
		}
		sleep_ms(1);
	}
	pthread_join(writer, NULL);
	printf("write=%s write_ms=%.0f attempts=%u refused=%u opened=%u gone=%u other=%u",
	       write_err ? strerrorname_np(write_err) : "0", write_ms, attempts, refused,
	       opened, gone, other);
	if (other)
		printf(" last_other=%s", strerrorname_np(last_other));
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct vfio_fds f;
	int err;

	if (argc < 3)
		goto usage;
	bdf = argv[2];
	if (find_group())
		return 1;
	if (!strcmp(argv[1], "race") && argc == 6) {
		numvfs_file = argv[3];
		return race(atof(argv[4]), atof(argv[5]));
	}
	if (strcmp(argv[1], "once") && !(strcmp(argv[1], "hold") == 0 && argc == 4))
		goto usage;
	err = open_vfio(&f);
	if (err) {
		fprintf(stderr, "opening %s through %s: %s\n", bdf, group_path, strerror(err));
		return 1;
	}
	if (argc == 4) {
		printf("opened\n");
		fflush(stdout);
		sleep_ms(atof(argv[3]));
	}
	close_vfio(&f);
	return 0;
usage:
	fprintf(stderr, "usage: %s once BDF | hold BDF MS | race BDF NUMVFS_FILE DELAY_MS HOLD_MS\n",
		argv[0]);
	return 1;
}
