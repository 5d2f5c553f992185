/*
 * verify.h - rebuild one period aside and prove its published files
 * identical (`crmetl verify`).
 *
 * The rebuild runs the real stages (norm_run, met_run, rep_publish_at) on a
 * copy of the configuration whose data_dir is a scratch folder,
 * <data_dir>/tmp/verify-<pid>, removed afterwards whatever happens. Nothing
 * outside that folder is written. The caller holds the data_dir lock, so no
 * run changes the published files while they are compared.
 *
 * Compared byte for byte: periods/P.crmp, metrics/P.csv, P.json,
 * P-customers.csv, and every published reports/P-TEMPLATE-LANG.pdf (plus
 * the configured template and language, which must be published). A
 * report is rendered with the creation date read from the published PDF,
 * so its dates, which are the only input that is not data, compare equal.
 *
 * What is not a function of the inputs is taken from the published side:
 * which earlier months have metrics files (the report reads up to 35 of
 * them) and periods/P.lineage, the restatement history the report's
 * lineage appendix shows. Fetched exports (raw/) are read where they are.
 */
#ifndef CRM_VERIFY_H
#define CRM_VERIFY_H

#include <stdio.h>

#include "err.h"

struct cfg;

struct verify_stats {
	int compared;    /* files compared */
	int differences; /* files that differ or exist on one side only */
};

/*
 * Rebuild `period` and compare. Writes one line per file to `out` ("same",
 * "DIFFERS" with the first differing line or byte, "MISSING"). Returns 0
 * when every file is identical; CRM_E_CORRUPT naming the differing files
 * otherwise; CRM_E_INPUT when nothing of the period is published; or the
 * error of a stage that failed during the rebuild (e.g. CRM_E_DATA).
 */
int verify_period(const struct cfg *cfg, int period, FILE *out, struct verify_stats *st,
		  struct crm_err *e);

#endif
