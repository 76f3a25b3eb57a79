/*
 * conn.h -- a client connection, for the files that handle one: the core
 * (conn.c) and the phases of a request above it. The rest of the daemon
 * sees a connection through proxy.h only.
 *
 * Calls go one way, down this list; a file below reaches one above only
 * through a pointer it was handed (struct conn_ops, auth_resume_fn, and
 * the worker's struct worker_ops):
 *
 *   request.c   the request head, the PROXY header, admission, dispatch
 *   admin.c     the proxy's own pages: the PAC file, /metrics, /healthz,
 *               the status page (statusapi.c: its JSON)
 *   tunnel.c    CONNECT: the tunnel, raw or on a TLS listener, tls_sni
 *   forward.c   plain HTTP forwarding (fwdpool.c: its idle upstreams)
 *   parent.c    the route of an allowed request: each entry in turn,
 *               a parent proxy's TLS and CONNECT, failover
 *   upstream.c  resolve, the destination guard, connect
 *   conn.c      accept, state, timers, answers, close and the record
 *   auth.c      Basic authentication (a verdict, never an answer)
 *   negotiate.c Negotiate (Kerberos) authentication, for auth.c
 *   negoload.c  its credentials, from a configuration's keytab
 *   authlimit.c what both share: failures per address, the answers
 *   ldapgroups.c  the user's directory groups (an answer, never a reply)
 */
#ifndef HG_CONN_H
#define HG_CONN_H

#include "proxy.h"

/* The connection: one client, one state, one way out (conn_close). */
enum conn_state {
	CS_HEAD = 0,	/* reading a request head */
	CS_AUTH,	/* its password is being hashed (auth.c) */
	CS_GROUPS,	/* its user's directory groups are looked up
			   (ldapgroups.c) */
	CS_RESOLVE,	/* evdns lookup of an allowed target */
	CS_CONNECT,	/* connecting to each address in turn */
	CS_RELAY,	/* CONNECT tunnel */
	CS_HTTP,	/* plain HTTP request/response in flight */
	CS_RESPOND,	/* a final answer is being written */
	CS_LINGER,	/* answer written, input drained to EOF */
	CS_CLOSED	/* waiting for a cancelled DNS request to return */
};

enum conn_kind {
	CK_NONE = 0,
	CK_CONNECT,
	CK_HTTP
};

/* How far the connection to a parent proxy is (parent.c). */
enum parent_stage {
	PS_NONE = 0,	/* direct, or the parent is ready */
	PS_CONNECT,	/* connecting to it (upstream.c) */
	PS_TLS,		/* its TLS handshake (https://) */
	PS_ANSWER	/* CONNECT sent, its answer awaited */
};

/*
 * One request and what became of it: everything a kept connection
 * forgets before its next request. conn_req_reset() alone resets it.
 */
struct conn_req {
	enum conn_kind		 cr_kind;
	unsigned		 cr_active:1;	/* a request to record */
	unsigned		 cr_nolog:1;	/* admin request: no record */
	unsigned		 cr_head_started:1;
	unsigned		 cr_have_target:1;
	unsigned		 cr_have_decision:1;
	/* plain HTTP */
	unsigned		 cr_keepalive:1; /* client connection goes on */
	unsigned		 cr_up_reusable:1;
	unsigned		 cr_up_pooled:1; /* upstream from the pool */
	unsigned		 cr_is_head:1;	/* HEAD request */
	unsigned		 cr_resp_started:1; /* head sent to client */
	unsigned		 cr_req_done:1;
	unsigned		 cr_resp_done:1;
	unsigned		 cr_rechunk:1;	/* re-chunk the response */
	unsigned		 cr_cli_eof:1;
	unsigned		 cr_up_eof:1;
	unsigned		 cr_dir_known:1; /* cr_dir_mask is the answer */
	uint64_t		 cr_dir_mask;	/* directory groups of the user
						   (bit i: cf_ldap_groups[i]) */
	int			 cr_minor;	/* client's HTTP/1.x */
	unsigned		 cr_empty_lines; /* CRLFs skipped before it */
	enum body_kind		 cr_req_body;
	uint64_t		 cr_req_left;
	struct chunkdec		 cr_req_chunk;
	enum body_kind		 cr_resp_body;
	uint64_t		 cr_resp_left;
	struct chunkdec		 cr_resp_chunk;
	/* the record */
	struct timespec		 cr_start;
	int			 cr_status;
	enum conn_end		 cr_end;
	uint64_t		 cr_bytes_up;
	uint64_t		 cr_bytes_down;
	struct hg_target	 cr_target;
	struct hg_decision	 cr_dec;
	char			*cr_path;	/* plain HTTP, for the log */
	char			 cr_user[HG_MAX_USER + 1]; /* "" : none */
	uint32_t		 cr_group;	/* HG_NONE: none */
	char			 cr_sni[HG_MAX_HOST + 1];
	char			 cr_upstream[56];
	char			 cr_method[16];
	char			 cr_raw_target[256];
	/* where an allowed request goes (parent.c) */
	const struct hg_route	*cr_route;	/* NULL: not routed */
	unsigned		 cr_hop;	/* the entry of its via tried */
	const struct hg_upstream *cr_via;	/* its parent; NULL: direct */
	/* the failure of an earlier entry, answered if no later one is
	 * tried (the later ones marked down) */
	int			 cr_fail_status; /* 0: none */
	enum conn_end		 cr_fail_end;
	const struct hg_upstream *cr_fail_via;
	char			 cr_fail_why[256];
};

struct conn {
	struct worker		*cn_w;
	struct conn		*cn_next;
	struct conn		*cn_prev;
	enum conn_state		 cn_state;
	struct hg_config	*cn_cfg;
	struct bufferevent	*cn_cli;
	struct bufferevent	*cn_up;
	struct event		*cn_timer;
	const struct conn_ops	*cn_ops;	/* request.c's */
	struct conn_req		 cn_req;	/* the request in hand */
	/* the tunnel (CS_RELAY): sockets, events, what waits to be written */
	int			 cn_fd[2];	/* client, upstream */
	struct event		*cn_ev[4];	/* cli r, cli w, up r, up w */
	struct evbuffer		*cn_pend[2];	/* to upstream, to client */
	unsigned char		 cn_tun_eof[2];	/* source said EOF */
	unsigned char		 cn_tun_shut[2]; /* target write side shut */
	int			 cn_sni_wait;	/* holding the ClientHello */
	struct evbuffer		*cn_hello;	/* ... here */
	struct evdns_getaddrinfo_request *cn_dnsreq;
	int			 cn_dns_cancel;
	struct evutil_addrinfo	*cn_ai;
	struct evutil_addrinfo	*cn_ai_next;
	int			 cn_connect_errno;
	char			 cn_guarded[INET6_ADDRSTRLEN + 24]; /* refused address */
	unsigned		 cn_slot:1;	/* holds a max_connections slot */
	unsigned		 cn_pac_only:1;	/* accepted on pac.listen */
	unsigned		 cn_admin_only:1; /* accepted on metrics.listen */
	unsigned		 cn_pp_local:1;	/* PROXY LOCAL/UNKNOWN: /healthz */
	unsigned		 cn_pp_relayed:1; /* came through a PROXY sender */
	struct evbuffer		*cn_uphead;	/* request head for upstream */
	unsigned		 cn_nreqs;	/* requests on this connection */
	struct timespec		 cn_last;	/* monotonic: last relay read */
	char			 cn_client[46];
	int			 cn_family;	/* of the client: 4, 6, 0 */
	uint8_t			 cn_addr[16];	/* (PROXY header's if any) */
	struct timespec		 cn_dns_start;
	struct auth_wait	*cn_auth;	/* CS_AUTH: auth.c's */
	struct nego_conn	*cn_nego;	/* negotiate.c's */
	struct ldapgroups_wait	*cn_ldap;	/* CS_GROUPS: ldapgroups.c's */
	int			 cn_pp;		/* PROXY header still to come */
	int			 cn_client_slot; /* counted for its address */
	struct tlsbev		*cn_tlsb;	/* TLS listener: cn_cli's TLS */
	struct tls_server	*cn_tls_wait;	/* TLS after the PROXY header */
	/* a parent proxy (parent.c) */
	enum parent_stage	 cn_pstage;
	struct tlsbev		*cn_uptlsb;	/* cn_up's TLS (https://) */
	struct evbuffer		*cn_upearly;	/* tunnel bytes that came with
						   the parent's 200 */
	/* plain HTTP: the request line of cn_uphead, "METHOD PATH" */
	char			*cn_upline;
	size_t			 cn_upmethlen;
	size_t			 cn_uplinecap;
};

/* Tunnel directions: client to upstream, upstream to client. */
enum { TUN_UP = 0, TUN_DOWN = 1 };

/* Why a lookup in flight was cancelled (cn_dns_cancel). */
enum dns_cancel {
	DNS_CANCEL_NONE = 0,
	DNS_CANCEL_TIMEOUT,
	DNS_CANCEL_NOTFOUND,
	DNS_CANCEL_CLOSE
};

/*
 * What the core and the phases below the request ask of request.c, which
 * they cannot call: request.c sets it when it takes a new connection.
 */
struct conn_ops {
	/* read the next request head of a kept connection */
	void	(*co_next_request)(struct conn *);
	/* the timer fired in a state of a phase (CS_HEAD ... CS_RELAY) */
	void	(*co_timeout)(struct conn *);
	/* the upstream is connected, or came from the pool */
	void	(*co_upstream_ready)(struct conn *);
	/* the upstream of the route's entry cannot be reached: status, why
	 * and end of the answer if no other entry can be tried */
	void	(*co_upstream_failed)(struct conn *, int, const char *,
		    enum conn_end);
};

/* conn.c */
const char	*conn_status_text(int);
long long	 conn_idle_ms(struct conn *);
void		 conn_timer_set(struct conn *, unsigned);
int		 conn_take_slot(struct conn *, unsigned);
int		 conn_take_client_slot(struct conn *, unsigned);
void		 conn_record(struct conn *);
void		 conn_free(struct conn *);
void		 conn_close(struct conn *, enum conn_end);
void		 conn_upstream_drop(struct conn *);
void		 conn_close_after_flush(struct conn *, unsigned);
void		 conn_respond(struct conn *, int, const char *, const char *,
		    const char *, enum conn_end, int);
void		 conn_respond_error(struct conn *, int, const char *,
		    enum conn_end);
void		 conn_nomem(struct conn *);
void		 conn_next_request(struct conn *);
void		 conn_deny_answer(struct conn *, int);
int		 conn_sockaddr(const struct sockaddr *, const uint8_t **,
		    uint16_t *);
void		 conn_addr_text(int, const uint8_t *, int, char *, size_t);
void		 conn_set_client(struct conn *, int, const uint8_t *);

/* c moved bytes: it is not idle (on each read of a relay: inline). */
static inline void
conn_touch(struct conn *c)
{
	clock_gettime(CLOCK_MONOTONIC, &c->cn_last);
}

/* request.c (request_start() is in proxy.h) */

/* admin.c */
void		 admin_request(struct conn *, const struct http_request *);
int		 admin_path_is(const struct http_request *, const char *);

/* statusapi.c: the status page's JSON (admin.c serves it) */
int		 statusapi_status(struct conn *, const char *, size_t,
		    struct evbuffer *);
int		 statusapi_recent(struct conn *, const char *, size_t,
		    struct evbuffer *);
int		 statusapi_explain(struct conn *, const char *, size_t,
		    struct evbuffer *);

/* statuspage.c: the page, its style and script (scripts/statuspage) */
struct statuspage_file {
	const char	*sp_path;
	const char	*sp_type;
	const char	*sp_body;
	size_t		 sp_len;
};
extern const struct statuspage_file statuspage_files[];

/* tunnel.c */
void		 tunnel_request(struct conn *, const struct http_request *);
void		 tunnel_start(struct conn *);
void		 tunnel_timeout(struct conn *);

/* forward.c */
void		 fwd_request(struct conn *, const struct http_request *);
void		 fwd_upstream_ready(struct conn *);
void		 fwd_timeout(struct conn *);

/* negotiate.c (negotiate_attach() is in proxy.h) */
enum auth_verdict negotiate_request(struct conn *, const struct http_request *,
		    const struct http_header *, const char *, size_t,
		    auth_resume_fn, struct auth_answer *);
void		 negotiate_cancel(struct conn *);
void		 negotiate_state_free(struct worker *);
const char	*negotiate_reply(struct conn *);

/* authlimit.c */
unsigned	 auth_limit_check(int, const uint8_t *);
void		 auth_limit_fail(unsigned, unsigned, int, const uint8_t *);
void		 auth_limit_forget(int, const uint8_t *);
enum auth_verdict auth_deny(struct auth_answer *, int, enum conn_end,
		    const char *, const char *);
enum auth_verdict auth_challenge(const struct conn *, struct auth_answer *,
		    const char *, enum conn_end, const char *);
enum auth_verdict auth_blocked(const struct conn *, struct auth_answer *,
		    unsigned);
enum auth_verdict auth_nomem(const struct conn *, struct auth_answer *);
/* fwdpool.c */
int		 fwdpool_take(struct conn *);
void		 fwdpool_put(struct conn *);

/* parent.c */
void		 parent_start(struct conn *);
void		 parent_retry(struct conn *);
void		 parent_connected(struct conn *);
void		 parent_failed(struct conn *, int, const char *, enum conn_end);
void		 parent_timeout(struct conn *);
void		 parent_alive(struct conn *);
void		 parent_drop(struct conn *);

/* upstream.c */
void		 upstream_resolve(struct conn *);
void		 upstream_timeout(struct conn *);

#endif /* HG_CONN_H */
