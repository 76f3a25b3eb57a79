/*
 * cfgsettings.c -- the settings of the main configuration file: listen,
 * clients and their groups, auth, pac, metrics, destinations, timeouts,
 * dns, log and the lists settings.
 */
#include "config.h"

#include "rules/compat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

/* "127.0.0.1:3128" or "[::1]:3128"; port 0 lets the kernel choose. */
int
cfg_listen_valid(const char *s)
{
	char		 host[64];
	uint8_t		 addr[16];
	const char	*colon;
	size_t		 len;
	unsigned long	 port;
	char		*end;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return (-1);
		len = (size_t)(close - s) - 1;
		if (len == 0 || len >= sizeof host)
			return (-1);
		memcpy(host, s + 1, len);
		host[len] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return (-1);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return (-1);
		len = (size_t)(colon - s);
		if (len == 0 || len >= sizeof host)
			return (-1);
		memcpy(host, s, len);
		host[len] = '\0';
		if (inet_pton(AF_INET, host, addr) != 1)
			return (-1);
	}
	if (colon[1] < '0' || colon[1] > '9')
		return (-1);
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535)
		return (-1);
	return (0);
}

/*
 * listen.tls: {cert: FILE, key: FILE}, paths relative to the file that
 * names them. Sets *cert and *key (caller frees) or reports an error.
 */
static void
listen_tls(struct loader *ld, yaml_node_t *n, char **cert, char **key)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	const char		*s, *name;
	char			**slot;
	int			 bad = 0;

	if (cfg_want_kind(ld, n, YAML_MAPPING_NODE, "listen.tls") != 0)
		return;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = cfg_node(ld, p->key);
		v = cfg_node(ld, p->value);
		if ((name = cfg_want_string(ld, k, "listen.tls")) == NULL)
			continue;
		if (strcmp(name, "cert") == 0)
			slot = cert;
		else if (strcmp(name, "key") == 0)
			slot = key;
		else {
			cfg_err(ld, k,
			    "listen.tls: unknown key '%s' (cert, key)", name);
			continue;
		}
		if ((s = cfg_want_string(ld, v, "listen.tls")) == NULL) {
			bad = 1;
			continue;
		}
		free(*slot);
		*slot = path_join_dir(ld->ld_file, s);
	}
	if (!bad && (*cert == NULL || *key == NULL))
		cfg_err(ld, n, "listen.tls: needs both cert and key");
}

/*
 * One listen entry: "ADDRESS:PORT" or {address: ..., proxy_protocol: ...,
 * tls: {cert: ..., key: ...}}
 */
static void
listen_entry(struct loader *ld, yaml_node_t *n)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_listener	*li;
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v, *addr = NULL, *tls = NULL;
	const char		*s, *key;
	char			*cert = NULL, *tkey = NULL;
	int			 pp = 0;

	if (n->type == YAML_MAPPING_NODE) {
		for (p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			k = cfg_node(ld, p->key);
			v = cfg_node(ld, p->value);
			if ((key = cfg_want_string(ld, k, "listen")) == NULL)
				continue;
			if (strcmp(key, "address") == 0)
				addr = v;
			else if (strcmp(key, "proxy_protocol") == 0) {
				if ((s = cfg_want_string(ld, v,
				    "listen.proxy_protocol")) == NULL)
					continue;
				if (strcmp(s, "v1") == 0)
					pp = HG_PROXYPROTO_V1;
				else if (strcmp(s, "v2") == 0)
					pp = HG_PROXYPROTO_V2;
				else if (strcmp(s, "any") == 0)
					pp = HG_PROXYPROTO_V1 |
					    HG_PROXYPROTO_V2;
				else if (strcmp(s, "off") == 0)
					pp = 0;
				else
					cfg_err(ld, v, "listen.proxy_protocol: "
					    "expected v1, v2, any or off");
			} else if (strcmp(key, "tls") == 0) {
				tls = k;	/* errors point at "tls:" */
				listen_tls(ld, v, &cert, &tkey);
			} else
				cfg_err(ld, k, "listen: unknown key '%s' "
				    "(address, proxy_protocol, tls)", key);
		}
		if (addr == NULL) {
			cfg_err(ld, n, "listen: an entry needs an address");
			goto out;
		}
		n = addr;
	}
	if ((s = cfg_want_string(ld, n, "listen")) == NULL)
		goto out;
	if (cfg_listen_valid(s) != 0) {
		cfg_err(ld, n, "listen: '%s' is not ADDRESS:PORT "
		    "(an IP address; [v6]:port for IPv6)", s);
		goto out;
	}
	if ((li = cfg_listener_add(cf, HG_LISTEN_PROXY, s)) == NULL) {
		cfg_err(ld, n, "listen: more than %d addresses", HG_MAX_LISTEN);
		goto out;
	}
	li->li_pp = pp;
	if (tls != NULL && cert != NULL && tkey != NULL) {
		li->li_cert = cert;
		li->li_key = tkey;
		xasprintf(&li->li_tls_at, "%s:%u:%u", ld->ld_file,
		    (unsigned)tls->start_mark.line + 1,
		    (unsigned)tls->start_mark.column + 1);
		cert = tkey = NULL;
	}
out:
	free(cert);
	free(tkey);
}

void
cfg_set_listen(struct loader *ld, yaml_node_t *v)
{
	struct hg_config	*cf = ld->ld_cf;
	yaml_node_item_t	*it;

	cfg_listener_clear(cf, HG_LISTEN_PROXY);
	if (v->type == YAML_SCALAR_NODE || v->type == YAML_MAPPING_NODE) {
		listen_entry(ld, v);
		return;
	}
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "listen") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		listen_entry(ld, cfg_node(ld, *it));
	if (config_nlisteners(cf, HG_LISTEN_PROXY) == 0)
		cfg_err(ld, v, "listen: at least one address is needed");
}

/* One pac.listen or metrics.listen address. */
static void
side_listen_item(struct loader *ld, yaml_node_t *n, enum hg_listen_kind kind,
    const char *what)
{
	const char	*s;

	if ((s = cfg_want_string(ld, n, what)) == NULL)
		return;
	if (cfg_listen_valid(s) != 0)
		cfg_err(ld, n, "%s: '%s' is not ADDRESS:PORT "
		    "(an IP address; [v6]:port for IPv6)", what, s);
	else if (cfg_listener_add(ld->ld_cf, kind, s) == NULL)
		cfg_err(ld, n, "%s: more than %d addresses", what,
		    HG_MAX_LISTEN);
}

/* pac.listen, metrics.listen: "ADDRESS:PORT", or a list of them. */
static void
set_side_listen(struct loader *ld, yaml_node_t *v, enum hg_listen_kind kind,
    const char *what)
{
	yaml_node_item_t	*it;

	cfg_listener_clear(ld->ld_cf, kind);
	if (v->type == YAML_SCALAR_NODE) {
		side_listen_item(ld, v, kind, what);
		return;
	}
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		side_listen_item(ld, cfg_node(ld, *it), kind, what);
}

/* pac.proxy: "HOST:PORT" ("[v6]:PORT"), one or a list. */
static void
pac_proxy_item(struct loader *ld, yaml_node_t *v)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_target	 t;
	const char		*s, *why;
	char			*p;

	if ((s = cfg_want_string(ld, v, "pac.proxy")) == NULL)
		return;
	if (target_parse(s, strlen(s), 0, &t, &why) != 0) {
		cfg_err(ld, v, "pac.proxy: '%s' is not HOST:PORT: %s", s, why);
		return;
	}
	if (cf->cf_npac_proxy == HG_PAC_MAX_PROXIES) {
		cfg_err(ld, v, "pac.proxy: more than %d proxies",
		    HG_PAC_MAX_PROXIES);
		return;
	}
	xasprintf(&p, t.t_kind == HG_HOST_IPV6 ? "[%s]:%u" : "%s:%u",
	    t.t_host, t.t_port);
	cf->cf_pac_proxy[cf->cf_npac_proxy++] = p;
}

/* pac.bypass: "name", ".name", "*.name", or an address or prefix. */
static void
pac_bypass_item(struct loader *ld, yaml_node_t *v)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_target	 t;
	struct hg_cidr		 c;
	const char		*s, *h, *why;
	size_t			 skip;

	if ((s = cfg_want_string(ld, v, "pac.bypass")) == NULL)
		return;
	if (strchr(s, ':') != NULL || strchr(s, '/') != NULL ||
	    (s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789.") ==
	    strlen(s))) {
		if (cidr_parse(s, &c) != 0) {
			cfg_err(ld, v, "pac.bypass: '%s' is not an address or "
			    "prefix (ADDRESS/BITS, host bits zero)", s);
			return;
		}
		cf->cf_pac_bypass_nets = xreallocarray(cf->cf_pac_bypass_nets,
		    cf->cf_npac_bypass_nets + 1,
		    sizeof *cf->cf_pac_bypass_nets);
		cf->cf_pac_bypass_nets[cf->cf_npac_bypass_nets++] = c;
		return;
	}
	skip = s[0] == '.' ? 1 : (s[0] == '*' && s[1] == '.') ? 2 : 0;
	h = s + skip;
	if (host_normalise(h, strlen(h), &t, &why) != 0) {
		cfg_err(ld, v, "pac.bypass: '%s': %s", s, why);
		return;
	}
	if (t.t_kind != HG_HOST_NAME) {
		cfg_err(ld, v,
		    "pac.bypass: '%s' is not a name, .name, *.name or prefix",
		    s);
		return;
	}
	cf->cf_pac_bypass = xreallocarray(cf->cf_pac_bypass,
	    cf->cf_npac_bypass + 1, sizeof *cf->cf_pac_bypass);
	xasprintf(&cf->cf_pac_bypass[cf->cf_npac_bypass++], "%.*s%s",
	    (int)skip, s, t.t_host);
}

static void
pac_list(struct loader *ld, yaml_node_t *v, const char *what,
    void (*item)(struct loader *, yaml_node_t *))
{
	yaml_node_item_t	*it;

	if (v->type == YAML_SCALAR_NODE && !cfg_is_null(v)) {
		item(ld, v);
		return;
	}
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		item(ld, cfg_node(ld, *it));
}

void
cfg_pac_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	if (strcmp(key, "mode") == 0) {
		if ((s = cfg_want_string(ld, v, "pac.mode")) != NULL &&
		    pac_mode_parse(s, &cf->cf_pac_mode) != 0)
			cfg_err(ld, v,
			    "pac.mode: '%s' is not one of all, policy", s);
	} else if (strcmp(key, "fallback") == 0) {
		if ((s = cfg_want_string(ld, v, "pac.fallback")) != NULL &&
		    pac_fallback_parse(s, &cf->cf_pac_fallback) != 0)
			cfg_err(ld, v,
			    "pac.fallback: '%s' is not one of direct, block",
			    s);
	} else if (strcmp(key, "proxy") == 0)
		pac_list(ld, v, "pac.proxy", pac_proxy_item);
	else if (strcmp(key, "bypass") == 0)
		pac_list(ld, v, "pac.bypass", pac_bypass_item);
	else if (strcmp(key, "max_age") == 0)
		cfg_want_uint(ld, v, "pac.max_age", 0, 31536000,
		    &cf->cf_pac_max_age);
	else if (strcmp(key, "listen") == 0)
		set_side_listen(ld, v, HG_LISTEN_PAC, "pac.listen");
	else
		cfg_err(ld, k, "pac: unknown key '%s' (mode, fallback, proxy, "
		    "bypass, max_age, listen)", key);
}

/* A client group's users: [NAME ...] */
static void
group_users(struct loader *ld, struct hg_group *gr, yaml_node_t *v)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "clients.users") != 0)
		return;
	gr->gr_have_users = 1;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if ((s = cfg_want_string(ld, n, "clients.users")) == NULL)
			continue;
		if (!user_name_valid(s, strlen(s))) {
			cfg_err(ld, n, "clients.users: '%s' is not a user name "
			    "(printable, no ':' or white space)", s);
			continue;
		}
		gr->gr_users = xreallocarray(gr->gr_users, gr->gr_nusers + 1,
		    sizeof *gr->gr_users);
		gr->gr_users[gr->gr_nusers++] = xstrdup(s);
	}
}

static void
group_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_group		*gr = arg;
	struct hg_config	*cf = ld->ld_cf;
	yaml_node_item_t	*it;
	const char		*s;
	size_t			 i;

	if (strcmp(key, "name") == 0) {
		if ((s = cfg_want_string(ld, v, "clients.name")) == NULL)
			return;
		if (!cfg_category_name_valid(s)) {
			cfg_err(ld, v, "clients.name: invalid group name '%s' "
			    "(lowercase letters, digits, '-' and '_', at "
			    "most 64)", s);
			return;
		}
		if (strcmp(s, "default") == 0) {
			/* actions: {CATEGORY: {default: ...}} means the
			 * category's own action */
			cfg_err(ld, v, "clients.name: 'default' is reserved");
			return;
		}
		for (i = 0; i < cf->cf_ngroups; i++)
			if (strcmp(cf->cf_groups[i].gr_name, s) == 0) {
				cfg_err(ld, v, "clients.name: duplicate group "
				    "name '%s'", s);
				return;
			}
		gr->gr_name = xstrdup(s);
	} else if (strcmp(key, "networks") == 0) {
		if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE,
		    "clients.networks") != 0)
			return;
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++)
			cfg_add_cidr(ld, cfg_node(ld, *it), "clients.networks",
			    &gr->gr_nets, &gr->gr_nnets);
	} else if (strcmp(key, "users") == 0)
		group_users(ld, gr, v);
	else
		cfg_err(ld, k,
		    "clients: unknown key '%s' (name, networks, users)", key);
}

/* clients: [CIDR | {name: GROUP, networks: [CIDR ...], users: [NAME ...]}] */
void
cfg_set_clients(struct loader *ld, yaml_node_t *v)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_group		 gr;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	size_t			 i, before;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "clients") != 0)
		return;
	free(cf->cf_clients);
	cf->cf_clients = NULL;
	cf->cf_nclients = 0;
	for (i = 0; i < cf->cf_ngroups; i++)
		cfg_group_free(&cf->cf_groups[i]);
	free(cf->cf_groups);
	cf->cf_groups = NULL;
	cf->cf_ngroups = 0;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if (n->type != YAML_MAPPING_NODE) {
			cfg_add_cidr(ld, n, "clients", &cf->cf_clients,
			    &cf->cf_nclients);
			continue;
		}
		memset(&gr, 0, sizeof gr);
		before = errors_total(ld->ld_errs);
		cfg_each_pair(ld, n, group_pair, &gr);
		if (gr.gr_name == NULL || gr.gr_nnets == 0) {
			/* said already when a value was refused */
			if (errors_total(ld->ld_errs) == before)
				cfg_err(ld, n, "clients: a group needs a name "
				    "and at least one of its networks");
			cfg_group_free(&gr);
			continue;
		}
		/* A group's networks may use the proxy. */
		cf->cf_clients = xreallocarray(cf->cf_clients,
		    cf->cf_nclients + gr.gr_nnets, sizeof *cf->cf_clients);
		memcpy(cf->cf_clients + cf->cf_nclients, gr.gr_nets,
		    gr.gr_nnets * sizeof *gr.gr_nets);
		cf->cf_nclients += gr.gr_nnets;
		cf->cf_groups = xreallocarray(cf->cf_groups,
		    cf->cf_ngroups + 1, sizeof *cf->cf_groups);
		cf->cf_groups[cf->cf_ngroups++] = gr;
	}
}

/* metrics: {allow: [CIDR ...]} */
void
cfg_metrics_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;

	if (strcmp(key, "allow") == 0)
		cfg_set_cidrs(ld, v, "metrics.allow", &cf->cf_metrics_allow,
		    &cf->cf_nmetrics_allow);
	else if (strcmp(key, "listen") == 0)
		set_side_listen(ld, v, HG_LISTEN_ADMIN, "metrics.listen");
	else
		cfg_err(ld, k, "metrics: unknown key '%s' (allow, listen)",
		    key);
}

/* destinations: {guard: on|off, allow: [CIDR ...]} */
void
cfg_destinations_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;

	if (strcmp(key, "guard") == 0)
		cfg_want_switch(ld, v, "destinations.guard",
		    &cf->cf_dest_guard);
	else if (strcmp(key, "allow") == 0)
		cfg_set_cidrs(ld, v, "destinations.allow", &cf->cf_dest_allow,
		    &cf->cf_ndest_allow);
	else
		cfg_err(ld, k, "destinations: unknown key '%s' (guard, allow)",
		    key);
}

void
cfg_timeouts_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	unsigned		*out;
	const char		*s;

	if (strcmp(key, "request") == 0)
		out = &cf->cf_timeout_request;
	else if (strcmp(key, "connect") == 0)
		out = &cf->cf_timeout_connect;
	else if (strcmp(key, "idle") == 0)
		out = &cf->cf_timeout_idle;
	else if (strcmp(key, "drain") == 0)
		out = &cf->cf_timeout_drain;
	else if (strcmp(key, "response") == 0)
		out = &cf->cf_timeout_response;
	else {
		cfg_err(ld, k, "timeouts: unknown key '%s' (request, connect, "
		    "idle, drain, response)", key);
		return;
	}
	if ((s = cfg_want_string(ld, v, key)) == NULL)
		return;
	if (duration_parse(s, out) != 0 || *out == 0)
		cfg_err(ld, v, "timeouts.%s: '%s' is not a duration "
		    "(e.g. 500ms, 10s, 5m)", key, s);
}

void
cfg_dns_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s;
	uint8_t			 addr[16];
	size_t			 i;

	if (strcmp(key, "hosts_file") == 0) {
		free(cf->cf_hosts_file);
		cf->cf_hosts_file = NULL;
		if (cfg_is_null(v))
			return;
		if ((s = cfg_want_string(ld, v, "dns.hosts_file")) != NULL)
			cf->cf_hosts_file = path_join_dir(ld->ld_file, s);
	} else if (strcmp(key, "servers") == 0) {
		for (i = 0; i < cf->cf_ndns_servers; i++)
			free(cf->cf_dns_servers[i]);
		free(cf->cf_dns_servers);
		cf->cf_dns_servers = NULL;
		cf->cf_ndns_servers = 0;
		cf->cf_dns_system = 0;
		if (v->type == YAML_SCALAR_NODE) {
			if (strcmp(cfg_scalar(v), "system") == 0)
				cf->cf_dns_system = 1;
			else
				cfg_err(ld, v, "dns.servers: expected 'system' "
				    "or a list of addresses");
			return;
		}
		if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE,
		    "dns.servers") != 0)
			return;
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++) {
			n = cfg_node(ld, *it);
			if ((s = cfg_want_string(ld, n, "dns.servers")) == NULL)
				continue;
			if (inet_pton(AF_INET, s, addr) != 1 &&
			    inet_pton(AF_INET6, s, addr) != 1 &&
			    cfg_listen_valid(s) != 0) {
				cfg_err(ld, n, "dns.servers: '%s' is not an IP "
				    "address (or ADDRESS:PORT)", s);
				continue;
			}
			cf->cf_dns_servers = xreallocarray(cf->cf_dns_servers,
			    cf->cf_ndns_servers + 1,
			    sizeof *cf->cf_dns_servers);
			cf->cf_dns_servers[cf->cf_ndns_servers++] =
			    xstrdup(s);
		}
	} else
		cfg_err(ld, k, "dns: unknown key '%s' (hosts_file, servers)",
		    key);
}

void
cfg_log_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	if (strcmp(key, "decisions") == 0) {
		free(cf->cf_decisions);
		cf->cf_decisions = NULL;
		if (cfg_is_null(v))
			return;
		if ((s = cfg_want_string(ld, v, "log.decisions")) == NULL)
			return;
		if (strcmp(s, "syslog") == 0 &&
		    cfg_platform_lacks(ld, v, "log.decisions: syslog"))
			return;
		if (strcmp(s, "-") == 0 || strcmp(s, "syslog") == 0)
			cf->cf_decisions = xstrdup(s);
		else
			cf->cf_decisions = path_join_dir(ld->ld_file, s);
	} else if (strcmp(key, "format") == 0) {
		if ((s = cfg_want_string(ld, v, "log.format")) == NULL)
			return;
		if (strcmp(s, "json") == 0)
			cf->cf_log_format = HG_LOG_JSON;
		else if (strcmp(s, "squid") == 0)
			cf->cf_log_format = HG_LOG_SQUID;
		else
			cfg_err(ld, v,
			    "log.format: '%s' is not one of json, squid", s);
	} else if (strcmp(key, "level") == 0) {
		if ((s = cfg_want_string(ld, v, "log.level")) == NULL)
			return;
		if (strcmp(s, "error") == 0)
			cf->cf_log_level = 0;
		else if (strcmp(s, "warn") == 0)
			cf->cf_log_level = 1;
		else if (strcmp(s, "info") == 0)
			cf->cf_log_level = 2;
		else if (strcmp(s, "debug") == 0)
			cf->cf_log_level = 3;
		else
			cfg_err(ld, v, "log.level: '%s' is not one of error, "
			    "warn, info, debug", s);
	} else
		cfg_err(ld, k,
		    "log: unknown key '%s' (decisions, format, level)", key);
}

/* The top-level lists: {cache_dir, timeout, max_bytes, max_shrink}. */
void
cfg_lists_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;
	int			 bad = 0;

	if (strcmp(key, "cache_dir") == 0) {
		if ((s = cfg_want_string(ld, v, "lists.cache_dir")) != NULL) {
			free(cf->cf_cache_dir);
			cf->cf_cache_dir = path_join_dir(ld->ld_file, s);
		}
	} else if (strcmp(key, "timeout") == 0)
		cfg_set_duration(ld, v, "lists.timeout", 1000,
		    &cf->cf_list_timeout, &bad);
	else if (strcmp(key, "max_bytes") == 0)
		cfg_set_size(ld, v, "lists.max_bytes", &cf->cf_list_max_bytes,
		    &bad);
	else if (strcmp(key, "max_shrink") == 0)
		cfg_set_ratio(ld, v, "lists.max_shrink",
		    &cf->cf_list_max_shrink, &bad);
	else
		cfg_err(ld, k, "lists: unknown key '%s' (cache_dir, timeout, "
		    "max_bytes, max_shrink)", key);
}

static void
basic_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;
	size_t			 i;
	int			 bad = 0;

	if (strcmp(key, "users_file") == 0) {
		if ((s = cfg_want_string(ld, v, "auth.basic.users_file")) ==
		    NULL)
			return;
		free(cf->cf_users_file);
		cf->cf_users_file = path_join_dir(ld->ld_file, s);
		ld->ld_users_at = v->start_mark;
	} else if (strcmp(key, "realm") == 0) {
		if ((s = cfg_want_string(ld, v, "auth.basic.realm")) == NULL)
			return;
		for (i = 0; s[i] != '\0'; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
			    s[i] == '"' || s[i] == '\\')
				break;
		if (s[i] != '\0' || i == 0 || i > 128) {
			cfg_err(ld, v, "auth.basic.realm: 1 to 128 printable "
			    "characters, no '\"' or '\\'");
			return;
		}
		free(cf->cf_auth_realm);
		cf->cf_auth_realm = xstrdup(s);
	} else if (strcmp(key, "cache_ttl") == 0)
		cfg_set_duration(ld, v, "auth.basic.cache_ttl", 1000,
		    &cf->cf_auth_cache_ttl, &bad);
	else
		cfg_err(ld, k, "auth.basic: unknown key '%s' (users_file, "
		    "realm, cache_ttl)", key);
}

/* auth: {basic: {...}, allow_plaintext_auth, max_failures,
 * failure_window} */
void
cfg_auth_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	int			 bad = 0;

	if (strcmp(key, "basic") == 0) {
		if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "auth.basic") != 0)
			return;
		cf->cf_auth_basic = 1;
		ld->ld_auth_file = ld->ld_file;
		ld->ld_auth_line = (unsigned)k->start_mark.line + 1;
		ld->ld_auth_col = (unsigned)k->start_mark.column + 1;
		cfg_each_pair(ld, v, basic_pair, NULL);
		if (cf->cf_users_file == NULL)
			cfg_err(ld, k, "auth.basic: users_file is missing");
	} else if (strcmp(key, "allow_plaintext_auth") == 0)
		cfg_want_switch(ld, v, "auth.allow_plaintext_auth",
		    &cf->cf_auth_plaintext);
	else if (strcmp(key, "max_failures") == 0)
		cfg_want_uint(ld, v, "auth.max_failures", 1, 1000,
		    &cf->cf_auth_max_failures);
	else if (strcmp(key, "failure_window") == 0)
		cfg_set_duration(ld, v, "auth.failure_window", 1000,
		    &cf->cf_auth_fail_window, &bad);
	else
		cfg_err(ld, k, "auth: unknown key '%s' (basic, "
		    "allow_plaintext_auth, max_failures, failure_window)", key);
}

/*
 * auth.basic: refuse it on a plain listener (the password would cross
 * the network readable) unless allow_plaintext_auth says so; read the
 * users file.
 */
void
cfg_auth_finish(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_listener	*li;
	struct hg_errors	 uerr;
	size_t			 i, n;

	if (!cf->cf_auth_basic)
		return;
	for (i = 0; i < cf->cf_nlisteners && !cf->cf_auth_plaintext; i++) {
		li = &cf->cf_listeners[i];
		if (li->li_kind != HG_LISTEN_PROXY || li->li_cert != NULL)
			continue;
		errors_add(ld->ld_errs, ld->ld_auth_file, ld->ld_auth_line,
		    ld->ld_auth_col, "auth.basic: passwords would cross the "
		    "plain listener %s readable; listen with TLS, or set "
		    "auth.allow_plaintext_auth: true", li->li_addr);
		break;
	}
	if (cf->cf_users_file == NULL)
		return;
	/* A message without a place of its own ("PATH: cannot open: ...")
	 * gets the place of the users_file value. */
	errors_init(&uerr);
	users_load(cf->cf_users_file, &cf->cf_users, &cf->cf_nusers, &uerr);
	n = strlen(cf->cf_users_file);
	for (i = 0; i < uerr.er_count; i++) {
		if (strncmp(uerr.er_msgs[i], cf->cf_users_file, n) == 0 &&
		    strncmp(uerr.er_msgs[i] + n, ": ", 2) == 0)
			errors_add(ld->ld_errs, ld->ld_auth_file,
			    (unsigned)ld->ld_users_at.line + 1,
			    (unsigned)ld->ld_users_at.column + 1,
			    "auth.basic.users_file: %s", uerr.er_msgs[i]);
		else
			errors_add_msg(ld->ld_errs, uerr.er_msgs[i]);
	}
	ld->ld_errs->er_dropped += uerr.er_dropped;
	errors_free(&uerr);
}
