/*
 * forward.c -- plain HTTP forwarding: absolute-form requests
 * ("GET http://host/path HTTP/1.1"), decided by the same policy as
 * CONNECT, sent upstream in origin form with hop-by-hop headers removed
 * (to a parent proxy of the request's route, parent.c, in absolute form
 * with the parent's credentials).
 *
 * Bodies stream both ways and are re-framed on the way: a chunked body is
 * decoded and encoded again (so a malformed chunk stream never reaches the
 * other side), a Content-Length body is counted, a close-delimited
 * response ends the client connection. Ambiguous framing (the classic
 * request smuggling vectors) is refused with 400. Client connections
 * persist across requests, each request decided and logged on its own;
 * upstream connections are pooled per worker (fwdpool.c) and reused for
 * the same host:port, or the same parent, when a response was completely
 * framed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conn.h"

#define FWD_MAX_CONNECTION_TOKENS	HG_MAX_RESPONSE_HEADERS
#define FWD_VIA				"1.1 hushgate"
/* What a response head may take in the buffer: the head and the empty
 * lines before it. */
#define FWD_HEAD_WAIT	(HG_MAX_RESPONSE_HEAD + 4 + 2 * HG_MAX_EMPTY_LINES)

static void	fwd_cli_read(struct bufferevent *, void *);
static void	fwd_cli_write(struct bufferevent *, void *);
static void	fwd_cli_event(struct bufferevent *, short, void *);
static void	fwd_up_read(struct bufferevent *, void *);
static void	fwd_up_write(struct bufferevent *, void *);
static void	fwd_up_event(struct bufferevent *, short, void *);

/* ---- requests ------------------------------------------------------ */

/* Is name one of the hop-by-hop headers, or named by Connection? */
static int
hop_by_hop(const struct http_header *h, const struct http_header *named,
    size_t nnamed)
{
	static const char *const hop[] = {
		"connection", "proxy-connection", "keep-alive", "te",
		"trailer", "transfer-encoding", "upgrade",
		"proxy-authorization", "proxy-authenticate", NULL
	};
	size_t	i;

	for (i = 0; hop[i] != NULL; i++)
		if (http_token_eq(h->hh_name, h->hh_namelen, hop[i]))
			return (1);
	/*
	 * Connection cannot remove what frames or addresses the message: a
	 * Content-Length it names is kept (dropping it would leave the
	 * message without a length while the connection is said to go on,
	 * and the next response would be read as this one's body), and so
	 * is Host.
	 */
	if (http_token_eq(h->hh_name, h->hh_namelen, "content-length") ||
	    http_token_eq(h->hh_name, h->hh_namelen, "host"))
		return (0);
	for (i = 0; i < nnamed; i++)
		if (named[i].hh_namelen == h->hh_namelen &&
		    strncasecmp(named[i].hh_name, h->hh_name,
		    h->hh_namelen) == 0)
			return (1);
	return (0);
}

/*
 * A body that goes on chunked keeps its trailer fields (httpchunk.c), so
 * the Trailer field that announces them goes on too; hop_by_hop() drops
 * it from every other head. 0, or -1 when out is full.
 */
static int
fwd_trailer_fields(struct evbuffer *out, const struct http_header *hdrs,
    size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (http_token_eq(hdrs[i].hh_name, hdrs[i].hh_namelen,
		    "trailer") && evbuffer_add_printf(out, "Trailer: %.*s\r\n",
		    (int)hdrs[i].hh_valuelen, hdrs[i].hh_value) < 0)
			return (-1);
	return (0);
}

static void
te_token(const char *t, size_t len, void *arg)
{
	int	*found = arg;

	/* "trailers", never with a weight (RFC 9110 section 10.1.4) */
	if (http_token_eq(t, len, "trailers"))
		*found = 1;
}

/* Does the client's TE say it takes trailer fields? */
static int
fwd_te_trailers(const struct http_header *hdrs, size_t n)
{
	size_t	i;
	int	found = 0;

	for (i = 0; i < n; i++)
		if (http_token_eq(hdrs[i].hh_name, hdrs[i].hh_namelen, "te"))
			http_each_token(hdrs[i].hh_value, hdrs[i].hh_valuelen,
			    te_token, &found);
	return (found);
}

struct connhdr {
	struct http_header	 ch_names[FWD_MAX_CONNECTION_TOKENS];
	size_t			 ch_n;
	int			 ch_close;
	int			 ch_keepalive;
};

static void
connection_token(const char *t, size_t len, void *arg)
{
	struct connhdr	*ch = arg;

	if (http_token_eq(t, len, "close"))
		ch->ch_close = 1;
	else if (http_token_eq(t, len, "keep-alive"))
		ch->ch_keepalive = 1;
	if (ch->ch_n < FWD_MAX_CONNECTION_TOKENS) {
		ch->ch_names[ch->ch_n].hh_name = t;
		ch->ch_names[ch->ch_n].hh_namelen = len;
		ch->ch_n++;
	}
}

static void
connection_scan(const struct http_header *hdrs, size_t n, struct connhdr *ch,
    int proxy_too)
{
	size_t	i;

	memset(ch, 0, sizeof *ch);
	for (i = 0; i < n; i++) {
		if (http_token_eq(hdrs[i].hh_name, hdrs[i].hh_namelen,
		    "connection") || (proxy_too && http_token_eq(
		    hdrs[i].hh_name, hdrs[i].hh_namelen, "proxy-connection")))
			http_each_token(hdrs[i].hh_value, hdrs[i].hh_valuelen,
			    connection_token, ch);
	}
}

/* Host header value for the upstream: the URL's authority. */
static void
authority(const struct hg_target *t, char *out, size_t n)
{
	if (t->t_kind == HG_HOST_IPV6)
		snprintf(out, n, "[%s]", t->t_host);
	else
		snprintf(out, n, "%s", t->t_host);
	if (t->t_port != 80) {
		size_t	len = strlen(out);
		snprintf(out + len, n - len, ":%u", t->t_port);
	}
}

/*
 * The path of the request for the log, at most HG_MAX_LOG_PATH bytes,
 * with the "/" of an empty path or a bare query. Returns -1 when out of
 * memory.
 */
static int
fwd_log_path(struct conn_req *cr, const char *path, size_t plen)
{
	size_t	slash = plen == 0 || path[0] == '?', n;

	n = strnlen(path, plen < HG_MAX_LOG_PATH - slash ? plen :
	    HG_MAX_LOG_PATH - slash);
	if ((cr->cr_path = malloc(slash + n + 1)) == NULL)
		return (-1);
	cr->cr_path[0] = '/';
	memcpy(cr->cr_path + slash, path, n);
	cr->cr_path[slash + n] = '\0';
	return (0);
}

/*
 * The head of c's request rq as the upstream gets it: its request line
 * (the method, and path, plen bytes, in origin form) into cn_upline, the
 * rest into cn_uphead: Host, the end-to-end headers (ch: those Connection
 * names; none of the client's Proxy-*), Via, the framing. The line is
 * written for each upstream tried (fwd_send_head()). Returns -1 when out
 * of memory.
 */
static int
fwd_upstream_head(struct conn *c, const struct http_request *rq,
    const char *path, size_t plen, const struct connhdr *ch)
{
	struct conn_req			*cr = &c->cn_req;
	struct evbuffer			*out = c->cn_uphead;
	const struct http_header	*h;
	char				 host[HG_MAX_HOST + 16];
	size_t				 i, need;
	int				 bad = 0, slash;

	slash = plen == 0 || path[0] == '?';
	need = rq->rq_methodlen + 1 + (size_t)slash + plen + 1;
	if (need > c->cn_uplinecap) {
		free(c->cn_upline);
		if ((c->cn_upline = malloc(need)) == NULL) {
			c->cn_uplinecap = 0;
			return (-1);
		}
		c->cn_uplinecap = need;
	}
	snprintf(c->cn_upline, need, "%.*s %s%.*s", (int)rq->rq_methodlen,
	    rq->rq_method, slash ? "/" : "", (int)plen, path);
	c->cn_upmethlen = rq->rq_methodlen;
	authority(&cr->cr_target, host, sizeof host);
	bad |= evbuffer_add_printf(out, "Host: %s\r\n", host) < 0;
	for (i = 0; i < rq->rq_nheaders; i++) {
		h = &rq->rq_headers[i];
		if (hop_by_hop(h, ch->ch_names, ch->ch_n) ||
		    http_token_eq(h->hh_name, h->hh_namelen, "host") ||
		    http_token_eq(h->hh_name, h->hh_namelen,
		    "content-length") || (h->hh_namelen > 6 &&
		    strncasecmp(h->hh_name, "proxy-", 6) == 0))
			continue;
		bad |= evbuffer_add_printf(out, "%.*s: %.*s\r\n",
		    (int)h->hh_namelen, h->hh_name, (int)h->hh_valuelen,
		    h->hh_value) < 0;
	}
	bad |= evbuffer_add_printf(out, "Via: %s\r\n", FWD_VIA) < 0;
	if (cr->cr_req_body == BODY_LENGTH)
		bad |= evbuffer_add_printf(out, "Content-Length: %llu\r\n",
		    (unsigned long long)cr->cr_req_left) < 0;
	else if (cr->cr_req_body == BODY_CHUNKED)
		bad |= evbuffer_add_printf(out,
		    "Transfer-Encoding: chunked\r\n") < 0 ||
		    fwd_trailer_fields(out, rq->rq_headers,
		    rq->rq_nheaders) != 0;
	else if (http_has_header(rq->rq_headers, rq->rq_nheaders,
	    "content-length"))
		bad |= evbuffer_add_printf(out, "Content-Length: 0\r\n") < 0;
	/* A client that takes trailers gets them when the upstream sends
	 * any: it asks the upstream the same (TE is hop-by-hop). */
	if (rq->rq_minor == 1 && fwd_te_trailers(rq->rq_headers,
	    rq->rq_nheaders))
		bad |= evbuffer_add_printf(out, "TE: trailers\r\n"
		    "Connection: TE\r\n") < 0;
	bad |= evbuffer_add(out, "\r\n", 2) != 0;
	return (bad ? -1 : 0);
}

/*
 * The request head to the upstream of the route's entry: to an origin in
 * origin form; to a parent proxy in absolute form, with the parent's
 * credentials. cn_uphead stays, for another entry or a retry.
 */
static void
fwd_send_head(struct conn *c)
{
	const struct hg_upstream	*up = c->cn_req.cr_via;
	struct evbuffer			*out = bufferevent_get_output(c->cn_up);
	char				 host[HG_MAX_HOST + 16];
	const char			*line = c->cn_upline;
	size_t				 m = c->cn_upmethlen;

	if (up == NULL)
		evbuffer_add_printf(out, "%s HTTP/1.1\r\n", line);
	else {
		authority(&c->cn_req.cr_target, host, sizeof host);
		evbuffer_add_printf(out, "%.*s http://%s%s HTTP/1.1\r\n%s%s%s",
		    (int)m, line, host, line + m + 1,
		    up->up_auth != NULL ? "Proxy-Authorization: " : "",
		    up->up_auth != NULL ? up->up_auth : "",
		    up->up_auth != NULL ? "\r\n" : "");
	}
	evbuffer_add(out, evbuffer_pullup(c->cn_uphead, -1),
	    evbuffer_get_length(c->cn_uphead));
}

/*
 * Move what in has of a Content-Length body, up to the *left bytes still
 * due, to out; *bytes counts them. Returns 1 when the body is complete.
 */
static int
fwd_length_pump(struct evbuffer *in, struct evbuffer *out, uint64_t *left,
    uint64_t *bytes)
{
	size_t	n = evbuffer_get_length(in);

	if (n > *left)
		n = (size_t)*left;
	evbuffer_remove_buffer(in, out, n);
	*bytes += n;
	*left -= n;
	return (*left == 0);
}

/*
 * An absolute-form request: parse the URL, check the framing, decide,
 * and either answer 403 or build the request for the upstream.
 */
void
fwd_request(struct conn *c, const struct http_request *rq)
{
	struct conn_req		*cr = &c->cn_req;
	const char		*url = rq->rq_target + 7, *end, *p, *why;
	const char		*path;
	size_t			 urllen = rq->rq_targetlen - 7, alen, plen;
	struct connhdr		 ch;
	enum body_kind		 kind;
	uint64_t		 len;
	char			 msg[256];

	cr->cr_kind = CK_HTTP;
	cr->cr_minor = rq->rq_minor;
	cr->cr_is_head = http_method_is(rq, "HEAD");
	end = url + urllen;
	for (p = url; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
		;
	alen = (size_t)(p - url);
	path = p;
	plen = (size_t)(end - p);
	if (memchr(url, '@', alen) != NULL) {
		conn_respond_error(c, 400, "user information in the URL",
		    END_BAD_REQUEST);
		return;
	}
	if (memchr(path, '#', plen) != NULL) {
		conn_respond_error(c, 400, "fragment in the request target",
		    END_BAD_REQUEST);
		return;
	}
	if (target_parse(url, alen, 80, &cr->cr_target, &why) != 0) {
		snprintf(msg, sizeof msg, "bad URL host: %s", why);
		conn_respond_error(c, 400, msg, END_BAD_REQUEST);
		return;
	}
	cr->cr_have_target = 1;
	if (fwd_log_path(cr, path, plen) != 0) {
		conn_nomem(c);
		return;
	}

	/* kind and len are set only when the framing is good. */
	if (http_request_framing(rq, &kind, &len, &why) != 0) {
		snprintf(msg, sizeof msg, "malformed request: %s", why);
		conn_respond_error(c, 400, msg, END_BAD_REQUEST);
		return;
	}
	cr->cr_req_body = kind;
	cr->cr_req_left = len;
	cr->cr_req_done = kind == BODY_NONE;
	connection_scan(rq->rq_headers, rq->rq_nheaders, &ch, 1);
	cr->cr_keepalive = rq->rq_minor == 1 && !ch.ch_close;

	policy_decide_group(c->cn_cfg, HG_SCHEME_HTTP, &cr->cr_target,
	    cr->cr_group, &cr->cr_dec);
	pause_apply(&cr->cr_dec);
	cr->cr_have_decision = 1;
	if (cr->cr_dec.d_action == HG_ACT_DENY) {
		conn_deny_answer(c, cr->cr_keepalive && kind == BODY_NONE);
		return;
	}

	/* The request as the upstream will see it. */
	if (c->cn_uphead == NULL && (c->cn_uphead = evbuffer_new()) == NULL) {
		conn_nomem(c);
		return;
	}
	evbuffer_drain(c->cn_uphead, evbuffer_get_length(c->cn_uphead));
	if (fwd_upstream_head(c, rq, path, plen, &ch) != 0) {
		conn_nomem(c);
		return;
	}

	/* No more reading from the client until the upstream is there:
	 * the route's (parent.c), from the pool or connected. */
	bufferevent_disable(c->cn_cli, EV_READ);
	parent_start(c);
}

/* The upstream is connected (or came from the pool): send the request. */
void
fwd_upstream_ready(struct conn *c)
{
	struct conn_req	*cr = &c->cn_req;

	c->cn_state = CS_HTTP;
	/* The head stays: a pooled connection the server closed at the
	 * same moment gets one retry on a new connection, and a request
	 * with no body (or none sent yet) the route's next entry. */
	fwd_send_head(c);
	bufferevent_set_max_single_read(c->cn_up, HG_RELAY_READ_MAX);
	bufferevent_set_max_single_read(c->cn_cli, HG_RELAY_READ_MAX);
	bufferevent_setwatermark(c->cn_up, EV_WRITE, HG_RELAY_LOW_WATER, 0);
	bufferevent_setwatermark(c->cn_cli, EV_WRITE, HG_RELAY_LOW_WATER, 0);
	bufferevent_setcb(c->cn_up, fwd_up_read, fwd_up_write, fwd_up_event,
	    c);
	bufferevent_setcb(c->cn_cli, fwd_cli_read, fwd_cli_write,
	    fwd_cli_event, c);
	bufferevent_enable(c->cn_up, EV_READ | EV_WRITE);
	bufferevent_enable(c->cn_cli, EV_WRITE);
	conn_touch(c);
	if (cr->cr_req_done)
		conn_timer_set(c, c->cn_cfg->cf_timeout_response);
	else {
		conn_timer_set(c, c->cn_cfg->cf_timeout_idle);
		bufferevent_enable(c->cn_cli, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(c->cn_cli)) > 0)
			fwd_cli_read(c->cn_cli, c);
	}
}

/* Both directions are complete: the request is over. */
static void
fwd_finish(struct conn *c)
{
	struct conn_req	*cr = &c->cn_req;
	struct evbuffer	*upin;

	cr->cr_end = END_DONE;
	upin = bufferevent_get_input(c->cn_up);
	if (cr->cr_up_reusable && cr->cr_req_done && !cr->cr_up_eof &&
	    evbuffer_get_length(upin) == 0 && cr->cr_keepalive)
		fwdpool_put(c);
	else
		conn_upstream_drop(c);
	if (cr->cr_keepalive && cr->cr_req_done && !cr->cr_cli_eof) {
		conn_record(c);
		conn_next_request(c);
		return;
	}
	conn_close_after_flush(c, c->cn_cfg->cf_timeout_idle);
}

/* A failure in the middle of an exchange. */
static void
fwd_abort(struct conn *c, int status, const char *why,
    enum conn_end end)
{
	struct conn_req	*cr = &c->cn_req;

	if (!cr->cr_resp_started) {
		conn_respond_error(c, status, why, end);
		return;
	}
	/* Part of the response is out: all the client can learn is a
	 * truncated message. */
	if (cr->cr_end == END_NONE)
		cr->cr_end = end;
	cr->cr_keepalive = 0;
	log_info("%s %s %s:%u: %s", c->cn_client, cr->cr_method,
	    cr->cr_target.t_host, cr->cr_target.t_port, why);
	conn_close_after_flush(c, c->cn_cfg->cf_timeout_idle);
}

/* An upstream's response that is not HTTP/1.x as RFC 9112 writes it. */
static void
fwd_bad_response(struct conn *c, const char *why)
{
	char	msg[160];

	snprintf(msg, sizeof msg, "bad upstream response: %s", why);
	fwd_abort(c, 502, msg, END_BAD_RESPONSE);
}

static void
fwd_cli_read(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct conn_req	*cr = &c->cn_req;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out = bufferevent_get_output(c->cn_up);
	int		 r;

	if (cr->cr_req_done) {
		/* The next request waits in the buffer. */
		bufferevent_disable(bev, EV_READ);
		return;
	}
	conn_touch(c);
	if (cr->cr_req_body == BODY_LENGTH) {
		if (fwd_length_pump(in, out, &cr->cr_req_left,
		    &cr->cr_bytes_up))
			cr->cr_req_done = 1;
	} else {
		r = chunk_pump(&cr->cr_req_chunk, in, out, 1, &cr->cr_bytes_up);
		if (r < 0) {
			cr->cr_keepalive = 0;
			fwd_abort(c, 400, "malformed chunked request body",
			    END_BAD_REQUEST);
			return;
		}
		if (r == 1)
			cr->cr_req_done = 1;
	}
	if (cr->cr_req_done) {
		bufferevent_disable(bev, EV_READ);
		if (!cr->cr_resp_started)
			conn_timer_set(c, c->cn_cfg->cf_timeout_response);
		if (cr->cr_resp_done)
			fwd_finish(c);
		return;
	}
	if (evbuffer_get_length(out) >= HG_RELAY_HIGH_WATER)
		bufferevent_disable(bev, EV_READ);
}

/* The client's output drained: read from the upstream again. */
static void
fwd_cli_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (!c->cn_req.cr_resp_done && !c->cn_req.cr_up_eof && c->cn_up != NULL)
		bufferevent_enable(c->cn_up, EV_READ);
}

static void
fwd_up_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (!c->cn_req.cr_req_done && !c->cn_req.cr_cli_eof)
		bufferevent_enable(c->cn_cli, EV_READ);
}

static void
fwd_cli_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct conn_req	*cr = &c->cn_req;

	if ((what & BEV_EVENT_EOF) && cr->cr_req_done) {
		/* Half-closed after a complete request: answer, then close. */
		cr->cr_cli_eof = 1;
		cr->cr_keepalive = 0;
		return;
	}
	conn_close(c, END_CLIENT_CLOSED);
}

/*
 * The response head from the upstream: parse, check the framing, and
 * send the client its version. Returns 0 when the body may follow, 1 when
 * more input is needed, -1 when the exchange was ended.
 */
static int
fwd_response_head(struct conn *c)
{
	struct conn_req		*cr = &c->cn_req;
	struct evbuffer		*in = bufferevent_get_input(c->cn_up);
	struct evbuffer		*out = bufferevent_get_output(c->cn_cli);
	struct http_response	 rs;
	struct connhdr		 ch;
	const struct http_header *h;
	size_t			 len, want, i;
	ssize_t			 hlen, skip;
	const char		*buf, *why;
	char			 head[HG_MAX_RESPONSE_HEAD + 1];
	enum body_kind		 kind;
	uint64_t		 blen;
	int			 keep_cl;

	for (;;) {
		len = evbuffer_get_length(in);
		if (len == 0)
			return (1);
		want = len < FWD_HEAD_WAIT ? len : FWD_HEAD_WAIT;
		buf = (const char *)evbuffer_pullup(in, (ssize_t)want);
		/* Empty lines before a status line are skipped (RFC 9112
		 * section 2.2), a few; nothing leaves the buffer before the
		 * head is whole. */
		skip = http_skip_empty_lines(buf, want, HG_MAX_EMPTY_LINES,
		    &why);
		if (skip == HTTP_MORE)
			return (1);
		if (skip == HTTP_BAD) {
			fwd_bad_response(c, why);
			return (-1);
		}
		hlen = http_head_end(buf + skip, want - (size_t)skip);
		if (hlen < 0 && len - (size_t)skip <= HG_MAX_RESPONSE_HEAD)
			return (1);
		if (hlen < 0 || hlen > HG_MAX_RESPONSE_HEAD) {
			fwd_abort(c, 502, "upstream response head too large",
			    END_BAD_RESPONSE);
			return (-1);
		}
		/* A copy: the answer may drop the upstream and its buffer. */
		memcpy(head, buf + skip, (size_t)hlen);
		head[hlen] = '\0';
		evbuffer_drain(in, (size_t)(skip + hlen));
		if (http_parse_response(head, (size_t)hlen, &rs, &why) != 0) {
			fwd_bad_response(c, why);
			return (-1);
		}
		if (rs.rs_status >= 200)
			break;
		if (rs.rs_status == 101) {
			fwd_abort(c, 502, "upstream switched protocols",
			    END_BAD_RESPONSE);
			return (-1);
		}
		/* 1xx: interim; HTTP/1.0 clients know none. */
		if (cr->cr_minor == 1)
			evbuffer_add_printf(out, "HTTP/1.1 %d %.*s\r\n\r\n",
			    rs.rs_status, (int)rs.rs_reasonlen, rs.rs_reason);
	}

	if (cr->cr_via != NULL) {
		if (rs.rs_status == 407) {
			/* The parent's own refusal: the client cannot answer
			 * it through us. */
			parent_failed(c, 502, "407 Proxy Authentication "
			    "Required (the parent refused its credentials)",
			    END_UPSTREAM_AUTH);
			return (-1);
		}
		parent_alive(c);
	}
	cr->cr_status = rs.rs_status;
	connection_scan(rs.rs_headers, rs.rs_nheaders, &ch, 0);
	if (http_response_framing(&rs, cr->cr_is_head, &kind, &blen,
	    &why) != 0) {
		fwd_bad_response(c, why);
		return (-1);
	}
	cr->cr_resp_body = kind;
	cr->cr_resp_left = blen;
	cr->cr_up_reusable = kind != BODY_CLOSE && !ch.ch_close &&
	    (rs.rs_minor == 1 || ch.ch_keepalive);
	cr->cr_rechunk = kind == BODY_CHUNKED && cr->cr_minor == 1;
	if (kind == BODY_CLOSE || (kind == BODY_CHUNKED && cr->cr_minor == 0) ||
	    c->cn_w->w_stopping)
		cr->cr_keepalive = 0;
	keep_cl = kind == BODY_NONE || kind == BODY_LENGTH;

	evbuffer_add_printf(out, "HTTP/1.1 %d %.*s\r\n", rs.rs_status,
	    (int)rs.rs_reasonlen, rs.rs_reason);
	for (i = 0; i < rs.rs_nheaders; i++) {
		h = &rs.rs_headers[i];
		if (hop_by_hop(h, ch.ch_names, ch.ch_n))
			continue;
		if (!keep_cl && http_token_eq(h->hh_name, h->hh_namelen,
		    "content-length"))
			continue;
		evbuffer_add_printf(out, "%.*s: %.*s\r\n", (int)h->hh_namelen,
		    h->hh_name, (int)h->hh_valuelen, h->hh_value);
	}
	evbuffer_add_printf(out, "Via: %s\r\n", FWD_VIA);
	if (cr->cr_rechunk) {
		evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
		fwd_trailer_fields(out, rs.rs_headers, rs.rs_nheaders);
	}
	evbuffer_add_printf(out, "Connection: %s\r\n\r\n",
	    cr->cr_keepalive ? "keep-alive" : "close");
	cr->cr_resp_started = 1;
	conn_timer_set(c, c->cn_cfg->cf_timeout_idle);
	return (0);
}

static void
fwd_up_read(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct conn_req	*cr = &c->cn_req;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out = bufferevent_get_output(c->cn_cli);
	size_t		 n;
	int		 r;

	conn_touch(c);
	if (cr->cr_resp_done) {
		/* More than the framing said: drop it, do not reuse. */
		evbuffer_drain(in, evbuffer_get_length(in));
		cr->cr_up_reusable = 0;
		return;
	}
	if (!cr->cr_resp_started) {
		r = fwd_response_head(c);
		if (r != 0)
			return;
	}
	switch (cr->cr_resp_body) {
	case BODY_NONE:
		cr->cr_resp_done = 1;
		break;
	case BODY_LENGTH:
		if (fwd_length_pump(in, out, &cr->cr_resp_left,
		    &cr->cr_bytes_down))
			cr->cr_resp_done = 1;
		break;
	case BODY_CHUNKED:
		r = chunk_pump(&cr->cr_resp_chunk, in, out, cr->cr_rechunk,
		    &cr->cr_bytes_down);
		if (r < 0) {
			fwd_abort(c, 502, "malformed chunked response",
			    END_BAD_RESPONSE);
			return;
		}
		if (r == 1)
			cr->cr_resp_done = 1;
		break;
	case BODY_CLOSE:
		n = evbuffer_get_length(in);
		cr->cr_bytes_down += n;
		evbuffer_add_buffer(out, in);
		break;
	}
	if (cr->cr_resp_done) {
		if (evbuffer_get_length(in) > 0)
			cr->cr_up_reusable = 0;
		if (cr->cr_req_done)
			fwd_finish(c);
		else {
			/* Answered before the request body ended: the
			 * connection cannot go on. */
			cr->cr_keepalive = 0;
			cr->cr_up_reusable = 0;
			fwd_finish(c);
		}
		return;
	}
	if (evbuffer_get_length(out) >= HG_RELAY_HIGH_WATER)
		bufferevent_disable(bev, EV_READ);
}

static void
fwd_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct conn_req	*cr = &c->cn_req;

	if (!cr->cr_resp_started && cr->cr_up_pooled &&
	    cr->cr_req_body == BODY_NONE &&
	    evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
		log_debug("%s %s %s:%u: reused upstream closed, retrying",
		    c->cn_client, cr->cr_method, cr->cr_target.t_host,
		    cr->cr_target.t_port);
		conn_upstream_drop(c);
		cr->cr_up_pooled = 0;
		parent_retry(c);
		return;
	}
	cr->cr_up_eof = 1;
	if (what & BEV_EVENT_EOF) {
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			fwd_up_read(bev, c);
		if (c->cn_state != CS_HTTP || c->cn_up != bev)
			return;		/* the read finished or ended it */
		if (cr->cr_resp_started && cr->cr_resp_body == BODY_CLOSE) {
			cr->cr_resp_done = 1;
			cr->cr_keepalive = 0;
			cr->cr_up_reusable = 0;
			fwd_finish(c);
			return;
		}
	}
	if (!cr->cr_resp_started) {
		/* A parent proxy that did not answer: the route's next
		 * entry, when the request can be sent again. */
		parent_failed(c, 502, "upstream closed without a response",
		    END_UPSTREAM_CLOSED);
		return;
	}
	fwd_abort(c, 502, "upstream closed in the middle of the response",
	    END_UPSTREAM_CLOSED);
}

/* The connection's timer in CS_HTTP. */
void
fwd_timeout(struct conn *c)
{
	struct conn_req	*cr = &c->cn_req;
	long long	 idle;

	if (cr->cr_req_done && !cr->cr_resp_started) {
		log_info("%s %s %s:%u: no response in time", c->cn_client,
		    cr->cr_method, cr->cr_target.t_host, cr->cr_target.t_port);
		conn_respond_error(c, 504, "upstream response timed out",
		    END_RESPONSE_TIMEOUT);
		return;
	}
	idle = conn_idle_ms(c);
	if (idle >= (long long)c->cn_cfg->cf_timeout_idle) {
		fwd_abort(c, 504, "transfer stalled", END_IDLE_TIMEOUT);
		return;
	}
	conn_timer_set(c, (unsigned)(c->cn_cfg->cf_timeout_idle - idle));
}
