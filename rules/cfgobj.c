/*
 * cfgobj.c -- the configuration object: a fresh one with the defaults of
 * the keyword table, what a reload from one to another cannot apply,
 * references, and the questions the proxy asks it (may this client use
 * the proxy, which group is it in, ...).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

/*
 * A new listener of the given kind at addr, after the others of its kind
 * (the proxy's first, then the PAC's, then the admin's); NULL when the
 * kind has HG_MAX_LISTEN already.
 */
struct hg_listener *
cfg_listener_add(struct hg_config *cf, enum hg_listen_kind kind,
    const char *addr)
{
	struct hg_listener	*li;
	size_t			 i;

	if (config_nlisteners(cf, kind) == HG_MAX_LISTEN)
		return (NULL);
	for (i = 0; i < cf->cf_nlisteners; i++)
		if (cf->cf_listeners[i].li_kind > kind)
			break;
	li = &cf->cf_listeners[i];
	memmove(li + 1, li, (cf->cf_nlisteners - i) * sizeof *li);
	cf->cf_nlisteners++;
	memset(li, 0, sizeof *li);
	li->li_kind = kind;
	li->li_addr = xstrdup(addr);
	return (li);
}

/* Forget the listeners of one kind. */
void
cfg_listener_clear(struct hg_config *cf, enum hg_listen_kind kind)
{
	struct hg_listener	*li;
	size_t			 i, n = 0;

	for (i = 0; i < cf->cf_nlisteners; i++) {
		li = &cf->cf_listeners[i];
		if (li->li_kind != kind) {
			cf->cf_listeners[n++] = *li;
			continue;
		}
		free(li->li_addr);
		free(li->li_cert);
		free(li->li_key);
		free(li->li_tls_at);
		if (li->li_tls != NULL && cf->cf_tls_free != NULL)
			cf->cf_tls_free(li->li_tls);
	}
	cf->cf_nlisteners = n;
}

void
cfg_group_free(struct hg_group *gr)
{
	size_t	i;

	free(gr->gr_name);
	free(gr->gr_nets);
	for (i = 0; i < gr->gr_nusers; i++)
		free(gr->gr_users[i]);
	free(gr->gr_users);
}

void
cfg_free(struct hg_config *cf)
{
	size_t	i;

	free(cf->cf_file);
	cfg_listener_clear(cf, HG_LISTEN_PROXY);
	cfg_listener_clear(cf, HG_LISTEN_PAC);
	cfg_listener_clear(cf, HG_LISTEN_ADMIN);
	free(cf->cf_clients);
	for (i = 0; i < cf->cf_ngroups; i++)
		cfg_group_free(&cf->cf_groups[i]);
	free(cf->cf_groups);
	free(cf->cf_auth_realm);
	free(cf->cf_users_file);
	users_free(cf->cf_users, cf->cf_nusers);
	free(cf->cf_dest_allow);
	free(cf->cf_trusted_proxies);
	free(cf->cf_metrics_allow);
	free(cf->cf_user);
	free(cf->cf_chroot);
	portset_free(&cf->cf_connect_ports);
	portset_free(&cf->cf_http_ports);
	portset_free(&cf->cf_tls_ports);
	free(cf->cf_hosts_file);
	for (i = 0; i < cf->cf_ndns_servers; i++)
		free(cf->cf_dns_servers[i]);
	free(cf->cf_dns_servers);
	free(cf->cf_decisions);
	free(cf->cf_cache_dir);
	for (i = 0; i < cf->cf_nsources; i++) {
		free(cf->cf_sources[i].ls_url);
		free(cf->cf_sources[i].ls_format);
		free(cf->cf_sources[i].ls_ca_file);
		free(cf->cf_sources[i].ls_body);
		free(cf->cf_sources[i].ls_meta);
	}
	free(cf->cf_sources);
	ruleset_free(cf->cf_rules);
	errors_free(&cf->cf_warnings);
	for (i = 0; i < cf->cf_npac_proxy; i++)
		free(cf->cf_pac_proxy[i]);
	for (i = 0; i < cf->cf_npac_bypass; i++)
		free(cf->cf_pac_bypass[i]);
	free(cf->cf_pac_bypass);
	free(cf->cf_pac_bypass_nets);
	pac_free(cf->cf_pac);
	free(cf);
}

/* A default as a file would write it: a list's items are words. */
static int
default_node(yaml_document_t *doc, const struct cfg_key *ck)
{
	const char	*s = ck->ck_default, *end;
	int		 seq, item;

	if (ck->ck_type != CT_CIDRS && ck->ck_type != CT_PORTS &&
	    ck->ck_type != CT_LISTEN)
		return (yaml_document_add_scalar(doc, NULL,
		    (yaml_char_t *)s, (int)strlen(s),
		    YAML_PLAIN_SCALAR_STYLE));
	seq = yaml_document_add_sequence(doc, NULL, YAML_FLOW_SEQUENCE_STYLE);
	for (; *s != '\0'; s = *end != '\0' ? end + 1 : end) {
		end = s + strcspn(s, " ");
		item = yaml_document_add_scalar(doc, NULL, (yaml_char_t *)s,
		    (int)(end - s), YAML_PLAIN_SCALAR_STYLE);
		if (seq == 0 || item == 0 ||
		    !yaml_document_append_sequence_item(doc, seq, item))
			return (0);
	}
	return (seq);
}

/*
 * Give a new configuration the defaults of the table: each default goes
 * through its key's own reader, as if the file began with it. A default
 * that does not read is a mistake in the table: abort.
 */
static void
defaults(struct hg_config *cf)
{
	struct loader		 ld;
	struct hg_errors	 errs;
	yaml_document_t		 doc;
	const struct cfg_key	*ck;
	int			 id;

	memset(&ld, 0, sizeof ld);
	errors_init(&errs);
	if (!yaml_document_initialize(&doc, NULL, NULL, NULL, 1, 1))
		abort();
	ld.ld_cf = cf;
	ld.ld_rs = cf->cf_rules;
	ld.ld_errs = &errs;
	ld.ld_file = "(defaults)";
	ld.ld_doc = &doc;
	for (ck = cfg_keys; ck < cfg_keys + cfg_nkeys; ck++) {
		if (ck->ck_default == NULL || cfg_entry_key(ck))
			continue;
		if ((id = default_node(&doc, ck)) == 0)
			abort();
		cfg_set(&ld, ck, cfg_node(&ld, id), cfg_node(&ld, id), cf);
	}
	yaml_document_delete(&doc);
	if (errors_total(&errs) != 0) {
		errors_print(&errs, stderr);
		abort();
	}
	errors_free(&errs);
}

/*
 * A new configuration with the defaults of the keyword table (one
 * reference), before any file is read.
 */
struct hg_config *
cfg_new(void)
{
	struct hg_config	*cf;

	cf = xcalloc(1, sizeof *cf);
	cf->cf_refs = 1;
	cf->cf_rules = ruleset_new();
	errors_init(&cf->cf_warnings);
	defaults(cf);
	return (cf);
}

static int
strings_same(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

static int
cidrs_same(const struct hg_cidr *a, size_t na, const struct hg_cidr *b,
    size_t nb)
{
	size_t	i;

	if (na != nb)
		return (0);
	for (i = 0; i < na; i++)
		if (a[i].ci_family != b[i].ci_family ||
		    a[i].ci_bits != b[i].ci_bits ||
		    memcmp(a[i].ci_addr, b[i].ci_addr,
		    sizeof a[i].ci_addr) != 0)
			return (0);
	return (1);
}

static int
ports_same(const struct hg_portset *a, const struct hg_portset *b)
{
	size_t	i;

	if (a->ps_count != b->ps_count)
		return (0);
	for (i = 0; i < a->ps_count; i++)
		if (a->ps_ranges[i].pr_lo != b->ps_ranges[i].pr_lo ||
		    a->ps_ranges[i].pr_hi != b->ps_ranges[i].pr_hi)
			return (0);
	return (1);
}

/* Listeners of one kind: the same addresses, PROXY protocol and TLS. */
static int
listeners_same(const struct hg_config *a, const struct hg_config *b,
    enum hg_listen_kind kind)
{
	const struct hg_listener	*la = a->cf_listeners;
	const struct hg_listener	*lb = b->cf_listeners;
	const struct hg_listener	*ea = la + a->cf_nlisteners;
	const struct hg_listener	*eb = lb + b->cf_nlisteners;

	for (;; la++, lb++) {
		while (la < ea && la->li_kind != kind)
			la++;
		while (lb < eb && lb->li_kind != kind)
			lb++;
		if (la == ea || lb == eb)
			return (la == ea && lb == eb);
		if (strcmp(la->li_addr, lb->li_addr) != 0 ||
		    la->li_pp != lb->li_pp ||
		    (la->li_cert == NULL) != (lb->li_cert == NULL))
			return (0);
	}
}

/* Whether configurations a and b have the same value of the setting ck. */
static int
key_same(const struct cfg_key *ck, const struct hg_config *a,
    const struct hg_config *b)
{
	const char		*pa = (const char *)a + ck->ck_off;
	const char		*pb = (const char *)b + ck->ck_off;
	const struct cfg_key	*sub;

	switch (ck->ck_type) {
	case CT_OTHER:
		return (ck->ck_same == NULL || ck->ck_same(a, b));
	case CT_SECTION:
		for (sub = cfg_keys; sub < cfg_keys + cfg_nkeys; sub++)
			if (sub->ck_section == (enum cfg_section)ck->ck_arg &&
			    !key_same(sub, a, b))
				return (0);
		return (1);
	case CT_UINT:
	case CT_TIMEOUT:
	case CT_DURATION:
		return (*(const unsigned *)pa == *(const unsigned *)pb);
	case CT_SWITCH:
	case CT_CHOICE:
		return (*(const int *)pa == *(const int *)pb);
	case CT_SIZE:
		return (*(const uint64_t *)pa == *(const uint64_t *)pb);
	case CT_RATIO:
		return (*(const double *)pa == *(const double *)pb);
	case CT_PATH:
		return (strings_same(*(char *const *)pa, *(char *const *)pb));
	case CT_CIDRS:
		return (cidrs_same(*(struct hg_cidr *const *)pa,
		    *(const size_t *)((const char *)a + ck->ck_noff),
		    *(struct hg_cidr *const *)pb,
		    *(const size_t *)((const char *)b + ck->ck_noff)));
	case CT_PORTS:
		return (ports_same((const struct hg_portset *)pa,
		    (const struct hg_portset *)pb));
	case CT_LISTEN:
		return (listeners_same(a, b, ck->ck_arg));
	}
	return (1);
}

/* Say, for each key of sec that needs a restart, if it changed. */
static size_t
restart_walk(enum cfg_section sec, const struct hg_config *running,
    const struct hg_config *cf, config_change_fn fn, void *arg)
{
	const struct cfg_key	*ck;
	char			 path[CFG_MAX_PATH], msg[128];
	size_t			 n = 0;

	for (ck = cfg_keys; ck < cfg_keys + cfg_nkeys; ck++) {
		if (ck->ck_section != sec)
			continue;
		if (!(ck->ck_flags & CK_RESTART)) {
			if (ck->ck_type == CT_SECTION)
				n += restart_walk(ck->ck_arg, running, cf, fn,
				    arg);
			continue;
		}
		if (key_same(ck, running, cf))
			continue;
		cfg_key_path(ck, path, sizeof path);
		if (ck->ck_type == CT_SECTION)
			snprintf(msg, sizeof msg, "%s changes take effect at "
			    "the next start", path);
		else
			snprintf(msg, sizeof msg, "a %s change takes effect at "
			    "the next start", path);
		fn(msg, arg);
		n++;
	}
	return (n);
}

/*
 * What a reload from running to cf cannot apply: calls fn with a message
 * ("a listen change takes effect at the next start") for each setting
 * that needs a restart and differs. Returns the number of messages.
 */
size_t
config_restart_changes(const struct hg_config *running,
    const struct hg_config *cf, config_change_fn fn, void *arg)
{
	return (restart_walk(CS_TOP, running, cf, fn, arg));
}

void
config_ref(struct hg_config *cf)
{
	__atomic_add_fetch(&cf->cf_refs, 1, __ATOMIC_RELAXED);
}

void
config_unref(struct hg_config *cf)
{
	if (cf != NULL && __atomic_sub_fetch(&cf->cf_refs, 1,
	    __ATOMIC_ACQ_REL) == 0)
		cfg_free(cf);
}

/* May a client at this address (family 4 or 6) use the proxy? */
int
config_client_allowed(const struct hg_config *cf, int family,
    const uint8_t *addr)
{
	return (cidr_list_match(cf->cf_clients, cf->cf_nclients, family,
	    addr));
}

/* May this peer send a PROXY protocol header (trusted_proxies)? */
int
config_proxy_trusted(const struct hg_config *cf, int family,
    const uint8_t *addr)
{
	return (cidr_list_match(cf->cf_trusted_proxies,
	    cf->cf_ntrusted_proxies, family, addr));
}

/*
 * The destination guard: may the proxy connect to this address? With the
 * guard on, only public addresses and those in destinations.allow. Sets
 * *class to the address's class either way.
 */
int
config_destination_allowed(const struct hg_config *cf, int family,
    const uint8_t *addr, enum hg_addrclass *class)
{
	*class = addrclass_of(family, addr);
	if (!cf->cf_dest_guard || *class == HG_AC_PUBLIC)
		return (1);
	return (cidr_list_match(cf->cf_dest_allow, cf->cf_ndest_allow, family,
	    addr));
}

/* The number of listeners of one kind. */
size_t
config_nlisteners(const struct hg_config *cf, enum hg_listen_kind kind)
{
	size_t	i, n = 0;

	for (i = 0; i < cf->cf_nlisteners; i++)
		if (cf->cf_listeners[i].li_kind == kind)
			n++;
	return (n);
}

/* The index of the group called name, or HG_NONE. */
uint32_t
config_group_find(const struct hg_config *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->cf_ngroups; i++)
		if (strcmp(cf->cf_groups[i].gr_name, name) == 0)
			return ((uint32_t)i);
	return (HG_NONE);
}

/*
 * The group of a client at addr (family 4 or 6) authenticated as user
 * (NULL: none): the first whose networks hold the address and, when it
 * names users, whose users include user. HG_NONE when none.
 */
uint32_t
config_group_match(const struct hg_config *cf, int family,
    const uint8_t *addr, const char *user)
{
	const struct hg_group	*gr;
	size_t			 i, j;

	for (i = 0; i < cf->cf_ngroups; i++) {
		gr = &cf->cf_groups[i];
		if (!cidr_list_match(gr->gr_nets, gr->gr_nnets, family, addr))
			continue;
		if (!gr->gr_have_users)
			return ((uint32_t)i);
		if (user == NULL)
			continue;
		for (j = 0; j < gr->gr_nusers; j++)
			if (strcmp(gr->gr_users[j], user) == 0)
				return ((uint32_t)i);
	}
	return (HG_NONE);
}
