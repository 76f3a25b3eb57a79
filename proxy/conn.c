/*
 * conn.c -- one client connection, from accept to close.
 *
 *   HEAD      read and parse the request head (timeouts.request)
 *   RESOLVE   evdns lookup of an allowed CONNECT target (timeouts.connect)
 *   CONNECT   connect to each address in turn (timeouts.connect)
 *   RELAY     "200 Connection established", bytes both ways with
 *             backpressure and half-close (timeouts.idle)
 *   RESPOND   a final answer is being written
 *   LINGER    answer written, write side shut, input drained to EOF so
 *             that the answer is not lost to a reset (HG_LINGER_MS)
 *
 * A connection has one state field and one close function: conn_close()
 * is the only place where a connection ends and where its decision record
 * is written.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "proxy.h"
#include "plat/plat.h"
#include "certs/certs.h"

/* Tunnel directions: client to upstream, upstream to client. */
enum { TUN_UP = 0, TUN_DOWN = 1 };

enum dns_cancel {
	DNS_CANCEL_NONE = 0,
	DNS_CANCEL_TIMEOUT,
	DNS_CANCEL_NOTFOUND,
	DNS_CANCEL_CLOSE
};

static void	connect_done(struct conn *);
static void	sni_check(struct conn *);
static int	sni_decide(struct conn *, const unsigned char *, size_t);
static int	conn_tls_start(struct conn *);
static void	conn_connect_next(struct conn *);
static void	head_read(struct bufferevent *, void *);
static void	head_event(struct bufferevent *, short, void *);
static void	pipeline_drained(struct bufferevent *, void *);
static void	trelay_start(struct conn *);
static void	conn_auth_resume(struct conn *, const char *, size_t);

static const char *
status_text(int status)
{
	switch (status) {
	case 200:
		return ("OK");
	case 304:
		return ("Not Modified");
	case 405:
		return ("Method Not Allowed");
	case 100:
		return ("Continue");
	case 400:
		return ("Bad Request");
	case 403:
		return ("Forbidden");
	case 404:
		return ("Not Found");
	case 407:
		return ("Proxy Authentication Required");
	case 408:
		return ("Request Timeout");
	case 429:
		return ("Too Many Requests");
	case 431:
		return ("Request Header Fields Too Large");
	case 501:
		return ("Not Implemented");
	case 502:
		return ("Bad Gateway");
	case 503:
		return ("Service Unavailable");
	case 504:
		return ("Gateway Timeout");
	default:
		return ("Error");
	}
}

static void
mono_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

long long
conn_idle_ms(struct conn *c)
{
	const struct timespec	*then = &c->cn_last;
	struct timespec		 now;

	mono_now(&now);
	return ((long long)(now.tv_sec - then->tv_sec) * 1000 +
	    (now.tv_nsec - then->tv_nsec) / 1000000);
}

void
conn_timer_set(struct conn *c, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->cn_timer, &tv);
}

void
conn_touch(struct conn *c)
{
	mono_now(&c->cn_last);
}

/*
 * The host and port of a request answered before its target was taken
 * (407, 429, a 400), from the raw target: the authority of a CONNECT, or
 * of an http:// URL (without user information), and then its path.
 * Returns -1 when there is none that parses.
 */
static int
conn_split_raw(const struct conn *c, struct hg_target *t, const char **path)
{
	const char	*a = c->cn_req.cr_raw_target, *end, *p, *why;

	if (c->cn_req.cr_method[0] == '\0' || *a == '\0')
		return (-1);
	if (strcmp(c->cn_req.cr_method, "CONNECT") == 0)
		return (target_parse(a, strlen(a), 0, t, &why));
	if (strncasecmp(a, "http://", 7) != 0)
		return (-1);
	a += 7;
	end = a + strcspn(a, "/?#");
	for (p = a; p < end; p++)
		if (*p == '@')
			a = p + 1;
	if (target_parse(a, (size_t)(end - a), 80, t, &why) != 0)
		return (-1);
	if (*end == '/')
		*path = end;
	return (0);
}

/* Open connections (max_connections), counted across the workers. */
static unsigned		 nslots;	/* atomic */

/*
 * Open connections per client address (max_connections_per_client),
 * shared by the workers: taken once when a connection's client is known
 * and once when it closes. A record lives while its address has a
 * connection open.
 */
struct client_count {
	struct addrent	cc_ent;
	unsigned	cc_open;
};

static struct addrent	*client_buckets[4096];
static struct addrtab	 client_counts = ADDRTAB_INITIALIZER(client_buckets, 0,
			    struct client_count, NULL);

/* The connections open now, of every worker. */
unsigned
conn_count_open(void)
{
	return (__atomic_load_n(&nslots, __ATOMIC_RELAXED));
}

/* Count c as open, unless max are: returns 0 then. */
int
conn_take_slot(struct conn *c, unsigned max)
{
	if (__atomic_add_fetch(&nslots, 1, __ATOMIC_RELAXED) > max) {
		__atomic_sub_fetch(&nslots, 1, __ATOMIC_RELAXED);
		return (0);
	}
	c->cn_slot = 1;
	return (1);
}

/*
 * Count c against its client's address, unless the address has max open
 * already (0: no bound): returns 0 then.
 */
int
conn_take_client_slot(struct conn *c, unsigned max)
{
	struct client_count	*cc;
	int			 ok = 1;

	addrtab_lock(&client_counts);
	cc = (struct client_count *)addrtab_find(&client_counts, c->cn_family,
	    c->cn_addr);
	if (cc == NULL && (cc = (struct client_count *)addrtab_add(
	    &client_counts, c->cn_family, c->cn_addr, 0)) == NULL)
		ok = 0;
	else if (max != 0 && cc->cc_open >= max)
		ok = 0;
	if (ok)
		cc->cc_open++;
	else if (cc != NULL && cc->cc_open == 0)
		addrtab_remove(&client_counts, &cc->cc_ent);
	addrtab_unlock(&client_counts);
	c->cn_client_slot = ok;
	return (ok);
}

/* c closes: give back what it counts for. */
static void
conn_release_slots(struct conn *c)
{
	struct client_count	*cc;

	if (c->cn_client_slot) {
		addrtab_lock(&client_counts);
		cc = (struct client_count *)addrtab_find(&client_counts,
		    c->cn_family, c->cn_addr);
		if (cc != NULL && --cc->cc_open == 0)
			addrtab_remove(&client_counts, &cc->cc_ent);
		addrtab_unlock(&client_counts);
		c->cn_client_slot = 0;
	}
	if (c->cn_slot) {
		__atomic_sub_fetch(&nslots, 1, __ATOMIC_RELAXED);
		c->cn_slot = 0;
		c->cn_w->w_ops->wo_slot_freed(c->cn_w);
	}
}

/*
 * Forget the request in hand, recorded or not: the one place where the
 * state of a request is reset (a new connection, and after each request
 * of a kept one).
 */
static void
conn_req_reset(struct conn *c)
{
	free(c->cn_req.cr_path);
	memset(&c->cn_req, 0, sizeof c->cn_req);
	c->cn_req.cr_group = HG_NONE;
}

/*
 * Write the decision record of the current request and forget the
 * request: called from conn_close(), and for plain HTTP when a request on
 * a connection that goes on is complete.
 */
void
conn_record(struct conn *c)
{
	struct conn_req		*cr = &c->cn_req;
	struct dlog_record	 r;
	struct hg_target	 raw;

	if (!cr->cr_active || cr->cr_nolog)
		goto reset;
	memset(&r, 0, sizeof r);
	r.dr_start = cr->cr_start;
	r.dr_client = c->cn_client;
	r.dr_user = cr->cr_user[0] ? cr->cr_user : NULL;
	r.dr_group = cr->cr_group != HG_NONE ?
	    c->cn_cfg->cf_groups[cr->cr_group].gr_name : NULL;
	r.dr_method = cr->cr_method[0] ? cr->cr_method : NULL;
	r.dr_path = cr->cr_path;
	if (cr->cr_have_target) {
		r.dr_host = cr->cr_target.t_host;
		r.dr_port = cr->cr_target.t_port;
	} else if (conn_split_raw(c, &raw, &r.dr_path) == 0) {
		r.dr_host = raw.t_host;
		r.dr_port = raw.t_port;
	} else if (cr->cr_raw_target[0] != '\0')
		r.dr_host = cr->cr_raw_target;
	if (cr->cr_have_decision) {
		r.dr_action = action_name(cr->cr_dec.d_action);
		r.dr_category = cr->cr_dec.d_category_name;
		r.dr_rule_file = cr->cr_dec.d_file;
		r.dr_rule_line = cr->cr_dec.d_line;
	} else if (cr->cr_status >= 400 && cr->cr_status < 500)
		r.dr_action = "deny";
	r.dr_status = cr->cr_status;
	r.dr_upstream = cr->cr_upstream[0] ? cr->cr_upstream : NULL;
	r.dr_bytes_up = cr->cr_bytes_up;
	r.dr_bytes_down = cr->cr_bytes_down;
	r.dr_end = cr->cr_end != END_NONE ? cr->cr_end : END_ERROR;
	r.dr_sni = cr->cr_sni[0] ? cr->cr_sni : NULL;
	metrics_record(&c->cn_w->w_stats, c->cn_cfg, &r,
	    cr->cr_have_decision ? &cr->cr_dec : NULL);
	if (dlog_add(&c->cn_w->w_dlog, &r))
		event_active(c->cn_w->w_ev_dlog, 0, 0);
reset:
	conn_req_reset(c);
}

static void
conn_free(struct conn *c)
{
	if (c->cn_ai != NULL)
		evutil_freeaddrinfo(c->cn_ai);
	if (c->cn_uphead != NULL)
		evbuffer_free(c->cn_uphead);
	free(c->cn_req.cr_path);
	tls_server_unref(c->cn_tls_wait);
	config_unref(c->cn_cfg);
	free(c);
}

/*
 * The one way out. Sets the termination code (unless one was set by the
 * answer already), writes the decision record, frees the connection's
 * resources. A connection whose DNS request is in flight stays allocated
 * (CS_CLOSED) until the cancelled request calls back.
 */
void
conn_close(struct conn *c, enum conn_end end)
{
	struct worker	*w = c->cn_w;
	int		 k;

	if (c->cn_state == CS_CLOSED)
		return;
	if (c->cn_req.cr_end == END_NONE)
		c->cn_req.cr_end = end;
	log_debug("%s %s %s:%d end=%s", c->cn_client,
	    c->cn_req.cr_method[0] ? c->cn_req.cr_method : "-",
	    c->cn_req.cr_have_target ? c->cn_req.cr_target.t_host : "-",
	    c->cn_req.cr_have_target ? c->cn_req.cr_target.t_port : 0,
	    c->cn_req.cr_end != END_NONE ? dlog_end_name(c->cn_req.cr_end) : "-");
	conn_record(c);
	auth_cancel(c);		/* a password hash it waits for */
	if (c->cn_cli != NULL)
		bufferevent_free(c->cn_cli);	/* and its TLS */
	if (c->cn_up != NULL)
		bufferevent_free(c->cn_up);
	c->cn_cli = c->cn_up = NULL;
	c->cn_tlsb = NULL;
	for (k = 0; k < 4; k++) {
		if (c->cn_ev[k] != NULL)
			event_free(c->cn_ev[k]);
		c->cn_ev[k] = NULL;
	}
	for (k = 0; k < 2; k++) {
		if (c->cn_fd[k] != -1)
			evutil_closesocket(c->cn_fd[k]);
		c->cn_fd[k] = -1;
		if (c->cn_pend[k] != NULL)
			evbuffer_free(c->cn_pend[k]);
		c->cn_pend[k] = NULL;
	}
	if (c->cn_hello != NULL) {
		evbuffer_free(c->cn_hello);
		c->cn_hello = NULL;
	}
	event_free(c->cn_timer);
	c->cn_timer = NULL;
	conn_release_slots(c);

	if (c->cn_prev != NULL)
		c->cn_prev->cn_next = c->cn_next;
	else
		w->w_conns = c->cn_next;
	if (c->cn_next != NULL)
		c->cn_next->cn_prev = c->cn_prev;
	w->w_nconns--;

	c->cn_state = CS_CLOSED;
	if (c->cn_dnsreq != NULL) {
		/* dns_done() frees it when the request returns. */
		if (c->cn_dns_cancel == DNS_CANCEL_NONE) {
			c->cn_dns_cancel = DNS_CANCEL_CLOSE;
			evdns_getaddrinfo_cancel(c->cn_dnsreq);
		}
	} else
		conn_free(c);

	if (w->w_stopping && w->w_nconns == 0)
		event_base_loopexit(w->w_base, NULL);
}

/* Input after a final answer is read and thrown away. */
static void
linger_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
linger_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	conn_close(c, END_NONE);
}

/* The answer is on the wire: shut our side, wait for the client's EOF. */
static void
respond_written(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->cn_tlsb != NULL)
		tlsbev_shutdown(c->cn_tlsb, NULL, NULL);
	else
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	c->cn_state = CS_LINGER;
	bufferevent_setcb(bev, linger_read, NULL, linger_event, c);
	bufferevent_enable(bev, EV_READ);
	conn_timer_set(c, HG_LINGER_MS);
}

static void
respond_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		/* Half-closed: the answer still goes out (respond_written,
		 * or the timer, ends it). */
		bufferevent_disable(bev, EV_READ);
		return;
	}
	conn_close(c, END_NONE);
}

/* Let go of the upstream connection, or the connect in progress. */
static void
upstream_drop(struct conn *c)
{
	if (c->cn_up != NULL) {
		bufferevent_free(c->cn_up);
		c->cn_up = NULL;
	}
	if (c->cn_ev[3] != NULL) {
		event_free(c->cn_ev[3]);
		c->cn_ev[3] = NULL;
	}
	if (c->cn_fd[1] != -1) {
		evutil_closesocket(c->cn_fd[1]);
		c->cn_fd[1] = -1;
	}
}

/*
 * The exchange is over and the connection does not go on: let what is
 * queued for the client reach it, then close (lingering like an answer of
 * our own).
 */
static void
flush_then_close(struct conn *c, unsigned ms)
{
	upstream_drop(c);
	c->cn_state = CS_RESPOND;
	bufferevent_setwatermark(c->cn_cli, EV_WRITE, 0, 0);
	bufferevent_setcb(c->cn_cli, linger_read, respond_written,
	    respond_event, c);
	bufferevent_enable(c->cn_cli, EV_READ | EV_WRITE);
	/* Bound the time a client that does not read can hold us. */
	conn_timer_set(c, ms);
	if (evbuffer_get_length(bufferevent_get_output(c->cn_cli)) == 0)
		respond_written(c->cn_cli, c);
}

void
conn_close_after_flush(struct conn *c)
{
	flush_then_close(c, c->cn_cfg->cf_timeout_idle);
}

/*
 * Send an answer of our own (status, extra header lines, content type,
 * body). With keep, the request is complete and the connection goes on
 * to the next request (plain HTTP, no request body left unread);
 * otherwise the connection closes once the answer is written. end is the
 * termination code for the record.
 */
void
conn_respond(struct conn *c, int status, const char *headers,
    const char *ctype, const char *body, enum conn_end end, int keep)
{
	struct evbuffer	*out;

	upstream_drop(c);
	c->cn_req.cr_status = status;
	if (c->cn_req.cr_end == END_NONE)
		c->cn_req.cr_end = end;
	out = bufferevent_get_output(c->cn_cli);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "Connection: %s\r\n"
	    "%s\r\n%s", status, status_text(status),
	    ctype ? ctype : "text/plain; charset=utf-8", strlen(body),
	    keep ? "keep-alive" : "close", headers ? headers : "",
	    c->cn_req.cr_is_head ? "" : body);
	if (keep) {
		conn_record(c);
		conn_next_request(c);
		return;
	}
	flush_then_close(c, c->cn_cfg->cf_timeout_request);
}

void
conn_respond_error(struct conn *c, int status, const char *why,
    enum conn_end end)
{
	char	body[1024];

	snprintf(body, sizeof body, "hushgate: %s\n", why);
	conn_respond(c, status, NULL, NULL, body, end, 0);
}

/*
 * Wait for the next request on a connection that goes on (plain HTTP
 * keep-alive), once conn_record() has forgotten the last one. Bytes the
 * client already sent are parsed at once.
 */
void
conn_next_request(struct conn *c)
{
	struct worker	*w = c->cn_w;

	if (w->w_stopping) {
		/* Draining: no new request on this connection. */
		conn_close_after_flush(c);
		return;
	}
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

static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	long long	 idle;

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
	case CS_RESOLVE:
		if (c->cn_dnsreq != NULL &&
		    c->cn_dns_cancel == DNS_CANCEL_NONE) {
			c->cn_dns_cancel = DNS_CANCEL_TIMEOUT;
			evdns_getaddrinfo_cancel(c->cn_dnsreq);
		}
		return;
	case CS_CONNECT:
		log_info("%s %s %s:%u: connect timeout", c->cn_client,
		    c->cn_req.cr_method,
		    c->cn_req.cr_target.t_host, c->cn_req.cr_target.t_port);
		conn_respond_error(c, 504, "upstream connect timeout",
		    END_CONNECT_TIMEOUT);
		return;
	case CS_HTTP:
		fwd_timeout(c);
		return;
	case CS_RELAY:
		idle = conn_idle_ms(c);
		if (idle >= (long long)c->cn_cfg->cf_timeout_idle) {
			conn_close(c, END_IDLE_TIMEOUT);
			return;
		}
		conn_timer_set(c, (unsigned)(c->cn_cfg->cf_timeout_idle - idle));
		return;
	case CS_RESPOND:
		conn_close(c, END_NONE);
		return;
	case CS_LINGER:
		conn_close(c, END_NONE);
		return;
	case CS_CLOSED:
		return;
	}
}

/* Escape text for an HTML body. */
static void
html_escape(char *out, size_t n, const char *s)
{
	size_t		o = 0;
	const char	*r;

	for (; *s != '\0' && o + 7 < n; s++) {
		switch (*s) {
		case '<':
			r = "&lt;";
			break;
		case '>':
			r = "&gt;";
			break;
		case '&':
			r = "&amp;";
			break;
		case '"':
			r = "&quot;";
			break;
		default:
			out[o++] = *s;
			continue;
		}
		memcpy(out + o, r, strlen(r));
		o += strlen(r);
	}
	out[o] = '\0';
}

/*
 * Answer a denied request: 403 with the category in a header and a body
 * naming host, category and rule (HTML for plain HTTP, which a person may
 * see in a browser). keep: the connection goes on (plain HTTP only).
 */
void
conn_deny_answer(struct conn *c, int keep)
{
	const struct hg_target	*t = &c->cn_req.cr_target;
	const char		*cat, *what;
	char			 headers[256], body[8192], rule[HG_MAX_HOST + 32];
	char			 h_host[HG_MAX_HOST * 6], h_cat[400], h_rule[600];
	int			 http = c->cn_req.cr_kind == CK_HTTP;

	if (c->cn_req.cr_dec.d_reason == HG_REASON_PORT) {
		snprintf(body, sizeof body, "hushgate: port %u is not allowed "
		    "(%s)\n", t->t_port, http ? "http_ports" : "connect_ports");
		conn_respond(c, 403, "X-Hushgate-Reason: port\r\n", NULL, body,
		    END_PORT_DENIED, keep);
		return;
	}
	if (c->cn_req.cr_dec.d_reason == HG_REASON_DEFAULT) {
		cat = "default";
		what = "(none; the default policy is deny)";
		snprintf(rule, sizeof rule, "-");
	} else {
		cat = c->cn_req.cr_dec.d_category_name;
		what = cat;
		snprintf(rule, sizeof rule, "%s:%u", c->cn_req.cr_dec.d_file,
		    c->cn_req.cr_dec.d_line);
	}
	snprintf(headers, sizeof headers, "X-Hushgate-Category: %s\r\n", cat);
	if (!http) {
		snprintf(body, sizeof body, "hushgate: access to %s:%u "
		    "denied\ncategory: %s\nrule: %s\n", t->t_host, t->t_port,
		    what, rule);
		conn_respond(c, 403, headers, NULL, body, END_DENIED, 0);
		return;
	}
	html_escape(h_host, sizeof h_host, t->t_host);
	html_escape(h_cat, sizeof h_cat, what);
	html_escape(h_rule, sizeof h_rule, rule);
	snprintf(body, sizeof body, "<!DOCTYPE html>\n<html><head>"
	    "<title>Blocked by hushgate</title></head><body>\n"
	    "<h1>Blocked: %s</h1>\n<p>hushgate denied this request to "
	    "<b>%s</b> (port %u).</p>\n<p>Category: <b>%s</b><br>\n"
	    "Rule: <code>%s</code></p>\n</body></html>\n", h_host, h_host,
	    t->t_port, h_cat, h_rule);
	conn_respond(c, 403, headers, "text/html; charset=utf-8", body,
	    END_DENIED, keep);
}

/*
 * The tunnel. Once established, the two sockets are served by plain
 * events, not bufferevents: a read goes into the worker's scratch buffer
 * and is written to the other side at once, so the usual case costs one
 * read and one write and no change of the epoll set. Only when the other
 * side cannot take everything is the rest kept (a per-direction buffer,
 * allocated then and freed once drained), reading from this side stopped
 * and writing to the other side awaited: that is the backpressure. An
 * idle tunnel holds no buffer at all.
 *
 * Direction TUN_UP is client to upstream, TUN_DOWN upstream to client.
 */

static int
tun_dst(const struct conn *c, int d)
{
	return (d == TUN_UP ? c->cn_fd[1] : c->cn_fd[0]);
}

/* Read event of the source of direction d, write event of its target. */
static struct event *
tun_rev(const struct conn *c, int d)
{
	return (d == TUN_UP ? c->cn_ev[0] : c->cn_ev[2]);
}

static struct event *
tun_wev(const struct conn *c, int d)
{
	return (d == TUN_UP ? c->cn_ev[3] : c->cn_ev[1]);
}

static void
tun_maybe_done(struct conn *c)
{
	if (c->cn_tun_shut[TUN_UP] && c->cn_tun_shut[TUN_DOWN])
		conn_close(c, END_NONE);
}

/* Source of d said EOF and everything for the target is written. */
static void
tun_shut(struct conn *c, int d)
{
	if (c->cn_tun_shut[1 - d]) {
		/* Both ways are over: close(2) says the rest. */
		c->cn_tun_shut[d] = 1;
		tun_maybe_done(c);
		return;
	}
	if (shutdown(tun_dst(c, d), SHUT_WR) == -1 &&
	    plat_sock_errno() != ENOTCONN)
		log_debug("%s: shutdown: %s", c->cn_client,
		    plat_strerror(plat_sock_errno()));
	c->cn_tun_shut[d] = 1;
	tun_maybe_done(c);
}

static enum conn_end
tun_end(int d, int err)
{
	if (err != 0 && err != ECONNRESET && err != EPIPE)
		return (END_ERROR);
	return (d == TUN_UP ? END_CLIENT_CLOSED : END_UPSTREAM_CLOSED);
}

/* Keep buf[0..len) for the target of d and wait until it can write. */
static int
tun_keep(struct conn *c, int d, const void *buf, size_t len)
{
	if (c->cn_pend[d] == NULL && (c->cn_pend[d] = evbuffer_new()) == NULL)
		return (-1);
	if (evbuffer_add(c->cn_pend[d], buf, len) != 0)
		return (-1);
	event_del(tun_rev(c, d));
	event_add(tun_wev(c, d), NULL);
	return (0);
}

static void
tun_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 d = fd == c->cn_fd[0] ? TUN_UP : TUN_DOWN;
	char		*buf = c->cn_w->w_scratch;
	ssize_t		 n, w;
	size_t		 off = 0;
	int		 r;

	n = plat_recv(fd, buf, HG_RELAY_READ_MAX);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		conn_close(c, tun_end(d, errno));
		return;
	}
	if (n == 0) {
		if (c->cn_req.cr_end == END_NONE)
			c->cn_req.cr_end = d == TUN_UP ? END_CLIENT_CLOSED :
			    END_UPSTREAM_CLOSED;
		c->cn_tun_eof[d] = 1;
		event_del(tun_rev(c, d));
		if (d == TUN_UP && c->cn_sni_wait)
			sni_check(c);
		else if (c->cn_pend[d] == NULL)
			tun_shut(c, d);
		return;
	}
	if (d == TUN_UP)
		c->cn_req.cr_bytes_up += (uint64_t)n;
	else
		c->cn_req.cr_bytes_down += (uint64_t)n;
	mono_now(&c->cn_last);
	if (d == TUN_UP && c->cn_sni_wait) {
		/* Most of the time the first read holds a whole ClientHello
		 * (or shows it is none): decide on it where it is. */
		if (c->cn_hello == NULL &&
		    (r = sni_decide(c, (unsigned char *)buf, (size_t)n)) != 0) {
			if (r < 0)
				return;
		} else {
			if ((c->cn_hello == NULL &&
			    (c->cn_hello = evbuffer_new()) == NULL) ||
			    evbuffer_add(c->cn_hello, buf, (size_t)n) != 0)
				conn_close(c, END_ERROR);
			else
				sni_check(c);
			return;
		}
	}
	while (off < (size_t)n) {
		w = plat_send(tun_dst(c, d), buf + off, (size_t)n - off);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno == EINTR)
			continue;
		else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else {
			conn_close(c, tun_end(1 - d, errno));
			return;
		}
	}
	if (off < (size_t)n && tun_keep(c, d, buf + off, (size_t)n - off) != 0)
		conn_close(c, END_ERROR);
}

static void
tun_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 d = fd == c->cn_fd[1] ? TUN_UP : TUN_DOWN;
	int		 r, e;

	if (c->cn_state == CS_CONNECT) {
		connect_done(c);
		return;
	}
	r = evbuffer_write(c->cn_pend[d], fd);
	if (r < 0 && (e = plat_sock_errno()) != EAGAIN &&
	    e != EWOULDBLOCK && e != EINTR) {
		conn_close(c, tun_end(1 - d, e));
		return;
	}
	if (evbuffer_get_length(c->cn_pend[d]) != 0)
		return;
	evbuffer_free(c->cn_pend[d]);
	c->cn_pend[d] = NULL;
	event_del(tun_wev(c, d));
	if (c->cn_tun_eof[d])
		tun_shut(c, d);
	else
		event_add(tun_rev(c, d), NULL);
}

/*
 * The ClientHello held so far goes upstream (the relay resumes), then a
 * client EOF that came meanwhile is passed on.
 */
static void
sni_release(struct conn *c)
{
	c->cn_sni_wait = 0;
	if (c->cn_hello != NULL && evbuffer_get_length(c->cn_hello) > 0) {
		if (c->cn_pend[TUN_UP] == NULL) {
			c->cn_pend[TUN_UP] = c->cn_hello;
			c->cn_hello = NULL;
		} else
			evbuffer_add_buffer(c->cn_pend[TUN_UP], c->cn_hello);
		event_del(tun_rev(c, TUN_UP));
		event_add(tun_wev(c, TUN_UP), NULL);
	}
	if (c->cn_hello != NULL) {
		evbuffer_free(c->cn_hello);
		c->cn_hello = NULL;
	}
	/* Last: passing the EOF on may end the connection (and free c). */
	if (c->cn_tun_eof[TUN_UP] && c->cn_pend[TUN_UP] == NULL)
		tun_shut(c, TUN_UP);
}

/*
 * tls_sni: read the server name from the first bytes of a CONNECT
 * tunnel, without terminating TLS, once enough of them are here (or the
 * client said EOF). With require, close the tunnel when the name is not
 * the CONNECT host (domain fronting), or when a TLS port does not get a
 * ClientHello.
 */
static int
sni_decide(struct conn *c, const unsigned char *p, size_t len)
{
	const char	*why = NULL;
	char		 name[HG_MAX_HOST + 1];
	enum conn_end	 end = END_NONE;
	int		 r, require;

	if (len > HG_MAX_CLIENTHELLO + 64)
		len = HG_MAX_CLIENTHELLO + 64;
	r = tls_hello_sni(p, len, name, sizeof name, &why);
	if (r == HELLO_MORE && !c->cn_tun_eof[TUN_UP] &&
	    len < HG_MAX_CLIENTHELLO + 64)
		return (0);	/* more of it to come */
	c->cn_sni_wait = 0;
	require = c->cn_cfg->cf_tls_sni == HG_SNI_REQUIRE;
	if (r == HELLO_SNI) {
		size_t	n = strlen(name);

		if (n > 1 && name[n - 1] == '.')
			name[n - 1] = '\0';
		snprintf(c->cn_req.cr_sni, sizeof c->cn_req.cr_sni, "%s", name);
		if (require && strcmp(name, c->cn_req.cr_target.t_host) != 0)
			end = END_SNI_MISMATCH;
	} else if (r == HELLO_NOSNI) {
		if (require && c->cn_req.cr_target.t_kind == HG_HOST_NAME)
			end = END_SNI_MISSING;
	} else if (require && portset_contains(&c->cn_cfg->cf_tls_ports,
	    c->cn_req.cr_target.t_port))
		end = r == HELLO_BAD ? END_BAD_CLIENT_HELLO : END_NOT_TLS;
	if (end != END_NONE) {
		log_info("%s %s %s:%u: tunnel closed (tls_sni require): %s%s%s",
		    c->cn_client, c->cn_req.cr_method, c->cn_req.cr_target.t_host,
		    c->cn_req.cr_target.t_port, dlog_end_name(end), c->cn_req.cr_sni[0] ? ", sni " : "",
		    c->cn_req.cr_sni[0] ? c->cn_req.cr_sni : (why ? why : ""));
		c->cn_req.cr_end = end;
		conn_close(c, end);
		return (-1);
	}
	return (1);
}

/* Decide on what is held in cn_hello (more came, or the client's EOF). */
static void
sni_check(struct conn *c)
{
	size_t	len = c->cn_hello ? evbuffer_get_length(c->cn_hello) : 0;

	if (len > HG_MAX_CLIENTHELLO + 64)
		len = HG_MAX_CLIENTHELLO + 64;
	if (sni_decide(c, len ? evbuffer_pullup(c->cn_hello,
	    (ev_ssize_t)len) : (const unsigned char *)"", len) == 1)
		sni_release(c);
}

/* Relay established: answer 200 and move bytes both ways. */
static void
relay_start(struct conn *c)
{
	static const char	 ok[] =
	    "HTTP/1.1 200 Connection established\r\n\r\n";
	struct event_base	*base = c->cn_w->w_base;
	struct evbuffer		*early;
	int			 k, e;

	if (c->cn_tlsb != NULL) {
		trelay_start(c);
		return;
	}
	c->cn_state = CS_RELAY;
	c->cn_req.cr_status = 200;
	c->cn_fd[0] = bufferevent_getfd(c->cn_cli);
	/* What the client sent after its head (a pipelined ClientHello)
	 * goes first. */
	early = bufferevent_get_input(c->cn_cli);
	if (c->cn_cfg->cf_tls_sni != HG_SNI_OFF) {
		/* The ClientHello is read before anything goes upstream. */
		c->cn_sni_wait = 1;
		if (evbuffer_get_length(early) > 0 &&
		    (c->cn_hello = evbuffer_new()) != NULL) {
			c->cn_req.cr_bytes_up += evbuffer_get_length(early);
			evbuffer_add_buffer(c->cn_hello, early);
		}
	} else if (evbuffer_get_length(early) > 0) {
		c->cn_req.cr_bytes_up += evbuffer_get_length(early);
		if ((c->cn_pend[TUN_UP] = evbuffer_new()) != NULL)
			evbuffer_add_buffer(c->cn_pend[TUN_UP], early);
	}
	if ((c->cn_pend[TUN_DOWN] = evbuffer_new()) != NULL)
		evbuffer_add(c->cn_pend[TUN_DOWN], ok, sizeof ok - 1);
	/* The sockets now belong to the tunnel, not the bufferevents. */
	bufferevent_setfd(c->cn_cli, -1);
	bufferevent_free(c->cn_cli);
	c->cn_cli = NULL;
	/* The upstream socket and its write event come from the connect. */
	c->cn_ev[0] = event_new(base, c->cn_fd[0], EV_READ | EV_PERSIST,
	    tun_read, c);
	c->cn_ev[1] = event_new(base, c->cn_fd[0], EV_WRITE | EV_PERSIST,
	    tun_write, c);
	c->cn_ev[2] = event_new(base, c->cn_fd[1], EV_READ | EV_PERSIST,
	    tun_read, c);
	for (k = 0; k < 4; k++) {
		if (c->cn_ev[k] == NULL) {
			conn_close(c, END_ERROR);
			return;
		}
	}
	mono_now(&c->cn_last);
	conn_timer_set(c, c->cn_cfg->cf_timeout_idle);
	/* Most of the time both fit in the socket buffers at once. */
	for (k = 0; k < 2; k++) {
		if (c->cn_pend[k] == NULL)
			continue;
		if (evbuffer_write(c->cn_pend[k], tun_dst(c, k)) < 0 &&
		    (e = plat_sock_errno()) != EAGAIN && e != EWOULDBLOCK &&
		    e != EINTR) {
			conn_close(c, tun_end(1 - k, e));
			return;
		}
		if (evbuffer_get_length(c->cn_pend[k]) == 0) {
			evbuffer_free(c->cn_pend[k]);
			c->cn_pend[k] = NULL;
		}
	}
	if (c->cn_pend[TUN_UP] != NULL)
		event_add(tun_wev(c, TUN_UP), NULL);
	else if (c->cn_tun_eof[TUN_UP]) {
		if (c->cn_req.cr_end == END_NONE)
			c->cn_req.cr_end = END_CLIENT_CLOSED;
		if (!c->cn_sni_wait)
			tun_shut(c, TUN_UP);
	}
	else
		event_add(tun_rev(c, TUN_UP), NULL);
	if (c->cn_pend[TUN_DOWN] != NULL)
		event_add(tun_wev(c, TUN_DOWN), NULL);
	else
		event_add(tun_rev(c, TUN_DOWN), NULL);
	if (c->cn_sni_wait && (c->cn_hello != NULL || c->cn_tun_eof[TUN_UP]))
		sni_check(c);
}

/*
 * The tunnel of a TLS listener. The client side cannot take the raw
 * socket path (its bytes are TLS records), so both sides are bufferevents
 * -- the client's the TLS filter, the upstream's a socket -- and bytes
 * move from one's input to the other's output. Backpressure: reading
 * from a side stops while the other's output is over HG_RELAY_HIGH_WATER
 * and resumes once it is down to HG_RELAY_LOW_WATER (for the client the
 * plaintext waiting for encryption counts, see tlsbev.c). Half-close: the
 * client's EOF or close_notify shuts the upstream's write side once
 * everything is written; the upstream's EOF sends close_notify and shuts
 * the client's write side the same way.
 */

static struct bufferevent *
trelay_dst(const struct conn *c, int d)
{
	return (d == TUN_UP ? c->cn_up : c->cn_cli);
}

static struct bufferevent *
trelay_src(const struct conn *c, int d)
{
	return (d == TUN_UP ? c->cn_cli : c->cn_up);
}

static void
trelay_enable_read(struct conn *c, int d)
{
	bufferevent_enable(trelay_src(c, d), EV_READ);
	if (d == TUN_UP)
		tlsbev_kick(c->cn_tlsb);
}

/* The client's write side is shut (close_notify is out). */
static void
trelay_down_shut(void *arg)
{
	struct conn	*c = arg;

	c->cn_tun_shut[TUN_DOWN] = 1;
	tun_maybe_done(c);
}

/* The source of d is over and everything of d is written: shut. */
static void
trelay_shut(struct conn *c, int d)
{
	if (d == TUN_DOWN) {
		tlsbev_shutdown(c->cn_tlsb, trelay_down_shut, c);
		return;
	}
	if (!c->cn_tun_shut[TUN_DOWN] && shutdown(bufferevent_getfd(c->cn_up),
	    SHUT_WR) == -1 && plat_sock_errno() != ENOTCONN)
		log_debug("%s: shutdown: %s", c->cn_client,
		    plat_strerror(plat_sock_errno()));
	c->cn_tun_shut[TUN_UP] = 1;
	tun_maybe_done(c);
}

/*
 * Move what bev has read to the other side. Returns -1 when the
 * connection is closed (and freed), 0 otherwise.
 */
static int
trelay_move(struct conn *c, struct bufferevent *bev)
{
	int			 d = bev == c->cn_cli ? TUN_UP : TUN_DOWN;
	struct bufferevent	*dst = trelay_dst(c, d);
	struct evbuffer		*in = bufferevent_get_input(bev);
	size_t			 n = evbuffer_get_length(in), look;
	int			 r;

	if (d == TUN_UP && c->cn_sni_wait) {
		/* tls_sni: the ClientHello waits in the input until whole */
		look = n < HG_MAX_CLIENTHELLO + 64 ? n : HG_MAX_CLIENTHELLO + 64;
		r = sni_decide(c, look ? evbuffer_pullup(in, (ev_ssize_t)look) :
		    (const unsigned char *)"", look);
		if (r != 1)
			return (r < 0 ? -1 : 0);
	}
	if (n == 0)
		return (0);
	if (d == TUN_UP)
		c->cn_req.cr_bytes_up += n;
	else
		c->cn_req.cr_bytes_down += n;
	mono_now(&c->cn_last);
	if (evbuffer_add_buffer(bufferevent_get_output(dst), in) != 0) {
		conn_close(c, END_ERROR);
		return (-1);
	}
	if (evbuffer_get_length(bufferevent_get_output(dst)) >=
	    HG_RELAY_HIGH_WATER) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, HG_RELAY_LOW_WATER, 0);
	}
	return (0);
}

static void
trelay_read(struct bufferevent *bev, void *arg)
{
	(void)trelay_move(arg, bev);
}

/* The output of bev went down to its low mark. */
static void
trelay_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	int		 d = bev == c->cn_up ? TUN_UP : TUN_DOWN;
	size_t		 left = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->cn_tun_eof[d]) {
		if (left == 0 && !c->cn_tun_shut[d])
			trelay_shut(c, d);
		return;
	}
	if (!(bufferevent_get_enabled(trelay_src(c, d)) & EV_READ)) {
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		trelay_enable_read(c, d);
	}
}

static void
trelay_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	int		 d = bev == c->cn_cli ? TUN_UP : TUN_DOWN;
	char		 msg[160];

	if (d == TUN_UP && tlsbev_error(c->cn_tlsb, msg, sizeof msg) != NULL) {
		log_info("%s: TLS: %s", c->cn_client, msg);
		conn_close(c, END_TLS_ERROR);
		return;
	}
	if ((what & BEV_EVENT_ERROR) || !(what & BEV_EVENT_EOF)) {
		conn_close(c, tun_end(d, plat_sock_errno()));
		return;
	}
	if (c->cn_tun_eof[d])
		return;
	if (c->cn_req.cr_end == END_NONE)
		c->cn_req.cr_end = d == TUN_UP ? END_CLIENT_CLOSED : END_UPSTREAM_CLOSED;
	c->cn_tun_eof[d] = 1;
	if (trelay_move(c, bev) != 0)
		return;
	bufferevent_disable(bev, EV_READ);
	bufferevent_setwatermark(trelay_dst(c, d), EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(trelay_dst(c, d))) == 0)
		trelay_shut(c, d);
}

/* Relay established on a TLS listener: answer 200, move bytes. */
static void
trelay_start(struct conn *c)
{
	static const char	 ok[] =
	    "HTTP/1.1 200 Connection established\r\n\r\n";
	int			 k;

	c->cn_state = CS_RELAY;
	c->cn_req.cr_status = 200;
	c->cn_sni_wait = c->cn_cfg->cf_tls_sni != HG_SNI_OFF;
	if (c->cn_up == NULL) {
		/* The socket of the raw connect becomes a bufferevent. */
		if (c->cn_ev[3] != NULL) {
			event_free(c->cn_ev[3]);
			c->cn_ev[3] = NULL;
		}
		c->cn_up = bufferevent_socket_new(c->cn_w->w_base, c->cn_fd[1],
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->cn_up == NULL) {
			conn_close(c, END_ERROR);
			return;
		}
		c->cn_fd[1] = -1;
	}
	bufferevent_set_max_single_read(c->cn_up, HG_RELAY_READ_MAX);
	for (k = 0; k < 2; k++) {
		struct bufferevent *bev = k == 0 ? c->cn_cli : c->cn_up;

		bufferevent_setcb(bev, trelay_read, trelay_write,
		    trelay_event, c);
		bufferevent_setwatermark(bev, EV_READ, 0, 0);
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	}
	mono_now(&c->cn_last);
	conn_timer_set(c, c->cn_cfg->cf_timeout_idle);
	bufferevent_enable(c->cn_up, EV_READ | EV_WRITE);
	bufferevent_enable(c->cn_cli, EV_WRITE);
	if (evbuffer_add(bufferevent_get_output(c->cn_cli), ok,
	    sizeof ok - 1) != 0) {
		conn_close(c, END_ERROR);
		return;
	}
	/* What the client sent after its head goes first. */
	if (trelay_move(c, c->cn_cli) != 0)
		return;
	if (c->cn_tun_eof[TUN_UP]) {
		if (c->cn_req.cr_end == END_NONE)
			c->cn_req.cr_end = END_CLIENT_CLOSED;
		if (evbuffer_get_length(bufferevent_get_output(c->cn_up)) == 0)
			trelay_shut(c, TUN_UP);
	} else
		trelay_enable_read(c, TUN_UP);
}

/* Remember the address of the upstream being connected to. */
static void
set_upstream_name(struct conn *c, const struct sockaddr *sa)
{
	char	addr[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
		snprintf(c->cn_req.cr_upstream, sizeof c->cn_req.cr_upstream, "%s:%d", addr,
		    ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof addr);
		snprintf(c->cn_req.cr_upstream, sizeof c->cn_req.cr_upstream, "[%s]:%d",
		    addr, ntohs(sin6->sin6_port));
	}
}

static void
upstream_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->cn_ai != NULL) {
			evutil_freeaddrinfo(c->cn_ai);
			c->cn_ai = c->cn_ai_next = NULL;
		}
		if (c->cn_req.cr_kind == CK_HTTP)
			fwd_upstream_ready(c);
		else
			relay_start(c);
		return;
	}
	/* Connect failed: try the next address. */
	c->cn_req.cr_upstream[0] = '\0';
	c->cn_connect_errno = plat_sock_errno();
	bufferevent_free(c->cn_up);
	c->cn_up = NULL;
	conn_connect_next(c);
}

/*
 * The destination guard, on the address about to be connected to (after
 * resolution, so that a name that resolves to an inner address is caught
 * whatever it is called). Remembers the first refused address.
 */
static int
destination_ok(struct conn *c, const struct sockaddr *sa)
{
	enum hg_addrclass	 class;
	const uint8_t		*addr;
	char			 txt[INET6_ADDRSTRLEN];
	int			 family;

	if (sa->sa_family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
		family = 4;
	} else if (sa->sa_family == AF_INET6) {
		addr = (const uint8_t *)&((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr;
		family = 6;
	} else
		return (0);
	if (config_destination_allowed(c->cn_cfg, family, addr, &class))
		return (1);
	if (c->cn_guarded[0] == '\0') {
		inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, txt,
		    sizeof txt);
		snprintf(c->cn_guarded, sizeof c->cn_guarded, "%s (%s)", txt,
		    addrclass_name(class));
	}
	return (0);
}

/*
 * CONNECT: a plain non-blocking connect. Its write event, made persistent,
 * is the tunnel's upstream write event later (tun_write() sees the
 * connect finish first).
 */
static int
raw_connect(struct conn *c, const struct evutil_addrinfo *ai)
{
	int	fd, e;

	fd = plat_socket(ai->ai_family, SOCK_STREAM, IPPROTO_TCP);
	if (fd == -1)
		return (-1);
	if (plat_connect(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		e = errno;
		plat_closesocket(fd);
		errno = e;
		return (-1);
	}
	c->cn_fd[1] = fd;
	c->cn_ev[3] = event_new(c->cn_w->w_base, fd, EV_WRITE | EV_PERSIST,
	    tun_write, c);
	if (c->cn_ev[3] == NULL || event_add(c->cn_ev[3], NULL) != 0) {
		upstream_drop(c);
		errno = ENOMEM;
		return (-1);
	}
	return (0);
}

/* The upstream socket of a CONNECT became writable: connected, or not. */
static void
connect_done(struct conn *c)
{
	int		err;

	err = plat_sock_error(c->cn_fd[1]);
	if (err == EINPROGRESS || err == EINTR)
		return;
	if (err != 0) {
		c->cn_req.cr_upstream[0] = '\0';
		c->cn_connect_errno = err;
		upstream_drop(c);
		conn_connect_next(c);
		return;
	}
	event_del(c->cn_ev[3]);
	if (c->cn_ai != NULL) {
		evutil_freeaddrinfo(c->cn_ai);
		c->cn_ai = c->cn_ai_next = NULL;
	}
	relay_start(c);
}

static void
conn_connect_next(struct conn *c)
{
	struct evutil_addrinfo	*ai;
	char			 why[512];

	while ((ai = c->cn_ai_next) != NULL) {
		c->cn_ai_next = ai->ai_next;
		if (!destination_ok(c, ai->ai_addr))
			continue;
		if (c->cn_req.cr_kind == CK_CONNECT) {
			set_upstream_name(c, ai->ai_addr);
			if (raw_connect(c, ai) == 0)
				return;
			c->cn_connect_errno = errno;
			c->cn_req.cr_upstream[0] = '\0';
			continue;
		}
		c->cn_up = bufferevent_socket_new(c->cn_w->w_base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->cn_up == NULL) {
			c->cn_connect_errno = ENOMEM;
			break;
		}
		bufferevent_setcb(c->cn_up, NULL, NULL, upstream_event, c);
		set_upstream_name(c, ai->ai_addr);
		if (bufferevent_socket_connect(c->cn_up, ai->ai_addr,
		    (int)ai->ai_addrlen) == 0)
			return;
		c->cn_connect_errno = plat_sock_errno();
		c->cn_req.cr_upstream[0] = '\0';
		bufferevent_free(c->cn_up);
		c->cn_up = NULL;
	}
	if (c->cn_guarded[0] != '\0' && c->cn_connect_errno == 0) {
		snprintf(why, sizeof why, "%s:%u resolves to %s, which the "
		    "destination guard refuses", c->cn_req.cr_target.t_host,
		    c->cn_req.cr_target.t_port, c->cn_guarded);
		log_info("%s %s %s", c->cn_client, c->cn_req.cr_method, why);
		conn_respond_error(c, 403, why, END_DESTINATION_GUARD);
		return;
	}
	snprintf(why, sizeof why, "cannot connect to %s:%u: %s",
	    c->cn_req.cr_target.t_host, c->cn_req.cr_target.t_port,
	    c->cn_connect_errno ?
	    plat_strerror(c->cn_connect_errno) : "no address");
	log_info("%s %s %s", c->cn_client, c->cn_req.cr_method, why);
	conn_respond_error(c, 502, why, END_CONNECT_FAILED);
}

static void
connect_start(struct conn *c)
{
	c->cn_state = CS_CONNECT;
	c->cn_ai_next = c->cn_ai;
	c->cn_connect_errno = 0;
	c->cn_guarded[0] = '\0';
	conn_timer_set(c, c->cn_cfg->cf_timeout_connect);
	conn_connect_next(c);
}

static void
dns_done(int result, struct evutil_addrinfo *res, void *arg)
{
	struct conn	*c = arg;
	char		 why[512];

	c->cn_dnsreq = NULL;
	{
		struct timespec	now;

		mono_now(&now);
		metrics_dns(&c->cn_w->w_stats, (uint64_t)((now.tv_sec -
		    c->cn_dns_start.tv_sec) * 1000000 + (now.tv_nsec -
		    c->cn_dns_start.tv_nsec) / 1000));
	}
	if (c->cn_state == CS_CLOSED) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		conn_free(c);
		return;
	}
	if (result == EVUTIL_EAI_CANCEL) {
		if (c->cn_dns_cancel == DNS_CANCEL_TIMEOUT) {
			log_info("%s %s %s: resolve timeout", c->cn_client,
			    c->cn_req.cr_method,
			    c->cn_req.cr_target.t_host);
			conn_respond_error(c, 504, "name resolution timed out",
			    END_RESOLVE_TIMEOUT);
		} else {
			snprintf(why, sizeof why, "cannot resolve %s: name "
			    "not found", c->cn_req.cr_target.t_host);
			log_info("%s %s %s", c->cn_client, c->cn_req.cr_method, why);
			conn_respond_error(c, 502, why, END_RESOLVE_FAILED);
		}
		return;
	}
	if (result != 0) {
		snprintf(why, sizeof why, "cannot resolve %s: %s",
		    c->cn_req.cr_target.t_host, evutil_gai_strerror(result));
		log_info("%s %s %s", c->cn_client, c->cn_req.cr_method, why);
		if (result == EVUTIL_EAI_AGAIN)
			conn_respond_error(c, 504, why, END_RESOLVE_TIMEOUT);
		else
			conn_respond_error(c, 502, why, END_RESOLVE_FAILED);
		return;
	}
	c->cn_ai = res;
	connect_start(c);
}

/* Make a one-entry address list for an IP-literal target. */
static struct evutil_addrinfo *
literal_addrinfo(const struct hg_target *t)
{
	struct evutil_addrinfo	hints, *res = NULL;
	char			port[8];

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	snprintf(port, sizeof port, "%u", t->t_port);
	if (evutil_getaddrinfo(t->t_host, port, &hints, &res) != 0)
		return (NULL);
	return (res);
}

void
conn_resolve_start(struct conn *c)
{
	struct evdns_getaddrinfo_request	*req;

	if (c->cn_req.cr_target.t_kind != HG_HOST_NAME) {
		if ((c->cn_ai = literal_addrinfo(&c->cn_req.cr_target)) == NULL) {
			conn_respond_error(c, 502, "bad address", END_CONNECT_FAILED);
			return;
		}
		connect_start(c);
		return;
	}
	c->cn_state = CS_RESOLVE;
	conn_timer_set(c, c->cn_cfg->cf_timeout_connect);
	mono_now(&c->cn_dns_start);
	/* The callback may run before this returns (hosts file hit). */
	req = dns_resolve(c->cn_w->w_dns, c->cn_req.cr_target.t_host,
	    c->cn_req.cr_target.t_port, dns_done, c);
	if (req == NULL)
		return;
	c->cn_dnsreq = req;
	if (evdns_base_count_nameservers(c->cn_w->w_dns) == 0) {
		/* No servers (dns.servers: []): not in the hosts file means
		 * not found, at once. */
		c->cn_dns_cancel = DNS_CANCEL_NOTFOUND;
		evdns_getaddrinfo_cancel(req);
	}
}

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

static void
pac_unref(const void *data, size_t len, void *arg)
{
	config_unref(arg);
}

/*
 * The address a served PAC file names: the local address of the accepted
 * socket (what the client used to reach us), or on a pac.listen socket
 * that address with the port of the first proxy listener (its own
 * address when it is not a wildcard one).
 */
static void
pac_local_proxy(struct conn *c, char *out, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	char			 ip[INET6_ADDRSTRLEN];
	const char		*l = c->cn_cfg->cf_listen[0];
	unsigned		 port = 0;
	const void		*addr;

	memset(&ss, 0, sizeof ss);
	if (getsockname(bufferevent_getfd(c->cn_cli), (struct sockaddr *)&ss,
	    &sslen) != 0)
		ss.ss_family = AF_INET;
	if (ss.ss_family == AF_INET6) {
		addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	inet_ntop(ss.ss_family, addr, ip, sizeof ip);
	if (c->cn_pac_only) {
		port = c->cn_w->w_ops->wo_listen_port(0);
		if (strncmp(l, "0.0.0.0:", 8) != 0 &&
		    strncmp(l, "[::]:", 5) != 0) {
			snprintf(out, len, "%.*s:%u",
			    (int)(strrchr(l, ':') - l), l, port);
			return;
		}
	}
	snprintf(out, len, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
	    port);
}

/* Does If-None-Match name etag (or "*")? */
static int
pac_not_modified(const struct http_request *rq, const char *etag)
{
	const struct http_header	*hh;
	size_t				 i, n = strlen(etag);

	for (i = 0; i < rq->rq_nheaders; i++) {
		hh = &rq->rq_headers[i];
		if (!http_token_eq(hh->hh_name, hh->hh_namelen,
		    "if-none-match"))
			continue;
		if (memmem(hh->hh_value, hh->hh_valuelen, etag, n) != NULL ||
		    (hh->hh_valuelen == 1 && hh->hh_value[0] == '*'))
			return (1);
	}
	return (0);
}

/*
 * GET/HEAD /proxy.pac or /wpad.dat: the PAC file of the configuration
 * this connection runs with. Its body is built once per configuration
 * (main thread) and sent by reference; the line naming the proxy is the
 * only part made per request, and the ETag covers both.
 */
static void
serve_pac(struct conn *c, const struct http_request *rq)
{
	struct hg_config	*cf = c->cn_cfg;
	const struct hg_pac	*pac = cf->cf_pac;
	struct evbuffer		*out = bufferevent_get_output(c->cn_cli);
	char			 etag[64], name[80], *line, *one[1];
	int			 status;

	if (pac == NULL) {
		conn_respond_error(c, 404, "no PAC file", END_SERVED);
		return;
	}
	if (cf->cf_npac_proxy > 0)
		line = pac_proxy_line(cf->cf_pac_proxy, cf->cf_npac_proxy);
	else {
		pac_local_proxy(c, name, sizeof name);
		one[0] = name;
		line = pac_proxy_line(one, 1);
	}
	snprintf(etag, sizeof etag, "\"%s-%08x\"", pac->pc_digest,
	    (unsigned)(pac_fnv64(line, strlen(line)) & 0xffffffff));
	status = pac_not_modified(rq, etag) ? 304 : 200;
	c->cn_req.cr_status = status;
	c->cn_req.cr_end = END_SERVED;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	    status_text(status));
	if (status == 200)
		evbuffer_add_printf(out, "Content-Type: "
		    "application/x-ns-proxy-autoconfig\r\n"
		    "Content-Length: %zu\r\n", pac->pc_headlen + strlen(line) +
		    pac->pc_bodylen);
	evbuffer_add_printf(out, "ETag: %s\r\nCache-Control: max-age=%u\r\n"
	    "Connection: close\r\n\r\n", etag, cf->cf_pac_max_age);
	if (status == 200 && !c->cn_req.cr_is_head) {
		evbuffer_add(out, pac->pc_head, pac->pc_headlen);
		evbuffer_add(out, line, strlen(line));
		config_ref(cf);
		if (evbuffer_add_reference(out, pac->pc_body, pac->pc_bodylen,
		    pac_unref, cf) != 0)
			config_unref(cf);
	}
	free(line);
	flush_then_close(c, cf->cf_timeout_request);
}

static int
path_is(const struct http_request *rq, const char *path)
{
	size_t	len = strlen(path);

	return (rq->rq_targetlen >= len && memcmp(rq->rq_target, path,
	    len) == 0 && (rq->rq_targetlen == len ||
	    rq->rq_target[len] == '?'));
}

/* GET /metrics, for the addresses in metrics.allow (loopback by default). */
static void
serve_metrics(struct conn *c)
{
	struct evbuffer		*body, *out;
	struct wstats		*sum = NULL;
	struct auth_counts	 ac;
	unsigned		 open;

	if (!cidr_list_match(c->cn_cfg->cf_metrics_allow,
	    c->cn_cfg->cf_nmetrics_allow, c->cn_family, c->cn_addr)) {
		conn_respond_error(c, 403, "metrics: client address not in "
		    "metrics.allow", END_SERVED);
		return;
	}
	if ((body = evbuffer_new()) == NULL ||
	    (sum = calloc(1, sizeof *sum)) == NULL) {
		if (body != NULL)
			evbuffer_free(body);
		conn_close(c, END_ERROR);
		return;
	}
	open = c->cn_w->w_ops->wo_sum_stats(sum);
	auth_counts(&ac);
	metrics_render(body, c->cn_cfg, sum, open, &ac);
	free(sum);
	c->cn_req.cr_status = 200;
	c->cn_req.cr_end = END_SERVED;
	out = bufferevent_get_output(c->cn_cli);
	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n", evbuffer_get_length(body));
	if (!c->cn_req.cr_is_head)
		evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	flush_then_close(c, c->cn_cfg->cf_timeout_request);
}

static void
handle_origin_form(struct conn *c, const struct http_request *rq)
{
	int	get;

	c->cn_req.cr_nolog = 1;
	c->cn_req.cr_is_head = http_method_is(rq, "HEAD");
	get = http_method_is(rq, "GET") || c->cn_req.cr_is_head;
	if (get && c->cn_admin_only && !path_is(rq, "/metrics") &&
	    !path_is(rq, "/healthz")) {
		conn_respond_error(c, 404, "this address serves /metrics and "
		    "/healthz only", END_SERVED);
		return;
	}
	if (get && (path_is(rq, "/proxy.pac") || path_is(rq, "/wpad.dat"))) {
		serve_pac(c, rq);
		return;
	}
	if (get && !c->cn_pac_only && path_is(rq, "/healthz")) {
		conn_respond(c, 200, NULL, NULL, "ok\n", END_SERVED, 0);
		return;
	}
	if (get && !c->cn_pac_only && path_is(rq, "/metrics")) {
		serve_metrics(c);
		return;
	}
	conn_respond_error(c, 404, "not found", END_SERVED);
}

static void
handle_connect(struct conn *c, const struct http_request *rq)
{
	const char	*why;
	char		 msg[256];

	if (target_parse(rq->rq_target, rq->rq_targetlen, 0, &c->cn_req.cr_target,
	    &why) != 0) {
		snprintf(msg, sizeof msg, "bad CONNECT target: %s", why);
		conn_respond_error(c, 400, msg, END_BAD_REQUEST);
		return;
	}
	c->cn_req.cr_have_target = 1;
	c->cn_req.cr_kind = CK_CONNECT;
	policy_decide_group(c->cn_cfg, HG_SCHEME_CONNECT, &c->cn_req.cr_target,
	    c->cn_req.cr_group, &c->cn_req.cr_dec);
	c->cn_req.cr_have_decision = 1;
	if (c->cn_req.cr_dec.d_action == HG_ACT_DENY) {
		conn_deny_answer(c, 0);
		return;
	}
	/*
	 * Keep reading while the upstream is found, but only a bounded
	 * amount (a pipelined ClientHello): the socket stays in the epoll
	 * set, and a client that gives up is noticed.
	 */
	if (c->cn_tlsb == NULL)
		bufferevent_setwatermark(c->cn_cli, EV_READ, 0,
		    HG_EARLY_DATA_MAX);
	conn_resolve_start(c);
}

/*
 * max_connections_per_client: count the connection against its client's
 * address (the one a PROXY header gave, if any). Returns 0 when over the
 * bound, after answering 503.
 */
static int
conn_client_slot(struct conn *c)
{
	unsigned	max = c->cn_cfg->cf_max_per_client;

	if (max == 0)
		return (1);
	if (!conn_take_client_slot(c, max)) {
		log_warnx("%s: max_connections_per_client (%u) reached",
		    c->cn_client, max);
		/* On a TLS listener the answer comes after the handshake. */
		if (c->cn_tls_wait != NULL && conn_tls_start(c) != 0)
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
conn_tls_start(struct conn *c)
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
		conn_respond_error(c, 400, "bad request target", END_BAD_REQUEST);
		return;
	}
	switch (auth_request(c, rq, head, hlen, conn_auth_resume, &aa)) {
	case AUTH_ALLOW:
		break;
	case AUTH_DENY:
		conn_respond(c, aa.aa_status, aa.aa_headers, NULL, aa.aa_body,
		    aa.aa_end, 0);
		return;
	case AUTH_PENDING:
		/* Its password is being hashed (CS_AUTH): a bounded amount
		 * is read meanwhile. */
		if (c->cn_tlsb == NULL)
			bufferevent_setwatermark(c->cn_cli, EV_READ, 0,
			    HG_EARLY_DATA_MAX);
		return;
	}
	c->cn_req.cr_group = config_group_match(c->cn_cfg, c->cn_family,
	    c->cn_addr, c->cn_req.cr_user[0] ? c->cn_req.cr_user : NULL);
	if (connect)
		handle_connect(c, rq);
	else
		fwd_request(c, rq);
}

/*
 * The client's address for the clients check, the policy and the log,
 * from an accepted socket or a PROXY header: an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is the IPv4 address it maps.
 */
static void
conn_set_client(struct conn *c, int family, const uint8_t *addr)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (family == 6 && memcmp(addr, mapped, sizeof mapped) == 0) {
		family = 4;
		addr += 12;
	}
	c->cn_family = family;
	memset(c->cn_addr, 0, sizeof c->cn_addr);
	memcpy(c->cn_addr, addr, family == 4 ? 4 : 16);
	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, c->cn_client,
	    sizeof c->cn_client);
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
	    http_method_is(rq, "HEAD")) && path_is(rq, "/healthz")))
		return (0);
	log_info("%s: request after a PROXY LOCAL or UNKNOWN header refused "
	    "(such a connection is served /healthz only)", c->cn_client);
	conn_respond_error(c, 403, "a load balancer's own connection (PROXY "
	    "LOCAL or UNKNOWN header) is served GET /healthz only",
	    END_CLIENT_DENIED);
	return (1);
}

/*
 * The password of c's request is checked (auth.c, which calls this on the
 * worker's loop): take the request up where it waited. head (hlen bytes)
 * is the request head, the caller's.
 */
static void
conn_auth_resume(struct conn *c, const char *head, size_t hlen)
{
	struct http_request	 rq;
	const char		*why;

	c->cn_state = CS_HEAD;
	if (c->cn_tlsb == NULL)
		bufferevent_setwatermark(c->cn_cli, EV_READ, 0, 0);
	if (http_parse_head(head, hlen, &rq, &why) != 0) {
		conn_close(c, END_ERROR);		/* parsed before */
		return;
	}
	handle_proxy(c, &rq, head, hlen);
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
		if (c->cn_tls_wait != NULL && conn_tls_start(c) != 0)
			return (-1);
		conn_respond_error(c, 403, "client address not allowed",
		    END_CLIENT_DENIED);
		return (-1);
	}
	return (conn_client_slot(c) ? 0 : -1);
}

static void
head_read(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct http_request	 rq;
	size_t			 len = evbuffer_get_length(in), want;
	const char		*buf, *why = "";
	ssize_t			 hlen;
	char			*head;
	int			 status;

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
			conn_tls_start(c);
			return;
		}
		if ((len = evbuffer_get_length(in)) == 0)
			return;
	}
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
	want = len < HG_MAX_REQUEST_HEAD + 4 ? len : HG_MAX_REQUEST_HEAD + 4;
	buf = (const char *)evbuffer_pullup(in, (ssize_t)want);
	hlen = http_head_end(buf, want);
	if (hlen < 0 || hlen > HG_MAX_REQUEST_HEAD) {
		if (hlen > HG_MAX_REQUEST_HEAD || len > HG_MAX_REQUEST_HEAD)
			conn_respond_error(c, 431, "request head too large",
			    END_TOO_LARGE);
		return;
	}
	head = xstrndup(buf, (size_t)hlen);
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
		handle_origin_form(c, &rq);
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
	free(head);
}

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
			conn_close_after_flush(c);
			return;
		}
	}
	conn_close(c, END_CLIENT_CLOSED);
}

static void	conn_open(struct worker *, int, struct bufferevent *,
		    struct sockaddr *, const struct wlistener *);

/*
 * A new client connection on worker w. Takes ownership of fd. pp: the
 * PROXY header versions expected (0: none); tls: the listen index of a
 * TLS listener, or -1.
 */
void
conn_accept(struct worker *w, int fd, struct sockaddr *sa, int salen,
    const struct wlistener *wl)
{
	conn_open(w, fd, NULL, sa, wl);
}

/*
 * The same on a bufferevent without a socket (one end of a
 * bufferevent_pair): the request path without the network, for the fuzz
 * target. Takes ownership of bev; not for TLS listeners.
 */
void
conn_accept_bev(struct worker *w, struct bufferevent *bev,
    struct sockaddr *sa, const struct wlistener *wl)
{
	conn_open(w, -1, bev, sa, wl);
}

static void
conn_open(struct worker *w, int fd, struct bufferevent *bev,
    struct sockaddr *sa, const struct wlistener *wl)
{
	struct conn	*c;
	int		 family = 0;
	const uint8_t	*addr = NULL;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		else
			evutil_closesocket(fd);
		return;
	}
	c->cn_w = w;
	c->cn_pac_only = wl->wl_pac != 0;
	c->cn_admin_only = wl->wl_admin != 0;
	c->cn_fd[0] = c->cn_fd[1] = -1;
	conn_req_reset(c);
	c->cn_req.cr_active = 1;
	clock_gettime(CLOCK_REALTIME, &c->cn_req.cr_start);
	c->cn_cfg = w->w_cfg;
	config_ref(c->cn_cfg);
	if (sa->sa_family == AF_INET)
		conn_set_client(c, 4,
		    (const uint8_t *)&((struct sockaddr_in *)sa)->sin_addr);
	else if (sa->sa_family == AF_INET6)
		conn_set_client(c, 6,
		    (const uint8_t *)&((struct sockaddr_in6 *)sa)->sin6_addr);
	family = c->cn_family;
	if (family != 0)
		addr = c->cn_addr;
	metrics_connection(&w->w_stats);
	c->cn_cli = bev != NULL ? bev : bufferevent_socket_new(w->w_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	c->cn_timer = evtimer_new(w->w_base, conn_timer, c);
	if (c->cn_cli == NULL || c->cn_timer == NULL) {
		if (c->cn_cli != NULL)
			bufferevent_free(c->cn_cli);
		else
			evutil_closesocket(fd);
		if (c->cn_timer != NULL)
			event_free(c->cn_timer);
		conn_free(c);
		return;
	}
	c->cn_next = w->w_conns;
	if (w->w_conns != NULL)
		w->w_conns->cn_prev = c;
	w->w_conns = c;
	w->w_nconns++;

	if (wl->wl_tls >= 0) {
		if ((size_t)wl->wl_tls >= c->cn_cfg->cf_nlisten ||
		    c->cn_cfg->cf_listen_tls[wl->wl_tls] == NULL) {
			log_warnx("%s: TLS listener without credentials "
			    "(restart after a listen change)", c->cn_client);
			conn_close(c, END_ERROR);
			return;
		}
		c->cn_tls_wait = c->cn_cfg->cf_listen_tls[wl->wl_tls];
		tls_server_ref(c->cn_tls_wait);
		/* Behind a balancer, TLS starts after the PROXY header. */
		if (wl->wl_pp == 0 && conn_tls_start(c) != 0)
			return;
	}
	if (!conn_take_slot(c, c->cn_cfg->cf_max_connections)) {
		log_warnx("%s: max_connections (%u) reached", c->cn_client,
		    c->cn_cfg->cf_max_connections);
		conn_respond_error(c, 503, "too many connections", END_OVERLOAD);
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
	} else if (family == 0 ||
	    !config_client_allowed(c->cn_cfg, family, addr)) {
		log_info("%s: client not allowed (clients)", c->cn_client);
		conn_respond_error(c, 403, "client address not allowed",
		    END_CLIENT_DENIED);
		return;
	} else if (!conn_client_slot(c))
		return;
	c->cn_state = CS_HEAD;
	bufferevent_setcb(c->cn_cli, head_read, NULL, head_event, c);
	bufferevent_enable(c->cn_cli, EV_READ);
	conn_timer_set(c, c->cn_cfg->cf_timeout_request);
	if (c->cn_tlsb == NULL && fd != -1) {
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

/* Drain time is over: close every connection of this worker. */
void
conn_shutdown_all(struct worker *w)
{
	while (w->w_conns != NULL)
		conn_close(w->w_conns, END_SHUTDOWN);
}

/* Stop accepting: connections still reading a head are closed. */
void
conn_drain_idle(struct worker *w)
{
	struct conn	*c, *next;

	for (c = w->w_conns; c != NULL; c = next) {
		next = c->cn_next;
		if (c->cn_state == CS_HEAD &&
		    evbuffer_get_length(bufferevent_get_input(c->cn_cli)) == 0)
			conn_close(c, END_SHUTDOWN);
	}
}
