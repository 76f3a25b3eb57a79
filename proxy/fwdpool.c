/*
 * fwdpool.c -- the idle upstream connections of plain HTTP, kept per
 * worker for reuse (HG_POOL_MAX of them, each HG_POOL_IDLE_MS at most): a
 * connection to an origin serves the next request to the same host and
 * port; one to a parent proxy the next request routed through that
 * parent, whatever its host (the parent's TLS, for an https:// one, goes
 * with it). An idle connection that speaks or closes is dropped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"

struct pooled {
	struct pooled		*po_next;
	struct pooled		*po_prev;
	struct worker		*po_w;
	struct bufferevent	*po_bev;
	struct tlsbev		*po_tlsb;	/* po_bev's TLS, if any */
	struct event		*po_timer;
	char			 po_key[HG_MAX_HOST + 3 * 64];
	char			 po_upstream[56];
};

static void
pool_remove(struct pooled *po)
{
	struct worker	*w = po->po_w;

	if (po->po_prev != NULL)
		po->po_prev->po_next = po->po_next;
	else
		w->w_pool = po->po_next;
	if (po->po_next != NULL)
		po->po_next->po_prev = po->po_prev;
	w->w_npool--;
}

static void
pool_free(struct pooled *po)
{
	pool_remove(po);
	bufferevent_free(po->po_bev);
	event_free(po->po_timer);
	free(po);
}

/* An idle upstream spoke or closed: it cannot be reused. */
static void
pool_read(struct bufferevent *bev, void *arg)
{
	pool_free(arg);
}

static void
pool_event(struct bufferevent *bev, short what, void *arg)
{
	pool_free(arg);
}

static void
pool_timer(evutil_socket_t fd, short what, void *arg)
{
	pool_free(arg);
}

/*
 * The key of the upstream of c's request: "host:port" of an origin; for
 * a parent "@name|url", and the TLS configuration it was verified with
 * (a reload that changes ca: makes new connections).
 */
static void
pool_key(const struct conn *c, char *key, size_t n)
{
	const struct hg_upstream	*up = c->cn_req.cr_via;

	if (up != NULL)
		snprintf(key, n, "@%s|%s|%p", up->up_name, up->up_url,
		    (void *)up->up_tlsc);
	else
		snprintf(key, n, "%s:%u", c->cn_req.cr_target.t_host,
		    c->cn_req.cr_target.t_port);
}

/* Keep the upstream of c for reuse. */
void
fwdpool_put(struct conn *c)
{
	struct worker	*w = c->cn_w;
	struct pooled	*po, *last;
	struct timeval	 tv = { HG_POOL_IDLE_MS / 1000,
	    (HG_POOL_IDLE_MS % 1000) * 1000 };

	if (w->w_stopping || (po = calloc(1, sizeof *po)) == NULL) {
		bufferevent_free(c->cn_up);
		c->cn_up = NULL;
		c->cn_uptlsb = NULL;
		return;
	}
	if (w->w_npool >= HG_POOL_MAX) {
		/* Evict the oldest. */
		for (last = w->w_pool; last->po_next != NULL;
		    last = last->po_next)
			;
		pool_free(last);
	}
	po->po_w = w;
	po->po_bev = c->cn_up;
	po->po_tlsb = c->cn_uptlsb;
	c->cn_up = NULL;
	c->cn_uptlsb = NULL;
	pool_key(c, po->po_key, sizeof po->po_key);
	snprintf(po->po_upstream, sizeof po->po_upstream, "%s",
	    c->cn_req.cr_upstream);
	po->po_timer = evtimer_new(w->w_base, pool_timer, po);
	if (po->po_timer == NULL) {
		bufferevent_free(po->po_bev);
		free(po);
		return;
	}
	bufferevent_setwatermark(po->po_bev, EV_WRITE, 0, 0);
	bufferevent_setcb(po->po_bev, pool_read, NULL, pool_event, po);
	bufferevent_enable(po->po_bev, EV_READ);
	evtimer_add(po->po_timer, &tv);
	po->po_next = w->w_pool;
	if (w->w_pool != NULL)
		w->w_pool->po_prev = po;
	w->w_pool = po;
	w->w_npool++;
}

/* Take an idle upstream for c's request; 0 when there is one. */
int
fwdpool_take(struct conn *c)
{
	struct conn_req	*cr = &c->cn_req;
	struct pooled	*po;
	char		 key[sizeof po->po_key];

	pool_key(c, key, sizeof key);
	for (po = c->cn_w->w_pool; po != NULL; po = po->po_next) {
		if (strcmp(po->po_key, key) != 0)
			continue;
		pool_remove(po);
		c->cn_up = po->po_bev;
		c->cn_uptlsb = po->po_tlsb;
		snprintf(cr->cr_upstream, sizeof cr->cr_upstream, "%s",
		    po->po_upstream);
		event_free(po->po_timer);
		free(po);
		cr->cr_up_pooled = 1;
		return (0);
	}
	return (-1);
}

void
fwd_pool_flush(struct worker *w)
{
	while (w->w_pool != NULL)
		pool_free(w->w_pool);
}
