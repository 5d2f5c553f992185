/*
 * cpus.h - how many CPUs this process may really use, for sizing worker
 * pools: the online CPUs, limited by the affinity mask (taskset, cpusets)
 * and by a cgroup v2 CPU quota (containers, systemd's CPUQuota=). A
 * nightly job confined to one CPU then runs one worker, not one per CPU of
 * the host.
 */
#ifndef CRM_CPUS_H
#define CRM_CPUS_H

/* At least 1. Reads /proc and /sys on each call: call it once per pool. */
int cpus_usable(void);

/*
 * The CPU limit of a cgroup v2 cpu.max text ("max 100000" or "QUOTA
 * PERIOD"): quota / period rounded up, at least 1; 0 when unlimited or not
 * understood. Exposed for the tests.
 */
int cpus_from_cpu_max(const char *text);

#endif
