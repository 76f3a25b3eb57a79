/*
 * daemon.c -- the running proxy's main thread: the configuration's start
 * and reload, signals (SIGHUP reload, SIGTERM/SIGINT drain, SIGUSR1
 * reopen logs), list downloads and the lifetime of the workers.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "proxy.h"
#include "certs/certs.h"
#include "download/download.h"

struct mainctx {
	struct event_base	*mc_base;
	const char		*mc_file;
	struct hg_config	*mc_cfg;	/* the running configuration */
	struct hg_config	*mc_boot;	/* what listen/workers run */
	unsigned		 mc_gen;
	int			 mc_debug;
	int			 mc_stopping;
	struct event		*mc_ev_drain;
	struct evdns_base	*mc_dns;	/* for list downloads */
	struct refresher	*mc_rf;		/* url: lists */
	struct event		*mc_ev_lists;	/* a list changed: reload */
	struct control		*mc_ctl;	/* the control socket */
	time_t			 mc_loaded;	/* when mc_cfg was (wall clock) */
	struct timespec		 mc_started;	/* monotonic */
};
/*
 * The configuration with the credentials of its TLS listeners, of
 * auth.negotiate (its keytab) and the TLS configurations of its https://
 * parents loaded, for -t, the start and a reload alike: errors go to errs,
 * warnings
 * (certificate expiry) to warns. NULL when either fails.
 */
struct hg_config *
daemon_load(const char *file, struct hg_errors *errs, struct hg_errors *warns)
{
	struct hg_config	*cf;

	if ((cf = config_load(file, errs)) == NULL)
		return (NULL);
	if (tls_server_attach(cf, errs, warns) != 0 ||
	    negotiate_attach(cf, errs) != 0 ||
	    tls_upstream_attach(cf, errs) != 0) {
		config_unref(cf);
		return (NULL);
	}
	return (cf);
}

/* Build the PAC file the daemon serves (main thread, load and reload). */
static void
pac_prepare(struct hg_config *cf)
{
	cf->cf_pac = pac_build(cf, cf->cf_pac_mode, cf->cf_pac_fallback);
	if (cf->cf_pac->pc_bodylen > HG_PAC_SIZE_WARN)
		log_warnx("pac: the served PAC file is %zu bytes, over what "
		    "browsers and WinHTTP accept (1 MB); use pac.mode all",
		    cf->cf_pac->pc_bodylen);
}

/* What a loaded configuration needs before workers run it: the PAC file,
 * the metrics' category names, the directory's settings and the state of
 * its parent proxies (the start and every reload). */
static void
daemon_prepare(struct hg_config *cf)
{
	pac_prepare(cf);
	metrics_bind(cf);
	ldapgroups_configure(cf);
	upstate_bind(cf);
}

static void
apply_log_level(struct mainctx *mc, const struct hg_config *cf)
{
	log_set_level(mc->mc_debug ? LOG_LVL_DEBUG : cf->cf_log_level);
	event_enable_debug_logging(mc->mc_debug ? EVENT_DBG_ALL :
	    EVENT_DBG_NONE);
}

/* A setting the reload cannot apply (config_restart_changes). */
static void
reload_restart_warn(const char *msg, void *arg)
{
	log_warnx("reload: %s", msg);
}

/* Do the decision log outputs of cf differ from those of running? */
static int
decisions_changed(const struct hg_config *cf, const struct hg_config *running)
{
	size_t	i;

	if (cf->cf_nlogouts != running->cf_nlogouts)
		return (1);
	for (i = 0; i < cf->cf_nlogouts; i++)
		if (strcmp(cf->cf_logouts[i].lo_to,
		    running->cf_logouts[i].lo_to) != 0 ||
		    cf->cf_logouts[i].lo_format !=
		    running->cf_logouts[i].lo_format)
			return (1);
	return (0);
}

/* A reload that did not take: say why, keep the running rules. */
static int
reload_failed(struct mainctx *mc, const struct hg_errors *errs)
{
	size_t	i;

	metrics_reload(0);
	log_warnx("reload: failed, keeping generation %u", mc->mc_gen);
	for (i = 0; i < errs->er_count; i++)
		log_warnx("%s", errs->er_msgs[i]);
	service_notify("READY=1\nSTATUS=reload failed, running rules kept");
	return (-1);
}

/*
 * Load the configuration again and run it (SIGHUP, a list that changed,
 * `hushgate ctl reload`). Returns the new generation, or -1 with why in
 * errs (logged too); the running rules then stay.
 */
static int
daemon_reload(struct mainctx *mc, struct hg_errors *errs)
{
	struct hg_errors	 warns;
	struct hg_config	*cf;
	char			*cause;
	size_t			 i;

	if (mc->mc_stopping) {
		errors_add_msg(errs, "the proxy is shutting down");
		return (-1);
	}
	service_notify("RELOADING=1");
	errors_init(&warns);
	cf = daemon_load(mc->mc_file, errs, &warns);
	if (cf == NULL) {
		errors_free(&warns);
		return (reload_failed(mc, errs));
	}
	/* A decision log output that cannot be opened fails the reload
	 * like a bad file: the running rules, and the outputs they write
	 * to, are kept. */
	if (decisions_changed(cf, mc->mc_cfg) &&
	    dlog_open(cf->cf_logouts, cf->cf_nlogouts, &cause) != 0) {
		log_warnx("reload: %s", cause);
		errors_free(&warns);
		config_unref(cf);
		reload_failed(mc, errs);
		errors_add_msg(errs, cause);
		free(cause);
		return (-1);
	}
	for (i = 0; i < warns.er_count; i++)
		errors_add_msg(&cf->cf_warnings, warns.er_msgs[i]);
	errors_free(&warns);
	daemon_prepare(cf);
	for (i = 0; i < cf->cf_warnings.er_count; i++)
		log_warnx("%s", cf->cf_warnings.er_msgs[i]);
	/* The workers, listeners and resolvers run what they started with. */
	config_restart_changes(mc->mc_boot, cf, reload_restart_warn, NULL);
	apply_log_level(mc, cf);
	config_unref(mc->mc_cfg);
	mc->mc_cfg = cf;
	mc->mc_loaded = time(NULL);
	workers_set_config(cf, ++mc->mc_gen);
	status_publish(cf, mc->mc_gen, mc->mc_loaded);
	if (mc->mc_rf != NULL)
		refresh_sync(mc->mc_rf, cf);
	metrics_reload(1);
	log_info("reload: ok (generation %u)", mc->mc_gen);
	service_notify("READY=1\nSTATUS=reloaded");
	return ((int)mc->mc_gen);
}

/* SIGHUP: the reload, its errors logged. */
static void
on_reload(evutil_socket_t sig, short what, void *arg)
{
	struct mainctx		*mc = arg;
	struct hg_errors	 errs;

	if (mc->mc_stopping)
		return;
	errors_init(&errs);
	daemon_reload(mc, &errs);
	errors_free(&errs);
}

/* A list changed in the cache: the same reload as SIGHUP (several lists
 * changing together make one). */
static void
on_lists_changed(evutil_socket_t fd, short what, void *arg)
{
	struct mainctx	*mc = arg;

	if (mc->mc_stopping)
		return;
	log_info("lists: changed, reloading");
	on_reload(-1, 0, mc);
}

static void
lists_changed(void *arg)
{
	struct mainctx	*mc = arg;

	event_active(mc->mc_ev_lists, EV_TIMEOUT, 0);
}

/* Downloads of the url: lists in the background, on the main thread. */
static void
lists_start(struct mainctx *mc)
{
	size_t	i;

	for (i = 0; i < mc->mc_cfg->cf_nsources; i++)
		if (mc->mc_cfg->cf_sources[i].ls_entries < 0)
			log_warnx("lists: %s: never downloaded, treated as "
			    "empty until the first download",
			    mc->mc_cfg->cf_sources[i].ls_url);
	mc->mc_ev_lists = event_new(mc->mc_base, -1, 0, on_lists_changed, mc);
	if ((mc->mc_dns = dns_base_open(mc->mc_base, mc->mc_boot)) == NULL) {
		log_warnx("lists: no resolver: lists are not downloaded");
		return;
	}
	mc->mc_rf = refresh_new(mc->mc_base, mc->mc_dns, lists_changed, mc);
	refresh_on_result(mc->mc_rf, status_list_result, NULL);
	refresh_sync(mc->mc_rf, mc->mc_cfg);
}

static void
lists_stop(struct mainctx *mc)
{
	refresh_free(mc->mc_rf);
	mc->mc_rf = NULL;
}

#ifndef _WIN32
static int
ctl_reload(void *arg, struct hg_errors *errs)
{
	return (daemon_reload(arg, errs));
}

static int
ctl_lists_update(void *arg, char *why, size_t len)
{
	struct mainctx	*mc = arg;

	if (mc->mc_cfg->cf_nsources == 0) {
		snprintf(why, len, "the configuration has no url: lists");
		return (-1);
	}
	if (mc->mc_stopping || mc->mc_rf == NULL) {
		snprintf(why, len, "%s", mc->mc_stopping ? "the proxy is "
		    "shutting down" : "no resolver: lists are not downloaded");
		return (-1);
	}
	log_info("lists: downloading every url: list now");
	return (refresh_now(mc->mc_rf));
}

static void
ctl_state(void *arg, struct control_state *st)
{
	struct mainctx	*mc = arg;
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	st->cs_file = mc->mc_file;
	st->cs_cfg = mc->mc_cfg;
	st->cs_gen = mc->mc_gen;
	st->cs_loaded = mc->mc_loaded;
	st->cs_uptime = (uint64_t)(now.tv_sec - mc->mc_started.tv_sec);
	st->cs_rf = mc->mc_rf;
}

/* What the control socket asks of the daemon. */
static const struct control_ops control_ops = {
	.co_reload = ctl_reload,
	.co_lists_update = ctl_lists_update,
	.co_state = ctl_state,
};
#endif

/* The control socket, if the configuration has one (not on Windows,
 * whose service takes its requests). */
static int
control_start(struct mainctx *mc)
{
#ifndef _WIN32
	return (control_open(mc->mc_base, mc->mc_cfg, &control_ops, mc,
	    &mc->mc_ctl));
#else
	return (0);
#endif
}

#ifdef SIGUSR1
static void
on_reopen(evutil_socket_t sig, short what, void *arg)
{
	char	*cause;

	if (dlog_reopen(&cause) == 0)
		log_info("decision log reopened");
	else {
		log_warnx("reopen: %s; writing on to the old file", cause);
		free(cause);
	}
}
#endif

static void
on_drain_over(evutil_socket_t fd, short what, void *arg)
{
	log_info("drain time over: closing %u connections",
	    workers_open_connections());
	workers_kill();
}

static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct mainctx	*mc = arg;
	struct timeval	 tv;
	unsigned	 ms = mc->mc_cfg->cf_timeout_drain;

	if (mc->mc_stopping) {
		log_info("second signal: closing now");
		workers_kill();
		return;
	}
	mc->mc_stopping = 1;
	service_notify("STOPPING=1");
	lists_stop(mc);
	workers_stop();
	log_info("shutting down: %u connections open, draining up to %us",
	    workers_open_connections(), (ms + 999) / 1000);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	mc->mc_ev_drain = evtimer_new(mc->mc_base, on_drain_over, mc);
	evtimer_add(mc->mc_ev_drain, &tv);
}

static void
on_worker_done(evutil_socket_t fd, short what, void *arg)
{
	struct mainctx	*mc = arg;

	if (workers_finished() == workers_count())
		event_base_loopexit(mc->mc_base, NULL);
}

/*
 * Stop and reload asked for from another thread (the Windows service's
 * control handler): the same as SIGTERM and SIGHUP, run on the main loop.
 * A request made before the loop exists is kept until it does.
 */
static pthread_mutex_t	 req_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct event	*req_ev;
static int		 req_pending;
#define REQ_STOP	0x1
#define REQ_RELOAD	0x2

static void
on_request(evutil_socket_t fd, short what, void *arg)
{
	int	 req;

	pthread_mutex_lock(&req_mtx);
	req = req_pending;
	req_pending = 0;
	pthread_mutex_unlock(&req_mtx);
	if (req & REQ_RELOAD)
		on_reload(-1, 0, arg);
	if (req & REQ_STOP)
		on_stop(-1, 0, arg);
}

static void
request(int what)
{
	pthread_mutex_lock(&req_mtx);
	req_pending |= what;
	if (req_ev != NULL)
		event_active(req_ev, 0, 0);
	pthread_mutex_unlock(&req_mtx);
}

void
proxy_request_stop(void)
{
	request(REQ_STOP);
}

void
proxy_request_reload(void)
{
	request(REQ_RELOAD);
}

/* Windows has SIGINT and SIGTERM only; its service reloads through
 * proxy_request_reload(). */
static const struct {
	int		 sig;
	event_callback_fn fn;
} sigs[] = {
	{ SIGTERM, on_stop },
	{ SIGINT, on_stop },
#ifdef SIGHUP
	{ SIGHUP, on_reload },
#endif
#ifdef SIGUSR1
	{ SIGUSR1, on_reopen },
#endif
};
#define NSIGS	(sizeof sigs / sizeof sigs[0])

/* The signals read from plat_signal_fd()'s descriptor, in order. */
static void
on_signal_fd(evutil_socket_t fd, short what, void *arg)
{
	size_t	i;
	int	sig;

	while ((sig = plat_signal_next(fd)) != 0)
		for (i = 0; i < NSIGS; i++)
			if (sigs[i].sig == sig)
				sigs[i].fn(sig, EV_SIGNAL, arg);
}

int
proxy_serve(const char *file, int debug)
{
	struct mainctx	 mc;
	struct event	*ev_sig[NSIGS], *ev_done;
	int		 sfd;
	struct hg_errors errs, warns;
	char		*cause;
	size_t		 i;
	int		 rc = 0;

	/* First, before any thread starts: every thread inherits the mask. */
	sfd = plat_signal_fd();
	memset(&mc, 0, sizeof mc);
	mc.mc_file = file;
	mc.mc_debug = debug;
	if (plat_event_threads() != 0)
		fatalx("libevent: no thread support");
	event_set_log_callback(log_libevent);
	errors_init(&errs);
	errors_init(&warns);
	mc.mc_cfg = daemon_load(file, &errs, &warns);
	for (i = 0; i < warns.er_count; i++)
		log_warnx("%s", warns.er_msgs[i]);
	errors_free(&warns);
	if (mc.mc_cfg == NULL) {
		errors_print(&errs, stderr);
		errors_free(&errs);
		if (sfd != -1)
			evutil_closesocket(sfd);
		return (1);
	}
	errors_free(&errs);
	daemon_prepare(mc.mc_cfg);
	mc.mc_boot = mc.mc_cfg;
	config_ref(mc.mc_boot);
	apply_log_level(&mc, mc.mc_cfg);
	if (dlog_open(mc.mc_cfg->cf_logouts, mc.mc_cfg->cf_nlogouts,
	    &cause) != 0) {
		log_warnx("%s", cause);
		free(cause);
		if (sfd != -1)
			evutil_closesocket(sfd);
		return (1);
	}
	mc.mc_base = event_base_new();
	if (mc.mc_base == NULL)
		fatalx("cannot create event base");
	memset(ev_sig, 0, sizeof ev_sig);
	if (sfd != -1) {
		ev_sig[0] = event_new(mc.mc_base, sfd, EV_READ | EV_PERSIST,
		    on_signal_fd, &mc);
		if (ev_sig[0] == NULL || event_add(ev_sig[0], NULL) != 0)
			fatalx("cannot watch signals");
	} else
		for (i = 0; i < NSIGS; i++) {
			ev_sig[i] = evsignal_new(mc.mc_base, sigs[i].sig,
			    sigs[i].fn, &mc);
			if (ev_sig[i] == NULL ||
			    evsignal_add(ev_sig[i], NULL) != 0)
				fatalx("cannot watch signal %d", sigs[i].sig);
		}
	ev_done = event_new(mc.mc_base, -1, 0, on_worker_done, &mc);
	pthread_mutex_lock(&req_mtx);
	req_ev = event_new(mc.mc_base, -1, 0, on_request, &mc);
	if (req_pending != 0)
		event_active(req_ev, 0, 0);
	pthread_mutex_unlock(&req_mtx);
	workers_set_done_event(ev_done);
	mc.mc_gen = 1;
	mc.mc_loaded = time(NULL);
	status_publish(mc.mc_cfg, mc.mc_gen, mc.mc_loaded);
	clock_gettime(CLOCK_MONOTONIC, &mc.mc_started);
	if (control_start(&mc) != 0)
		rc = 1;		/* said why */
	else if (workers_start(mc.mc_cfg, mc.mc_cfg->cf_workers) != 0)
		rc = 1;		/* said why; nothing runs: clean up below */
	/* The sockets are bound and the log is open: root is not needed. */
	else if (service_drop_privileges(mc.mc_cfg->cf_user,
	    mc.mc_cfg->cf_chroot) != 0) {
		rc = 1;
		workers_stop();
		workers_kill();
	} else {
		lists_start(&mc);
		service_notify("READY=1");
		event_base_dispatch(mc.mc_base);
	}

	/* Exiting already: a late signal must not kill us half-way (freeing
	 * the signal events below restores the default actions). */
	plat_block_signals();
	workers_join();
	pthread_mutex_lock(&req_mtx);
	event_free(req_ev);
	req_ev = NULL;
	pthread_mutex_unlock(&req_mtx);
	for (i = 0; i < NSIGS; i++)
		if (ev_sig[i] != NULL)
			event_free(ev_sig[i]);
	if (sfd != -1)
		evutil_closesocket(sfd);
	event_free(ev_done);
	if (mc.mc_ev_drain != NULL)
		event_free(mc.mc_ev_drain);
	lists_stop(&mc);
#ifndef _WIN32
	control_close(mc.mc_ctl);
#endif
	if (mc.mc_dns != NULL) {
		evdns_base_free(mc.mc_dns, 1);
		/* A cancelled lookup may still report to the loop. */
		event_base_loop(mc.mc_base, EVLOOP_NONBLOCK);
	}
	if (mc.mc_ev_lists != NULL)
		event_free(mc.mc_ev_lists);
	event_base_free(mc.mc_base);
	config_unref(mc.mc_cfg);
	config_unref(mc.mc_boot);
	dlog_close();
	log_info("exit");
	return (rc);
}
