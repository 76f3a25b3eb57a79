/*
 * rptstat.c -- the counts of `hushgate report`: each record read adds to
 * the totals and to the counters of its host, category, client and user;
 * a host that no rule matched (the default decided) also to those of its
 * registrable domain, as the Public Suffix List (libpsl's built-in copy)
 * tells it. Everything is keyed by string tables: the memory grows with
 * the distinct hosts, clients ..., never with the lines.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "cmd/cmd.h"

/* Grow *arr (of *cap elements of size bytes) to hold n, zeroing the new
 * ones. */
static void
rpt_grow(void *arrp, size_t *cap, size_t n, size_t size)
{
	void	**arr = arrp;
	size_t	  ncap = *cap;

	if (n <= *cap)
		return;
	while (ncap < n)
		ncap = ncap == 0 ? 64 : ncap * 2;
	*arr = xreallocarray(*arr, ncap, size);
	memset((char *)*arr + *cap * size, 0, (ncap - *cap) * size);
	*cap = ncap;
}

void
rptstat_init(struct rptstat *st)
{
	memset(st, 0, sizeof *st);
	rpttab_init(&st->rs_hosts);
	rpttab_init(&st->rs_cats);
	rpttab_init(&st->rs_rules);
	rpttab_init(&st->rs_clients);
	rpttab_init(&st->rs_users);
	rpttab_init(&st->rs_domains);
	st->rs_psl = psl_builtin();
}

void
rptstat_free(struct rptstat *st)
{
	rpttab_free(&st->rs_hosts);
	rpttab_free(&st->rs_cats);
	rpttab_free(&st->rs_rules);
	rpttab_free(&st->rs_clients);
	rpttab_free(&st->rs_users);
	rpttab_free(&st->rs_domains);
	free(st->rs_host);
	free(st->rs_cat);
	free(st->rs_client);
	free(st->rs_user);
	free(st->rs_domain);
	memset(st, 0, sizeof *st);
}

static void
rpt_count(struct rpt_counts *c, const struct rpt_rec *r)
{
	c->rc_req[r->rr_action]++;
	c->rc_up += r->rr_up;
	c->rc_down += r->rr_down;
}

/* The counters of string s in t, whose array is *arr of *cap. */
static struct rpt_counts *
rpt_counts_of(struct rpttab *t, struct rpt_counts **arr, size_t *cap,
    const char *s)
{
	uint32_t	id = rpttab_intern(t, s, strlen(s), NULL);

	rpt_grow(arr, cap, (size_t)id + 1, sizeof **arr);
	return (&(*arr)[id]);
}

/* Whether host is an IP address literal (no registrable domain). */
static int
rpt_is_address(const char *host)
{
	if (strchr(host, ':') != NULL)
		return (1);
	return (host[strspn(host, "0123456789.")] == '\0');
}

/* The number of host's registrable domain in rs_domains: for an address
 * or a public suffix, the host itself. */
static uint32_t
rpt_domain_of(struct rptstat *st, const char *host)
{
	const char	*d = NULL;
	uint32_t	 id;

	if (!rpt_is_address(host))
		d = psl_registrable_domain(st->rs_psl, host);
	if (d == NULL)
		d = host;
	id = rpttab_intern(&st->rs_domains, d, strlen(d), NULL);
	rpt_grow(&st->rs_domain, &st->rs_domaincap, (size_t)id + 1,
	    sizeof *st->rs_domain);
	return (id);
}

/* A request the default decided for host h (number id). */
static void
rpt_unknown(struct rptstat *st, struct rpt_host *h, const char *host,
    const struct rpt_rec *r)
{
	struct rpt_domain	*d;
	uint32_t		 client, i;

	if (h->rh_unknown++ == 0) {
		h->rh_domain = rpt_domain_of(st, host);
		h->rh_first = h->rh_last = r->rr_ms;
		st->rs_domain[h->rh_domain].rd_hosts++;
	}
	if (r->rr_ms < h->rh_first)
		h->rh_first = r->rr_ms;
	if (r->rr_ms > h->rh_last)
		h->rh_last = r->rr_ms;
	d = &st->rs_domain[h->rh_domain];
	if (d->rd_req++ == 0)
		d->rd_first = d->rd_last = r->rr_ms;
	if (r->rr_ms < d->rd_first)
		d->rd_first = r->rr_ms;
	if (r->rr_ms > d->rd_last)
		d->rd_last = r->rr_ms;
	client = rpttab_intern(&st->rs_clients, r->rr_client[0] != '\0' ?
	    r->rr_client : "(none)", r->rr_client[0] != '\0' ?
	    strlen(r->rr_client) : 6, NULL);
	for (i = 0; i < d->rd_nclients; i++)
		if (d->rd_clients[i] == client)
			return;
	if (d->rd_nclients < RPT_DOMAIN_CLIENTS)
		d->rd_clients[d->rd_nclients++] = client;
	else
		d->rd_more = 1;
}

/* Count one record. */
void
rptstat_add(struct rptstat *st, const struct rpt_rec *r)
{
	struct rpt_host	*h;
	const char	*cat;
	uint32_t	 id;

	if (st->rs_records++ == 0)
		st->rs_first = st->rs_last = r->rr_ms;
	if (r->rr_ms < st->rs_first)
		st->rs_first = r->rr_ms;
	if (r->rr_ms > st->rs_last)
		st->rs_last = r->rr_ms;
	rpt_count(&st->rs_total, r);
	st->rs_up[r->rr_action] += r->rr_up;
	st->rs_down[r->rr_action] += r->rr_down;
	rpt_count(rpt_counts_of(&st->rs_clients, &st->rs_client,
	    &st->rs_clientcap, r->rr_client[0] != '\0' ? r->rr_client :
	    "(none)"), r);
	rpt_count(rpt_counts_of(&st->rs_users, &st->rs_user,
	    &st->rs_usercap, r->rr_user[0] != '\0' ? r->rr_user : "(none)"),
	    r);
	if (r->rr_category[0] != '\0')
		cat = r->rr_category;
	else
		cat = r->rr_default ? "(default)" : "(none)";
	rpt_count(rpt_counts_of(&st->rs_cats, &st->rs_cat, &st->rs_catcap,
	    cat), r);
	if (r->rr_host[0] == '\0')
		return;
	id = rpttab_intern(&st->rs_hosts, r->rr_host, strlen(r->rr_host),
	    NULL);
	rpt_grow(&st->rs_host, &st->rs_hostcap, (size_t)id + 1,
	    sizeof *st->rs_host);
	h = &st->rs_host[id];
	rpt_count(&h->rh_c, r);
	if (r->rr_action == RPT_DENY) {
		h->rh_cat = rpttab_intern(&st->rs_cats, cat, strlen(cat), NULL);
		h->rh_rule = rpttab_intern(&st->rs_rules,
		    r->rr_rule[0] != '\0' ? r->rr_rule : "-",
		    r->rr_rule[0] != '\0' ? strlen(r->rr_rule) : 1, NULL);
	}
	if (r->rr_default)
		rpt_unknown(st, h, rpttab_key(&st->rs_hosts, id), r);
}
