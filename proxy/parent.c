/*
 * parent.c -- where an allowed request goes: its route (config_route(),
 * looked up only once the policy allowed it, so that a denied host never
 * reaches a parent), an ordered list of parent proxies (upstreams:) and
 * `direct`, tried in turn.
 *
 * An entry that is direct connects to the request's destination as the
 * proxy always did (upstream.c). An entry that is a parent is skipped
 * while it is marked down (upstate.c); otherwise the parent is connected
 * to (upstream.c, its address never checked by the destination guard:
 * the administrator named it; the destination's name is the parent's to
 * resolve), its TLS set up for an https:// one (tlsbev.c, verified with
 * its ca:), and then
 *
 *   CONNECT     "CONNECT host:port HTTP/1.1" with the parent's
 *               credentials; on its 2xx the tunnel goes on as a direct
 *               one does (tunnel.c), the raw relay when neither side is
 *               TLS;
 *   plain HTTP  the request in absolute form with the credentials
 *               (forward.c), the response framed as a direct one.
 *
 * A parent that does not answer (it cannot be connected to, its TLS
 * fails, it closes or times out before answering), answers a CONNECT
 * other than 2xx, or wants other credentials (407) fails the entry: the
 * next one is tried when the request can be sent again (a CONNECT before
 * its 200 went to the client; plain HTTP before any byte of its body
 * went to the failed entry), else, and after the last entry, the client
 * gets the failure: a parent's 403 as 403, its 504 or a timeout as 504,
 * the rest (407 included: the client cannot authenticate to a parent
 * through us) as 502, each naming the parent. The record's upstream is
 * the entry that served or failed last, its end what became of it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conn.h"

static void	parent_next(struct conn *);

/*
 * Let go of the upstream of the current entry, whatever stage it is at:
 * its connection and TLS, the addresses left to try.
 */
void
parent_drop(struct conn *c)
{
	conn_upstream_drop(c);
	if (c->cn_ai != NULL) {
		evutil_freeaddrinfo(c->cn_ai);
		c->cn_ai = c->cn_ai_next = NULL;
	}
	c->cn_pstage = PS_NONE;
}

/*
 * How long a probe of a parent marked down may take before another
 * request probes it: its connect and answer, and a plain-HTTP response.
 */
static unsigned
probe_window(const struct conn *c)
{
	return (2 * c->cn_cfg->cf_timeout_connect +
	    c->cn_cfg->cf_timeout_response);
}

/* Can the request be sent again, to another entry? */
static int
retryable(const struct conn *c)
{
	const struct conn_req	*cr = &c->cn_req;

	if (cr->cr_kind == CK_CONNECT)
		return (1);	/* failures after the 200 do not come here */
	return (!cr->cr_resp_started && (cr->cr_req_body == BODY_NONE ||
	    cr->cr_bytes_up == 0));
}

/* A failure of c's request, answered: a parent's named in a header. */
static void
parent_answer(struct conn *c, const struct hg_upstream *up, int status,
    const char *why, enum conn_end end)
{
	char	headers[HG_MAX_UPSTREAM_NAME + 32], body[640];

	if (up == NULL) {
		conn_respond_error(c, status, why, end);
		return;
	}
	snprintf(c->cn_req.cr_upstream, sizeof c->cn_req.cr_upstream, "%s",
	    up->up_name);
	c->cn_req.cr_via = up;
	snprintf(headers, sizeof headers, "X-Hushgate-Upstream: %s\r\n",
	    up->up_name);
	snprintf(body, sizeof body, "hushgate: %s\n", why);
	conn_respond(c, status, headers, NULL, body, end, 0);
}

/*
 * The end of the route with no entry that served: the failure of the last
 * entry tried, or, when every entry was a parent marked down, 502.
 */
static void
parent_give_up(struct conn *c)
{
	struct conn_req			*cr = &c->cn_req;
	const struct hg_upstream	*up;
	char				 why[400], via[HG_MAX_VIA *
					    (HG_MAX_UPSTREAM_NAME + 1) + 1];
	uint32_t			 i;

	if (cr->cr_fail_status != 0) {
		parent_answer(c, cr->cr_fail_via, cr->cr_fail_status,
		    cr->cr_fail_why, cr->cr_fail_end);
		return;
	}
	config_route_text(c->cn_cfg, cr->cr_route, via, sizeof via);
	snprintf(why, sizeof why, "every upstream of the route (%s) is marked "
	    "down", via);
	log_info("%s %s %s:%u: %s", c->cn_client, cr->cr_method,
	    cr->cr_target.t_host, cr->cr_target.t_port, why);
	/* Only parents are ever skipped: the last entry is one. */
	i = cr->cr_route->ro_via[cr->cr_route->ro_nvia - 1].vi_up;
	up = i < c->cn_cfg->cf_nupstreams ? &c->cn_cfg->cf_upstreams[i] : NULL;
	parent_answer(c, up, 502, why, END_UPSTREAM_DOWN);
}

/*
 * The destination guard for a request through a parent: a name is the
 * parent's to resolve, but an address is refused here as it would be on
 * a direct connection. Returns 0 when it was refused (answered).
 */
static int
parent_guard(struct conn *c)
{
	const struct hg_target	*t = &c->cn_req.cr_target;
	enum hg_addrclass	 class;
	char			 why[HG_MAX_HOST + 96];

	if (t->t_kind == HG_HOST_NAME || config_destination_allowed(
	    c->cn_cfg, t->t_kind == HG_HOST_IPV4 ? 4 : 6, t->t_addr, &class))
		return (1);
	snprintf(why, sizeof why, "%s:%u is %s, which the destination guard "
	    "refuses", t->t_host, t->t_port, addrclass_name(class));
	log_info("%s %s %s", c->cn_client, c->cn_req.cr_method, why);
	conn_respond_error(c, 403, why, END_DESTINATION_GUARD);
	return (0);
}

/*
 * Try the route's entry cr_hop, or the next that is not marked down: for
 * plain HTTP an idle connection of the pool first, else connect.
 */
static void
parent_next(struct conn *c)
{
	struct conn_req			*cr = &c->cn_req;
	const struct hg_route		*ro = cr->cr_route;
	const struct hg_via		*vi;
	const struct hg_upstream	*up;

	for (; cr->cr_hop < ro->ro_nvia; cr->cr_hop++) {
		vi = &ro->ro_via[cr->cr_hop];
		cr->cr_via = NULL;
		if (vi->vi_up == HG_NONE) {
			cr->cr_upstream[0] = '\0';
			c->cn_pstage = PS_NONE;
			if (cr->cr_kind == CK_HTTP && fwdpool_take(c) == 0) {
				c->cn_ops->co_upstream_ready(c);
				return;
			}
			upstream_resolve(c);
			return;
		}
		up = &c->cn_cfg->cf_upstreams[vi->vi_up];
		if (upstate_admit(up, probe_window(c)) == UPSTATE_DOWN) {
			log_debug("%s %s %s:%u: upstream %s is marked down, "
			    "skipped", c->cn_client, cr->cr_method,
			    cr->cr_target.t_host, cr->cr_target.t_port,
			    up->up_name);
			continue;
		}
		if (!parent_guard(c))
			return;
		cr->cr_via = up;
		snprintf(cr->cr_upstream, sizeof cr->cr_upstream, "%s",
		    up->up_name);
		upstate_request(up);
		if (cr->cr_kind == CK_HTTP && fwdpool_take(c) == 0) {
			c->cn_pstage = PS_NONE;
			c->cn_ops->co_upstream_ready(c);
			return;
		}
		c->cn_pstage = PS_CONNECT;
		upstream_resolve(c);
		return;
	}
	parent_give_up(c);
}

/*
 * An allowed request (tunnel.c, forward.c): its route, then its first
 * entry. The route of most requests is route_default's lone direct.
 */
void
parent_start(struct conn *c)
{
	struct conn_req	*cr = &c->cn_req;

	cr->cr_route = config_route(c->cn_cfg, &cr->cr_target, &cr->cr_dec);
	cr->cr_hop = 0;
	parent_next(c);
}

/*
 * The pooled connection of plain HTTP closed as the request went out: the
 * same entry again, on a new connection.
 */
void
parent_retry(struct conn *c)
{
	if (c->cn_req.cr_via != NULL) {
		upstate_request(c->cn_req.cr_via);
		c->cn_pstage = PS_CONNECT;
	} else
		c->cn_req.cr_upstream[0] = '\0';
	upstream_resolve(c);
}

/* What kind of parent failure an end is, for its counters. */
static enum upstate_kind
failure_kind(enum conn_end end)
{
	switch (end) {
	case END_UPSTREAM_TLS:
		return (UPF_TLS);
	case END_UPSTREAM_AUTH:
		return (UPF_AUTH);
	case END_UPSTREAM_REFUSED:
		return (UPF_REFUSED);
	case END_UPSTREAM_FAILED:
		return (UPF_FAILED);
	default:
		return (UPF_UNREACHABLE);
	}
}

/*
 * The route's entry failed (upstream.c through co_upstream_failed, or
 * here, or forward.c): status, why and end are what the client gets if
 * no other entry is tried. A parent's failure is counted (and may mark
 * it down) and its end becomes upstream_*; then the next entry, when
 * there is one and the request can go again, or the answer.
 */
void
parent_failed(struct conn *c, int status, const char *why, enum conn_end end)
{
	struct conn_req			*cr = &c->cn_req;
	const struct hg_upstream	*up = cr->cr_via;
	char				 msg[sizeof cr->cr_fail_why];
	int				 again;

	if (up != NULL) {
		if (end != END_UPSTREAM_TLS && end != END_UPSTREAM_AUTH &&
		    end != END_UPSTREAM_REFUSED && end != END_UPSTREAM_FAILED)
			end = END_UPSTREAM_UNREACHABLE;
		upstate_failed(up, failure_kind(end));
		snprintf(msg, sizeof msg, "upstream %s: %s", up->up_name, why);
	} else
		snprintf(msg, sizeof msg, "%s", why);
	/* A direct entry that connected may have reached the origin; the
	 * destination guard's refusal stands whatever the route. */
	again = cr->cr_route != NULL && cr->cr_hop + 1 < cr->cr_route->ro_nvia &&
	    retryable(c) && end != END_DESTINATION_GUARD &&
	    (up != NULL || end != END_UPSTREAM_CLOSED);
	parent_drop(c);
	log_info("%s %s %s:%u: %s%s", c->cn_client, cr->cr_method,
	    cr->cr_target.t_host, cr->cr_target.t_port, msg,
	    again ? "; trying the route's next entry" : "");
	if (!again) {
		parent_answer(c, up, status, msg, end);
		return;
	}
	cr->cr_fail_status = status;
	cr->cr_fail_end = end;
	cr->cr_fail_via = up;
	snprintf(cr->cr_fail_why, sizeof cr->cr_fail_why, "%s", msg);
	if (cr->cr_kind == CK_HTTP) {
		bufferevent_disable(c->cn_cli, EV_READ);
		cr->cr_up_eof = 0;
		cr->cr_up_pooled = 0;
	}
	cr->cr_hop++;
	parent_next(c);
}

/* The parent answered plain HTTP (not 407): it is alive. */
void
parent_alive(struct conn *c)
{
	if (c->cn_req.cr_via != NULL)
		upstate_alive(c->cn_req.cr_via);
}

/* ---- CONNECT through a parent ----------------------------------------- */

static void	parent_read(struct bufferevent *, void *);
static void	parent_event(struct bufferevent *, short, void *);

/* The parent said 2xx: the tunnel (tunnel.c, through request.c). */
static void
parent_tunnel(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->cn_up);
	int		 fd;

	upstate_alive(c->cn_req.cr_via);
	c->cn_pstage = PS_NONE;
	if (c->cn_tlsb == NULL && c->cn_uptlsb == NULL) {
		/* Neither side is TLS: the socket goes to the raw relay,
		 * with what the parent sent after its 200. */
		if (evbuffer_get_length(in) > 0 &&
		    ((c->cn_upearly = evbuffer_new()) == NULL ||
		    evbuffer_add_buffer(c->cn_upearly, in) != 0)) {
			conn_nomem(c);
			return;
		}
		fd = bufferevent_getfd(c->cn_up);
		bufferevent_setfd(c->cn_up, -1);
		bufferevent_free(c->cn_up);
		c->cn_up = NULL;
		c->cn_fd[1] = fd;
	}
	c->cn_ops->co_upstream_ready(c);
}

/* The answer of the parent to the CONNECT, status and reason. */
static void
parent_answered(struct conn *c, int status, const char *reason,
    size_t rlen)
{
	const struct hg_target	*t = &c->cn_req.cr_target;
	char			 why[HG_MAX_HOST + 200];
	const char		*auth = c->cn_req.cr_via->up_auth;

	if (status >= 200 && status < 300) {
		parent_tunnel(c);
		return;
	}
	snprintf(why, sizeof why, "%s CONNECT to %s%s%s:%u: %d %.*s",
	    status == 407 ? "credentials refused for" : "refused",
	    t->t_kind == HG_HOST_IPV6 ? "[" : "", t->t_host,
	    t->t_kind == HG_HOST_IPV6 ? "]" : "", t->t_port, status,
	    (int)(rlen < 64 ? rlen : 64), reason);
	if (status == 407)
		parent_failed(c, 502, auth != NULL ? why : "407 Proxy "
		    "Authentication Required (no credentials_file)",
		    END_UPSTREAM_AUTH);
	else if (status >= 500)
		parent_failed(c, status == 504 ? 504 : 502, why,
		    END_UPSTREAM_FAILED);
	else
		parent_failed(c, status == 403 ? 403 : 502, why,
		    END_UPSTREAM_REFUSED);
}

/* Send the CONNECT to the parent; its answer comes to parent_read(). */
static void
parent_send_connect(struct conn *c)
{
	const struct hg_target		*t = &c->cn_req.cr_target;
	const struct hg_upstream	*up = c->cn_req.cr_via;
	char				 auth[HG_MAX_HOST + 16];

	snprintf(auth, sizeof auth, t->t_kind == HG_HOST_IPV6 ? "[%s]:%u" :
	    "%s:%u", t->t_host, t->t_port);
	if (evbuffer_add_printf(bufferevent_get_output(c->cn_up),
	    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n", auth, auth,
	    up->up_auth != NULL ? "Proxy-Authorization: " : "",
	    up->up_auth != NULL ? up->up_auth : "",
	    up->up_auth != NULL ? "\r\n" : "") < 0) {
		conn_nomem(c);
		return;
	}
	c->cn_pstage = PS_ANSWER;
	bufferevent_setcb(c->cn_up, parent_read, NULL, parent_event, c);
	bufferevent_enable(c->cn_up, EV_READ | EV_WRITE);
	conn_timer_set(c, c->cn_cfg->cf_timeout_connect);
}

/* The parent is connected and, for https://, its TLS set up. */
static void
parent_ready(struct conn *c)
{
	if (c->cn_req.cr_kind == CK_CONNECT) {
		parent_send_connect(c);
		return;
	}
	c->cn_pstage = PS_NONE;
	c->cn_ops->co_upstream_ready(c);
}

/*
 * The parent of the route's entry is connected (upstream.c, through
 * request.c's co_upstream_ready): TLS first for an https:// one.
 */
void
parent_connected(struct conn *c)
{
	const struct hg_upstream	*up = c->cn_req.cr_via;
	struct bufferevent		*bev;

	if (!up->up_tls) {
		parent_ready(c);
		return;
	}
	if (up->up_tlsc == NULL) {	/* not attached: never in the clear */
		parent_failed(c, 502, "no TLS configuration", END_UPSTREAM_TLS);
		return;
	}
	c->cn_uptlsb = tlsbev_wrap_client(c->cn_up, bufferevent_getfd(c->cn_up),
	    up->up_tlsc, &up->up_addr, &bev);
	if (c->cn_uptlsb == NULL) {
		parent_failed(c, 502, "cannot start TLS", END_UPSTREAM_TLS);
		return;
	}
	c->cn_up = bev;
	c->cn_pstage = PS_TLS;
	bufferevent_setcb(bev, parent_read, NULL, parent_event, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	conn_timer_set(c, c->cn_cfg->cf_timeout_connect);
}

/* The answer to the CONNECT, as it comes: its head, interim ones left. */
static void
parent_read(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http_response	 rs;
	char			 head[HG_MAX_RESPONSE_HEAD + 1];
	const char		*buf, *why;
	size_t			 len, want;
	ssize_t			 hlen;

	if (c->cn_pstage != PS_ANSWER)
		return;		/* nothing is due before the CONNECT */
	for (;;) {
		if ((len = evbuffer_get_length(in)) == 0)
			return;
		want = len < HG_MAX_RESPONSE_HEAD + 4 ? len :
		    HG_MAX_RESPONSE_HEAD + 4;
		buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
		hlen = http_head_end(buf, want);
		if (hlen < 0 && len <= HG_MAX_RESPONSE_HEAD)
			return;
		if (hlen < 0 || hlen > HG_MAX_RESPONSE_HEAD) {
			parent_failed(c, 502, "answer to CONNECT too large",
			    END_BAD_RESPONSE);
			return;
		}
		memcpy(head, buf, (size_t)hlen);
		head[hlen] = '\0';
		evbuffer_drain(in, (size_t)hlen);
		if (http_parse_response(head, (size_t)hlen, &rs, &why) != 0) {
			char	msg[160];

			snprintf(msg, sizeof msg, "bad answer to CONNECT: %s",
			    why);
			parent_failed(c, 502, msg, END_BAD_RESPONSE);
			return;
		}
		if (rs.rs_status >= 200)
			break;
	}
	bufferevent_disable(bev, EV_READ);
	parent_answered(c, rs.rs_status, rs.rs_reason, rs.rs_reasonlen);
}

/* The parent's connection: TLS done, or failed, or closed. */
static void
parent_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 msg[160], why[200];

	if (what & BEV_EVENT_CONNECTED) {
		if (c->cn_pstage == PS_TLS)
			parent_ready(c);
		return;
	}
	if (c->cn_uptlsb != NULL &&
	    tlsbev_error(c->cn_uptlsb, msg, sizeof msg) != NULL) {
		snprintf(why, sizeof why, "TLS: %s", msg);
		parent_failed(c, 502, why, END_UPSTREAM_TLS);
		return;
	}
	if (c->cn_pstage == PS_TLS) {
		parent_failed(c, 502, "closed during the TLS handshake",
		    END_UPSTREAM_TLS);
		return;
	}
	parent_failed(c, 502, "closed without answering the CONNECT",
	    END_UPSTREAM_UNREACHABLE);
}

/* The timer while the parent's TLS or its answer to CONNECT is due. */
void
parent_timeout(struct conn *c)
{
	parent_failed(c, 504, c->cn_pstage == PS_TLS ? "TLS handshake not "
	    "done in time" : "no answer to CONNECT in time",
	    END_UPSTREAM_UNREACHABLE);
}
