/*
 * request.c -- the requests of a connection: admission when it is
 * accepted (TLS on a TLS listener, max_connections, the PROXY header of a
 * load balancer, clients, max_connections_per_client), then each request
 * head read and parsed (timeouts.request), its credentials checked
 * (auth.c), its client's group found (with the user's directory groups,
 * ldapgroups.c), and the request sent its way: to the proxy's own pages
 * (admin.c), to a tunnel (tunnel.c) or to plain HTTP forwarding
 * (forward.c). A kept connection comes back here for its next request.
 *
 * It sets the connection's conn_ops: the core and upstream.c reach the
 * phases through them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"
#include "plat/plat.h"
#include "certs/certs.h"

static int	request_tls_start(struct conn *);
static void	request_auth_resume(struct conn *, const char *, size_t);
static void	request_groups_resume(struct conn *, const char *, size_t);
static void	head_read(struct bufferevent *, void *);
static void	head_event(struct bufferevent *, short, void *);
static void	pipeline_drained(struct bufferevent *, void *);

/* Copy what we can of a bad request for the log. */
static void
keep_raw(struct conn *c, const struct http_request *rq)
{
	size_t	n;

	if (rq->rq_method != NULL) {
		n = rq->rq_methodlen < sizeof c->cn_req.cr_method - 1 ?
		    rq->rq_methodlen : sizeof c->cn_req.cr_method - 1;
		memcpy(c->cn_req.cr_method, rq->rq_method, n);
		c->cn_req.cr_method[n] = '\0';
	}
	if (rq->rq_target != NULL) {
		n = rq->rq_targetlen < sizeof c->cn_req.cr_raw_target - 1 ?
		    rq->rq_targetlen : sizeof c->cn_req.cr_raw_target - 1;
		memcpy(c->cn_req.cr_raw_target, rq->rq_target, n);
		c->cn_req.cr_raw_target[n] = '\0';
	}
}

/*
 * max_connections_per_client: count the connection against its client's
 * address (the one a PROXY header gave, if any). Returns 0 when over the
 * bound, after answering 503.
 */
static int
request_client_slot(struct conn *c)
{
	unsigned	max = c->cn_cfg->cf_max_per_client;

	if (max == 0)
		return (1);
	if (!conn_take_client_slot(c, max)) {
		log_warnx("%s: max_connections_per_client (%u) reached",
		    c->cn_client, max);
		/* On a TLS listener the answer comes after the handshake. */
		if (c->cn_tls_wait != NULL && request_tls_start(c) != 0)
			return (0);
		conn_respond_error(c, 503, "too many connections from this "
		    "address", END_OVERLOAD_CLIENT);
		return (0);
	}
	return (1);
}

/*
 * A TLS listener: put TLS (the credentials in cn_tls_wait) on the client's
 * socket; the request head is read from the plaintext side. Returns 0, or
 * -1 when the connection is closed.
 */
static int
request_tls_start(struct conn *c)
{
	struct tls_server	*ts = c->cn_tls_wait;
	struct bufferevent	*bev;

	c->cn_tls_wait = NULL;
	c->cn_tlsb = tlsbev_wrap(c->cn_cli, bufferevent_getfd(c->cn_cli), ts,
	    &bev);
	tls_server_unref(ts);
	if (c->cn_tlsb == NULL) {
		log_warnx("%s: cannot start TLS", c->cn_client);
		conn_close(c, END_ERROR);
		return (-1);
	}
	c->cn_cli = bev;
	bufferevent_setcb(bev, head_read, NULL, head_event, c);
	bufferevent_enable(bev, EV_READ);
	return (0);
}

/*
 * The client's group (for its actions), then the request goes its way.
 * When the group depends on the directory groups of the user (an
 * ldap_group the user is not named in users of), they are looked up
 * first (ldapgroups.c): the request waits (CS_GROUPS) and comes here
 * again with the answer in cr_dir_mask.
 */
static void
proxy_dispatch(struct conn *c, const struct http_request *rq,
    const char *head, size_t hlen)
{
	struct conn_req	*cr = &c->cn_req;
	const char	*user = cr->cr_user[0] ? cr->cr_user : NULL;
	uint64_t	 dir;
	int		 need;

	cr->cr_group = config_group_match_dir(c->cn_cfg, c->cn_family,
	    c->cn_addr, user, cr->cr_dir_known ? &cr->cr_dir_mask : NULL,
	    &need);
	if (need) {
		if (ldapgroups_lookup(c, user, head, hlen,
		    request_groups_resume, &dir) == LGROUPS_PENDING) {
			/* A bounded amount is read meanwhile, and the wait is
			 * bounded by ldap.timeout. */
			c->cn_state = CS_GROUPS;
			if (c->cn_tlsb == NULL)
				bufferevent_setwatermark(c->cn_cli, EV_READ, 0,
				    HG_EARLY_DATA_MAX);
			conn_timer_set(c, c->cn_cfg->cf_ldap->lc_timeout +
			    1000);
			return;
		}
		cr->cr_dir_known = 1;
		cr->cr_dir_mask = dir;
		cr->cr_group = config_group_match_dir(c->cn_cfg, c->cn_family,
		    c->cn_addr, user, &cr->cr_dir_mask, NULL);
	}
	if (http_method_is(rq, "CONNECT"))
		tunnel_request(c, rq);
	else
		fwd_request(c, rq);
}

/*
 * A request to be proxied: CONNECT or an absolute http:// URL. The
 * credentials are checked (auth.basic), then the client's group is found
 * (for its actions), then the request goes its way.
 */
static void
handle_proxy(struct conn *c, const struct http_request *rq, const char *head,
    size_t hlen)
{
	struct auth_answer	aa;
	int			connect = http_method_is(rq, "CONNECT");

	if (!connect && (rq->rq_targetlen <= 7 ||
	    strncasecmp(rq->rq_target, "http://", 7) != 0)) {
		conn_respond_error(c, 400, "bad request target",
		    END_BAD_REQUEST);
		return;
	}
	switch (auth_request(c, rq, head, hlen, request_auth_resume, &aa)) {
	case AUTH_ALLOW:
		break;
	case AUTH_NEXT:		/* not returned by auth_request() */
		conn_close(c, END_ERROR);
		return;
	case AUTH_DENY:
		conn_respond(c, aa.aa_status, aa.aa_headers, NULL, aa.aa_body,
		    aa.aa_end, aa.aa_keep);
		return;
	case AUTH_PENDING:
		/* Its password is being hashed, or its Kerberos token
		 * checked (CS_AUTH): a bounded amount is read meanwhile. */
		if (c->cn_tlsb == NULL)
			bufferevent_setwatermark(c->cn_cli, EV_READ, 0,
			    HG_EARLY_DATA_MAX);
		return;
	}
	proxy_dispatch(c, rq, head, hlen);
}

/*
 * A LOCAL (v2) or UNKNOWN (v1) header names no client: the balancer
 * speaks for itself, as in its health checks. Such a connection is served
 * GET (or HEAD) /healthz only; anything else is refused, for there is no
 * client address to check against clients or to count. Returns 1 when
 * the request was refused (answered).
 */
static int
proxy_local_refused(struct conn *c, const struct http_request *rq)
{
	if (!c->cn_pp_local || ((http_method_is(rq, "GET") ||
	    http_method_is(rq, "HEAD")) && admin_path_is(rq, "/healthz")))
		return (0);
	log_info("%s: request after a PROXY LOCAL or UNKNOWN header refused "
	    "(such a connection is served /healthz only)", c->cn_client);
	conn_respond_error(c, 403, "a load balancer's own connection (PROXY "
	    "LOCAL or UNKNOWN header) is served GET /healthz only",
	    END_CLIENT_DENIED);
	return (1);
}

/*
 * The password of c's request is checked (auth.c), or its user's
 * directory groups are known (ldapgroups.c), which call these on the
 * worker's loop: take the request up where it waited. head (hlen bytes)
 * is the request head, the caller's.
 */
static int
request_resume(struct conn *c, const char *head, size_t hlen,
    struct http_request *rq)
{
	const char	*why;

	c->cn_state = CS_HEAD;
	if (c->cn_tlsb == NULL)
		bufferevent_setwatermark(c->cn_cli, EV_READ, 0, 0);
	if (http_parse_head(head, hlen, rq, &why) != 0) {
		conn_close(c, END_ERROR);		/* parsed before */
		return (-1);
	}
	return (0);
}

static void
request_auth_resume(struct conn *c, const char *head, size_t hlen)
{
	struct http_request	rq;

	if (request_resume(c, head, hlen, &rq) == 0)
		handle_proxy(c, &rq, head, hlen);
}

static void
request_groups_resume(struct conn *c, const char *head, size_t hlen)
{
	struct http_request	rq;

	if (request_resume(c, head, hlen, &rq) != 0)
		return;
	/* The wait had a timer of its own (ldap.timeout). */
	conn_timer_set(c, c->cn_cfg->cf_timeout_request);
	proxy_dispatch(c, &rq, head, hlen);
}

/*
 * A listener behind a load balancer: the PROXY header comes first and
 * names the real client, for the clients check, the policy and the log.
 * Returns 0 when it is consumed, -1 when more is needed or the connection
 * is over.
 */
static int
proxy_header(struct conn *c, struct evbuffer *in)
{
	struct pp_info	 pi;
	const char	*why;
	size_t		 len = evbuffer_get_length(in);
	unsigned char	*p;
	int		 r;

	if (len > HG_MAX_PROXY_HEADER)
		len = HG_MAX_PROXY_HEADER;
	p = evbuffer_pullup(in, (ev_ssize_t)len);
	r = proxyproto_parse(p, len, c->cn_pp, &pi, &why);
	if (r == PP_MORE)
		return (-1);
	if (r == PP_ERROR) {
		log_info("%s: bad PROXY header: %s", c->cn_client, why);
		conn_close(c, END_PROXY_PROTOCOL_ERROR);
		return (-1);
	}
	evbuffer_drain(in, pi.pi_len);
	c->cn_pp = 0;
	if (pi.pi_local) {
		/* the balancer itself: a health check */
		c->cn_pp_local = 1;
		return (0);
	}
	conn_set_client(c, pi.pi_src.pa_family, pi.pi_src.pa_addr);
	if (!config_client_allowed(c->cn_cfg, c->cn_family, c->cn_addr)) {
		log_info("%s: client not allowed (clients)", c->cn_client);
		/* On a TLS listener the answer comes after the handshake. */
		if (c->cn_tls_wait != NULL && request_tls_start(c) != 0)
			return (-1);
		conn_respond_error(c, 403, "client address not allowed",
		    END_CLIENT_DENIED);
		return (-1);
	}
	return (request_client_slot(c) ? 0 : -1);
}

/*
 * The empty lines a client may send before a request line (RFC 9112
 * section 2.2: after a body, between pipelined requests), drained as they
 * come, HG_MAX_EMPTY_LINES of them for one request: 0 when what follows
 * may be a head, 1 to wait for the LF of a lone CR, -1 (why) when there
 * are too many or a line ends otherwise.
 */
static int
skip_empty_lines(struct conn *c, struct evbuffer *in, const char **why)
{
	struct conn_req	*cr = &c->cn_req;
	size_t		 len = evbuffer_get_length(in), want;
	ssize_t		 skip;
	const char	*buf;

	want = 2 * (HG_MAX_EMPTY_LINES + 1);
	if (want > len)
		want = len;
	if (want == 0 || ((buf = (const char *)evbuffer_pullup(in,
	    (ssize_t)want)) != NULL && buf[0] != '\r' && buf[0] != '\n'))
		return (0);
	skip = http_skip_empty_lines(buf, want,
	    HG_MAX_EMPTY_LINES - cr->cr_empty_lines, why);
	if (skip == HTTP_BAD)
		return (-1);
	if (skip == HTTP_MORE)
		return (1);
	cr->cr_empty_lines += (unsigned)skip / 2;
	evbuffer_drain(in, (size_t)skip);
	return (0);
}

/*
 * Bytes from a client in CS_HEAD: the PROXY header first if one is due,
 * then a request head, parsed and sent its way once whole.
 */
/* The largest request head the configuration takes (proxy.h). */
static size_t
request_head_max(const struct hg_config *cf)
{
	return (cf->cf_auth_negotiate ? HG_MAX_REQUEST_HEAD : HG_REQUEST_HEAD);
}

static void
head_read(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http_request	 rq;
	size_t			 len = evbuffer_get_length(in), want, max;
	const char		*buf, *why = "";
	ssize_t			 hlen;
	char			 head[HG_MAX_REQUEST_HEAD + 1];
	int			 status, empty;

	if (len == 0 || c->cn_state != CS_HEAD) {
		/* Early tunnel data waits in the buffer, up to a bound (the
		 * TLS filter has no read watermark of its own). */
		if (c->cn_tlsb != NULL && len >= HG_EARLY_DATA_MAX)
			bufferevent_disable(bev, EV_READ);
		return;
	}
	if (c->cn_pp != 0) {
		if (proxy_header(c, in) != 0)
			return;
		if (c->cn_tls_wait != NULL) {
			/* The rest is the ClientHello: the filter reads it. */
			request_tls_start(c);
			return;
		}
		if ((len = evbuffer_get_length(in)) == 0)
			return;
	}
	if ((empty = skip_empty_lines(c, in, &why)) > 0 ||
	    (empty == 0 && (len = evbuffer_get_length(in)) == 0))
		return;
	if (!c->cn_req.cr_head_started) {
		/* The first byte of a request: the head must follow in
		 * timeouts.request. */
		c->cn_req.cr_head_started = 1;
		if (c->cn_nreqs > 0) {
			/* A reload applies to the next request of a kept
			 * connection. */
			c->cn_w->w_ops->wo_refresh_config(c->cn_w);
			if (c->cn_cfg != c->cn_w->w_cfg) {
				config_unref(c->cn_cfg);
				c->cn_cfg = c->cn_w->w_cfg;
				config_ref(c->cn_cfg);
			}
		}
		if (!c->cn_req.cr_active) {
			c->cn_req.cr_active = 1;
			clock_gettime(CLOCK_REALTIME, &c->cn_req.cr_start);
		}
		conn_timer_set(c, c->cn_cfg->cf_timeout_request);
	}
	if (empty < 0) {
		char msg[128];

		snprintf(msg, sizeof msg, "malformed request: %s", why);
		conn_respond_error(c, 400, msg, END_BAD_REQUEST);
		return;
	}
	max = request_head_max(c->cn_cfg);
	want = len < max + 4 ? len : max + 4;
	buf = (const char *)evbuffer_pullup(in, (ssize_t)want);
	hlen = http_head_end(buf, want);
	if (hlen < 0 || (size_t)hlen > max) {
		if ((hlen >= 0 && (size_t)hlen > max) || len > max)
			conn_respond_error(c, 431, "request head too large",
			    END_TOO_LARGE);
		return;
	}
	/* The head leaves the buffer, which an answer may free (closing
	 * the connection) while the request is still read. */
	memcpy(head, buf, (size_t)hlen);
	head[hlen] = '\0';
	evbuffer_drain(in, (size_t)hlen);
	c->cn_nreqs++;
	status = http_parse_head(head, (size_t)hlen, &rq, &why);
	keep_raw(c, &rq);
	if (status != 0) {
		char msg[128];

		snprintf(msg, sizeof msg, "malformed request: %s", why);
		conn_respond_error(c, status, msg, status == 431 ?
		    END_TOO_LARGE : END_BAD_REQUEST);
	} else if (proxy_local_refused(c, &rq))
		;	/* answered */
	else if (!http_method_is(&rq, "CONNECT") && rq.rq_target[0] == '/')
		admin_request(c, &rq);
	else if (c->cn_pac_only || c->cn_admin_only) {
		c->cn_req.cr_nolog = 1;
		conn_respond_error(c, 405, c->cn_pac_only ? "this address "
		    "serves the PAC file only" : "this address serves /metrics "
		    "only", END_SERVED);
	}
	else
		handle_proxy(c, &rq, head, (size_t)hlen);
	/* it may hold credentials */
	explicit_bzero(head, (size_t)hlen);
}

/* The client's EOF or an error before its request has a phase of its own. */
static void
head_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 msg[160];

	if (c->cn_tlsb != NULL &&
	    tlsbev_error(c->cn_tlsb, msg, sizeof msg) != NULL) {
		log_info("%s: TLS: %s", c->cn_client, msg);
		conn_close(c, END_TLS_ERROR);
		return;
	}

	if ((c->cn_state == CS_RESOLVE || c->cn_state == CS_CONNECT) &&
	    c->cn_req.cr_kind == CK_CONNECT && (what & BEV_EVENT_EOF)) {
		/* Half-closed before the tunnel is up: passed on then. */
		c->cn_tun_eof[TUN_UP] = 1;
		return;
	}

	if ((what & BEV_EVENT_EOF) &&
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0 &&
	    c->cn_state == CS_HEAD) {
		/* EOF inside a head: a truncated request (or header). */
		c->cn_req.cr_status = 0;
		conn_close(c, c->cn_pp != 0 ? END_PROXY_PROTOCOL_ERROR :
		    END_BAD_REQUEST);
		return;
	}
	if (c->cn_nreqs > 0 && !c->cn_req.cr_head_started) {
		c->cn_req.cr_active = 0;	/* closed between requests */
		if ((what & BEV_EVENT_EOF) && evbuffer_get_length(
		    bufferevent_get_output(bev)) > 0) {
			/* Half-closed: the last answer still goes out. */
			conn_close_after_flush(c,
			    c->cn_cfg->cf_timeout_idle);
			return;
		}
	}
	conn_close(c, END_CLIENT_CLOSED);
}

/*
 * Read the next request head of a kept connection (conn_next_request()).
 * Bytes the client already sent are parsed at once.
 */
static void
request_next(struct conn *c)
{
	c->cn_state = CS_HEAD;
	bufferevent_setwatermark(c->cn_cli, EV_WRITE, 0, 0);
	bufferevent_setcb(c->cn_cli, head_read, NULL, head_event, c);
	bufferevent_enable(c->cn_cli, EV_READ | EV_WRITE);
	/* Between requests the connection may idle (timeouts.idle). */
	conn_timer_set(c, c->cn_cfg->cf_timeout_idle);
	if (evbuffer_get_length(bufferevent_get_output(c->cn_cli)) >
	    HG_PIPELINE_OUT_MAX) {
		/* A client that sends requests without reading the answers:
		 * the next one waits until they have gone out. */
		bufferevent_disable(c->cn_cli, EV_READ);
		bufferevent_setwatermark(c->cn_cli, EV_WRITE,
		    HG_PIPELINE_OUT_MAX / 2, 0);
		bufferevent_setcb(c->cn_cli, head_read, pipeline_drained,
		    head_event, c);
		return;
	}
	/*
	 * Bytes already here are the next request, read from the event
	 * loop rather than from here: answering a pipeline of requests at
	 * once from within the previous answer would recurse without bound
	 * (respond, next request, respond ...), and one read would start
	 * every request it brought while other connections wait.
	 */
	if (evbuffer_get_length(bufferevent_get_input(c->cn_cli)) > 0)
		bufferevent_trigger(c->cn_cli, EV_READ,
		    BEV_TRIG_DEFER_CALLBACKS);
}

/* The answers a pipelining client let pile up have gone out: go on. */
static void
pipeline_drained(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setcb(bev, head_read, NULL, head_event, c);
	bufferevent_enable(bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

/* The timer of c in the states of the phases (conn.c has the rest). */
static void
request_timeout(struct conn *c)
{
	switch (c->cn_state) {
	case CS_HEAD:
		if (c->cn_pp != 0) {
			/* No (whole) PROXY header: not a client to answer. */
			log_info("%s: PROXY header not received in time",
			    c->cn_client);
			conn_close(c, END_PROXY_PROTOCOL_ERROR);
			return;
		}
		if (c->cn_tlsb != NULL && !tlsbev_open(c->cn_tlsb)) {
			log_info("%s: TLS handshake not done in time",
			    c->cn_client);
			conn_close(c, END_TLS_TIMEOUT);
			return;
		}
		if (c->cn_nreqs > 0 && !c->cn_req.cr_head_started) {
			/* An idle keep-alive connection: no request. */
			conn_close(c, END_CLIENT_IDLE);
			return;
		}
		conn_respond_error(c, 408, "request head not received in time",
		    END_REQUEST_TIMEOUT);
		return;
	case CS_AUTH:
		auth_cancel(c);
		conn_respond(c, 503, "Retry-After: 1\r\n", NULL, "hushgate: "
		    "password check not done in time\n", END_AUTH_BUSY, 0);
		return;
	case CS_GROUPS:
		/* In no directory group: the request goes on. */
		ldapgroups_expire(c);
		return;
	case CS_RESOLVE:
	case CS_CONNECT:
		if (c->cn_pstage == PS_TLS || c->cn_pstage == PS_ANSWER)
			parent_timeout(c);
		else
			upstream_timeout(c);
		return;
	case CS_HTTP:
		fwd_timeout(c);
		return;
	case CS_RELAY:
		tunnel_timeout(c);
		return;
	case CS_RESPOND:
	case CS_LINGER:
	case CS_CLOSED:
		return;		/* conn.c's */
	}
}

/*
 * The upstream is connected, or came from the pool: the kind goes on; a
 * parent proxy just connected has its TLS and CONNECT first (parent.c,
 * which calls this again once it is ready).
 */
static void
request_upstream_ready(struct conn *c)
{
	if (c->cn_pstage != PS_NONE)
		parent_connected(c);
	else if (c->cn_req.cr_kind == CK_HTTP)
		fwd_upstream_ready(c);
	else
		tunnel_start(c);
}

static const struct conn_ops request_ops = {
	.co_next_request = request_next,
	.co_timeout = request_timeout,
	.co_upstream_ready = request_upstream_ready,
	.co_upstream_failed = parent_failed,
};

/*
 * Start the requests of a connection just accepted (conn_accept()) on
 * listener wl: TLS on a TLS listener, admission (max_connections, the
 * PROXY header's trust, clients, max_connections_per_client), then the
 * first request head.
 */
void
request_start(struct conn *c, const struct wlistener *wl)
{
	const uint8_t	*addr = c->cn_family != 0 ? c->cn_addr : NULL;
	int		 family = c->cn_family, fd;

	c->cn_ops = &request_ops;
	c->cn_pac_only = wl->wl_kind == HG_LISTEN_PAC;
	c->cn_admin_only = wl->wl_kind == HG_LISTEN_ADMIN;
	if (wl->wl_tls >= 0) {
		if ((size_t)wl->wl_tls >= c->cn_cfg->cf_nlisteners ||
		    c->cn_cfg->cf_listeners[wl->wl_tls].li_tls == NULL) {
			log_warnx("%s: TLS listener without credentials "
			    "(restart after a listen change)", c->cn_client);
			conn_close(c, END_ERROR);
			return;
		}
		c->cn_tls_wait = c->cn_cfg->cf_listeners[wl->wl_tls].li_tls;
		tls_server_ref(c->cn_tls_wait);
		/* Behind a balancer, TLS starts after the PROXY header. */
		if (wl->wl_pp == 0 && request_tls_start(c) != 0)
			return;
	}
	if (!conn_take_slot(c, c->cn_cfg->cf_max_connections)) {
		log_warnx("%s: max_connections (%u) reached", c->cn_client,
		    c->cn_cfg->cf_max_connections);
		conn_respond_error(c, 503, "too many connections",
		    END_OVERLOAD);
		return;
	}
	if (wl->wl_pp != 0) {
		/* The clients check waits for the address in the header. */
		if (family == 0 ||
		    !config_proxy_trusted(c->cn_cfg, family, addr)) {
			log_info("%s: PROXY header expected from an untrusted "
			    "address (trusted_proxies)", c->cn_client);
			conn_close(c, END_PROXY_UNTRUSTED);
			return;
		}
		c->cn_pp = wl->wl_pp;
		c->cn_pp_relayed = 1;
	} else if (family == 0 ||
	    !config_client_allowed(c->cn_cfg, family, addr)) {
		log_info("%s: client not allowed (clients)", c->cn_client);
		conn_respond_error(c, 403, "client address not allowed",
		    END_CLIENT_DENIED);
		return;
	} else if (!request_client_slot(c))
		return;
	c->cn_state = CS_HEAD;
	bufferevent_setcb(c->cn_cli, head_read, NULL, head_event, c);
	bufferevent_enable(c->cn_cli, EV_READ);
	conn_timer_set(c, c->cn_cfg->cf_timeout_request);
	if (c->cn_tlsb == NULL && (fd = bufferevent_getfd(c->cn_cli)) != -1) {
		/* Under load the request is often here by the time the
		 * connection is accepted: read it now, not one loop later. */
		char	buf[HG_MAX_REQUEST_HEAD + 4];
		ssize_t	n;

		n = recv(fd, buf, sizeof buf, 0);
		if (n > 0) {
			struct evbuffer *in = bufferevent_get_input(c->cn_cli);

			/* A bufferevent keeps its input frozen but while it
			 * reads itself. */
			evbuffer_unfreeze(in, 0);
			evbuffer_add(in, buf, (size_t)n);
			evbuffer_freeze(in, 0);
			head_read(c->cn_cli, c);
		} else if (n == 0)
			conn_close(c, END_CLIENT_CLOSED);
	}
}
