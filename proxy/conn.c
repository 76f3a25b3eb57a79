/*
 * conn.c -- the core of a client connection: accept, state, timers, the
 * proxy's own answers, close and the decision record. The phases of a
 * request (conn.h) call it; it reaches them only through the conn_ops
 * that request.c sets.
 *
 *   HEAD      read and parse the request head (timeouts.request)
 *   AUTH      its password is being hashed (auth.c)
 *   RESOLVE   evdns lookup of an allowed target (timeouts.connect)
 *   CONNECT   connect to each address in turn (timeouts.connect)
 *   RELAY     "200 Connection established", bytes both ways with
 *             backpressure and half-close (timeouts.idle)
 *   HTTP      a plain HTTP request and its response in flight
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conn.h"
#include "plat/plat.h"
#include "certs/certs.h"

/* The reason phrase of status, for a status line. */
const char *
conn_status_text(int status)
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

/* Milliseconds since c last moved bytes (conn_touch()). */
long long
conn_idle_ms(struct conn *c)
{
	const struct timespec	*then = &c->cn_last;
	struct timespec		 now;

	mono_now(&now);
	return ((long long)(now.tv_sec - then->tv_sec) * 1000 +
	    (now.tv_nsec - then->tv_nsec) / 1000000);
}

/* (Re)arm the timer of c: it fires in ms milliseconds (conn_timer()). */
void
conn_timer_set(struct conn *c, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->cn_timer, &tv);
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
	unsigned		 tag, act;

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
	r.dr_parent = cr->cr_via != NULL && r.dr_upstream != NULL;
	r.dr_bytes_up = cr->cr_bytes_up;
	r.dr_bytes_down = cr->cr_bytes_down;
	r.dr_end = cr->cr_end != END_NONE ? cr->cr_end : END_ERROR;
	r.dr_sni = cr->cr_sni[0] ? cr->cr_sni : NULL;
	metrics_record(&c->cn_w->w_stats, c->cn_cfg, &r,
	    cr->cr_have_decision ? &cr->cr_dec : NULL, &tag, &act);
	if (c->cn_cfg->cf_status)
		status_record(c->cn_w->w_status, &r, tag, act,
		    cr->cr_have_decision &&
		    cr->cr_dec.d_reason == HG_REASON_DEFAULT);
	if (dlog_add(&c->cn_w->w_dlog, &r))
		event_active(c->cn_w->w_ev_dlog, 0, 0);
reset:
	conn_req_reset(c);
}

/*
 * Free what is left of a closed connection: conn_close(), or upstream.c
 * once the cancelled lookup of a closed connection returns.
 */
void
conn_free(struct conn *c)
{
	if (c->cn_ai != NULL)
		evutil_freeaddrinfo(c->cn_ai);
	if (c->cn_uphead != NULL)
		evbuffer_free(c->cn_uphead);
	free(c->cn_upline);
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
	    c->cn_req.cr_end != END_NONE ? dlog_end_name(c->cn_req.cr_end) :
	    "-");
	conn_record(c);
	auth_cancel(c);		/* a password hash it waits for */
	ldapgroups_cancel(c);	/* a directory lookup it waits for */
	if (c->cn_cli != NULL)
		bufferevent_free(c->cn_cli);	/* and its TLS */
	if (c->cn_up != NULL)
		bufferevent_free(c->cn_up);	/* and its TLS */
	c->cn_cli = c->cn_up = NULL;
	c->cn_tlsb = c->cn_uptlsb = NULL;
	if (c->cn_upearly != NULL) {
		evbuffer_free(c->cn_upearly);
		c->cn_upearly = NULL;
	}
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
void
conn_upstream_drop(struct conn *c)
{
	if (c->cn_up != NULL) {
		bufferevent_free(c->cn_up);	/* and its TLS */
		c->cn_up = NULL;
	}
	c->cn_uptlsb = NULL;
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
 * our own). A client that does not read gets ms milliseconds.
 */
void
conn_close_after_flush(struct conn *c, unsigned ms)
{
	conn_upstream_drop(c);
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

	conn_upstream_drop(c);
	c->cn_req.cr_status = status;
	if (c->cn_req.cr_end == END_NONE)
		c->cn_req.cr_end = end;
	out = bufferevent_get_output(c->cn_cli);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "Connection: %s\r\n"
	    "%s\r\n%s", status, conn_status_text(status),
	    ctype ? ctype : "text/plain; charset=utf-8", strlen(body),
	    keep ? "keep-alive" : "close", headers ? headers : "",
	    c->cn_req.cr_is_head ? "" : body);
	if (keep) {
		conn_record(c);
		conn_next_request(c);
		return;
	}
	conn_close_after_flush(c, c->cn_cfg->cf_timeout_request);
}

/* An answer of our own that closes: "hushgate: why" as its body. */
void
conn_respond_error(struct conn *c, int status, const char *why,
    enum conn_end end)
{
	char	body[1024];

	snprintf(body, sizeof body, "hushgate: %s\n", why);
	conn_respond(c, status, NULL, NULL, body, end, 0);
}

/* No memory for what the request needs: 503, logged; the record says
 * error. */
void
conn_nomem(struct conn *c)
{
	log_warnx("%s: out of memory", c->cn_client);
	conn_respond_error(c, 503, "out of memory", END_ERROR);
}

/*
 * The request is over and the connection goes on (plain HTTP keep-alive,
 * after conn_record()): request.c reads the next request, unless the
 * worker drains.
 */
void
conn_next_request(struct conn *c)
{
	if (c->cn_w->w_stopping) {
		/* Draining: no new request on this connection. */
		conn_close_after_flush(c, c->cn_cfg->cf_timeout_idle);
		return;
	}
	c->cn_ops->co_next_request(c);
}

/* The timer of c: the core's states here, the phases' in request.c. */
static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	switch (c->cn_state) {
	case CS_RESPOND:
	case CS_LINGER:
		conn_close(c, END_NONE);
		return;
	case CS_CLOSED:
		return;
	default:
		c->cn_ops->co_timeout(c);
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

/* Append printf-style to the NUL-terminated text in buf (size n). */
static void __attribute__((format(HG_PRINTF, 3, 4)))
buf_append(char *buf, size_t n, const char *fmt, ...)
{
	size_t	len = strlen(buf);
	va_list	ap;

	if (len + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
}

/*
 * The rest of the plain-HTTP block page: what the category is for and
 * what stops working while it is denied (its description and breaks), how
 * to allow the host, and, for a client that may see the status page
 * (metrics.allow), a link to its explanation there.
 */
static void
deny_page_more(struct conn *c, char *body, size_t n)
{
	const struct hg_decision *d = &c->cn_req.cr_dec;
	const struct hg_target	*t = &c->cn_req.cr_target;
	struct hg_category	*ca = NULL;
	char			 h[2048], q[HG_MAX_HOST * 3 + 16];
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof ss;
	const uint8_t		*addr;
	uint16_t		 port;
	int			 fam;
	size_t			 i, o = 0;

	if (d->d_reason != HG_REASON_DEFAULT && d->d_category != HG_NONE)
		ca = ruleset_category(c->cn_cfg->cf_rules, d->d_category);
	if (ca != NULL && ca->ca_description != NULL) {
		html_escape(h, sizeof h, ca->ca_description);
		buf_append(body, n, "<h2>What it is</h2>\n<p>%s</p>\n", h);
	}
	if (ca != NULL && ca->ca_breaks != NULL) {
		html_escape(h, sizeof h, ca->ca_breaks);
		buf_append(body, n, "<h2>What stops working while it is "
		    "blocked</h2>\n<p>%s</p>\n", h);
	}
	buf_append(body, n, "<h2>To allow it</h2>\n<p>");
	if (ca != NULL) {
		html_escape(h, sizeof h, ca->ca_name);
		buf_append(body, n, "Allow the whole category with "
		    "<code>actions: {%s: allow}</code> in the main "
		    "configuration file, or ", h);
	} else
		buf_append(body, n, "No rule names this host and the "
		    "configuration's <code>default</code> is deny: ");
	buf_append(body, n, "put the host in a category of your own with "
	    "<code>action: allow</code>; then reload (<code>hushgate ctl "
	    "reload</code>, or SIGHUP). <code>hushgate explain</code> shows "
	    "what a host gets.</p>\n");
	/* The link: the address this connection came to serves the page
	 * (not one behind a PROXY sender, which the client did not reach). */
	if (c->cn_cfg->cf_status && !c->cn_pp_relayed &&
	    cidr_list_match(c->cn_cfg->cf_metrics_allow,
	    c->cn_cfg->cf_nmetrics_allow, c->cn_family, c->cn_addr) &&
	    getsockname(bufferevent_getfd(c->cn_cli), (struct sockaddr *)&ss,
	    &sl) == 0 &&
	    (fam = conn_sockaddr((struct sockaddr *)&ss, &addr, &port)) != 0) {
		conn_addr_text(fam, addr, port, h, sizeof h);
		for (i = 0; t->t_host[i] != '\0' && o + 4 < sizeof q; i++) {
			unsigned char	ch = (unsigned char)t->t_host[i];

			if ((ch >= 'a' && ch <= 'z') || (ch >= '0' &&
			    ch <= '9') || ch == '.' || ch == '-')
				q[o++] = (char)ch;
			else
				o += (size_t)snprintf(q + o, sizeof q - o,
				    "%%%02X", ch);
		}
		q[o] = '\0';
		buf_append(body, n, "<p><a href=\"%s://%s/?explain=%s%%3A%u\">"
		    "The explanation on the status page</a></p>\n",
		    c->cn_tlsb != NULL ? "https" : "http", h, q, t->t_port);
	}
	buf_append(body, n, "</body></html>\n");
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
	    "<meta charset=\"utf-8\">"
	    "<title>Blocked by hushgate</title></head><body>\n"
	    "<h1>Blocked: %s</h1>\n<p>hushgate denied this request to "
	    "<b>%s</b> (port %u).</p>\n<p>Category: <b>%s</b><br>\n"
	    "Rule: <code>%s</code></p>\n", h_host, h_host,
	    t->t_port, h_cat, h_rule);
	deny_page_more(c, body, sizeof body);
	conn_respond(c, 403, headers, "text/html; charset=utf-8", body,
	    END_DENIED, keep);
}

/*
 * The address in sa: returns its family (4 or 6) with *addr pointing into
 * sa and *port set (when port is not NULL), or 0 for another family.
 */
int
conn_sockaddr(const struct sockaddr *sa, const uint8_t **addr, uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in	*sin = (const void *)sa;

		*addr = (const uint8_t *)&sin->sin_addr;
		if (port != NULL)
			*port = ntohs(sin->sin_port);
		return (4);
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6	*sin6 = (const void *)sa;

		*addr = (const uint8_t *)&sin6->sin6_addr;
		if (port != NULL)
			*port = ntohs(sin6->sin6_port);
		return (6);
	}
	return (0);
}

/*
 * An address of family 4 or 6 as text into out: "a.b.c.d" or "v6", or
 * with a port (unless port is -1) "a.b.c.d:port" or "[v6]:port".
 */
void
conn_addr_text(int family, const uint8_t *addr, int port, char *out,
    size_t len)
{
	char	ip[INET6_ADDRSTRLEN];

	if (inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, ip,
	    sizeof ip) == NULL)
		ip[0] = '\0';
	if (port < 0)
		snprintf(out, len, "%s", ip);
	else
		snprintf(out, len, family == 6 ? "[%s]:%d" : "%s:%d", ip, port);
}

/*
 * The client's address for the clients check, the policy and the log,
 * from an accepted socket or a PROXY header: an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is the IPv4 address it maps.
 */
void
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
	conn_addr_text(family, addr, -1, c->cn_client, sizeof c->cn_client);
}

/*
 * A new client connection on worker w, on socket fd or (fd -1) on bev,
 * one end of a bufferevent pair (the request path without the network,
 * for the fuzz target): takes ownership of either. sa is the client's
 * address. Returns the connection, counted and listed but not started
 * (request_start()), or NULL when out of memory (closed, logged).
 */
struct conn *
conn_accept(struct worker *w, int fd, struct bufferevent *bev,
    struct sockaddr *sa)
{
	struct conn	*c;
	const uint8_t	*addr;
	int		 family;

	if ((c = calloc(1, sizeof *c)) == NULL)
		goto fail;
	metrics_connection(&w->w_stats);
	c->cn_w = w;
	c->cn_fd[0] = c->cn_fd[1] = -1;
	conn_req_reset(c);
	c->cn_req.cr_active = 1;
	clock_gettime(CLOCK_REALTIME, &c->cn_req.cr_start);
	c->cn_cfg = w->w_cfg;
	config_ref(c->cn_cfg);
	if ((family = conn_sockaddr(sa, &addr, NULL)) != 0)
		conn_set_client(c, family, addr);
	if (bev == NULL && (bev = bufferevent_socket_new(w->w_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		goto fail;
	if (fd != -1)
		plat_nodelay(fd);
	c->cn_cli = bev;
	if ((c->cn_timer = evtimer_new(w->w_base, conn_timer, c)) == NULL)
		goto fail;
	c->cn_next = w->w_conns;
	if (w->w_conns != NULL)
		w->w_conns->cn_prev = c;
	w->w_conns = c;
	w->w_nconns++;
	return (c);

fail:
	log_warnx("accept: out of memory");
	if (bev != NULL)
		bufferevent_free(bev);
	else
		evutil_closesocket(fd);
	if (c != NULL)
		conn_free(c);
	return (NULL);
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
