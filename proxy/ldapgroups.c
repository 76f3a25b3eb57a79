/*
 * ldapgroups.c -- which directory groups (clients.ldap_group) a user is
 * in, asked of the directory of `ldap:` through OpenLDAP's libldap.
 *
 * A directory answers in milliseconds when it is well and in
 * ldap.timeout when it is not, either of which would stall every
 * connection of a worker's event loop; so the questions are asked by
 * threads of their own (LG_THREADS, each with one connection to the
 * directory, kept open), as auth.c has its passwords hashed. A request
 * whose user's groups are not known waits (CS_GROUPS) with a copy of its
 * head, and the answer is posted back to its worker's loop, which takes
 * the request up again (the resume function given to
 * ldapgroups_lookup()) with the answer in its conn_req.
 *
 * One lookup (ldapquery.c) asks about every group of the configuration.
 * The answers are kept per user name, for all the workers, for ldap.ttl
 * from when the directory gave them: within it no question is asked.
 * After it a request asks again and waits; the requests that come for
 * the same user meanwhile, from any worker, wait for the same lookup.
 * When the directory does not answer (down, ldap.timeout, bind refused),
 * the membership it last confirmed stays in force until ldap.ttl after
 * that confirmation -- which a user needing a new lookup is past -- so
 * such a user is in no directory group: fails closed. While it does not
 * answer, no request waits for it: a user whose membership is too old is
 * answered at once (in none), and one lookup at a time is still tried in
 * the background, at most every LG_RETRY_MS (or ldap.ttl when shorter),
 * to see it back; a bind the directory refuses is not tried again before
 * a reload. Each change of state is logged once ("directory unreachable
 * ...", "directory back") and counted for /metrics.
 *
 * The daemon hands the settings over at the start and at every reload
 * (ldapgroups_configure()); changed settings empty the cache. A request
 * gets its answer in terms of its own configuration's ldap_group list
 * (bit i: cf_ldap_groups[i]), translated by DN from the settings the
 * lookup used. The bind password is never logged.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "conn.h"
#include "ldapquery.h"

#define LG_THREADS	2	/* lookup threads, a connection each */
#define LG_BUCKETS	1024	/* of the user table */
#define LG_MAX_USERS	16384	/* users whose answers are kept */
#define LG_MAX_JOBS	1024	/* lookups queued or running */
#define LG_RETRY_MS	5000	/* unreachable: one try at most this often */

/* The settings a lookup is made with: a copy of the configuration's. */
struct lg_conf {
	int			 gc_refs;	/* atomic */
	unsigned		 gc_ttl;	/* ms */
	unsigned		 gc_timeout;	/* ms */
	struct lq_settings	 gc_q;		/* how to ask */
};

struct lg_job;

/* A user whose groups are known or looked up (lg_mtx). */
struct lg_entry {
	struct lg_entry		*le_next;	/* bucket */
	uint32_t		 le_hash;
	int			 le_known;	/* le_mask was confirmed ... */
	uint64_t		 le_confirmed;	/* ... then (monotonic ms) */
	uint64_t		 le_mask;	/* over lg_cur's groups */
	struct lg_job		*le_job;	/* being looked up */
	struct ldapgroups_wait	*le_waits;	/* requests waiting for it */
	int			 le_detached;	/* out of the table: the job
						   frees it */
	char			 le_user[HG_MAX_USER + 1];
};

/* How a lookup went. */
enum lg_result {
	LGR_OK = 0,
	LGR_FAILED,	/* the directory did not answer */
	LGR_REFUSED,	/* it refused the bind: no try before a reload */
	LGR_LATE,	/* not run within ldap.timeout of its start */
	LGR_SKIPPED	/* not run: the directory is unreachable */
};

/* One lookup: the worker fills it, a thread runs it. */
struct lg_job {
	struct lg_job		*lj_next;	/* queue (lg_mtx) */
	struct lg_entry		*lj_entry;
	struct lg_conf		*lj_conf;	/* a reference */
	uint64_t		 lj_deadline;	/* monotonic ms */
	int			 lj_probe;	/* tried while unreachable */
	char			 lj_user[HG_MAX_USER + 1];
	enum lg_result		 lj_result;	/* the answer */
	uint64_t		 lj_mask;
	char			 lj_why[512];
};

/* A request waiting for a lookup (its conn's cn_ldap); the worker's. */
struct ldapgroups_wait {
	struct ldapgroups_wait	*lw_next;	/* entry's, then done (lg_mtx) */
	struct lg_entry		*lw_entry;	/* NULL: answered (lg_mtx) */
	struct ldapgroups_state	*lw_ws;		/* its worker's */
	struct conn		*lw_conn;	/* NULL: closed meanwhile */
	const struct hg_config	*lw_cfg;	/* the request's */
	lgroups_resume_fn	 lw_resume;
	char			*lw_head;	/* a copy of the request head */
	size_t			 lw_headlen;
	uint64_t		 lw_mask;	/* the answer, over lw_cfg's */
};

/* A worker's: the answers posted to it. */
struct ldapgroups_state {
	struct event		*ws_ev;
	struct ldapgroups_wait	*ws_done;	/* lg_mtx */
};

/* A lookup thread and its connection. */
struct lg_thread {
	struct lq_conn	*t_conn;
	struct lg_conf	*t_conf;	/* what t_conn is opened with */
};

static pthread_mutex_t	 lg_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 lg_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t	 lg_once = PTHREAD_ONCE_INIT;
static struct lg_thread	 lg_threads[LG_THREADS];

/* All under lg_mtx. */
static struct lg_conf	*lg_cur;	/* the settings; NULL: none */
static struct lg_entry	*lg_table[LG_BUCKETS];
static size_t		 lg_nusers;
static struct lg_job	*lg_queue, **lg_qtail = &lg_queue;
static unsigned		 lg_njobs;	/* queued or running */
static int		 lg_down;	/* the directory is unreachable */
static int		 lg_probing;	/* a lookup tries it meanwhile */
static uint64_t		 lg_next_try;	/* no try before (UINT64_MAX: a
					   refused bind, till a reload) */

/* For /metrics: relaxed atomics, from any thread. */
static uint64_t		 count_ok, count_failed, count_hits, count_waits;
static uint64_t		 count_closed, count_unreachable;

#define BUMP(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static uint32_t
user_hash(const char *s)
{
	uint32_t	h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return (h);
}

static int
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

static char *
dup_or_null(const char *s)
{
	return (s != NULL ? xstrdup(s) : NULL);
}

static struct lg_conf *
conf_ref(struct lg_conf *gc)
{
	__atomic_add_fetch(&gc->gc_refs, 1, __ATOMIC_RELAXED);
	return (gc);
}

static void
conf_unref(struct lg_conf *gc)
{
	struct lq_settings	*qs;
	size_t			 i;

	if (gc == NULL || __atomic_sub_fetch(&gc->gc_refs, 1,
	    __ATOMIC_ACQ_REL) != 0)
		return;
	qs = &gc->gc_q;
	free(qs->qs_urls);
	free(qs->qs_bind_dn);
	if (qs->qs_bind_pw != NULL) {
		explicit_bzero(qs->qs_bind_pw, strlen(qs->qs_bind_pw));
		free(qs->qs_bind_pw);
	}
	free(qs->qs_base);
	free(qs->qs_filter);
	free(qs->qs_attr);
	free(qs->qs_ca_file);
	for (i = 0; i < qs->qs_ngroups; i++)
		free(qs->qs_groups[i]);
	free(qs->qs_groups);
	free(gc);
}

/* The lookup settings of cf (one reference), NULL when it has none. */
static struct lg_conf *
conf_new(const struct hg_config *cf)
{
	const struct hg_ldap	*lc = cf->cf_ldap;
	struct lg_conf		*gc;
	struct lq_settings	*qs;
	size_t			 i;

	if (lc == NULL)
		return (NULL);
	gc = xcalloc(1, sizeof *gc);
	gc->gc_refs = 1;
	gc->gc_ttl = lc->lc_ttl;
	gc->gc_timeout = lc->lc_timeout;
	qs = &gc->gc_q;
	qs->qs_urls = dup_or_null(lc->lc_urls);
	qs->qs_bind_dn = dup_or_null(lc->lc_bind_dn);
	qs->qs_bind_pw = dup_or_null(lc->lc_bind_pw);
	qs->qs_base = dup_or_null(lc->lc_base);
	qs->qs_filter = dup_or_null(lc->lc_filter);
	qs->qs_attr = dup_or_null(lc->lc_attr);
	qs->qs_ca_file = dup_or_null(lc->lc_ca_file);
	qs->qs_membership = lc->lc_membership;
	qs->qs_nested = lc->lc_nested;
	qs->qs_starttls = lc->lc_starttls;
	qs->qs_ngroups = cf->cf_nldap_groups;
	qs->qs_groups = xcalloc(qs->qs_ngroups + 1, sizeof *qs->qs_groups);
	for (i = 0; i < qs->qs_ngroups; i++)
		qs->qs_groups[i] = xstrdup(cf->cf_ldap_groups[i]);
	return (gc);
}

/* Do a and b (either NULL) ask the same directory the same questions? */
static int
conf_same(const struct lg_conf *a, const struct lg_conf *b)
{
	const struct lq_settings	*qa, *qb;
	size_t				 i;

	if (a == NULL || b == NULL)
		return (a == b);
	qa = &a->gc_q;
	qb = &b->gc_q;
	if (a->gc_ttl != b->gc_ttl || a->gc_timeout != b->gc_timeout ||
	    !str_same(qa->qs_urls, qb->qs_urls) ||
	    !str_same(qa->qs_bind_dn, qb->qs_bind_dn) ||
	    !str_same(qa->qs_bind_pw, qb->qs_bind_pw) ||
	    !str_same(qa->qs_base, qb->qs_base) ||
	    !str_same(qa->qs_filter, qb->qs_filter) ||
	    !str_same(qa->qs_attr, qb->qs_attr) ||
	    !str_same(qa->qs_ca_file, qb->qs_ca_file) ||
	    qa->qs_membership != qb->qs_membership ||
	    qa->qs_nested != qb->qs_nested ||
	    qa->qs_starttls != qb->qs_starttls ||
	    qa->qs_ngroups != qb->qs_ngroups)
		return (0);
	for (i = 0; i < qa->qs_ngroups; i++)
		if (strcmp(qa->qs_groups[i], qb->qs_groups[i]) != 0)
			return (0);
	return (1);
}

/* mask over gc's groups, as the same groups of cf (bit i: its
 * cf_ldap_groups[i]); a group cf does not have is dropped. */
static uint64_t
mask_for(const struct lg_conf *gc, uint64_t mask, const struct hg_config *cf)
{
	uint64_t	out = 0;
	size_t		i, j;

	for (j = 0; j < gc->gc_q.qs_ngroups; j++) {
		if (!((mask >> j) & 1))
			continue;
		for (i = 0; i < cf->cf_nldap_groups; i++)
			if (strcmp(cf->cf_ldap_groups[i],
			    gc->gc_q.qs_groups[j]) == 0)
				out |= (uint64_t)1 << i;
	}
	return (out);
}

static void
wait_free(struct ldapgroups_wait *lw)
{
	if (lw == NULL)
		return;
	if (lw->lw_head != NULL) {
		/* it may hold credentials */
		explicit_bzero(lw->lw_head, lw->lw_headlen);
		free(lw->lw_head);
	}
	free(lw);
}

/* -------------------------------------------------------------------- */
/* The user table (lg_mtx held). */

static struct lg_entry *
entry_find(const char *user, uint32_t h)
{
	struct lg_entry	*e;

	for (e = lg_table[h % LG_BUCKETS]; e != NULL; e = e->le_next)
		if (e->le_hash == h && strcmp(e->le_user, user) == 0)
			return (e);
	return (NULL);
}

/*
 * Make room for one more user: first drop every answer that is too old
 * to be used (ttl), then, if none was, the oldest one. Users being
 * looked up stay.
 */
static void
entry_make_room(uint64_t now)
{
	struct lg_entry	**pp, *e, **oldest = NULL;
	size_t		  b, dropped = 0;

	for (b = 0; b < LG_BUCKETS; b++)
		for (pp = &lg_table[b]; (e = *pp) != NULL; ) {
			if (e->le_job == NULL && (!e->le_known ||
			    e->le_confirmed + lg_cur->gc_ttl <= now)) {
				*pp = e->le_next;
				free(e);
				lg_nusers--;
				dropped++;
				continue;
			}
			if (e->le_job == NULL && (oldest == NULL ||
			    e->le_confirmed < (*oldest)->le_confirmed))
				oldest = pp;
			pp = &e->le_next;
		}
	if (dropped == 0 && oldest != NULL) {
		e = *oldest;
		*oldest = e->le_next;
		free(e);
		lg_nusers--;
	}
}

/* A new user in the table; NULL when there is no room or memory. */
static struct lg_entry *
entry_add(const char *user, uint32_t h, uint64_t now)
{
	struct lg_entry	*e;

	if (lg_nusers >= LG_MAX_USERS)
		entry_make_room(now);
	if (lg_nusers >= LG_MAX_USERS || (e = calloc(1, sizeof *e)) == NULL)
		return (NULL);
	e->le_hash = h;
	snprintf(e->le_user, sizeof e->le_user, "%s", user);
	e->le_next = lg_table[h % LG_BUCKETS];
	lg_table[h % LG_BUCKETS] = e;
	lg_nusers++;
	return (e);
}

/* Forget every user (new settings); those being looked up go with their
 * lookup. */
static void
table_drop(void)
{
	struct lg_entry	*e, *next;
	size_t		 b;

	for (b = 0; b < LG_BUCKETS; b++) {
		for (e = lg_table[b]; e != NULL; e = next) {
			next = e->le_next;
			if (e->le_job != NULL) {
				e->le_detached = 1;
				e->le_next = NULL;
			} else
				free(e);
		}
		lg_table[b] = NULL;
	}
	lg_nusers = 0;
}

/* -------------------------------------------------------------------- */
/* The lookup threads (the questions: ldapquery.c), never a worker's loop. */

/* Run j on t's connection, which new settings close first. */
static void
thread_lookup(struct lg_thread *t, struct lg_job *j)
{
	if (t->t_conf != j->lj_conf) {
		ldapquery_close(&t->t_conn);
		conf_unref(t->t_conf);
		t->t_conf = conf_ref(j->lj_conf);
	}
	switch (ldapquery_lookup(&t->t_conn, &j->lj_conf->gc_q, j->lj_user,
	    j->lj_deadline, &j->lj_mask, j->lj_why, sizeof j->lj_why)) {
	case LQ_OK:
		j->lj_result = LGR_OK;
		break;
	case LQ_REFUSED:
		j->lj_result = LGR_REFUSED;
		break;
	case LQ_FAILED:
		j->lj_result = LGR_FAILED;
		break;
	}
}

/* Post lw's answer to its worker (lg_mtx held). */
static void
post(struct ldapgroups_wait *lw)
{
	struct ldapgroups_state	*ws = lw->lw_ws;

	lw->lw_entry = NULL;
	lw->lw_next = ws->ws_done;
	ws->ws_done = lw;
	event_active(ws->ws_ev, 0, 0);
}

/*
 * j is done: keep its answer, note what it says of the directory, and
 * post the answer to each request that waits for it. A request waits on
 * an open connection, so its worker's loop and event are still there.
 */
static void
job_done(struct lg_job *j)
{
	struct lg_entry		*e = j->lj_entry;
	struct lg_conf		*gc = j->lj_conf;
	struct ldapgroups_wait	*lw, *next;
	uint64_t		 now = now_ms(), mask = 0, retry;
	int			 down = 0, back = 0, known;

	retry = gc->gc_ttl < LG_RETRY_MS ? gc->gc_ttl : LG_RETRY_MS;
	pthread_mutex_lock(&lg_mtx);
	switch (j->lj_result) {
	case LGR_OK:
		e->le_known = 1;
		e->le_mask = j->lj_mask;
		e->le_confirmed = now;
		if (gc == lg_cur) {
			back = lg_down;
			lg_down = 0;
		}
		BUMP(count_ok);
		break;
	case LGR_FAILED:
	case LGR_REFUSED:
		if (gc == lg_cur) {
			down = !lg_down;
			lg_down = 1;
			lg_next_try = j->lj_result == LGR_REFUSED ?
			    UINT64_MAX : now + retry;
		}
		BUMP(count_failed);
		break;
	case LGR_LATE:
	case LGR_SKIPPED:
		break;
	}
	if (j->lj_probe)
		lg_probing = 0;
	known = e->le_known && now < e->le_confirmed + gc->gc_ttl;
	if (known)
		mask = e->le_mask;
	for (lw = e->le_waits; lw != NULL; lw = next) {
		next = lw->lw_next;
		if (!known)
			BUMP(count_closed);
		lw->lw_mask = mask_for(gc, mask, lw->lw_cfg);
		post(lw);
	}
	e->le_waits = NULL;
	e->le_job = NULL;
	if (e->le_detached)
		free(e);
	lg_njobs--;
	pthread_mutex_unlock(&lg_mtx);

	if (down) {
		BUMP(count_unreachable);
		log_warnx("ldap: directory unreachable: %s; users whose "
		    "membership was confirmed more than %us ago are in no "
		    "directory group until it answers%s", j->lj_why,
		    gc->gc_ttl / 1000, j->lj_result == LGR_REFUSED ?
		    " (a refused bind is tried again after a reload)" : "");
	} else if (j->lj_result == LGR_FAILED || j->lj_result == LGR_REFUSED)
		log_debug("ldap: still unreachable: %s", j->lj_why);
	if (back)
		log_warnx("ldap: directory back: answering again");
	conf_unref(gc);
	explicit_bzero(j, sizeof *j);
	free(j);
}

static void *
thread_main(void *arg)
{
	struct lg_thread	*t = arg;
	struct lg_job		*j;
	int			 skip;

	for (;;) {
		pthread_mutex_lock(&lg_mtx);
		while ((j = lg_queue) == NULL)
			pthread_cond_wait(&lg_cond, &lg_mtx);
		if ((lg_queue = j->lj_next) == NULL)
			lg_qtail = &lg_queue;
		skip = lg_down && !j->lj_probe;
		pthread_mutex_unlock(&lg_mtx);

		if (now_ms() >= j->lj_deadline)
			j->lj_result = LGR_LATE;
		else if (skip)
			j->lj_result = LGR_SKIPPED;
		else
			thread_lookup(t, j);
		job_done(j);
	}
	return (NULL);
}

static void
threads_start(void)
{
	pthread_t	t;
	int		i;
#ifndef _WIN32
	sigset_t	all, old;

	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
#endif
	for (i = 0; i < LG_THREADS; i++) {
		if (pthread_create(&t, NULL, thread_main, &lg_threads[i]) != 0)
			fatalx("cannot start a directory lookup thread");
		pthread_detach(t);
	}
#ifndef _WIN32
	pthread_sigmask(SIG_SETMASK, &old, NULL);
#endif
}

/* Queue a lookup of e with the current settings (lg_mtx held). */
static struct lg_job *
job_start(struct lg_entry *e, uint64_t now, int probe)
{
	struct lg_job	*j;

	if (lg_njobs >= LG_MAX_JOBS || (j = calloc(1, sizeof *j)) == NULL)
		return (NULL);
	j->lj_entry = e;
	j->lj_conf = conf_ref(lg_cur);
	j->lj_deadline = now + lg_cur->gc_timeout;
	j->lj_probe = probe;
	snprintf(j->lj_user, sizeof j->lj_user, "%s", e->le_user);
	e->le_job = j;
	*lg_qtail = j;
	lg_qtail = &j->lj_next;
	lg_njobs++;
	if (probe)
		lg_probing = 1;
	pthread_cond_signal(&lg_cond);
	return (j);
}

/* -------------------------------------------------------------------- */
/* The workers' side. */

static void	lookups_done(evutil_socket_t, short, void *);

/* The worker's, made on first use; NULL when out of memory. */
static struct ldapgroups_state *
worker_state(struct worker *w)
{
	struct ldapgroups_state	*ws;

	if ((ws = w->w_ldap) != NULL)
		return (ws);
	if ((ws = calloc(1, sizeof *ws)) == NULL)
		return (NULL);
	/* On memory of ours, not event_new(): it outlives the base
	 * (ldapgroups_state_free()). */
	if ((ws->ws_ev = calloc(1, event_get_struct_event_size())) == NULL ||
	    event_assign(ws->ws_ev, w->w_base, -1, 0, lookups_done, w) != 0) {
		free(ws->ws_ev);
		free(ws);
		return (NULL);
	}
	w->w_ldap = ws;
	return (ws);
}

/*
 * Lookups are done (posted by the threads, on the worker's loop): take
 * up again the requests that waited, each with its answer.
 */
static void
lookups_done(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct ldapgroups_state	*ws = w->w_ldap;
	struct ldapgroups_wait	*lw, *next;
	struct conn		*c;

	pthread_mutex_lock(&lg_mtx);
	lw = ws->ws_done;
	ws->ws_done = NULL;
	pthread_mutex_unlock(&lg_mtx);
	for (; lw != NULL; lw = next) {
		next = lw->lw_next;
		if ((c = lw->lw_conn) != NULL) {
			c->cn_ldap = NULL;
			c->cn_req.cr_dir_known = 1;
			c->cn_req.cr_dir_mask = lw->lw_mask;
			lw->lw_resume(c, lw->lw_head, lw->lw_headlen);
		}
		wait_free(lw);
	}
}

/*
 * The directory groups of user, the user c's request authenticated as:
 * LGROUPS_READY with them in *mask (bit i: c's cf_ldap_groups[i]) when
 * they are known, or when they cannot be (in none: fail closed); or
 * LGROUPS_PENDING with c waiting for a lookup (the caller puts it in
 * CS_GROUPS): resume(c, head, headlen) then runs on the worker's loop
 * with the answer in c->cn_req.cr_dir_mask (cr_dir_known set). head
 * (headlen bytes) is the request head, copied.
 */
enum lgroups_verdict
ldapgroups_lookup(struct conn *c, const char *user, const char *head,
    size_t headlen, lgroups_resume_fn resume, uint64_t *mask)
{
	struct ldapgroups_state	*ws = worker_state(c->cn_w);
	struct ldapgroups_wait	*lw = NULL;
	struct lg_entry		*e;
	uint64_t		 now = now_ms();
	uint32_t		 h = user_hash(user);

	*mask = 0;
	pthread_once(&lg_once, threads_start);
	pthread_mutex_lock(&lg_mtx);
	if (lg_cur == NULL || ws == NULL)
		goto closed;
	e = entry_find(user, h);
	if (e != NULL && e->le_known &&
	    now < e->le_confirmed + lg_cur->gc_ttl) {
		*mask = mask_for(lg_cur, e->le_mask, c->cn_cfg);
		pthread_mutex_unlock(&lg_mtx);
		BUMP(count_hits);
		return (LGROUPS_READY);
	}
	if (e == NULL && (e = entry_add(user, h, now)) == NULL)
		goto closed;
	if (lg_down) {
		/* No request waits for a directory that does not answer;
		 * one lookup at a time sees whether it is back. */
		if (e->le_job == NULL && !lg_probing && now >= lg_next_try)
			job_start(e, now, 1);
		goto closed;
	}
	if ((lw = calloc(1, sizeof *lw)) == NULL ||
	    (lw->lw_head = malloc(headlen)) == NULL)
		goto closed;
	if (e->le_job != NULL)
		BUMP(count_waits);
	else if (job_start(e, now, 0) == NULL)
		goto closed;
	lw->lw_entry = e;
	lw->lw_ws = ws;
	lw->lw_conn = c;
	lw->lw_cfg = c->cn_cfg;
	lw->lw_resume = resume;
	memcpy(lw->lw_head, head, headlen);
	lw->lw_headlen = headlen;
	lw->lw_next = e->le_waits;
	e->le_waits = lw;
	pthread_mutex_unlock(&lg_mtx);
	c->cn_ldap = lw;
	return (LGROUPS_PENDING);

closed:
	pthread_mutex_unlock(&lg_mtx);
	wait_free(lw);
	BUMP(count_closed);
	return (LGROUPS_READY);
}

/* Take lw out of the list at *pp (lg_mtx held). */
static void
unlink_wait(struct ldapgroups_wait **pp, struct ldapgroups_wait *lw)
{
	for (; *pp != NULL; pp = &(*pp)->lw_next)
		if (*pp == lw) {
			*pp = lw->lw_next;
			return;
		}
}

/* c closes, or stops waiting, while its lookup runs: let go of it (the
 * lookup goes on, and its answer is kept). */
void
ldapgroups_cancel(struct conn *c)
{
	struct ldapgroups_wait	*lw = c->cn_ldap;

	if (lw == NULL)
		return;
	c->cn_ldap = NULL;
	pthread_mutex_lock(&lg_mtx);
	if (lw->lw_entry != NULL)
		unlink_wait(&lw->lw_entry->le_waits, lw);
	else {
		/* answered: lookups_done() has it, skips it and frees it */
		lw->lw_conn = NULL;
		lw = NULL;
	}
	pthread_mutex_unlock(&lg_mtx);
	wait_free(lw);
}

/*
 * c waited longer than its lookup may take (its timer, in CS_GROUPS):
 * take the request up at once, with the answer if it has come, else in
 * no directory group.
 */
void
ldapgroups_expire(struct conn *c)
{
	struct ldapgroups_wait	*lw = c->cn_ldap;
	uint64_t		 mask = 0;
	int			 answered = 0;
	char			 esc[HG_MAX_USER * 6 + 1];

	if (lw == NULL)
		return;
	c->cn_ldap = NULL;
	pthread_mutex_lock(&lg_mtx);
	if (lw->lw_entry != NULL)
		unlink_wait(&lw->lw_entry->le_waits, lw);
	else {
		/* posted, not taken up yet */
		unlink_wait(&lw->lw_ws->ws_done, lw);
		mask = lw->lw_mask;
		answered = 1;
	}
	pthread_mutex_unlock(&lg_mtx);
	if (!answered) {
		BUMP(count_closed);
		json_escape(esc, sizeof esc, c->cn_req.cr_user);
		log_info("%s: directory groups of user '%s' not known in "
		    "time: in none", c->cn_client, esc);
	}
	c->cn_req.cr_dir_known = 1;
	c->cn_req.cr_dir_mask = mask;
	lw->lw_resume(c, lw->lw_head, lw->lw_headlen);
	wait_free(lw);
}

/*
 * The settings of cf, at the start and at every reload (main thread):
 * changed ones empty the cache and are used from the next lookup on
 * (lookups running finish with the old ones), which waits for the
 * directory as if it had always answered. Unchanged ones keep the cache;
 * a directory that does not answer is then tried again at the next
 * lookup, a refused bind too.
 */
void
ldapgroups_configure(const struct hg_config *cf)
{
	struct lg_conf	*gc = conf_new(cf), *old = NULL;

	if (gc != NULL)
		ldapquery_init();
	pthread_mutex_lock(&lg_mtx);
	lg_next_try = 0;
	if (conf_same(lg_cur, gc)) {
		pthread_mutex_unlock(&lg_mtx);
		conf_unref(gc);
		return;
	}
	old = lg_cur;
	lg_cur = gc;
	table_drop();
	/* New settings, maybe a new directory: asked as if it answered. */
	lg_down = 0;
	pthread_mutex_unlock(&lg_mtx);
	if (old != NULL && gc != NULL)
		log_info("ldap: settings changed, the cache of directory "
		    "groups is emptied");
	conf_unref(old);
}

/*
 * After the worker's loop is over (workers_join()): with no connection
 * left, no request waits for a lookup, so nothing is posted here any
 * more; the event went with the base.
 */
void
ldapgroups_state_free(struct worker *w)
{
	struct ldapgroups_state	*ws = w->w_ldap;
	struct ldapgroups_wait	*lw;

	if (ws == NULL)
		return;
	pthread_mutex_lock(&lg_mtx);
	while ((lw = ws->ws_done) != NULL) {
		ws->ws_done = lw->lw_next;
		wait_free(lw);
	}
	pthread_mutex_unlock(&lg_mtx);
	free(ws->ws_ev);
	free(ws);
	w->w_ldap = NULL;
}

/* The counters of directory lookups, for /metrics (any thread). */
void
ldapgroups_counts(struct ldap_counts *lk)
{
	memset(lk, 0, sizeof *lk);
	lk->lk_ok = __atomic_load_n(&count_ok, __ATOMIC_RELAXED);
	lk->lk_failed = __atomic_load_n(&count_failed, __ATOMIC_RELAXED);
	lk->lk_cache_hits = __atomic_load_n(&count_hits, __ATOMIC_RELAXED);
	lk->lk_waits = __atomic_load_n(&count_waits, __ATOMIC_RELAXED);
	lk->lk_fail_closed = __atomic_load_n(&count_closed,
	    __ATOMIC_RELAXED);
	lk->lk_unreachable = __atomic_load_n(&count_unreachable,
	    __ATOMIC_RELAXED);
	pthread_mutex_lock(&lg_mtx);
	lk->lk_up = !lg_down;
	lk->lk_in_flight = lg_njobs;
	lk->lk_users = lg_nusers;
	pthread_mutex_unlock(&lg_mtx);
}
