/*
 * test_auth.c -- who may use the proxy: lines of a users file
 * (tests/data/users.tsv), Basic credentials (tests/data/basic.tsv),
 * Negotiate tokens and base64 (tests/data/negotiate.tsv) and
 * client groups with their actions, the server names of tls_sni decide
 * included (tests/data/groups.tsv over tests/data/groups/groups.yaml).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "rules/rules.h"
#include "unit.h"

#define GROUPS_CONFIG	"groups/groups.yaml"

static struct hg_config	*groups_cf;

/* A copy with nothing after it, so that overreads are caught. */
static char *
exact(const struct unit_bytes *b)
{
	char	*p = malloc(b->ub_len ? b->ub_len : 1);

	assert_non_null(p);
	memcpy(p, b->ub_buf, b->ub_len);
	return (p);
}

/* ok LINE NAME HASH / skip LINE / error LINE COL REASON */
static void
test_users_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in = unit_field(ul, 1), w;
	struct hg_userline	 u;
	const char		*why = NULL, *kind = ul->ul_fields[0];
	unsigned		 col = 0;
	char			*copy = exact(&in);
	int			 r;

	r = users_parse_line(copy, in.ub_len, &u, &why, &col);
	if (strcmp(kind, "ok") == 0) {
		if (r != 1)
			fail_msg("'%s': %d (%s), want a user",
			    unit_show(in.ub_buf, in.ub_len), r,
			    why ? why : "-");
		w = unit_field(ul, 2);
		if (u.ul_namelen != w.ub_len ||
		    memcmp(u.ul_name, w.ub_buf, w.ub_len) != 0)
			fail_msg("name '%s'", unit_show(u.ul_name,
			    u.ul_namelen));
		w = unit_field(ul, 3);
		if (u.ul_hashlen != w.ub_len ||
		    memcmp(u.ul_hash, w.ub_buf, w.ub_len) != 0)
			fail_msg("hash '%s'", unit_show(u.ul_hash,
			    u.ul_hashlen));
	} else if (strcmp(kind, "skip") == 0) {
		if (r != 0)
			fail_msg("%d (%s), want a skipped line", r,
			    why ? why : "-");
	} else {
		if (r != -1)
			fail_msg("'%s': %d, want an error",
			    unit_show(in.ub_buf, in.ub_len), r);
		if (col != strtoul(ul->ul_fields[2], NULL, 10))
			fail_msg("column %u, want %s (%s)", col,
			    ul->ul_fields[2], why);
		if (why == NULL || strstr(why, ul->ul_fields[3]) == NULL)
			fail_msg("reason '%s', want a piece '%s'",
			    why ? why : "-", ul->ul_fields[3]);
	}
	free(copy);
}

/* ok VALUE USER PASSWORD / error VALUE REASON */
static void
test_basic_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in = unit_field(ul, 1), w;
	char			 user[HG_MAX_USER + 1];
	char			 pass[HG_MAX_PASSWORD + 1];
	const char		*why = NULL;
	char			*copy = exact(&in);
	int			 r;

	r = basic_decode(copy, in.ub_len, user, sizeof user, pass,
	    sizeof pass, &why);
	free(copy);
	if (strcmp(ul->ul_fields[0], "ok") == 0) {
		if (r != 0)
			fail_msg("'%s': %s, want user and password",
			    unit_show(in.ub_buf, in.ub_len), why);
		w = ul->ul_nfields > 2 ? unit_field(ul, 2) :
		    (struct unit_bytes){ "", 0 };
		if (strcmp(user, w.ub_buf) != 0)
			fail_msg("user '%s'", user);
		w = ul->ul_nfields > 3 ? unit_field(ul, 3) :
		    (struct unit_bytes){ "", 0 };
		if (strcmp(pass, w.ub_buf) != 0)
			fail_msg("password '%s'", pass);
		return;
	}
	if (r != -1)
		fail_msg("'%s': decoded as '%s', want an error",
		    unit_show(in.ub_buf, in.ub_len), user);
	if (why == NULL || strstr(why, ul->ul_fields[2]) == NULL)
		fail_msg("reason '%s', want a piece '%s'", why ? why : "-",
		    ul->ul_fields[2]);
	if (user[0] != '\0' || pass[0] != '\0')
		fail_msg("user or password left filled on an error");
}

/* token VALUE BYTES / other VALUE / error VALUE REASON */
static void
test_negotiate_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in = unit_field(ul, 1), w;
	char			 out[256], b64[512];
	const char		*why = NULL, *kind = ul->ul_fields[0];
	char			*copy = exact(&in);
	ssize_t			 n;

	n = negotiate_decode(copy, in.ub_len, out, sizeof out, &why);
	free(copy);
	if (strcmp(kind, "token") == 0) {
		w = unit_field(ul, 2);
		if (n != (ssize_t)w.ub_len || memcmp(out, w.ub_buf, w.ub_len))
			fail_msg("'%s': %zd (%s), want '%s'",
			    unit_show(in.ub_buf, in.ub_len), n, why ? why : "-",
			    unit_show(w.ub_buf, w.ub_len));
		n = (ssize_t)base64_encode(w.ub_buf, w.ub_len, b64,
		    sizeof b64);
		assert_true(n > 0);
		if (strstr(in.ub_buf, b64) == NULL)
			fail_msg("base64 '%s' not in the value", b64);
		assert_int_equal(base64_encode(w.ub_buf, w.ub_len, b64,
		    (size_t)n), 0);
	} else if (strcmp(kind, "other") == 0) {
		if (n != 0)
			fail_msg("'%s': %zd, want another scheme",
			    unit_show(in.ub_buf, in.ub_len), n);
	} else {
		if (n != -1)
			fail_msg("'%s': %zd, want an error",
			    unit_show(in.ub_buf, in.ub_len), n);
		if (why == NULL || strstr(why, ul->ul_fields[2]) == NULL)
			fail_msg("reason '%s', want a piece '%s'",
			    why ? why : "-", ul->ul_fields[2]);
	}
}

static int
parse_addr(const char *s, uint8_t addr[16])
{
	if (inet_pton(AF_INET, s, addr) == 1)
		return (4);
	if (inet_pton(AF_INET6, s, addr) == 1)
		return (6);
	fail_msg("bad address in table: %s", s);
	return (0);
}

static uint32_t
group_index(const char *name)
{
	uint32_t	g;

	if (strcmp(name, "-") == 0)
		return (HG_NONE);
	if ((g = config_group_find(groups_cf, name)) == HG_NONE)
		fail_msg("no group '%s' in %s", name, GROUPS_CONFIG);
	return (g);
}

/*
 * sni GROUP TARGET NAME ACTION RECORD: tls_sni decide on a tunnel to
 * TARGET whose ClientHello names NAME: the name's action (invalid when
 * it is not a host) and the action the record carries.
 */
static void
test_groups_sni(const struct unit_line *ul)
{
	struct hg_target	 t;
	struct hg_decision	 d, sd;
	const char		*why, *got;
	uint32_t		 g = group_index(ul->ul_fields[1]);
	int			 ok;

	if (target_parse(ul->ul_fields[2], strlen(ul->ul_fields[2]), 443, &t,
	    &why) != 0)
		fail_msg("bad target in table: %s", why);
	policy_decide_group(groups_cf, HG_SCHEME_CONNECT, &t, g, &d);
	ok = policy_decide_sni(groups_cf, &t, ul->ul_fields[3], g, &sd,
	    &why) == 0;
	got = ok ? action_name(sd.d_action) : "invalid";
	if (strcmp(got, ul->ul_fields[4]) != 0)
		fail_msg("name: %s, want %s", got, ul->ul_fields[4]);
	if (ok && policy_sni_overrides(&d, &sd))
		d = sd;
	got = action_name(d.d_action);
	if (strcmp(got, ul->ul_fields[5]) != 0)
		fail_msg("record: %s, want %s", got, ul->ul_fields[5]);
}

/* group ADDRESS USER GROUP / client ADDRESS in|out /
 * decide GROUP TARGET ACTION / sni GROUP TARGET NAME ACTION RECORD */
static void
test_groups_line(void **state)
{
	const struct unit_line	*ul = *state;
	const char		*kind = ul->ul_fields[0], *why, *got;
	struct hg_target	 t;
	struct hg_decision	 d;
	uint8_t			 addr[16];
	uint32_t		 g;
	int			 family;

	if (groups_cf == NULL)
		fail_msg("%s did not load", GROUPS_CONFIG);
	if (strcmp(kind, "group") == 0) {
		family = parse_addr(ul->ul_fields[1], addr);
		g = config_group_match(groups_cf, family, addr,
		    strcmp(ul->ul_fields[2], "-") == 0 ? NULL :
		    ul->ul_fields[2]);
		got = g == HG_NONE ? "-" : groups_cf->cf_groups[g].gr_name;
		if (strcmp(got, ul->ul_fields[3]) != 0)
			fail_msg("group %s, want %s", got, ul->ul_fields[3]);
	} else if (strcmp(kind, "client") == 0) {
		family = parse_addr(ul->ul_fields[1], addr);
		got = config_client_allowed(groups_cf, family, addr) ? "in" :
		    "out";
		if (strcmp(got, ul->ul_fields[2]) != 0)
			fail_msg("%s, want %s", got, ul->ul_fields[2]);
	} else if (strcmp(kind, "sni") == 0)
		test_groups_sni(ul);
	else {
		g = group_index(ul->ul_fields[1]);
		if (target_parse(ul->ul_fields[2], strlen(ul->ul_fields[2]),
		    443, &t, &why) != 0)
			fail_msg("bad target in table: %s", why);
		policy_decide_group(groups_cf, HG_SCHEME_CONNECT, &t, g, &d);
		got = action_name(d.d_action);
		if (strcmp(got, ul->ul_fields[3]) != 0)
			fail_msg("%s, want %s", got, ul->ul_fields[3]);
	}
}

static const struct unit_kind auth_kinds[] = {
	{ "ok", 4, test_users_line },
	{ "skip", 1, test_users_line },
	{ "error", 4, test_users_line },
};

static const struct unit_kind basic_kinds[] = {
	{ "ok", 2, test_basic_line },
	{ "error", 3, test_basic_line },
};

static const struct unit_kind negotiate_kinds[] = {
	{ "token", 3, test_negotiate_line },
	{ "other", 2, test_negotiate_line },
	{ "error", 3, test_negotiate_line },
};

static const struct unit_kind groups_kinds[] = {
	{ "group", 4, test_groups_line },
	{ "client", 3, test_groups_line },
	{ "decide", 4, test_groups_line },
	{ "sni", 6, test_groups_line },
};

void
test_auth_group(struct unit_group *g)
{
	struct hg_errors	errs;

	unit_add_table(g, "users.tsv", auth_kinds,
	    sizeof auth_kinds / sizeof auth_kinds[0]);
	unit_add_table(g, "basic.tsv", basic_kinds,
	    sizeof basic_kinds / sizeof basic_kinds[0]);
	unit_add_table(g, "negotiate.tsv", negotiate_kinds,
	    sizeof negotiate_kinds / sizeof negotiate_kinds[0]);
	errors_init(&errs);
	/* Loaded once, kept for the process: the cases only read it. */
	groups_cf = config_load(unit_data_path(GROUPS_CONFIG), &errs);
	if (groups_cf == NULL)
		unit_add_error(g, "%s: %s", GROUPS_CONFIG, errs.er_count ?
		    errs.er_msgs[0] : "does not load");
	errors_free(&errs);
	unit_add_table(g, "groups.tsv", groups_kinds,
	    sizeof groups_kinds / sizeof groups_kinds[0]);
}
