/*
 * tpl.h - report templates: XML files that choose and order the sections of
 * a report, their titles in English and Chinese, the metrics they show and
 * how each is written. The format is documented at the top of
 * templates/executive.xml; in short:
 *
 *   <report>
 *     <title lang="en">...</title> <title lang="zh">...</title>
 *     <section kind="kpi|trend|table|cohort|funnel|nps|survival|at_risk|clv|lineage|definitions"
 *              [dim="channel"] [months="12"] [share="retained|active"]
 *              [rows="15"] [page="new"]>
 *       <title lang="en">...</title> <title lang="zh">...</title>
 *       <metric id="churn_rate" [format="percent"] [good="up|down|none"]
 *               [en="label"] [zh="标签"]/>
 *     </section>
 *   </report>
 *
 * kpi, trend and table sections list their metrics; the other kinds draw
 * fixed metrics (cohort_*, funnel_*, nps, csat, survival, the per-customer
 * file, the model rows of predictive CLV, the lineage record and
 * quarantine, the definitions of what the report shows) and take no
 * <metric>.
 * Every title needs both languages. A metric id must be one the report
 * knows (tpl_metric_info) unless the template gives both labels and a
 * format. Errors are CRM_E_CONFIG naming the template file and line.
 *
 * Lifecycle: tpl_load() or tpl_parse() -> use -> tpl_free(). The template
 * does not read metrics and does not draw: it only describes.
 */
#ifndef CRM_TPL_H
#define CRM_TPL_H

#include <stddef.h>

#include "err.h"
#include "fmt.h"

#define TPL_MAX_FILE (1u << 20) /* a template file, bytes */
#define TPL_MAX_SECTIONS 64
#define TPL_MAX_METRICS 16      /* per section */

enum tpl_lang { TPL_EN = 0, TPL_ZH = 1 };
enum tpl_good { TPL_GOOD_UP, TPL_GOOD_DOWN, TPL_GOOD_NONE };
enum tpl_kind {
	TPL_KPI, TPL_TREND, TPL_TABLE,
	TPL_COHORT,      /* retention heatmap: share="retained" (default) or "active" */
	TPL_FUNNEL,      /* lead funnel: funnel_<stage> and conversions */
	TPL_NPS,         /* NPS composition and CSAT */
	TPL_SURVIVAL,    /* Kaplan-Meier curves: overall, and by dim when given */
	TPL_AT_RISK,     /* high-value customers at risk: rows="15" (1..40) */
	TPL_DEFINITIONS, /* each metric the report shows, with its formula */
	TPL_CLV,         /* predictive CLV: model parameters, holdout, top customers: rows="10" (1..40) */
	TPL_LINEAGE,     /* data quality and lineage: export files, rejected rows, restatements */
	TPL_N_KINDS      /* not a kind: how many there are */
};
#define TPL_AT_RISK_ROWS 15 /* default rows of an at_risk section */
#define TPL_CLV_ROWS 10     /* default rows of each list of a clv section */

/* What the report knows about a metric by default. */
struct tpl_metric_info {
	const char *id;
	const char *label[2];   /* en, zh */
	enum fmt_kind format;
	enum tpl_good good;
};

struct tpl_metric {
	char *id;               /* owned */
	char *label[2];         /* owned, en and zh */
	enum fmt_kind format;
	enum tpl_good good;
	long line;
};

struct tpl_section {
	enum tpl_kind kind;
	char *title[2];         /* owned, en and zh */
	char *dim;              /* owned: table and survival sections ("channel", ...), else NULL */
	int months;             /* trend: periods shown, 2..36, default 12 */
	int new_page;           /* page="new": start on a fresh page */
	int share_active;       /* cohort: 1 for share="active" (cohort_active_share) */
	int rows;               /* at_risk, clv: customers listed (per list), 1..40 */
	struct tpl_metric *metrics; /* owned array */
	size_t n_metrics;
	long line;
};

struct tpl {
	char *path;             /* owned: the file it came from */
	char *title[2];         /* owned, en and zh */
	struct tpl_section *sections; /* owned array */
	size_t n_sections;
};

/* Built-in metric info, or NULL. */
const struct tpl_metric_info *tpl_metric_info(const char *id);

/* Read and validate templates/NAME.xml-style file `path`. */
int tpl_load(const char *path, struct tpl **out, struct crm_err *e);

/* Same over text in memory (tests, fuzzing); `path` names it in errors. */
int tpl_parse(const char *text, size_t len, const char *path, struct tpl **out,
	      struct crm_err *e);

void tpl_free(struct tpl *t);

/* "en" -> TPL_EN, "zh" -> TPL_ZH; -1 otherwise. */
int tpl_lang_parse(const char *s);

#endif
