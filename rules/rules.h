/*
 * rules.h -- the policy engine of hushgate.
 *
 * Pure C and libyaml: text in, compiled ruleset out; host in, decision out.
 * This header must never include libevent or mbedTLS (a CI check greps for
 * it): the same objects serve the daemon, `hushgate explain`, the unit
 * tests, the fuzzers and the benchmarks.
 */
#ifndef HG_RULES_H
#define HG_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>
#include <stdio.h>

/* The printf flavour of our format attributes: the C99 one, also where
 * the system's own printf is another (mingw-w64's __USE_MINGW_ANSI_STDIO). */
#ifdef __MINGW_PRINTF_FORMAT
#define HG_PRINTF	__MINGW_PRINTF_FORMAT
#else
#define HG_PRINTF	printf
#endif

#define HG_MAX_HOST		253	/* longest DNS name, without final dot */
#define HG_MAX_LABEL		63	/* longest DNS label */
#define HG_MAX_ERRORS		100	/* errors kept per load, the rest counted */
#define HG_MAX_INCLUDE_DEPTH	8	/* include nesting */
#define HG_MAX_CONFIG_FILE	(16 * 1024 * 1024)	/* bytes in one YAML file */
#define HG_MAX_YAML_DEPTH	256	/* nested YAML collections; a literal:
				   yamldoc.c spells it in its message */
#define HG_MAX_LISTEN		16	/* addresses of one kind of listener */
#define HG_MAX_LISTENERS	(3 * HG_MAX_LISTEN)	/* of all three kinds */
#define HG_MAX_WORKERS		64
#define HG_MAX_USER		64	/* bytes of a user name */
#define HG_MAX_USER_HASH	255	/* bytes of a crypt(3) hash */
#define HG_MAX_USERS_LINE	(HG_MAX_USER + 1 + HG_MAX_USER_HASH)
#define HG_MAX_USERS_FILE	(4 * 1024 * 1024)	/* users file bytes */
#define HG_MAX_GROUP		64	/* bytes of a group name */
#define HG_MAX_LDAP_GROUPS	64	/* distinct clients.ldap_group DNs */
#define HG_MAX_LDAP_DN		1024	/* bytes of a DN or user_filter */
#define HG_MAX_LDAP_URLS	8	/* entries of ldap.url */
#define HG_MAX_LDAP_PASSWORD	1024	/* bytes of ldap.bind_password_file */
#define HG_LDAP_IN_CHAIN	"1.2.840.113556.1.4.1941" /* AD's nested
						   membership matching rule */

/* The realm of `auth.basic` when none is set. */
#define HG_AUTH_REALM		"hushgate"

#define HG_MAX_URL		2048	/* bytes of a list URL */
#define HG_MAX_LIST_BYTES	(1024ULL * 1024 * 1024)	/* max_bytes limit */
#define HG_MAX_LIST_META	8192	/* bytes of a list metadata file */
#define HG_MAX_VALIDATOR	256	/* ETag or Last-Modified kept */

/* How often a url: list is downloaded when it does not say. */
#define HG_LIST_REFRESH		(24U * 3600 * 1000)	/* ms */

#define HG_NONE			UINT32_MAX

enum hg_action {
	HG_ACT_NONE = 0,
	HG_ACT_ALLOW,
	HG_ACT_DENY,
	HG_ACT_AUDIT
};

/* Why a decision was taken. */
enum hg_reason {
	HG_REASON_RULE = 0,	/* a rule matched */
	HG_REASON_DEFAULT,	/* no rule matched: the global default */
	HG_REASON_PORT		/* the port is not in connect_ports/http_ports */
};

/* What kind of request asks (selects the port list). */
enum hg_scheme {
	HG_SCHEME_CONNECT = 0,
	HG_SCHEME_HTTP
};

enum hg_host_kind {
	HG_HOST_NAME = 0,
	HG_HOST_IPV4,
	HG_HOST_IPV6
};

/* A normalised request target. */
struct hg_target {
	char		 t_host[HG_MAX_HOST + 1]; /* lowercase; v6 without [] */
	size_t		 t_len;
	enum hg_host_kind t_kind;
	uint8_t		 t_addr[16];	/* IPv4 in the first 4 bytes */
	uint16_t	 t_port;
};

/* Error list filled by loaders: each message is "file:line:col: text". */
struct hg_errors {
	char		**er_msgs;
	size_t		  er_count;	/* kept in er_msgs */
	size_t		  er_cap;
	size_t		  er_dropped;	/* beyond HG_MAX_ERRORS */
};

struct hg_portrange {
	uint16_t	pr_lo;
	uint16_t	pr_hi;
};

struct hg_portset {
	struct hg_portrange	*ps_ranges;
	size_t			 ps_count;
};

struct hg_cidr {
	int		ci_family;	/* 4 or 6 */
	uint8_t		ci_addr[16];
	unsigned	ci_bits;
};

struct hg_category {
	char		*ca_name;
	char		*ca_description;
	char		*ca_breaks;
	char		*ca_note;
	enum hg_action	 ca_action;
	uint32_t	 ca_file;	/* index in the ruleset's file table */
	uint32_t	 ca_line;
	size_t		 ca_rules;	/* rules added (after dedup) */
	unsigned	 ca_tag;	/* the daemon's counter number */
	struct hg_gaction *ca_gact;	/* per-group actions */
	size_t		 ca_ngact;
};

/* A category's action for one client group (`actions: {GROUP: ACTION}`). */
struct hg_gaction {
	char		*ga_name;	/* group, resolved at the end of load */
	uint32_t	 ga_group;	/* index in cf_groups */
	enum hg_action	 ga_action;
	const char	*ga_file;	/* where it is set, for errors */
	unsigned	 ga_line;
	unsigned	 ga_col;
};

/* A client group: `clients: [{name, networks, users, ldap_group}]`. */
struct hg_group {
	char		*gr_name;
	struct hg_cidr	*gr_nets;	/* none: any client address */
	size_t		 gr_nnets;
	char		**gr_users;	/* NULL: any user, or none */
	size_t		 gr_nusers;
	int		 gr_have_users;
	unsigned	 gr_ldap;	/* 1 + its index in cf_ldap_groups;
					   0: no ldap_group */
};

/* ldap.membership: where the directory says who is in a group. */
enum hg_ldap_membership {
	HG_LDAP_MEMBER = 0,	/* the group's member: user DNs */
	HG_LDAP_MEMBERUID,	/* the group's memberUid: user names */
	HG_LDAP_MEMBEROF	/* the user's memberOf: group DNs */
};

/* The directory of `ldap:`, where clients.ldap_group is looked up. */
struct hg_ldap {
	char		*lc_urls;	/* ldap.url, space-separated */
	char		*lc_bind_dn;	/* NULL: anonymous */
	char		*lc_bind_pw;	/* bind_password_file's: a secret */
	char		*lc_base;	/* where users are searched */
	char		*lc_filter;	/* user_filter; "%s": the user */
	int		 lc_membership;	/* HG_LDAP_ */
	char		*lc_attr;	/* member_attribute */
	int		 lc_nested;	/* HG_LDAP_IN_CHAIN */
	int		 lc_starttls;
	char		*lc_ca_file;	/* NULL: libldap's own (ldap.conf) */
	unsigned	 lc_ttl;	/* ms */
	unsigned	 lc_timeout;	/* ms */
};

/* One user of the users file. */
struct hg_user {
	char		*us_name;
	char		*us_hash;	/* crypt(3) output */
	unsigned	 us_line;
};

/* One parsed line of a users file: pointers into the line. */
struct hg_userline {
	const char	*ul_name;
	size_t		 ul_namelen;
	const char	*ul_hash;
	size_t		 ul_hashlen;
};

/* The result of a lookup. Strings point into the ruleset. */
struct hg_decision {
	enum hg_action	 d_action;
	enum hg_reason	 d_reason;
	uint32_t	 d_category;	/* HG_NONE when no rule matched */
	const char	*d_category_name; /* NULL when none */
	const char	*d_file;	/* source of the rule, NULL when none */
	uint32_t	 d_line;
};

struct hg_ruleset;
struct hg_pac;

/* PAC files (pac.c): which hosts go to the proxy, and what a client does
 * when no proxy answers. */
enum hg_pac_mode {
	HG_PAC_ALL = 0,		/* every host but local ones and pac.bypass */
	HG_PAC_POLICY		/* only hosts the rules deny or audit */
};

enum hg_pac_fallback {
	HG_PAC_DIRECT = 0,	/* "PROXY ...; DIRECT" */
	HG_PAC_BLOCK		/* denied hosts: "PROXY ...; PROXY 127.0.0.1:9" */
};

#define HG_PAC_MAX_PROXIES	8	/* pac.proxy / --proxy entries */
#define HG_PAC_SIZE_WARN	(1024 * 1024)	/* see pac.c */

/* The first rule of a chain, as the PAC generator sees it. */
struct hg_rulehead {
	uint32_t	rh_cat;		/* HG_NONE: empty chain */
	int		rh_ports;	/* limited to some ports */
};

struct negotiate;	/* opaque here: proxy/negotiate.c's (GSS-API) */
struct tls_server;	/* opaque here: certs/ holds the mbedTLS side */

/* listen.proxy_protocol: the PROXY header versions a listener takes */
#define HG_PROXYPROTO_V1	1
#define HG_PROXYPROTO_V2	2

/* What a listener serves. */
enum hg_listen_kind {
	HG_LISTEN_PROXY = 0,	/* listen: the proxy */
	HG_LISTEN_PAC,		/* pac.listen: the PAC file only */
	HG_LISTEN_ADMIN		/* metrics.listen: /metrics only */
};

/* One listening address of listen, pac.listen or metrics.listen. */
struct hg_listener {
	char			*li_addr;	/* "ADDRESS:PORT" */
	enum hg_listen_kind	 li_kind;
	int			 li_pp;		/* HG_PROXYPROTO_ */
	char			*li_cert;	/* NULL: no TLS */
	char			*li_key;
	char			*li_tls_at;	/* file:line:col of its tls: */
	/* The loaded credentials (certs/), attached after loading by
	 * whoever runs listeners; freed with the config's cf_tls_free. */
	struct tls_server	*li_tls;
};

/* An https:// URL, parsed. */
struct hg_url {
	char		 u_host[HG_MAX_HOST + 1];	/* v6 without [] */
	int		 u_v6;
	uint16_t	 u_port;
	char		 u_path[HG_MAX_URL + 2];	/* "/..." with query */
};

/* A list kept current from a URL (`lists: [{url: ...}]`). */
struct hg_listsrc {
	char		*ls_url;
	char		*ls_format;
	uint32_t	 ls_cat;	/* category it feeds */
	unsigned	 ls_refresh;	/* ms */
	int		 ls_have_pin;
	uint8_t		 ls_pin[32];	/* sha256: of the body */
	char		*ls_ca_file;	/* NULL: the system bundle */
	uint64_t	 ls_max_bytes;	/* 0 until resolved: the global one */
	double		 ls_max_shrink;	/* < 0 until resolved */
	char		*ls_body;	/* cache: the last good copy */
	char		*ls_meta;	/* cache: its metadata */
	long		 ls_entries;	/* loaded from the cache; -1: none */
	const char	*ls_file;	/* where it is named */
	unsigned	 ls_line;
	unsigned	 ls_col;
};

/* The metadata kept next to a cached list. */
struct hg_listmeta {
	char		 lm_etag[HG_MAX_VALIDATOR];
	char		 lm_modified[HG_MAX_VALIDATOR];
	uint64_t	 lm_fetched;	/* unix time of the last new copy */
	uint64_t	 lm_checked;	/* unix time of the last good answer */
	int		 lm_have_sha256;
	uint8_t		 lm_sha256[32];
	uint64_t	 lm_bytes;
	uint64_t	 lm_entries;
};

/*
 * Parent proxies (`upstreams:`) and the routes that send allowed requests
 * to them (`routes:`, `route_default:`); see cfgupstream.c.
 */
#define HG_MAX_UPSTREAMS	32	/* entries of upstreams */
#define HG_MAX_UPSTREAM_NAME	32	/* bytes of an upstream's name */
#define HG_MAX_ROUTES		256	/* entries of routes */
#define HG_MAX_VIA		8	/* entries of a route's via */
#define HG_MAX_CREDENTIALS	1024	/* bytes of a credentials file */
#define HG_UPSTREAM_FAILURES	3	/* max_failures when not set */
#define HG_UPSTREAM_HOLD	30000	/* hold_time when not set, ms */

struct tls_client;	/* opaque here: certs/ holds the mbedTLS side */

/* One parent proxy: an entry of upstreams. */
struct hg_upstream {
	char			*up_name;
	char			*up_url;	/* "http(s)://HOST:PORT" */
	int			 up_tls;	/* https:// */
	struct hg_target	 up_addr;	/* its host and port */
	char			*up_ca;		/* ca: NULL, the system's */
	char			*up_cred_file;	/* credentials_file: */
	char			*up_auth;	/* "Basic BASE64": a secret */
	unsigned		 up_max_failures; /* 0: never marked down */
	unsigned		 up_hold;	/* hold_time, ms */
	const char		*up_file;	/* where it is defined */
	unsigned		 up_line;
	unsigned		 up_col;
	unsigned		 up_ca_line;	/* its ca: value (0: none) */
	unsigned		 up_ca_col;
	unsigned		 up_slot;	/* the daemon's state of it */
	/* Its TLS client configuration (https://), attached after loading
	 * by whoever connects; freed with the config's cf_tlsc_free. */
	struct tls_client	*up_tlsc;
};

/* One entry of a route's via: an upstream, or direct. */
struct hg_via {
	char		*vi_name;
	uint32_t	 vi_up;		/* index in cf_upstreams; HG_NONE:
					   direct */
	const char	*vi_file;	/* where it is named */
	unsigned	 vi_line;
	unsigned	 vi_col;
};

/* A category a route names, resolved once every file is read. */
struct hg_routecat {
	char		*rc_name;
	uint32_t	 rc_cat;
	const char	*rc_file;
	unsigned	 rc_line;
	unsigned	 rc_col;
};

/* An entry of routes (or route_default: no hosts, no categories). */
struct hg_route {
	struct hg_ruleset	*ro_hosts;	/* NULL: any host */
	struct hg_routecat	*ro_cats;	/* NULL: any category */
	size_t			 ro_ncats;
	struct hg_via		 ro_via[HG_MAX_VIA];
	size_t			 ro_nvia;
	const char		*ro_file;	/* NULL: route_default */
	unsigned		 ro_line;
};

/* log.format: the decision log's lines */
#define HG_LOG_JSON	0
#define HG_LOG_SQUID	1	/* Squid's native access.log */
#define HG_LOG_TEXT	2	/* one aligned line a person reads */
#define HG_MAX_LOG_OUTPUTS	8	/* entries of log.outputs */

/* One place the decision log goes: an entry of log.outputs, or what
 * log.decisions and log.format describe. */
struct hg_logout {
	char		*lo_to;		/* a file, "-" (stdout), "syslog" */
	int		 lo_format;	/* HG_LOG_ */
};

/* tls_sni: what the ClientHello at the start of a tunnel is used for */
#define HG_SNI_OFF	0
#define HG_SNI_LOG	1	/* record the server name */
#define HG_SNI_REQUIRE	2	/* ... and close a tunnel whose name differs */
#define HG_SNI_DECIDE	3	/* ... and close one whose name is denied */

/* The whole configuration: immutable once loaded, reference-counted. */
struct hg_config {
	int			 cf_refs;	/* atomic */
	char			*cf_file;
	/* listen, then pac.listen, then metrics.listen: the proxy's come
	 * first, and each kind keeps the order of the file. */
	struct hg_listener	 cf_listeners[HG_MAX_LISTENERS];
	size_t			 cf_nlisteners;
	void			(*cf_tls_free)(struct tls_server *);
	unsigned		 cf_workers;	/* 0 = auto */
	struct hg_cidr		*cf_clients;
	size_t			 cf_nclients;
	struct hg_group		*cf_groups;	/* clients: group entries */
	size_t			 cf_ngroups;
	struct hg_ldap		*cf_ldap;	/* ldap:; NULL: none */
	char			**cf_ldap_groups; /* ldap_group DNs, distinct */
	size_t			 cf_nldap_groups;
	int			 cf_auth_basic;	/* auth.basic is set */
	char			*cf_auth_realm;
	char			*cf_users_file;
	struct hg_user		*cf_users;
	size_t			 cf_nusers;
	unsigned		 cf_auth_cache_ttl;	/* ms */
	unsigned		 cf_auth_max_failures;
	unsigned		 cf_auth_fail_window;	/* ms */
	int			 cf_auth_plaintext; /* allow_plaintext_auth */
	/* auth.negotiate: Kerberos (HTTP Negotiate); the credentials are
	 * loaded from the keytab by whoever runs the proxy (daemon_load)
	 * and freed with the config's cf_nego_free */
	int			 cf_auth_negotiate;
	char			*cf_nego_keytab;
	char			*cf_nego_keytab_at;	/* "file:line:col" */
	char			*cf_nego_principal;	/* NULL: any in it */
	char			*cf_nego_rcache;	/* replay cache file */
	int			 cf_nego_strip_realm;
	struct negotiate	*cf_nego;
	void			(*cf_nego_free)(struct negotiate *);
	struct hg_cidr		*cf_trusted_proxies; /* may send PROXY */
	size_t			 cf_ntrusted_proxies;
	struct hg_cidr		*cf_metrics_allow; /* who may GET /metrics */
	size_t			 cf_nmetrics_allow;
	int			 cf_status;	/* metrics.status: the page and its store */
	int			 cf_tls_sni;	/* HG_SNI_ */
	struct hg_portset	 cf_tls_ports;	/* where a tunnel must be TLS */
	int			 cf_dest_guard;	/* refuse non-public addresses */
	struct hg_cidr		*cf_dest_allow;	/* ... except these */
	size_t			 cf_ndest_allow;
	struct hg_portset	 cf_connect_ports;
	struct hg_portset	 cf_http_ports;
	enum hg_action		 cf_default;
	unsigned		 cf_max_connections;
	unsigned		 cf_max_per_client; /* 0: no bound */
	unsigned		 cf_timeout_request;	/* milliseconds */
	unsigned		 cf_timeout_connect;
	unsigned		 cf_timeout_idle;
	unsigned		 cf_timeout_drain;
	unsigned		 cf_timeout_response;
	char			*cf_hosts_file;	/* NULL = none */
	int			 cf_dns_system;	/* use resolv.conf */
	char			**cf_dns_servers;
	size_t			 cf_ndns_servers;
	char			*cf_decisions;	/* NULL = off, "-" = stdout */
	int			 cf_log_format;	/* HG_LOG_ */
	/* Where the decision log goes: log.outputs, or else the one output
	 * of log.decisions and log.format (none when that is null). */
	struct hg_logout	 cf_logouts[HG_MAX_LOG_OUTPUTS];
	size_t			 cf_nlogouts;
	int			 cf_logouts_set; /* log.outputs was given */
	char			*cf_user;	/* become this user once bound */
	char			*cf_chroot;	/* ... shut in this directory */
	char			*cf_control_socket; /* control.socket; NULL: none */
	unsigned		 cf_control_mode;	/* its file mode */
	char			*cf_control_group;	/* its group; NULL: ours */
	int			 cf_log_level;
	char			*cf_cache_dir;	/* lists.cache_dir */
	unsigned		 cf_list_timeout;	/* ms */
	uint64_t		 cf_list_max_bytes;
	double			 cf_list_max_shrink;
	struct hg_listsrc	*cf_sources;	/* url: lists */
	size_t			 cf_nsources;
	struct hg_ruleset	*cf_rules;
	struct hg_errors	 cf_warnings;	/* from -t: ties, shadows */
	/* pac: */
	enum hg_pac_mode	 cf_pac_mode;
	enum hg_pac_fallback	 cf_pac_fallback;
	char			*cf_pac_proxy[HG_PAC_MAX_PROXIES];
	size_t			 cf_npac_proxy;	/* 0: the address used */
	char			**cf_pac_bypass;	/* ".x", "*.x", "x" */
	size_t			 cf_npac_bypass;
	struct hg_cidr		*cf_pac_bypass_nets;
	size_t			 cf_npac_bypass_nets;
	unsigned		 cf_pac_max_age;	/* seconds */
	struct hg_pac		*cf_pac;	/* built by the daemon */
	/* upstreams, routes, route_default */
	struct hg_upstream	 cf_upstreams[HG_MAX_UPSTREAMS];
	size_t			 cf_nupstreams;
	void			(*cf_tlsc_free)(struct tls_client *);
	struct hg_route		*cf_routes;
	size_t			 cf_nroutes;
	struct hg_route		 cf_route_default;
};

/* A generated PAC file: head, then the proxy line, then body. */
struct hg_pac {
	char		*pc_head;	/* comment: version, digest, counts */
	size_t		 pc_headlen;
	char		*pc_body;	/* FindProxyForURL and its tables */
	size_t		 pc_bodylen;
	char		 pc_digest[17];	/* FNV-1a 64 of the body, hex */
	size_t		 pc_names;	/* names looked up */
	size_t		 pc_bloomed;	/* of them: in the Bloom filter */
};

/* errors.c */
void		 errors_init(struct hg_errors *);
void		 errors_free(struct hg_errors *);
void		 errors_add(struct hg_errors *, const char *, unsigned,
		    unsigned, const char *, ...)
		    __attribute__((format(HG_PRINTF, 5, 6)));
void		 errors_addv(struct hg_errors *, const char *, unsigned,
		    unsigned, const char *, va_list)
		    __attribute__((format(HG_PRINTF, 5, 0)));
void		 errors_add_msg(struct hg_errors *, const char *);
size_t		 errors_total(const struct hg_errors *);
void		 errors_print(const struct hg_errors *, FILE *);

/* util.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
#ifndef HAVE_REALLOCARRAY
void		*reallocarray(void *, size_t, size_t);
#endif
#ifndef HAVE_MEMMEM
void		*memmem(const void *, size_t, const void *, size_t);
#endif
#ifndef HAVE_EXPLICIT_BZERO
/* Zero a secret so that the compiler cannot drop the stores. */
void		 explicit_bzero(void *, size_t);
#endif
#ifndef HAVE_STRTONUM
/* A decimal number in [min, max], as OpenBSD has it: 0 and *errstr
 * ("invalid", "too small", "too large") when it is not one. */
long long	 strtonum(const char *, long long, long long, const char **);
#endif
void		 hg_prefault(void *, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);
int		 xasprintf(char **, const char *, ...)
		    __attribute__((format(HG_PRINTF, 2, 3)));
const char	*action_name(enum hg_action);
int		 action_parse(const char *, enum hg_action *);
int		 duration_parse(const char *, unsigned *);
char		*path_join_dir(const char *, const char *);
/* The canonical absolute name of an existing file, or NULL. */
char		*path_real(const char *);

/* host.c */
int		 host_normalise(const char *, size_t, struct hg_target *,
		    const char **);
int		 target_parse(const char *, size_t, uint16_t,
		    struct hg_target *, const char **);
int		 port_parse(const char *, size_t, uint16_t *);

/* idna.c */
ssize_t		 idna_to_ascii(const char *, size_t, char *, size_t,
		    const char **);

/* addrclass.c: the destination guard's view of an address */
enum hg_addrclass {
	HG_AC_PUBLIC = 0,
	HG_AC_LOOPBACK,
	HG_AC_PRIVATE,		/* RFC 1918, IPv6 site-local */
	HG_AC_LINKLOCAL,	/* 169.254/16 (cloud metadata), fe80::/10 */
	HG_AC_CGNAT,		/* 100.64/10 */
	HG_AC_ULA,		/* fc00::/7 */
	HG_AC_MULTICAST,
	HG_AC_UNSPECIFIED,
	HG_AC_RESERVED		/* this-network, broadcast, documentation ... */
};
enum hg_addrclass addrclass_of(int, const uint8_t *);
int		 addrclass_embedded(const uint8_t *, uint8_t *);
const char	*addrclass_name(enum hg_addrclass);

/* cidr.c */
int		 cidr_parse(const char *, struct hg_cidr *);
int		 cidr_match(const struct hg_cidr *, int, const uint8_t *);
int		 cidr_list_match(const struct hg_cidr *, size_t, int,
		    const uint8_t *);

/* ports.c */
int		 portset_parse_item(struct hg_portset *, const char *,
		    const char **);
int		 portset_contains(const struct hg_portset *, uint16_t);
void		 portset_free(struct hg_portset *);

/* ruleset.c */
struct hg_ruleset *ruleset_new(void);
void		 ruleset_free(struct hg_ruleset *);
uint32_t	 ruleset_add_file(struct hg_ruleset *, const char *);
uint32_t	 ruleset_add_category(struct hg_ruleset *, const char *,
		    enum hg_action, uint32_t, uint32_t);
uint32_t	 ruleset_find_category(const struct hg_ruleset *,
		    const char *);
struct hg_category *ruleset_category(struct hg_ruleset *, uint32_t);
const struct hg_category *ruleset_category_const(
		    const struct hg_ruleset *, uint32_t);
size_t		 ruleset_ncategories(const struct hg_ruleset *);
const char	*ruleset_file(const struct hg_ruleset *, uint32_t);
void		 ruleset_prefetch(const struct hg_ruleset *, const char *,
		    size_t);
void		 ruleset_reserve(struct hg_ruleset *, size_t, size_t);
int		 ruleset_add_pattern(struct hg_ruleset *, uint32_t,
		    const char *, size_t, uint32_t, uint32_t, const char **);
void		 ruleset_compile(struct hg_ruleset *, struct hg_errors *);
void		 ruleset_report_shadows(struct hg_ruleset *,
		    struct hg_errors *, struct hg_errors *);
void		 ruleset_match(const struct hg_ruleset *,
		    const struct hg_target *, struct hg_decision *);
typedef void	(*ruleset_name_fn)(const char *,
		    const struct hg_rulehead *, void *);
typedef void	(*ruleset_prefix_fn)(const struct hg_cidr *,
		    const struct hg_rulehead *, void *);
typedef void	(*ruleset_glob_fn)(const char *, const struct hg_rulehead *,
		    void *);
void		 ruleset_walk_names(const struct hg_ruleset *,
		    ruleset_name_fn, void *);
void		 ruleset_walk_prefixes(const struct hg_ruleset *,
		    ruleset_prefix_fn, void *);
void		 ruleset_walk_globs(const struct hg_ruleset *,
		    ruleset_glob_fn, void *);
size_t		 ruleset_nfiles(const struct hg_ruleset *);
void		 ruleset_stats(const struct hg_ruleset *, size_t *, size_t *,
		    size_t *, size_t *, size_t *);

/* cfgfile.c */
struct hg_config *config_load(const char *, struct hg_errors *);
struct hg_config *config_load_string(const char *, const char *, size_t,
		    struct hg_errors *);
int		 config_control_socket(const char *, char **, char *,
		    size_t);

/* cfgkeys.c, cfgrestart.c, cfgobj.c: the keys of the configuration */
#define HG_KEY_MAIN	0x1	/* in the main file only */
#define HG_KEY_RESTART	0x2	/* a change takes effect at the next start */
#define HG_KEY_ENTRY	0x4	/* a key of a list's entries (a listen or
				   clients entry, a category, a list) */
typedef void	(*config_change_fn)(const char *, void *);
size_t		 config_restart_changes(const struct hg_config *,
		    const struct hg_config *, config_change_fn, void *);
int		 config_key(size_t, char *, size_t, int *);
const char	*config_tls_sni_name(int);
void		 config_ref(struct hg_config *);
void		 config_unref(struct hg_config *);
int		 config_proxy_trusted(const struct hg_config *, int,
		    const uint8_t *);
int		 config_destination_allowed(const struct hg_config *, int,
		    const uint8_t *, enum hg_addrclass *);
int		 config_client_allowed(const struct hg_config *, int,
		    const uint8_t *);
uint32_t	 config_group_match(const struct hg_config *, int,
		    const uint8_t *, const char *);
uint32_t	 config_group_match_dir(const struct hg_config *, int,
		    const uint8_t *, const char *, const uint64_t *, int *);
uint32_t	 config_group_find(const struct hg_config *, const char *);
size_t		 config_nlisteners(const struct hg_config *,
		    enum hg_listen_kind);

/* ldapstr.c: the text of directory lookups */
int		 ldapstr_attr_valid(const char *);
int		 ldapstr_dn_valid(const char *, const char **);
int		 ldapstr_url_valid(const char *, const char **);
int		 ldapstr_filter_valid(const char *, const char **);
ssize_t		 ldapstr_escape(const char *, char *, size_t);
int		 ldapstr_expand(const char *, const char *, char *, size_t);
/* cfgupstream.c: where an allowed request goes */
const struct hg_route *config_route(const struct hg_config *,
		    const struct hg_target *, const struct hg_decision *);
const char	*config_via_name(const struct hg_config *,
		    const struct hg_via *);
void		 config_route_text(const struct hg_config *,
		    const struct hg_route *, char *, size_t);
int		 config_upstream_url(const char *, struct hg_target *, int *,
		    const char **);
int		 credentials_parse(const char *, size_t, char **,
		    const char **);
size_t		 base64_encode(const void *, size_t, char *, size_t);

/* users.c */
int		 user_name_valid(const char *, size_t);
int		 users_parse_line(const char *, size_t, struct hg_userline *,
		    const char **, unsigned *);
int		 users_parse(const char *, const char *, size_t,
		    struct hg_user **, size_t *, struct hg_errors *);
int		 users_load(const char *, struct hg_user **, size_t *,
		    struct hg_errors *);
void		 users_free(struct hg_user *, size_t);
const struct hg_user *users_find(const struct hg_user *, size_t,
		    const char *);

/* lists.c */
int		 list_format_valid(const char *);
const char	*list_formats_text(void);
long		 list_load(struct hg_ruleset *, uint32_t, const char *,
		    const char *, const char *, struct hg_errors *,
		    struct hg_errors *);
long		 list_load_bounded(struct hg_ruleset *, uint32_t,
		    const char *, const char *, const char *, uint64_t,
		    struct hg_errors *, struct hg_errors *);

/* listsrc.c */
int		 url_parse(const char *, struct hg_url *, const char **);
int		 size_parse(const char *, uint64_t *);
int		 ratio_parse(const char *, double *);
int		 sha256_hex_parse(const char *, uint8_t [32]);
void		 sha256_hex(const uint8_t [32], char [65]);
void		 listsrc_cache_paths(const char *, const char *, const char *,
		    char **, char **);
int		 listmeta_parse(const char *, size_t, struct hg_listmeta *,
		    const char **);
int		 listmeta_read(const char *, struct hg_listmeta *,
		    const char **);
char		*listmeta_format(const struct hg_listmeta *, const char *);
int		 listsrc_shrink_ok(uint64_t, uint64_t, double);
void		 listsrc_diff(const char *, size_t, const char *, size_t,
		    size_t *, size_t *);

/* pac.c */
struct hg_pac	*pac_build(const struct hg_config *, enum hg_pac_mode,
		    enum hg_pac_fallback);
void		 pac_free(struct hg_pac *);
char		*pac_proxy_line(char *const *, size_t);
int		 pac_mode_parse(const char *, enum hg_pac_mode *);
int		 pac_fallback_parse(const char *, enum hg_pac_fallback *);
uint64_t	 pac_fnv64(const void *, size_t);

/* policy.c */
void		 policy_decide(const struct hg_config *, enum hg_scheme,
		    const struct hg_target *, struct hg_decision *);
int		 policy_decide_sni(const struct hg_config *,
		    const struct hg_target *, const char *, uint32_t,
		    struct hg_decision *, const char **);
int		 policy_sni_overrides(const struct hg_decision *,
		    const struct hg_decision *);
void		 policy_decide_group(const struct hg_config *, enum hg_scheme,
		    const struct hg_target *, uint32_t, struct hg_decision *);

#endif /* HG_RULES_H */
