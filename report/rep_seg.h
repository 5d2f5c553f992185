/*
 * rep_seg.h - the report of one segment (see rep_seg.c).
 */
#ifndef CRM_REP_SEG_H
#define CRM_REP_SEG_H

#include <stddef.h>

#include "err.h"

struct cfg;

/*
 * "region=East" -> dim "region", value "East". DIM is channel, region,
 * tier or rfm; VALUE is not empty and holds no comma, quote or newline
 * (it must match a metrics file's segment field as written). CRM_E_USAGE
 * otherwise.
 */
int rep_segment_parse(const char *spec, char *dim, size_t dn, char *value, size_t vn,
		      struct crm_err *e);

/*
 * Like rep_publish(), from the rows of segment `spec` ("DIM=VALUE"):
 * writes <data_dir>/reports/P-NAME-LANG-DIM-VALUE.pdf (characters of
 * VALUE other than letters, digits, '_' and '-' become '_'), the segment
 * named in the title. A segment without rows in period P is CRM_E_INPUT.
 * Uses <data_dir>/tmp/segment-PID while it works and removes it.
 */
int rep_publish_segment(const struct cfg *cfg, int period, const char *name, const char *lang,
			const char *spec, struct crm_err *e);

/* The path rep_publish_segment() writes, into out (n bytes). CRM_E_USAGE for a bad spec. */
int rep_segment_report_path(const struct cfg *cfg, int period, const char *name, const char *lang,
			    const char *spec, char *out, size_t n, struct crm_err *e);

#endif
