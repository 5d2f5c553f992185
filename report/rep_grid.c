/*
 * rep_grid.c - plain tables for the report sections (see rep_int.h): the
 * header band, zebra rows and closing rule that the CLV and lineage
 * sections share. Cells are text already formatted by the caller; this
 * file only places and fits them. It does not paginate: the caller asks
 * pdf_need() for rep_grid_height() first.
 */
#include <stddef.h>

#include "rep_int.h"

#include "banned.h"

#define CELL_PAD 6.0f

float rep_grid_height(size_t n)
{
	return REP_GRID_HEAD_H + REP_GRID_ROW_H * (float)n + 4;
}

void rep_grid_cells(struct pdf *p, const struct rep_col *c, size_t nc, const char *const *cells,
		    float base, float size, int bold, const struct pdf_rgb *ink, struct pdf_rgb deflt)
{
	float x = PDF_MARGIN;
	size_t j;

	for (j = 0; j < nc; j++) {
		float tx = c[j].align == PDF_RIGHT ? x + c[j].w - CELL_PAD
			   : c[j].align == PDF_CENTER ? x + c[j].w / 2 : x + CELL_PAD;

		if (cells[j] && *cells[j])
			pdf_text_fit(p, tx, base, c[j].w - 2 * CELL_PAD, cells[j], size, bold, c[j].align,
				     ink ? ink[j] : deflt);
		x += c[j].w;
	}
}

void rep_grid_head(struct pdf *p, const struct rep_col *c, size_t nc, const char *const *cells)
{
	pdf_fill_rect(p, PDF_MARGIN, p->y - REP_GRID_HEAD_H, REP_CONTENT_W, REP_GRID_HEAD_H, PDF_ACCENT);
	rep_grid_cells(p, c, nc, cells, p->y - REP_GRID_HEAD_H + 7, 8.5f, 1, NULL, PDF_WHITE);
	p->y -= REP_GRID_HEAD_H;
}

void rep_grid_row(struct pdf *p, const struct rep_col *c, size_t nc, const char *const *cells,
		  size_t i, const struct pdf_rgb *ink)
{
	if (i % 2)
		pdf_fill_rect(p, PDF_MARGIN, p->y - REP_GRID_ROW_H, REP_CONTENT_W, REP_GRID_ROW_H, PDF_LIGHT);
	rep_grid_cells(p, c, nc, cells, p->y - REP_GRID_ROW_H + 5, 9, 0, ink, PDF_INK);
	p->y -= REP_GRID_ROW_H;
}

void rep_grid_end(struct pdf *p)
{
	pdf_line(p, PDF_MARGIN, p->y, PDF_MARGIN + REP_CONTENT_W, p->y, 0.8f, PDF_RULE);
	p->y -= 4;
}
