/*
 * test_ldap.c -- directory groups without a directory: the text of the
 * lookups (tests/data/ldapstr.tsv: ldap.url, DNs, user_filter,
 * member_attribute, filter escapes) and the client group of a request
 * given the user's directory groups (tests/data/dirgroups.tsv over
 * tests/data/ldap/dirgroups.yaml). A build without libldap refuses that
 * configuration, and the table checks that instead.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "unit.h"

#define DIRGROUPS_CONFIG	"ldap/dirgroups.yaml"

static struct hg_config	*dir_cf;
static char		*dir_errors;	/* why it did not load */

static char *
field(const struct unit_line *ul, size_t i)
{
	struct unit_bytes	b;

	assert_true(i < ul->ul_nfields);
	assert_int_equal(unit_unescape(ul->ul_fields[i], &b), 0);
	assert_int_equal(strlen(b.ub_buf), b.ub_len);
	return (b.ub_buf);
}

/* url|dn|filter|attr ok|bad TEXT [WHY] */
static void
test_check_line(void **state)
{
	const struct unit_line	*ul = *state;
	const char		*kind = ul->ul_fields[0], *why = "";
	const char		*want = ul->ul_fields[1];
	char			*text = field(ul, 2);
	int			 r;

	if (strcmp(kind, "url") == 0)
		r = ldapstr_url_valid(text, &why);
	else if (strcmp(kind, "dn") == 0)
		r = ldapstr_dn_valid(text, &why);
	else if (strcmp(kind, "filter") == 0)
		r = ldapstr_filter_valid(text, &why);
	else
		r = ldapstr_attr_valid(text) ? 0 : -1;
	if (strcmp(want, "ok") == 0) {
		if (r != 0)
			fail_msg("'%s' refused: %s", text, why);
		return;
	}
	if (r == 0)
		fail_msg("'%s' taken, want it refused", text);
	if (ul->ul_nfields > 3 && strstr(why, field(ul, 3)) == NULL)
		fail_msg("'%s': '%s', want '%s'", text, why, field(ul, 3));
}

/* escape IN OUT|overflow LEN / expand TEMPLATE VALUE OUT */
static void
test_filter_line(void **state)
{
	const struct unit_line	*ul = *state;
	char			 out[256];
	char			*in = field(ul, 1), *want;
	size_t			 len = sizeof out;
	ssize_t			 n;

	if (strcmp(ul->ul_fields[0], "expand") == 0) {
		want = field(ul, 3);
		if (ldapstr_expand(in, field(ul, 2), out, sizeof out) != 0)
			fail_msg("expand '%s': does not fit", in);
		if (strcmp(out, want) != 0)
			fail_msg("'%s', want '%s'", out, want);
		return;
	}
	if (strcmp(ul->ul_fields[2], "overflow") == 0) {
		len = (size_t)strtoul(ul->ul_fields[3], NULL, 10);
		if ((n = ldapstr_escape(in, out, len)) != -1)
			fail_msg("'%s' fits in %zu bytes (%zd), want -1", in,
			    len, n);
		return;
	}
	want = field(ul, 2);
	n = ldapstr_escape(in, out, len);
	if (n < 0 || strcmp(out, want) != 0 || (size_t)n != strlen(want))
		fail_msg("'%s' (%zd), want '%s'", n < 0 ? "-" : out, n, want);
}

static int
parse_addr(const char *s, uint8_t *addr)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return (4);
	if (inet_pton(AF_INET6, s, addr) == 1)
		return (6);
	fail_msg("bad address in table: %s", s);
	return (0);
}

/*
 * The directory groups of a table line: "?" not known, "-" none, or the
 * cn of each group (cn=NAME,...) separated by commas.
 */
static const uint64_t *
dir_mask(const char *s, uint64_t *mask)
{
	char	 name[64];
	size_t	 n, i;

	*mask = 0;
	if (strcmp(s, "?") == 0)
		return (NULL);
	if (strcmp(s, "-") == 0)
		return (mask);
	for (; *s != '\0'; s += n + (s[n] == ',')) {
		n = strcspn(s, ",");
		snprintf(name, sizeof name, "cn=%.*s,", (int)n, s);
		for (i = 0; i < dir_cf->cf_nldap_groups; i++)
			if (unit_has_prefix(dir_cf->cf_ldap_groups[i], name))
				break;
		if (i == dir_cf->cf_nldap_groups)
			fail_msg("no ldap_group %s in %s", name,
			    DIRGROUPS_CONFIG);
		*mask |= (uint64_t)1 << i;
	}
	return (mask);
}

/* group ADDRESS USER DIRGROUPS GROUP: GROUP "need" when the directory's
 * answer is needed first */
static void
test_group_line(void **state)
{
	const struct unit_line	*ul = *state;
	const uint64_t		*dir;
	const char		*got;
	uint64_t		 mask;
	uint8_t			 addr[16];
	uint32_t		 g;
	int			 family, need;

#ifndef HAVE_LDAP
	if (dir_cf != NULL || strstr(dir_errors, "not supported in this "
	    "build") == NULL)
		fail_msg("%s: want it refused in a build without libldap, "
		    "got: %s", DIRGROUPS_CONFIG, dir_errors);
	return;
#endif
	if (dir_cf == NULL)
		fail_msg("%s did not load: %s", DIRGROUPS_CONFIG, dir_errors);
	family = parse_addr(ul->ul_fields[1], addr);
	dir = dir_mask(ul->ul_fields[3], &mask);
	g = config_group_match_dir(dir_cf, family, addr,
	    strcmp(ul->ul_fields[2], "-") == 0 ? NULL : ul->ul_fields[2],
	    dir, &need);
	got = need ? "need" : g == HG_NONE ? "-" :
	    dir_cf->cf_groups[g].gr_name;
	if (strcmp(got, ul->ul_fields[4]) != 0)
		fail_msg("group %s, want %s", got, ul->ul_fields[4]);
	/* Without the answer and asked not to wait: in none of them. */
	if (dir == NULL && need) {
		g = config_group_match(dir_cf, family, addr,
		    ul->ul_fields[2]);
		if (g != HG_NONE && dir_cf->cf_groups[g].gr_ldap != 0 &&
		    dir_cf->cf_groups[g].gr_nusers == 0)
			fail_msg("group %s by a directory group not known",
			    dir_cf->cf_groups[g].gr_name);
	}
}

static const struct unit_kind str_kinds[] = {
	{ "url", 3, test_check_line },
	{ "dn", 3, test_check_line },
	{ "filter", 3, test_check_line },
	{ "attr", 3, test_check_line },
	{ "escape", 3, test_filter_line },
	{ "expand", 4, test_filter_line },
};

static const struct unit_kind group_kinds[] = {
	{ "group", 5, test_group_line },
};

void
test_ldap_group(struct unit_group *g)
{
	struct hg_errors	errs;
	size_t			i;

	unit_add_table(g, "ldapstr.tsv", str_kinds,
	    sizeof str_kinds / sizeof str_kinds[0]);
	errors_init(&errs);
	/* Loaded once, kept for the process: the cases only read it. */
	dir_cf = config_load(unit_data_path(DIRGROUPS_CONFIG), &errs);
	dir_errors = unit_strdup("");
	for (i = 0; i < errs.er_count; i++)
		dir_errors = unit_printf("%s\n    %s", dir_errors,
		    errs.er_msgs[i]);
	errors_free(&errs);
	unit_add_table(g, "dirgroups.tsv", group_kinds,
	    sizeof group_kinds / sizeof group_kinds[0]);
}
