/*
 * upstream.c -- the upstream of a request's route entry (parent.c): the
 * request's own destination, or a parent proxy. Its name is resolved
 * (evdns, on the worker's base; timeouts.connect), each address checked
 * by the destination guard (a destination's: a parent's address is the
 * administrator's choice, private or loopback alike) and tried in turn
 * until one connects (timeouts.connect). A CONNECT to its destination
 * connects a plain socket, for the tunnel's raw relay; plain HTTP, and a
 * parent, a bufferevent. Success goes on in the kind of request
 * (co_upstream_ready of the connection's conn_ops), failure (403 from
 * the guard, 502, 504) to co_upstream_failed, which tries the route's
 * next entry or answers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conn.h"
#include "plat/plat.h"

static void	connect_next(struct conn *);
static void	connect_write(evutil_socket_t, short, void *);

/* Where c connects: its destination, or the parent of its route entry. */
static const struct hg_target *
dest(const struct conn *c)
{
	return (c->cn_req.cr_via != NULL ? &c->cn_req.cr_via->up_addr :
	    &c->cn_req.cr_target);
}

/* The upstream cannot be reached: the route's next entry, or an answer. */
static void
failed(struct conn *c, int status, const char *why, enum conn_end end)
{
	c->cn_ops->co_upstream_failed(c, status, why, end);
}

/* Remember the address of the origin being connected to (a parent goes
 * by its name). */
static void
set_upstream_name(struct conn *c, const struct sockaddr *sa)
{
	const uint8_t	*addr;
	uint16_t	 port;
	int		 family;

	if (c->cn_req.cr_via != NULL)
		return;
	if ((family = conn_sockaddr(sa, &addr, &port)) != 0)
		conn_addr_text(family, addr, port, c->cn_req.cr_upstream,
		    sizeof c->cn_req.cr_upstream);
}

/* The connect of a plain HTTP upstream (a bufferevent) is done, or not. */
static void
upstream_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->cn_ai != NULL) {
			evutil_freeaddrinfo(c->cn_ai);
			c->cn_ai = c->cn_ai_next = NULL;
		}
		c->cn_ops->co_upstream_ready(c);
		return;
	}
	/* Connect failed: try the next address. */
	if (c->cn_req.cr_via == NULL)
		c->cn_req.cr_upstream[0] = '\0';
	c->cn_connect_errno = plat_sock_errno();
	bufferevent_free(c->cn_up);
	c->cn_up = NULL;
	connect_next(c);
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

	if ((family = conn_sockaddr(sa, &addr, NULL)) == 0)
		return (0);
	if (c->cn_req.cr_via != NULL)
		return (1);	/* a parent: the administrator's choice */
	if (config_destination_allowed(c->cn_cfg, family, addr, &class))
		return (1);
	if (c->cn_guarded[0] == '\0') {
		conn_addr_text(family, addr, -1, txt, sizeof txt);
		snprintf(c->cn_guarded, sizeof c->cn_guarded, "%s (%s)", txt,
		    addrclass_name(class));
	}
	return (0);
}

/*
 * CONNECT: a plain non-blocking connect. Its write event, made persistent,
 * says when the connect is done (connect_write()), and is the tunnel's
 * upstream write event later (tunnel.c gives it its own callback).
 */
static int
raw_connect(struct conn *c, const struct evutil_addrinfo *ai)
{
	int	fd, e;

	fd = plat_socket(ai->ai_family, SOCK_STREAM, IPPROTO_TCP);
	if (fd == -1)
		return (-1);
	plat_nodelay(fd);
	if (plat_connect(fd, ai->ai_addr, (socklen_t)ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		e = errno;
		plat_closesocket(fd);
		errno = e;
		return (-1);
	}
	c->cn_fd[1] = fd;
	c->cn_ev[3] = event_new(c->cn_w->w_base, fd, EV_WRITE | EV_PERSIST,
	    connect_write, c);
	if (c->cn_ev[3] == NULL || event_add(c->cn_ev[3], NULL) != 0) {
		conn_upstream_drop(c);
		errno = ENOMEM;
		return (-1);
	}
	return (0);
}

/* The upstream socket of a CONNECT became writable: connected, or not. */
static void
connect_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	int		 err;

	err = plat_sock_error(c->cn_fd[1]);
	if (err == EINPROGRESS || err == EINTR)
		return;
	if (err != 0) {
		if (c->cn_req.cr_via == NULL)
			c->cn_req.cr_upstream[0] = '\0';
		c->cn_connect_errno = err;
		conn_upstream_drop(c);
		connect_next(c);
		return;
	}
	event_del(c->cn_ev[3]);
	if (c->cn_ai != NULL) {
		evutil_freeaddrinfo(c->cn_ai);
		c->cn_ai = c->cn_ai_next = NULL;
	}
	c->cn_ops->co_upstream_ready(c);
}

/*
 * Connect to the next address of cn_ai that the guard lets through; fail
 * with 403 (all refused by the guard) or 502 when none is left.
 */
static void
connect_next(struct conn *c)
{
	const struct hg_target	*d = dest(c);
	struct evutil_addrinfo	*ai;
	char			 why[512];
	int			 raw;

	raw = c->cn_req.cr_kind == CK_CONNECT && c->cn_req.cr_via == NULL;
	while ((ai = c->cn_ai_next) != NULL) {
		c->cn_ai_next = ai->ai_next;
		if (!destination_ok(c, ai->ai_addr))
			continue;
		if (raw) {
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
		    (int)ai->ai_addrlen) == 0) {
			plat_nodelay(bufferevent_getfd(c->cn_up));
			return;
		}
		c->cn_connect_errno = plat_sock_errno();
		if (c->cn_req.cr_via == NULL)
			c->cn_req.cr_upstream[0] = '\0';
		bufferevent_free(c->cn_up);
		c->cn_up = NULL;
	}
	if (c->cn_guarded[0] != '\0' && c->cn_connect_errno == 0) {
		snprintf(why, sizeof why, "%s:%u resolves to %s, which the "
		    "destination guard refuses", d->t_host, d->t_port,
		    c->cn_guarded);
		failed(c, 403, why, END_DESTINATION_GUARD);
		return;
	}
	snprintf(why, sizeof why, "cannot connect to %s:%u: %s", d->t_host,
	    d->t_port, c->cn_connect_errno ?
	    plat_strerror(c->cn_connect_errno) : "no address");
	failed(c, 502, why, END_CONNECT_FAILED);
}

/* The addresses are known (cn_ai): connect (timeouts.connect). */
static void
connect_start(struct conn *c)
{
	c->cn_state = CS_CONNECT;
	c->cn_ai_next = c->cn_ai;
	c->cn_connect_errno = 0;
	c->cn_guarded[0] = '\0';
	conn_timer_set(c, c->cn_cfg->cf_timeout_connect);
	connect_next(c);
}

/*
 * The lookup of the target returned, or was cancelled: connect, or
 * answer. A connection closed meanwhile waited for this to be freed.
 */
static void
dns_done(int result, struct evutil_addrinfo *res, void *arg)
{
	struct conn	*c = arg;
	struct timespec	 now;
	char		 why[512];

	c->cn_dnsreq = NULL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_dns(&c->cn_w->w_stats, (uint64_t)((now.tv_sec -
	    c->cn_dns_start.tv_sec) * 1000000 + (now.tv_nsec -
	    c->cn_dns_start.tv_nsec) / 1000));
	if (c->cn_state == CS_CLOSED) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		conn_free(c);
		return;
	}
	if (result == EVUTIL_EAI_CANCEL) {
		if (c->cn_dns_cancel == DNS_CANCEL_TIMEOUT) {
			snprintf(why, sizeof why, "cannot resolve %s: timed "
			    "out", dest(c)->t_host);
			failed(c, 504, c->cn_req.cr_via != NULL ? why :
			    "name resolution timed out", END_RESOLVE_TIMEOUT);
		} else {
			snprintf(why, sizeof why, "cannot resolve %s: name "
			    "not found", dest(c)->t_host);
			failed(c, 502, why, END_RESOLVE_FAILED);
		}
		return;
	}
	if (result != 0) {
		snprintf(why, sizeof why, "cannot resolve %s: %s",
		    dest(c)->t_host, evutil_gai_strerror(result));
		if (result == EVUTIL_EAI_AGAIN)
			failed(c, 504, why, END_RESOLVE_TIMEOUT);
		else
			failed(c, 502, why, END_RESOLVE_FAILED);
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

/*
 * Find and connect to the upstream of c's route entry (its target,
 * allowed, or a parent proxy): resolve a name (timeouts.connect), then
 * try each address the guard lets through. The kind of request goes on in
 * the co_upstream_ready of its conn_ops, or co_upstream_failed has the
 * failure (403, 502 or 504).
 */
void
upstream_resolve(struct conn *c)
{
	struct evdns_getaddrinfo_request	*req;
	const struct hg_target			*d = dest(c);

	c->cn_dns_cancel = DNS_CANCEL_NONE;
	if (d->t_kind != HG_HOST_NAME) {
		if ((c->cn_ai = literal_addrinfo(d)) == NULL) {
			failed(c, 502, "bad address", END_CONNECT_FAILED);
			return;
		}
		connect_start(c);
		return;
	}
	c->cn_state = CS_RESOLVE;
	conn_timer_set(c, c->cn_cfg->cf_timeout_connect);
	clock_gettime(CLOCK_MONOTONIC, &c->cn_dns_start);
	/* The callback may run before this returns (hosts file hit). */
	req = dns_resolve(c->cn_w->w_dns, d->t_host, d->t_port, dns_done, c);
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

/* The timer in CS_RESOLVE and CS_CONNECT (timeouts.connect). */
void
upstream_timeout(struct conn *c)
{
	const struct hg_target	*d = dest(c);
	char			 why[HG_MAX_HOST + 64];

	if (c->cn_state == CS_RESOLVE) {
		/* dns_done() answers when the lookup returns. */
		if (c->cn_dnsreq != NULL &&
		    c->cn_dns_cancel == DNS_CANCEL_NONE) {
			c->cn_dns_cancel = DNS_CANCEL_TIMEOUT;
			evdns_getaddrinfo_cancel(c->cn_dnsreq);
		}
		return;
	}
	if (c->cn_req.cr_via == NULL) {
		failed(c, 504, "upstream connect timeout",
		    END_CONNECT_TIMEOUT);
		return;
	}
	snprintf(why, sizeof why, "cannot connect to %s:%u: timed out",
	    d->t_host, d->t_port);
	failed(c, 504, why, END_CONNECT_TIMEOUT);
}
