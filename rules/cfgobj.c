/*
 * cfgobj.c -- the configuration object: its listeners, client groups,
 * upstreams and routes, freeing it, references, and the questions the
 * proxy asks it (may this client use the proxy, which group is it in,
 * ...). A new one, with the defaults of the keyword table, is made in
 * cfgkeys.c.
 */
#include "config.h"

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

/* The ldap: settings, the bind password zeroed. */
void
cfg_ldap_free(struct hg_ldap *lc)
{
	if (lc == NULL)
		return;
	free(lc->lc_urls);
	free(lc->lc_bind_dn);
	if (lc->lc_bind_pw != NULL) {
		explicit_bzero(lc->lc_bind_pw, strlen(lc->lc_bind_pw));
		free(lc->lc_bind_pw);
	}
	free(lc->lc_base);
	free(lc->lc_filter);
	free(lc->lc_attr);
	free(lc->lc_ca_file);
	free(lc);
}

/* An upstream's strings, its secret wiped, and its TLS (tlsc_free). */
void
cfg_upstream_free(struct hg_upstream *up,
    void (*tlsc_free)(struct tls_client *))
{
	free(up->up_name);
	free(up->up_url);
	free(up->up_ca);
	free(up->up_cred_file);
	if (up->up_auth != NULL) {
		explicit_bzero(up->up_auth, strlen(up->up_auth));
		free(up->up_auth);
	}
	if (up->up_tlsc != NULL && tlsc_free != NULL)
		tlsc_free(up->up_tlsc);
	memset(up, 0, sizeof *up);
}

/* A route's hosts, categories and via. */
void
cfg_route_free(struct hg_route *ro)
{
	size_t	i;

	ruleset_free(ro->ro_hosts);
	for (i = 0; i < ro->ro_ncats; i++)
		free(ro->ro_cats[i].rc_name);
	free(ro->ro_cats);
	for (i = 0; i < ro->ro_nvia; i++)
		free(ro->ro_via[i].vi_name);
	memset(ro, 0, sizeof *ro);
}

/* The upstreams and routes of cf, freed. */
void
cfg_upstreams_free(struct hg_config *cf)
{
	size_t	i;

	for (i = 0; i < cf->cf_nupstreams; i++)
		cfg_upstream_free(&cf->cf_upstreams[i], cf->cf_tlsc_free);
	cf->cf_nupstreams = 0;
	for (i = 0; i < cf->cf_nroutes; i++)
		cfg_route_free(&cf->cf_routes[i]);
	free(cf->cf_routes);
	cf->cf_routes = NULL;
	cf->cf_nroutes = 0;
	cfg_route_free(&cf->cf_route_default);
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
	cfg_ldap_free(cf->cf_ldap);
	for (i = 0; i < cf->cf_nldap_groups; i++)
		free(cf->cf_ldap_groups[i]);
	free(cf->cf_ldap_groups);
	free(cf->cf_auth_realm);
	free(cf->cf_users_file);
	users_free(cf->cf_users, cf->cf_nusers);
	if (cf->cf_nego != NULL && cf->cf_nego_free != NULL)
		cf->cf_nego_free(cf->cf_nego);
	free(cf->cf_nego_keytab);
	free(cf->cf_nego_keytab_at);
	free(cf->cf_nego_principal);
	free(cf->cf_nego_rcache);
	free(cf->cf_dest_allow);
	free(cf->cf_trusted_proxies);
	free(cf->cf_metrics_allow);
	free(cf->cf_user);
	free(cf->cf_chroot);
	free(cf->cf_control_socket);
	free(cf->cf_control_group);
	portset_free(&cf->cf_connect_ports);
	portset_free(&cf->cf_http_ports);
	portset_free(&cf->cf_tls_ports);
	free(cf->cf_hosts_file);
	for (i = 0; i < cf->cf_ndns_servers; i++)
		free(cf->cf_dns_servers[i]);
	free(cf->cf_dns_servers);
	free(cf->cf_decisions);
	for (i = 0; i < cf->cf_nlogouts; i++)
		free(cf->cf_logouts[i].lo_to);
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
	cfg_upstreams_free(cf);
	free(cf);
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
 * (NULL: none), no directory consulted: see config_group_match_dir().
 */
uint32_t
config_group_match(const struct hg_config *cf, int family,
    const uint8_t *addr, const char *user)
{
	return (config_group_match_dir(cf, family, addr, user, NULL, NULL));
}

/*
 * The group of a client at addr (family 4 or 6) authenticated as user
 * (NULL: none): the first whose networks hold the address (a group
 * without networks holds every one) and, when it names users or an
 * ldap_group, whose users include user or whose directory group has user
 * in it. HG_NONE when none. dir is the directory groups user is in (bit
 * i: cf_ldap_groups[i]), or NULL when they are not known: then, when the
 * answer depends on them, *need is set and HG_NONE returned (with need
 * NULL, user is in no directory group).
 */
uint32_t
config_group_match_dir(const struct hg_config *cf, int family,
    const uint8_t *addr, const char *user, const uint64_t *dir, int *need)
{
	const struct hg_group	*gr;
	size_t			 i, j;

	if (need != NULL)
		*need = 0;
	for (i = 0; i < cf->cf_ngroups; i++) {
		gr = &cf->cf_groups[i];
		if (gr->gr_nnets > 0 && !cidr_list_match(gr->gr_nets,
		    gr->gr_nnets, family, addr))
			continue;
		if (!gr->gr_have_users && gr->gr_ldap == 0)
			return ((uint32_t)i);
		if (user == NULL)
			continue;
		for (j = 0; j < gr->gr_nusers; j++)
			if (strcmp(gr->gr_users[j], user) == 0)
				return ((uint32_t)i);
		if (gr->gr_ldap == 0)
			continue;
		if (dir == NULL) {
			if (need == NULL)
				continue;
			*need = 1;
			return (HG_NONE);
		}
		if ((*dir >> (gr->gr_ldap - 1)) & 1)
			return ((uint32_t)i);
	}
	return (HG_NONE);
}
