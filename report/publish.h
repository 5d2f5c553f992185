/*
 * publish.h - render and write the report of a period (see publish.c).
 */
#ifndef CRM_PUBLISH_H
#define CRM_PUBLISH_H

#include <stddef.h>
#include <time.h>

#include "err.h"

struct cfg;

/* Earlier months' metrics a report reads: a year-ago change, trends of up to 36 months. */
#define REP_HISTORY_MONTHS 35

/*
 * The latest period with a metrics file (YYYY-MM.csv) in the metrics
 * directory `dir`, into *out; CRM_E_INPUT when there is none.
 */
int rep_latest_period(const char *dir, int *out, struct crm_err *e);

/*
 * Render period `period` (or the latest with a metrics file when < 0) with
 * template `name` in `lang` ("en" or "zh") and write
 * <data_dir>/reports/P-NAME-LANG.pdf. Missing metrics: CRM_E_INPUT; a bad
 * template: CRM_E_CONFIG with its file and line.
 */
int rep_publish(const struct cfg *cfg, int period, const char *name, const char *lang,
		struct crm_err *e);

/*
 * 1 when the report P-NAME-LANG.pdf is there and nothing it reads changed
 * since it was rendered (its stamp matches), else 0 (also on any error).
 */
int rep_report_fresh(const struct cfg *cfg, int period, const char *name, const char *lang);

/*
 * rep_publish, unless nothing the report reads changed since it was last
 * rendered and the PDF is the one then written (its stamp in
 * <data_dir>/stamps/P-NAME-LANG.report, see publish.c); force renders
 * anyway. *rendered = 1 when it rendered, 0 when it kept the PDF.
 */
int rep_publish_if_changed(const struct cfg *cfg, int period, const char *name, const char *lang,
			   int force, int *rendered, struct crm_err *e);

#define REP_MAX_WORKERS 4

/*
 * rep_publish_if_changed for every period from..to, in up to `workers`
 * processes at once (at most REP_MAX_WORKERS); *rendered and *kept count the reports rendered and
 * those kept unchanged. Each worker stops at its first error; the error of
 * the earliest failed period is returned.
 */
int rep_publish_range(const struct cfg *cfg, int from, int to, const char *name,
		      const char *lang, int force, int workers, int *rendered, int *kept,
		      struct crm_err *e);

/*
 * The path of template `name` as rep_publish finds it (next to the
 * configuration, next to crmetl, or in the share directory) into out[n].
 */
int rep_template_path(const struct cfg *cfg, const char *name, char *out, size_t n,
		      struct crm_err *e);

/*
 * The same with the creation date given (UTC seconds) instead of
 * SOURCE_DATE_EPOCH or now; created < 0 means rep_publish's choice. crmetl
 * verify renders with the date of the published PDF so both compare equal.
 */
int rep_publish_at(const struct cfg *cfg, int period, const char *name, const char *lang,
		   time_t created, struct crm_err *e);

#endif
