/*
 * cfgupstream.c -- parent proxies: `upstreams:` (each a name, a url, the
 * CA of an https:// one, Basic credentials read from a file, and when it
 * is marked down), `routes:` (which allowed hosts and categories go
 * through which upstreams, in order, `direct` among them) and
 * `route_default:` (the rest; direct unless set). Names are resolved
 * once every file is read (cfg_upstream_finish), so that a route may come
 * before the upstreams it names and name the categories of included
 * files. And the lookup that the proxy and `hushgate explain` share:
 * config_route().
 *
 * The credentials never appear in a message: an error about the file
 * says what is wrong with it, never what it holds.
 */
#include "config.h"

#include "rules/compat.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

/* ---- values ------------------------------------------------------------ */

/*
 * Base64 (RFC 4648, padded) of in into out (size n, NUL-terminated).
 * Returns the length, or 0 when out is too small.
 */
size_t
base64_encode(const void *in, size_t len, char *out, size_t n)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char	*p = in;
	size_t			 i, o = 0;
	uint32_t		 v;

	if (n < (len + 2) / 3 * 4 + 1)
		return (0);
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < len) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (o);
}

/*
 * The contents of a credentials file (len bytes): one line "user:password"
 * (a final newline, CRLF or LF, is allowed). Sets *auth to the value of a
 * Proxy-Authorization header ("Basic ..."; caller frees, after
 * explicit_bzero) and returns 0, or returns -1 with *why (static, naming
 * no byte of the file).
 */
int
credentials_parse(const char *buf, size_t len, char **auth, const char **why)
{
	const char	*colon;
	char		*out;
	size_t		 i, n;

	*auth = NULL;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			*why = "more than one line (expected user:password)";
			return (-1);
		}
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			*why = "a control character (expected user:password)";
			return (-1);
		}
	}
	if (len == 0) {
		*why = "empty (expected user:password)";
		return (-1);
	}
	if ((colon = memchr(buf, ':', len)) == NULL) {
		*why = "no ':' (expected user:password)";
		return (-1);
	}
	if (colon == buf) {
		*why = "empty user name (expected user:password)";
		return (-1);
	}
	n = 6 + (len + 2) / 3 * 4 + 1;
	out = xmalloc(n);
	memcpy(out, "Basic ", 6);
	base64_encode(buf, len, out + 6, n - 6);
	*auth = out;
	return (0);
}

/*
 * An upstream's url: "http://HOST:PORT" or "https://HOST:PORT" (a final
 * "/" allowed), into t and *tls. Returns 0, or -1 with *why. The caller
 * refuses user information before (its message must not show it).
 */
int
config_upstream_url(const char *s, struct hg_target *t, int *tls,
    const char **why)
{
	const char	*a;
	size_t		 len;

	if (strncasecmp(s, "http://", 7) == 0) {
		*tls = 0;
		a = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		*tls = 1;
		a = s + 8;
	} else {
		*why = "expected http://HOST:PORT or https://HOST:PORT";
		return (-1);
	}
	len = strlen(a);
	if (len > 0 && a[len - 1] == '/')
		len--;
	if (strcspn(a, "/?#") < len) {
		*why = "a proxy's URL has no path or query";
		return (-1);
	}
	memset(t, 0, sizeof *t);
	return (target_parse(a, len, 0, t, why));
}

/* ---- upstreams ---------------------------------------------------------- */

void
cfg_set_upstream_name(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_upstream	*up = arg;
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;
	size_t			 i;

	if ((s = cfg_want_string(ld, v, "upstreams.name")) == NULL)
		return;
	if (!cfg_category_name_valid(s) || strlen(s) > HG_MAX_UPSTREAM_NAME) {
		cfg_err(ld, v, "upstreams.name: invalid name '%s' (lowercase "
		    "letters, digits, '-' and '_', at most %d)", s,
		    HG_MAX_UPSTREAM_NAME);
		return;
	}
	if (strcmp(s, "direct") == 0) {
		cfg_err(ld, v, "upstreams.name: 'direct' is reserved (a route's "
		    "direct connection)");
		return;
	}
	for (i = 0; i < cf->cf_nupstreams; i++)
		if (strcmp(cf->cf_upstreams[i].up_name, s) == 0) {
			cfg_err(ld, v, "upstreams.name: duplicate upstream "
			    "name '%s'", s);
			return;
		}
	free(up->up_name);
	up->up_name = xstrdup(s);
}

void
cfg_set_upstream_url(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_upstream	*up = arg;
	const char		*s, *why;
	const char		*auth;

	if ((s = cfg_want_string(ld, v, "upstreams.url")) == NULL)
		return;
	auth = strstr(s, "://");
	auth = auth != NULL ? auth + 3 : s;
	if (memchr(auth, '@', strcspn(auth, "/?#")) != NULL) {
		/* not shown: it may hold a password */
		cfg_err(ld, v, "upstreams.url: user information in the URL "
		    "(credentials go in credentials_file)");
		return;
	}
	if (config_upstream_url(s, &up->up_addr, &up->up_tls, &why) != 0) {
		cfg_err(ld, v, "upstreams.url: '%s': %s", s, why);
		return;
	}
	free(up->up_url);
	up->up_url = xstrdup(s);
}

void
cfg_set_upstream_ca(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_upstream	*up = arg;
	const char		*s;

	if ((s = cfg_want_string(ld, v, "upstreams.ca")) == NULL)
		return;
	free(up->up_ca);
	up->up_ca = path_join_dir(ld->ld_file, s);
	up->up_ca_line = (unsigned)v->start_mark.line + 1;
	up->up_ca_col = (unsigned)v->start_mark.column + 1;
}

/*
 * credentials_file: read now (and on every reload), so that a file that
 * cannot be used fails the load at its place; its contents never appear
 * in a message.
 */
void
cfg_set_upstream_credentials(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_upstream	*up = arg;
	const char		*s, *why;
	char			 buf[HG_MAX_CREDENTIALS + 1];
	size_t			 len;
	FILE			*f;
	int			 rc;

	if ((s = cfg_want_string(ld, v, "upstreams.credentials_file")) == NULL)
		return;
	free(up->up_cred_file);
	up->up_cred_file = path_join_dir(ld->ld_file, s);
	if ((f = fopen(up->up_cred_file, "rb")) == NULL) {
		cfg_err(ld, v, "upstreams.credentials_file: cannot open %s: %s",
		    up->up_cred_file, strerror(errno));
		return;
	}
	len = fread(buf, 1, sizeof buf, f);
	rc = ferror(f);
	fclose(f);
	if (rc) {
		cfg_err(ld, v, "upstreams.credentials_file: %s: read error",
		    up->up_cred_file);
	} else if (len > HG_MAX_CREDENTIALS) {
		cfg_err(ld, v, "upstreams.credentials_file: %s: larger than %d "
		    "bytes", up->up_cred_file, HG_MAX_CREDENTIALS);
	} else {
		if (up->up_auth != NULL) {
			explicit_bzero(up->up_auth, strlen(up->up_auth));
			free(up->up_auth);
		}
		if (credentials_parse(buf, len, &up->up_auth, &why) != 0)
			cfg_err(ld, v, "upstreams.credentials_file: %s: %s",
			    up->up_cred_file, why);
	}
	explicit_bzero(buf, sizeof buf);
}

/* upstreams: [{name, url, ca, credentials_file, max_failures, hold_time}] */
void
cfg_set_upstreams(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_upstream	 up;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	size_t			 i, before;

	for (i = 0; i < cf->cf_nupstreams; i++)
		cfg_upstream_free(&cf->cf_upstreams[i], cf->cf_tlsc_free);
	cf->cf_nupstreams = 0;
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "upstreams") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if (cfg_want_kind(ld, n, YAML_MAPPING_NODE, "upstreams") != 0)
			continue;
		memset(&up, 0, sizeof up);
		up.up_max_failures = HG_UPSTREAM_FAILURES;
		up.up_hold = HG_UPSTREAM_HOLD;
		up.up_file = ld->ld_file;
		up.up_line = (unsigned)n->start_mark.line + 1;
		up.up_col = (unsigned)n->start_mark.column + 1;
		before = errors_total(ld->ld_errs);
		cfg_walk(ld, CS_UPSTREAM, n, &up, NULL);
		if (errors_total(ld->ld_errs) != before) {
			cfg_upstream_free(&up, NULL);
			continue;
		}
		if (up.up_name == NULL || up.up_url == NULL)
			cfg_err(ld, n, "upstreams: an upstream needs a name and "
			    "a url");
		else if (up.up_ca != NULL && !up.up_tls)
			errors_add(ld->ld_errs, ld->ld_file, up.up_ca_line,
			    up.up_ca_col, "upstreams.ca: only an https:// "
			    "upstream has a certificate to verify");
		else if (cf->cf_nupstreams == HG_MAX_UPSTREAMS)
			cfg_err(ld, n, "upstreams: more than %d upstreams",
			    HG_MAX_UPSTREAMS);
		else {
			cf->cf_upstreams[cf->cf_nupstreams++] = up;
			continue;
		}
		cfg_upstream_free(&up, NULL);
	}
}

/* ---- routes ------------------------------------------------------------- */

/* One name of a via: kept with its place, resolved at the end. */
static void
via_add(struct loader *ld, struct hg_route *ro, yaml_node_t *n,
    const char *what)
{
	struct hg_via	*vi;
	const char	*s;
	size_t		 i;

	if ((s = cfg_want_string(ld, n, what)) == NULL)
		return;
	for (i = 0; i < ro->ro_nvia; i++)
		if (strcmp(ro->ro_via[i].vi_name, s) == 0) {
			cfg_err(ld, n, "%s: '%s' is named twice", what, s);
			return;
		}
	if (ro->ro_nvia == HG_MAX_VIA) {
		cfg_err(ld, n, "%s: more than %d entries", what, HG_MAX_VIA);
		return;
	}
	vi = &ro->ro_via[ro->ro_nvia++];
	vi->vi_name = xstrdup(s);
	vi->vi_up = HG_NONE;
	vi->vi_file = ld->ld_file;
	vi->vi_line = (unsigned)n->start_mark.line + 1;
	vi->vi_col = (unsigned)n->start_mark.column + 1;
}

/* A via: one name, or a list of names in the order they are tried. */
static void
via_list(struct loader *ld, struct hg_route *ro, yaml_node_t *v,
    const char *what)
{
	yaml_node_item_t	*it;

	for (; ro->ro_nvia > 0; ro->ro_nvia--)
		free(ro->ro_via[ro->ro_nvia - 1].vi_name);
	if (v->type == YAML_SCALAR_NODE && !cfg_is_null(v)) {
		via_add(ld, ro, v, what);
		return;
	}
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		via_add(ld, ro, cfg_node(ld, *it), what);
	if (ro->ro_nvia == 0 && v->data.sequence.items.start ==
	    v->data.sequence.items.top)
		cfg_err(ld, v, "%s: at least one entry is needed (an upstream "
		    "or direct)", what);
}

void
cfg_set_route_via(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	via_list(ld, arg, v, "routes.via");
}

void
cfg_set_route_default(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	via_list(ld, &ld->ld_cf->cf_route_default, v, "route_default");
}

/* One host pattern of a route, as rules take it. */
static void
route_host(struct loader *ld, struct hg_route *ro, const char *s, size_t len,
    unsigned line, unsigned col)
{
	const char	*why;
	uint32_t	 file;

	if (ro->ro_hosts == NULL) {
		ro->ro_hosts = ruleset_new();
		file = ruleset_add_file(ro->ro_hosts, ld->ld_file);
		ruleset_add_category(ro->ro_hosts, "route", HG_ACT_ALLOW, file,
		    line);
	}
	file = ruleset_add_file(ro->ro_hosts, ld->ld_file);
	if (ruleset_add_pattern(ro->ro_hosts, 0, s, len, file, line,
	    &why) != 0)
		errors_add(ld->ld_errs, ld->ld_file, line, col,
		    "routes.hosts: invalid pattern '%s': %s", s, why);
}

/* routes.hosts: patterns as a category's hosts (packed when long). */
void
cfg_set_route_hosts(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_route			*ro = arg;
	const struct yamlpack_seq	*ps;
	const struct yamlpack_item	*pi;
	yaml_node_item_t		*it;
	yaml_node_t			*n;
	const char			*s;
	size_t				 i;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "routes.hosts") != 0)
		return;
	if ((ps = yamldoc_packed(ld->ld_yd, v)) != NULL) {
		for (i = 0; i < ps->ys_n; i++) {
			pi = &ld->ld_yd->yd_items[ps->ys_first + i];
			if (pi->yi_node != 0) {
				n = cfg_node(ld, pi->yi_node);
				if ((s = cfg_want_string(ld, n,
				    "routes.hosts")) != NULL)
					route_host(ld, ro, s, strlen(s),
					    pi->yi_line, pi->yi_col);
				continue;
			}
			s = ld->ld_yd->yd_arena + pi->yi_off;
			if (cfg_null_spelling(pi->yi_style, s) ||
			    strlen(s) != pi->yi_len)
				errors_add(ld->ld_errs, ld->ld_file,
				    pi->yi_line, pi->yi_col,
				    "routes.hosts: expected a string");
			else
				route_host(ld, ro, s, pi->yi_len, pi->yi_line,
				    pi->yi_col);
		}
		return;
	}
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if ((s = cfg_want_string(ld, n, "routes.hosts")) == NULL)
			continue;
		route_host(ld, ro, s, n->data.scalar.length,
		    (unsigned)n->start_mark.line + 1,
		    (unsigned)n->start_mark.column + 1);
	}
}

/* routes.categories: names, resolved at the end (they may be defined in
 * an included file). */
void
cfg_set_route_categories(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_route		*ro = arg;
	struct hg_routecat	*rc;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "routes.categories") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if ((s = cfg_want_string(ld, n, "routes.categories")) == NULL)
			continue;
		ro->ro_cats = xreallocarray(ro->ro_cats, ro->ro_ncats + 1,
		    sizeof *ro->ro_cats);
		rc = &ro->ro_cats[ro->ro_ncats++];
		rc->rc_name = xstrdup(s);
		rc->rc_cat = HG_NONE;
		rc->rc_file = ld->ld_file;
		rc->rc_line = (unsigned)n->start_mark.line + 1;
		rc->rc_col = (unsigned)n->start_mark.column + 1;
	}
}

/* routes: [{hosts: [PATTERN ...], categories: [NAME ...], via: [NAME ...]}] */
void
cfg_set_routes(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_route		 ro;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	size_t			 i, before;

	for (i = 0; i < cf->cf_nroutes; i++)
		cfg_route_free(&cf->cf_routes[i]);
	cf->cf_nroutes = 0;
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "routes") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if (cfg_want_kind(ld, n, YAML_MAPPING_NODE, "routes") != 0)
			continue;
		memset(&ro, 0, sizeof ro);
		ro.ro_file = ld->ld_file;
		ro.ro_line = (unsigned)n->start_mark.line + 1;
		before = errors_total(ld->ld_errs);
		cfg_walk(ld, CS_ROUTE, n, &ro, NULL);
		if (errors_total(ld->ld_errs) != before) {
			cfg_route_free(&ro);
			continue;
		}
		if (ro.ro_nvia == 0)
			cfg_err(ld, n, "routes: a route needs via (the upstreams "
			    "to try, in order; direct for none)");
		else if (ro.ro_hosts == NULL && ro.ro_ncats == 0)
			cfg_err(ld, n, "routes: a route needs hosts or "
			    "categories (route_default is the route of the "
			    "rest)");
		else if (cf->cf_nroutes == HG_MAX_ROUTES)
			cfg_err(ld, n, "routes: more than %d routes",
			    HG_MAX_ROUTES);
		else {
			cf->cf_routes = xreallocarray(cf->cf_routes,
			    cf->cf_nroutes + 1, sizeof *cf->cf_routes);
			cf->cf_routes[cf->cf_nroutes++] = ro;
			continue;
		}
		cfg_route_free(&ro);
	}
}

/* ---- once everything is read ------------------------------------------ */

/* "corp1, corp2" of the upstreams of cf, for a message. */
static void
upstream_names(const struct hg_config *cf, char *buf, size_t len)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; i < cf->cf_nupstreams; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s, ",
		    cf->cf_upstreams[i].up_name);
}

static void
route_resolve(struct loader *ld, struct hg_route *ro, const char *what)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_via		*vi;
	struct hg_routecat	*rc;
	struct hg_errors	 warns;
	char			 names[HG_MAX_UPSTREAMS *
				    (HG_MAX_UPSTREAM_NAME + 2) + 1];
	size_t			 i, j;

	for (i = 0; i < ro->ro_nvia; i++) {
		vi = &ro->ro_via[i];
		if (strcmp(vi->vi_name, "direct") == 0) {
			vi->vi_up = HG_NONE;
			continue;
		}
		for (j = 0; j < cf->cf_nupstreams; j++)
			if (strcmp(cf->cf_upstreams[j].up_name,
			    vi->vi_name) == 0)
				break;
		if (j < cf->cf_nupstreams) {
			vi->vi_up = (uint32_t)j;
			continue;
		}
		upstream_names(cf, names, sizeof names);
		errors_add(ld->ld_errs, vi->vi_file, vi->vi_line, vi->vi_col,
		    "%s: unknown upstream '%s' (upstreams: %sor direct)", what,
		    vi->vi_name, names);
	}
	for (i = 0; i < ro->ro_ncats; i++) {
		rc = &ro->ro_cats[i];
		if ((rc->rc_cat = ruleset_find_category(cf->cf_rules,
		    rc->rc_name)) == HG_NONE)
			errors_add(ld->ld_errs, rc->rc_file, rc->rc_line,
			    rc->rc_col, "routes.categories: unknown category "
			    "'%s'", rc->rc_name);
	}
	if (ro->ro_hosts != NULL) {
		errors_init(&warns);
		ruleset_compile(ro->ro_hosts, &warns);
		errors_free(&warns);
	}
}

/*
 * The names of the routes resolved: each via entry to its upstream (or
 * direct), each category to the rules' own; errors at the name's place.
 * No route_default means direct.
 */
void
cfg_upstream_finish(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_route		*def = &cf->cf_route_default;
	size_t			 i;

	for (i = 0; i < cf->cf_nroutes; i++)
		route_resolve(ld, &cf->cf_routes[i], "routes.via");
	if (def->ro_nvia == 0) {
		def->ro_via[0].vi_name = xstrdup("direct");
		def->ro_via[0].vi_up = HG_NONE;
		def->ro_nvia = 1;
	}
	route_resolve(ld, def, "route_default");
}

/* ---- lookups ------------------------------------------------------------ */

/*
 * The route of an allowed request for t, decided d: the first entry of
 * routes whose hosts (when it has any) match t and whose categories (when
 * it has any) hold d's category; else route_default.
 */
const struct hg_route *
config_route(const struct hg_config *cf, const struct hg_target *t,
    const struct hg_decision *d)
{
	const struct hg_route	*ro;
	struct hg_decision	 m;
	size_t			 i, j;

	for (i = 0; i < cf->cf_nroutes; i++) {
		ro = &cf->cf_routes[i];
		if (ro->ro_hosts != NULL) {
			ruleset_match(ro->ro_hosts, t, &m);
			if (m.d_category == HG_NONE)
				continue;
		}
		if (ro->ro_ncats > 0) {
			if (d->d_category == HG_NONE)
				continue;
			for (j = 0; j < ro->ro_ncats; j++)
				if (ro->ro_cats[j].rc_cat == d->d_category)
					break;
			if (j == ro->ro_ncats)
				continue;
		}
		return (ro);
	}
	return (&cf->cf_route_default);
}

/* The name of a via entry: an upstream's, or "direct". */
const char *
config_via_name(const struct hg_config *cf, const struct hg_via *vi)
{
	if (vi->vi_up == HG_NONE || vi->vi_up >= cf->cf_nupstreams)
		return ("direct");
	return (cf->cf_upstreams[vi->vi_up].up_name);
}

/* "corp1,corp2,direct": the via of a route, for explain and messages. */
void
config_route_text(const struct hg_config *cf, const struct hg_route *ro,
    char *buf, size_t len)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; i < ro->ro_nvia; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    i > 0 ? "," : "", config_via_name(cf, &ro->ro_via[i]));
}
