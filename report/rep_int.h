/*
 * rep_int.h - what the layout in rep.c shares with the sections that live
 * in their own files (rep_clv.c, rep_grid.c, ...). Internal to the report
 * stage: nothing outside report/rep*.c includes it.
 *
 * All drawing moves the layout cursor p->y down the page, as in rep.c:
 * a block asks for its height with pdf_need() before drawing, so it is
 * never split across pages.
 */
#ifndef CRM_REP_INT_H
#define CRM_REP_INT_H

#include <stddef.h>

#include "err.h"
#include "mtab.h"
#include "pdf.h"
#include "rep.h"
#include "tpl.h"

#define REP_CONTENT_W (PDF_PAGE_W - 2 * PDF_MARGIN)

/* A section's title (bookmarked), keeping `need` points below it on the same page. */
void rep_section_title(struct pdf *p, const char *title, float need);

/* The grey "No data for this period." line of a section without rows. */
void rep_no_data(struct pdf *p, const struct rep_opts *o);

/* "n/a" in the report's language: a value that is missing (never shown as zero). */
const char *rep_na(const struct rep_opts *o);

/* A grey note of one line, fitted to the content width, under the cursor. */
void rep_note(struct pdf *p, const char *text);

/* A bold sub-heading inside a section, keeping `need` points below it. */
void rep_subhead(struct pdf *p, const char *text, float need);

/* A big number with a label above and a note under it, in a box of width w (62 points high). */
void rep_big_figure(struct pdf *p, float x, float top, float w, const char *label,
		    const char *value, const char *note);

/* How a segment value is shown: RFM names and "unknown" in words, others as they are. */
const char *rep_segment_label(const struct rep_opts *o, const char *dim, const char *seg);

/* Lines of `s` that fit in maxw points (at most max_lines, the last one taking the rest). */
size_t rep_wrap(struct pdf *p, const char *s, float maxw, float size, char lines[][256],
		size_t max_lines);

/*
 * The lists the report takes from the per-customer file
 * <data_dir>/metrics/P-customers.csv (at-risk customers, the CLV lists),
 * made in one pass at most once per report however many sections use
 * them, REP_LIST_MAX long (a section shows the first `rows`). With no
 * data_dir or no file the lists are empty and 0 is returned.
 */
#define REP_LIST_MAX 40

struct rep_cust {
	int state;             /* 0 not read yet, 1 read, -1 absent */
	char path[4096];
	struct mtab_customer risk_c[REP_LIST_MAX];
	struct mtab_clv_customer best[REP_LIST_MAX], fading[REP_LIST_MAX];
	struct mtab_risk_list risk;
	struct mtab_clv_lists clv;
};

int rep_cust_lists(struct rep_cust *c, const struct rep_opts *o, struct crm_err *e);

/*
 * A plain table: a header band in the accent colour, zebra rows, a rule
 * under the last row. Columns are laid left to right from the margin;
 * text is fitted into each cell (shrunk, then cut with "...").
 */
#define REP_GRID_ROW_H 16.0f
#define REP_GRID_HEAD_H 20.0f

struct rep_col {
	float w;               /* points */
	enum pdf_align align;
};

/* Height of a table of n rows with its header, points. */
float rep_grid_height(size_t n);
void rep_grid_head(struct pdf *p, const struct rep_col *c, size_t nc, const char *const *cells);
/* Row i (0-based, for the zebra) of cells; ink may be NULL (all ink) or give one colour per cell. */
void rep_grid_row(struct pdf *p, const struct rep_col *c, size_t nc, const char *const *cells,
		  size_t i, const struct pdf_rgb *ink);
void rep_grid_end(struct pdf *p);
/* Cells on one baseline, each fitted in its column (for rows of another height); ink as above. */
void rep_grid_cells(struct pdf *p, const struct rep_col *c, size_t nc, const char *const *cells,
		    float base, float size, int bold, const struct pdf_rgb *ink, struct pdf_rgb deflt);

/* Sections in their own files. */
int rep_clv_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
		    const struct mtab *t, struct rep_cust *cust, struct crm_err *e);
int rep_lineage_section(struct pdf *p, const struct rep_opts *o, const struct tpl_section *s,
			struct crm_err *e);

#endif
