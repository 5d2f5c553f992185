/*
 * pdf.c - the report's PDF document over libharu (see pdf.h).
 *
 * libharu reports errors through a callback and keeps going, so the
 * callback only records the first one and pdf_save() turns it into a
 * crm_err: a drawing call cannot fail halfway through a layout.
 *
 * Determinism: libharu 2.3.0 writes no /ID without encryption and no date
 * of its own; the creation and modification dates are set here from the
 * caller's clock (SOURCE_DATE_EPOCH in cmd_report.c), so equal inputs give
 * equal bytes.
 */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdf.h"

#include "banned.h"

const struct pdf_rgb PDF_INK = { 0.13f, 0.15f, 0.19f };
const struct pdf_rgb PDF_GREY = { 0.42f, 0.45f, 0.50f };
const struct pdf_rgb PDF_LIGHT = { 0.95f, 0.96f, 0.97f };
const struct pdf_rgb PDF_RULE = { 0.82f, 0.84f, 0.87f };
const struct pdf_rgb PDF_ACCENT = { 0.11f, 0.33f, 0.62f };
const struct pdf_rgb PDF_GOOD = { 0.09f, 0.55f, 0.27f };
const struct pdf_rgb PDF_BAD = { 0.80f, 0.16f, 0.16f };
const struct pdf_rgb PDF_WHITE = { 1.0f, 1.0f, 1.0f };

#define CONTENT_TOP (PDF_PAGE_H - 66.0f)
#define CONTENT_BOTTOM 54.0f
#define GBK_MAX 1024 /* bytes of one converted run; longer runs are cut */

static void on_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user)
{
	struct pdf *p = user;

	if (!p->hpdf_error) {
		p->hpdf_error = error_no;
		p->hpdf_detail = detail_no;
	}
}

int pdf_new(struct pdf **out, time_t created, struct crm_err *e)
{
	struct pdf *p = calloc(1, sizeof(*p));
	struct tm tm;
	HPDF_Date d;

	*out = NULL;
	if (!p)
		return err_set(e, CRM_E_NOMEM, "out of memory creating the report");
	p->doc = HPDF_New(on_error, p);
	if (!p->doc) {
		free(p);
		return err_set(e, CRM_E_NOMEM, "out of memory creating the report");
	}
	HPDF_SetCompressionMode(p->doc, HPDF_COMP_ALL);
	HPDF_SetPageMode(p->doc, HPDF_PAGE_MODE_USE_OUTLINE);
	p->latin = HPDF_GetFont(p->doc, "Helvetica", "WinAnsiEncoding");
	p->latin_bold = HPDF_GetFont(p->doc, "Helvetica-Bold", "WinAnsiEncoding");
	gmtime_r(&created, &tm);
	memset(&d, 0, sizeof(d));
	d.year = tm.tm_year + 1900;
	d.month = tm.tm_mon + 1;
	d.day = tm.tm_mday;
	d.hour = tm.tm_hour;
	d.minutes = tm.tm_min;
	d.seconds = tm.tm_sec;
	d.ind = 'Z';
	HPDF_SetInfoDateAttr(p->doc, HPDF_INFO_CREATION_DATE, d);
	HPDF_SetInfoDateAttr(p->doc, HPDF_INFO_MOD_DATE, d);
	HPDF_SetInfoAttr(p->doc, HPDF_INFO_CREATOR, "crmetl");
	*out = p;
	return 0;
}

void pdf_free(struct pdf *p)
{
	if (!p)
		return;
	if (p->iconv)
		iconv_close((iconv_t)p->iconv);
	HPDF_Free(p->doc);
	free(p);
}

/* Load the CID fonts and the converter on first use; 0 or -1. */
static int need_cjk(struct pdf *p)
{
	iconv_t cd;

	if (p->cjk)
		return 0;
	if (!p->iconv) {
		cd = iconv_open("GBK", "UTF-8");
		if (cd == (iconv_t)-1)
			return -1;
		p->iconv = cd;
	}
	HPDF_UseCNSFonts(p->doc);
	HPDF_UseCNSEncodings(p->doc);
	p->cjk = HPDF_GetFont(p->doc, "SimSun", "GBK-EUC-H");
	p->cjk_bold = HPDF_GetFont(p->doc, "SimHei", "GBK-EUC-H");
	return p->cjk && p->cjk_bold ? 0 : -1;
}

/* Length of the UTF-8 sequence starting with byte c (1 for a stray byte). */
static size_t u8len(unsigned char c)
{
	if (c >= 0xF0)
		return 4;
	if (c >= 0xE0)
		return 3;
	if (c >= 0xC0)
		return 2;
	return 1;
}

/*
 * Convert the non-ASCII run [s, s+n) to GBK in out (NUL-terminated);
 * characters GBK lacks become '?'. Returns the length.
 */
static size_t to_gbk(struct pdf *p, const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0, i = 0;

	while (i < n && o + 5 < cap) {
		size_t cl = u8len((unsigned char)s[i]);
		char *in = (char *)(s + i), *op = out + o;
		size_t inl = cl > n - i ? n - i : cl, outl = cap - o - 1;

		iconv((iconv_t)p->iconv, NULL, NULL, NULL, NULL);
		if (iconv((iconv_t)p->iconv, &in, &inl, &op, &outl) == (size_t)-1 || inl) {
			out[o++] = '?';
		} else {
			o = (size_t)(op - out);
		}
		i += cl;
	}
	out[o] = '\0';
	return o;
}

/* The next run of s: ASCII (returns 0) or not (returns 1); *n its length. */
static int next_run(const char *s, size_t *n)
{
	size_t i = 0;
	int wide = (unsigned char)s[0] >= 0x80;

	while (s[i] && ((unsigned char)s[i] >= 0x80) == wide)
		i++;
	*n = i;
	return wide;
}

/*
 * Walk the runs of s: for each, the font and the bytes to show. When
 * `page` is set the runs are drawn from x, y; returns the total width.
 */
static float runs(struct pdf *p, HPDF_Page page, float x, float y, const char *s, float size,
		  int bold)
{
	float w = 0;

	while (*s) {
		char tmp[GBK_MAX];
		const char *show;
		HPDF_Font font;
		size_t n, len;
		HPDF_TextWidth tw;

		if (next_run(s, &n) && need_cjk(p) == 0) {
			font = bold ? p->cjk_bold : p->cjk;
			len = to_gbk(p, s, n, tmp, sizeof(tmp));
			show = tmp;
		} else {
			size_t i;

			font = bold ? p->latin_bold : p->latin;
			len = n < sizeof(tmp) - 1 ? n : sizeof(tmp) - 1;
			for (i = 0; i < len; i++)
				tmp[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
			tmp[len] = '\0';
			show = tmp;
		}
		tw = HPDF_Font_TextWidth(font, (const HPDF_BYTE *)show, (HPDF_UINT)len);
		if (page) {
			HPDF_Page_SetFontAndSize(page, font, size);
			HPDF_Page_TextOut(page, x + w, y, show);
		}
		w += (float)tw.width * size / 1000.0f;
		s += n;
	}
	return w;
}

float pdf_text_width(struct pdf *p, const char *s, float size, int bold)
{
	return runs(p, NULL, 0, 0, s, size, bold);
}

void pdf_text(struct pdf *p, float x, float y, const char *s, float size, int bold,
	      enum pdf_align align, struct pdf_rgb c)
{
	float w;

	if (!*s)
		return;
	w = pdf_text_width(p, s, size, bold);
	if (align == PDF_RIGHT)
		x -= w;
	else if (align == PDF_CENTER)
		x -= w / 2;
	HPDF_Page_SetRGBFill(p->page, c.r, c.g, c.b);
	HPDF_Page_BeginText(p->page);
	runs(p, p->page, x, y, s, size, bold);
	HPDF_Page_EndText(p->page);
}

float pdf_text_fit(struct pdf *p, float x, float y, float maxw, const char *s, float size,
		   int bold, enum pdf_align align, struct pdf_rgb c)
{
	float sz = size;
	char cut[512];
	size_t n;

	while (sz > size * 0.7f && pdf_text_width(p, s, sz, bold) > maxw)
		sz -= 0.25f;
	if (pdf_text_width(p, s, sz, bold) <= maxw) {
		pdf_text(p, x, y, s, sz, bold, align, c);
		return sz;
	}
	n = strlen(s);
	if (n > sizeof(cut) - 4)
		n = sizeof(cut) - 4;
	for (;;) {
		/* back up to the start of a UTF-8 character */
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		memcpy(cut, s, n);
		memcpy(cut + n, "...", 4);
		if (n == 0 || pdf_text_width(p, cut, sz, bold) <= maxw)
			break;
		n--;
	}
	pdf_text(p, x, y, cut, sz, bold, align, c);
	return sz;
}

void pdf_fill_rect(struct pdf *p, float x, float y, float w, float h, struct pdf_rgb c)
{
	HPDF_Page_SetRGBFill(p->page, c.r, c.g, c.b);
	HPDF_Page_Rectangle(p->page, x, y, w, h);
	HPDF_Page_Fill(p->page);
}

void pdf_line(struct pdf *p, float x0, float y0, float x1, float y1, float width,
	      struct pdf_rgb c)
{
	HPDF_Page_SetRGBStroke(p->page, c.r, c.g, c.b);
	HPDF_Page_SetLineWidth(p->page, width);
	HPDF_Page_MoveTo(p->page, x0, y0);
	HPDF_Page_LineTo(p->page, x1, y1);
	HPDF_Page_Stroke(p->page);
}

/* A UTF-8 string as libharu text for metadata and outlines. */
static const char *meta_text(struct pdf *p, const char *s, char *buf, size_t cap,
			     HPDF_Encoder *enc)
{
	const char *c;

	*enc = NULL;
	for (c = s; *c && (unsigned char)*c < 0x80; c++)
		;
	if (!*c || need_cjk(p))
		return s;
	*enc = HPDF_GetEncoder(p->doc, "GBK-EUC-H");
	/* GBK keeps ASCII as single bytes, so the whole string converts. */
	{
		size_t o = 0;

		while (*s && o + 5 < cap) {
			size_t n;

			if (next_run(s, &n)) {
				o += to_gbk(p, s, n, buf + o, cap - o);
			} else {
				if (n > cap - o - 1)
					n = cap - o - 1;
				memcpy(buf + o, s, n);
				o += n;
				buf[o] = '\0';
			}
			s += n;
		}
		buf[o] = '\0';
	}
	return buf;
}

void pdf_set_info(struct pdf *p, const char *title, const char *subject)
{
	char buf[1024];
	HPDF_Encoder enc;
	const char *t;

	t = meta_text(p, title, buf, sizeof(buf), &enc);
	HPDF_SetCurrentEncoder(p->doc, enc ? "GBK-EUC-H" : "StandardEncoding");
	HPDF_SetInfoAttr(p->doc, HPDF_INFO_TITLE, t);
	t = meta_text(p, subject, buf, sizeof(buf), &enc);
	HPDF_SetCurrentEncoder(p->doc, enc ? "GBK-EUC-H" : "StandardEncoding");
	HPDF_SetInfoAttr(p->doc, HPDF_INFO_SUBJECT, t);
}

HPDF_Page pdf_add_page(struct pdf *p)
{
	if (p->n_pages == PDF_MAX_PAGES)
		return p->page; /* keep drawing on the last page rather than fail */
	p->page = HPDF_AddPage(p->doc);
	HPDF_Page_SetSize(p->page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
	p->pages[p->n_pages++] = p->page;
	p->y = CONTENT_TOP;
	return p->page;
}

void pdf_need(struct pdf *p, float h)
{
	if (!p->page || p->y - h < CONTENT_BOTTOM)
		pdf_add_page(p);
}

void pdf_bookmark(struct pdf *p, const char *title)
{
	char buf[1024];
	HPDF_Encoder enc;
	const char *t = meta_text(p, title, buf, sizeof(buf), &enc);
	HPDF_Outline o = HPDF_CreateOutline(p->doc, NULL, t, enc);
	HPDF_Destination d = HPDF_Page_CreateDestination(p->page);

	HPDF_Destination_SetXYZ(d, 0, p->y + 30, 1);
	HPDF_Outline_SetDestination(o, d);
}

void pdf_finish(struct pdf *p)
{
	int i;

	for (i = 0; i < p->n_pages; i++) {
		char foot[64];

		p->page = p->pages[i];
		pdf_text_fit(p, PDF_MARGIN, PDF_PAGE_H - 34, 300, p->header_left, 8.5f, 1, PDF_LEFT,
			     PDF_INK);
		pdf_text_fit(p, PDF_PAGE_W - PDF_MARGIN, PDF_PAGE_H - 34, 220, p->header_right, 8,
			     0, PDF_RIGHT, PDF_GREY);
		pdf_line(p, PDF_MARGIN, PDF_PAGE_H - 42, PDF_PAGE_W - PDF_MARGIN, PDF_PAGE_H - 42,
			 0.6f, PDF_RULE);
		pdf_line(p, PDF_MARGIN, 40, PDF_PAGE_W - PDF_MARGIN, 40, 0.6f, PDF_RULE);
		if (p->lang_zh)
			snprintf(foot, sizeof(foot), "\xe7\xac\xac %d \xe9\xa1\xb5\xef\xbc\x8c\xe5\x85\xb1 %d \xe9\xa1\xb5",
				 i + 1, p->n_pages); /* 第 n 页，共 N 页 */
		else
			snprintf(foot, sizeof(foot), "Page %d of %d", i + 1, p->n_pages);
		pdf_text(p, PDF_PAGE_W - PDF_MARGIN, 28, foot, 8, 0, PDF_RIGHT, PDF_GREY);
		pdf_text(p, PDF_MARGIN, 28, "crmetl", 8, 0, PDF_LEFT, PDF_GREY);
	}
}

int pdf_save(struct pdf *p, unsigned char **out, size_t *len, struct crm_err *e)
{
	unsigned char *buf;
	HPDF_UINT32 size, got = 0;

	*out = NULL;
	*len = 0;
	if (!p->hpdf_error)
		HPDF_SaveToStream(p->doc);
	if (p->hpdf_error)
		return err_set(e, CRM_E_INTERNAL, "cannot render the pdf: libharu error 0x%04lX (detail %lu)",
			       p->hpdf_error, p->hpdf_detail);
	size = HPDF_GetStreamSize(p->doc);
	buf = malloc(size ? size : 1);
	if (!buf)
		return err_set(e, CRM_E_NOMEM, "out of memory saving the report");
	while (got < size) {
		HPDF_UINT32 n = size - got;
		HPDF_STATUS st = HPDF_ReadFromStream(p->doc, buf + got, &n);

		got += n;
		if (st == HPDF_STREAM_EOF || n == 0)
			break;
		if (st != HPDF_OK) {
			free(buf);
			return err_set(e, CRM_E_INTERNAL, "cannot read the rendered pdf (libharu 0x%04X)",
				       (unsigned)st);
		}
	}
	*out = buf;
	*len = got;
	return 0;
}
