/*
 * proxy.h -- the daemon and the command line: everything that touches a
 * socket.
 */
#ifndef HG_PROXY_H
#define HG_PROXY_H

#include <sys/types.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "rules/rules.h"
#include "plat/plat.h"
#include "wire/wire.h"

#ifndef HG_DEFAULT_CONFIG
#define HG_DEFAULT_CONFIG	"/etc/hushgate/hushgate.yaml"
#endif

/* Request line + headers (431): 8 KiB, or 64 KiB (Squid's default) with
 * auth.negotiate, whose Kerberos tokens for users in many directory groups
 * run to tens of KiB (request_head_max()). */
#define HG_MAX_REQUEST_HEAD	65536
#define HG_REQUEST_HEAD		8192
#define HG_RELAY_HIGH_WATER	(512 * 1024)	/* stop reading the peer */
#define HG_PIPELINE_OUT_MAX	(64 * 1024)	/* unread answers before the
						   next pipelined request */
#define HG_RELAY_LOW_WATER	(128 * 1024)	/* resume reading */
#define HG_RELAY_READ_MAX	(256 * 1024)	/* one read from a socket */
#define HG_LINGER_MS		2000	/* drain input after a final answer */
#define HG_EARLY_DATA_MAX	(64 * 1024) /* read ahead before the tunnel */
#define HG_MAX_DLOG_LINE	6144	/* one decision log line */
#define HG_MAX_RESPONSE_HEAD	16384	/* upstream response head (502) */
#define HG_MAX_LOG_PATH		1024	/* bytes of a path kept for the log */
#define HG_POOL_MAX		64	/* idle upstream connections/worker */
#define HG_POOL_IDLE_MS		30000	/* idle upstream connection lifetime */

struct event_base;
struct evconnlistener;
struct evdns_base;
struct bufferevent;
struct event;
struct evdns_getaddrinfo_request;
struct evutil_addrinfo;
struct evbuffer;

/* daemon.c: the proxy's main loop, for the command line and the Windows
 * service. The requests may come from any thread and act like SIGTERM
 * (drain, then proxy_serve returns) and SIGHUP. */
int		 proxy_serve(const char *, int);
struct hg_config *daemon_load(const char *, struct hg_errors *,
		    struct hg_errors *);
void		 proxy_request_stop(void);
void		 proxy_request_reload(void);

/*
 * control.c: the control socket (`hushgate ctl`), served on the main
 * loop. What it asks of the daemon goes through control_ops (daemon.c
 * fills it in), the daemon being above it.
 */
struct refresher;
struct control;
struct hg_errors;
struct control_state {
	const char		*cs_file;	/* configuration file */
	const struct hg_config	*cs_cfg;	/* running */
	unsigned		 cs_gen;
	time_t			 cs_loaded;	/* when (wall clock) */
	uint64_t		 cs_uptime;	/* seconds */
	struct refresher	*cs_rf;		/* url: lists; NULL: none */
};
struct control_ops {
	/* the reload of SIGHUP: the new generation, or -1 with errs */
	int		(*co_reload)(void *, struct hg_errors *);
	/* download the url: lists now: how many started, or -1 with why */
	int		(*co_lists_update)(void *, char *, size_t);
	void		(*co_state)(void *, struct control_state *);
};
#define HG_CTL_LINE_MAX		512	/* a request line */
#define HG_CTL_READ_MS		5000	/* to send it */
#define HG_CTL_CLIENTS		16	/* served at once */
#define HG_CTL_PAUSE_MAX_MS	(24U * 3600 * 1000)
int		 control_open(struct event_base *, const struct hg_config *,
		    const struct control_ops *, void *, struct control **);
void		 control_close(struct control *);

/* pause.c: categories whose denials are let through for a while */
#define HG_MAX_PAUSES		64
void		 pause_init(struct event_base *);
int		 pause_set(const char *, unsigned);
int		 pause_clear(const char *);
void		 pause_clear_all(void);
size_t		 pause_list(char **, unsigned *, size_t);
int		 pause_apply(struct hg_decision *);

/* log.c */
enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO,
    LOG_LVL_DEBUG };
void		 log_init(int);
void		 log_set_level(int);
typedef void	(*log_hook_fn)(int, const char *, size_t);
void		 log_set_fd(int);
void		 log_set_hook(log_hook_fn);
void		 log_warn(const char *, ...)
		    __attribute__((format(HG_PRINTF, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((format(HG_PRINTF, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((format(HG_PRINTF, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((format(HG_PRINTF, 1, 2)));
void		 fatalx(const char *, ...)
		    __attribute__((format(HG_PRINTF, 1, 2), noreturn));
void		 log_libevent(int, const char *);

/*
 * How a request ended: the "end" of its decision log record, counted by
 * /metrics (hushgate_requests_by_end_total) and mapped to a result code
 * of a Squid log line. The names are dlog.c's (dlog_end_name()).
 */
enum conn_end {
	END_NONE = 0,	/* not set yet; "other" for /metrics */
	END_CLIENT_CLOSED,
	END_UPSTREAM_CLOSED,
	END_DENIED,
	END_CLIENT_DENIED,
	END_CLIENT_IDLE,
	END_BAD_REQUEST,
	END_BAD_RESPONSE,
	END_TOO_LARGE,
	END_CONNECT_FAILED,
	END_CONNECT_TIMEOUT,
	END_RESOLVE_FAILED,
	END_RESOLVE_TIMEOUT,
	END_REQUEST_TIMEOUT,
	END_RESPONSE_TIMEOUT,
	END_IDLE_TIMEOUT,
	END_DESTINATION_GUARD,
	END_OVERLOAD,
	END_PROXY_PROTOCOL_ERROR,
	END_PROXY_UNTRUSTED,
	END_SERVED,
	END_SHUTDOWN,
	END_ERROR,
	END_DONE,
	END_SNI_MISMATCH,
	END_SNI_MISSING,
	END_NOT_TLS,
	END_BAD_CLIENT_HELLO,
	END_AUTH_REQUIRED,
	END_AUTH_FAILED,
	END_AUTH_BLOCKED,
	END_OVERLOAD_CLIENT,
	END_TLS_ERROR,
	END_TLS_TIMEOUT,
	END_PORT_DENIED,
	END_AUTH_BUSY,
	END_SNI_DENIED,
	END_AUTH_EXPIRED,	/* Negotiate: the ticket has expired */
	END_AUTH_REPLAY,	/* Negotiate: a token seen before */
	END_AUTH_WRONG_SERVICE,	/* Negotiate: no key for its ticket */
	END_UPSTREAM_UNREACHABLE,	/* a parent proxy did not answer */
	END_UPSTREAM_TLS,	/* the TLS to an https:// parent failed */
	END_UPSTREAM_AUTH,	/* a parent wanted other credentials (407) */
	END_UPSTREAM_REFUSED,	/* a parent refused a CONNECT (4xx) */
	END_UPSTREAM_FAILED,	/* a parent answered a CONNECT 5xx */
	END_UPSTREAM_DOWN,	/* every parent of the route marked down */
	END_MAX
};

/* dlog.c: the decision log */
struct dlog_record {
	struct timespec	 dr_start;
	const char	*dr_client;
	const char	*dr_method;
	const char	*dr_host;
	int		 dr_port;	/* 0: unknown */
	const char	*dr_path;	/* plain HTTP only */
	const char	*dr_action;	/* NULL: none */
	const char	*dr_category;
	const char	*dr_rule_file;
	unsigned	 dr_rule_line;
	int		 dr_status;
	const char	*dr_upstream;
	uint64_t	 dr_bytes_up;
	uint64_t	 dr_bytes_down;
	enum conn_end	 dr_end;
	const char	*dr_sni;	/* server name of the ClientHello */
	const char	*dr_user;	/* authenticated user; NULL: none */
	const char	*dr_group;	/* client group; NULL: none */
	int		 dr_parent;	/* dr_upstream names a parent proxy */
};
/* metrics.c: counters for GET /metrics */
#define HG_METRIC_CATS		1024	/* category names counted apart */
#define HG_METRIC_LISTS		1024	/* url: lists whose age is shown */
#define HG_DNS_BUCKETS		13

/* One worker's counters: written by it alone, summed by a scrape. */
struct wstats {
	uint64_t	ws_connections;
	uint64_t	ws_requests;
	uint64_t	ws_bytes_up;
	uint64_t	ws_bytes_down;
	uint64_t	ws_ends[END_MAX];
	uint64_t	ws_dns[HG_DNS_BUCKETS + 1];
	uint64_t	ws_dns_sum_us;
	uint64_t	ws_accept_paused; /* out of descriptors or memory */
	uint64_t	ws_decisions[HG_METRIC_CATS + 1][4];
};

struct dlog_record;
struct evbuffer;
void		 metrics_bind(struct hg_config *);
void		 metrics_reload(int);
void		 metrics_list_checked(const char *, uint64_t);
void		 metrics_record(struct wstats *, const struct hg_config *,
		    const struct dlog_record *, const struct hg_decision *,
		    unsigned *, unsigned *);
const char	*metrics_category_name(unsigned);
unsigned	 metrics_ncategories(void);
long long	 metrics_list_age(const struct hg_config *, size_t);
void		 metrics_connection(struct wstats *);
void		 metrics_dns(struct wstats *, uint64_t);
void		 metrics_accept_paused(struct wstats *);
void		 metrics_add(struct wstats *, const struct wstats *);
struct auth_counts;
struct ldap_counts;
void		 metrics_render(struct evbuffer *, const struct hg_config *,
		    const struct wstats *, unsigned, const struct auth_counts *,
		    const struct ldap_counts *);

/*
 * upstate.c: the state of the parent proxies (upstreams:), shared by the
 * workers with atomics: counters for /metrics, and whether each is marked
 * down. A slot a name, kept across reloads (the same name and url keep
 * their state).
 */
#define HG_UPSTATE_SLOTS	(4 * HG_MAX_UPSTREAMS)
enum upstate_kind {		/* how a request to a parent failed */
	UPF_UNREACHABLE = 0,
	UPF_TLS,
	UPF_AUTH,
	UPF_REFUSED,
	UPF_FAILED,
	UPF_MAX
};
enum upstate_admit {
	UPSTATE_UP = 0,		/* use it */
	UPSTATE_PROBE,		/* down, its hold time over: this one probes */
	UPSTATE_DOWN		/* down: skip it */
};
struct upstate_counts {
	uint64_t	uc_requests;	/* connections made to it */
	uint64_t	uc_failures[UPF_MAX];
	uint64_t	uc_skipped;	/* requests that skipped it, down */
	uint64_t	uc_downs;	/* times it was marked down */
	int		uc_down;	/* marked down now */
};
void		 upstate_bind(struct hg_config *);
enum upstate_admit upstate_admit(const struct hg_upstream *, unsigned);
void		 upstate_request(const struct hg_upstream *);
void		 upstate_alive(const struct hg_upstream *);
void		 upstate_failed(const struct hg_upstream *, enum upstate_kind);
const char	*upstate_kind_name(enum upstate_kind);
void		 upstate_counts(const struct hg_upstream *,
		    struct upstate_counts *);

/* status.c: what the status page shows beyond the counters */
#define HG_STATUS_RECENT	256	/* decisions kept per worker */
#define HG_STATUS_TOP		1024	/* hosts counted per worker and table */
#define HG_STATUS_BCATS		32	/* categories per time bucket */

struct status_recent {
	uint64_t	re_ns;		/* unix time, nanoseconds */
	char		re_client[46];
	char		re_method[16];
	char		re_host[HG_MAX_HOST + 1];
	char		re_action[8];
	char		re_category[64];
	char		re_rule[192];	/* file:line */
	int		re_port;
	int		re_status;
	int		re_default;	/* decided by default */
	enum conn_end	re_end;
};

/* Decisions of one second or minute, by category counter and action. */
struct status_bucket {
	int64_t		sb_epoch;	/* monotonic second or minute */
	unsigned	sb_n;
	struct {
		uint32_t	se_count;
		uint16_t	se_tag;
		uint8_t		se_act;
	}		sb_e[HG_STATUS_BCATS];
	uint64_t	sb_other[4];	/* categories beyond: as tag 0 */
};

struct status_top {
	char		tp_host[HG_MAX_HOST + 1];
	uint32_t	tp_hash;
	uint64_t	tp_count;
};

/* Every worker's store added up (status_add(), status_sum_done()). */
struct status_sum {
	uint64_t		 ss_minute[HG_METRIC_CATS + 1][4];
	uint64_t		 ss_hour[HG_METRIC_CATS + 1][4];
	struct status_recent	*ss_recent;	/* newest first */
	size_t			 ss_nrecent;
	struct status_top	*ss_top[2];	/* denied, by default */
	size_t			 ss_ntop[2];
	unsigned		 ss_workers;
};

struct wstatus;
struct wstatus	*status_new(void);
void		 status_free(struct wstatus *);
void		 status_record(struct wstatus *, const struct dlog_record *,
		    unsigned, unsigned, int);
void		 status_add(struct status_sum *, struct wstatus *);
void		 status_sum_done(struct status_sum *);
void		 status_sum_free(struct status_sum *);
long long	 status_uptime(void);
void		 status_publish(const struct hg_config *, unsigned, time_t);
void		 status_list_result(void *, const char *, const char *,
		    time_t);
int		 status_list_last(const char *, char *, size_t, time_t *);
void		 status_conf_each(void (*)(unsigned, time_t, const char *,
		    const char *, void *), void *);

/* service.c: user:, and sd_notify(3) for systemd */
int		 service_drop_privileges(const char *, const char *);
void		 service_notify(const char *);

/* Lines of one event loop turn, an output's in PIPE_BUF bytes written
 * whole. */
struct dlog_obuf {
	char		ob_buf[4096];
	size_t		ob_len;
};
struct dlog_batch {
	struct dlog_obuf db_out[HG_MAX_LOG_OUTPUTS];
	int		 db_pending;	/* some output has lines */
};

int		 dlog_open(const struct hg_logout *, size_t, char **);
int		 dlog_reopen(char **);
void		 dlog_close(void);
void		 dlog_stdout_format(int);
size_t		 dlog_format_squid(char *, size_t, const struct dlog_record *,
		    const struct timespec *);
const char	*dlog_end_name(enum conn_end);
const char	*dlog_squid_code(enum conn_end, const char *, int);
int		 dlog_add(struct dlog_batch *, const struct dlog_record *);
void		 dlog_flush(struct dlog_batch *);
size_t		 dlog_format(char *, size_t, const struct dlog_record *,
		    const struct timespec *);

/* dlogtext.c: the decision log as aligned text */
size_t		 dlog_format_text(char *, size_t, const struct dlog_record *,
		    const struct timespec *, int);

/* addrtab.c: records per client address, shared by the workers */
struct addrent {
	struct addrent	*ae_next;
	int		 ae_family;	/* 4 or 6 */
	uint8_t		 ae_addr[16];
};

struct addrtab {
	pthread_mutex_t	  at_mtx;
	struct addrent	**at_buckets;
	size_t		  at_nbuckets;
	unsigned	  at_chain;	/* records per bucket; 0: no bound */
	size_t		  at_size;	/* of a record */
	int		(*at_stale)(const struct addrent *, uint64_t);
};

/* A table on a static array of buckets, for records of type. */
#define ADDRTAB_INITIALIZER(buckets, chain, type, stale) {		\
	PTHREAD_MUTEX_INITIALIZER, (buckets),				\
	sizeof (buckets) / sizeof (buckets)[0], (chain), sizeof (type),	\
	(stale) }

void		 addrtab_lock(struct addrtab *);
void		 addrtab_unlock(struct addrtab *);
struct addrent	*addrtab_find(struct addrtab *, int, const uint8_t *);
struct addrent	*addrtab_add(struct addrtab *, int, const uint8_t *,
		    uint64_t);
void		 addrtab_remove(struct addrtab *, struct addrent *);

/* dns.c: name resolution, for the workers and the list downloader */
struct evdns_base *dns_base_open(struct event_base *,
		    const struct hg_config *);
struct evdns_getaddrinfo_request *dns_resolve(struct evdns_base *,
		    const char *, uint16_t,
		    void (*)(int, struct evutil_addrinfo *, void *), void *);

/* httpchunk.c: the chunked coding, for forward.c and download/fetch.c */
struct chunkdec {
	int		cd_state;
	uint64_t	cd_left;	/* bytes left in the current chunk */
};

int		 chunk_pump(struct chunkdec *, struct evbuffer *,
		    struct evbuffer *, int, uint64_t *);

/* worker.c */
struct worker;

/*
 * What the connections of a worker ask of the workers (worker.c fills it
 * in): the code below worker.c calls through it, never worker.c itself.
 */
struct worker_ops {
	/* take the configuration of a reload, if one came */
	void		(*wo_refresh_config)(struct worker *);
	/* one of the worker's connections closed (its slot is free) */
	void		(*wo_slot_freed)(struct worker *);
	/* every worker's counters added into a zeroed struct; returns the
	 * connections open */
	unsigned	(*wo_sum_stats)(struct wstats *);
	/* the port that listen address i is bound to */
	uint16_t	(*wo_listen_port)(size_t);
	/* every worker's status store added into a zeroed struct, sorted */
	void		(*wo_sum_status)(struct status_sum *);
};

struct worker {
	unsigned		 w_id;
	const struct worker_ops	*w_ops;
	pthread_t		 w_thread;
	struct event_base	*w_base;
	struct evdns_base	*w_dns;
	/* one per listener of the configuration, in its order */
	struct evconnlistener	*w_listeners[HG_MAX_LISTENERS];
	struct wlistener {
		struct worker	*wl_w;
		enum hg_listen_kind wl_kind;
		int		 wl_pp;		/* listen.proxy_protocol */
		int		 wl_tls;	/* listener index if TLS, or -1 */
	}			 w_lctx[HG_MAX_LISTENERS];
	size_t			 w_nlisteners;
	struct hg_config	*w_cfg;		/* for new connections */
	unsigned		 w_gen;
	struct event		*w_ev_stop;	/* asks the worker to drain */
	struct event		*w_ev_kill;	/* drain time is over */
	struct event		*w_ev_dlog;	/* end of turn: write the batch */
	struct event		*w_ev_accept;	/* accepting paused until */
	struct dlog_batch	 w_dlog;
	struct wstats		 w_stats;
	int			 w_stopping;
	unsigned		 w_nconns;
	struct conn		*w_conns;	/* list of open connections */
	struct pooled		*w_pool;	/* idle upstream connections */
	char			*w_scratch;	/* HG_RELAY_READ_MAX bytes */
	unsigned		 w_npool;
	struct auth_state	*w_auth;	/* credentials checked */
	struct nego_state	*w_nego;	/* Negotiate tokens checked */
	struct ldapgroups_state	*w_ldap;	/* directory answers */
	struct wstatus		*w_status;	/* for the status page */
};

int		 workers_start(struct hg_config *, unsigned);
void		 workers_set_done_event(struct event *);
unsigned	 workers_finished(void);
unsigned	 workers_count(void);
void		 workers_set_config(struct hg_config *, unsigned);
void		 workers_stop(void);
void		 workers_kill(void);
void		 workers_join(void);
unsigned	 workers_open_connections(void);
unsigned	 workers_sum_stats(struct wstats *);
void		 worker_refresh_config(struct worker *);

/* conn.c: a client connection (the rest: conn.h) */
struct conn;
struct conn	*conn_accept(struct worker *, int, struct bufferevent *,
		    struct sockaddr *);
void		 conn_shutdown_all(struct worker *);
void		 conn_drain_idle(struct worker *);
unsigned	 conn_count_open(void);

/* request.c: the requests of a connection */
struct wlistener;
void		 request_start(struct conn *, const struct wlistener *);

/* fwdpool.c: idle upstream connections of plain HTTP */
void		 fwd_pool_flush(struct worker *);

/* tlsbev.c: TLS (mbedTLS) on a bufferevent, for TLS listeners and the
 * https:// parent proxies */
struct tlsbev;
struct tls_server;
struct tls_client;
struct tlsbev	*tlsbev_wrap(struct bufferevent *, int, struct tls_server *,
		    struct bufferevent **);
struct tlsbev	*tlsbev_wrap_client(struct bufferevent *, int,
		    struct tls_client *, const struct hg_target *,
		    struct bufferevent **);
int		 tlsbev_open(const struct tlsbev *);
const char	*tlsbev_error(const struct tlsbev *, char *, size_t);
void		 tlsbev_kick(struct tlsbev *);
void		 tlsbev_shutdown(struct tlsbev *, void (*)(void *), void *);

/* auth.c: Basic proxy authentication */
struct auth_counts {
	uint64_t	ac_hashes;	/* passwords hashed */
	uint64_t	ac_cache_hits;	/* credentials found checked before */
	uint64_t	ac_waits;	/* waited for a hash already started */
	unsigned	ac_queued;	/* hashes waiting for a thread */
	unsigned	ac_running;	/* hashes being computed */
};
/* The answer to a request that may not go on (auth_request()). */
struct auth_answer {
	int		 aa_status;	/* 407, 429, 503 */
	enum conn_end	 aa_end;
	int		 aa_keep;	/* the connection goes on (a 407 of a
					 * Negotiate handshake not done) */
	char		 aa_headers[1024];
	char		 aa_body[256];
};

enum auth_verdict {
	AUTH_ALLOW = 0,	/* it goes on (as c->cn_req.cr_user) */
	AUTH_DENY,	/* it gets the auth_answer */
	AUTH_PENDING,	/* its password is being hashed, or its Kerberos
			 * token checked (CS_AUTH) */
	AUTH_NEXT	/* (negotiate.c to auth.c) no Negotiate: Basic's turn */
};

/* Takes up a request that waited (AUTH_PENDING): c, its head. */
typedef void	(*auth_resume_fn)(struct conn *, const char *, size_t);

enum auth_verdict auth_request(struct conn *, const struct http_request *,
		    const char *, size_t, auth_resume_fn, struct auth_answer *);
void		 auth_cancel(struct conn *);
void		 auth_state_free(struct worker *);
void		 auth_counts(struct auth_counts *);

/* negotiate.c: Kerberos single sign-on (auth.negotiate), the rest in
 * conn.h */
struct hg_errors;
int		 negotiate_attach(struct hg_config *, struct hg_errors *);
/*
 * ldapgroups.c: which directory groups (clients.ldap_group) a user is in,
 * asked of the ldap: directory by threads of its own, kept for ldap.ttl.
 */
struct ldap_counts {
	uint64_t	lk_ok;		/* lookups the directory answered */
	uint64_t	lk_failed;	/* ... it did not */
	uint64_t	lk_cache_hits;	/* requests answered from the cache */
	uint64_t	lk_waits;	/* waited for a lookup another started */
	uint64_t	lk_fail_closed;	/* in no directory group: not known */
	uint64_t	lk_unreachable;	/* times it became unreachable */
	int		lk_up;		/* 0: unreachable now */
	unsigned	lk_in_flight;	/* lookups queued or running */
	size_t		lk_users;	/* users in the cache */
};

enum lgroups_verdict {
	LGROUPS_READY = 0,	/* the groups are in the mask */
	LGROUPS_PENDING		/* looked up (CS_GROUPS): resume comes */
};

/* Takes up a request that waited (LGROUPS_PENDING): c, its head. */
typedef void	(*lgroups_resume_fn)(struct conn *, const char *, size_t);

enum lgroups_verdict ldapgroups_lookup(struct conn *, const char *,
		    const char *, size_t, lgroups_resume_fn, uint64_t *);
void		 ldapgroups_cancel(struct conn *);
void		 ldapgroups_expire(struct conn *);
void		 ldapgroups_configure(const struct hg_config *);
void		 ldapgroups_state_free(struct worker *);
void		 ldapgroups_counts(struct ldap_counts *);

#endif /* HG_PROXY_H */
