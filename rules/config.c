/*
 * config.c -- the YAML configuration: parse into a fresh struct hg_config,
 * report every error as "file:line:col: message" (libyaml gives the marks)
 * and keep going to show them all. The caller swaps configurations only on
 * success.
 */
#include "config.h"

#include "rules/compat.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "rules.h"
#include "yamldoc.h"

#define DEFAULT_HOSTS_FILE	"/etc/hosts"

struct loader {
	struct hg_config	*ld_cf;
	struct hg_ruleset	*ld_rs;
	struct hg_errors	*ld_errs;
	int			 ld_depth;
	char			**ld_seen;	/* files loaded (include once) */
	size_t			 ld_nseen;
	const char		*ld_file;	/* file being read */
	yaml_document_t		*ld_doc;
	const struct yamldoc	*ld_yd;
	const char		*ld_auth_file;	/* where auth.basic is set */
	unsigned		 ld_auth_line;
	unsigned		 ld_auth_col;
	yaml_mark_t		 ld_users_at;	/* its users_file value */
	int			 ld_partial;	/* a file could not be read */
};

static void	load_file(struct loader *, const char *, int,
		    const char *, const yaml_mark_t *);
static struct hg_listener *listener_add(struct hg_config *,
		    enum hg_listen_kind, const char *);
static void	add_cidr(struct loader *, yaml_node_t *, const char *,
		    struct hg_cidr **, size_t *);
static int	category_name_valid(const char *);
static void	set_gactions(struct loader *, struct hg_category *,
		    yaml_node_t *, int);

static void __attribute__((format(HG_PRINTF, 3, 4)))
err(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	errors_addv(ld->ld_errs, ld->ld_file,
	    n ? (unsigned)n->start_mark.line + 1 : 0,
	    n ? (unsigned)n->start_mark.column + 1 : 0, fmt, ap);
	va_end(ap);
}

static yaml_node_t *
node(struct loader *ld, int id)
{
	return (yaml_document_get_node(ld->ld_doc, id));
}

static const char *
scalar(const yaml_node_t *n)
{
	return ((const char *)n->data.scalar.value);
}

/* A plain scalar spelled as YAML's null. */
static int
null_spelling(int style, const char *s)
{
	return (style == YAML_PLAIN_SCALAR_STYLE && (*s == '\0' ||
	    strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0));
}

static int
is_null(const yaml_node_t *n)
{
	return (n->type == YAML_SCALAR_NODE &&
	    null_spelling(n->data.scalar.style, scalar(n)));
}

/* A string value; NULL (with an error) for anything else. */
static const char *
want_string(struct loader *ld, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		err(ld, n, "%s: expected a string", what);
		return (NULL);
	}
	if (strlen(scalar(n)) != n->data.scalar.length) {
		err(ld, n, "%s: NUL character in string", what);
		return (NULL);
	}
	return (scalar(n));
}

static int
want_uint(struct loader *ld, const yaml_node_t *n, const char *what,
    unsigned long min, unsigned long max, unsigned *out)
{
	const char	*s;
	char		*end;
	unsigned long	 v;

	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		err(ld, n, "%s: expected a number", what);
		return (-1);
	}
	s = scalar(n);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		err(ld, n, "%s: expected a number from %lu to %lu, not '%s'",
		    what, min, max, s);
		return (-1);
	}
	*out = (unsigned)v;
	return (0);
}

static int
want_kind(struct loader *ld, const yaml_node_t *n, yaml_node_type_t type,
    const char *what)
{
	if (n->type == type)
		return (0);
	err(ld, n, "%s: expected a %s", what,
	    type == YAML_MAPPING_NODE ? "mapping" :
	    type == YAML_SEQUENCE_NODE ? "list" : "scalar");
	return (-1);
}

/*
 * Walk a mapping: checks that keys are strings and unique, then calls fn
 * for each pair. Keys listed in skip are left for another pass.
 */
typedef void (*pair_fn)(struct loader *, const char *, yaml_node_t *,
    yaml_node_t *, void *);

static void
each_pair(struct loader *ld, yaml_node_t *map, pair_fn fn, void *arg)
{
	yaml_node_pair_t	*p, *q;
	yaml_node_t		*k, *k2;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = node(ld, p->key);
		if (k->type != YAML_SCALAR_NODE) {
			err(ld, k, "mapping key must be a string");
			continue;
		}
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			k2 = node(ld, q->key);
			if (k2->type == YAML_SCALAR_NODE &&
			    strcmp(scalar(k2), scalar(k)) == 0)
				break;
		}
		if (q < p) {
			err(ld, k, "duplicate key '%s'", scalar(k));
			continue;
		}
		fn(ld, scalar(k), k, node(ld, p->value), arg);
	}
}

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

	if (want_kind(ld, n, YAML_MAPPING_NODE, "listen.tls") != 0)
		return;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = node(ld, p->key);
		v = node(ld, p->value);
		if ((name = want_string(ld, k, "listen.tls")) == NULL)
			continue;
		if (strcmp(name, "cert") == 0)
			slot = cert;
		else if (strcmp(name, "key") == 0)
			slot = key;
		else {
			err(ld, k, "listen.tls: unknown key '%s' (cert, key)",
			    name);
			continue;
		}
		if ((s = want_string(ld, v, "listen.tls")) == NULL) {
			bad = 1;
			continue;
		}
		free(*slot);
		*slot = path_join_dir(ld->ld_file, s);
	}
	if (!bad && (*cert == NULL || *key == NULL))
		err(ld, n, "listen.tls: needs both cert and key");
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
			k = node(ld, p->key);
			v = node(ld, p->value);
			if ((key = want_string(ld, k, "listen")) == NULL)
				continue;
			if (strcmp(key, "address") == 0)
				addr = v;
			else if (strcmp(key, "proxy_protocol") == 0) {
				if ((s = want_string(ld, v,
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
					err(ld, v, "listen.proxy_protocol: "
					    "expected v1, v2, any or off");
			} else if (strcmp(key, "tls") == 0) {
				tls = k;	/* errors point at "tls:" */
				listen_tls(ld, v, &cert, &tkey);
			} else
				err(ld, k, "listen: unknown key '%s' "
				    "(address, proxy_protocol, tls)", key);
		}
		if (addr == NULL) {
			err(ld, n, "listen: an entry needs an address");
			goto out;
		}
		n = addr;
	}
	if ((s = want_string(ld, n, "listen")) == NULL)
		goto out;
	if (listen_valid(s) != 0) {
		err(ld, n, "listen: '%s' is not ADDRESS:PORT "
		    "(an IP address; [v6]:port for IPv6)", s);
		goto out;
	}
	if ((li = listener_add(cf, HG_LISTEN_PROXY, s)) == NULL) {
		err(ld, n, "listen: more than %d addresses", HG_MAX_LISTEN);
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

/*
 * A new listener of the given kind at addr, after the others of its kind
 * (the proxy's first, then the PAC's, then the admin's); NULL when the
 * kind has HG_MAX_LISTEN already.
 */
static struct hg_listener *
listener_add(struct hg_config *cf, enum hg_listen_kind kind, const char *addr)
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
static void
listener_clear(struct hg_config *cf, enum hg_listen_kind kind)
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

static void
set_listen(struct loader *ld, yaml_node_t *v)
{
	struct hg_config	*cf = ld->ld_cf;
	yaml_node_item_t	*it;

	listener_clear(cf, HG_LISTEN_PROXY);
	if (v->type == YAML_SCALAR_NODE || v->type == YAML_MAPPING_NODE) {
		listen_entry(ld, v);
		return;
	}
	if (want_kind(ld, v, YAML_SEQUENCE_NODE, "listen") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		listen_entry(ld, node(ld, *it));
	if (config_nlisteners(cf, HG_LISTEN_PROXY) == 0)
		err(ld, v, "listen: at least one address is needed");
}

/* One pac.listen or metrics.listen address. */
static void
side_listen_item(struct loader *ld, yaml_node_t *n, enum hg_listen_kind kind,
    const char *what)
{
	const char	*s;

	if ((s = want_string(ld, n, what)) == NULL)
		return;
	if (listen_valid(s) != 0)
		err(ld, n, "%s: '%s' is not ADDRESS:PORT "
		    "(an IP address; [v6]:port for IPv6)", what, s);
	else if (listener_add(ld->ld_cf, kind, s) == NULL)
		err(ld, n, "%s: more than %d addresses", what, HG_MAX_LISTEN);
}

/* pac.listen, metrics.listen: "ADDRESS:PORT", or a list of them. */
static void
set_side_listen(struct loader *ld, yaml_node_t *v, enum hg_listen_kind kind,
    const char *what)
{
	yaml_node_item_t	*it;

	listener_clear(ld->ld_cf, kind);
	if (v->type == YAML_SCALAR_NODE) {
		side_listen_item(ld, v, kind, what);
		return;
	}
	if (want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		side_listen_item(ld, node(ld, *it), kind, what);
}

/* pac.proxy: "HOST:PORT" ("[v6]:PORT"), one or a list. */
static void
pac_proxy_item(struct loader *ld, yaml_node_t *v)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_target	 t;
	const char		*s, *why;
	char			*p;

	if ((s = want_string(ld, v, "pac.proxy")) == NULL)
		return;
	if (target_parse(s, strlen(s), 0, &t, &why) != 0) {
		err(ld, v, "pac.proxy: '%s' is not HOST:PORT: %s", s, why);
		return;
	}
	if (cf->cf_npac_proxy == HG_PAC_MAX_PROXIES) {
		err(ld, v, "pac.proxy: more than %d proxies",
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

	if ((s = want_string(ld, v, "pac.bypass")) == NULL)
		return;
	if (strchr(s, ':') != NULL || strchr(s, '/') != NULL ||
	    (s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789.") ==
	    strlen(s))) {
		if (cidr_parse(s, &c) != 0) {
			err(ld, v, "pac.bypass: '%s' is not an address or "
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
		err(ld, v, "pac.bypass: '%s': %s", s, why);
		return;
	}
	if (t.t_kind != HG_HOST_NAME) {
		err(ld, v, "pac.bypass: '%s' is not a name, .name, *.name or "
		    "prefix", s);
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

	if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
		item(ld, v);
		return;
	}
	if (want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		item(ld, node(ld, *it));
}

static void
pac_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	if (strcmp(key, "mode") == 0) {
		if ((s = want_string(ld, v, "pac.mode")) != NULL &&
		    pac_mode_parse(s, &cf->cf_pac_mode) != 0)
			err(ld, v, "pac.mode: '%s' is not one of all, policy",
			    s);
	} else if (strcmp(key, "fallback") == 0) {
		if ((s = want_string(ld, v, "pac.fallback")) != NULL &&
		    pac_fallback_parse(s, &cf->cf_pac_fallback) != 0)
			err(ld, v, "pac.fallback: '%s' is not one of direct, "
			    "block", s);
	} else if (strcmp(key, "proxy") == 0)
		pac_list(ld, v, "pac.proxy", pac_proxy_item);
	else if (strcmp(key, "bypass") == 0)
		pac_list(ld, v, "pac.bypass", pac_bypass_item);
	else if (strcmp(key, "max_age") == 0)
		want_uint(ld, v, "pac.max_age", 0, 31536000,
		    &cf->cf_pac_max_age);
	else if (strcmp(key, "listen") == 0)
		set_side_listen(ld, v, HG_LISTEN_PAC, "pac.listen");
	else
		err(ld, k, "pac: unknown key '%s' (mode, fallback, proxy, "
		    "bypass, max_age, listen)", key);
}

/* A list of CIDR prefixes (clients, destinations.allow) into *arr. */
static void
set_cidrs(struct loader *ld, yaml_node_t *v, const char *what,
    struct hg_cidr **arr, size_t *np)
{
	yaml_node_item_t	*it;

	if (want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	free(*arr);
	*arr = NULL;
	*np = 0;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		add_cidr(ld, node(ld, *it), what, arr, np);
}

/* One CIDR string onto *arr; what names the key in messages. */
static void
add_cidr(struct loader *ld, yaml_node_t *n, const char *what,
    struct hg_cidr **arr, size_t *np)
{
	const char	*s;

	if ((s = want_string(ld, n, what)) == NULL)
		return;
	*arr = xreallocarray(*arr, *np + 1, sizeof **arr);
	if (cidr_parse(s, &(*arr)[*np]) != 0) {
		err(ld, n, "%s: '%s' is not an address or prefix "
		    "(ADDRESS/BITS, host bits zero)", what, s);
		return;
	}
	(*np)++;
}

/* A client group's users: [NAME ...] */
static void
group_users(struct loader *ld, struct hg_group *gr, yaml_node_t *v)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s;

	if (want_kind(ld, v, YAML_SEQUENCE_NODE, "clients.users") != 0)
		return;
	gr->gr_have_users = 1;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = node(ld, *it);
		if ((s = want_string(ld, n, "clients.users")) == NULL)
			continue;
		if (!user_name_valid(s, strlen(s))) {
			err(ld, n, "clients.users: '%s' is not a user name "
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
		if ((s = want_string(ld, v, "clients.name")) == NULL)
			return;
		if (!category_name_valid(s)) {
			err(ld, v, "clients.name: invalid group name '%s' "
			    "(lowercase letters, digits, '-' and '_', at "
			    "most 64)", s);
			return;
		}
		if (strcmp(s, "default") == 0) {
			/* actions: {CATEGORY: {default: ...}} means the
			 * category's own action */
			err(ld, v, "clients.name: 'default' is reserved");
			return;
		}
		for (i = 0; i < cf->cf_ngroups; i++)
			if (strcmp(cf->cf_groups[i].gr_name, s) == 0) {
				err(ld, v, "clients.name: duplicate group "
				    "name '%s'", s);
				return;
			}
		gr->gr_name = xstrdup(s);
	} else if (strcmp(key, "networks") == 0) {
		if (want_kind(ld, v, YAML_SEQUENCE_NODE,
		    "clients.networks") != 0)
			return;
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++)
			add_cidr(ld, node(ld, *it), "clients.networks",
			    &gr->gr_nets, &gr->gr_nnets);
	} else if (strcmp(key, "users") == 0)
		group_users(ld, gr, v);
	else
		err(ld, k, "clients: unknown key '%s' (name, networks, users)",
		    key);
}

/*
 * What the Windows build does without (no setuid/chroot, no crypt(3) for
 * Basic authentication, no syslog): its keys are errors there, in their
 * place, rather than a surprise when the proxy starts.
 */
static int
platform_lacks(struct loader *ld, const yaml_node_t *n, const char *key)
{
#ifdef _WIN32
	if (strcmp(key, "user") == 0 || strcmp(key, "chroot") == 0 ||
	    strcmp(key, "auth") == 0 ||
	    strcmp(key, "log.decisions: syslog") == 0) {
		err(ld, n, "%s: not available in the Windows build", key);
		return (1);
	}
#endif
	return (0);
}

static void
group_free(struct hg_group *gr)
{
	size_t	i;

	free(gr->gr_name);
	free(gr->gr_nets);
	for (i = 0; i < gr->gr_nusers; i++)
		free(gr->gr_users[i]);
	free(gr->gr_users);
}

/* clients: [CIDR | {name: GROUP, networks: [CIDR ...], users: [NAME ...]}] */
static void
set_clients(struct loader *ld, yaml_node_t *v)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_group		 gr;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	size_t			 i, before;

	if (want_kind(ld, v, YAML_SEQUENCE_NODE, "clients") != 0)
		return;
	free(cf->cf_clients);
	cf->cf_clients = NULL;
	cf->cf_nclients = 0;
	for (i = 0; i < cf->cf_ngroups; i++)
		group_free(&cf->cf_groups[i]);
	free(cf->cf_groups);
	cf->cf_groups = NULL;
	cf->cf_ngroups = 0;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = node(ld, *it);
		if (n->type != YAML_MAPPING_NODE) {
			add_cidr(ld, n, "clients", &cf->cf_clients,
			    &cf->cf_nclients);
			continue;
		}
		memset(&gr, 0, sizeof gr);
		before = errors_total(ld->ld_errs);
		each_pair(ld, n, group_pair, &gr);
		if (gr.gr_name == NULL || gr.gr_nnets == 0) {
			/* said already when a value was refused */
			if (errors_total(ld->ld_errs) == before)
				err(ld, n, "clients: a group needs a name and "
				    "at least one of its networks");
			group_free(&gr);
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

/* on/off (also true/false, yes/no). */
static void
want_switch(struct loader *ld, yaml_node_t *v, const char *what, int *out)
{
	const char	*s;

	if ((s = want_string(ld, v, what)) == NULL)
		return;
	if (strcmp(s, "on") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "off") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "no") == 0)
		*out = 0;
	else
		err(ld, v, "%s: expected on or off", what);
}

/* metrics: {allow: [CIDR ...]} */
static void
metrics_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;

	if (strcmp(key, "allow") == 0)
		set_cidrs(ld, v, "metrics.allow", &cf->cf_metrics_allow,
		    &cf->cf_nmetrics_allow);
	else if (strcmp(key, "listen") == 0)
		set_side_listen(ld, v, HG_LISTEN_ADMIN, "metrics.listen");
	else
		err(ld, k, "metrics: unknown key '%s' (allow, listen)", key);
}

/* destinations: {guard: on|off, allow: [CIDR ...]} */
static void
destinations_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;

	if (strcmp(key, "guard") == 0)
		want_switch(ld, v, "destinations.guard", &cf->cf_dest_guard);
	else if (strcmp(key, "allow") == 0)
		set_cidrs(ld, v, "destinations.allow", &cf->cf_dest_allow,
		    &cf->cf_ndest_allow);
	else
		err(ld, k, "destinations: unknown key '%s' (guard, allow)",
		    key);
}

static void
set_ports(struct loader *ld, yaml_node_t *v, struct hg_portset *ps,
    const char *what)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s, *why;

	if (want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	portset_free(ps);
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = node(ld, *it);
		if ((s = want_string(ld, n, what)) == NULL)
			continue;
		if (portset_parse_item(ps, s, &why) != 0)
			err(ld, n, "%s: '%s': %s", what, s, why);
	}
}

static void
set_action(struct loader *ld, yaml_node_t *v, const char *what,
    enum hg_action *out)
{
	const char	*s;

	if ((s = want_string(ld, v, what)) == NULL)
		return;
	if (action_parse(s, out) != 0)
		err(ld, v, "%s: '%s' is not one of allow, deny, audit",
		    what, s);
}

static void
timeouts_pair(struct loader *ld, const char *key, yaml_node_t *k,
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
		err(ld, k, "timeouts: unknown key '%s' (request, connect, "
		    "idle, drain, response)", key);
		return;
	}
	if ((s = want_string(ld, v, key)) == NULL)
		return;
	if (duration_parse(s, out) != 0 || *out == 0)
		err(ld, v, "timeouts.%s: '%s' is not a duration "
		    "(e.g. 500ms, 10s, 5m)", key, s);
}

static void
dns_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
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
		if (is_null(v))
			return;
		if ((s = want_string(ld, v, "dns.hosts_file")) != NULL)
			cf->cf_hosts_file = path_join_dir(ld->ld_file, s);
	} else if (strcmp(key, "servers") == 0) {
		for (i = 0; i < cf->cf_ndns_servers; i++)
			free(cf->cf_dns_servers[i]);
		free(cf->cf_dns_servers);
		cf->cf_dns_servers = NULL;
		cf->cf_ndns_servers = 0;
		cf->cf_dns_system = 0;
		if (v->type == YAML_SCALAR_NODE) {
			if (strcmp(scalar(v), "system") == 0)
				cf->cf_dns_system = 1;
			else
				err(ld, v, "dns.servers: expected 'system' or "
				    "a list of addresses");
			return;
		}
		if (want_kind(ld, v, YAML_SEQUENCE_NODE, "dns.servers") != 0)
			return;
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++) {
			n = node(ld, *it);
			if ((s = want_string(ld, n, "dns.servers")) == NULL)
				continue;
			if (inet_pton(AF_INET, s, addr) != 1 &&
			    inet_pton(AF_INET6, s, addr) != 1 &&
			    listen_valid(s) != 0) {
				err(ld, n, "dns.servers: '%s' is not an IP "
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
		err(ld, k, "dns: unknown key '%s' (hosts_file, servers)", key);
}

static void
log_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;

	if (strcmp(key, "decisions") == 0) {
		free(cf->cf_decisions);
		cf->cf_decisions = NULL;
		if (is_null(v))
			return;
		if ((s = want_string(ld, v, "log.decisions")) == NULL)
			return;
		if (strcmp(s, "syslog") == 0 &&
		    platform_lacks(ld, v, "log.decisions: syslog"))
			return;
		if (strcmp(s, "-") == 0 || strcmp(s, "syslog") == 0)
			cf->cf_decisions = xstrdup(s);
		else
			cf->cf_decisions = path_join_dir(ld->ld_file, s);
	} else if (strcmp(key, "format") == 0) {
		if ((s = want_string(ld, v, "log.format")) == NULL)
			return;
		if (strcmp(s, "json") == 0)
			cf->cf_log_format = HG_LOG_JSON;
		else if (strcmp(s, "squid") == 0)
			cf->cf_log_format = HG_LOG_SQUID;
		else
			err(ld, v, "log.format: '%s' is not one of json, squid",
			    s);
	} else if (strcmp(key, "level") == 0) {
		if ((s = want_string(ld, v, "log.level")) == NULL)
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
			err(ld, v, "log.level: '%s' is not one of error, warn, "
			    "info, debug", s);
	} else
		err(ld, k, "log: unknown key '%s' (decisions, format, level)",
		    key);
}

struct catload {
	uint32_t	 cl_cat;
	uint32_t	 cl_file;
	int		 cl_have_action;
};

static int
category_name_valid(const char *s)
{
	size_t	i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return (0);
	}
	return (i <= 64);
}


struct listspec {
	const char	*ls_file;
	yaml_node_t	*ls_file_node;	/* the file: value: where errors go */
	const char	*ls_url;
	const char	*ls_format;
	yaml_node_t	*ls_node;
	int		 ls_bad;	/* a value was refused */
	struct hg_listsrc ls_src;	/* url: settings */
};

/* A duration from min_ms up, or a size, or a ratio: settings shared by
 * the top-level `lists:` and each url: list. */
static void
set_duration(struct loader *ld, yaml_node_t *v, const char *what,
    unsigned min_ms, unsigned *out, int *bad)
{
	const char	*s;
	unsigned	 ms;

	if ((s = want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (duration_parse(s, &ms) != 0 || ms < min_ms) {
		err(ld, v, "%s: '%s' is not a duration of %us or more "
		    "(e.g. 30s, 10m, 24h)", what, s, min_ms / 1000);
		*bad = 1;
		return;
	}
	*out = ms;
}

static void
set_size(struct loader *ld, yaml_node_t *v, const char *what,
    uint64_t *out, int *bad)
{
	const char	*s;

	if ((s = want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (size_parse(s, out) != 0) {
		err(ld, v, "%s: '%s' is not a size from 1 byte to 1GiB "
		    "(e.g. 512KiB, 64MiB)", what, s);
		*bad = 1;
	}
}

static void
set_ratio(struct loader *ld, yaml_node_t *v, const char *what, double *out,
    int *bad)
{
	const char	*s;

	if ((s = want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (ratio_parse(s, out) != 0) {
		err(ld, v, "%s: '%s' is not a fraction from 0 to 1 (e.g. 0.5)",
		    what, s);
		*bad = 1;
	}
}

static void
list_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct listspec	*ls = arg;
	struct hg_url	 u;
	const char	*s, *why;

	if (strcmp(key, "file") == 0) {
		ls->ls_file = want_string(ld, v, "file");
		ls->ls_file_node = v;
	}
	else if (strcmp(key, "url") == 0) {
		if ((s = want_string(ld, v, "url")) == NULL)
			ls->ls_bad = 1;
		else if (url_parse(s, &u, &why) != 0) {
			err(ld, v, "url: '%s': %s", s, why);
			ls->ls_bad = 1;
		} else
			ls->ls_url = s;
	} else if (strcmp(key, "format") == 0) {
		if ((ls->ls_format = want_string(ld, v, "format")) != NULL &&
		    !list_format_valid(ls->ls_format)) {
			err(ld, v, "unknown list format '%s' (%s)",
			    ls->ls_format, list_formats_text());
			ls->ls_format = NULL;
		}
	} else if (strcmp(key, "refresh") == 0)
		set_duration(ld, v, "refresh", 1000, &ls->ls_src.ls_refresh,
		    &ls->ls_bad);
	else if (strcmp(key, "sha256") == 0) {
		if ((s = want_string(ld, v, "sha256")) == NULL)
			ls->ls_bad = 1;
		else if (sha256_hex_parse(s, ls->ls_src.ls_pin) != 0) {
			err(ld, v, "sha256: expected 64 hexadecimal digits");
			ls->ls_bad = 1;
		} else
			ls->ls_src.ls_have_pin = 1;
	} else if (strcmp(key, "ca_file") == 0) {
		if ((s = want_string(ld, v, "ca_file")) == NULL)
			ls->ls_bad = 1;
		else {
			free(ls->ls_src.ls_ca_file);
			ls->ls_src.ls_ca_file = path_join_dir(ld->ld_file, s);
		}
	} else if (strcmp(key, "max_bytes") == 0)
		set_size(ld, v, "max_bytes", &ls->ls_src.ls_max_bytes,
		    &ls->ls_bad);
	else if (strcmp(key, "max_shrink") == 0)
		set_ratio(ld, v, "max_shrink", &ls->ls_src.ls_max_shrink,
		    &ls->ls_bad);
	else
		err(ld, k, "lists: unknown key '%s' (file, url, format, "
		    "refresh, sha256, ca_file, max_bytes, max_shrink)", key);
}

/* Keep a url: list; its cached copy is loaded when the whole
 * configuration is read (config_finish), cache_dir being known then. */
static void
category_url(struct loader *ld, struct catload *cl, struct listspec *ls)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_listsrc	*src;

	cf->cf_sources = xreallocarray(cf->cf_sources, cf->cf_nsources + 1,
	    sizeof *cf->cf_sources);
	src = &cf->cf_sources[cf->cf_nsources++];
	*src = ls->ls_src;
	ls->ls_src.ls_ca_file = NULL;
	src->ls_url = xstrdup(ls->ls_url);
	src->ls_format = xstrdup(ls->ls_format);
	src->ls_cat = cl->cl_cat;
	src->ls_entries = -1;
	src->ls_file = ld->ld_file;
	src->ls_line = (unsigned)ls->ls_node->start_mark.line + 1;
	src->ls_col = (unsigned)ls->ls_node->start_mark.column + 1;
}

/* lists: [{file: PATH, format: FORMAT} or {url: URL, format: FORMAT, ...}] */
static void
category_lists(struct loader *ld, struct catload *cl, yaml_node_t *v)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	struct listspec		 ls;
	struct hg_errors	 lerr;
	char			*path;
	size_t			 i;

	if (want_kind(ld, v, YAML_SEQUENCE_NODE, "lists") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = node(ld, *it);
		if (want_kind(ld, n, YAML_MAPPING_NODE, "lists") != 0)
			continue;
		memset(&ls, 0, sizeof ls);
		ls.ls_node = n;
		ls.ls_src.ls_refresh = HG_LIST_REFRESH;
		ls.ls_src.ls_max_shrink = -1;
		each_pair(ld, n, list_pair, &ls);
		if (ls.ls_bad) {
			free(ls.ls_src.ls_ca_file);
			continue;
		}
		if ((ls.ls_file == NULL) == (ls.ls_url == NULL) ||
		    ls.ls_format == NULL) {
			err(ld, n, "lists: each list needs 'format' and one of "
			    "'file' or 'url'");
			free(ls.ls_src.ls_ca_file);
			continue;
		}
		if (ls.ls_url != NULL) {
			category_url(ld, cl, &ls);
			continue;
		}
		if (ls.ls_src.ls_have_pin || ls.ls_src.ls_ca_file != NULL ||
		    ls.ls_src.ls_max_shrink >= 0 ||
		    ls.ls_src.ls_refresh != HG_LIST_REFRESH) {
			err(ld, n, "lists: refresh, sha256, ca_file and "
			    "max_shrink go with 'url', not 'file'");
			free(ls.ls_src.ls_ca_file);
			continue;
		}
		/*
		 * max_bytes bounds a file as it bounds a download: the list's
		 * own, else lists.max_bytes (read before any include: see
		 * load_document).
		 */
		path = path_join_dir(ld->ld_file, ls.ls_file);
		errors_init(&lerr);
		if (list_load_bounded(ld->ld_rs, cl->cl_cat, path, NULL,
		    ls.ls_format, ls.ls_src.ls_max_bytes != 0 ?
		    ls.ls_src.ls_max_bytes : ld->ld_cf->cf_list_max_bytes,
		    &lerr, &ld->ld_cf->cf_warnings) < 0) {
			/* Report where the list was named. */
			for (i = 0; i < lerr.er_count; i++)
				err(ld, ls.ls_file_node, "%s",
				    lerr.er_msgs[i]);
		}
		errors_free(&lerr);
		free(path);
	}
}

/* The top-level lists: {cache_dir, timeout, max_bytes, max_shrink}. */
static void
lists_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	const char		*s;
	int			 bad = 0;

	if (strcmp(key, "cache_dir") == 0) {
		if ((s = want_string(ld, v, "lists.cache_dir")) != NULL) {
			free(cf->cf_cache_dir);
			cf->cf_cache_dir = path_join_dir(ld->ld_file, s);
		}
	} else if (strcmp(key, "timeout") == 0)
		set_duration(ld, v, "lists.timeout", 1000,
		    &cf->cf_list_timeout, &bad);
	else if (strcmp(key, "max_bytes") == 0)
		set_size(ld, v, "lists.max_bytes", &cf->cf_list_max_bytes,
		    &bad);
	else if (strcmp(key, "max_shrink") == 0)
		set_ratio(ld, v, "lists.max_shrink", &cf->cf_list_max_shrink,
		    &bad);
	else
		err(ld, k, "lists: unknown key '%s' (cache_dir, timeout, "
		    "max_bytes, max_shrink)", key);
}

/* One entry of a category's hosts: at line:col of the file being read. */
static void
host_pattern(struct loader *ld, struct catload *cl, const char *s,
    size_t len, uint32_t line, uint32_t col)
{
	const char	*why;

	if (ruleset_add_pattern(ld->ld_rs, cl->cl_cat, s, len, cl->cl_file,
	    line, &why) != 0)
		errors_add(ld->ld_errs, ld->ld_file, line, col,
		    "invalid pattern '%s': %s", s, why);
}

/* hosts: as packed by the composer: strings, and nodes for the rest. */
/* How many names ahead a long hosts: list fetches table slots. */
#define HOSTS_AHEAD	8

static void
category_hosts_packed(struct loader *ld, struct catload *cl,
    const struct yamlpack_seq *ps)
{
	const struct yamlpack_item	*it;
	const char			*s;
	size_t				 i, bytes = 0;

	for (i = 0; i < ps->ys_n; i++)
		bytes += ld->ld_yd->yd_items[ps->ys_first + i].yi_len + 1;
	ruleset_reserve(ld->ld_rs, ps->ys_n, bytes);
	for (i = 0; i < ps->ys_n; i++) {
		if (i + HOSTS_AHEAD < ps->ys_n) {
			it = &ld->ld_yd->yd_items[ps->ys_first + i + HOSTS_AHEAD];
			if (it->yi_node == 0)
				ruleset_prefetch(ld->ld_rs, ld->ld_yd->yd_arena +
				    it->yi_off, it->yi_len);
		}
		it = &ld->ld_yd->yd_items[ps->ys_first + i];
		if (it->yi_node != 0) {
			/* want_string() says what is wrong with it */
			if ((s = want_string(ld, node(ld, it->yi_node),
			    "hosts")) != NULL)
				host_pattern(ld, cl, s, strlen(s), it->yi_line,
				    it->yi_col);
			continue;
		}
		s = ld->ld_yd->yd_arena + it->yi_off;
		if (null_spelling(it->yi_style, s))
			errors_add(ld->ld_errs, ld->ld_file, it->yi_line,
			    it->yi_col, "hosts: expected a string");
		else if (strlen(s) != it->yi_len)
			errors_add(ld->ld_errs, ld->ld_file, it->yi_line,
			    it->yi_col, "hosts: NUL character in string");
		else
			host_pattern(ld, cl, s, it->yi_len, it->yi_line,
			    it->yi_col);
	}
}

static void
category_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct catload		*cl = arg;
	struct hg_category	*ca = ruleset_category(ld->ld_rs, cl->cl_cat);
	const struct yamlpack_seq *ps;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s;
	char			**text = NULL;

	if (strcmp(key, "action") == 0) {
		set_action(ld, v, "action", &ca->ca_action);
		cl->cl_have_action = 1;
		return;
	}
	if (strcmp(key, "description") == 0)
		text = &ca->ca_description;
	else if (strcmp(key, "breaks") == 0)
		text = &ca->ca_breaks;
	else if (strcmp(key, "note") == 0)
		text = &ca->ca_note;
	if (text != NULL) {
		if ((s = want_string(ld, v, key)) != NULL) {
			free(*text);
			*text = xstrdup(s);
		}
		return;
	}
	if (strcmp(key, "lists") == 0) {
		category_lists(ld, cl, v);
		return;
	}
	if (strcmp(key, "actions") == 0) {
		set_gactions(ld, ca, v, 0);
		return;
	}
	if (strcmp(key, "hosts") != 0) {
		err(ld, k, "category %s: unknown key '%s' (action, actions, "
		    "description, breaks, note, hosts, lists)", ca->ca_name,
		    key);
		return;
	}
	if (want_kind(ld, v, YAML_SEQUENCE_NODE, "hosts") != 0)
		return;
	if ((ps = yamldoc_packed(ld->ld_yd, v)) != NULL) {
		category_hosts_packed(ld, cl, ps);
		return;
	}
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = node(ld, *it);
		if ((s = want_string(ld, n, "hosts")) == NULL)
			continue;
		host_pattern(ld, cl, s, n->data.scalar.length,
		    (uint32_t)n->start_mark.line + 1,
		    (uint32_t)n->start_mark.column + 1);
	}
}

static void
categories_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct catload			 cl;
	const struct hg_category	*old;
	uint32_t			 idx;

	if (!category_name_valid(key)) {
		err(ld, k, "invalid category name '%s' (lowercase letters, "
		    "digits, '-' and '_', at most 64)", key);
		return;
	}
	if ((idx = ruleset_find_category(ld->ld_rs, key)) != HG_NONE) {
		old = ruleset_category_const(ld->ld_rs, idx);
		err(ld, k, "category '%s' is already defined at %s:%u", key,
		    ruleset_file(ld->ld_rs, old->ca_file), old->ca_line);
		return;
	}
	if (want_kind(ld, v, YAML_MAPPING_NODE, key) != 0)
		return;
	cl.cl_file = ruleset_add_file(ld->ld_rs, ld->ld_file);
	cl.cl_cat = ruleset_add_category(ld->ld_rs, key, HG_ACT_DENY,
	    cl.cl_file, (uint32_t)k->start_mark.line + 1);
	cl.cl_have_action = 0;
	each_pair(ld, v, category_pair, &cl);
	if (!cl.cl_have_action)
		err(ld, k, "category %s: 'action' is missing (allow, deny or "
		    "audit)", key);
}

/*
 * Set the action of category ca for the group named by key k (resolved
 * to a group when the whole configuration is read): a later setting for
 * the same group replaces an earlier one.
 */
static void
gaction_set(struct loader *ld, struct hg_category *ca, yaml_node_t *k,
    yaml_node_t *v)
{
	struct hg_gaction	*ga;
	enum hg_action		 act = HG_ACT_NONE;
	const char		*name = scalar(k);
	size_t			 i;

	set_action(ld, v, name, &act);
	if (act == HG_ACT_NONE)
		return;
	for (i = 0; i < ca->ca_ngact; i++)
		if (strcmp(ca->ca_gact[i].ga_name, name) == 0)
			break;
	if (i == ca->ca_ngact) {
		ca->ca_gact = xreallocarray(ca->ca_gact, ca->ca_ngact + 1,
		    sizeof *ca->ca_gact);
		ca->ca_gact[ca->ca_ngact++].ga_name = xstrdup(name);
	}
	ga = &ca->ca_gact[i];
	ga->ga_group = HG_NONE;
	ga->ga_action = act;
	ga->ga_file = ld->ld_file;
	ga->ga_line = (unsigned)k->start_mark.line + 1;
	ga->ga_col = (unsigned)k->start_mark.column + 1;
}

/* actions: {GROUP: ACTION ...}; in the top-level map, `default` is the
 * category's own action. */
struct gactions {
	struct hg_category	*gs_ca;
	int			 gs_top;
};

static void
gactions_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct gactions	*gs = arg;

	if (gs->gs_top && strcmp(key, "default") == 0)
		set_action(ld, v, key, &gs->gs_ca->ca_action);
	else
		gaction_set(ld, gs->gs_ca, k, v);
}

static void
set_gactions(struct loader *ld, struct hg_category *ca, yaml_node_t *v,
    int top)
{
	struct gactions	gs = { ca, top };

	if (want_kind(ld, v, YAML_MAPPING_NODE, "actions") == 0)
		each_pair(ld, v, gactions_pair, &gs);
}

/* actions: {CATEGORY: ACTION} or {CATEGORY: {default: ACTION, GROUP: ...}} */
static void
actions_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_category	*ca;
	uint32_t		 idx;

	if ((idx = ruleset_find_category(ld->ld_rs, key)) == HG_NONE) {
		/* It may be in the file that could not be read: that error
		 * is the one to fix, this one would follow from it. */
		if (!ld->ld_partial)
			err(ld, k, "actions: no category named '%s'", key);
		return;
	}
	ca = ruleset_category(ld->ld_rs, idx);
	if (v->type == YAML_MAPPING_NODE)
		set_gactions(ld, ca, v, 1);
	else
		set_action(ld, v, key, &ca->ca_action);
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
		if ((s = want_string(ld, v, "auth.basic.users_file")) == NULL)
			return;
		free(cf->cf_users_file);
		cf->cf_users_file = path_join_dir(ld->ld_file, s);
		ld->ld_users_at = v->start_mark;
	} else if (strcmp(key, "realm") == 0) {
		if ((s = want_string(ld, v, "auth.basic.realm")) == NULL)
			return;
		for (i = 0; s[i] != '\0'; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
			    s[i] == '"' || s[i] == '\\')
				break;
		if (s[i] != '\0' || i == 0 || i > 128) {
			err(ld, v, "auth.basic.realm: 1 to 128 printable "
			    "characters, no '\"' or '\\'");
			return;
		}
		free(cf->cf_auth_realm);
		cf->cf_auth_realm = xstrdup(s);
	} else if (strcmp(key, "cache_ttl") == 0)
		set_duration(ld, v, "auth.basic.cache_ttl", 1000,
		    &cf->cf_auth_cache_ttl, &bad);
	else
		err(ld, k, "auth.basic: unknown key '%s' (users_file, realm, "
		    "cache_ttl)", key);
}

/* auth: {basic: {...}, allow_plaintext_auth, max_failures,
 * failure_window} */
static void
auth_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	int			 bad = 0;

	if (strcmp(key, "basic") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, "auth.basic") != 0)
			return;
		cf->cf_auth_basic = 1;
		ld->ld_auth_file = ld->ld_file;
		ld->ld_auth_line = (unsigned)k->start_mark.line + 1;
		ld->ld_auth_col = (unsigned)k->start_mark.column + 1;
		each_pair(ld, v, basic_pair, NULL);
		if (cf->cf_users_file == NULL)
			err(ld, k, "auth.basic: users_file is missing");
	} else if (strcmp(key, "allow_plaintext_auth") == 0)
		want_switch(ld, v, "auth.allow_plaintext_auth",
		    &cf->cf_auth_plaintext);
	else if (strcmp(key, "max_failures") == 0)
		want_uint(ld, v, "auth.max_failures", 1, 1000,
		    &cf->cf_auth_max_failures);
	else if (strcmp(key, "failure_window") == 0)
		set_duration(ld, v, "auth.failure_window", 1000,
		    &cf->cf_auth_fail_window, &bad);
	else
		err(ld, k, "auth: unknown key '%s' (basic, "
		    "allow_plaintext_auth, max_failures, failure_window)", key);
}

enum pass { PASS_INCLUDE, PASS_CATEGORIES, PASS_ACTIONS };

struct toplevel {
	enum pass	tl_pass;
	int		tl_main;
};

static void
include_item(struct loader *ld, yaml_node_t *n)
{
	const char	*s;
	char		*path;

	if ((s = want_string(ld, n, "include")) == NULL)
		return;
	path = path_join_dir(ld->ld_file, s);
	load_file(ld, path, 0, ld->ld_file, &n->start_mark);
	free(path);
}

static void
top_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct toplevel		*tl = arg;
	struct hg_config	*cf = ld->ld_cf;
	yaml_node_item_t	*it;
	const char		*s;

	if (strcmp(key, "include") == 0) {
		if (tl->tl_pass != PASS_INCLUDE)
			return;
		if (v->type == YAML_SCALAR_NODE) {
			include_item(ld, v);
			return;
		}
		if (want_kind(ld, v, YAML_SEQUENCE_NODE, "include") != 0)
			return;
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++)
			include_item(ld, node(ld, *it));
		return;
	}
	if (strcmp(key, "categories") == 0) {
		if (tl->tl_pass == PASS_CATEGORIES &&
		    want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, categories_pair, NULL);
		return;
	}
	if (strcmp(key, "actions") == 0) {
		if (tl->tl_pass == PASS_ACTIONS &&
		    want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, actions_pair, NULL);
		return;
	}
	if (tl->tl_pass != PASS_INCLUDE)
		return;
	if (!tl->tl_main) {
		if (strcmp(key, "listen") == 0 || strcmp(key, "workers") == 0 ||
		    strcmp(key, "clients") == 0 ||
		    strcmp(key, "auth") == 0 ||
		    strcmp(key, "destinations") == 0 ||
		    strcmp(key, "allow_destinations") == 0 ||
		    strcmp(key, "trusted_proxies") == 0 ||
		    strcmp(key, "tls_sni") == 0 ||
		    strcmp(key, "metrics") == 0 ||
		    strcmp(key, "tls_ports") == 0 ||
		    strcmp(key, "connect_ports") == 0 ||
		    strcmp(key, "http_ports") == 0 ||
		    strcmp(key, "default") == 0 ||
		    strcmp(key, "max_connections") == 0 ||
		    strcmp(key, "max_connections_per_client") == 0 ||
		    strcmp(key, "user") == 0 || strcmp(key, "chroot") == 0 ||
		    strcmp(key, "timeouts") == 0 || strcmp(key, "dns") == 0 ||
		    strcmp(key, "log") == 0 || strcmp(key, "lists") == 0 ||
		    strcmp(key, "pac") == 0)
			err(ld, k, "'%s' is only allowed in the main "
			    "configuration file", key);
		else
			err(ld, k, "unknown key '%s' (an included file may "
			    "have include, categories, actions)", key);
		return;
	}
	if (platform_lacks(ld, k, key))
		return;
	if (strcmp(key, "listen") == 0)
		set_listen(ld, v);
	else if (strcmp(key, "workers") == 0) {
		if (v->type == YAML_SCALAR_NODE &&
		    strcmp(scalar(v), "auto") == 0)
			cf->cf_workers = 0;
		else if (v->type == YAML_SCALAR_NODE &&
		    (scalar(v)[0] < '0' || scalar(v)[0] > '9'))
			err(ld, v, "workers: expected 'auto' or a number from "
			    "1 to %d", HG_MAX_WORKERS);
		else
			want_uint(ld, v, "workers", 1, HG_MAX_WORKERS,
			    &cf->cf_workers);
	} else if (strcmp(key, "clients") == 0)
		set_clients(ld, v);
	else if (strcmp(key, "auth") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, auth_pair, NULL);
	}
	else if (strcmp(key, "trusted_proxies") == 0)
		set_cidrs(ld, v, "trusted_proxies", &cf->cf_trusted_proxies,
		    &cf->cf_ntrusted_proxies);
	else if (strcmp(key, "metrics") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, metrics_pair, NULL);
	} else if (strcmp(key, "tls_sni") == 0) {
		if ((s = want_string(ld, v, key)) == NULL)
			;
		else if (strcmp(s, "off") == 0)
			cf->cf_tls_sni = HG_SNI_OFF;
		else if (strcmp(s, "log") == 0)
			cf->cf_tls_sni = HG_SNI_LOG;
		else if (strcmp(s, "require") == 0)
			cf->cf_tls_sni = HG_SNI_REQUIRE;
		else
			err(ld, v, "tls_sni: expected off, log or require");
	} else if (strcmp(key, "tls_ports") == 0)
		set_ports(ld, v, &cf->cf_tls_ports, key);
	else if (strcmp(key, "allow_destinations") == 0)
		set_cidrs(ld, v, "allow_destinations", &cf->cf_dest_allow,
		    &cf->cf_ndest_allow);
	else if (strcmp(key, "destinations") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, destinations_pair, NULL);
	}
	else if (strcmp(key, "connect_ports") == 0)
		set_ports(ld, v, &cf->cf_connect_ports, key);
	else if (strcmp(key, "http_ports") == 0)
		set_ports(ld, v, &cf->cf_http_ports, key);
	else if (strcmp(key, "default") == 0)
		set_action(ld, v, "default", &cf->cf_default);
	else if (strcmp(key, "max_connections") == 0)
		want_uint(ld, v, key, 1, 1000000, &cf->cf_max_connections);
	else if (strcmp(key, "user") == 0) {
		free(cf->cf_user);
		cf->cf_user = NULL;
		if (!is_null(v) && (s = want_string(ld, v, key)) != NULL) {
			if (s[0] == '\0' || strpbrk(s, ": \t/") != NULL)
				err(ld, v, "user: '%s' is not a user name", s);
			else
				cf->cf_user = xstrdup(s);
		}
	} else if (strcmp(key, "chroot") == 0) {
		free(cf->cf_chroot);
		cf->cf_chroot = NULL;
		if (!is_null(v) && (s = want_string(ld, v, key)) != NULL) {
			if (s[0] != '/')
				err(ld, v, "chroot: '%s' is not an absolute path",
				    s);
			else
				cf->cf_chroot = xstrdup(s);
		}
	} else if (strcmp(key, "max_connections_per_client") == 0)
		want_uint(ld, v, key, 0, 1000000, &cf->cf_max_per_client);
	else if (strcmp(key, "timeouts") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, timeouts_pair, NULL);
	} else if (strcmp(key, "dns") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, dns_pair, NULL);
	} else if (strcmp(key, "log") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, log_pair, NULL);
	} else if (strcmp(key, "lists") == 0) {
		/* read first of all, in load_document() */
	} else if (strcmp(key, "pac") == 0) {
		if (want_kind(ld, v, YAML_MAPPING_NODE, key) == 0)
			each_pair(ld, v, pac_pair, NULL);
	} else {
		s = key;
		err(ld, k, "unknown key '%s'", s);
	}
}

static yaml_node_pair_t *
first_pair_with_key(struct loader *ld, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = node(ld, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
			return (p);
	}
	return (NULL);
}

static void
load_document(struct loader *ld, int is_main)
{
	yaml_node_t		*root = yaml_document_get_root_node(ld->ld_doc);
	yaml_node_t		*k;
	yaml_node_pair_t	*p;
	struct toplevel		 tl;

	if (root == NULL || is_null(root))
		return;		/* an empty file is an empty configuration */
	if (root->type != YAML_MAPPING_NODE) {
		err(ld, root, "expected a mapping of keys at the top level");
		return;
	}
	tl.tl_main = is_main;
	/*
	 * lists: before anything else, so that its max_bytes bounds the file
	 * lists of the files included before the key is reached.
	 */
	if (is_main && (p = first_pair_with_key(ld, root, "lists")) != NULL &&
	    want_kind(ld, node(ld, p->value), YAML_MAPPING_NODE, "lists") == 0)
		each_pair(ld, node(ld, p->value), lists_pair, NULL);
	/*
	 * First pass: includes and settings, checking every key once. Then
	 * the file's own categories, then its actions, so that a file's
	 * actions override what its includes set.
	 */
	tl.tl_pass = PASS_INCLUDE;
	each_pair(ld, root, top_pair, &tl);
	for (tl.tl_pass = PASS_CATEGORIES; tl.tl_pass <= PASS_ACTIONS;
	    tl.tl_pass++) {
		for (p = root->data.mapping.pairs.start;
		    p < root->data.mapping.pairs.top; p++) {
			k = node(ld, p->key);
			if (k->type != YAML_SCALAR_NODE)
				continue;
			if (strcmp(scalar(k), "categories") != 0 &&
			    strcmp(scalar(k), "actions") != 0)
				continue;
			/* A duplicated key was reported: use the first. */
			if (first_pair_with_key(ld, root, scalar(k)) != p)
				continue;
			top_pair(ld, scalar(k), k, node(ld, p->value), &tl);
		}
	}
}

/*
 * Read one file into memory, bounded by HG_MAX_CONFIG_FILE. Returns the
 * buffer (caller frees) or NULL with an error added.
 */
static unsigned char *
read_file(struct loader *ld, const char *path, size_t *lenp,
    const char *from, const yaml_mark_t *mark)
{
	FILE		*f;
	struct stat	 st;
	unsigned char	*buf;
	size_t		 len = 0, cap = 65536, n;

	if ((f = fopen(path, "rb")) == NULL) {
		if (from != NULL)
			errors_add(ld->ld_errs, from, (unsigned)mark->line + 1,
			    (unsigned)mark->column + 1, "cannot open %s: %s",
			    path, strerror(errno));
		else
			errors_add(ld->ld_errs, path, 0, 0, "cannot open: %s",
			    strerror(errno));
		return (NULL);
	}
	/* sized to the file, so that a large one is read in one pass */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= (off_t)cap && st.st_size < HG_MAX_CONFIG_FILE)
		cap = (size_t)st.st_size + 1;
	buf = xmalloc(cap);
	hg_prefault(buf, cap);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= HG_MAX_CONFIG_FILE) {
				errors_add(ld->ld_errs, path, 0, 0,
				    "file larger than %d bytes",
				    HG_MAX_CONFIG_FILE);
				free(buf);
				fclose(f);
				return (NULL);
			}
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	if (ferror(f)) {
		errors_add(ld->ld_errs, path, 0, 0, "read error: %s",
		    strerror(errno));
		free(buf);
		fclose(f);
		return (NULL);
	}
	fclose(f);
	*lenp = len;
	return (buf);
}

/*
 * Report a libyaml failure. Reader errors (bad UTF-8, control characters)
 * carry a byte offset rather than a mark: count lines up to it.
 */
static void
parse_error(struct loader *ld, const char *path, yaml_parser_t *parser,
    const unsigned char *buf, size_t len)
{
	unsigned	line, col;
	size_t		i, off;

	if (parser->error == YAML_READER_ERROR) {
		off = parser->problem_offset < len ? parser->problem_offset :
		    len;
		line = 1;
		col = 1;
		for (i = 0; i < off; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if ((buf[i] & 0xc0) != 0x80)
				col++;
		}
	} else {
		line = (unsigned)parser->problem_mark.line + 1;
		col = (unsigned)parser->problem_mark.column + 1;
	}
	errors_add(ld->ld_errs, path, line, col, "%s%s%s",
	    parser->problem ? parser->problem : "syntax error",
	    parser->context ? " " : "",
	    parser->context ? parser->context : "");
}

static void
load_buffer(struct loader *ld, const char *path, const unsigned char *buf,
    size_t len, int is_main)
{
	yaml_parser_t		 parser;
	struct yamldoc		 yd;
	const char		*saved_file = ld->ld_file;
	yaml_document_t		*saved_doc = ld->ld_doc;
	const struct yamldoc	*saved_yd = ld->ld_yd;
	size_t			 nerr = errors_total(ld->ld_errs);

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yamldoc_load(&parser, &yd, "hosts")) {
		ld->ld_partial = 1;
		parse_error(ld, path, &parser, buf, len);
		yaml_parser_delete(&parser);
		return;
	}
	{
		struct yamldoc	 extra;
		yaml_node_t	*root;

		/* One document per file: a second one is a mistake. */
		if (!yamldoc_load(&parser, &extra, NULL))
			parse_error(ld, path, &parser, buf, len);
		else {
			root = yaml_document_get_root_node(&extra.yd_doc);
			if (root != NULL)
				errors_add(ld->ld_errs, path,
				    (unsigned)extra.yd_doc.start_mark.line + 1,
				    (unsigned)extra.yd_doc.start_mark.column + 1,
				    "a second YAML document in the file");
			yamldoc_free(&extra);
		}
		/*
		 * Only this file's own syntax errors stop its load: an error
		 * found earlier elsewhere (a bad key before an include) must
		 * not leave the included categories out, which would report
		 * every action naming them as a second, false error.
		 */
		if (errors_total(ld->ld_errs) != nerr) {
			ld->ld_partial = 1;
			yamldoc_free(&yd);
			yaml_parser_delete(&parser);
			return;
		}
	}
	ld->ld_file = path;
	ld->ld_doc = &yd.yd_doc;
	ld->ld_yd = &yd;
	load_document(ld, is_main);
	ld->ld_file = saved_file;
	ld->ld_doc = saved_doc;
	ld->ld_yd = saved_yd;
	yamldoc_free(&yd);
	yaml_parser_delete(&parser);
}

static void
load_file(struct loader *ld, const char *path, int is_main, const char *from,
    const yaml_mark_t *mark)
{
	unsigned char	*buf;
	size_t		 len, i;
	char		*real;

	if (ld->ld_depth >= HG_MAX_INCLUDE_DEPTH) {
		errors_add(ld->ld_errs, from, (unsigned)mark->line + 1,
		    (unsigned)mark->column + 1,
		    "includes nested deeper than %d (a cycle?)",
		    HG_MAX_INCLUDE_DEPTH);
		ld->ld_partial = 1;
		return;
	}
	/* Include once: a file named twice adds its categories once. */
	real = path_real(path);
	if (real != NULL) {
		for (i = 0; i < ld->ld_nseen; i++) {
			if (strcmp(ld->ld_seen[i], real) == 0) {
				free(real);
				return;
			}
		}
		ld->ld_seen = xreallocarray(ld->ld_seen, ld->ld_nseen + 1,
		    sizeof *ld->ld_seen);
		ld->ld_seen[ld->ld_nseen++] = real;
	}
	if ((buf = read_file(ld, path, &len, from, mark)) == NULL) {
		ld->ld_partial = 1;
		return;
	}
	ld->ld_depth++;
	/* The path string must outlive the load: keep it in the ruleset. */
	load_buffer(ld, ruleset_file(ld->ld_rs,
	    ruleset_add_file(ld->ld_rs, path)), buf, len, is_main);
	ld->ld_depth--;
	free(buf);
}

static struct hg_config *
config_new(void)
{
	struct hg_config	*cf;
	const char		*why;

	cf = xcalloc(1, sizeof *cf);
	cf->cf_refs = 1;
	listener_add(cf, HG_LISTEN_PROXY, "127.0.0.1:3128");
	cf->cf_workers = 0;
	cf->cf_clients = xcalloc(2, sizeof *cf->cf_clients);
	cidr_parse("127.0.0.0/8", &cf->cf_clients[0]);
	cidr_parse("::1/128", &cf->cf_clients[1]);
	cf->cf_nclients = 2;
	cf->cf_metrics_allow = xcalloc(2, sizeof *cf->cf_metrics_allow);
	cidr_parse("127.0.0.0/8", &cf->cf_metrics_allow[0]);
	cidr_parse("::1/128", &cf->cf_metrics_allow[1]);
	cf->cf_nmetrics_allow = 2;
	portset_parse_item(&cf->cf_connect_ports, "443", &why);
	portset_parse_item(&cf->cf_http_ports, "80", &why);
	portset_parse_item(&cf->cf_tls_ports, "443", &why);
	cf->cf_tls_sni = HG_SNI_LOG;
	cf->cf_default = HG_ACT_ALLOW;
	cf->cf_max_connections = 4096;
	cf->cf_timeout_request = 10000;
	cf->cf_timeout_connect = 10000;
	cf->cf_timeout_idle = 300000;
	cf->cf_timeout_drain = 10000;
	cf->cf_timeout_response = 30000;
	cf->cf_hosts_file = xstrdup(DEFAULT_HOSTS_FILE);
	cf->cf_dns_system = 1;
	cf->cf_decisions = xstrdup("-");
	cf->cf_log_level = 2;
	cf->cf_cache_dir = xstrdup(HG_LIST_CACHE_DIR);
	cf->cf_list_timeout = HG_LIST_TIMEOUT;
	cf->cf_list_max_bytes = HG_LIST_MAX_BYTES;
	cf->cf_list_max_shrink = HG_LIST_MAX_SHRINK;
	cf->cf_auth_cache_ttl = HG_AUTH_CACHE_TTL;
	cf->cf_auth_max_failures = HG_AUTH_MAX_FAILURES;
	cf->cf_auth_fail_window = HG_AUTH_FAIL_WINDOW;
	cf->cf_rules = ruleset_new();
	errors_init(&cf->cf_warnings);
	cf->cf_pac_mode = HG_PAC_ALL;
	cf->cf_pac_fallback = HG_PAC_DIRECT;
	cf->cf_pac_max_age = 300;
	return (cf);
}

static void
config_free(struct hg_config *cf)
{
	size_t	i;

	free(cf->cf_file);
	listener_clear(cf, HG_LISTEN_PROXY);
	listener_clear(cf, HG_LISTEN_PAC);
	listener_clear(cf, HG_LISTEN_ADMIN);
	free(cf->cf_clients);
	for (i = 0; i < cf->cf_ngroups; i++)
		group_free(&cf->cf_groups[i]);
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

/*
 * The url: lists, now that the settings are known: their cache paths and
 * limits, and the last good copy when there is one. A list never
 * downloaded is empty and said so; start-up never waits on the network.
 */
static void
load_sources(struct hg_config *cf)
{
	struct hg_listsrc	*src;
	struct hg_errors	 lerr;
	size_t			 i;

	for (i = 0; i < cf->cf_nsources; i++) {
		src = &cf->cf_sources[i];
		if (src->ls_max_bytes == 0)
			src->ls_max_bytes = cf->cf_list_max_bytes;
		if (src->ls_max_shrink < 0)
			src->ls_max_shrink = cf->cf_list_max_shrink;
		listsrc_cache_paths(cf->cf_cache_dir, src->ls_url,
		    src->ls_format, &src->ls_body, &src->ls_meta);
		errors_init(&lerr);
		src->ls_entries = list_load_bounded(cf->cf_rules, src->ls_cat,
		    src->ls_body, src->ls_url, src->ls_format,
		    src->ls_max_bytes, &lerr, &cf->cf_warnings);
		if (src->ls_entries == -2 && lerr.er_count > 0) {
			/* a copy from before max_bytes was lowered */
			errors_add(&cf->cf_warnings, src->ls_file, src->ls_line,
			    src->ls_col, "warning: list %s: cached copy "
			    "refused, treated as empty until the next "
			    "download: %s", src->ls_url, lerr.er_msgs[0]);
			src->ls_entries = -1;
		} else if (src->ls_entries < 0)
			errors_add(&cf->cf_warnings, src->ls_file, src->ls_line,
			    src->ls_col, "warning: list %s: never downloaded, "
			    "treated as empty (hushgate lists update)",
			    src->ls_url);
		errors_free(&lerr);
	}
}

/* Group names of per-group actions, now that every group is known. */
static void
resolve_gactions(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_category	*ca;
	struct hg_gaction	*ga;
	size_t			 i, j;

	for (i = 0; i < ruleset_ncategories(cf->cf_rules); i++) {
		ca = ruleset_category(cf->cf_rules, (uint32_t)i);
		for (j = 0; j < ca->ca_ngact; j++) {
			ga = &ca->ca_gact[j];
			ga->ga_group = config_group_find(cf, ga->ga_name);
			if (ga->ga_group == HG_NONE)
				errors_add(ld->ld_errs, ga->ga_file,
				    ga->ga_line, ga->ga_col, "actions: no "
				    "client group named '%s' (clients: "
				    "[{name: ...}])", ga->ga_name);
		}
	}
}

/*
 * auth.basic: refuse it on a plain listener (the password would cross
 * the network readable) unless allow_plaintext_auth says so; read the
 * users file.
 */
static void
auth_finish(struct loader *ld)
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

static struct hg_config *
config_finish(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;
	size_t			 i;

	for (i = 0; i < ld->ld_nseen; i++)
		free(ld->ld_seen[i]);
	free(ld->ld_seen);
	resolve_gactions(ld);
	auth_finish(ld);
	if (errors_total(ld->ld_errs) != 0) {
		config_free(cf);
		return (NULL);
	}
	load_sources(cf);
	ruleset_compile(cf->cf_rules, &cf->cf_warnings);
	return (cf);
}

/*
 * Load the configuration file at path and everything it includes. Returns
 * a new configuration (one reference), or NULL with errs filled.
 */
struct hg_config *
config_load(const char *path, struct hg_errors *errs)
{
	struct loader	ld;

	memset(&ld, 0, sizeof ld);
	ld.ld_cf = config_new();
	ld.ld_cf->cf_file = xstrdup(path);
	ld.ld_rs = ld.ld_cf->cf_rules;
	ld.ld_errs = errs;
	load_file(&ld, path, 1, NULL, NULL);
	return (config_finish(&ld));
}

/* The same from a buffer; name is used in messages and for relative paths. */
struct hg_config *
config_load_string(const char *name, const char *buf, size_t len,
    struct hg_errors *errs)
{
	struct loader	ld;

	memset(&ld, 0, sizeof ld);
	ld.ld_cf = config_new();
	ld.ld_cf->cf_file = xstrdup(name);
	ld.ld_rs = ld.ld_cf->cf_rules;
	ld.ld_errs = errs;
	load_buffer(&ld, ruleset_file(ld.ld_rs, ruleset_add_file(ld.ld_rs,
	    name)), (const unsigned char *)buf, len, 1);
	return (config_finish(&ld));
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
		config_free(cf);
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
