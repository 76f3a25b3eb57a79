/*
 * tunnel.c -- CONNECT: the decision on its target, then, once upstream.c
 * has connected, "200 Connection established" and bytes both ways with
 * backpressure and half-close until both sides are done or the tunnel
 * idles out (timeouts.idle). With tls_sni, the first bytes from the
 * client are held until they show the server name of its ClientHello,
 * and the tunnel is closed when the name is not the CONNECT host
 * (require) or when the rules deny it (decide).
 *
 * The tunnel of a plain listener runs on the raw sockets (tun_*); that
 * of a TLS listener on bufferevents (trelay_*).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conn.h"
#include "plat/plat.h"

static void	sni_check(struct conn *);
static int	sni_decide(struct conn *, const unsigned char *, size_t);
static void	trelay_start(struct conn *);

/*
 * A CONNECT request (request.c, once its client is known): parse the
 * target, decide, and answer 403 or have upstream.c connect.
 */
void
tunnel_request(struct conn *c, const struct http_request *rq)
{
	const char	*why;
	char		 msg[256];

	if (target_parse(rq->rq_target, rq->rq_targetlen, 0,
	    &c->cn_req.cr_target, &why) != 0) {
		snprintf(msg, sizeof msg, "bad CONNECT target: %s", why);
		conn_respond_error(c, 400, msg, END_BAD_REQUEST);
		return;
	}
	c->cn_req.cr_have_target = 1;
	c->cn_req.cr_kind = CK_CONNECT;
	policy_decide_group(c->cn_cfg, HG_SCHEME_CONNECT, &c->cn_req.cr_target,
	    c->cn_req.cr_group, &c->cn_req.cr_dec);
	pause_apply(&c->cn_req.cr_dec);
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
	parent_start(c);
}

/* The timer of an established tunnel: it idled out, or not yet. */
void
tunnel_timeout(struct conn *c)
{
	long long	idle = conn_idle_ms(c);

	if (idle >= (long long)c->cn_cfg->cf_timeout_idle) {
		conn_close(c, END_IDLE_TIMEOUT);
		return;
	}
	conn_timer_set(c, (unsigned)(c->cn_cfg->cf_timeout_idle - idle));
}

/* No memory for what a tunnel holds: it ends (nothing to answer). */
static void
tunnel_nomem(struct conn *c)
{
	log_warnx("%s %s %s:%u: tunnel: out of memory", c->cn_client,
	    c->cn_req.cr_method, c->cn_req.cr_target.t_host,
	    c->cn_req.cr_target.t_port);
	conn_close(c, END_ERROR);
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
	conn_touch(c);
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
				tunnel_nomem(c);
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
		tunnel_nomem(c);
}

static void
tun_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 d = fd == c->cn_fd[1] ? TUN_UP : TUN_DOWN;
	int		 r, e;

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
 * tls_sni decide: the server name of a tunnel's ClientHello is decided
 * on as its CONNECT host was. Returns END_SNI_DENIED when the name is
 * denied, END_NONE otherwise; the record takes the name's decision when
 * it is the stricter one (denied, or audit on an allowed host). A name
 * that is not a host is relayed as a hello without one.
 */
static enum conn_end
sni_policy(struct conn *c, const char *name)
{
	struct hg_decision	 d;
	const char		*why;

	if (policy_decide_sni(c->cn_cfg, &c->cn_req.cr_target, name,
	    c->cn_req.cr_group, &d, &why) != 0) {
		log_debug("%s %s %s:%u: sni %s not decided on: %s",
		    c->cn_client, c->cn_req.cr_method,
		    c->cn_req.cr_target.t_host, c->cn_req.cr_target.t_port,
		    name, why);
		return (END_NONE);
	}
	pause_apply(&d);
	if (policy_sni_overrides(&c->cn_req.cr_dec, &d))
		c->cn_req.cr_dec = d;
	return (d.d_action == HG_ACT_DENY ? END_SNI_DENIED : END_NONE);
}

/*
 * tls_sni: read the server name from the first bytes of a CONNECT
 * tunnel, without terminating TLS, once enough of them are here (or the
 * client said EOF). With require, close the tunnel when the name is not
 * the CONNECT host (domain fronting), or when a TLS port does not get a
 * ClientHello; with decide, when the rules deny the name, or when a TLS
 * port gets a ClientHello that cannot be read. Returns 1 when the tunnel
 * goes on, 0 when more bytes are needed, -1 when it is closed (and c
 * freed).
 */
static int
sni_decide(struct conn *c, const unsigned char *p, size_t len)
{
	const char	*why = NULL;
	char		 name[HG_MAX_HOST + 1];
	enum conn_end	 end = END_NONE;
	int		 r, mode = c->cn_cfg->cf_tls_sni, require;

	if (len > HG_MAX_CLIENTHELLO + 64)
		len = HG_MAX_CLIENTHELLO + 64;
	r = tls_hello_sni(p, len, name, sizeof name, &why);
	if (r == HELLO_MORE && !c->cn_tun_eof[TUN_UP] &&
	    len < HG_MAX_CLIENTHELLO + 64)
		return (0);	/* more of it to come */
	c->cn_sni_wait = 0;
	require = mode == HG_SNI_REQUIRE;
	if (r == HELLO_SNI) {
		size_t	n = strlen(name);

		if (n > 1 && name[n - 1] == '.')
			name[n - 1] = '\0';
		snprintf(c->cn_req.cr_sni, sizeof c->cn_req.cr_sni, "%s", name);
		if (require && strcmp(name, c->cn_req.cr_target.t_host) != 0)
			end = END_SNI_MISMATCH;
		else if (mode == HG_SNI_DECIDE)
			end = sni_policy(c, name);
	} else if (r == HELLO_NOSNI) {
		if (require && c->cn_req.cr_target.t_kind == HG_HOST_NAME)
			end = END_SNI_MISSING;
	} else if (require && portset_contains(&c->cn_cfg->cf_tls_ports,
	    c->cn_req.cr_target.t_port))
		end = r == HELLO_BAD ? END_BAD_CLIENT_HELLO : END_NOT_TLS;
	else if (mode == HG_SNI_DECIDE && (r == HELLO_BAD || (r == HELLO_MORE &&
	    !c->cn_tun_eof[TUN_UP])) && portset_contains(
	    &c->cn_cfg->cf_tls_ports, c->cn_req.cr_target.t_port))
		/* A ClientHello that cannot be read would hide its name. */
		end = END_BAD_CLIENT_HELLO;
	if (end == END_SNI_DENIED) {
		log_info("%s %s %s:%u: tunnel closed (tls_sni decide): "
		    "sni_denied, sni %s, category %s", c->cn_client,
		    c->cn_req.cr_method, c->cn_req.cr_target.t_host,
		    c->cn_req.cr_target.t_port, c->cn_req.cr_sni,
		    c->cn_req.cr_dec.d_category_name != NULL ?
		    c->cn_req.cr_dec.d_category_name : "-");
	} else if (end != END_NONE) {
		log_info("%s %s %s:%u: tunnel closed (tls_sni %s): %s%s%s",
		    c->cn_client, c->cn_req.cr_method,
		    c->cn_req.cr_target.t_host, c->cn_req.cr_target.t_port,
		    require ? "require" : "decide",
		    dlog_end_name(end), c->cn_req.cr_sni[0] ? ", sni " : "",
		    c->cn_req.cr_sni[0] ? c->cn_req.cr_sni : (why ? why : ""));
	}
	if (end != END_NONE) {
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

/* The 200 of a tunnel, with the acceptor's last Negotiate token (mutual
 * authentication) when the request was authenticated with one. */
static int
tunnel_ok(struct conn *c, struct evbuffer *out)
{
	return (evbuffer_add_printf(out, "HTTP/1.1 200 Connection "
	    "established\r\n%s\r\n", negotiate_reply(c)) < 0 ? -1 : 0);
}

/*
 * The upstream of a CONNECT is connected (upstream.c, or parent.c once a
 * parent proxy said 200; through request.c): answer 200 and move bytes
 * both ways. The raw relay needs both sides plain sockets; a client of a
 * TLS listener, or an https:// parent, takes the bufferevents' relay.
 */
void
tunnel_start(struct conn *c)
{
	struct event_base	*base = c->cn_w->w_base;
	struct evbuffer		*early = bufferevent_get_input(c->cn_cli);
	struct evbuffer		**held;
	size_t			 nearly = evbuffer_get_length(early);
	/* what a parent sent after its 200, before the relay */
	size_t			 nupearly = c->cn_upearly != NULL ?
				    evbuffer_get_length(c->cn_upearly) : 0;
	int			 fd = bufferevent_getfd(c->cn_cli), k, e;

	if (c->cn_tlsb != NULL || c->cn_up != NULL) {
		trelay_start(c);
		return;
	}
	/*
	 * What the tunnel needs is made while the client's socket is still
	 * its bufferevent's, so that a failure can be answered: the events
	 * (the upstream's write event, the connect's, gets the tunnel's
	 * callback), the 200 to write, and what the client sent after its
	 * head (a pipelined ClientHello), which goes first -- held for the
	 * SNI check (tls_sni), or on its way upstream.
	 */
	c->cn_sni_wait = c->cn_cfg->cf_tls_sni != HG_SNI_OFF;
	held = c->cn_sni_wait ? &c->cn_hello : &c->cn_pend[TUN_UP];
	c->cn_ev[0] = event_new(base, fd, EV_READ | EV_PERSIST, tun_read, c);
	c->cn_ev[1] = event_new(base, fd, EV_WRITE | EV_PERSIST, tun_write, c);
	c->cn_ev[2] = event_new(base, c->cn_fd[1], EV_READ | EV_PERSIST,
	    tun_read, c);
	if (c->cn_ev[3] == NULL)	/* a parent's socket: no connect event */
		c->cn_ev[3] = event_new(base, c->cn_fd[1], EV_WRITE |
		    EV_PERSIST, tun_write, c);
	if (c->cn_ev[0] == NULL || c->cn_ev[1] == NULL || c->cn_ev[2] == NULL ||
	    c->cn_ev[3] == NULL ||
	    event_assign(c->cn_ev[3], base, c->cn_fd[1], EV_WRITE | EV_PERSIST,
	    tun_write, c) != 0 ||
	    (c->cn_pend[TUN_DOWN] = evbuffer_new()) == NULL ||
	    tunnel_ok(c, c->cn_pend[TUN_DOWN]) != 0 ||
	    (c->cn_upearly != NULL && evbuffer_add_buffer(c->cn_pend[TUN_DOWN],
	    c->cn_upearly) != 0) ||
	    (nearly > 0 && ((*held = evbuffer_new()) == NULL ||
	    evbuffer_add_buffer(*held, early) != 0))) {
		/* What was made goes with the connection. */
		conn_nomem(c);
		return;
	}
	c->cn_state = CS_RELAY;
	c->cn_req.cr_status = 200;
	c->cn_req.cr_bytes_up += nearly;
	c->cn_req.cr_bytes_down += nupearly;
	/* The sockets now belong to the tunnel, not the bufferevents. */
	c->cn_fd[0] = fd;
	bufferevent_setfd(c->cn_cli, -1);
	bufferevent_free(c->cn_cli);
	c->cn_cli = NULL;
	conn_touch(c);
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
 * The tunnel of a TLS listener, or through an https:// parent. A TLS side
 * cannot take the raw socket path (its bytes are TLS records), so both
 * sides are bufferevents -- a TLS side's the TLS filter, the other's a
 * socket -- and bytes move from one's input to the other's output.
 * Backpressure: reading from a side stops while the other's output is
 * over HG_RELAY_HIGH_WATER and resumes once it is down to
 * HG_RELAY_LOW_WATER (for a TLS side the plaintext waiting for encryption
 * counts, see tlsbev.c). Half-close: one side's EOF (or close_notify)
 * shuts the other's write side once everything is written, with
 * close_notify first when that side is TLS.
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

/* The TLS of the source of d, or NULL. */
static struct tlsbev *
trelay_tls(const struct conn *c, int d)
{
	return (d == TUN_UP ? c->cn_tlsb : c->cn_uptlsb);
}

static void
trelay_enable_read(struct conn *c, int d)
{
	bufferevent_enable(trelay_src(c, d), EV_READ);
	if (trelay_tls(c, d) != NULL)
		tlsbev_kick(trelay_tls(c, d));
}

/* The client's (or the parent's) write side is shut (close_notify is
 * out). */
static void
trelay_down_shut(void *arg)
{
	struct conn	*c = arg;

	c->cn_tun_shut[TUN_DOWN] = 1;
	tun_maybe_done(c);
}

static void
trelay_up_shut(void *arg)
{
	struct conn	*c = arg;

	c->cn_tun_shut[TUN_UP] = 1;
	tun_maybe_done(c);
}

/* The source of d is over and everything of d is written: shut. */
static void
trelay_shut(struct conn *c, int d)
{
	struct tlsbev	*tb = trelay_tls(c, 1 - d);	/* the target's */

	if (tb != NULL) {
		tlsbev_shutdown(tb, d == TUN_DOWN ? trelay_down_shut :
		    trelay_up_shut, c);
		return;
	}
	if (!c->cn_tun_shut[1 - d] && shutdown(bufferevent_getfd(
	    trelay_dst(c, d)), SHUT_WR) == -1 && plat_sock_errno() != ENOTCONN)
		log_debug("%s: shutdown: %s", c->cn_client,
		    plat_strerror(plat_sock_errno()));
	c->cn_tun_shut[d] = 1;
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
	conn_touch(c);
	if (evbuffer_add_buffer(bufferevent_get_output(dst), in) != 0) {
		tunnel_nomem(c);
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

	if (trelay_tls(c, d) != NULL &&
	    tlsbev_error(trelay_tls(c, d), msg, sizeof msg) != NULL) {
		log_info("%s: %sTLS: %s", c->cn_client, d == TUN_UP ? "" :
		    "upstream ", msg);
		conn_close(c, d == TUN_UP ? END_TLS_ERROR : END_UPSTREAM_TLS);
		return;
	}
	if ((what & BEV_EVENT_ERROR) || !(what & BEV_EVENT_EOF)) {
		conn_close(c, tun_end(d, plat_sock_errno()));
		return;
	}
	if (c->cn_tun_eof[d])
		return;
	if (c->cn_req.cr_end == END_NONE)
		c->cn_req.cr_end = d == TUN_UP ? END_CLIENT_CLOSED :
		    END_UPSTREAM_CLOSED;
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
	int			 k;

	if (c->cn_up == NULL) {
		/* The socket of the raw connect becomes a bufferevent. */
		if (c->cn_ev[3] != NULL) {
			event_free(c->cn_ev[3]);
			c->cn_ev[3] = NULL;
		}
		c->cn_up = bufferevent_socket_new(c->cn_w->w_base, c->cn_fd[1],
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->cn_up == NULL) {
			conn_nomem(c);
			return;
		}
		c->cn_fd[1] = -1;
	}
	c->cn_state = CS_RELAY;
	c->cn_req.cr_status = 200;
	c->cn_sni_wait = c->cn_cfg->cf_tls_sni != HG_SNI_OFF;
	bufferevent_set_max_single_read(c->cn_up, HG_RELAY_READ_MAX);
	for (k = 0; k < 2; k++) {
		struct bufferevent *bev = k == 0 ? c->cn_cli : c->cn_up;

		bufferevent_setcb(bev, trelay_read, trelay_write,
		    trelay_event, c);
		bufferevent_setwatermark(bev, EV_READ, 0, 0);
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	}
	conn_touch(c);
	conn_timer_set(c, c->cn_cfg->cf_timeout_idle);
	bufferevent_enable(c->cn_up, EV_READ | EV_WRITE);
	bufferevent_enable(c->cn_cli, EV_WRITE);
	if (tunnel_ok(c, bufferevent_get_output(c->cn_cli)) != 0) {
		conn_nomem(c);
		return;
	}
	/* What the client sent after its head goes first, and what the
	 * parent proxy sent after its 200. */
	if (trelay_move(c, c->cn_cli) != 0 || trelay_move(c, c->cn_up) != 0)
		return;
	if (c->cn_tun_eof[TUN_UP]) {
		if (c->cn_req.cr_end == END_NONE)
			c->cn_req.cr_end = END_CLIENT_CLOSED;
		if (evbuffer_get_length(bufferevent_get_output(c->cn_up)) == 0)
			trelay_shut(c, TUN_UP);
	} else
		trelay_enable_read(c, TUN_UP);
}
