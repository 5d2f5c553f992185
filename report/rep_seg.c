/*
 * rep_seg.c - the report of one segment (crmetl report --segment DIM=VALUE):
 * the same template rendered from that segment's rows instead of the
 * overall ones, written as <data_dir>/reports/P-NAME-LANG-DIM-VALUE.pdf.
 *
 * How: a report is a function of a data directory, so the segment's report
 * is the report of a segment's view of it. This file builds that view in
 * <data_dir>/tmp/segment-PID: metrics files whose overall rows are the
 * segment's (mtab_focus_text; rows only computed overall are left out, so
 * those sections say there is no data), the per-customer file cut to the
 * segment's customers, and links to the real period lineage and
 * quarantine (where the data came from does not change). rep_publish()
 * renders from there with the segment named in the title; the PDF is then
 * moved next to the others and the view removed. The real metrics are
 * only read.
 *
 * Does not: compute anything per segment that compute did not write.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "fsx.h"
#include "log.h"
#include "mtab.h"
#include "period.h"
#include "publish.h"
#include "rep_int.h"
#include "rep_seg.h"

#include "banned.h"

#define HISTORY 35 /* earlier months focused too: the same span publish.c reads */

/* The dims a report can be cut by: [dim, per-customer column, en, zh]. */
static const char *const dims[][4] = {
	{ "channel", "channel", "Channel", "渠道" },
	{ "region", "region", "Region", "地区" },
	{ "tier", "tier", "Tier", "客户等级" },
	{ "rfm", "rfm_segment", "RFM segment", "RFM 分群" },
};

#define N_DIMS (sizeof(dims) / sizeof(dims[0]))

int rep_segment_parse(const char *spec, char *dim, size_t dn, char *value, size_t vn,
		      struct crm_err *e)
{
	const char *eq = strchr(spec, '=');
	size_t i, dl;

	if (eq) {
		dl = (size_t)(eq - spec);
		for (i = 0; i < N_DIMS; i++)
			if (strlen(dims[i][0]) == dl && !strncmp(dims[i][0], spec, dl))
				break;
		if (i < N_DIMS && eq[1] && strlen(eq + 1) < vn && !strpbrk(eq + 1, "\n\r,\"")) {
			snprintf(dim, dn, "%s", dims[i][0]);
			snprintf(value, vn, "%s", eq + 1);
			return 0;
		}
	}
	return err_set(e, CRM_E_USAGE, "invalid segment '%s': expected DIM=VALUE, DIM one of channel, "
		       "region, tier, rfm (e.g. region=East)", spec);
}

/* The dims row of a dim; dim is one rep_segment_parse accepted. */
static const char *const *dim_row(const char *dim)
{
	size_t i;

	for (i = 0; i < N_DIMS && strcmp(dims[i][0], dim); i++)
		;
	return dims[i < N_DIMS ? i : 0];
}

/* snprintf into a path; too long is an error, never a cut path. */
static int path_set(char *buf, size_t n, struct crm_err *e, const char *a, const char *b,
		    const char *c)
{
	int w = snprintf(buf, n, "%s%s%s", a, b, c);

	if (w < 0 || (size_t)w >= n)
		return err_set(e, CRM_E_CONFIG, "path too long under data_dir");
	return 0;
}

/* Read src, let fn turn it into dst's bytes, write dst. CRM_E_INPUT when src is missing. */
typedef int (*view_fn)(const char *text, size_t len, const char *path, const char *dim,
		       const char *value, struct buf *out, size_t *n, struct crm_err *e);

static int view_file(const char *src, const char *dst, view_fn fn, const char *dim,
		     const char *value, size_t *n, struct crm_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct buf b;
	int rc;

	rc = fsx_read_file(src, MTAB_MAX_FILE, &data, &len, e);
	if (rc)
		return rc;
	buf_init(&b, MTAB_MAX_FILE);
	rc = fn((const char *)data, len, src, dim, value, &b, n, e);
	if (rc == 0)
		rc = fsx_write_atomic(dst, b.data ? b.data : (const unsigned char *)"", b.len, e);
	buf_release(&b);
	free(data);
	return rc;
}

/* mtab_filter_customers_text with the dim's column, in the shape of a view_fn. */
static int customers_view(const char *text, size_t len, const char *path, const char *dim,
			  const char *value, struct buf *out, size_t *n, struct crm_err *e)
{
	return mtab_filter_customers_text(text, len, path, dim_row(dim)[1], value, out, n, e);
}

/* Remove the view: its two directories of plain files, its links, itself. */
static void remove_view(const char *view)
{
	static const char *const subdirs[] = { "metrics", "reports" };
	char path[4096], file[4352];
	size_t i;

	for (i = 0; i < 2; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", view, subdirs[i]);
		if (!(d = opendir(path)))
			continue;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
				unlink(file);
			}
		closedir(d);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/periods", view);
	unlink(path);
	snprintf(path, sizeof(path), "%s/quarantine", view);
	unlink(path);
	rmdir(view);
	/* <data_dir>/tmp itself when nothing else is in it (we hold the data_dir lock) */
	snprintf(path, sizeof(path), "%s", view);
	if (strrchr(path, '/')) {
		*strrchr(path, '/') = '\0';
		rmdir(path);
	}
}

/*
 * Views of segment renders that were killed (<data_dir>/tmp/segment-PID
 * of a process that is gone): each would stay forever otherwise. Only
 * dead processes' views go, so nothing a running render uses is touched.
 */
static void sweep_views(const char *data_dir)
{
	char dir[4096], view[4352];
	DIR *d;
	struct dirent *de;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/tmp", data_dir) >= sizeof(dir) ||
	    !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, "segment-", 8) != 0)
			continue;
		errno = 0;
		pid = strtol(de->d_name + 8, &end, 10);
		if (*end || errno || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(view, sizeof(view), "%s/%s", dir, de->d_name);
		remove_view(view);
		log_debug("removed %s, left by a report that was stopped", view);
	}
	closedir(d);
}

/* The segment's metrics: P (which must have the segment's rows) and up to HISTORY months before. */
static int build_metrics(const char *data_dir, const char *view, int period, const char *dim,
			 const char *value, struct crm_err *e)
{
	char src[4096], dst[4096], per[PERIOD_TEXT_MAX], name[PERIOD_TEXT_MAX + 16];
	size_t n = 0;
	int i, rc;

	for (i = 0; i <= HISTORY; i++) {
		struct stat st;

		snprintf(name, sizeof(name), "/metrics/%s.csv", period_format(period - i, per));
		if ((rc = path_set(src, sizeof(src), e, data_dir, name, "")) ||
		    (rc = path_set(dst, sizeof(dst), e, view, name, "")))
			return rc;
		if (i > 0 && stat(src, &st) != 0)
			continue; /* an earlier month not computed: its changes read n/a */
		rc = view_file(src, dst, mtab_focus_text, dim, value, &n, e);
		if (rc == CRM_E_INPUT && i == 0) {
			e->sys_errno = 0;
			snprintf(e->msg, sizeof(e->msg),
				 "no metrics for period %s (run crmetl compute --period %s first)", per, per);
		}
		if (rc)
			return rc;
		if (i == 0 && n == 0)
			return err_at(e, CRM_E_INPUT, src, 0, NULL,
				      "no metrics of segment %s=%s in period %s", dim, value, per);
	}
	return 0;
}

/* The view's per-customer file (when there is one) and its links to lineage and quarantine. */
static int build_rest(const char *data_dir, const char *view, int period, const char *dim,
		      const char *value, struct crm_err *e)
{
	char src[4096], dst[4096], per[PERIOD_TEXT_MAX], name[PERIOD_TEXT_MAX + 32];
	size_t n = 0;
	int rc;

	snprintf(name, sizeof(name), "/metrics/%s-customers.csv", period_format(period, per));
	if ((rc = path_set(src, sizeof(src), e, data_dir, name, "")) ||
	    (rc = path_set(dst, sizeof(dst), e, view, name, "")))
		return rc;
	rc = view_file(src, dst, customers_view, dim, value, &n, e);
	if (rc == CRM_E_INPUT) /* not computed: the sections that use it say so */
		memset(e, 0, sizeof(*e));
	else if (rc)
		return rc;
	/* the view lives in <data_dir>/tmp/NAME: two levels down from what it links to */
	if ((rc = path_set(dst, sizeof(dst), e, view, "/periods", "")) ||
	    (symlink("../../periods", dst) && errno != EEXIST))
		return rc ? rc : err_sys(e, CRM_E_IO, errno, dst, "cannot link");
	if ((rc = path_set(dst, sizeof(dst), e, view, "/quarantine", "")) ||
	    (symlink("../../quarantine", dst) && errno != EEXIST))
		return rc ? rc : err_sys(e, CRM_E_IO, errno, dst, "cannot link");
	return 0;
}

/* The configured title followed by the segment, in the report's language. */
static void segment_title(const struct cfg *cfg, const char *lang, const char *dim,
			  const char *value, char *out, size_t n)
{
	struct rep_opts o;
	int zh = !strcmp(lang, "zh");

	memset(&o, 0, sizeof(o));
	o.lang = zh ? TPL_ZH : TPL_EN;
	snprintf(out, n, "%s | %s%s%s", cfg->report_title && *cfg->report_title ? cfg->report_title : "crmetl",
		 dim_row(dim)[2 + zh], zh ? "：" : ": ", rep_segment_label(&o, dim, value));
}

/* The segment value as a file name part: [A-Za-z0-9_-] kept, anything else '_'. */
static void file_part(const char *value, char *out, size_t n)
{
	size_t i;

	for (i = 0; value[i] && i + 1 < n; i++) {
		unsigned char c = (unsigned char)value[i];

		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_' || c == '-' ? (char)c : '_';
	}
	out[i] = '\0';
}

int rep_segment_report_path(const struct cfg *cfg, int period, const char *name, const char *lang,
			    const char *spec, char *out, size_t n, struct crm_err *e)
{
	char dim[16], value[128], part[128], per[PERIOD_TEXT_MAX], file[512];
	int rc = rep_segment_parse(spec, dim, sizeof(dim), value, sizeof(value), e);

	if (rc)
		return rc;
	period_format(period, per);
	file_part(value, part, sizeof(part));
	snprintf(file, sizeof(file), "/reports/%s-%s-%s-%s-%s.pdf", per, name, lang, dim, part);
	return path_set(out, n, e, cfg->data_dir, file, "");
}

int rep_publish_segment(const struct cfg *cfg, int period, const char *name, const char *lang,
			const char *spec, struct crm_err *e)
{
	char dim[16], value[128], view[4096], mdir[4096], title[512], per[PERIOD_TEXT_MAX];
	char from[4096], to[4096], pid[32], file[512];
	struct cfg c;
	int rc;

	if ((rc = rep_segment_parse(spec, dim, sizeof(dim), value, sizeof(value), e)))
		return rc;
	if ((rc = path_set(mdir, sizeof(mdir), e, cfg->data_dir, "/metrics", "")))
		return rc;
	if (period < 0 && (rc = rep_latest_period(mdir, &period, e)))
		return rc;
	snprintf(pid, sizeof(pid), "/tmp/segment-%ld", (long)getpid());
	if ((rc = path_set(view, sizeof(view), e, cfg->data_dir, pid, "")) ||
	    (rc = path_set(from, sizeof(from), e, view, "/metrics", "")))
		return rc;
	sweep_views(cfg->data_dir);
	remove_view(view); /* a view of a killed run with our pid: never reused as it is */
	if ((rc = fsx_mkdirs(from, e)) ||
	    (rc = build_metrics(cfg->data_dir, view, period, dim, value, e)) ||
	    (rc = build_rest(cfg->data_dir, view, period, dim, value, e)))
		goto out;
	/* publish.c reads data_dir and the title only: a shallow copy, never freed */
	c = *cfg;
	c.data_dir = view;
	segment_title(cfg, lang, dim, value, title, sizeof(title));
	c.report_title = title;
	if ((rc = rep_publish(&c, period, name, lang, e)))
		goto out;
	period_format(period, per);
	snprintf(file, sizeof(file), "/reports/%s-%s-%s.pdf", per, name, lang);
	if ((rc = path_set(from, sizeof(from), e, view, file, "")))
		goto out;
	if ((rc = path_set(to, sizeof(to), e, cfg->data_dir, "/reports", "")) || (rc = fsx_mkdirs(to, e)) ||
	    (rc = rep_segment_report_path(cfg, period, name, lang, spec, to, sizeof(to), e)))
		goto out;
	if (rename(from, to) != 0) {
		rc = err_sys(e, CRM_E_IO, errno, to, "cannot move the report into place");
		goto out;
	}
	if ((rc = fsx_sync_parent(to, e)))
		goto out;
	log_info("report: segment %s=%s: moved to %s", dim, value, to);
out:
	remove_view(view);
	return rc;
}
