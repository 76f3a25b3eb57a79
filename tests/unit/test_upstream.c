/*
 * test_upstream.c -- parent proxies: base64, credentials files, upstream
 * URLs, the upstreams as loaded and config_route() over
 * tests/data/upstreams/upstreams.yaml (tests/data/upstreams.tsv).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "unit.h"

#define UPSTREAMS_CONFIG	"upstreams/upstreams.yaml"

static struct hg_config	*up_cf;

/* base64 INPUT OUTPUT */
static void
test_base64(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in = unit_field(ul, 1);
	const char		*want = ul->ul_nfields > 2 ? ul->ul_fields[2] :
				    "";
	char			 out[256];
	size_t			 n;

	n = base64_encode(in.ub_buf, in.ub_len, out, sizeof out);
	if (n != strlen(want) || strcmp(out, want) != 0)
		fail_msg("'%s', want '%s'", out, want);
	/* too small an output is refused, never overrun */
	if (n > 0 && base64_encode(in.ub_buf, in.ub_len, out, n) != 0)
		fail_msg("an output of %zu bytes was taken", n);
}

/* credentials FILE ok VALUE / credentials FILE error WHY */
static void
test_credentials(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in = unit_field(ul, 1);
	const char		*why = NULL;
	char			*auth = NULL, *copy;
	int			 r;

	copy = unit_exact_copy(in.ub_buf, in.ub_len);
	r = credentials_parse(copy, in.ub_len, &auth, &why);
	free(copy);
	if (strcmp(ul->ul_fields[2], "ok") == 0) {
		if (r != 0)
			fail_msg("'%s': %s", unit_show(in.ub_buf, in.ub_len),
			    why);
		if (strcmp(auth, ul->ul_fields[3]) != 0)
			fail_msg("'%s', want '%s'", auth, ul->ul_fields[3]);
		free(auth);
		return;
	}
	if (r != -1 || auth != NULL)
		fail_msg("'%s': taken as '%s'", unit_show(in.ub_buf,
		    in.ub_len), auth ? auth : "-");
	if (why == NULL || strstr(why, ul->ul_fields[3]) == NULL)
		fail_msg("why '%s', want a piece '%s'", why ? why : "-",
		    ul->ul_fields[3]);
	/* the message never shows the file's bytes */
	if (in.ub_len > 3 && strstr(why, in.ub_buf) != NULL)
		fail_msg("why '%s' shows the file", why);
}

/* url URL HOST PORT TLS / url URL error WHY */
static void
test_url(void **state)
{
	const struct unit_line	*ul = *state;
	struct hg_target	 t;
	const char		*why = NULL;
	int			 tls = -1, r;

	r = config_upstream_url(ul->ul_fields[1], &t, &tls, &why);
	if (strcmp(ul->ul_fields[2], "error") == 0) {
		if (r == 0)
			fail_msg("taken as %s:%u", t.t_host, t.t_port);
		if (why == NULL || strstr(why, ul->ul_fields[3]) == NULL)
			fail_msg("why '%s', want a piece '%s'",
			    why ? why : "-", ul->ul_fields[3]);
		return;
	}
	if (r != 0)
		fail_msg("refused: %s", why);
	if (ul->ul_nfields < 5)
		fail_msg("want HOST PORT TLS");
	if (strcmp(t.t_host, ul->ul_fields[2]) != 0 ||
	    t.t_port != strtoul(ul->ul_fields[3], NULL, 10) ||
	    tls != (int)strtol(ul->ul_fields[4], NULL, 10))
		fail_msg("%s %u %d", t.t_host, t.t_port, tls);
}

/* route TARGET VIA PLACE */
static void
test_route(void **state)
{
	const struct unit_line	*ul = *state;
	const struct hg_route	*ro;
	struct hg_target	 t;
	struct hg_decision	 d;
	const char		*why;
	char			 via[256];
	unsigned		 line;

	if (up_cf == NULL)
		fail_msg("%s did not load", UPSTREAMS_CONFIG);
	if (target_parse(ul->ul_fields[1], strlen(ul->ul_fields[1]), 443, &t,
	    &why) != 0)
		fail_msg("bad target in the table: %s", why);
	policy_decide(up_cf, HG_SCHEME_CONNECT, &t, &d);
	ro = config_route(up_cf, &t, &d);
	config_route_text(up_cf, ro, via, sizeof via);
	if (strcmp(via, ul->ul_fields[2]) != 0)
		fail_msg("via %s, want %s", via, ul->ul_fields[2]);
	line = ro->ro_file != NULL ? ro->ro_line : 0;
	if (line != strtoul(ul->ul_fields[3], NULL, 10))
		fail_msg("the route of line %u, want %s", line,
		    ul->ul_fields[3]);
	if ((ro->ro_file == NULL) != (ro == &up_cf->cf_route_default))
		fail_msg("route_default has a place, or a route none");
}

/* upstream NAME URL MAX_FAILURES HOLD_MS AUTH */
static void
test_upstream_loaded(void **state)
{
	const struct unit_line		*ul = *state;
	const struct hg_upstream	*up = NULL;
	size_t				 i;

	if (up_cf == NULL)
		fail_msg("%s did not load", UPSTREAMS_CONFIG);
	for (i = 0; i < up_cf->cf_nupstreams; i++)
		if (strcmp(up_cf->cf_upstreams[i].up_name,
		    ul->ul_fields[1]) == 0)
			up = &up_cf->cf_upstreams[i];
	if (up == NULL)
		fail_msg("no upstream %s", ul->ul_fields[1]);
	if (strcmp(up->up_url, ul->ul_fields[2]) != 0)
		fail_msg("url %s", up->up_url);
	if (up->up_max_failures != strtoul(ul->ul_fields[3], NULL, 10))
		fail_msg("max_failures %u", up->up_max_failures);
	if (up->up_hold != strtoul(ul->ul_fields[4], NULL, 10))
		fail_msg("hold_time %u", up->up_hold);
	if (strcmp(up->up_auth != NULL ? up->up_auth : "-",
	    ul->ul_fields[5]) != 0)
		fail_msg("auth %s", up->up_auth != NULL ? up->up_auth : "-");
	if (up->up_tls != (strncmp(up->up_url, "https:", 6) == 0))
		fail_msg("tls %d", up->up_tls);
}

static const struct unit_kind upstream_kinds[] = {
	{ "base64", 2, test_base64 },
	{ "credentials", 4, test_credentials },
	{ "url", 4, test_url },
	{ "route", 4, test_route },
	{ "upstream", 6, test_upstream_loaded },
};

void
test_upstream_group(struct unit_group *g)
{
	struct hg_errors	errs;

	errors_init(&errs);
	/* Loaded once, kept for the process: the cases only read it. */
	up_cf = config_load(unit_data_path(UPSTREAMS_CONFIG), &errs);
	if (up_cf == NULL)
		unit_add_error(g, "%s: %s", UPSTREAMS_CONFIG, errs.er_count ?
		    errs.er_msgs[0] : "does not load");
	errors_free(&errs);
	unit_add_table(g, "upstreams.tsv", upstream_kinds,
	    sizeof upstream_kinds / sizeof upstream_kinds[0]);
}
