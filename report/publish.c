/*
 * publish.c - render one period's report and write it where it belongs:
 * <data_dir>/reports/P-NAME-LANG.pdf, atomically.
 *
 * Finds the files (the period's metrics and up to 35 earlier months for
 * comparisons and trends, the template next to the configuration), hands
 * them to rep.c and writes the PDF. Reads metrics files only, never period
 * files or exports. The creation date in the PDF is SOURCE_DATE_EPOCH when
 * set, so a report can be rebuilt byte for byte. Used by `crmetl report`
 * and `crmetl run`.
 *
 * Also owns <data_dir>/stamps/P-NAME-LANG.report: after each render by
 * rep_publish_if_changed (crmetl run, and mail when it renders), a
 * stamp (stamp.h) of the identities of what the report read and of the PDF
 * written. rep_publish_if_changed() computes the same stamp and, when it
 * matches, leaves the PDF alone: rendering again would give the same PDF
 * apart from its date, so a re-run or a second identical backfill
 * rewrites nothing. The PDF is in the stamp so that a report changed or
 * removed by hand is redone. The configuration file and the program are in
 * it as a whole: any edit or upgrade renders again, the safe side of not
 * knowing which keys a template reads.
 */
#include "publish.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cfg.h"
#include "fsx.h"
#include "log.h"
#include "mtab.h"
#include "period.h"
#include "rep.h"
#include "stamp.h"
#include "tpl.h"

#include "banned.h"


int rep_latest_period(const char *dir, int *out, struct crm_err *e)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int best = -1;

	if (!d && errno == ENOENT)
		return err_at(e, CRM_E_INPUT, dir, 0, NULL,
			      "no metrics to report: no metrics directory (run crmetl compute first)");
	if (!d)
		return err_sys(e, CRM_E_IO, errno, dir, "cannot open the metrics directory");
	while ((de = readdir(d))) {
		char name[PERIOD_TEXT_MAX];
		struct crm_err pe = { 0 };
		int p;

		if (strlen(de->d_name) != 11 || strcmp(de->d_name + 7, ".csv"))
			continue;
		memcpy(name, de->d_name, 7);
		name[7] = '\0';
		if (period_parse(name, "file", &p, &pe) == 0 && p > best)
			best = p;
	}
	closedir(d);
	if (best < 0)
		return err_at(e, CRM_E_INPUT, dir, 0, NULL,
			      "no metrics to report: no YYYY-MM.csv file (run crmetl compute first)");
	*out = best;
	return 0;
}

/* snprintf into a path buffer; a path too long is an error, never cut. */
static int path_fmt(char *buf, size_t n, struct crm_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int path_fmt(char *buf, size_t n, struct crm_err *e, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= n)
		return err_set(e, CRM_E_CONFIG, "path too long under data_dir or the config directory");
	return 0;
}

/* SOURCE_DATE_EPOCH when set and valid, else now. */
static int creation_time(time_t *out, struct crm_err *e)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	if (!s || !*s) {
		*out = time(NULL);
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end || errno || v < 0 || v > 253402300799LL)
		return err_set(e, CRM_E_USAGE, "invalid SOURCE_DATE_EPOCH '%s': expected seconds since 1970", s);
	*out = (time_t)v;
	return 0;
}

/*
 * Where templates/NAME.xml is: next to the configuration first (a user's
 * own copy wins), then next to the program (the source tree, whose binary
 * sits at its top or in build-asan/), then the installed share directory
 * (PREFIX/bin/crmetl -> PREFIX/share/crmetl/templates). When none has it,
 * the first place is named, so the error says where to put it.
 */
static int find_template(const struct cfg *cfg, const char *name, char *out, size_t n,
			 struct crm_err *e)
{
	static const char *const beside_exe[] = { "templates", "../templates",
						  "../share/crmetl/templates" };
	char exe[4096], *slash;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;
	int rc;

	out[0] = '\0';
	exe[len > 0 ? len : 0] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	for (i = 0; slash && i < sizeof(beside_exe) / sizeof(beside_exe[0]); i++) {
		rc = path_fmt(out, n, e, "%s/%s/%s.xml", exe, beside_exe[i], name);
		if (rc == 0 && access(out, R_OK) == 0)
			break;
		out[0] = '\0';
	}
	/* The configuration's own templates/ is checked last but wins when present. */
	{
		char own[4096];

		rc = path_fmt(own, sizeof(own), e, "%s/templates/%s.xml", cfg->dir, name);
		if (rc)
			return rc;
		if (access(own, R_OK) == 0 || !out[0])
			return path_fmt(out, n, e, "%s", own);
	}
	return 0;
}

#define STAMP_MAX 4096

/*
 * What the report of `period` reads and is: its metrics and up to
 * REP_HISTORY_MONTHS earlier ones, the per-customer file, the lineage, the
 * template, the configuration, the program, SOURCE_DATE_EPOCH, the PDF.
 */
static int fingerprint(const struct cfg *cfg, int period, const char *name, const char *lang,
		       char *hex, struct crm_err *e)
{
	char path[4200], pt[PERIOD_TEXT_MAX];
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	struct stamp s;
	int i, rc;

	stamp_init(&s);
	stamp_text(&s, "report 1");
	stamp_text(&s, name);
	stamp_text(&s, lang);
	stamp_text(&s, sde ? sde : "");
	stamp_file(&s, cfg->path);
	stamp_file(&s, "/proc/self/exe");
	if ((rc = find_template(cfg, name, path, sizeof(path), e)))
		return rc;
	stamp_file(&s, path);
	for (i = 0; i <= REP_HISTORY_MONTHS; i++) {
		if ((rc = path_fmt(path, sizeof(path), e, "%s/metrics/%s.csv", cfg->data_dir,
				   period_format(period - i, pt))))
			return rc;
		stamp_file(&s, path);
	}
	period_format(period, pt);
	if ((rc = path_fmt(path, sizeof(path), e, "%s/metrics/%s-customers.csv", cfg->data_dir, pt)))
		return rc;
	stamp_file(&s, path);
	if ((rc = path_fmt(path, sizeof(path), e, "%s/periods/%s.lineage", cfg->data_dir, pt)))
		return rc;
	stamp_file(&s, path);
	if ((rc = path_fmt(path, sizeof(path), e, "%s/reports/%s-%s-%s.pdf", cfg->data_dir, pt, name,
			   lang)))
		return rc;
	stamp_file(&s, path);
	stamp_hex(&s, hex);
	return 0;
}

static int stamp_file_path(const struct cfg *cfg, int period, const char *name, const char *lang,
			   char *out, size_t n, struct crm_err *e)
{
	char pt[PERIOD_TEXT_MAX];

	return path_fmt(out, n, e, "%s/stamps/%s-%s-%s.report", cfg->data_dir,
			period_format(period, pt), name, lang);
}

/* Record the stamp of a report just written; failing only costs a render next time. */
static void stamp_record(const struct cfg *cfg, int period, const char *name, const char *lang)
{
	char path[4200], dir[4200], hex[SHA256_HEX_LEN + 2];
	struct crm_err e = { 0 };

	int rc = stamp_file_path(cfg, period, name, lang, path, sizeof(path), &e);

	rc = rc ? rc : path_fmt(dir, sizeof(dir), &e, "%s/stamps", cfg->data_dir);
	rc = rc ? rc : fingerprint(cfg, period, name, lang, hex, &e);
	if (rc == 0) {
		hex[SHA256_HEX_LEN] = '\n';
		hex[SHA256_HEX_LEN + 1] = '\0';
		rc = fsx_mkdirs(dir, &e);
	}
	rc = rc ? rc : fsx_write_atomic(path, hex, SHA256_HEX_LEN + 1, &e);
	if (rc)
		log_warn("report: cannot record the stamp %s (the next run renders again): %s", path,
			 e.msg);
}

int rep_report_fresh(const struct cfg *cfg, int period, const char *name, const char *lang)
{
	char path[4200], hex[SHA256_HEX_LEN + 1];
	unsigned char *old = NULL;
	size_t len = 0;
	struct crm_err ignored = { 0 };
	int fresh = 0;

	if (stamp_file_path(cfg, period, name, lang, path, sizeof(path), &ignored) == 0 &&
	    fingerprint(cfg, period, name, lang, hex, &ignored) == 0 &&
	    fsx_read_file(path, STAMP_MAX, &old, &len, &ignored) == 0)
		fresh = len > SHA256_HEX_LEN && memcmp(old, hex, SHA256_HEX_LEN) == 0;
	free(old);
	return fresh;
}

int rep_publish_if_changed(const struct cfg *cfg, int period, const char *name, const char *lang,
			   int force, int *rendered, struct crm_err *e)
{
	char pt[PERIOD_TEXT_MAX];
	int rc;

	*rendered = 0;
	if (!force && rep_report_fresh(cfg, period, name, lang)) {
		log_info("report: %s-%s-%s: nothing changed since it was rendered: kept",
			 period_format(period, pt), name, lang);
		return 0;
	}
	/*
	 * Only renders through here record a stamp: rep_publish itself also
	 * renders into views that are not a data directory (verify's scratch
	 * folder, a segment's view) and must leave nothing else there.
	 */
	rc = rep_publish(cfg, period, name, lang, e);
	*rendered = rc == 0;
	if (rc == 0)
		stamp_record(cfg, period, name, lang);
	return rc;
}

/* What a worker of rep_publish_range did: counts, and its first error. */
struct range_result {
	int rc, period, rendered, kept;
	struct crm_err err;
};

/* start_worker sends it with one write, which a pipe keeps whole up to PIPE_BUF */
_Static_assert(sizeof(struct range_result) <= PIPE_BUF, "a worker's result must fit PIPE_BUF");

/* Periods from, from + step, ... up to `to`, until the first error. */
static void publish_every(const struct cfg *cfg, int from, int to, int step, const char *name,
			  const char *lang, int force, struct range_result *r)
{
	int p, done;

	memset(r, 0, sizeof(*r));
	for (p = from; r->rc == 0 && p <= to; p += step) {
		r->rc = rep_publish_if_changed(cfg, p, name, lang, force, &done, &r->err);
		r->period = p;
		r->rendered += r->rc == 0 && done;
		r->kept += r->rc == 0 && !done;
	}
}

/*
 * Start worker k: a child process renders periods from + k, from + k +
 * workers, ... and writes its range_result into the pipe (one write, well
 * under PIPE_BUF, so it arrives whole or not at all).
 */
static pid_t start_worker(const struct cfg *cfg, int from, int to, int workers, int k,
			  const char *name, const char *lang, int force, int *fd)
{
	int pfd[2];
	pid_t pid, parent;

	if (pipe(pfd) != 0)
		return -1;
	fflush(NULL); /* nothing buffered may be written twice */
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		struct range_result r;

		/*
		 * A worker dies with its run: one left behind would hold the
		 * data_dir lock (inherited) and keep the next run out.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(1);
		close(pfd[0]);
		publish_every(cfg, from + k, to, workers, name, lang, force, &r);
		_exit(write(pfd[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -1;
	}
	*fd = pfd[0];
	return pid;
}

/* Collect worker k's result into r; a worker that died says how. */
static void collect_worker(pid_t pid, int fd, int k, struct range_result *r)
{
	ssize_t got;
	int status = 0;

	do
		got = read(fd, r, sizeof(*r));
	while (got < 0 && errno == EINTR);
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof(*r))
		return;
	memset(r, 0, sizeof(*r));
	r->period = -1;
	r->rc = err_set(&r->err, CRM_E_INTERNAL, "report worker %d ended without a result (%s %d)",
			k + 1, WIFSIGNALED(status) ? "signal" : "status",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/*
 * Why processes: each period's report is independent of the others, but
 * libharu and libxml2 are not documented as safe to use from several
 * threads; processes share no library state. A backfill of 24 periods then
 * takes about half the time on two cores. fork() assumes this process runs
 * no other thread at that point (crmetl's own have all been joined by the
 * report stage; a child of a threaded process may only rely on what it
 * does not share with them).
 */
int rep_publish_range(const struct cfg *cfg, int from, int to, const char *name,
		      const char *lang, int force, int workers, int *rendered, int *kept,
		      struct crm_err *e)
{
	struct range_result r[REP_MAX_WORKERS];
	pid_t pid[REP_MAX_WORKERS];
	int fd[REP_MAX_WORKERS], k, n, rc = 0, worst = -1;

	*rendered = *kept = 0;
	n = workers < 1 ? 1 : workers > REP_MAX_WORKERS ? REP_MAX_WORKERS : workers;
	if (n > to - from + 1)
		n = to - from + 1;
	if (n <= 1) {
		publish_every(cfg, from, to, 1, name, lang, force, &r[0]);
		*rendered = r[0].rendered;
		*kept = r[0].kept;
		if (r[0].rc)
			*e = r[0].err;
		return r[0].rc;
	}
	for (k = 0; k < n; k++) {
		pid[k] = start_worker(cfg, from, to, n, k, name, lang, force, &fd[k]);
		if (pid[k] < 0) {
			rc = err_sys(e, CRM_E_INTERNAL, errno, NULL, "cannot start a report worker");
			break;
		}
	}
	n = k;
	for (k = 0; k < n; k++) {
		collect_worker(pid[k], fd[k], k, &r[k]);
		*rendered += r[k].rendered;
		*kept += r[k].kept;
		if (r[k].rc && (worst < 0 || r[k].period < r[worst].period))
			worst = k;
	}
	if (!rc && worst >= 0) {
		*e = r[worst].err;
		rc = r[worst].rc;
	}
	return rc;
}

int rep_template_path(const struct cfg *cfg, const char *name, char *out, size_t n,
		      struct crm_err *e)
{
	return find_template(cfg, name, out, n, e);
}

int rep_publish(const struct cfg *cfg, int period, const char *name, const char *lang,
		struct crm_err *e)
{
	return rep_publish_at(cfg, period, name, lang, (time_t)-1, e);
}

int rep_publish_at(const struct cfg *cfg, int period, const char *name, const char *lang,
		   time_t created, struct crm_err *e)
{
	char mdir[4096], path[4096], tpath[4096], rdir[4096], out_path[4096];
	char per[PERIOD_TEXT_MAX];
	struct tpl *t = NULL;
	struct mtab *m = NULL;
	struct rep_opts ro;
	unsigned char *pdf = NULL;
	size_t pdf_len = 0, rows = 0;
	int rc, i;

	memset(&ro, 0, sizeof(ro));
	if ((rc = find_template(cfg, name, tpath, sizeof(tpath), e)) ||
	    (rc = path_fmt(mdir, sizeof(mdir), e, "%s/metrics", cfg->data_dir)) ||
	    (rc = path_fmt(rdir, sizeof(rdir), e, "%s/reports", cfg->data_dir)))
		goto out;
	rc = tpl_load(tpath, &t, e);
	if (rc)
		goto out;

	if (period < 0 && (rc = rep_latest_period(mdir, &period, e)))
		goto out;
	period_format(period, per);
	m = mtab_new();
	if (!m) {
		rc = err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = path_fmt(path, sizeof(path), e, "%s/%s.csv", mdir, per)))
		goto out;
	rc = mtab_load_file(m, path, period, &rows, e);
	if (rc) {
		if (rc == CRM_E_INPUT) { /* say what is missing, not only "cannot open" */
			e->sys_errno = 0;
			snprintf(e->msg, sizeof(e->msg),
				 "no metrics for period %s (run crmetl compute --period %s first)", per, per);
		}
		goto out;
	}
	if (rows == 0) {
		rc = err_at(e, CRM_E_INPUT, path, 0, NULL, "no metrics for period %s: the file has no rows", per);
		goto out;
	}
	for (i = 1; i <= REP_HISTORY_MONTHS; i++) {
		char p2[PERIOD_TEXT_MAX];
		struct stat st;

		if ((rc = path_fmt(path, sizeof(path), e, "%s/%s.csv", mdir, period_format(period - i, p2))))
			goto out;
		if (stat(path, &st) != 0)
			continue; /* an earlier month not computed: its changes read n/a */
		if ((rc = mtab_load_file(m, path, period - i, NULL, e)))
			goto out;
	}

	ro.period = period;
	ro.lang = (enum tpl_lang)tpl_lang_parse(lang);
	ro.title = cfg->report_title;
	ro.currency = cfg->currency;
	ro.data_dir = cfg->data_dir; /* for the at-risk list: metrics/P-customers.csv */
	ro.created = created;
	if (created < 0 && (rc = creation_time(&ro.created, e)))
		goto out;
	if ((rc = rep_render(t, m, &ro, &pdf, &pdf_len, e)))
		goto out;
	if ((rc = fsx_mkdirs(rdir, e)) ||
	    (rc = path_fmt(out_path, sizeof(out_path), e, "%s/%s-%s-%s.pdf", rdir, per, name, lang)))
		goto out;
	if ((rc = fsx_write_atomic(out_path, pdf, pdf_len, e)))
		goto out;
	log_info("report: wrote %s (%zu bytes, template %s, %s)", out_path, pdf_len, name, lang);
out:
	free(pdf);
	mtab_free(m);
	tpl_free(t);
	return rc;
}

