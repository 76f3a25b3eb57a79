/*
 * rptout.c -- the sections of `hushgate report` from its counts: totals by
 * action, the hosts most denied, categories, clients, users, bytes, and
 * the discovery listing (hosts no rule matched, by registrable domain),
 * which --unknown --format yaml writes as a category to paste into a
 * configuration.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

/* One row to sort: by key, largest first, then by name. */
struct rpt_rank {
	uint64_t	 rk_key;
	uint32_t	 rk_id;
	const char	*rk_name;
};

static int
rpt_rank_cmp(const void *a, const void *b)
{
	const struct rpt_rank	*x = a, *y = b;

	if (x->rk_key != y->rk_key)
		return (x->rk_key > y->rk_key ? -1 : 1);
	return (strcmp(x->rk_name, y->rk_name));
}

/* The rows of table t with a non-zero key(id), sorted; *n of them. */
static struct rpt_rank *
rpt_rank(const struct rpttab *t, const void *ctx,
    uint64_t (*key)(const void *, uint32_t), size_t *n)
{
	struct rpt_rank	*rk;
	size_t		 i;
	uint64_t	 k;

	rk = xreallocarray(NULL, t->rt_count + 1, sizeof *rk);
	*n = 0;
	for (i = 0; i < t->rt_count; i++) {
		if ((k = key(ctx, (uint32_t)i)) == 0)
			continue;
		rk[*n].rk_key = k;
		rk[*n].rk_id = (uint32_t)i;
		rk[*n].rk_name = rpttab_key(t, (uint32_t)i);
		(*n)++;
	}
	qsort(rk, *n, sizeof *rk, rpt_rank_cmp);
	return (rk);
}

static uint64_t
rpt_requests(const struct rpt_counts *c)
{
	return (c->rc_req[RPT_ALLOW] + c->rc_req[RPT_DENY] +
	    c->rc_req[RPT_AUDIT] + c->rc_req[RPT_NOACTION]);
}

static uint64_t
key_denied(const void *ctx, uint32_t id)
{
	return (((const struct rptstat *)ctx)->rs_host[id].rh_c.rc_req[
	    RPT_DENY]);
}

static uint64_t
key_bytes(const void *ctx, uint32_t id)
{
	const struct rpt_counts	*c = &((const struct rptstat *)ctx)->
	    rs_host[id].rh_c;

	return (c->rc_up + c->rc_down);
}

static uint64_t
key_unknown(const void *ctx, uint32_t id)
{
	return (((const struct rptstat *)ctx)->rs_host[id].rh_unknown);
}

static uint64_t
key_domain(const void *ctx, uint32_t id)
{
	return (((const struct rptstat *)ctx)->rs_domain[id].rd_req);
}

static uint64_t
key_counts(const void *ctx, uint32_t id)
{
	return (rpt_requests(&((const struct rpt_counts *)ctx)[id]));
}

/* How many rows a listing of n shows. */
static size_t
rpt_limit(const struct rpt_opts *o, size_t n)
{
	return (o->ro_top > 0 && o->ro_top < n ? o->ro_top : n);
}

static const char *const summary_cols[] = {
	"records", "skipped", "first", "last"
};
static const int summary_types[] = { RPT_COL_NUM, RPT_COL_NUM, 0, 0 };

static void
rpt_summary(struct rptsheet *sh, const struct rptstat *st,
    unsigned long long skipped)
{
	char	first[40] = "-", last[40] = "-";

	rptsheet_init(sh, "summary", "Records", 4, summary_cols,
	    summary_types);
	if (st->rs_records > 0) {
		rpt_time_format(st->rs_first, first, sizeof first);
		rpt_time_format(st->rs_last, last, sizeof last);
	}
	rptsheet_cell(sh, "%llu", (unsigned long long)st->rs_records);
	rptsheet_cell(sh, "%llu", skipped);
	rptsheet_cell(sh, "%s", first);
	rptsheet_cell(sh, "%s", last);
}

static const char *const totals_cols[] = {
	"action", "requests", "bytes_up", "bytes_down"
};
static const int totals_types[] = {
	0, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM
};
static const char *const rpt_action_names[RPT_NACTIONS] = {
	"allow", "deny", "audit", "none"
};

static void
rpt_totals(struct rptsheet *sh, const struct rptstat *st)
{
	int	a;

	rptsheet_init(sh, "totals", "Totals by action", 4, totals_cols,
	    totals_types);
	for (a = 0; a < RPT_NACTIONS; a++) {
		if (a == RPT_NOACTION && st->rs_total.rc_req[a] == 0)
			continue;
		rptsheet_cell(sh, "%s", rpt_action_names[a]);
		rptsheet_cell(sh, "%llu",
		    (unsigned long long)st->rs_total.rc_req[a]);
		rptsheet_cell(sh, "%llu", (unsigned long long)st->rs_up[a]);
		rptsheet_cell(sh, "%llu", (unsigned long long)st->rs_down[a]);
	}
	rptsheet_cell(sh, "total");
	rptsheet_cell(sh, "%llu", (unsigned long long)st->rs_records);
	rptsheet_cell(sh, "%llu", (unsigned long long)st->rs_total.rc_up);
	rptsheet_cell(sh, "%llu", (unsigned long long)st->rs_total.rc_down);
}

static const char *const denied_cols[] = {
	"host", "denied", "category", "rule"
};
static const int denied_types[] = { 0, RPT_COL_NUM, 0, 0 };

static void
rpt_denied(struct rptsheet *sh, const struct rptstat *st,
    const struct rpt_opts *o)
{
	struct rpt_rank		*rk;
	const struct rpt_host	*h;
	size_t			 n, i;

	rptsheet_init(sh, "denied", "Top denied hosts", 4, denied_cols,
	    denied_types);
	rk = rpt_rank(&st->rs_hosts, st, key_denied, &n);
	for (i = 0; i < rpt_limit(o, n); i++) {
		h = &st->rs_host[rk[i].rk_id];
		rptsheet_cell(sh, "%s", rk[i].rk_name);
		rptsheet_cell(sh, "%llu", (unsigned long long)rk[i].rk_key);
		rptsheet_cell(sh, "%s", rpttab_key(&st->rs_cats, h->rh_cat));
		rptsheet_cell(sh, "%s", rpttab_key(&st->rs_rules,
		    h->rh_rule));
	}
	free(rk);
}

static const char *const cats_cols[] = {
	"category", "requests", "allow", "deny", "audit", "none"
};
static const int cats_types[] = {
	0, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM
};

static void
rpt_categories(struct rptsheet *sh, const struct rptstat *st,
    const struct rpt_opts *o)
{
	struct rpt_rank		*rk;
	const struct rpt_counts	*c;
	size_t			 n, i;
	int			 a;

	rptsheet_init(sh, "categories", "Categories", 6, cats_cols,
	    cats_types);
	rk = rpt_rank(&st->rs_cats, st->rs_cat, key_counts, &n);
	for (i = 0; i < rpt_limit(o, n); i++) {
		c = &st->rs_cat[rk[i].rk_id];
		rptsheet_cell(sh, "%s", rk[i].rk_name);
		rptsheet_cell(sh, "%llu", (unsigned long long)rk[i].rk_key);
		for (a = 0; a < RPT_NACTIONS; a++)
			rptsheet_cell(sh, "%llu",
			    (unsigned long long)c->rc_req[a]);
	}
	free(rk);
}

static const char *const who_cols[][8] = {
	{ "client", "requests", "allow", "deny", "audit", "none", "bytes_up",
	    "bytes_down" },
	{ "user", "requests", "allow", "deny", "audit", "none", "bytes_up",
	    "bytes_down" }
};
static const int who_types[] = {
	0, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM,
	RPT_COL_NUM, RPT_COL_NUM
};

/* Clients (users 0) or users (1). */
static void
rpt_who(struct rptsheet *sh, const struct rptstat *st,
    const struct rpt_opts *o, int users)
{
	const struct rpttab	*t = users ? &st->rs_users : &st->rs_clients;
	const struct rpt_counts	*arr = users ? st->rs_user :
				    st->rs_client;
	struct rpt_rank		*rk;
	const struct rpt_counts	*c;
	size_t			 n, i;
	int			 a;

	rptsheet_init(sh, users ? "users" : "clients", users ? "Users" :
	    "Clients", 8, who_cols[users], who_types);
	/* (every client and user counted has its counters) */
	n = users ? st->rs_usercap : st->rs_clientcap;
	if (n < t->rt_count)
		return;
	rk = rpt_rank(t, arr, key_counts, &n);
	for (i = 0; i < rpt_limit(o, n); i++) {
		c = &arr[rk[i].rk_id];
		rptsheet_cell(sh, "%s", rk[i].rk_name);
		rptsheet_cell(sh, "%llu", (unsigned long long)rk[i].rk_key);
		for (a = 0; a < RPT_NACTIONS; a++)
			rptsheet_cell(sh, "%llu",
			    (unsigned long long)c->rc_req[a]);
		rptsheet_cell(sh, "%llu", (unsigned long long)c->rc_up);
		rptsheet_cell(sh, "%llu", (unsigned long long)c->rc_down);
	}
	free(rk);
}

static const char *const bytes_cols[] = {
	"host", "bytes", "bytes_up", "bytes_down", "requests"
};
static const int bytes_types[] = {
	0, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM, RPT_COL_NUM
};

static void
rpt_bytes(struct rptsheet *sh, const struct rptstat *st,
    const struct rpt_opts *o)
{
	struct rpt_rank		*rk;
	const struct rpt_counts	*c;
	size_t			 n, i;

	rptsheet_init(sh, "bytes", "Bytes by host", 5, bytes_cols,
	    bytes_types);
	rk = rpt_rank(&st->rs_hosts, st, key_bytes, &n);
	for (i = 0; i < rpt_limit(o, n); i++) {
		c = &st->rs_host[rk[i].rk_id].rh_c;
		rptsheet_cell(sh, "%s", rk[i].rk_name);
		rptsheet_cell(sh, "%llu", (unsigned long long)rk[i].rk_key);
		rptsheet_cell(sh, "%llu", (unsigned long long)c->rc_up);
		rptsheet_cell(sh, "%llu", (unsigned long long)c->rc_down);
		rptsheet_cell(sh, "%llu", (unsigned long long)rpt_requests(c));
	}
	free(rk);
}

/* The clients of domain d, comma-separated, "+" when there were more. */
static void
rpt_clients_of(const struct rptstat *st, const struct rpt_domain *d,
    char *buf, size_t size)
{
	size_t	i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < d->rd_nclients && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    i == 0 ? "" : ",", rpttab_key(&st->rs_clients,
		    d->rd_clients[i]));
	if (d->rd_more && len < size)
		snprintf(buf + len, size - len, ",+");
}

static const char *const unknown_cols[] = {
	"domain", "requests", "hosts", "first", "last", "clients"
};
static const int unknown_types[] = {
	0, RPT_COL_NUM, RPT_COL_NUM, 0, 0, RPT_COL_LIST
};

static void
rpt_unknown_domains(struct rptsheet *sh, const struct rptstat *st,
    const struct rpt_opts *o)
{
	struct rpt_rank			*rk;
	const struct rpt_domain		*d;
	char				 first[40], last[40];
	char				 clients[RPT_DOMAIN_CLIENTS *
					     (RPT_MAX_FIELD + 1) + 4];
	size_t				 n, i;

	rptsheet_init(sh, "unknown", "Hosts no rule matched (decided by "
	    "the default), by registrable domain", 6, unknown_cols,
	    unknown_types);
	rk = rpt_rank(&st->rs_domains, st, key_domain, &n);
	for (i = 0; i < rpt_limit(o, n); i++) {
		d = &st->rs_domain[rk[i].rk_id];
		rpt_time_format(d->rd_first, first, sizeof first);
		rpt_time_format(d->rd_last, last, sizeof last);
		rpt_clients_of(st, d, clients, sizeof clients);
		rptsheet_cell(sh, "%s", rk[i].rk_name);
		rptsheet_cell(sh, "%llu", (unsigned long long)d->rd_req);
		rptsheet_cell(sh, "%u", d->rd_hosts);
		rptsheet_cell(sh, "%s", first);
		rptsheet_cell(sh, "%s", last);
		rptsheet_cell(sh, "%s", clients);
	}
	free(rk);
}

static const char *const uhosts_cols[] = {
	"host", "domain", "requests", "first", "last"
};
static const int uhosts_types[] = { 0, 0, RPT_COL_NUM, 0, 0 };

static void
rpt_unknown_hosts(struct rptsheet *sh, const struct rptstat *st,
    const struct rpt_opts *o)
{
	struct rpt_rank		*rk;
	const struct rpt_host	*h;
	char			 first[40], last[40];
	size_t			 n, i;

	rptsheet_init(sh, "unknown_hosts", "Hosts no rule matched", 5,
	    uhosts_cols, uhosts_types);
	rk = rpt_rank(&st->rs_hosts, st, key_unknown, &n);
	for (i = 0; i < rpt_limit(o, n); i++) {
		h = &st->rs_host[rk[i].rk_id];
		rpt_time_format(h->rh_first, first, sizeof first);
		rpt_time_format(h->rh_last, last, sizeof last);
		rptsheet_cell(sh, "%s", rk[i].rk_name);
		rptsheet_cell(sh, "%s", rpttab_key(&st->rs_domains,
		    h->rh_domain));
		rptsheet_cell(sh, "%llu", (unsigned long long)h->rh_unknown);
		rptsheet_cell(sh, "%s", first);
		rptsheet_cell(sh, "%s", last);
	}
	free(rk);
}

/* s for a YAML comment: printable ASCII only. */
static void
rpt_yaml_comment(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', f);
}

/* Only a name the proxy could have logged makes a pattern. */
static int
rpt_yaml_name(const char *name)
{
	return (*name != '\0' && name[strspn(name,
	    "abcdefghijklmnopqrstuvwxyz0123456789-._:")] == '\0');
}

/*
 * --unknown --format yaml: the unknown domains as one category of deny
 * patterns (".domain": the domain and its subdomains; an address as
 * itself), with TODO texts to fill in.
 */
static void
rpt_yaml(FILE *f, const struct rptstat *st, const struct rpt_opts *o)
{
	struct rpt_rank			*rk;
	const struct rpt_domain		*d;
	const char			*name;
	char				 first[40], last[40];
	char				 clients[RPT_DOMAIN_CLIENTS *
					     (RPT_MAX_FIELD + 1) + 4];
	size_t				 n, i, shown;
	int				 addr;

	rk = rpt_rank(&st->rs_domains, st, key_domain, &n);
	for (i = 0, shown = 0; i < rpt_limit(o, n); i++)
		shown += rpt_yaml_name(rk[i].rk_name);
	fprintf(f, "# Written by hushgate report --unknown: %zu registrable "
	    "domains no rule matched\n# (the default decided them). Check "
	    "each, replace the TODO texts, then paste\n# under categories: "
	    "or include this file.\ncategories:\n  discovered:\n"
	    "    action: deny\n"
	    "    description: \"TODO: what these hosts are for\"\n"
	    "    breaks: \"TODO: what stops working when they are denied\"\n"
	    "    hosts:%s\n", shown, shown == 0 ? " []" : "");
	for (i = 0; i < rpt_limit(o, n); i++) {
		d = &st->rs_domain[rk[i].rk_id];
		name = rk[i].rk_name;
		if (!rpt_yaml_name(name))
			continue;
		addr = strchr(name, ':') != NULL ||
		    name[strspn(name, "0123456789.")] == '\0';
		rpt_time_format(d->rd_first, first, sizeof first);
		rpt_time_format(d->rd_last, last, sizeof last);
		rpt_clients_of(st, d, clients, sizeof clients);
		fprintf(f, "      - \"%s%s\"    # %llu requests, %u hosts, "
		    "%s .. %s, clients ", addr ? "" : ".", name,
		    (unsigned long long)d->rd_req, d->rd_hosts, first, last);
		rpt_yaml_comment(f, clients);
		fputc('\n', f);
	}
	free(rk);
}

/* Print the report of st in o's format; skipped: lines not counted. */
void
rptout_print(FILE *f, const struct rptstat *st, const struct rpt_opts *o,
    unsigned long long skipped)
{
	struct rptsheet	sh[9];
	size_t		n = 0, i;

	if (o->ro_format == RPT_YAML) {
		rpt_yaml(f, st, o);
		return;
	}
	if (!o->ro_unknown) {
		rpt_summary(&sh[n++], st, skipped);
		rpt_totals(&sh[n++], st);
		rpt_denied(&sh[n++], st, o);
		rpt_categories(&sh[n++], st, o);
		rpt_who(&sh[n++], st, o, 0);
		rpt_who(&sh[n++], st, o, 1);
		rpt_bytes(&sh[n++], st, o);
	}
	rpt_unknown_domains(&sh[n++], st, o);
	rpt_unknown_hosts(&sh[n++], st, o);
	if (o->ro_format == RPT_JSON)
		fputc('{', f);
	for (i = 0; i < n; i++) {
		rptsheet_print(f, &sh[i], o->ro_format, i == 0);
		rptsheet_free(&sh[i]);
	}
	if (o->ro_format == RPT_JSON)
		fputs("\n}\n", f);
}
