/*
 * test_pac.c -- the PAC generator.
 *
 * tests/data/pac/NAME.yaml with NAME.expect: lines "TABLE<TAB>LINE" give,
 * in order, every line of that table of the generated file (HG_NAMES,
 * HG_NETS, HG_GLOBS, HG_BYPASS, HG_BYPASS_NETS); "TABLE<TAB>-" an empty
 * table. The file is built in the mode and fallback the configuration
 * sets. Each configuration is also built twice, from two loads, and must
 * give the same bytes, with the digest of its body in its head.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "unit.h"

#define PAC_DIR		"pac"

struct pac_case {
	char		*pc_config;	/* NAME.yaml, relative to tests/data */
	char		*pc_table;	/* table name */
	char		**pc_want;	/* its lines */
	size_t		 pc_nwant;
};

static struct hg_pac *
pac_case_build(const char *config)
{
	struct hg_errors	 errs;
	struct hg_config	*cf;
	struct hg_pac		*pac;

	errors_init(&errs);
	cf = config_load(unit_data_path(config), &errs);
	if (cf == NULL) {
		errors_free(&errs);
		fail_msg("%s does not load", config);
	}
	errors_free(&errs);
	pac = pac_build(cf, cf->cf_pac_mode, cf->cf_pac_fallback);
	config_unref(cf);
	return (pac);
}

/*
 * The lines of table "var NAME = {" or "= [" up to its closing line,
 * without their trailing commas.
 */
static char **
table_lines(const char *body, const char *name, size_t *n)
{
	char		**lines = NULL, *open;
	const char	 *p, *end;
	size_t		  len;

	*n = 0;
	open = unit_printf("var %s = ", name);
	if ((p = strstr(body, open)) == NULL)
		return (NULL);
	p = strchr(p, '\n') + 1;
	for (; *p != ']' && *p != '}'; p = end + 1) {
		end = strchr(p, '\n');
		len = (size_t)(end - p);
		if (len > 0 && p[len - 1] == ',')
			len--;
		if ((lines = reallocarray(lines, *n + 1, sizeof *lines)) ==
		    NULL)
			abort();
		lines[(*n)++] = unit_keep(strndup(p, len));
	}
	/* kept once, when complete: a kept block must not move */
	return (lines != NULL ? unit_keep(lines) : NULL);
}

static void
test_pac_table(void **state)
{
	const struct pac_case	*pc = *state;
	struct hg_pac		*pac = pac_case_build(pc->pc_config);
	char			**got;
	size_t			  ngot, i;
	char			 *body = unit_strdup(pac->pc_body);

	pac_free(pac);
	if (strstr(body, unit_printf("var %s = ", pc->pc_table)) == NULL)
		fail_msg("no table %s", pc->pc_table);
	got = table_lines(body, pc->pc_table, &ngot);
	for (i = 0; i < ngot || i < pc->pc_nwant; i++) {
		if (i >= ngot)
			fail_msg("%s line %zu: missing %s", pc->pc_table, i + 1,
			    pc->pc_want[i]);
		if (i >= pc->pc_nwant)
			fail_msg("%s line %zu: extra %s", pc->pc_table, i + 1,
			    got[i]);
		if (strcmp(got[i], pc->pc_want[i]) != 0)
			fail_msg("%s line %zu: got %s, want %s", pc->pc_table,
			    i + 1, got[i], pc->pc_want[i]);
	}
}

static void
test_pac_deterministic(void **state)
{
	const char	*config = *state;
	struct hg_pac	*a, *b;
	char		*digest;
	int		 same;

	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	a = pac_case_build(config);
	b = pac_case_build(config);
	unsetenv("SOURCE_DATE_EPOCH");
	same = a->pc_headlen == b->pc_headlen &&
	    a->pc_bodylen == b->pc_bodylen &&
	    memcmp(a->pc_head, b->pc_head, a->pc_headlen) == 0 &&
	    memcmp(a->pc_body, b->pc_body, a->pc_bodylen) == 0;
	digest = unit_printf("// rules digest fnv1a64:%016llx\n",
	    (unsigned long long)pac_fnv64(a->pc_body, a->pc_bodylen));
	if (strstr(a->pc_head, digest) == NULL || strstr(a->pc_head,
	    "// rules as of 2023-11-14T22:13:20Z ") == NULL) {
		char *head = unit_strdup(a->pc_head);

		pac_free(a);
		pac_free(b);
		fail_msg("head lacks the digest or date:\n%s", head);
	}
	pac_free(a);
	pac_free(b);
	if (!same)
		fail_msg("two builds differ");
}

static void
add_table(struct unit_group *g, const char *config, const char *table,
    struct unit_line **lines, size_t n)
{
	struct pac_case	*pc;
	size_t		 i;

	pc = unit_keep(calloc(1, sizeof *pc));
	pc->pc_config = unit_strdup(config);
	pc->pc_table = unit_strdup(table);
	for (i = 0; i < n; i++) {
		if (strcmp(lines[i]->ul_fields[0], table) != 0 ||
		    strcmp(lines[i]->ul_fields[1], "-") == 0)
			continue;
		/* kept once, when complete: a kept block must not move */
		pc->pc_want = reallocarray(pc->pc_want, pc->pc_nwant + 1,
		    sizeof *pc->pc_want);
		if (pc->pc_want == NULL)
			abort();
		pc->pc_want[pc->pc_nwant++] = lines[i]->ul_fields[1];
	}
	if (pc->pc_want != NULL)
		unit_keep(pc->pc_want);
	unit_add(g, unit_printf("%s: %s", config, table), test_pac_table, pc);
}

void
test_pac_group(struct unit_group *g)
{
	struct unit_line	**lines;
	char			**names, *base, *config;
	const char		 *seen[16];
	size_t			  n, i, j, k, nlines, nseen;

	if ((names = unit_list_dir(PAC_DIR, ".expect", &n)) == NULL ||
	    n == 0) {
		unit_add_error(g, "%s: no .expect files", PAC_DIR);
		return;
	}
	for (i = 0; i < n; i++) {
		base = unit_strdup(names[i]);
		base[strlen(base) - strlen(".expect")] = '\0';
		config = unit_printf("%s/%s.yaml", PAC_DIR, base);
		unit_add(g, unit_printf("%s: deterministic", config),
		    test_pac_deterministic, config);
		nlines = unit_read_table(g, unit_printf("%s/%s", PAC_DIR,
		    names[i]), &lines);
		nseen = 0;
		for (j = 0; j < nlines; j++) {
			if (lines[j]->ul_nfields != 2) {
				unit_add_error(g, "%s/%s:%u: bad line",
				    PAC_DIR, names[i], lines[j]->ul_lineno);
				continue;
			}
			for (k = 0; k < nseen; k++)
				if (strcmp(seen[k], lines[j]->ul_fields[0]) ==
				    0)
					break;
			if (k < nseen || nseen == sizeof seen / sizeof seen[0])
				continue;
			seen[nseen++] = lines[j]->ul_fields[0];
			add_table(g, config, lines[j]->ul_fields[0], lines,
			    nlines);
		}
	}
}
