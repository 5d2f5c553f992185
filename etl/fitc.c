/*
 * fitc.c - the CLV fits of a period kept from one compute to the next
 * (fitc.h): a small text file per period, numbers in hexadecimal
 * floating point so that they read back as the same bits.
 */
#include "fitc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsx.h"
#include "stamp.h"

#include "banned.h"

#define FITC_HEAD "crmetl fit cache 1\n"
_Static_assert(sizeof(struct clv_cust) == 4 * sizeof(double), "no padding in struct clv_cust");
#define FITC_MAX 4096 /* bytes: an entry is about 400 */

int fitc_salt(const char *program, char salt[FITC_KEY_LEN + 1])
{
	struct stamp s;

	stamp_init(&s);
	stamp_text(&s, program);
	if (stamp_program(&s) != 0)
		return -1;
	stamp_hex(&s, salt);
	return 0;
}

void fitc_key(const struct clv_cust *c, size_t n, const char *salt, char key[FITC_KEY_LEN + 1])
{
	unsigned char d[SHA256_LEN];
	unsigned long long count = n;
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, salt, strlen(salt) + 1);
	sha256_update(&s, &count, sizeof(count));
	if (n)
		sha256_update(&s, c, n * sizeof(*c)); /* four doubles each: no padding (asserted above) */
	sha256_final(&s, d);
	sha256_hex(d, key);
}

#define DAYS_TAG "days" /* fitc_key_days' inputs follow, not fitc_key's */
#define DAYS_REC 20       /* bytes a customer: xT, txd, mean spend */
#define DAYS_BATCH 204    /* customers a sha256_update: 4,080 bytes */

void fitc_key_days(const uint64_t *xT, const int32_t *txd, const struct clv_cust *c, size_t n,
		   const char *salt, char key[FITC_KEY_LEN + 1])
{
	unsigned char d[SHA256_LEN], buf[DAYS_BATCH * DAYS_REC];
	unsigned long long count = n;
	struct sha256 s;
	size_t i, k;

	sha256_init(&s);
	sha256_update(&s, salt, strlen(salt) + 1);
	sha256_update(&s, DAYS_TAG, sizeof(DAYS_TAG));
	sha256_update(&s, &count, sizeof(count));
	for (i = 0; i < n; i += k) {
		for (k = 0; k < DAYS_BATCH && i + k < n; k++) {
			unsigned char *r = buf + k * DAYS_REC;

			memcpy(r, &xT[i + k], 8);
			memcpy(r + 8, &txd[i + k], 4);
			memcpy(r + 12, &c[i + k].mean_spend, 8);
		}
		sha256_update(&s, buf, k * DAYS_REC);
	}
	sha256_final(&s, d);
	sha256_hex(d, key);
}

/* The next line of text[*at..len) as a NUL-terminated string (in place); NULL at the end. */
static char *next_line(char *text, size_t len, size_t *at)
{
	char *line = text + *at, *nl;

	if (*at >= len || !(nl = memchr(line, '\n', len - *at)))
		return NULL;
	*nl = '\0';
	*at = (size_t)(nl - text) + 1;
	return line;
}

/* n doubles then `ni` ints from the words of `line` after its tag; 0 when all are there. */
static int parse_numbers(const char *line, const char *tag, double *v, int n, long *iv, int ni)
{
	size_t tl = strlen(tag);
	const char *p = line;
	char *end;
	int k;

	if (strncmp(p, tag, tl) != 0 || p[tl] != ' ')
		return -1;
	p += tl;
	for (k = 0; k < n + ni; k++) {
		if (*p++ != ' ')
			return -1;
		errno = 0;
		if (k < n)
			v[k] = strtod(p, &end);
		else
			iv[k - n] = strtol(p, &end, 10);
		if (end == p || errno == ERANGE)
			return -1;
		p = end;
	}
	return *p == '\0' ? 0 : -1;
}

int fitc_load(const char *path, const char *key, struct fitc_entry *out)
{
	char text[FITC_MAX], *line;
	size_t len, at = 0;
	double b[6], g[6];
	long bi[2], gi[4];

	if (fsx_read_small(path, text, sizeof(text), &len) ||
	    len < strlen(FITC_HEAD) || memcmp(text, FITC_HEAD, strlen(FITC_HEAD)) != 0)
		return 0;
	at = strlen(FITC_HEAD);
	if (!(line = next_line(text, len, &at)) || strncmp(line, "key ", 4) != 0 ||
	    strcmp(line + 4, key) != 0)
		return 0;
	/* bg r alpha a b ll grad_norm method iters */
	if (!(line = next_line(text, len, &at)) || parse_numbers(line, "bg", b, 6, bi, 2))
		return 0;
	/* gg p q gamma ll corr grad_norm fitted n method iters */
	if (!(line = next_line(text, len, &at)) || parse_numbers(line, "gg", g, 6, gi, 4))
		return 0;
	if (!(line = next_line(text, len, &at)) || strcmp(line, "end") != 0 || at != len)
		return 0;
	memset(out, 0, sizeof(*out));
	out->bg = (struct clv_bgnbd){ b[0], b[1], b[2], b[3], b[4], (int)bi[0], (int)bi[1], b[5] };
	out->gg_fitted = gi[0] != 0;
	out->gg.p = g[0];
	out->gg.q = g[1];
	out->gg.gamma = g[2];
	out->gg.ll = g[3];
	out->gg.corr_x_spend = g[4];
	out->gg.grad_norm = g[5];
	out->gg.n = (size_t)gi[1];
	out->gg.method = (int)gi[2];
	out->gg.iters = (int)gi[3];
	return 1;
}

int fitc_save(const char *path, const char *key, const struct fitc_entry *en)
{
	const struct clv_bgnbd *b = &en->bg;
	const struct clv_gg *g = &en->gg;
	char text[FITC_MAX];
	int n;

	n = snprintf(text, sizeof(text),
		     FITC_HEAD "key %s\nbg %a %a %a %a %a %a %d %d\n"
		     "gg %a %a %a %a %a %a %d %zu %d %d\nend\n",
		     key, b->r, b->alpha, b->a, b->b, b->ll, b->grad_norm, b->method, b->iters,
		     g->p, g->q, g->gamma, g->ll, g->corr_x_spend, g->grad_norm, en->gg_fitted, g->n,
		     g->method, g->iters);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return fsx_replace_unsynced(path, text, (size_t)n);
}
