/*
 * worker.c -- worker threads: each has its own event_base, its own evdns
 * base and its own listening sockets (SO_REUSEPORT), so nothing is shared
 * on the data path but the configuration pointer, which a worker checks
 * with one atomic load per accepted connection and takes under a mutex
 * only when a reload has published a new one.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "proxy.h"
#include "plat/plat.h"

#define LISTEN_BACKLOG	1024
#define ACCEPT_PAUSE_MS	100	/* out of descriptors: accepts wait */
#define ACCEPT_REPORT_S	10	/* ... and say so at most this often */

static struct worker	*workers;
static unsigned		 nworkers;
static pthread_mutex_t	 cfg_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct hg_config	*cfg_current;
static unsigned		 cfg_gen;	/* atomic */
static struct event	*ev_main_done;	/* a worker finished */
static unsigned		 nfinished;	/* atomic */
static pthread_mutex_t	 stop_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 stop_cond = PTHREAD_COND_INITIALIZER;
static unsigned		 nstopped;	/* workers no longer accepting */
static uint16_t		 listen_ports[HG_MAX_LISTEN]; /* as bound */
static unsigned		 accept_fails;	/* atomic: since the last report */
static long long	 accept_reported; /* atomic: when (monotonic s) */

/* The port listen address i is bound to (set before workers run). */
static uint16_t
workers_listen_port(size_t i)
{
	return (i < HG_MAX_LISTEN ? listen_ports[i] : 0);
}

static void	worker_accept_resume(evutil_socket_t, short, void *);

/* One of w's connections closed (on w's thread): its descriptors are
 * free, so accepting paused for want of them goes on now. */
static void
worker_slot_freed(struct worker *w)
{
	if (evtimer_pending(w->w_ev_accept, NULL)) {
		event_del(w->w_ev_accept);
		worker_accept_resume(-1, 0, w);
	}
}

unsigned
workers_open_connections(void)
{
	return (conn_count_open());
}

/*
 * Add every worker's counters into sum (a /metrics scrape, from any
 * worker). Returns the connections open now.
 */
unsigned
workers_sum_stats(struct wstats *sum)
{
	unsigned	k;

	for (k = 0; k < nworkers; k++)
		metrics_add(sum, &workers[k].w_stats);
	return (workers_open_connections());
}

/* Add every worker's status store into s, then sort it (a status
 * request, from any worker). */
static void
workers_sum_status(struct status_sum *s)
{
	unsigned	k;

	for (k = 0; k < nworkers; k++)
		status_add(s, workers[k].w_status);
	status_sum_done(s);
	s->ss_workers = nworkers;
}

/* What the connections of a worker ask of the workers. */
static const struct worker_ops worker_ops = {
	.wo_refresh_config = worker_refresh_config,
	.wo_slot_freed = worker_slot_freed,
	.wo_sum_stats = workers_sum_stats,
	.wo_listen_port = workers_listen_port,
	.wo_sum_status = workers_sum_status,
};

/* Publish a new configuration for new connections (main thread). */
void
workers_set_config(struct hg_config *cf, unsigned gen)
{
	struct hg_config	*old;

	pthread_mutex_lock(&cfg_mtx);
	old = cfg_current;
	config_ref(cf);
	cfg_current = cf;
	__atomic_store_n(&cfg_gen, gen, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cfg_mtx);
	if (old != NULL)
		config_unref(old);
}

/* Called by a worker before it uses w_cfg for a new connection. */
void
worker_refresh_config(struct worker *w)
{
	struct hg_config	*old;

	if (__atomic_load_n(&cfg_gen, __ATOMIC_ACQUIRE) == w->w_gen)
		return;
	pthread_mutex_lock(&cfg_mtx);
	old = w->w_cfg;
	w->w_cfg = cfg_current;
	config_ref(w->w_cfg);
	w->w_gen = cfg_gen;
	pthread_mutex_unlock(&cfg_mtx);
	config_unref(old);
}

static void
listener_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct wlistener	*wl = arg;
	struct conn		*c;

	/* A new connection takes the configuration of the last reload. */
	worker_refresh_config(wl->wl_w);
	if ((c = conn_accept(wl->wl_w, fd, NULL, sa)) != NULL)
		request_start(c, wl);
}

/*
 * An accept that failed for want of descriptors or memory, from any
 * worker: one warning per ACCEPT_REPORT_S seconds at most, with the count
 * of the failures since the previous one.
 */
static void
accept_report(int err)
{
	struct timespec	 now;
	long long	 last, secs;
	unsigned	 n;
	const char	*what;

	__atomic_add_fetch(&accept_fails, 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &now);
	last = __atomic_load_n(&accept_reported, __ATOMIC_RELAXED);
	if (last != 0 && now.tv_sec - last < ACCEPT_REPORT_S)
		return;
	secs = (long long)now.tv_sec;
	if (secs == 0)
		secs = 1;
	if (!__atomic_compare_exchange_n(&accept_reported, &last, secs, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;		/* another worker reports */
	n = __atomic_exchange_n(&accept_fails, 0, __ATOMIC_RELAXED);
	what = err == EMFILE || err == ENFILE ? "out of file descriptors" :
	    "out of memory";
	if (last == 0)
		log_warnx("accept: %s (%s); pausing accepts, reported at "
		    "most every %u s", what, plat_strerror(err),
		    ACCEPT_REPORT_S);
	else
		log_warnx("accept: %s (%u time%s in the last %lld s); pausing "
		    "accepts", what, n, n == 1 ? "" : "s", secs - last);
}

/* The pause is over, or a connection closed: accept again (and pause
 * again if no descriptor is free). */
static void
worker_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	size_t		 i;

	for (i = 0; i < w->w_nlisteners; i++)
		evconnlistener_enable(w->w_listeners[i]);
}

static void
listener_error(struct evconnlistener *l, void *arg)
{
	struct wlistener	*wl = arg;
	struct worker		*w = wl->wl_w;
	struct timeval		 tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	size_t			 i;
	int			 err = plat_sock_errno();

	if (err != EMFILE && err != ENFILE && err != ENOBUFS &&
	    err != ENOMEM) {
		log_warnx("accept: %s", plat_strerror(err));
		return;
	}
	/*
	 * The connection stays in the backlog and the listener readable:
	 * accepting again at once would fail again, as fast as the loop
	 * turns. This worker stops accepting for ACCEPT_PAUSE_MS instead,
	 * or until one of its connections closes (worker_release_slot).
	 */
	metrics_accept_paused(&w->w_stats);
	accept_report(err);
	if (evtimer_pending(w->w_ev_accept, NULL))
		return;
	for (i = 0; i < w->w_nlisteners; i++)
		evconnlistener_disable(w->w_listeners[i]);
	evtimer_add(w->w_ev_accept, &tv);
}

/* "a.b.c.d:port" or "[v6]:port" (checked by the loader) with port. */
static int
sockaddr_from_listen(const char *addr, uint16_t port,
    struct sockaddr_storage *ss, int *sslen)
{
	char		 host[64];
	const char	*colon = strrchr(addr, ':');
	size_t		 len;

	if (colon == NULL)
		return (-1);
	len = (size_t)(colon - addr);
	if (addr[0] == '[') {
		addr++;
		len -= 2;
	}
	if (len >= sizeof host)
		return (-1);
	memcpy(host, addr, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host,
	    &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		*sslen = sizeof(struct sockaddr_in);
		return (0);
	}
	if (inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		*sslen = sizeof(struct sockaddr_in6);
		return (0);
	}
	return (-1);
}

/*
 * Open one listening socket for addr. *port is the port to bind; when it
 * is 0 the kernel picks one and *port is set to it, so that the other
 * workers bind the same. Returns the socket or -1.
 */
static evutil_socket_t
listen_socket(const char *addr, uint16_t *port)
{
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof ss, one = 1;
	socklen_t		 len;
	evutil_socket_t		 fd;

	memset(&ss, 0, sizeof ss);
	if (sockaddr_from_listen(addr, *port, &ss, &sslen) != 0) {
		log_warnx("listen: bad address %s", addr);
		return (-1);
	}
	fd = plat_socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd == -1) {
		log_warn("listen %s: socket", addr);
		return (-1);
	}
	/* SO_REUSEADDR where it means "after TIME_WAIT" (not on Windows,
	 * where it would let another program take the port). */
	evutil_make_listen_socket_reuseable(fd);
#if HAVE_DECL_SO_REUSEPORT
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, (void *)&one, sizeof one);
#endif
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (void *)&one,
		    sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		errno = plat_sock_errno();
		log_warn("listen %s", addr);
		evutil_closesocket(fd);
		return (-1);
	}
	len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		*port = ntohs(ss.ss_family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return (fd);
}

static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	size_t		 i;

	w->w_stopping = 1;
	event_del(w->w_ev_accept);
	for (i = 0; i < w->w_nlisteners; i++) {
		evconnlistener_free(w->w_listeners[i]);
		w->w_listeners[i] = NULL;
	}
	w->w_nlisteners = 0;
	pthread_mutex_lock(&stop_mtx);
	nstopped++;
	pthread_cond_broadcast(&stop_cond);
	pthread_mutex_unlock(&stop_mtx);
	fwd_pool_flush(w);
	conn_drain_idle(w);
	if (w->w_nconns == 0)
		event_base_loopexit(w->w_base, NULL);
}

static void
worker_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	w->w_stopping = 1;
	fwd_pool_flush(w);
	conn_shutdown_all(w);
	event_base_loopexit(w->w_base, NULL);
}

static void
worker_dlog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)what;
	dlog_flush(&w->w_dlog);
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	event_base_dispatch(w->w_base);
	/*
	 * Every connection is closed, but a lookup cancelled as its
	 * connection closed answers on a later turn of the loop (when many
	 * are cancelled at once, libevent runs the rest of their callbacks
	 * on the next turn), and until then holds its connection: the loop
	 * that just ended may have cut that turn off. Let the answers come,
	 * then fail whatever the resolver would still have in flight, and
	 * let those answers come too.
	 */
	event_base_loop(w->w_base, EVLOOP_NONBLOCK);
	evdns_base_free(w->w_dns, 1);
	w->w_dns = NULL;
	event_base_loop(w->w_base, EVLOOP_NONBLOCK);
	dlog_flush(&w->w_dlog);
	__atomic_add_fetch(&nfinished, 1, __ATOMIC_ACQ_REL);
	event_active(ev_main_done, 0, 0);
	return (NULL);
}

static int
worker_init(struct worker *w, struct hg_config *cf, uint16_t *ports)
{
	struct event_config	*ecfg;
	const struct hg_listener *li;
	evutil_socket_t	fd;
	size_t		i;

	w->w_ops = &worker_ops;
	w->w_status = status_new();
	w->w_scratch = xmalloc(HG_RELAY_READ_MAX);
	/* The changelist folds the delete-then-add of an fd within one
	 * loop turn into one epoll_ctl (or none). */
	if ((ecfg = event_config_new()) != NULL) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		w->w_base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (w->w_base == NULL)
		w->w_base = event_base_new();
	if (w->w_base == NULL) {
		log_warnx("worker %u: cannot create event base", w->w_id);
		return (-1);
	}
	if ((w->w_dns = dns_base_open(w->w_base, cf)) == NULL)
		return (-1);
	w->w_cfg = cf;
	config_ref(cf);
	w->w_gen = cfg_gen;
	w->w_ev_stop = event_new(w->w_base, -1, 0, worker_stop_cb, w);
	w->w_ev_kill = event_new(w->w_base, -1, 0, worker_kill_cb, w);
	w->w_ev_dlog = event_new(w->w_base, -1, 0, worker_dlog_cb, w);
	w->w_ev_accept = evtimer_new(w->w_base, worker_accept_resume, w);
	if (w->w_ev_stop == NULL || w->w_ev_kill == NULL ||
	    w->w_ev_dlog == NULL || w->w_ev_accept == NULL)
		return (-1);
	for (i = 0; i < cf->cf_nlisteners; i++) {
		li = &cf->cf_listeners[i];
		fd = listen_socket(li->li_addr, &ports[i]);
		if (fd == -1)
			return (-1);
		w->w_lctx[i].wl_w = w;
		w->w_lctx[i].wl_kind = li->li_kind;
		w->w_lctx[i].wl_pp = li->li_pp;
		w->w_lctx[i].wl_tls = li->li_cert != NULL ? (int)i : -1;
		w->w_listeners[i] = evconnlistener_new(w->w_base,
		    listener_accept, &w->w_lctx[i], LEV_OPT_CLOSE_ON_FREE |
		    LEV_OPT_CLOSE_ON_EXEC, 0, fd);
		if (w->w_listeners[i] == NULL) {
			evutil_closesocket(fd);
			return (-1);
		}
		evconnlistener_set_error_cb(w->w_listeners[i], listener_error);
		w->w_nlisteners++;
	}
	return (0);
}

/*
 * The claims this process holds on its listening addresses (one instance
 * per address), and the event of worker 0 that answers a second
 * instance's probes. Kept until the process exits.
 */
static int		 claims[HG_MAX_LISTENERS];
static size_t		 nclaims;
static struct event	*claim_evs[HG_MAX_LISTENERS];

static void
claim_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	plat_claim_drain((int)fd);
}

/*
 * Claim every fixed listening address (port 0 is the kernel's choice and
 * cannot clash). The workers of one process share a port through
 * SO_REUSEPORT, which would let a second hushgate share it silently too,
 * with other rules: refuse that, naming the running instance. Returns 0,
 * or -1 (logged).
 */
static int
claim_addresses(const struct hg_config *cf, const uint16_t *ports)
{
	struct sockaddr_storage	 ss;
	char			 host[INET6_ADDRSTRLEN], name[96];
	const char		*addr;
	long			 holder;
	size_t			 i;
	int			 sslen, fd;

	for (i = 0; i < cf->cf_nlisteners; i++) {
		addr = cf->cf_listeners[i].li_addr;
		if (ports[i] == 0)
			continue;
		/* One spelling per address: [::1] and [0::1] are one. */
		memset(&ss, 0, sizeof ss);
		sslen = sizeof ss;
		if (sockaddr_from_listen(addr, ports[i], &ss, &sslen) != 0 ||
		    evutil_inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
		    (void *)&((struct sockaddr_in *)&ss)->sin_addr :
		    (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
		    host, sizeof host) == NULL)
			continue;	/* listen_socket reports it */
		snprintf(name, sizeof name, "hushgate listen %s %u", host,
		    ports[i]);
		fd = plat_claim(name, &holder);
		if (fd == PLAT_CLAIM_NONE)
			continue;	/* no claim here: bind decides */
		if (fd == PLAT_CLAIM_HELD) {
			if (holder > 0)
				log_warnx("listen %s: already served by another "
				    "hushgate (PID %ld); stop it first, or "
				    "give this one another address", addr,
				    holder);
			else
				log_warnx("listen %s: already served by another "
				    "hushgate; stop it first, or give this one "
				    "another address", addr);
			return (-1);
		}
		if (fd < 0) {
			log_warn("listen %s: cannot claim the address", addr);
			return (-1);
		}
		claims[nclaims++] = fd;
	}
	return (0);
}

/*
 * Free what worker_init made (all or part of it): a worker whose thread
 * has ended, or that never started one.
 */
static void
worker_free(struct worker *w)
{
	size_t	i;

	/* The claims stay until exit; their events go with worker 0's base. */
	for (i = 0; w->w_id == 0 && i < nclaims; i++) {
		if (claim_evs[i] != NULL)
			event_free(claim_evs[i]);
		claim_evs[i] = NULL;
	}
	for (i = 0; i < w->w_nlisteners; i++)
		if (w->w_listeners[i] != NULL)
			evconnlistener_free(w->w_listeners[i]);
	w->w_nlisteners = 0;
	fwd_pool_flush(w);
	if (w->w_ev_stop != NULL)
		event_free(w->w_ev_stop);
	if (w->w_ev_kill != NULL)
		event_free(w->w_ev_kill);
	if (w->w_ev_dlog != NULL)
		event_free(w->w_ev_dlog);
	if (w->w_ev_accept != NULL)
		event_free(w->w_ev_accept);
	if (w->w_dns != NULL)
		evdns_base_free(w->w_dns, 0);
	if (w->w_base != NULL)
		event_base_free(w->w_base);
	config_unref(w->w_cfg);
	free(w->w_scratch);
	auth_state_free(w);
	ldapgroups_state_free(w);
}

/*
 * Start n workers (0: one per CPU) with configuration cf. done is a main
 * loop event made active when a worker ends. Prints one "listening on"
 * line per address once every worker is bound. Returns 0 or -1.
 */
int
workers_start(struct hg_config *cf, unsigned n)
{
	static const char *const serves[] = {
		[HG_LISTEN_PROXY] = "listening",
		[HG_LISTEN_PAC] = "serving the PAC file only",
		[HG_LISTEN_ADMIN] = "serving /metrics only"
	};
	uint16_t	 ports[HG_MAX_LISTENERS];
	size_t		 i;
	unsigned	 k;

	if (n == 0) {
		n = plat_ncpu();
		if (n > HG_MAX_WORKERS)
			n = HG_MAX_WORKERS;
	}
	memset(ports, 0, sizeof ports);
	for (i = 0; i < cf->cf_nlisteners; i++)
		ports[i] = (uint16_t)strtonum(strrchr(cf->cf_listeners[i].li_addr,
		    ':') + 1, 0, 65535, NULL);
#if !HAVE_DECL_SO_REUSEPORT
	/* One listening socket per address: one worker takes them all. */
	if (n != 1)
		log_info("workers: 1 (this system has no SO_REUSEPORT)");
	n = 1;
#endif
	if (nclaims == 0 && claim_addresses(cf, ports) != 0)
		return (-1);
	workers_set_config(cf, 1);
	workers = xcalloc(n, sizeof *workers);
	nworkers = n;
	for (k = 0; k < n; k++) {
		workers[k].w_id = k;
		if (worker_init(&workers[k], cf, ports) != 0)
			return (-1);
	}
	for (i = 0; i < nclaims; i++) {
		claim_evs[i] = event_new(workers[0].w_base, claims[i],
		    EV_READ | EV_PERSIST, claim_drain_cb, NULL);
		if (claim_evs[i] == NULL || event_add(claim_evs[i], NULL) != 0)
			return (-1);
	}
	memcpy(listen_ports, ports, sizeof listen_ports);
	for (i = 0; i < cf->cf_nlisteners; i++) {
		char		 host[64];
		const char	*l = cf->cf_listeners[i].li_addr;
		const char	*colon = strrchr(l, ':');

		snprintf(host, sizeof host, "%.*s", (int)(colon - l), l);
		log_info("%s on %s:%u", serves[cf->cf_listeners[i].li_kind],
		    host, ports[i]);
	}
	/* Signals are the main thread's business. */
	plat_thread_signals(0);
	for (k = 0; k < n; k++) {
		if (pthread_create(&workers[k].w_thread, NULL, worker_main,
		    &workers[k]) != 0)
			fatalx("cannot start worker thread");
	}
	plat_thread_signals(1);
	log_info("%u worker%s started", n, n == 1 ? "" : "s");
	return (0);
}

/* Set the event that a finishing worker activates in the main loop. */
void
workers_set_done_event(struct event *ev)
{
	ev_main_done = ev;
}

unsigned
workers_finished(void)
{
	return (__atomic_load_n(&nfinished, __ATOMIC_ACQUIRE));
}

unsigned
workers_count(void)
{
	return (nworkers);
}

/*
 * Stop accepting; workers exit once their connections are closed. Returns
 * when every worker has closed its listening sockets (or after a bound),
 * so that what the caller reports next is true: no new connection.
 */
void
workers_stop(void)
{
	struct timespec	deadline;
	unsigned	k;

	for (k = 0; k < nworkers; k++)
		event_active(workers[k].w_ev_stop, 0, 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&stop_mtx);
	while (nstopped < nworkers &&
	    pthread_cond_timedwait(&stop_cond, &stop_mtx, &deadline) == 0)
		;
	pthread_mutex_unlock(&stop_mtx);
}

/* Drain time is over: close everything. */
void
workers_kill(void)
{
	unsigned	k;

	for (k = 0; k < nworkers; k++)
		event_active(workers[k].w_ev_kill, 0, 0);
}

void
workers_join(void)
{
	unsigned	k;
	struct worker	*w;

	for (k = 0; k < nworkers; k++) {
		w = &workers[k];
		pthread_join(w->w_thread, NULL);
		worker_free(w);
	}
	/* A status request of a worker still running reads them all. */
	for (k = 0; k < nworkers; k++)
		status_free(workers[k].w_status);
	free(workers);
	workers = NULL;
	nworkers = 0;
	pthread_mutex_lock(&cfg_mtx);
	config_unref(cfg_current);
	cfg_current = NULL;
	pthread_mutex_unlock(&cfg_mtx);
}
