/*
 * test_host.c -- host names, request targets, ports, port lists, address
 * prefixes and durations, from tests/data/hosts.tsv, values.tsv and
 * cidr.tsv.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "unit.h"

/* A copy of b with no terminating NUL, so that overreads are caught. */
static char *
exact_copy(const struct unit_bytes *b)
{
	char	*p = malloc(b->ub_len ? b->ub_len : 1);

	assert_non_null(p);
	memcpy(p, b->ub_buf, b->ub_len);
	return (p);
}

static const char *
kind_name(enum hg_host_kind k)
{
	switch (k) {
	case HG_HOST_NAME:
		return ("name");
	case HG_HOST_IPV4:
		return ("ipv4");
	case HG_HOST_IPV6:
		return ("ipv6");
	}
	return ("?");
}

/* Check a normalised target against the expected host (and kind). */
static void
check_target(const struct hg_target *t, const char *want_host,
    const char *want_kind)
{
	struct unit_bytes	want;
	uint8_t			addr[16];

	assert_int_equal(unit_unescape(want_host, &want), 0);
	assert_string_equal(t->t_host, want.ub_buf);
	assert_int_equal(t->t_len, strlen(t->t_host));
	if (want_kind != NULL && *want_kind != '\0')
		assert_string_equal(kind_name(t->t_kind), want_kind);
	if (t->t_kind == HG_HOST_IPV4) {
		assert_int_equal(inet_pton(AF_INET, t->t_host, addr), 1);
		assert_memory_equal(t->t_addr, addr, 4);
	} else if (t->t_kind == HG_HOST_IPV6) {
		assert_int_equal(inet_pton(AF_INET6, t->t_host, addr), 1);
		assert_memory_equal(t->t_addr, addr, 16);
	}
}

/* host<TAB>INPUT<TAB>NORMALISED[<TAB>KIND] or ...ERROR[<TAB>TEXT] */
static void
test_host_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct hg_target	 t;
	const char		*why = NULL, *want = ul->ul_fields[2];
	char			*copy;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	copy = exact_copy(&in);
	memset(&t, 0xa5, sizeof t);
	t.t_port = 4242;
	rc = host_normalise(copy, in.ub_len, &t, &why);
	free(copy);
	if (strcmp(want, "ERROR") == 0) {
		if (rc == 0)
			fail_msg("'%s' accepted as '%s' (%s)",
			    unit_show(in.ub_buf, in.ub_len), t.t_host,
			    kind_name(t.t_kind));
		assert_int_equal(rc, -1);
		assert_non_null(why);
		assert_true(*why != '\0');
		/* TEXT: a piece the reason must contain. */
		if (ul->ul_nfields > 3 && strstr(why, ul->ul_fields[3]) == NULL)
			fail_msg("'%s' refused as '%s', want '%s'",
			    unit_show(in.ub_buf, in.ub_len), why,
			    ul->ul_fields[3]);
		return;
	}
	if (rc != 0)
		fail_msg("'%s' refused: %s", unit_show(in.ub_buf, in.ub_len),
		    why ? why : "(no reason)");
	check_target(&t, want, ul->ul_nfields > 3 ? ul->ul_fields[3] : NULL);
	assert_int_equal(t.t_port, 4242);	/* left alone */
}

/* target<TAB>INPUT<TAB>DEFPORT<TAB>HOST<TAB>PORT[<TAB>KIND] or ...ERROR */
static void
test_target_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct hg_target	 t;
	const char		*why = NULL;
	char			*copy;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	copy = exact_copy(&in);
	memset(&t, 0xa5, sizeof t);
	rc = target_parse(copy, in.ub_len,
	    (uint16_t)strtoul(ul->ul_fields[2], NULL, 10), &t, &why);
	free(copy);
	if (strcmp(ul->ul_fields[3], "ERROR") == 0) {
		if (rc == 0)
			fail_msg("'%s' accepted as '%s' port %u",
			    unit_show(in.ub_buf, in.ub_len), t.t_host,
			    t.t_port);
		assert_int_equal(rc, -1);
		assert_non_null(why);
		assert_true(*why != '\0');
		return;
	}
	if (rc != 0)
		fail_msg("'%s' refused: %s", unit_show(in.ub_buf, in.ub_len),
		    why ? why : "(no reason)");
	check_target(&t, ul->ul_fields[3],
	    ul->ul_nfields > 5 ? ul->ul_fields[5] : NULL);
	assert_int_equal(t.t_port, strtoul(ul->ul_fields[4], NULL, 10));
}

/* port<TAB>INPUT<TAB>VALUE|ERROR */
static void
test_port_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	uint16_t		 port = 4242;
	char			*copy;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	copy = exact_copy(&in);
	rc = port_parse(copy, in.ub_len, &port);
	free(copy);
	if (strcmp(ul->ul_fields[2], "ERROR") == 0) {
		if (rc == 0)
			fail_msg("'%s' accepted as %u",
			    unit_show(in.ub_buf, in.ub_len), port);
		assert_int_equal(port, 4242);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(port, strtoul(ul->ul_fields[2], NULL, 10));
}

/*
 * portitem<TAB>ITEM<TAB>ERROR, or portitem<TAB>ITEM<TAB>in:P,...<TAB>out:P,...
 * (ports the set must and must not contain).
 */
static void
test_portitem_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct hg_portset	 ps = { NULL, 0 };
	const char		*why = NULL, *list;
	char			*end;
	size_t			 i;
	int			 rc, want_in = 0;
	unsigned long		 p;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = portset_parse_item(&ps, in.ub_buf, &why);
	if (strcmp(ul->ul_fields[2], "ERROR") == 0) {
		portset_free(&ps);
		if (rc == 0)
			fail_msg("'%s' accepted", unit_show(in.ub_buf,
			    in.ub_len));
		assert_non_null(why);
		return;
	}
	if (rc != 0) {
		portset_free(&ps);
		fail_msg("'%s' refused: %s", unit_show(in.ub_buf, in.ub_len),
		    why ? why : "(no reason)");
	}
	for (i = 2; i < ul->ul_nfields; i++) {
		list = ul->ul_fields[i];
		if (unit_has_prefix(list, "in:"))
			want_in = 1;
		else if (unit_has_prefix(list, "out:"))
			want_in = 0;
		else {
			portset_free(&ps);
			fail_msg("bad column '%s'", list);
		}
		list = strchr(list, ':') + 1;
		while (*list != '\0') {
			p = strtoul(list, &end, 10);
			if (end == list || (*end != ',' && *end != '\0')) {
				portset_free(&ps);
				fail_msg("bad port list '%s'", list);
			}
			if (portset_contains(&ps, (uint16_t)p) != want_in) {
				portset_free(&ps);
				fail_msg("port %lu should be %s the set", p,
				    want_in ? "in" : "out of");
			}
			list = *end == ',' ? end + 1 : end;
		}
	}
	portset_free(&ps);
}

/* duration<TAB>INPUT<TAB>MILLISECONDS|ERROR */
static void
test_duration_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	unsigned		 ms = 4242;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = duration_parse(in.ub_buf, &ms);
	if (strcmp(ul->ul_fields[2], "ERROR") == 0) {
		if (rc == 0)
			fail_msg("'%s' accepted as %u ms", in.ub_buf, ms);
		return;
	}
	if (rc != 0)
		fail_msg("'%s' refused", in.ub_buf);
	assert_int_equal(ms, strtoul(ul->ul_fields[2], NULL, 10));
}

/* action<TAB>INPUT<TAB>NAME|ERROR */
static void
test_action_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	enum hg_action		 a = HG_ACT_NONE;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = action_parse(in.ub_buf, &a);
	if (strcmp(ul->ul_fields[2], "ERROR") == 0) {
		if (rc == 0)
			fail_msg("'%s' accepted as %s", in.ub_buf,
			    action_name(a));
		return;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(action_name(a), ul->ul_fields[2]);
}

/*
 * cidr<TAB>PREFIX<TAB>ERROR, or cidr<TAB>PREFIX<TAB>ADDRESS<TAB>in|out:
 * does the prefix (a valid one) contain the address?
 */
static void
test_cidr_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	struct hg_cidr		 c;
	uint8_t			 addr[16];
	int			 rc, family = 0, m;

	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	rc = cidr_parse(in.ub_buf, &c);
	if (strcmp(ul->ul_fields[2], "ERROR") == 0) {
		if (rc == 0)
			fail_msg("'%s' accepted as a /%u", in.ub_buf,
			    c.ci_bits);
		return;
	}
	if (rc != 0)
		fail_msg("'%s' refused", in.ub_buf);
	if (ul->ul_nfields < 4)
		fail_msg("missing columns");
	memset(addr, 0, sizeof addr);
	if (inet_pton(AF_INET, ul->ul_fields[2], addr) == 1)
		family = 4;
	else if (inet_pton(AF_INET6, ul->ul_fields[2], addr) == 1)
		family = 6;
	else
		fail_msg("bad address column '%s'", ul->ul_fields[2]);
	m = cidr_match(&c, family, addr);
	assert_int_equal(m, strcmp(ul->ul_fields[3], "in") == 0);
	/* A list holding only this prefix agrees. */
	assert_int_equal(cidr_list_match(&c, 1, family, addr), m);
	assert_int_equal(cidr_list_match(&c, 0, family, addr), 0);
}

/* strtonum<TAB>INPUT<TAB>MIN<TAB>MAX<TAB>VALUE, or ERROR<TAB>WHY */
static void
test_strtonum_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	const char		*why = "unset";
	char			*copy;
	long long		 n;

	assert_true(ul->ul_nfields >= 5);
	assert_int_equal(unit_unescape(ul->ul_fields[1], &in), 0);
	copy = unit_printf("%.*s", (int)in.ub_len, in.ub_buf);
	n = strtonum(copy, strtoll(ul->ul_fields[2], NULL, 10),
	    strtoll(ul->ul_fields[3], NULL, 10), &why);
	if (strcmp(ul->ul_fields[4], "ERROR") == 0) {
		if (why == NULL)
			fail_msg("'%s' accepted as %lld",
			    unit_show(in.ub_buf, in.ub_len), n);
		assert_int_equal(n, 0);
		assert_true(ul->ul_nfields >= 6);
		assert_string_equal(why, ul->ul_fields[5]);
		return;
	}
	assert_null(why);
	assert_true(n == strtoll(ul->ul_fields[4], NULL, 10));
}

static const struct unit_kind kinds[] = {
	{ "host", 3, test_host_line },
	{ "target", 4, test_target_line },
	{ "port", 3, test_port_line },
	{ "strtonum", 5, test_strtonum_line },
	{ "portitem", 3, test_portitem_line },
	{ "duration", 3, test_duration_line },
	{ "action", 3, test_action_line },
	{ "cidr", 3, test_cidr_line },
};

void
test_host_group(struct unit_group *g)
{
	size_t	n = sizeof kinds / sizeof kinds[0];

	unit_add_table(g, "hosts.tsv", kinds, n);
	unit_add_table(g, "values.tsv", kinds, n);
	unit_add_table(g, "cidr.tsv", kinds, n);
}
