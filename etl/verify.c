/*
 * verify.c - rebuild a period in a scratch folder and compare it with what
 * was published (see verify.h).
 *
 * Owns <data_dir>/tmp/verify-<pid> for the length of one call. Calls the
 * stages down (normalize, compute, report) exactly as `crmetl run` does,
 * with a copy of the configuration pointing at the scratch folder, so the
 * rebuild is the product's own code path, not a second implementation.
 *
 * Does not: compare months other than the one asked for (their metrics are
 * rebuilt only as the report's history), repair anything, or keep the
 * scratch folder (a difference is named with its first line or byte; the
 * published file stays for inspection).
 */
#include "verify.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "fsx.h"
#include "log.h"
#include "met.h"
#include "norm.h"
#include "period.h"
#include "publish.h"

#include "banned.h"

#define VPATH_MAX 4096
#define MAX_REPORTS 64      /* published reports of one period compared */
#define SHOW_MAX 160        /* characters of a differing line shown */
#define TREE_DEPTH_MAX 8    /* the scratch tree is 2 levels deep; more is not ours */

struct report_id {
	char tpl[80], lang[8];
};

struct vctx {
	const struct cfg *cfg;        /* the published side */
	struct cfg sc;                /* shallow copy; sc.data_dir = scratch */
	char scratch[VPATH_MAX];
	char pt[PERIOD_TEXT_MAX];
	int period;
	FILE *out;
	struct verify_stats *st;
	struct buf names;             /* "file (line N), ..." for the error message */
	char first[VPATH_MAX];        /* published path of the first difference */
	long first_line;
};

/* snprintf into a path buffer; too long is an error, never a cut path. */
static int pathf(char *buf, struct crm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int pathf(char *buf, struct crm_err *e, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(buf, VPATH_MAX, fmt, ap);
	va_end(ap);
	if (w < 0 || w >= VPATH_MAX)
		return err_set(e, CRM_E_IO, "path too long under data_dir");
	return 0;
}

static int exists(const char *path)
{
	struct stat s;

	return lstat(path, &s) == 0;
}

/* rm -r that never follows a symbolic link (scratch/raw links to the published raw/). */
static void remove_tree(const char *path, int depth)
{
	struct stat s;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &s) != 0)
		return;
	if (!S_ISDIR(s.st_mode) || depth > TREE_DEPTH_MAX) {
		unlink(path);
		return;
	}
	d = opendir(path);
	while (d && (de = readdir(d)) != NULL) {
		char sub[VPATH_MAX];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < sizeof(sub))
			remove_tree(sub, depth + 1);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

/*
 * Scratch folders of verifies that were killed. The caller holds the
 * data_dir lock, so no other verify of this data_dir is running: every
 * verify-* folder is a leftover, whatever its pid says.
 */
static void sweep_scratch(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		char path[VPATH_MAX];

		if (strncmp(de->d_name, "verify-", 7) != 0 ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name) >= sizeof(path))
			continue;
		log_debug("verify: removing %s, left by a verify that was stopped", path);
		remove_tree(path, 0);
	}
	if (d)
		closedir(d);
}

/* ---- which reports ---- */

/* "P-TEMPLATE-LANG.pdf" -> template and lang; 0 when the name is one. */
static int parse_report_name(const char *name, const char *pt, struct report_id *r)
{
	size_t n = strlen(name), pl = strlen(pt);
	const char *lang, *end = name + n - 4;

	if (n < pl + 8 || strncmp(name, pt, pl) != 0 || name[pl] != '-' || strcmp(end, ".pdf") != 0)
		return -1;
	for (lang = end; lang > name + pl + 1 && lang[-1] != '-'; lang--)
		;
	if (lang <= name + pl + 2 || (size_t)(end - lang) >= sizeof(r->lang) ||
	    (size_t)(lang - 1 - (name + pl + 1)) >= sizeof(r->tpl))
		return -1;
	snprintf(r->lang, sizeof(r->lang), "%.*s", (int)(end - lang), lang);
	snprintf(r->tpl, sizeof(r->tpl), "%.*s", (int)(lang - 1 - (name + pl + 1)), name + pl + 1);
	if (strcmp(r->lang, "en") != 0 && strcmp(r->lang, "zh") != 0)
		return -1;
	return strspn(r->tpl, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
	       strlen(r->tpl) ? 0 : -1;
}

static int add_report(struct report_id *list, int *n, const struct report_id *r)
{
	int i;

	for (i = 0; i < *n; i++)
		if (strcmp(list[i].tpl, r->tpl) == 0 && strcmp(list[i].lang, r->lang) == 0)
			return 0;
	if (*n >= MAX_REPORTS)
		return -1;
	list[(*n)++] = *r;
	return 0;
}

/*
 * Whether `r` names a template that exists: a segment's report
 * (P-NAME-LANG-DIM-VALUE.pdf, crmetl report --segment) may parse as
 * another name and language when its value is "en" or "zh", and is not
 * one of the reports verified here.
 */
static int is_template(const struct cfg *cfg, const struct report_id *r)
{
	struct crm_err ignored = { 0 };
	char path[VPATH_MAX];

	return rep_template_path(cfg, r->tpl, path, sizeof(path), &ignored) == 0 &&
	       access(path, R_OK) == 0;
}

/* The configured report, then every other published report of the period. */
static int list_reports(const struct vctx *v, struct report_id *list, int *n, struct crm_err *e)
{
	struct report_id r;
	char dir[VPATH_MAX];
	DIR *d;
	struct dirent *de;
	int rc = 0;

	*n = 0;
	snprintf(r.tpl, sizeof(r.tpl), "%s", v->cfg->report_template);
	snprintf(r.lang, sizeof(r.lang), "%s", v->cfg->report_lang);
	add_report(list, n, &r);
	if ((rc = pathf(dir, e, "%s/reports", v->cfg->data_dir)))
		return rc;
	d = opendir(dir);
	while (rc == 0 && d && (de = readdir(d)) != NULL)
		if (parse_report_name(de->d_name, v->pt, &r) == 0 && is_template(v->cfg, &r) &&
		    add_report(list, n, &r) != 0)
			rc = err_at(e, CRM_E_INPUT, dir, 0, NULL,
				    "more than %d reports of period %s to verify", MAX_REPORTS, v->pt);
	if (d)
		closedir(d);
	return rc;
}

/* ---- the published PDF's date ---- */

static int digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

/*
 * The /CreationDate of a PDF ("D:YYYYMMDDHHmmSS" then Z or +HH'mm' or
 * -HH'mm'), as UTC seconds; -1 when there is none. The Info dictionary is
 * never compressed, so a byte search finds it.
 */
static time_t pdf_created(const unsigned char *pdf, size_t len)
{
	static const char key[] = "/CreationDate (D:";
	const char *p = NULL, *s;
	struct tm tm;
	time_t t;
	size_t i;

	for (i = 0; i + sizeof(key) + 14 < len; i++)
		if (memcmp(pdf + i, key, sizeof(key) - 1) == 0) {
			p = (const char *)pdf + i + sizeof(key) - 1;
			break;
		}
	if (!p)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = digits(p, 4) - 1900;
	tm.tm_mon = digits(p + 4, 2) - 1;
	tm.tm_mday = digits(p + 6, 2);
	tm.tm_hour = digits(p + 8, 2);
	tm.tm_min = digits(p + 10, 2);
	tm.tm_sec = digits(p + 12, 2);
	if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0 ||
	    tm.tm_sec < 0 || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	s = p + 14;
	if ((*s == '+' || *s == '-') && i + sizeof(key) + 20 < len && digits(s + 1, 2) >= 0 &&
	    digits(s + 4, 2) >= 0) {
		long off = digits(s + 1, 2) * 3600L + digits(s + 4, 2) * 60L;

		t += *s == '+' ? -off : off; /* local time minus its offset is UTC */
	}
	return t;
}

static int read_created(const char *path, time_t *created, struct crm_err *e)
{
	unsigned char *pdf = NULL;
	size_t len = 0;
	int rc = fsx_read_file(path, 1u << 30, &pdf, &len, e);

	*created = -1;
	if (rc == 0)
		*created = pdf_created(pdf, len);
	free(pdf);
	return rc;
}

/* ---- comparing ---- */

/* Remember a difference for the error message ("file (where), ..."). */
static void note_difference(struct vctx *v, const char *rel, const char *pub, const char *where,
			    long line)
{
	v->st->differences++;
	if (!v->first[0]) {
		snprintf(v->first, sizeof(v->first), "%s", pub);
		v->first_line = line;
	}
	buf_printf(&v->names, "%s%s%s%s%s", v->names.len ? ", " : "", rel, where[0] ? " (" : "",
		   where, where[0] ? ")" : "");
}

/* A line as shown under a difference: at most SHOW_MAX characters, no line break. */
static void clip_line(char *out, const char *line)
{
	size_t n = strcspn(line, "\r\n");

	snprintf(out, SHOW_MAX + 4, "%.*s%s", (int)(n > SHOW_MAX ? SHOW_MAX : n), line,
		 n > SHOW_MAX ? "..." : "");
}

/*
 * First differing line of two text files: 0 when equal, else its number
 * (1-based), with both lines clipped into la_out and lb_out (SHOW_MAX + 4
 * bytes each). A file that ends first shows as "(end of file)".
 */
static long text_diff(FILE *a, FILE *b, char *la_out, char *lb_out)
{
	char *la = NULL, *lb = NULL;
	size_t ca = 0, cb = 0;
	long line = 0, found = 0;

	for (;;) {
		ssize_t na = getline(&la, &ca, a), nb = getline(&lb, &cb, b);

		line++;
		if (na < 0 && nb < 0)
			break;
		if (na != nb || memcmp(la, lb, (size_t)na) != 0) {
			found = line;
			clip_line(la_out, na < 0 ? "(end of file)" : la);
			clip_line(lb_out, nb < 0 ? "(end of file)" : lb);
			break;
		}
	}
	free(la);
	free(lb);
	return found;
}

/* First differing byte offset + 1 of two files: 0 when equal. */
static long long bin_diff(FILE *a, FILE *b)
{
	unsigned char ba[16384], bb[16384];
	long long off = 0;

	for (;;) {
		size_t na = fread(ba, 1, sizeof(ba), a), nb = fread(bb, 1, sizeof(bb), b), i;
		size_t n = na < nb ? na : nb;

		for (i = 0; i < n; i++)
			if (ba[i] != bb[i])
				return off + (long long)i + 1;
		if (na != nb)
			return off + (long long)n + 1;
		if (na == 0)
			return 0;
		off += (long long)na;
	}
}

static int open_pair(const char *pub, const char *new_, FILE **a, FILE **b, struct crm_err *e)
{
	*a = fopen(pub, "rb");
	if (!*a)
		return err_sys(e, CRM_E_IO, errno, pub, "cannot open");
	*b = fopen(new_, "rb");
	if (!*b) {
		fclose(*a);
		return err_sys(e, CRM_E_IO, errno, new_, "cannot open");
	}
	return 0;
}

/* Both files exist: compare them and say so on v->out. */
static int compare_pair(struct vctx *v, const char *rel, const char *pub, const char *new_,
			int text, struct crm_err *e)
{
	char la[SHOW_MAX + 4], lb[SHOW_MAX + 4], where[64];
	long long at;
	FILE *a, *b;
	int rc;

	if ((rc = open_pair(pub, new_, &a, &b, e)))
		return rc;
	at = text ? text_diff(a, b, la, lb) : bin_diff(a, b);
	fclose(a);
	fclose(b);
	if (at == 0) {
		fprintf(v->out, "same     %s\n", rel);
		return 0;
	}
	snprintf(where, sizeof(where), text ? "line %lld" : "byte %lld", text ? at : at - 1);
	fprintf(v->out, "DIFFERS  %s: first difference at %s\n", rel, where);
	if (text)
		fprintf(v->out, "           published: %s\n           rebuilt:   %s\n", la, lb);
	note_difference(v, rel, pub, where, text ? (long)at : 0);
	return 0;
}

/* Compare data_dir/rel with scratch/rel; `text` files are compared by line. */
static int compare(struct vctx *v, const char *rel, int text, struct crm_err *e)
{
	char pub[VPATH_MAX], new_[VPATH_MAX];
	int has_pub, has_new, rc;

	if ((rc = pathf(pub, e, "%s/%s", v->cfg->data_dir, rel)) ||
	    (rc = pathf(new_, e, "%s/%s", v->scratch, rel)))
		return rc;
	has_pub = exists(pub);
	has_new = exists(new_);
	if (!has_pub && !has_new) {
		fprintf(v->out, "absent   %s (no data for the period on either side)\n", rel);
		return 0;
	}
	v->st->compared++;
	if (has_pub && has_new)
		return compare_pair(v, rel, pub, new_, text, e);
	fprintf(v->out, "MISSING  %s: %s\n", rel,
		has_pub ? "published, but the rebuild has no such file" : "not published");
	note_difference(v, rel, pub, has_pub ? "not in the rebuild" : "not published", 0);
	return 0;
}

/* ---- rebuilding ---- */

/* Whether anything of the period is published (else there is nothing to verify). */
static int anything_published(const struct vctx *v, int n_reports, const struct report_id *r)
{
	char p[VPATH_MAX];
	int i;

	if ((size_t)snprintf(p, sizeof(p), "%s/periods/%s.crmp", v->cfg->data_dir, v->pt) < sizeof(p) &&
	    exists(p))
		return 1;
	if ((size_t)snprintf(p, sizeof(p), "%s/metrics/%s.csv", v->cfg->data_dir, v->pt) < sizeof(p) &&
	    exists(p))
		return 1;
	for (i = 0; i < n_reports; i++)
		if ((size_t)snprintf(p, sizeof(p), "%s/reports/%s-%s-%s.pdf", v->cfg->data_dir, v->pt,
				     r[i].tpl, r[i].lang) < sizeof(p) && exists(p))
			return 1;
	return 0;
}

/*
 * Fetched exports are inputs, not outputs: the scratch folder reads them
 * through a link to the published raw/ (normalize never writes there).
 */
static int link_raw(const struct vctx *v, struct crm_err *e)
{
	char raw[VPATH_MAX], link[VPATH_MAX], *real;
	int rc;

	if ((rc = pathf(raw, e, "%s/raw", v->cfg->data_dir)) ||
	    (rc = pathf(link, e, "%s/raw", v->scratch)))
		return rc;
	if (!exists(raw))
		return 0;
	real = realpath(raw, NULL);
	if (!real)
		return err_sys(e, CRM_E_IO, errno, raw, "cannot resolve");
	rc = symlink(real, link) == 0 ? 0 : err_sys(e, CRM_E_IO, errno, link, "cannot link to raw/");
	free(real);
	return rc;
}

/*
 * The report reads up to REP_HISTORY_MONTHS earlier metrics files, and which
 * of them exist depends on what was computed before, not on the inputs.
 * Compute from the earliest one published, then drop the months that are
 * not published, so the rebuilt report sees the same months.
 */
static int rebuild_metrics(struct vctx *v, struct crm_err *e)
{
	struct met_opts mo = { 1, v->period, v->period, 1 };
	struct met_stats ms;
	char p[VPATH_MAX];
	int m, rc;

	for (m = v->period - REP_HISTORY_MONTHS; m < v->period; m++) {
		char pm[PERIOD_TEXT_MAX];

		if ((rc = pathf(p, e, "%s/metrics/%s.csv", v->cfg->data_dir, period_format(m, pm))))
			return rc;
		if (exists(p) && m < mo.from)
			mo.from = m;
	}
	if ((rc = met_run(&v->sc, &mo, &ms, e)))
		return rc;
	for (m = mo.from; m < v->period; m++) {
		char pm[PERIOD_TEXT_MAX];

		if ((rc = pathf(p, e, "%s/metrics/%s.csv", v->cfg->data_dir, period_format(m, pm))))
			return rc;
		if (exists(p))
			continue;
		if ((rc = pathf(p, e, "%s/metrics/%s.csv", v->scratch, pm)))
			return rc;
		unlink(p);
	}
	return 0;
}

/*
 * periods/P.lineage holds the period's restatement history, which a fresh
 * normalize cannot know: the published one is copied in (or the rebuilt
 * one removed when none was published) before the report is rendered.
 */
static int copy_lineage(const struct vctx *v, struct crm_err *e)
{
	char pub[VPATH_MAX], new_[VPATH_MAX];
	unsigned char *data = NULL;
	size_t len = 0;
	int rc;

	if ((rc = pathf(pub, e, "%s/periods/%s.lineage", v->cfg->data_dir, v->pt)) ||
	    (rc = pathf(new_, e, "%s/periods/%s.lineage", v->scratch, v->pt)))
		return rc;
	if (!exists(pub)) {
		unlink(new_);
		return 0;
	}
	rc = fsx_read_file(pub, 1u << 30, &data, &len, e);
	if (rc == 0)
		rc = fsx_write_atomic(new_, data, len, e);
	free(data);
	return rc;
}

/* Render each report with the creation date of its published copy. */
static int rebuild_reports(struct vctx *v, const struct report_id *r, int n, struct crm_err *e)
{
	char pub[VPATH_MAX];
	int i, rc = 0;

	for (i = 0; rc == 0 && i < n; i++) {
		time_t created = 0;

		if ((rc = pathf(pub, e, "%s/reports/%s-%s-%s.pdf", v->cfg->data_dir, v->pt, r[i].tpl,
				r[i].lang)))
			break;
		if (!exists(pub))
			continue; /* compared as "not published"; nothing to render against */
		if ((rc = read_created(pub, &created, e)))
			break;
		if (created < 0) {
			log_warn("verify: %s has no creation date: rendering with 1970-01-01", pub);
			created = 0;
		}
		rc = rep_publish_at(&v->sc, v->period, r[i].tpl, r[i].lang, created, e);
	}
	return rc;
}

/* Normalize everything (compute walks every earlier month), compute, render. */
static int rebuild(struct vctx *v, const struct report_id *r, int n, struct crm_err *e)
{
	struct norm_opts no = { 0, 0, 0, 0 };
	struct norm_stats ns;
	enum log_level level = log_get_level();
	int rc;

	if ((rc = fsx_mkdirs(v->scratch, e)) || (rc = link_raw(v, e)))
		return rc;
	/* The stages' own lines name scratch paths: kept for -v only. */
	if (level == LOG_INFO)
		log_init(LOG_WARN, NULL);
	rc = norm_run(&v->sc, &no, &ns, e);
	if (rc == 0)
		rc = rebuild_metrics(v, e);
	if (rc == 0)
		rc = copy_lineage(v, e);
	if (rc == 0)
		rc = rebuild_reports(v, r, n, e);
	log_init(level, NULL);
	if (rc)
		err_context(e, v->scratch, 0);
	return rc;
}

static int compare_all(struct vctx *v, const struct report_id *r, int n, struct crm_err *e)
{
	static const char *const metrics[] = { "%s.csv", "%s.json", "%s-customers.csv" };
	char rel[VPATH_MAX], name[256];
	size_t i;
	int rc;

	if ((rc = pathf(rel, e, "periods/%s.crmp", v->pt)) || (rc = compare(v, rel, 0, e)))
		return rc;
	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		snprintf(name, sizeof(name), metrics[i], v->pt);
		if ((rc = pathf(rel, e, "metrics/%s", name)) || (rc = compare(v, rel, 1, e)))
			return rc;
	}
	for (i = 0; i < (size_t)n; i++)
		if ((rc = pathf(rel, e, "reports/%s-%s-%s.pdf", v->pt, r[i].tpl, r[i].lang)) ||
		    (rc = compare(v, rel, 0, e)))
			return rc;
	return 0;
}

static int verdict(struct vctx *v, struct crm_err *e)
{
	if (v->names.failed)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	if (v->st->differences == 0) {
		log_info("verify: %s: %d published files identical to their rebuild", v->pt,
			 v->st->compared);
		return 0;
	}
	return err_at(e, CRM_E_CORRUPT, v->first, v->first_line, NULL,
		      "period %s: %d of %d published files differ from their rebuild: %.*s", v->pt,
		      v->st->differences, v->st->compared, (int)(v->names.len > 300 ? 300 : v->names.len),
		      v->names.data ? (const char *)v->names.data : "");
}

int verify_period(const struct cfg *cfg, int period, FILE *out, struct verify_stats *st,
		  struct crm_err *e)
{
	struct report_id reports[MAX_REPORTS];
	char tmp[VPATH_MAX];
	struct vctx v;
	int n = 0, rc, made_tmp;

	memset(&v, 0, sizeof(v));
	memset(st, 0, sizeof(*st));
	v.cfg = cfg, v.sc = *cfg, v.period = period, v.out = out, v.st = st;
	v.sc.data_dir = v.scratch;
	period_format(period, v.pt);
	buf_init(&v.names, 1 << 16);
	if ((rc = pathf(tmp, e, "%s/tmp", cfg->data_dir)) ||
	    (rc = pathf(v.scratch, e, "%s/verify-%ld", tmp, (long)getpid())) ||
	    (rc = list_reports(&v, reports, &n, e)))
		goto out;
	if (!anything_published(&v, n, reports)) {
		rc = err_at(e, CRM_E_INPUT, cfg->data_dir, 0, NULL,
			    "nothing published for period %s: no periods/%s.crmp, metrics/%s.csv or "
			    "report (run crmetl run --period %s first)", v.pt, v.pt, v.pt, v.pt);
		goto out;
	}
	made_tmp = !exists(tmp);
	sweep_scratch(tmp);
	log_info("verify: rebuilding %s in %s", v.pt, v.scratch);
	rc = rebuild(&v, reports, n, e);
	if (rc == 0)
		rc = compare_all(&v, reports, n, e);
	remove_tree(v.scratch, 0);
	if (made_tmp)
		rmdir(tmp);
	if (rc == 0)
		rc = verdict(&v, e);
out:
	buf_release(&v.names);
	return rc;
}
