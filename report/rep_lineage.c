/*
 * rep_lineage.c - the data-quality and lineage appendix of a report
 * (template kind "lineage").
 *
 * Says where the period's numbers came from, from normalize's lineage
 * record <data_dir>/periods/P.lineage (etl/lineage.h): each export file
 * with its source, entity, path or URL (credentials removed), SHA-256,
 * size, rows read, rejected and kept in the period; the rejected rows by
 * reason from quarantine/SOURCE.csv; and every restatement of the period.
 *
 * Only facts recorded in those files are shown, never the time or length
 * of a run, so two renders of the same data give the same bytes. Reads
 * files, writes nothing; a damaged lineage or quarantine file fails the
 * report (they are ours: never "mostly right").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "fsx.h"
#include "lineage.h"
#include "period.h"
#include "rep_int.h"
#include "text.h"

#include "banned.h"

#define FILES_SHOWN 100      /* export files listed; the rest are summed on one line */
#define RESTATEMENTS_SHOWN 5 /* the latest restatements listed */
#define REASONS_SHOWN 5      /* reasons per source */
#define FILE_ROW_H 27.0f

enum lw {
	LW_NONE, LW_SUMMARY, LW_FILE1, LW_FILES, LW_SOURCES, LW_SOURCE, LW_ENTITY, LW_LOCATION,
	LW_READ, LW_REJECTED, LW_KEPT, LW_SHA, LW_MORE_FILES, LW_REASONS, LW_FIELD, LW_REASON,
	LW_ROWS, LW_FIRST, LW_NO_REJECTS, LW_NO_QUARANTINE, LW_OTHER_REASONS, LW_RESTATED,
	LW_NO_RESTATED, LW_WHEN, LW_TABLE, LW_TOTAL, LW_OLDER, LW_NO_DATA_DIR, LW_ALL_TABLES,
	LW_SAME_COUNTS, LW_N
};

/* Wording: [en, zh]; format strings take their arguments in the same order in both. */
static const char *const lw[LW_N][2] = {
	[LW_NONE] = { "No lineage record for this period: crmetl normalize writes periods/%s.lineage.",
		      "本期无数据来源记录：由 crmetl normalize 写入 periods/%s.lineage。" },
	[LW_SUMMARY] = { "%s %s fed this period: %s rows read, %s rejected (%s), %s kept in the period.",
			 "本期数据来自 %s 个%s：读取 %s 行，拒收 %s 行（%s），本期保留 %s 行。" },
	[LW_FILE1] = { "export file", "导出文件" },
	[LW_FILES] = { "export files", "导出文件" },
	[LW_SOURCES] = { "Sources", "数据源" },
	[LW_SOURCE] = { "Source", "数据源" },
	[LW_ENTITY] = { "Entity", "数据类型" },
	[LW_LOCATION] = { "File or URL", "文件或网址" },
	[LW_READ] = { "Rows read", "读取行数" },
	[LW_REJECTED] = { "Rejected", "拒收" },
	[LW_KEPT] = { "Kept in period", "本期保留" },
	[LW_SHA] = { "sha256 %s  |  %s bytes  |  into table %s", "sha256 %s  |  %s 字节  |  写入表 %s" },
	[LW_MORE_FILES] = { "... and %s more files: %s rows read, %s rejected, %s kept.",
			    "……另有 %s 个文件：读取 %s 行，拒收 %s 行，保留 %s 行。" },
	[LW_REASONS] = { "Rejected rows by reason", "拒收原因" },
	[LW_FIELD] = { "Field", "字段" },
	[LW_REASON] = { "Reason", "原因" },
	[LW_ROWS] = { "Rows", "行数" },
	[LW_FIRST] = { "First rejected row", "首个拒收行" },
	[LW_NO_REJECTS] = { "No row of these files was rejected.", "这些文件没有被拒收的行。" },
	[LW_NO_QUARANTINE] = { "%s: %s rows rejected, but quarantine/%s.csv is missing.",
			       "%s：拒收 %s 行，但缺少 quarantine/%s.csv。" },
	[LW_OTHER_REASONS] = { "%s: %s more rows for %s other reasons (quarantine/%s.csv).",
			       "%s：另有 %s 行，%s 种其他原因（quarantine/%s.csv）。" },
	[LW_RESTATED] = { "Restatements of the period", "本期数据重述" },
	[LW_NO_RESTATED] = { "No restatements: the period's data has not changed since it was first built.",
			     "无重述：本期数据自首次生成以来未变。" },
	[LW_WHEN] = { "Run (UTC)", "运行时间（UTC）" },
	[LW_TABLE] = { "Table", "数据表" },
	[LW_TOTAL] = { "Amount total", "金额合计" },
	[LW_OLDER] = { "%s earlier restatements are in the lineage record and not shown.",
		       "另有 %s 次更早的重述记录在数据来源记录中，此处未列出。" },
	[LW_ALL_TABLES] = { "all tables", "全部数据表" },
	[LW_SAME_COUNTS] = { "same rows and amounts", "行数与金额不变" },
	[LW_NO_DATA_DIR] = { "No data directory: the lineage is not available.", "无数据目录：无法读取数据来源。" },
};

#define LW(o, w) (lw[w][(o)->lang])

/* Entity names in words ([id, en, zh]); unknown ones are shown as they are. */
static const char *const entity_words[][3] = {
	{ "customers", "customers", "客户" }, { "orders", "orders", "订单" },
	{ "spend", "spend", "营销支出" },     { "surveys", "surveys", "调查" },
	{ "tickets", "tickets", "工单" },     { "interactions", "interactions", "互动" },
	{ "leads", "leads", "线索" },
};

static const char *entity_label(const struct rep_opts *o, const char *id)
{
	size_t i;

	for (i = 0; i < sizeof(entity_words) / sizeof(entity_words[0]); i++)
		if (!strcmp(entity_words[i][0], id))
			return entity_words[i][1 + o->lang];
	return id;
}

static char *count(char *buf, double v)
{
	return fmt_value(buf, FMT_MAX, FMT_COUNT, v, NULL);
}

/*
 * A path or URL that fits into maxw points at `size` (the cell shrinks
 * text to 70% before this matters), cut at the start ("...small/
 * orders.csv") because the file name at the end is what tells files apart.
 * URLs lose any user and password first, even if the record has none.
 */
static void location_text(struct pdf *p, const char *loc, float maxw, float size, char *out, size_t n)
{
	char safe[1024];
	const char *s = loc;

	if (strstr(loc, "://"))
		s = text_url_redact(loc, safe, sizeof(safe));
	while (*s && pdf_text_width(p, s, size, 0) + (s == loc || s == safe ? 0 : 8) > maxw) {
		s++;
		while (((unsigned char)*s & 0xC0) == 0x80) /* never cut inside a character */
			s++;
	}
	snprintf(out, n, "%s%s", s == loc || s == safe ? "" : "...", s);
}

/* The header of the sources table (again at the top of each page it runs onto). */
static const struct rep_col file_cols[6] = {
	{ 78, PDF_LEFT }, { 62, PDF_LEFT }, { 165, PDF_LEFT }, { 62, PDF_RIGHT }, { 58, PDF_RIGHT },
	{ 0, PDF_RIGHT }
};

static void file_head(struct pdf *p, const struct rep_opts *o, struct rep_col *c)
{
	const char *head[6] = { LW(o, LW_SOURCE), LW(o, LW_ENTITY), LW(o, LW_LOCATION), LW(o, LW_READ),
				LW(o, LW_REJECTED), LW(o, LW_KEPT) };

	rep_grid_head(p, c, 6, head);
}

/* One export file: its counts on the first line, its hash, size and table under them. */
static void file_row(struct pdf *p, const struct rep_opts *o, const struct rep_col *c,
		     const struct lineage_file *f, size_t i)
{
	char b[3][FMT_MAX], loc[1100], size[FMT_MAX], line[300];
	const char *cells[6];
	struct pdf_rgb ink[6] = { PDF_INK, PDF_INK, PDF_INK, PDF_INK, PDF_INK, PDF_INK };

	if (i % 2)
		pdf_fill_rect(p, PDF_MARGIN, p->y - FILE_ROW_H, REP_CONTENT_W, FILE_ROW_H, PDF_LIGHT);
	location_text(p, f->location, c[2].w - 12, 9 * 0.7f, loc, sizeof(loc));
	cells[0] = f->source;
	cells[1] = entity_label(o, f->entity);
	cells[2] = loc;
	cells[3] = count(b[0], (double)f->rows_read);
	cells[4] = count(b[1], (double)f->rows_rejected);
	cells[5] = count(b[2], (double)f->kept);
	if (f->rows_rejected)
		ink[4] = PDF_BAD;
	rep_grid_cells(p, c, 6, cells, p->y - 11, 9, 0, ink, PDF_INK);
	snprintf(line, sizeof(line), LW(o, LW_SHA), f->sha256, count(size, (double)f->bytes), f->table);
	pdf_text_fit(p, PDF_MARGIN + 6, p->y - 22, REP_CONTENT_W - 12, line, 6.5f, 0, PDF_LEFT, PDF_GREY);
	p->y -= FILE_ROW_H;
}

/* Totals over files [from, to). */
static void sums(const struct lineage *l, size_t from, size_t to, double *read, double *rej,
		 double *kept)
{
	size_t i;

	*read = *rej = *kept = 0;
	for (i = from; i < to; i++) {
		*read += (double)l->files[i].rows_read;
		*rej += (double)l->files[i].rows_rejected;
		*kept += (double)l->files[i].kept;
	}
}

static void summary(struct pdf *p, const struct rep_opts *o, const struct lineage *l)
{
	char n[FMT_MAX], r[FMT_MAX], j[FMT_MAX], k[FMT_MAX], pct[FMT_MAX + 2], line[400];
	double read, rej, kept;

	sums(l, 0, l->n_files, &read, &rej, &kept);
	if (read > 0)
		snprintf(pct, sizeof(pct), "%s%%", fmt_thousands(n, sizeof(n), rej / read * 100, 2));
	else
		snprintf(pct, sizeof(pct), "%s", rep_na(o));
	count(n, (double)l->n_files);
	snprintf(line, sizeof(line), LW(o, LW_SUMMARY), n, LW(o, l->n_files == 1 ? LW_FILE1 : LW_FILES),
		 count(r, read), count(j, rej), pct, count(k, kept));
	pdf_need(p, 16);
	pdf_text_fit(p, PDF_MARGIN, p->y - 10, REP_CONTENT_W, line, 9, 0, PDF_LEFT, PDF_INK);
	p->y -= 18;
}

static void files_table(struct pdf *p, const struct rep_opts *o, const struct lineage *l)
{
	struct rep_col c[6];
	size_t i, shown = l->n_files < FILES_SHOWN ? l->n_files : FILES_SHOWN;

	memcpy(c, file_cols, sizeof(c));
	c[5].w = REP_CONTENT_W - (78 + 62 + 165 + 62 + 58);
	rep_subhead(p, LW(o, LW_SOURCES), REP_GRID_HEAD_H + FILE_ROW_H * (shown < 3 ? (float)shown : 3));
	file_head(p, o, c);
	for (i = 0; i < shown; i++) {
		int pages = p->n_pages;

		pdf_need(p, FILE_ROW_H + 2);
		if (p->n_pages != pages) /* the table runs onto a new page: its header again */
			file_head(p, o, c);
		file_row(p, o, c, &l->files[i], i);
	}
	rep_grid_end(p);
	if (shown < l->n_files) {
		char a[FMT_MAX], r[FMT_MAX], j[FMT_MAX], k[FMT_MAX], line[300];
		double read, rej, kept;

		sums(l, shown, l->n_files, &read, &rej, &kept);
		snprintf(line, sizeof(line), LW(o, LW_MORE_FILES), count(a, (double)(l->n_files - shown)),
			 count(r, read), count(j, rej), count(k, kept));
		rep_note(p, line);
	}
}

/* The rejected rows of one source, by reason, as rows of the reasons table. */
static int source_reasons(struct pdf *p, const struct rep_opts *o, const struct lineage *l,
			  const char *source, const struct rep_col *c, size_t *row, struct crm_err *e)
{
	struct mtab_reason r[REASONS_SHOWN];
	struct mtab_reasons rs = { r, REASONS_SHOWN, 0, 0, 0 };
	const char *files[FILES_SHOWN];
	char path[4096], line[400], b[2][FMT_MAX];
	unsigned char *data = NULL;
	size_t n_files = 0, len = 0, i, listed = 0;
	double rejected = 0;
	int rc, w;

	for (i = 0; i < l->n_files; i++)
		if (!strcmp(l->files[i].source, source)) {
			rejected += (double)l->files[i].rows_rejected;
			if (n_files < FILES_SHOWN)
				files[n_files++] = l->files[i].location;
		}
	w = snprintf(path, sizeof(path), "%s/quarantine/%s.csv", o->data_dir, source);
	if (w < 0 || (size_t)w >= sizeof(path))
		return err_set(e, CRM_E_CONFIG, "path too long under data_dir");
	rc = fsx_read_file(path, MTAB_MAX_FILE, &data, &len, e);
	if (rc == CRM_E_INPUT) {
		memset(e, 0, sizeof(*e));
		snprintf(line, sizeof(line), LW(o, LW_NO_QUARANTINE), source, count(b[0], rejected), source);
		rep_note(p, line);
		return 0;
	}
	if (rc == 0)
		rc = mtab_quarantine_text((const char *)data, len, path, files, n_files, &rs, e);
	free(data);
	if (rc)
		return rc;
	for (i = 0; i < rs.n; i++) {
		const char *cells[5];
		char where[200];

		snprintf(where, sizeof(where), "%s  '%s'", r[i].where, r[i].value);
		cells[0] = source;
		cells[1] = r[i].field;
		cells[2] = r[i].reason;
		cells[3] = count(b[0], (double)r[i].count);
		cells[4] = where;
		pdf_need(p, REP_GRID_ROW_H);
		rep_grid_row(p, c, 5, cells, (*row)++, NULL);
		listed += r[i].count;
	}
	if (rs.kinds > rs.n) {
		rep_grid_end(p);
		snprintf(line, sizeof(line), LW(o, LW_OTHER_REASONS), source, count(b[0], (double)(rs.rows - listed)),
			 count(b[1], (double)(rs.kinds - rs.n)), source);
		rep_note(p, line);
	}
	return 0;
}

static int reasons_table(struct pdf *p, const struct rep_opts *o, const struct lineage *l,
			 struct crm_err *e)
{
	static const struct rep_col cols[5] = {
		{ 78, PDF_LEFT }, { 80, PDF_LEFT }, { 150, PDF_LEFT }, { 50, PDF_RIGHT }, { 0, PDF_LEFT }
	};
	const char *head[5] = { LW(o, LW_SOURCE), LW(o, LW_FIELD), LW(o, LW_REASON), LW(o, LW_ROWS),
				LW(o, LW_FIRST) };
	const char *done[FILES_SHOWN];
	struct rep_col c[5];
	size_t i, j, n_done = 0, row = 0;
	int rc;

	memcpy(c, cols, sizeof(c));
	c[4].w = REP_CONTENT_W - (78 + 80 + 150 + 50);
	rep_subhead(p, LW(o, LW_REASONS), REP_GRID_HEAD_H + REP_GRID_ROW_H);
	for (i = 0; i < l->n_files; i++) {
		const struct lineage_file *f = &l->files[i];

		if (!f->rows_rejected)
			continue;
		for (j = 0; j < n_done && strcmp(done[j], f->source); j++)
			;
		if (j < n_done || n_done == FILES_SHOWN)
			continue; /* a source once, however many of its files were rejected from */
		done[n_done++] = f->source;
		if (row == 0)
			rep_grid_head(p, c, 5, head);
		if ((rc = source_reasons(p, o, l, f->source, c, &row, e)))
			return rc;
	}
	if (n_done == 0)
		rep_note(p, LW(o, LW_NO_REJECTS));
	else if (row > 0)
		rep_grid_end(p);
	return 0;
}

/* "2026-11-24T21:40:00Z" -> "2026-11-24 21:40:00". */
static void when_text(const char *t, char *out, size_t n)
{
	snprintf(out, n, "%.10s %.8s", t, strlen(t) > 11 ? t + 11 : "");
}

/* An amount total in 1/10000 units as money with cents (a restatement may move cents only). */
static void total_text(const struct rep_opts *o, int64_t total, char *out, size_t n)
{
	char cur[16], num[32];

	fmt_currency_prefix(o->currency, cur, sizeof(cur));
	fmt_thousands(num, sizeof(num), (double)(total < 0 ? -total : total) / 10000.0, 2);
	snprintf(out, n, "%s%s%s", total < 0 ? "-" : "", cur, num);
}

static int changed(const struct lineage_change *c)
{
	return c->old_rows != c->new_rows || (c->has_total && c->old_total != c->new_total);
}

/* One row of the restatements table: a table that changed, or (table NULL) "no counts changed". */
static void change_row(struct pdf *p, const struct rep_opts *o, const struct rep_col *c,
		       const struct lineage_change *ch, int any, size_t row,
		       const char *const *head)
{
	char b[4][160], t0[64], t1[64], r0[FMT_MAX], r1[FMT_MAX];
	const char *cells[5];
	int pages = p->n_pages;

	pdf_need(p, REP_GRID_ROW_H + 2);
	if (p->n_pages != pages)
		rep_grid_head(p, c, 5, head);
	snprintf(b[0], sizeof(b[0]), "%u", (unsigned)ch->seq);
	when_text(ch->when, b[1], sizeof(b[1]));
	snprintf(b[2], sizeof(b[2]), "%s -> %s", count(r0, (double)ch->old_rows), count(r1, (double)ch->new_rows));
	if (ch->has_total) {
		total_text(o, ch->old_total, t0, sizeof(t0));
		total_text(o, ch->new_total, t1, sizeof(t1));
		snprintf(b[3], sizeof(b[3]), "%s -> %s", t0, t1);
	} else {
		snprintf(b[3], sizeof(b[3]), "-");
	}
	cells[0] = b[0];
	cells[1] = b[1];
	cells[2] = any ? ch->table : LW(o, LW_ALL_TABLES);
	cells[3] = any ? b[2] : LW(o, LW_SAME_COUNTS);
	cells[4] = any ? b[3] : "";
	rep_grid_row(p, c, 5, cells, row, NULL);
}

static void restatements(struct pdf *p, const struct rep_opts *o, const struct lineage *l)
{
	static const struct rep_col cols[5] = {
		{ 24, PDF_LEFT }, { 112, PDF_LEFT }, { 90, PDF_LEFT }, { 110, PDF_RIGHT }, { 0, PDF_RIGHT }
	};
	const char *head[5] = { "#", LW(o, LW_WHEN), LW(o, LW_TABLE), LW(o, LW_ROWS), LW(o, LW_TOTAL) };
	struct rep_col c[5];
	uint32_t last, first, seq;
	size_t i, row = 0;

	memcpy(c, cols, sizeof(c));
	c[4].w = REP_CONTENT_W - (24 + 112 + 90 + 110);
	rep_subhead(p, LW(o, LW_RESTATED), l->n_changes ? REP_GRID_HEAD_H + REP_GRID_ROW_H * 2 : 12);
	if (!l->n_changes) {
		rep_note(p, LW(o, LW_NO_RESTATED));
		return;
	}
	last = l->changes[l->n_changes - 1].seq;
	first = last > RESTATEMENTS_SHOWN ? last - RESTATEMENTS_SHOWN + 1 : 1;
	rep_grid_head(p, c, 5, head);
	/*
	 * The latest restatement first (it explains today's numbers); within
	 * one, the tables whose rows or amounts changed, in the record's order.
	 */
	for (seq = last; seq >= first; seq--) {
		const struct lineage_change *one = NULL;
		int any = 0;

		for (i = 0; i < l->n_changes; i++) {
			const struct lineage_change *ch = &l->changes[i];

			if (ch->seq != seq)
				continue;
			one = ch;
			if (changed(ch)) {
				change_row(p, o, c, ch, 1, row++, head);
				any = 1;
			}
		}
		if (one && !any) /* the period file changed, no count or total did */
			change_row(p, o, c, one, 0, row++, head);
	}
	rep_grid_end(p);
	if (first > 1) {
		char n[FMT_MAX], line[300];

		snprintf(line, sizeof(line), LW(o, LW_OLDER), count(n, (double)(first - 1)));
		rep_note(p, line);
	}
}

int rep_lineage_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			struct crm_err *e)
{
	struct lineage l;
	char per[PERIOD_TEXT_MAX], path[4096], line[300];
	int rc, w;

	memset(&l, 0, sizeof(l));
	period_format(o->period, per);
	if (!o->data_dir) {
		rep_section_title(p, s->title[o->lang], 20);
		rep_note(p, LW(o, LW_NO_DATA_DIR));
		return 0;
	}
	w = snprintf(path, sizeof(path), "%s/periods/%s.lineage", o->data_dir, per);
	if (w < 0 || (size_t)w >= sizeof(path))
		return err_set(e, CRM_E_CONFIG, "path too long under data_dir");
	rc = lineage_read(path, &l, e);
	if (rc == CRM_E_INPUT) {
		memset(e, 0, sizeof(*e));
		rep_section_title(p, s->title[o->lang], 20);
		snprintf(line, sizeof(line), LW(o, LW_NONE), per);
		rep_note(p, line);
		p->y -= 8;
		return 0;
	}
	if (rc)
		return rc;
	rep_section_title(p, s->title[o->lang], 18 + 22 + REP_GRID_HEAD_H + FILE_ROW_H);
	summary(p, o, &l);
	files_table(p, o, &l);
	rc = reasons_table(p, o, &l, e);
	if (rc == 0)
		restatements(p, o, &l);
	p->y -= 8;
	lineage_release(&l);
	return rc;
}
