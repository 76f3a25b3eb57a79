/*
 * statusapi.c -- the JSON answers of the status page (admin.c serves
 * them, to the addresses in metrics.allow): /api/status, the figures;
 * /api/recent, the latest decisions, filtered; /api/explain, what the
 * running configuration decides for a host, as `hushgate explain` says.
 *
 * Every text in them may come from a client (hosts, methods): each is
 * written as a JSON string with everything but printable ASCII escaped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "conn.h"

#define API_VALUE_MAX	256	/* a query value, decoded */
#define API_TOP		20	/* hosts in each top list */
#define API_LIMIT	100	/* /api/recent's default limit */
#define API_LIMIT_MAX	1000

/* s as a JSON string: quotes, backslash, and all but printable ASCII
 * escaped (NULL: null). */
static void
jstr(struct evbuffer *out, const char *s)
{
	static const char	hex[] = "0123456789abcdef";
	char			esc[7];
	unsigned char		c;

	if (s == NULL) {
		evbuffer_add(out, "null", 4);
		return;
	}
	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			evbuffer_add(out, esc, 2);
		} else if (c < 0x20 || c >= 0x7f || c == '<' || c == '>' ||
		    c == '&') {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			evbuffer_add(out, esc, 6);
		} else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

/* {"allow":n,...,"total":n} of counts by action. */
static void
jcounts(struct evbuffer *out, const uint64_t n[4])
{
	evbuffer_add_printf(out, "{\"allow\":%llu,\"deny\":%llu,\"audit\":%llu,"
	    "\"none\":%llu,\"total\":%llu}", (unsigned long long)n[HG_ACT_ALLOW],
	    (unsigned long long)n[HG_ACT_DENY],
	    (unsigned long long)n[HG_ACT_AUDIT],
	    (unsigned long long)n[HG_ACT_NONE],
	    (unsigned long long)(n[0] + n[1] + n[2] + n[3]));
}

/* The answer to a bad request: {"error": why}. */
static int
bad(struct evbuffer *out, const char *why)
{
	evbuffer_drain(out, evbuffer_get_length(out));
	evbuffer_add(out, "{\"error\":", 9);
	jstr(out, why);
	evbuffer_add(out, "}\n", 2);
	return (400);
}

/* Percent-decode s[0..len) ('+' is a space) into out (n bytes with the
 * NUL); -1 when malformed, too long, or holding a control character. */
static int
decode(const char *s, size_t len, char *out, size_t n)
{
	size_t	i, o = 0;
	int	hi, lo, c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= len)
				return (-1);
			if ((hi = hex_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_value((unsigned char)s[i + 2])) < 0)
				return (-1);
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (c < 0x20 || c == 0x7f || o + 1 >= n)
			return (-1);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (0);
}

/*
 * Parse the query q[0..len) into values[i] for names[i] (NULL-ended);
 * "" for those not given. An unknown name, a name given twice or a bad
 * value: -1 with *why.
 */
static int
query_parse(const char *q, size_t len, const char *const *names,
    char values[][API_VALUE_MAX + 1], const char **why)
{
	const char	*p = q, *end = q + len, *amp, *eq;
	char		 seen[8] = { 0 };
	size_t		 i;

	for (i = 0; names[i] != NULL; i++)
		values[i][0] = '\0';
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p) {
			p++;
			continue;
		}
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		for (i = 0; names[i] != NULL; i++)
			if (strlen(names[i]) == (size_t)(eq - p) &&
			    memcmp(names[i], p, (size_t)(eq - p)) == 0)
				break;
		if (names[i] == NULL) {
			*why = "unknown query parameter";
			return (-1);
		}
		if (seen[i]++) {
			*why = "query parameter given twice";
			return (-1);
		}
		if (decode(eq == amp ? eq : eq + 1, eq == amp ? 0 :
		    (size_t)(amp - eq - 1), values[i],
		    sizeof values[i]) != 0) {
			*why = "bad query value (a %-escape, a control "
			    "character, or over 256 bytes)";
			return (-1);
		}
		p = amp + 1;
	}
	return (0);
}

struct conf_ctx {
	struct evbuffer	*out;
	int		 n;
};

static void
conf_one(unsigned gen, time_t loaded, const char *file, const char *digest,
    void *arg)
{
	struct conf_ctx	*cc = arg;

	if (file == NULL) {
		evbuffer_add_printf(cc->out, "\"generation\":%u,\"loaded\":%lld,"
		    "\"rule_files\":[", gen, (long long)loaded);
		return;
	}
	evbuffer_add_printf(cc->out, "%s{\"file\":", cc->n++ ? "," : "");
	jstr(cc->out, file);
	evbuffer_add(cc->out, ",\"sha256\":", 10);
	jstr(cc->out, digest);
	evbuffer_add(cc->out, "}", 1);
}

static void
top_list(struct evbuffer *out, const char *name, const struct status_top *t,
    size_t n)
{
	size_t	i;

	evbuffer_add_printf(out, ",\"%s\":[", name);
	for (i = 0; i < n && i < API_TOP; i++) {
		evbuffer_add_printf(out, "%s{\"host\":", i ? "," : "");
		jstr(out, t[i].tp_host);
		evbuffer_add_printf(out, ",\"count\":%llu}",
		    (unsigned long long)t[i].tp_count);
	}
	evbuffer_add(out, "]", 1);
}

/* GET /api/status. */
int
statusapi_status(struct conn *c, const char *q, size_t qlen,
    struct evbuffer *out)
{
	const struct hg_config		*cf = c->cn_cfg;
	const struct hg_category	*ca;
	struct wstats			*sum;
	struct status_sum		*ss;
	struct conf_ctx			 cc;
	uint64_t			 tot[3][4] = { { 0 } };
	unsigned			 open, i, j, ncat, n = 0;
	size_t				 k;
	char				 last[192];
	time_t				 last_at;

	if (qlen > 0)
		return (bad(out, "unknown query parameter"));
	sum = xcalloc(1, sizeof *sum);
	ss = xcalloc(1, sizeof *ss);
	open = c->cn_w->w_ops->wo_sum_stats(sum);
	c->cn_w->w_ops->wo_sum_status(ss);
	evbuffer_add(out, "{\"version\":", 11);
	jstr(out, PACKAGE_VERSION);
	evbuffer_add_printf(out, ",\"now\":%lld,\"uptime\":%lld,"
	    "\"config\":{\"file\":", (long long)time(NULL), status_uptime());
	jstr(out, cf->cf_file);
	evbuffer_add(out, ",", 1);
	cc.out = out;
	cc.n = 0;
	status_conf_each(conf_one, &cc);
	evbuffer_add_printf(out, "]},\"workers\":%u,\"connections_open\":%u,"
	    "\"connections_total\":%llu,\"requests_total\":%llu,"
	    "\"categories\":[", ss->ss_workers, open,
	    (unsigned long long)sum->ws_connections,
	    (unsigned long long)sum->ws_requests);
	ncat = metrics_ncategories();
	for (i = 0; i <= ncat && i <= HG_METRIC_CATS; i++) {
		uint64_t	any = 0;

		for (j = 0; j < 4; j++) {
			tot[0][j] += sum->ws_decisions[i][j];
			tot[1][j] += ss->ss_minute[i][j];
			tot[2][j] += ss->ss_hour[i][j];
			any |= sum->ws_decisions[i][j] | ss->ss_minute[i][j] |
			    ss->ss_hour[i][j];
		}
		if (any == 0)
			continue;
		evbuffer_add_printf(out, "%s{\"name\":", n++ ? "," : "");
		jstr(out, metrics_category_name(i));
		evbuffer_add(out, ",\"since_start\":", 15);
		jcounts(out, sum->ws_decisions[i]);
		evbuffer_add(out, ",\"last_minute\":", 15);
		jcounts(out, ss->ss_minute[i]);
		evbuffer_add(out, ",\"last_hour\":", 13);
		jcounts(out, ss->ss_hour[i]);
		evbuffer_add(out, "}", 1);
	}
	evbuffer_add(out, "],\"actions\":{\"since_start\":", 27);
	jcounts(out, tot[0]);
	evbuffer_add(out, ",\"last_minute\":", 15);
	jcounts(out, tot[1]);
	evbuffer_add(out, ",\"last_hour\":", 13);
	jcounts(out, tot[2]);
	evbuffer_add(out, "},\"lists\":[", 11);
	for (k = 0; k < cf->cf_nsources; k++) {
		ca = ruleset_category_const(cf->cf_rules,
		    cf->cf_sources[k].ls_cat);
		evbuffer_add_printf(out, "%s{\"url\":", k ? "," : "");
		jstr(out, cf->cf_sources[k].ls_url);
		evbuffer_add(out, ",\"category\":", 12);
		jstr(out, ca != NULL ? ca->ca_name : NULL);
		evbuffer_add_printf(out, ",\"entries\":%ld,\"age\":%lld",
		    cf->cf_sources[k].ls_entries, metrics_list_age(cf, k));
		if (status_list_last(cf->cf_sources[k].ls_body, last,
		    sizeof last, &last_at)) {
			evbuffer_add(out, ",\"last\":", 8);
			jstr(out, last);
			evbuffer_add_printf(out, ",\"last_at\":%lld}",
			    (long long)last_at);
		} else
			evbuffer_add(out, ",\"last\":null,\"last_at\":null}",
			    29);
	}
	evbuffer_add(out, "]", 1);
	top_list(out, "top_denied", ss->ss_top[0], ss->ss_ntop[0]);
	top_list(out, "top_unknown", ss->ss_top[1], ss->ss_ntop[1]);
	evbuffer_add(out, "}\n", 2);
	free(sum);
	status_sum_free(ss);
	return (200);
}

/* GET /api/recent?action=&category=&client=&host=&limit=N */
int
statusapi_recent(struct conn *c, const char *q, size_t qlen,
    struct evbuffer *out)
{
	static const char *const names[] = { "action", "category", "client",
	    "host", "limit", NULL };
	char			 v[5][API_VALUE_MAX + 1], *ep;
	const char		*why;
	const struct status_recent *e;
	struct status_sum	*ss;
	unsigned long		 limit = API_LIMIT;
	size_t			 i, n = 0;

	if (query_parse(q, qlen, names, v, &why) != 0)
		return (bad(out, why));
	if (v[4][0] != '\0') {
		limit = strtoul(v[4], &ep, 10);
		if (v[4][0] < '0' || v[4][0] > '9' || *ep != '\0' ||
		    limit == 0 || limit > API_LIMIT_MAX)
			return (bad(out, "limit: a number from 1 to 1000"));
	}
	ss = xcalloc(1, sizeof *ss);
	c->cn_w->w_ops->wo_sum_status(ss);
	evbuffer_add(out, "{\"recent\":[", 11);
	for (i = 0; i < ss->ss_nrecent && n < limit; i++) {
		e = &ss->ss_recent[i];
		if ((v[0][0] != '\0' && strcmp(v[0], e->re_action) != 0) ||
		    (v[1][0] != '\0' && strcmp(v[1], e->re_category) != 0) ||
		    (v[2][0] != '\0' && strcmp(v[2], e->re_client) != 0) ||
		    (v[3][0] != '\0' && strstr(e->re_host, v[3]) == NULL))
			continue;
		evbuffer_add_printf(out, "%s{\"time\":%llu.%03u,\"client\":",
		    n++ ? "," : "", (unsigned long long)(e->re_ns /
		    1000000000ULL), (unsigned)(e->re_ns / 1000000 % 1000));
		jstr(out, e->re_client);
		evbuffer_add(out, ",\"method\":", 10);
		jstr(out, e->re_method);
		evbuffer_add(out, ",\"host\":", 8);
		jstr(out, e->re_host);
		evbuffer_add_printf(out, ",\"port\":%d,\"action\":", e->re_port);
		jstr(out, e->re_action[0] ? e->re_action : NULL);
		evbuffer_add(out, ",\"category\":", 12);
		jstr(out, e->re_category[0] ? e->re_category : NULL);
		evbuffer_add(out, ",\"rule\":", 8);
		jstr(out, e->re_rule[0] ? e->re_rule : NULL);
		evbuffer_add_printf(out, ",\"default\":%s,\"status\":%d,"
		    "\"end\":\"%s\"}", e->re_default ? "true" : "false",
		    e->re_status, dlog_end_name(e->re_end));
	}
	evbuffer_add(out, "]}\n", 3);
	status_sum_free(ss);
	return (200);
}

/* GET /api/explain?host=NAME[:PORT]: a CONNECT to it, decided as
 * `hushgate explain NAME[:PORT]` does, with the running configuration. */
/*
 * The route of an allowed CONNECT, as hushgate explain prints it: the
 * entries tried in order (["corp1", "direct"]); null when the
 * configuration has no upstreams or the request is denied.
 */
static void
explain_route(const struct hg_config *cf, const struct hg_target *t,
    const struct hg_decision *d, struct evbuffer *out)
{
	const struct hg_route	*ro;
	size_t			 i;

	if (cf->cf_nupstreams == 0 || d->d_action == HG_ACT_DENY) {
		evbuffer_add(out, "null", 4);
		return;
	}
	ro = config_route(cf, t, d);
	evbuffer_add(out, "[", 1);
	for (i = 0; i < ro->ro_nvia; i++) {
		if (i > 0)
			evbuffer_add(out, ",", 1);
		jstr(out, config_via_name(cf, &ro->ro_via[i]));
	}
	evbuffer_add(out, "]", 1);
}

int
statusapi_explain(struct conn *c, const char *q, size_t qlen,
    struct evbuffer *out)
{
	static const char *const names[] = { "host", NULL };
	char			 v[1][API_VALUE_MAX + 1];
	const char		*why;
	char			*rule = NULL, target[HG_MAX_HOST + 16];
	struct hg_target	 t;
	struct hg_decision	 d;

	if (query_parse(q, qlen, names, v, &why) != 0)
		return (bad(out, why));
	if (v[0][0] == '\0')
		return (bad(out, "host: missing"));
	if (target_parse(v[0], strlen(v[0]), 443, &t, &why) != 0)
		return (bad(out, why));
	policy_decide_group(c->cn_cfg, HG_SCHEME_CONNECT, &t, HG_NONE, &d);
	if (d.d_reason == HG_REASON_PORT)
		rule = xstrdup("connect_ports");
	else if (d.d_reason == HG_REASON_RULE && d.d_file != NULL)
		xasprintf(&rule, "%s:%u", d.d_file, d.d_line);
	evbuffer_add(out, "{\"host\":", 8);
	jstr(out, t.t_host);
	evbuffer_add_printf(out, ",\"port\":%u,\"target\":", t.t_port);
	snprintf(target, sizeof target, t.t_kind == HG_HOST_IPV6 ?
	    "[%s]:%u" : "%s:%u", t.t_host, t.t_port);
	jstr(out, target);
	evbuffer_add(out, ",\"action\":", 10);
	jstr(out, action_name(d.d_action));
	evbuffer_add(out, ",\"category\":", 12);
	jstr(out, d.d_reason == HG_REASON_RULE ? d.d_category_name : NULL);
	evbuffer_add(out, ",\"rule\":", 8);
	jstr(out, rule);
	free(rule);
	evbuffer_add_printf(out, ",\"reason\":\"%s\",\"route\":",
	    d.d_reason == HG_REASON_PORT ? "port" :
	    d.d_reason == HG_REASON_DEFAULT ? "default" : "rule");
	explain_route(c->cn_cfg, &t, &d, out);
	evbuffer_add(out, "}\n", 2);
	return (200);
}
