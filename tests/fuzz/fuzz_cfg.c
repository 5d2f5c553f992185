/*
 * fuzz_cfg.c - libFuzzer target for the pipeline.conf reader (etl/cfg.c).
 *
 * Feeds any bytes to cfg_parse() and checks properties, not only "no
 * crash": a success has at least one source, each with exactly one of file
 * and url and a known entity, and a mail list has a url, a sender and a
 * recipient; a failure is a config error with a message and a config left
 * NULL. Parsing the same bytes twice gives the same outcome (determinism).
 * The seed corpus is tests/fuzz/corpus/cfg/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(const struct cfg *c)
{
	size_t i;

	if (c->n_sources < 1)
		abort();
	for (i = 0; i < c->n_sources; i++) {
		const struct cfg_source *s = &c->sources[i];

		if (!s->file == !s->url || !s->name || !s->record || s->entity >= ENT_COUNT)
			abort();
		if (cfg_source_by_name(c, s->name) != s)
			abort();
	}
	for (i = 0; i < c->n_mails; i++) {
		const struct cfg_mail *m = &c->mails[i];

		if (!m->url || !m->from || m->n_to < 1 || !m->subject)
			abort();
	}
	if (!c->data_dir || !c->timezone || !c->currency || !c->report_lang ||
	    c->max_reject_ratio < 0 || c->max_reject_ratio > 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crm_err e = { 0 }, e2 = { 0 };
	struct cfg *c = NULL, *c2 = NULL;
	int rc, rc2;

	rc = cfg_parse((const char *)data, size, "fuzz.conf", "/base", &c, &e);
	if (rc == 0) {
		if (!c || e.code != 0)
			abort();
		check_ok(c);
	} else if (c || e.code != CRM_E_CONFIG || rc != CRM_E_CONFIG || !e.msg[0]) {
		abort();
	}
	rc2 = cfg_parse((const char *)data, size, "fuzz.conf", "/base", &c2, &e2);
	if (rc2 != rc || e2.line != e.line || strcmp(e2.msg, e.msg) != 0 ||
	    strcmp(e2.field, e.field) != 0)
		abort();
	cfg_free(c);
	cfg_free(c2);
	return 0;
}
