/*
 * test_certs.c -- the arguments of `hushgate certs init` and the
 * subjectAltName extension they make, from tests/data/certs.tsv.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "certs/certs.h"
#include "unit.h"

#define CERTS_MAX_ARGS	80

/* init<TAB>ARGS<TAB>SAN<TAB>DAYS<TAB>FORCE<TAB>DIR, or ERROR<TAB>WORD */
static void
test_init_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct certs_opts	 co;
	struct unit_bytes	 in;
	unsigned char		 der[HG_CERT_MAX_SAN];
	char			*argv[CERTS_MAX_ARGS], *p, *cause = NULL, *hex;
	char			*rest;
	ssize_t			 n;
	int			 argc = 0, rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	if (strcmp(in.ub_buf, "-") != 0) {
		rest = in.ub_buf;
		while ((p = strsep(&rest, " ")) != NULL &&
		    argc < CERTS_MAX_ARGS)
			argv[argc++] = p;
	}
	rc = certs_parse_args(argc, argv, &co, &cause);
	if (cause != NULL)
		unit_keep(cause);
	if (strcmp(ul->ul_fields[2], "ERROR") == 0) {
		if (rc == 0)
			fail_msg("'%s' accepted", ul->ul_fields[1]);
		assert_non_null(cause);
		if (ul->ul_nfields > 3 && strstr(cause, ul->ul_fields[3]) ==
		    NULL)
			fail_msg("reason '%s' lacks '%s'", cause,
			    ul->ul_fields[3]);
		return;
	}
	if (rc != 0)
		fail_msg("'%s' refused: %s", ul->ul_fields[1], cause);
	assert_true(ul->ul_nfields >= 6);
	n = certs_san_der(&co, der, sizeof der);
	assert_true(n > 0);
	hex = unit_keep(calloc(1, (size_t)n * 2 + 1));
	for (p = hex, rc = 0; rc < n; rc++, p += 2)
		snprintf(p, 3, "%02x", der[sizeof der - (size_t)n + (size_t)rc]);
	assert_string_equal(hex, ul->ul_fields[2]);
	assert_int_equal(co.co_days, strtoul(ul->ul_fields[3], NULL, 10));
	assert_int_equal(co.co_force, strtol(ul->ul_fields[4], NULL, 10));
	assert_string_equal(co.co_dir, ul->ul_fields[5]);
	/* Too small a buffer is refused, not overrun. */
	assert_true(certs_san_der(&co, der, (size_t)n - 1) < 0);
}

static const struct unit_kind kinds[] = {
	{ "init", 3, test_init_line },
};

void
test_certs_group(struct unit_group *g)
{
	unit_add_table(g, "certs.tsv", kinds, sizeof kinds / sizeof kinds[0]);
}
