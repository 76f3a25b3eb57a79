/*
 * cfgsettings.c -- the settings of the main configuration file that the
 * keyword table (cfgkeys.c) cannot read by their type alone: listen and
 * its entries, clients and their groups, pac.proxy and pac.bypass,
 * dns.servers, log.decisions, user, chroot and auth.basic; and the checks
 * of auth once the whole configuration is read.
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
static int
listen_valid(const char *s)
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
 * names them, into the entry being read; errors point at "tls:".
 */
void
cfg_set_listen_tls(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct cfg_listenspec	*lsp = arg;

	lsp->lsp_tls = k;
	lsp->lsp_tlsbad = 0;
	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "listen.tls") != 0)
		return;
	cfg_walk(ld, CS_TLS, v, lsp, NULL);
	if (!lsp->lsp_tlsbad && (lsp->lsp_cert == NULL ||
	    lsp->lsp_key == NULL))
		cfg_err(ld, v, "listen.tls: needs both cert and key");
}

/* listen.tls.cert, listen.tls.key: ck_off is the field of the entry. */
void
cfg_set_tls_file(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct cfg_listenspec	*lsp = arg;
	char			**slot;
	const char		*s;

	slot = (char **)((char *)lsp + ck->ck_off);
	if ((s = cfg_want_string(ld, v, "listen.tls")) == NULL) {
		lsp->lsp_tlsbad = 1;
		return;
	}
	free(*slot);
	*slot = path_join_dir(ld->ld_file, s);
}

void
cfg_set_listen_address(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct cfg_listenspec	*lsp = arg;

	lsp->lsp_addr = v;
}

/*
 * One address of listen, pac.listen or metrics.listen: "ADDRESS:PORT",
 * or for the proxy also {address: ..., proxy_protocol: ..., tls: {cert:
 * ..., key: ...}}.
 */
static void
listen_entry(struct loader *ld, yaml_node_t *n, enum hg_listen_kind kind,
    const char *what)
{
	struct cfg_listenspec	 lsp;
	struct hg_listener	*li;
	const char		*s;

	memset(&lsp, 0, sizeof lsp);
	if (kind == HG_LISTEN_PROXY && n->type == YAML_MAPPING_NODE) {
		cfg_walk(ld, CS_LISTEN, n, &lsp, NULL);
		if (lsp.lsp_addr == NULL) {
			cfg_err(ld, n, "%s: an entry needs an address", what);
			goto out;
		}
		n = lsp.lsp_addr;
	}
	if ((s = cfg_want_string(ld, n, what)) == NULL)
		goto out;
	if (listen_valid(s) != 0) {
		cfg_err(ld, n, "%s: '%s' is not ADDRESS:PORT "
		    "(an IP address; [v6]:port for IPv6)", what, s);
		goto out;
	}
	if ((li = cfg_listener_add(ld->ld_cf, kind, s)) == NULL) {
		cfg_err(ld, n, "%s: more than %d addresses", what,
		    HG_MAX_LISTEN);
		goto out;
	}
	li->li_pp = lsp.lsp_pp;
	if (lsp.lsp_tls != NULL && lsp.lsp_cert != NULL &&
	    lsp.lsp_key != NULL) {
		li->li_cert = lsp.lsp_cert;
		li->li_key = lsp.lsp_key;
		xasprintf(&li->li_tls_at, "%s:%u:%u", ld->ld_file,
		    (unsigned)lsp.lsp_tls->start_mark.line + 1,
		    (unsigned)lsp.lsp_tls->start_mark.column + 1);
		lsp.lsp_cert = lsp.lsp_key = NULL;
	}
out:
	free(lsp.lsp_cert);
	free(lsp.lsp_key);
}

/*
 * listen, pac.listen, metrics.listen: one address or a list, in place of
 * the listeners of that kind. The proxy needs one at least.
 */
static void
set_listeners(struct loader *ld, yaml_node_t *v, enum hg_listen_kind kind,
    const char *what)
{
	yaml_node_item_t	*it;

	cfg_listener_clear(ld->ld_cf, kind);
	if (v->type == YAML_SCALAR_NODE ||
	    (kind == HG_LISTEN_PROXY && v->type == YAML_MAPPING_NODE)) {
		listen_entry(ld, v, kind, what);
		return;
	}
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		listen_entry(ld, cfg_node(ld, *it), kind, what);
	if (kind == HG_LISTEN_PROXY &&
	    config_nlisteners(ld->ld_cf, kind) == 0)
		cfg_err(ld, v, "%s: at least one address is needed", what);
}

/* The keys of type CT_LISTEN; ck_arg is the kind of listener. */
void
cfg_set_listen(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	char	what[CFG_MAX_PATH];

	cfg_key_path(ck, what, sizeof what);
	set_listeners(ld, v, ck->ck_arg, what);
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
cfg_set_pac_proxy(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	pac_list(ld, v, "pac.proxy", pac_proxy_item);
}

void
cfg_set_pac_bypass(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	pac_list(ld, v, "pac.bypass", pac_bypass_item);
}

/* A client group's users: [NAME ...] */
void
cfg_set_group_users(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_group		*gr = arg;
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

void
cfg_set_group_name(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_group		*gr = arg;
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;
	size_t			 i;

	if ((s = cfg_want_string(ld, v, "clients.name")) == NULL)
		return;
	if (!cfg_category_name_valid(s)) {
		cfg_err(ld, v, "clients.name: invalid group name '%s' "
		    "(lowercase letters, digits, '-' and '_', at most 64)", s);
		return;
	}
	if (strcmp(s, "default") == 0) {
		/* actions: {CATEGORY: {default: ...}} means the category's
		 * own action */
		cfg_err(ld, v, "clients.name: 'default' is reserved");
		return;
	}
	for (i = 0; i < cf->cf_ngroups; i++)
		if (strcmp(cf->cf_groups[i].gr_name, s) == 0) {
			cfg_err(ld, v, "clients.name: duplicate group name "
			    "'%s'", s);
			return;
		}
	gr->gr_name = xstrdup(s);
}

void
cfg_set_group_networks(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_group		*gr = arg;
	yaml_node_item_t	*it;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "clients.networks") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		cfg_add_cidr(ld, cfg_node(ld, *it), "clients.networks",
		    &gr->gr_nets, &gr->gr_nnets);
}

/*
 * clients: [CIDR | {name: GROUP, networks: [CIDR ...], users: [NAME ...],
 * ldap_group: DN}]; a group without networks takes its users from any
 * address the other entries admit.
 */
void
cfg_set_clients(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
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
	for (i = 0; i < cf->cf_nldap_groups; i++)
		free(cf->cf_ldap_groups[i]);
	free(cf->cf_ldap_groups);
	cf->cf_ldap_groups = NULL;
	cf->cf_nldap_groups = 0;
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
		cfg_walk(ld, CS_GROUP, n, &gr, NULL);
		if (gr.gr_name == NULL || (gr.gr_nnets == 0 &&
		    !gr.gr_have_users && gr.gr_ldap == 0)) {
			/* said already when a value was refused */
			if (errors_total(ld->ld_errs) == before)
				cfg_err(ld, n, "clients: a group needs a name "
				    "and at least one of its networks, users "
				    "or ldap_group");
			cfg_group_free(&gr);
			continue;
		}
		/* A group's networks may use the proxy. */
		if (gr.gr_nnets > 0) {
			cf->cf_clients = xreallocarray(cf->cf_clients,
			    cf->cf_nclients + gr.gr_nnets,
			    sizeof *cf->cf_clients);
			memcpy(cf->cf_clients + cf->cf_nclients, gr.gr_nets,
			    gr.gr_nnets * sizeof *gr.gr_nets);
			cf->cf_nclients += gr.gr_nnets;
		}
		cf->cf_groups = xreallocarray(cf->cf_groups,
		    cf->cf_ngroups + 1, sizeof *cf->cf_groups);
		cf->cf_groups[cf->cf_ngroups++] = gr;
	}
}

/* dns.servers: 'system' (resolv.conf) or a list of addresses. */
void
cfg_set_dns_servers(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s;
	uint8_t			 addr[16];
	size_t			 i;

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
			cfg_err(ld, v, "dns.servers: expected 'system' or a "
			    "list of addresses");
		return;
	}
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "dns.servers") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if ((s = cfg_want_string(ld, n, "dns.servers")) == NULL)
			continue;
		if (inet_pton(AF_INET, s, addr) != 1 &&
		    inet_pton(AF_INET6, s, addr) != 1 &&
		    listen_valid(s) != 0) {
			cfg_err(ld, n, "dns.servers: '%s' is not an IP address "
			    "(or ADDRESS:PORT)", s);
			continue;
		}
		cf->cf_dns_servers = xreallocarray(cf->cf_dns_servers,
		    cf->cf_ndns_servers + 1, sizeof *cf->cf_dns_servers);
		cf->cf_dns_servers[cf->cf_ndns_servers++] = xstrdup(s);
	}
}

int
cfg_same_dns_servers(const struct hg_config *a, const struct hg_config *b)
{
	size_t	i;

	if (a->cf_dns_system != b->cf_dns_system ||
	    a->cf_ndns_servers != b->cf_ndns_servers)
		return (0);
	for (i = 0; i < a->cf_ndns_servers; i++)
		if (strcmp(a->cf_dns_servers[i], b->cf_dns_servers[i]) != 0)
			return (0);
	return (1);
}

/* log.decisions: a file, "-" (standard output), syslog, or null: none. */
void
cfg_set_decisions(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

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
}

/* user: the user to become once bound; null: stay. */
void
cfg_set_user(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	free(cf->cf_user);
	cf->cf_user = NULL;
	if (cfg_is_null(v) || (s = cfg_want_string(ld, v, "user")) == NULL)
		return;
	if (s[0] == '\0' || strpbrk(s, ": \t/") != NULL)
		cfg_err(ld, v, "user: '%s' is not a user name", s);
	else
		cf->cf_user = xstrdup(s);
}

/* chroot: the directory to shut the proxy in once bound; null: none. */
void
cfg_set_chroot(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	free(cf->cf_chroot);
	cf->cf_chroot = NULL;
	if (cfg_is_null(v) || (s = cfg_want_string(ld, v, "chroot")) == NULL)
		return;
	if (s[0] != '/')
		cfg_err(ld, v, "chroot: '%s' is not an absolute path", s);
	else
		cf->cf_chroot = xstrdup(s);
}

/*
 * control.mode: the file mode of the control socket, in octal as chmod(1)
 * takes it ("0660", or 660 unquoted); none of the setuid, setgid or
 * sticky bits.
 */
void
cfg_set_control_mode(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s, *p;
	unsigned		 mode = 0;

	if ((s = cfg_want_string(ld, v, "control.mode")) == NULL)
		return;
	for (p = s; *p >= '0' && *p <= '7' && p - s < 4; p++)
		mode = mode * 8 + (unsigned)(*p - '0');
	if (p == s || *p != '\0' || mode > 0777) {
		cfg_err(ld, v, "control.mode: '%s' is not a file mode such as "
		    "0660 (octal, at most 0777)", s);
		return;
	}
	cf->cf_control_mode = mode;
}

/* control.group: the group the control socket is given; null: none. */
void
cfg_set_control_group(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	free(cf->cf_control_group);
	cf->cf_control_group = NULL;
	if (cfg_is_null(v) ||
	    (s = cfg_want_string(ld, v, "control.group")) == NULL)
		return;
	if (s[0] == '\0' || strpbrk(s, ": \t/") != NULL)
		cfg_err(ld, v, "control.group: '%s' is not a group name", s);
	else
		cf->cf_control_group = xstrdup(s);
}

int
cfg_same_control_group(const struct hg_config *a, const struct hg_config *b)
{
	if (a->cf_control_group == NULL || b->cf_control_group == NULL)
		return (a->cf_control_group == b->cf_control_group);
	return (strcmp(a->cf_control_group, b->cf_control_group) == 0);
}

/* auth.basic: {users_file, realm, cache_ttl}; users_file is needed. */
void
cfg_set_basic(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;

	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "auth.basic") != 0)
		return;
	cf->cf_auth_basic = 1;
	ld->ld_auth_file = ld->ld_file;
	ld->ld_auth_line = (unsigned)k->start_mark.line + 1;
	ld->ld_auth_col = (unsigned)k->start_mark.column + 1;
	cfg_walk(ld, CS_BASIC, v, cf, NULL);
	if (cf->cf_users_file == NULL)
		cfg_err(ld, k, "auth.basic: users_file is missing");
}

void
cfg_set_users_file(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	if ((s = cfg_want_string(ld, v, "auth.basic.users_file")) == NULL)
		return;
	free(cf->cf_users_file);
	cf->cf_users_file = path_join_dir(ld->ld_file, s);
	ld->ld_users_at = v->start_mark;
}

void
cfg_set_realm(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;
	size_t			 i;

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
}

/*
 * auth.negotiate: {keytab, service_principal, replay_cache, strip_realm};
 * keytab is needed. The keytab itself is read by whoever runs the proxy
 * (proxy/negotiate.c, for -t, the start and each reload), which reports
 * its errors at the place of the keytab value kept here. A build without
 * MIT's GSS-API (and the Windows build) refuses the key.
 */
void
cfg_set_negotiate(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const yaml_node_t	*at = k;
	yaml_node_pair_t	*p;

#ifndef HAVE_GSSAPI
	cfg_err(ld, k, "auth.negotiate: Kerberos single sign-on is not "
	    "supported in this build (configure found no GSS-API: "
	    "Debian's libkrb5-dev)");
	return;
#endif
	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "auth.negotiate") != 0)
		return;
	cf->cf_auth_negotiate = 1;
	cfg_walk(ld, CS_NEGOTIATE, v, cf, NULL);
	if (cf->cf_nego_keytab == NULL) {
		cfg_err(ld, k, "auth.negotiate: keytab is missing");
		return;
	}
	/* errors about the keytab file go where its value is */
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	    p++)
		if (strcmp(cfg_scalar(cfg_node(ld, p->key)), "keytab") == 0)
			at = cfg_node(ld, p->value);
	free(cf->cf_nego_keytab_at);
	xasprintf(&cf->cf_nego_keytab_at, "%s:%u:%u", ld->ld_file,
	    (unsigned)at->start_mark.line + 1,
	    (unsigned)at->start_mark.column + 1);
}

/*
 * auth.negotiate.service_principal: the acceptor's name, as Kerberos
 * writes it (HTTP/proxy.example.org, with @REALM or not); null: any
 * principal of the keytab.
 */
void
cfg_set_service_principal(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;
	size_t			 i;

	free(cf->cf_nego_principal);
	cf->cf_nego_principal = NULL;
	if (cfg_is_null(v) || (s = cfg_want_string(ld, v,
	    "auth.negotiate.service_principal")) == NULL)
		return;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			break;
	if (s[i] != '\0' || i == 0 || i > 255) {
		cfg_err(ld, v, "auth.negotiate.service_principal: '%s' is not "
		    "a principal name such as HTTP/proxy.example.org", s);
		return;
	}
	cf->cf_nego_principal = xstrdup(s);
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
