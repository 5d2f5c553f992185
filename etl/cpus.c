/*
 * cpus.c - the CPUs this process may use (cpus.h).
 *
 * Three limits, the smallest wins: sysconf's online CPUs; the affinity
 * mask; the cgroup v2 quota of the process's cgroup and of each of its
 * parents (systemd puts CPUQuota= on the service's cgroup, a container
 * runtime on the container's). cgroup v1 is not read: its hosts are
 * rare now, and without it the count is only the affinity mask's.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"

#include "banned.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_PATH_MAX 4096

int cpus_from_cpu_max(const char *text)
{
	char *end;
	long long quota, period;

	if (!strncmp(text, "max", 3))
		return 0;
	quota = strtoll(text, &end, 10);
	if (end == text || *end != ' ')
		return 0;
	text = end + 1;
	period = strtoll(text, &end, 10);
	if (end == text || quota <= 0 || period <= 0)
		return 0;
	quota = (quota + period - 1) / period;
	return quota > 4096 ? 4096 : (int)quota;
}

/* The whole (small) file at path into buf, NUL-terminated; -1 when unreadable. */
static int read_small(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

/* The smallest quota on the way from the process's cgroup up to the root; 0: none. */
static int cgroup_limit(void)
{
	char line[CGROUP_PATH_MAX], path[CGROUP_PATH_MAX + 64], text[128], *cg, *nl, *slash;
	int best = 0, k;

	if (read_small("/proc/self/cgroup", line, sizeof(line)))
		return 0;
	/* cgroup v2: the line "0::/path" */
	if (!(cg = strstr(line, "0::")) || (cg != line && cg[-1] != '\n'))
		return 0;
	cg += 3;
	if ((nl = strchr(cg, '\n')))
		*nl = '\0';
	for (;;) {
		snprintf(path, sizeof(path), "%s%s/cpu.max", CGROUP_ROOT, strcmp(cg, "/") ? cg : "");
		if (read_small(path, text, sizeof(text)) == 0 && (k = cpus_from_cpu_max(text)) > 0 &&
		    (best == 0 || k < best))
			best = k;
		if (!(slash = strrchr(cg, '/')) || slash == cg)
			break;
		*slash = '\0';
	}
	return best;
}

int cpus_usable(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	int k;

	if (n < 1)
		n = 1;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && (k = CPU_COUNT(&set)) >= 1 && k < n)
		n = k;
	if ((k = cgroup_limit()) > 0 && k < n)
		n = k;
	return (int)n;
}
