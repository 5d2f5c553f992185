/*
 * pdf.h - the PDF document of a report: A4 pages, fonts, text in English
 * and Chinese, running headers and footers, outline and metadata, all over
 * libharu (Debian's 2.3.0).
 *
 * Text is UTF-8 everywhere in crmetl. Here it is cut into runs: ASCII runs
 * are set in Helvetica (digits and Latin extract as ASCII and look right);
 * other runs are converted to GBK with iconv and set in libharu's built-in
 * CID fonts (SimSun, SimHei for bold) with the GBK-EUC-H encoding. The CID
 * fonts are loaded on first use, so an English report does not reference
 * them. Characters GBK lacks become '?'.
 *
 * Lifecycle: pdf_new() -> pages, text and drawing -> pdf_finish() (footers,
 * page numbers) -> pdf_save() -> pdf_free(). Errors of libharu are recorded
 * by its error handler and reported by pdf_save() (drawing calls do not
 * fail one by one).
 */
#ifndef CRM_PDF_H
#define CRM_PDF_H

#include <stddef.h>
#include <time.h>

#include <hpdf.h>

#include "err.h"

#define PDF_PAGE_W 595.276f /* A4 portrait, points */
#define PDF_PAGE_H 841.89f
#define PDF_MARGIN 48.0f
#define PDF_MAX_PAGES 256

enum pdf_align { PDF_LEFT, PDF_RIGHT, PDF_CENTER };

struct pdf_rgb {
	float r, g, b;
};

struct pdf {
	HPDF_Doc doc;
	HPDF_Font latin, latin_bold;   /* Helvetica, Helvetica-Bold */
	HPDF_Font cjk, cjk_bold;       /* SimSun, SimHei; NULL until first used */
	void *iconv;                   /* iconv_t UTF-8 -> GBK, or NULL until first used */
	HPDF_Page pages[PDF_MAX_PAGES];
	int n_pages;
	HPDF_Page page;                /* the current page */
	float y;                       /* layout cursor on it, points from the bottom */
	unsigned long hpdf_error;      /* first libharu error, or 0 */
	unsigned long hpdf_detail;
	char header_left[256];         /* running header, UTF-8 */
	char header_right[256];
	char page_word[32];            /* "Page" / "第" ... footer wording */
	int lang_zh;
};

/* A new empty document. `created` is the creation date written in the metadata. */
int pdf_new(struct pdf **out, time_t created, struct crm_err *e);
void pdf_free(struct pdf *p);

/* Title and subject metadata (UTF-8). */
void pdf_set_info(struct pdf *p, const char *title, const char *subject);

/* Start a new page and put the layout cursor under its header. */
HPDF_Page pdf_add_page(struct pdf *p);

/* Make sure `h` points are left above the footer; else start a new page. */
void pdf_need(struct pdf *p, float h);

/* An outline entry (bookmark) pointing at the current page and cursor. */
void pdf_bookmark(struct pdf *p, const char *title);

/* Width of UTF-8 text at `size` points. */
float pdf_text_width(struct pdf *p, const char *s, float size, int bold);

/* Draw UTF-8 text with its baseline at y, aligned on x. */
void pdf_text(struct pdf *p, float x, float y, const char *s, float size, int bold,
	      enum pdf_align align, struct pdf_rgb color);

/*
 * Same, fitted in `maxw` points: the size shrinks down to 70% of `size`,
 * then the text is cut and ends with "...". Returns the size used.
 */
float pdf_text_fit(struct pdf *p, float x, float y, float maxw, const char *s, float size,
		   int bold, enum pdf_align align, struct pdf_rgb color);

void pdf_fill_rect(struct pdf *p, float x, float y, float w, float h, struct pdf_rgb c);
void pdf_line(struct pdf *p, float x0, float y0, float x1, float y1, float width,
	      struct pdf_rgb c);

/* Headers and "page n of N" footers on every page; call once before saving. */
void pdf_finish(struct pdf *p);

/* Serialise to a heap buffer (caller frees). */
int pdf_save(struct pdf *p, unsigned char **out, size_t *len, struct crm_err *e);

/* The colours of the report. */
extern const struct pdf_rgb PDF_INK, PDF_GREY, PDF_LIGHT, PDF_RULE, PDF_ACCENT,
	PDF_GOOD, PDF_BAD, PDF_WHITE;

#endif
