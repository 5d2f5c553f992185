/*
 * norm.h - the normalize stage: exports -> validated, deduplicated rows ->
 * one period file per month plus the customers dimension.
 *
 * Three streaming passes keep memory from growing with the number of
 * rows, with two exceptions: the customers (one small entry each, kept
 * through passes 1 and 2) and, in pass 3, a month's table bigger than
 * its budget (PASS3_MEMORY), which is still loaded whole. On the 1M-
 * customer bench the peak is about 155 MB; with 3M customers and months
 * of 6M rows about 400 MB (make bench).
 * The passes:
 *   1. read every source (customers first), validate each record, send bad
 *      ones to quarantine with a reason, and spill good ones to disk:
 *      records with an id into hash buckets, the others straight into
 *      per-month spill files; customers stay in memory (they are needed to
 *      check references and fit: one small entry each). The first
 *      occurrence of a numbered id skips the buckets (norm_ids.c);
 *   2. per bucket, keep the last valid occurrence of each id and move the
 *      survivors into their month's spill file (pass 3 drops a first
 *      occurrence that skipped the buckets when its id came again);
 *   3. per month, sort the rows into canonical order and write the period
 *      file atomically, unless the same bytes are already there, then its
 *      lineage record P.lineage (lineage.h: the files it came from, their
 *      SHA-256, and its restatements). A month whose rows hash as when
 *      its file was written keeps the file without the sort (norm_reuse.c).
 * The customers dimension (customers.crmp) is written last. Nothing in
 * periods/ is touched when the reject ratio is exceeded.
 *
 * Before any of that, the inputs are described (inputs.h) and compared
 * with periods/inputs.txt, written by the last complete run: when they are
 * the same, nothing is read or written at all (--force overrides).
 */
#ifndef CRM_NORM_H
#define CRM_NORM_H

#include <stdint.h>

#include "cfg.h"
#include "err.h"
#include "schema.h"

struct norm_opts {
	int has_range;  /* only periods from..to (inclusive) are written */
	int from, to;
	int force;      /* rewrite files even when their bytes are unchanged */
};

struct norm_stats {
	uint64_t files;                 /* export files read */
	uint64_t bytes;                 /* bytes of export content (after gunzip) */
	uint64_t rows_read;             /* records seen, good and bad */
	uint64_t rows_rejected;         /* records sent to quarantine */
	uint64_t duplicates;            /* records replaced by a later occurrence */
	uint64_t derived_customers;     /* customers created from orders */
	uint64_t kept[ENT_COUNT];       /* rows written, per entity */
	int periods_written;            /* period files created or changed */
	int periods_unchanged;          /* already held the same bytes */
	int periods_restated;           /* existed and changed */
	int periods_reencoded;          /* existed with the same rows in other bytes */
	int first_period, last_period;  /* range of months with data, or -1 */
	int unchanged_inputs;           /* inputs as the last complete run saw them: nothing done */
};

int norm_run(const struct cfg *cfg, const struct norm_opts *opts, struct norm_stats *st,
	     struct crm_err *e);

#endif
