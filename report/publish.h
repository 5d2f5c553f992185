/*
 * publish.h - render and write the report of a period (see publish.c).
 */
#ifndef CRM_PUBLISH_H
#define CRM_PUBLISH_H

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

#endif
