/*
 * metrics.c -- counters for GET /metrics (the Prometheus text format).
 *
 * Each worker counts in its own struct wstats, written by that worker
 * only (a relaxed load and store, no lock, no locked instruction); a
 * scrape adds up every worker's counters with relaxed loads. What a
 * scrape sees is a little behind, never torn.
 *
 * Categories are counted by name: the main thread gives each category
 * name a small number the first time a configuration names it
 * (metrics_bind(), at start and on reload), so that counters survive a
 * reload that reorders or adds categories.
 *
 * The parent proxies' counters are upstate.c's, shown here by name.
 *
 * When each url: list was last checked is kept here too, by its cache
 * metadata file: the main thread reads the file when a configuration is
 * loaded and hears of every later check from the refresher, so that a
 * scrape, on a worker, touches no file.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "proxy.h"

/* Category names by number; append-only, written by the main thread. */
static char	*cat_names[HG_METRIC_CATS];
static unsigned	 ncat_names;

/* When each list was last checked (unix time, 0: never), by metadata
 * path; append-only, written by the main thread. */
static struct list_checked {
	char		*lc_meta;
	uint64_t	 lc_checked;	/* atomic */
} lists_checked[HG_METRIC_LISTS];
static unsigned	 nlists_checked;

/* Reloads, counted by the main thread. */
static uint64_t	 reloads_ok, reloads_failed;

/* Upper bounds of the DNS latency buckets, in microseconds. */
static const unsigned dns_bounds[HG_DNS_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000,
};

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define BUMP(x, n)	__atomic_store_n(&(x), LOAD(x) + (n), __ATOMIC_RELAXED)

/*
 * Give every category of cf its counter number, and read when each of its
 * url: lists was last checked (main thread). Beyond HG_METRIC_CATS names,
 * categories share the "other" counters.
 */
void
metrics_bind(struct hg_config *cf)
{
	struct hg_category	*ca;
	const struct hg_listsrc	*src;
	struct hg_listmeta	 lm;
	const char		*why;
	size_t			 i, n = ruleset_ncategories(cf->cf_rules);
	unsigned		 k, have;

	have = __atomic_load_n(&ncat_names, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		ca = ruleset_category(cf->cf_rules, (uint32_t)i);
		for (k = 0; k < have; k++)
			if (strcmp(cat_names[k], ca->ca_name) == 0)
				break;
		if (k == have && have < HG_METRIC_CATS) {
			cat_names[have] = xstrdup(ca->ca_name);
			__atomic_store_n(&ncat_names, ++have,
			    __ATOMIC_RELEASE);
		}
		ca->ca_tag = k < have ? k + 1 : 0;
	}
	for (i = 0; i < cf->cf_nsources; i++) {
		src = &cf->cf_sources[i];
		if (src->ls_entries >= 0 &&
		    listmeta_read(src->ls_meta, &lm, &why) == 0)
			metrics_list_checked(src->ls_meta, lm.lm_checked);
	}
}

/* The url: list whose metadata file is meta was checked with its server
 * at unix time checked (main thread). */
void
metrics_list_checked(const char *meta, uint64_t checked)
{
	unsigned	k, have;

	have = __atomic_load_n(&nlists_checked, __ATOMIC_ACQUIRE);
	for (k = 0; k < have; k++)
		if (strcmp(lists_checked[k].lc_meta, meta) == 0)
			break;
	if (k == have) {
		if (have == HG_METRIC_LISTS) {
			log_warnx("metrics: more than %u url: lists, the "
			    "others' age is not shown", HG_METRIC_LISTS);
			return;
		}
		lists_checked[k].lc_meta = xstrdup(meta);
		lists_checked[k].lc_checked = checked;
		__atomic_store_n(&nlists_checked, have + 1, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&lists_checked[k].lc_checked, checked,
	    __ATOMIC_RELAXED);
}

/* The name of category counter tag ("": no category), any thread. */
const char *
metrics_category_name(unsigned tag)
{
	if (tag == 0 || tag > __atomic_load_n(&ncat_names, __ATOMIC_ACQUIRE))
		return ("");
	return (cat_names[tag - 1]);
}

/* Category counters in use, besides counter 0 (no category). */
unsigned
metrics_ncategories(void)
{
	return (__atomic_load_n(&ncat_names, __ATOMIC_ACQUIRE));
}

/* When the list with metadata file meta was last checked (0: never, or
 * not known); any thread. */
static uint64_t
list_checked(const char *meta)
{
	unsigned	k, have;

	have = __atomic_load_n(&nlists_checked, __ATOMIC_ACQUIRE);
	for (k = 0; k < have; k++)
		if (strcmp(lists_checked[k].lc_meta, meta) == 0)
			return (LOAD(lists_checked[k].lc_checked));
	return (0);
}

/* Seconds since url: list i of cf was last checked (-1: never). */
long long
metrics_list_age(const struct hg_config *cf, size_t i)
{
	time_t		now = time(NULL);
	uint64_t	checked = cf->cf_sources[i].ls_entries < 0 ? 0 :
			    list_checked(cf->cf_sources[i].ls_meta);

	if (checked != 0 && (time_t)checked <= now)
		return ((long long)(now - (time_t)checked));
	return (-1);
}

void
metrics_reload(int ok)
{
	if (ok)
		BUMP(reloads_ok, 1);
	else
		BUMP(reloads_failed, 1);
}

/* One decision record, counted (the worker that wrote it); its category
 * counter and action are stored in *catp and *actp. */
void
metrics_record(struct wstats *ws, const struct hg_config *cf,
    const struct dlog_record *r, const struct hg_decision *d,
    unsigned *catp, unsigned *actp)
{
	const struct hg_category	*ca;
	unsigned			 cat = 0, act;

	if (d != NULL && d->d_category != HG_NONE &&
	    (ca = ruleset_category_const(cf->cf_rules, d->d_category)) !=
	    NULL)
		cat = ca->ca_tag;
	if (d != NULL)
		act = d->d_action;
	else if (r->dr_action == NULL)
		act = HG_ACT_NONE;
	else if (strcmp(r->dr_action, "deny") == 0)
		act = HG_ACT_DENY;
	else if (strcmp(r->dr_action, "audit") == 0)
		act = HG_ACT_AUDIT;
	else
		act = HG_ACT_ALLOW;
	*catp = cat;
	*actp = act;
	BUMP(ws->ws_decisions[cat][act], 1);
	BUMP(ws->ws_ends[r->dr_end < END_MAX ? r->dr_end : END_NONE], 1);
	BUMP(ws->ws_bytes_up, r->dr_bytes_up);
	BUMP(ws->ws_bytes_down, r->dr_bytes_down);
	BUMP(ws->ws_requests, 1);
}

void
metrics_connection(struct wstats *ws)
{
	BUMP(ws->ws_connections, 1);
}

/* An accept failed for want of descriptors or memory: accepting pauses. */
void
metrics_accept_paused(struct wstats *ws)
{
	BUMP(ws->ws_accept_paused, 1);
}

/* A name resolution took us microseconds. */
void
metrics_dns(struct wstats *ws, uint64_t us)
{
	unsigned	i;

	for (i = 0; i < HG_DNS_BUCKETS && us > dns_bounds[i]; i++)
		;
	BUMP(ws->ws_dns[i], 1);
	BUMP(ws->ws_dns_sum_us, us);
}

/* Add the counters of one worker into sum (a scrape, any thread). */
void
metrics_add(struct wstats *sum, const struct wstats *ws)
{
	unsigned	i, j;

	sum->ws_connections += LOAD(ws->ws_connections);
	sum->ws_requests += LOAD(ws->ws_requests);
	sum->ws_bytes_up += LOAD(ws->ws_bytes_up);
	sum->ws_bytes_down += LOAD(ws->ws_bytes_down);
	sum->ws_dns_sum_us += LOAD(ws->ws_dns_sum_us);
	sum->ws_accept_paused += LOAD(ws->ws_accept_paused);
	for (i = 0; i <= HG_DNS_BUCKETS; i++)
		sum->ws_dns[i] += LOAD(ws->ws_dns[i]);
	for (i = 0; i < END_MAX; i++)
		sum->ws_ends[i] += LOAD(ws->ws_ends[i]);
	for (i = 0; i <= HG_METRIC_CATS; i++)
		for (j = 0; j < 4; j++)
			sum->ws_decisions[i][j] += LOAD(ws->ws_decisions[i][j]);
}

static void
head(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void
label(struct evbuffer *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

static const char *const action_labels[4] = {
	[HG_ACT_NONE] = "none", [HG_ACT_ALLOW] = "allow",
	[HG_ACT_DENY] = "deny", [HG_ACT_AUDIT] = "audit",
};

/* A line of one upstream's counter: name{upstream="NAME"[,kind="K"]} n */
static void
upstream_line(struct evbuffer *out, const char *name,
    const struct hg_upstream *up, const char *kind, uint64_t n)
{
	evbuffer_add_printf(out, "%s{upstream=\"", name);
	label(out, up->up_name);
	if (kind != NULL)
		evbuffer_add_printf(out, "\",kind=\"%s", kind);
	evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)n);
}

/* The parent proxies of cf (upstreams:), each by name (upstate.c). */
static void
metrics_upstreams(struct evbuffer *out, const struct hg_config *cf)
{
	struct upstate_counts	 uc[HG_MAX_UPSTREAMS];
	size_t			 i, n = cf->cf_nupstreams;
	unsigned		 k;

	for (i = 0; i < n; i++)
		upstate_counts(&cf->cf_upstreams[i], &uc[i]);
	head(out, "hushgate_upstream_requests_total", "counter",
	    "Requests sent to each parent proxy (upstreams), each entry of a "
	    "route tried counting once.");
	for (i = 0; i < n; i++)
		upstream_line(out, "hushgate_upstream_requests_total",
		    &cf->cf_upstreams[i], NULL, uc[i].uc_requests);
	head(out, "hushgate_upstream_failures_total", "counter",
	    "Requests to each parent proxy that failed, by kind: unreachable "
	    "(no answer), tls, auth (407), refused (4xx to CONNECT), failed "
	    "(5xx to CONNECT).");
	for (i = 0; i < n; i++)
		for (k = 0; k < UPF_MAX; k++)
			upstream_line(out, "hushgate_upstream_failures_total",
			    &cf->cf_upstreams[i], upstate_kind_name(k),
			    uc[i].uc_failures[k]);
	head(out, "hushgate_upstream_skipped_total", "counter",
	    "Requests whose route skipped a parent proxy marked down.");
	for (i = 0; i < n; i++)
		upstream_line(out, "hushgate_upstream_skipped_total",
		    &cf->cf_upstreams[i], NULL, uc[i].uc_skipped);
	head(out, "hushgate_upstream_marked_down_total", "counter",
	    "Times each parent proxy was marked down (max_failures "
	    "consecutive failures).");
	for (i = 0; i < n; i++)
		upstream_line(out, "hushgate_upstream_marked_down_total",
		    &cf->cf_upstreams[i], NULL, uc[i].uc_downs);
	head(out, "hushgate_upstream_down", "gauge",
	    "1 while a parent proxy is marked down (skipped until its "
	    "hold_time is over, then probed).");
	for (i = 0; i < n; i++)
		upstream_line(out, "hushgate_upstream_down",
		    &cf->cf_upstreams[i], NULL, (uint64_t)uc[i].uc_down);
}

/*
 * The directory lookups of ldap: (none shown without one).
 */
static void
render_ldap(struct evbuffer *out, const struct ldap_counts *lk)
{
	head(out, "hushgate_ldap_up", "gauge",
	    "1 while the directory of ldap: answers (or has not been asked "
	    "yet), 0 while it does not.");
	evbuffer_add_printf(out, "hushgate_ldap_up %d\n", lk->lk_up);
	head(out, "hushgate_ldap_unreachable_total", "counter",
	    "Times the directory stopped answering (down, timeout, bind "
	    "refused).");
	evbuffer_add_printf(out, "hushgate_ldap_unreachable_total %llu\n",
	    (unsigned long long)lk->lk_unreachable);
	head(out, "hushgate_ldap_lookups_total", "counter",
	    "Lookups of a user's directory groups, by whether the directory "
	    "answered.");
	evbuffer_add_printf(out, "hushgate_ldap_lookups_total"
	    "{result=\"ok\"} %llu\nhushgate_ldap_lookups_total"
	    "{result=\"failed\"} %llu\n", (unsigned long long)lk->lk_ok,
	    (unsigned long long)lk->lk_failed);
	head(out, "hushgate_ldap_cache_hits_total", "counter",
	    "Requests whose user's directory groups were known (within "
	    "ldap.ttl): no lookup.");
	evbuffer_add_printf(out, "hushgate_ldap_cache_hits_total %llu\n",
	    (unsigned long long)lk->lk_cache_hits);
	head(out, "hushgate_ldap_lookup_waits_total", "counter",
	    "Requests that waited for a lookup another request had started.");
	evbuffer_add_printf(out, "hushgate_ldap_lookup_waits_total %llu\n",
	    (unsigned long long)lk->lk_waits);
	head(out, "hushgate_ldap_fail_closed_total", "counter",
	    "Requests whose user's directory groups could not be confirmed "
	    "within ldap.ttl: in none.");
	evbuffer_add_printf(out, "hushgate_ldap_fail_closed_total %llu\n",
	    (unsigned long long)lk->lk_fail_closed);
	head(out, "hushgate_ldap_lookups_in_flight", "gauge",
	    "Lookups queued or running.");
	evbuffer_add_printf(out, "hushgate_ldap_lookups_in_flight %u\n",
	    lk->lk_in_flight);
	head(out, "hushgate_ldap_cached_users", "gauge",
	    "Users whose directory groups are kept.");
	evbuffer_add_printf(out, "hushgate_ldap_cached_users %zu\n",
	    lk->lk_users);
}

/*
 * The whole exposition for configuration cf, from the figures of the
 * caller: sum, every worker's counters added (metrics_add()); open, the
 * connections open; ac, the password checks; lk, the directory lookups.
 */
void
metrics_render(struct evbuffer *out, const struct hg_config *cf,
    const struct wstats *sum, unsigned open, const struct auth_counts *ac,
    const struct ldap_counts *lk)
{
	unsigned	 i, j, ncat;
	size_t		 nr[5] = { 0 };
	uint64_t	 acc;

	head(out, "hushgate_connections_open", "gauge",
	    "Client connections open now.");
	evbuffer_add_printf(out, "hushgate_connections_open %u\n", open);
	head(out, "hushgate_connections_total", "counter",
	    "Client connections accepted.");
	evbuffer_add_printf(out, "hushgate_connections_total %llu\n",
	    (unsigned long long)sum->ws_connections);
	head(out, "hushgate_accept_paused_total", "counter",
	    "Accepts that failed for want of file descriptors or memory; "
	    "each pauses accepting on that worker for a moment.");
	evbuffer_add_printf(out, "hushgate_accept_paused_total %llu\n",
	    (unsigned long long)sum->ws_accept_paused);
	head(out, "hushgate_requests_total", "counter",
	    "Requests decided (one decision log record each).");
	evbuffer_add_printf(out, "hushgate_requests_total %llu\n",
	    (unsigned long long)sum->ws_requests);

	head(out, "hushgate_decisions_total", "counter",
	    "Decisions by action and category (\"\" when no rule matched).");
	ncat = __atomic_load_n(&ncat_names, __ATOMIC_ACQUIRE);
	for (i = 0; i <= ncat; i++)
		for (j = 0; j < 4; j++) {
			if (sum->ws_decisions[i][j] == 0)
				continue;
			evbuffer_add_printf(out, "hushgate_decisions_total"
			    "{action=\"%s\",category=\"", action_labels[j]);
			label(out, i == 0 ? "" : cat_names[i - 1]);
			evbuffer_add_printf(out, "\"} %llu\n",
			    (unsigned long long)sum->ws_decisions[i][j]);
		}

	head(out, "hushgate_requests_by_end_total", "counter",
	    "Requests by how they ended (the decision log's end); upstream "
	    "errors are resolve_failed, resolve_timeout, connect_failed, "
	    "connect_timeout, bad_response, response_timeout, and those of "
	    "parent proxies upstream_*.");
	for (i = 0; i < END_MAX; i++)
		evbuffer_add_printf(out, "hushgate_requests_by_end_total"
		    "{end=\"%s\"} %llu\n", dlog_end_name(i),
		    (unsigned long long)sum->ws_ends[i]);

	head(out, "hushgate_bytes_total", "counter",
	    "Bytes relayed, by direction (up: client to upstream).");
	evbuffer_add_printf(out, "hushgate_bytes_total{direction=\"up\"} "
	    "%llu\nhushgate_bytes_total{direction=\"down\"} %llu\n",
	    (unsigned long long)sum->ws_bytes_up,
	    (unsigned long long)sum->ws_bytes_down);

	head(out, "hushgate_dns_duration_seconds", "histogram",
	    "Time to resolve a destination name.");
	for (i = 0, acc = 0; i < HG_DNS_BUCKETS; i++) {
		acc += sum->ws_dns[i];
		evbuffer_add_printf(out, "hushgate_dns_duration_seconds_bucket"
		    "{le=\"%g\"} %llu\n", dns_bounds[i] / 1e6,
		    (unsigned long long)acc);
	}
	acc += sum->ws_dns[HG_DNS_BUCKETS];
	evbuffer_add_printf(out, "hushgate_dns_duration_seconds_bucket"
	    "{le=\"+Inf\"} %llu\nhushgate_dns_duration_seconds_sum %.6f\n"
	    "hushgate_dns_duration_seconds_count %llu\n",
	    (unsigned long long)acc, sum->ws_dns_sum_us / 1e6,
	    (unsigned long long)acc);

	head(out, "hushgate_reloads_total", "counter",
	    "Configuration reloads by result.");
	evbuffer_add_printf(out, "hushgate_reloads_total{result=\"ok\"} %llu\n"
	    "hushgate_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)LOAD(reloads_ok),
	    (unsigned long long)LOAD(reloads_failed));

	head(out, "hushgate_auth_hashes_total", "counter",
	    "Passwords hashed to check Basic credentials (auth.basic).");
	evbuffer_add_printf(out, "hushgate_auth_hashes_total %llu\n",
	    (unsigned long long)ac->ac_hashes);
	head(out, "hushgate_auth_cache_hits_total", "counter",
	    "Basic credentials, right or wrong, answered from a worker's "
	    "cache of checked credentials (no hash).");
	evbuffer_add_printf(out, "hushgate_auth_cache_hits_total %llu\n",
	    (unsigned long long)ac->ac_cache_hits);
	head(out, "hushgate_auth_hash_waits_total", "counter",
	    "Requests that waited for the hash of their credentials that "
	    "another request had started.");
	evbuffer_add_printf(out, "hushgate_auth_hash_waits_total %llu\n",
	    (unsigned long long)ac->ac_waits);
	head(out, "hushgate_auth_hashes_in_flight", "gauge",
	    "Password hashes queued for a thread, and being computed.");
	evbuffer_add_printf(out, "hushgate_auth_hashes_in_flight"
	    "{state=\"queued\"} %u\nhushgate_auth_hashes_in_flight"
	    "{state=\"running\"} %u\n", ac->ac_queued, ac->ac_running);
	if (cf->cf_ldap != NULL)
		render_ldap(out, lk);

	ruleset_stats(cf->cf_rules, &nr[0], &nr[1], &nr[2], &nr[3], &nr[4]);
	head(out, "hushgate_categories", "gauge",
	    "Categories in the running configuration.");
	evbuffer_add_printf(out, "hushgate_categories %zu\n",
	    ruleset_ncategories(cf->cf_rules));
	head(out, "hushgate_rules", "gauge",
	    "Rules in the running configuration (all kinds), and of them the "
	    "glob and address-prefix rules.");
	evbuffer_add_printf(out, "hushgate_rules{kind=\"all\"} %zu\n"
	    "hushgate_rules{kind=\"glob\"} %zu\n"
	    "hushgate_rules{kind=\"prefix\"} %zu\n", nr[0], nr[2], nr[3]);

	metrics_upstreams(out, cf);

	head(out, "hushgate_list_age_seconds", "gauge",
	    "Time since each url: list was last checked with its server "
	    "(-1: never downloaded).");
	for (i = 0; i < cf->cf_nsources; i++) {
		evbuffer_add_printf(out, "hushgate_list_age_seconds{url=\"");
		label(out, cf->cf_sources[i].ls_url);
		evbuffer_add_printf(out, "\"} %lld\n",
		    metrics_list_age(cf, i));
	}
}
