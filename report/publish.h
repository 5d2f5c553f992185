/*
 * publish.h - render and write the report of a period (see publish.c).
 */
#ifndef CRM_PUBLISH_H
#define CRM_PUBLISH_H

#include <time.h>

#include "err.h"

struct cfg;

/*
 * Render period `period` (or the latest with a metrics file when < 0) with
 * template `name` in `lang` ("en" or "zh") and write
 * <data_dir>/reports/P-NAME-LANG.pdf. Missing metrics: CRM_E_INPUT; a bad
 * template: CRM_E_CONFIG with its file and line.
 */
int rep_publish(const struct cfg *cfg, int period, const char *name, const char *lang,
		struct crm_err *e);

/*
 * The same with the creation date given (UTC seconds) instead of
 * SOURCE_DATE_EPOCH or now; created < 0 means rep_publish's choice. crmetl
 * verify renders with the date of the published PDF so both compare equal.
 */
int rep_publish_at(const struct cfg *cfg, int period, const char *name, const char *lang,
		   time_t created, struct crm_err *e);

#endif
