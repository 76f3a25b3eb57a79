/*
 * auth.c -- Basic proxy authentication (auth.basic).
 *
 * Checking a password costs one crypt(3) of the stored hash (yescrypt:
 * tens of milliseconds), which would stall every connection of a
 * worker's event loop. So the hashes are computed by a pool of threads
 * of their own (AUTH_THREADS): a request that needs one waits (CS_AUTH)
 * with a copy of its head, and the result is posted back to its worker's
 * loop, which takes the request up again (the resume function of the
 * caller, given to auth_request()). Nothing here answers a client: a
 * request refused comes back with the answer to give it. At most
 * AUTH_MAX_INFLIGHT hashes are queued or running, AUTH_MAX_CLIENT of them
 * for one client address; a request over a bound gets 503 (auth_busy) at
 * once. The requests of one worker with the same credentials wait for the
 * same hash. A connection that closes while its hash runs lets go of it
 * (auth_cancel()); the hash still counts as a failure when wrong, and one
 * still queued is dropped.
 *
 * Each worker keeps a cache of the credentials it has checked: keyed by
 * SHA-256 of a per-process random key and the Proxy-Authorization value
 * (no password is kept in memory), holding the user and the stored hash
 * it was checked against, for auth.basic.cache_ttl. A client sending the
 * same credentials (every request of a browser does) costs one hash per
 * worker per cache_ttl; a reload empties the cache, and an entry is good
 * only while the user still has the same stored hash. Wrong credentials
 * are cached as wrong too, so that repeating them costs no hash; a name
 * that is no user's is checked against a stand-in hash of the same cost
 * and cached the same way, so that neither the time of an answer nor the
 * cache tells which names exist.
 *
 * Failures are counted per client address (authlimit.c, with Negotiate's).
 * auth.negotiate, Kerberos, is negotiate.c's: a request with a Negotiate
 * token, or on a connection that Negotiate authenticated, goes there
 * first (auth_request()), and Basic checks only what it leaves.
 */
#include "config.h"

#ifdef HAVE_CRYPT
#include <crypt.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "conn.h"
#include "plat/plat.h"
#include "certs/certs.h"

#define AUTH_CACHE_SLOTS	256	/* per worker, direct-mapped */
#define AUTH_THREADS		2	/* threads that hash passwords */
#define AUTH_MAX_INFLIGHT	64	/* hashes queued or running ... */
#define AUTH_MAX_CLIENT		4	/* ... of them for one address */

struct auth_entry {
	uint8_t		ae_key[32];
	int		ae_used;
	int		ae_ok;		/* 0: known wrong credentials */
	uint64_t	ae_expires;	/* monotonic ms */
	char		ae_user[HG_MAX_USER + 1];
	char		ae_hash[HG_MAX_USER_HASH + 1];
};

struct auth_job;

/* A request waiting for a hash (its conn's cn_auth); the worker's. */
struct auth_wait {
	struct auth_wait	*aw_next;	/* of the job's (pool_mtx) */
	struct auth_job		*aw_job;	/* NULL: answered */
	struct conn		*aw_conn;	/* NULL: closed meanwhile */
	auth_resume_fn		 aw_resume;	/* takes the request up */
	char			*aw_head;	/* a copy of the request head */
	size_t			 aw_headlen;
};

enum { AJ_QUEUED = 0, AJ_RUNNING, AJ_DONE };

/*
 * One password to hash. The pool reads what the worker wrote before
 * queueing it, and writes aj_ok before posting it back; the fields marked
 * pool_mtx are shared, the others are the worker's.
 */
struct auth_job {
	struct auth_job		*aj_next;	/* pool, as_done (pool_mtx) */
	int			 aj_state;	/* pool_mtx */
	struct auth_wait	*aj_waits;	/* pool_mtx */
	struct auth_state	*aj_as;		/* the worker's, to post to */
	struct auth_job		*aj_wnext;	/* as_jobs (the worker's) */
	int			 aj_listed;	/* in as_jobs */
	uint8_t			 aj_key[32];	/* the credentials' cache key */
	char			 aj_user[HG_MAX_USER + 1];
	char			 aj_pass[HG_MAX_PASSWORD + 1];
	char			 aj_setting[HG_MAX_USER_HASH + 1];
	int			 aj_known;	/* a user's hash, no stand-in */
	char			 aj_client[46];	/* for the log */
	int			 aj_family;	/* the client's address */
	uint8_t			 aj_addr[16];
	unsigned		 aj_ttl;	/* auth.basic.cache_ttl */
	unsigned		 aj_max_failures;
	unsigned		 aj_fail_window;
	int			 aj_ok;		/* the answer */
};

struct auth_state {
	unsigned		as_gen;		/* configuration generation */
	struct auth_entry	as_cache[AUTH_CACHE_SLOTS];
	struct event		*as_ev;		/* hashes done: as_done */
	struct auth_job		*as_done;	/* posted back (pool_mtx) */
	struct auth_job		*as_jobs;	/* waited for, by key */
	/* the answer of the request being taken up again */
	struct conn		*as_resume;
	uint8_t			 as_resume_key[32];
	int			 as_resume_ok;
};

static pthread_once_t	 key_once = PTHREAD_ONCE_INIT;
static uint8_t		 cache_key[32];

/* The pool: jobs queued or running, oldest first (all under pool_mtx). */
static pthread_mutex_t	 pool_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 pool_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t	 pool_once = PTHREAD_ONCE_INIT;
#ifdef HAVE_CRYPT
static struct crypt_data pool_cd[AUTH_THREADS];	/* one per thread */
#endif
static struct auth_job	*pool_jobs;
static unsigned		 pool_njobs;
static unsigned		 pool_nrunning;	/* of them */

/* For /metrics: relaxed atomics, from any thread. */
static uint64_t		 count_hashes;		/* passwords hashed */
static uint64_t		 count_cache_hits;	/* answered from a cache */
static uint64_t		 count_waits;		/* waited for another's */

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
key_init(void)
{
	if (plat_random(cache_key, sizeof cache_key) != 0)
		fatalx("no random bytes from the system");
}

/* Compare two strings in time that depends on their lengths only. */
static int
secret_equal(const char *a, const char *b)
{
	size_t		la = strlen(a), lb = strlen(b), i;
	unsigned char	d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return (d == 0);
}

/*
 * The stored hash that a password given for name is checked against: the
 * user's (*up set), or for a name that is no user's a stand-in of the same
 * cost, the first user's (*up NULL), so that an unknown name costs what a
 * known one costs and is cached the same way. NULL when there are no
 * users.
 */
static const char *
stored_hash(const struct hg_config *cf, const char *name,
    const struct hg_user **up)
{
	const struct hg_user	*u;

	u = users_find(cf->cf_users, cf->cf_nusers, name);
	if (up != NULL)
		*up = u;
	if (u != NULL)
		return (u->us_hash);
	return (cf->cf_nusers > 0 ? cf->cf_users[0].us_hash : NULL);
}

/*
 * Hash pass with setting (crypt(3), cd its struct crypt_data). Returns 1
 * when the result is setting itself and setting is the user's (known),
 * else 0.
 */
static int
hash_check(void *cd, const char *pass, const char *setting, int known)
{
	const char	*out = NULL;

#ifdef HAVE_CRYPT
	out = crypt_rn(pass, setting, cd, sizeof(struct crypt_data));
	__atomic_add_fetch(&count_hashes, 1, __ATOMIC_RELAXED);
#else
	/* Not reached: a configuration with users is refused at load. */
	(void)cd;
	(void)pass;
#endif
	return (out != NULL && out[0] != '*' && known &&
	    secret_equal(out, setting));
}

static void
job_free(struct auth_job *j)
{
	explicit_bzero(j, sizeof *j);
	free(j);
}

static void
wait_free(struct auth_wait *aw)
{
	if (aw->aw_head != NULL) {
		explicit_bzero(aw->aw_head, aw->aw_headlen);
		free(aw->aw_head);
	}
	free(aw);
}

/*
 * The answer of a hash that no request waits for any more (the clients
 * closed): a wrong password still counts as a failure of the address, a
 * right one clears its count. Any thread.
 */
static void
job_settle(const struct auth_job *j)
{
	char	esc[HG_MAX_USER * 6 + 1];

	if (j->aj_ok) {
		auth_limit_forget(j->aj_family, j->aj_addr);
		return;
	}
	json_escape(esc, sizeof esc, j->aj_user);
	log_info("%s: proxy authentication failed for user '%s': wrong user "
	    "name or password (the client did not wait)", j->aj_client,
	    j->aj_user[0] ? esc : "-");
	auth_limit_fail(j->aj_max_failures, j->aj_fail_window, j->aj_family,
	    j->aj_addr);
}

/* Take j out of the pool's list (pool_mtx held). */
static void
pool_unlink(struct auth_job *j)
{
	struct auth_job	**pp;

	for (pp = &pool_jobs; *pp != j; pp = &(*pp)->aj_next)
		;
	*pp = j->aj_next;
	j->aj_next = NULL;
	pool_njobs--;
}

/* Take j out of its worker's list of hashes waited for (its worker). */
static void
job_unlist(struct auth_job *j)
{
	struct auth_job	**pp;

	if (!j->aj_listed)
		return;
	for (pp = &j->aj_as->as_jobs; *pp != j; pp = &(*pp)->aj_wnext)
		;
	*pp = j->aj_wnext;
	j->aj_wnext = NULL;
	j->aj_listed = 0;
}

/*
 * A thread of the pool: hash the oldest queued password, then post the
 * answer to the worker whose requests wait for it, or settle it when none
 * does. A request that waits is a connection open, so its worker's loop
 * and event are still there; a job that nobody waits for is this
 * thread's to free.
 */
static void *
pool_main(void *arg)
{
	struct auth_job		*j;
	struct auth_state	*as;
	void			*cd = NULL;

#ifdef HAVE_CRYPT
	cd = &pool_cd[(intptr_t)arg];
#else
	(void)arg;
#endif
	for (;;) {
		pthread_mutex_lock(&pool_mtx);
		for (;;) {
			for (j = pool_jobs; j != NULL &&
			    j->aj_state != AJ_QUEUED; j = j->aj_next)
				;
			if (j != NULL)
				break;
			pthread_cond_wait(&pool_cond, &pool_mtx);
		}
		j->aj_state = AJ_RUNNING;
		pool_nrunning++;
		pthread_mutex_unlock(&pool_mtx);

		j->aj_ok = hash_check(cd, j->aj_pass, j->aj_setting,
		    j->aj_known);
		explicit_bzero(j->aj_pass, sizeof j->aj_pass);

		pthread_mutex_lock(&pool_mtx);
		pool_unlink(j);
		pool_nrunning--;
		j->aj_state = AJ_DONE;
		if (j->aj_waits != NULL) {
			as = j->aj_as;
			j->aj_next = as->as_done;
			as->as_done = j;
			event_active(as->as_ev, 0, 0);
			j = NULL;
		}
		pthread_mutex_unlock(&pool_mtx);
		if (j != NULL) {
			job_settle(j);
			job_free(j);
		}
	}
	return (NULL);
}

static void
pool_start(void)
{
	pthread_t	t;
	int		i;
#ifdef HAVE_CRYPT
	sigset_t	all, old;

	/* Signals are the main thread's business (not plat_thread_signals():
	 * the main thread may be in it, starting the workers). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
#endif
	for (i = 0; i < AUTH_THREADS; i++) {
		if (pthread_create(&t, NULL, pool_main, (void *)(intptr_t)i) !=
		    0)
			fatalx("cannot start a password hashing thread");
		pthread_detach(t);
	}
#ifdef HAVE_CRYPT
	pthread_sigmask(SIG_SETMASK, &old, NULL);
#endif
}

/* Keep the answer of j in the worker's cache. */
static void
cache_store(struct auth_state *as, const struct auth_job *j)
{
	struct auth_entry	*e = &as->as_cache[j->aj_key[0]];

	memset(e, 0, sizeof *e);
	e->ae_used = 1;
	e->ae_ok = j->aj_ok;
	memcpy(e->ae_key, j->aj_key, sizeof e->ae_key);
	e->ae_expires = now_ms() + j->aj_ttl;
	snprintf(e->ae_user, sizeof e->ae_user, "%s", j->aj_user);
	snprintf(e->ae_hash, sizeof e->ae_hash, "%s", j->aj_setting);
}

static void	auth_done(evutil_socket_t, short, void *);

/* The worker's cache, emptied when the configuration changed; NULL
 * when out of memory. */
static struct auth_state *
auth_state(struct worker *w)
{
	struct auth_state	*as;

	if ((as = w->w_auth) == NULL) {
		if ((as = calloc(1, sizeof *as)) == NULL)
			return (NULL);
		as->as_gen = w->w_gen;
		/* On memory of ours, not event_new(): it outlives the base
		 * (auth_state_free()). */
		if ((as->as_ev = calloc(1, event_get_struct_event_size())) ==
		    NULL || event_assign(as->as_ev, w->w_base, -1, 0, auth_done,
		    w) != 0) {
			free(as->as_ev);
			free(as);
			return (NULL);
		}
		w->w_auth = as;
	}
	if (as->as_gen != w->w_gen) {
		memset(as->as_cache, 0, sizeof as->as_cache);
		as->as_gen = w->w_gen;
	}
	return (as);
}

/*
 * Hashes are done (posted by the pool, on the worker's loop): keep each
 * answer in the cache, then take up again the requests that waited for
 * it, each with the answer in as_resume for auth_request().
 */
static void
auth_done(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct auth_state	*as = auth_state(w);
	struct auth_job		*jobs, *j, *jnext;
	struct auth_wait	*aw, *next;
	struct conn		*c;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&pool_mtx);
	jobs = as->as_done;
	as->as_done = NULL;
	for (j = jobs; j != NULL; j = j->aj_next) {
		/* answered: a request that closes now lets go of nothing,
		 * and none joins */
		for (aw = j->aj_waits; aw != NULL; aw = aw->aw_next)
			aw->aw_job = NULL;
		job_unlist(j);
	}
	pthread_mutex_unlock(&pool_mtx);

	for (j = jobs; j != NULL; j = jnext) {
		jnext = j->aj_next;
		cache_store(as, j);
		if (j->aj_waits == NULL)
			job_settle(j);
		for (aw = j->aj_waits; aw != NULL; aw = next) {
			next = aw->aw_next;
			if ((c = aw->aw_conn) != NULL) {
				c->cn_auth = NULL;
				as->as_resume = c;
				memcpy(as->as_resume_key, j->aj_key,
				    sizeof as->as_resume_key);
				as->as_resume_ok = j->aj_ok;
				aw->aw_resume(c, aw->aw_head, aw->aw_headlen);
				as->as_resume = NULL;
			}
			wait_free(aw);
		}
		job_free(j);
	}
}

/*
 * c closes, or stops waiting, while its hash is queued or running: let go
 * of it. A hash still queued that no request waits for any more is
 * dropped; one running is finished and settled by the pool. What
 * Negotiate keeps for c goes too (a handshake, the connection's user).
 */
void
auth_cancel(struct conn *c)
{
	struct auth_wait	*aw = c->cn_auth, **pp;
	struct auth_job		*j, *drop = NULL;

	negotiate_cancel(c);
	if (aw == NULL)
		return;
	c->cn_auth = NULL;
	if ((j = aw->aw_job) == NULL) {
		/* answered: auth_done() has it, skips it and frees it */
		aw->aw_conn = NULL;
		return;
	}
	pthread_mutex_lock(&pool_mtx);
	for (pp = &j->aj_waits; *pp != aw; pp = &(*pp)->aw_next)
		;
	*pp = aw->aw_next;
	if (j->aj_waits == NULL) {
		job_unlist(j);
		if (j->aj_state == AJ_QUEUED) {
			pool_unlink(j);
			drop = j;
		}
	}
	pthread_mutex_unlock(&pool_mtx);
	wait_free(aw);
	if (drop != NULL)
		job_free(drop);
}

/* The counters of password checks, for /metrics (any thread). */
void
auth_counts(struct auth_counts *ac)
{
	memset(ac, 0, sizeof *ac);
	ac->ac_hashes = __atomic_load_n(&count_hashes, __ATOMIC_RELAXED);
	ac->ac_cache_hits = __atomic_load_n(&count_cache_hits,
	    __ATOMIC_RELAXED);
	ac->ac_waits = __atomic_load_n(&count_waits, __ATOMIC_RELAXED);
	pthread_mutex_lock(&pool_mtx);
	ac->ac_running = pool_nrunning;
	ac->ac_queued = pool_njobs - pool_nrunning;
	pthread_mutex_unlock(&pool_mtx);
}

/*
 * After the worker's loop is over (workers_join()): with no connection
 * left, no request waits for a hash, so the pool posts nothing here any
 * more; the event went with the base.
 */
void
auth_state_free(struct worker *w)
{
	struct auth_state	*as = w->w_auth;
	struct auth_job		*j;

	negotiate_state_free(w);
	if (as == NULL)
		return;
	pthread_mutex_lock(&pool_mtx);
	while ((j = as->as_done) != NULL) {
		as->as_done = j->aj_next;
		job_free(j);
	}
	pthread_mutex_unlock(&pool_mtx);
	free(as->as_ev);
	explicit_bzero(as, sizeof *as);
	free(as);
	w->w_auth = NULL;
}

/* The Proxy-Authorization header of rq, or NULL. */
static const struct http_header *
auth_header(const struct http_request *rq)
{
	size_t	i;

	for (i = 0; i < rq->rq_nheaders; i++)
		if (http_token_eq(rq->rq_headers[i].hh_name,
		    rq->rq_headers[i].hh_namelen, "proxy-authorization"))
			return (&rq->rq_headers[i]);
	return (NULL);
}

/*
 * Have the pool check pass for user, the credentials of c's request (key:
 * their cache key, setting: the stored hash from stored_hash()), and take
 * the request up again with resume when it is done; head (headlen bytes)
 * is the request head, copied. A hash of the same credentials that this
 * worker waits for already is waited for too. Returns 0 with c waiting
 * (CS_AUTH), -1 when over a bound of hashes in flight, -2 when out of
 * memory.
 */
static int
auth_submit(struct conn *c, struct auth_state *as, const uint8_t *key,
    const char *user, const char *pass, const char *setting, int known,
    const char *head, size_t headlen, auth_resume_fn resume)
{
	const struct hg_config	*cf = c->cn_cfg;
	struct auth_job		*j, *new = NULL, **tail;
	struct auth_wait	*aw;
	size_t			 alen = c->cn_family == 4 ? 4 : 16;
	unsigned		 mine = 0;

	for (j = as->as_jobs; j != NULL; j = j->aj_wnext)
		if (memcmp(j->aj_key, key, sizeof j->aj_key) == 0 &&
		    strcmp(j->aj_setting, setting) == 0)
			break;
	if (j == NULL) {
		if ((new = j = calloc(1, sizeof *j)) == NULL)
			return (-2);
		j->aj_as = as;
		memcpy(j->aj_key, key, sizeof j->aj_key);
		snprintf(j->aj_user, sizeof j->aj_user, "%s", user);
		snprintf(j->aj_pass, sizeof j->aj_pass, "%s", pass);
		snprintf(j->aj_setting, sizeof j->aj_setting, "%s", setting);
		j->aj_known = known;
		snprintf(j->aj_client, sizeof j->aj_client, "%s",
		    c->cn_client);
		j->aj_family = c->cn_family;
		memcpy(j->aj_addr, c->cn_addr, sizeof j->aj_addr);
		j->aj_ttl = cf->cf_auth_cache_ttl;
		j->aj_max_failures = cf->cf_auth_max_failures;
		j->aj_fail_window = cf->cf_auth_fail_window;
	}
	if ((aw = calloc(1, sizeof *aw)) == NULL ||
	    (aw->aw_head = malloc(headlen)) == NULL) {
		free(aw);
		if (new != NULL)
			job_free(new);
		return (-2);
	}
	aw->aw_conn = c;
	aw->aw_job = j;
	aw->aw_resume = resume;
	memcpy(aw->aw_head, head, headlen);
	aw->aw_headlen = headlen;

	pthread_once(&pool_once, pool_start);
	pthread_mutex_lock(&pool_mtx);
	if (new != NULL) {
		for (tail = &pool_jobs; *tail != NULL;
		    tail = &(*tail)->aj_next)
			if ((*tail)->aj_family == c->cn_family &&
			    memcmp((*tail)->aj_addr, c->cn_addr, alen) == 0)
				mine++;
		if (pool_njobs >= AUTH_MAX_INFLIGHT ||
		    mine >= AUTH_MAX_CLIENT) {
			pthread_mutex_unlock(&pool_mtx);
			job_free(new);
			wait_free(aw);
			return (-1);
		}
		*tail = new;
		pool_njobs++;
		new->aj_wnext = as->as_jobs;
		as->as_jobs = new;
		new->aj_listed = 1;
		pthread_cond_signal(&pool_cond);
	} else
		__atomic_add_fetch(&count_waits, 1, __ATOMIC_RELAXED);
	aw->aw_next = j->aj_waits;
	j->aj_waits = aw;
	pthread_mutex_unlock(&pool_mtx);
	c->cn_auth = aw;
	c->cn_state = CS_AUTH;
	return (0);
}

/*
 * The authentication of a request (origin-form requests to the proxy
 * itself never come here); head (headlen bytes) is the request head rq
 * was parsed from. Returns AUTH_ALLOW when the request may go on (auth
 * off, or c->cn_req.cr_user set); AUTH_DENY when it may not, with the
 * answer to give in *aa (407, 429, 503); or AUTH_PENDING when it waits
 * for its password to be hashed (CS_AUTH): resume(c, head, headlen) then
 * runs on the worker's loop, and the request comes here again to find
 * the answer.
 */
enum auth_verdict
auth_request(struct conn *c, const struct http_request *rq,
    const char *head, size_t headlen, auth_resume_fn resume,
    struct auth_answer *aa)
{
	const struct hg_config	*cf = c->cn_cfg;
	const struct http_header *h;
	const struct hg_user	*u;
	struct auth_state	*as;
	struct auth_entry	*e;
	uint8_t			 key[32];
	char			 buf[sizeof cache_key + HG_MAX_REQUEST_HEAD];
	char			 user[HG_MAX_USER + 1];
	char			 pass[HG_MAX_PASSWORD + 1];
	const char		*why, *setting;
	unsigned		 left;
	int			 ok, resumed = 0, r;
	enum auth_verdict	 v;

	if (!cf->cf_auth_basic && !cf->cf_auth_negotiate)
		return (AUTH_ALLOW);
	h = auth_header(rq);
	if (cf->cf_auth_negotiate && (v = negotiate_request(c, rq, h, head,
	    headlen, resume, aa)) != AUTH_NEXT)
		return (v);
	if (h == NULL)
		return (auth_challenge(c, aa, "proxy authentication required",
		    END_AUTH_REQUIRED, NULL));
	/* Not reached: the value lies within a head of at most that. */
	if (h->hh_valuelen > HG_MAX_REQUEST_HEAD)
		return (auth_challenge(c, aa, "proxy authentication failed",
		    END_AUTH_FAILED, NULL));
	if ((as = auth_state(c->cn_w)) == NULL)
		return (auth_nomem(c, aa));
	pthread_once(&key_once, key_init);
	memcpy(buf, cache_key, sizeof cache_key);
	memcpy(buf + sizeof cache_key, h->hh_value, h->hh_valuelen);
	tls_sha256(buf, sizeof cache_key + h->hh_valuelen, key);
	explicit_bzero(buf, sizeof cache_key + h->hh_valuelen);
	e = &as->as_cache[key[0]];
	user[0] = '\0';
	ok = -1;
	why = "wrong user name or password";
	if (as->as_resume == c &&
	    memcmp(as->as_resume_key, key, sizeof key) == 0) {
		/* the hash this request waited for */
		as->as_resume = NULL;
		ok = as->as_resume_ok;
		resumed = 1;
	} else if (e->ae_used && memcmp(e->ae_key, key, sizeof key) == 0 &&
	    e->ae_expires > now_ms() &&
	    (setting = stored_hash(cf, e->ae_user, NULL)) != NULL &&
	    strcmp(setting, e->ae_hash) == 0) {
		/* checked before, against the same stored hash */
		snprintf(user, sizeof user, "%s", e->ae_user);
		ok = e->ae_ok;
		__atomic_add_fetch(&count_cache_hits, 1, __ATOMIC_RELAXED);
	}
	if (ok != 1 && (left = auth_limit_check(c->cn_family,
	    c->cn_addr)) != 0)
		return (auth_blocked(c, aa, left));
	if ((ok == -1 || resumed) && basic_decode(h->hh_value,
	    h->hh_valuelen, user, sizeof user, pass, sizeof pass, &why) != 0) {
		ok = 0;
		user[0] = '\0';
	} else if (ok == -1) {
		if ((setting = stored_hash(cf, user, &u)) == NULL)
			ok = 0;		/* no users: nothing to check */
		else {
			r = auth_submit(c, as, key, user, pass, setting,
			    u != NULL, head, headlen, resume);
			explicit_bzero(pass, sizeof pass);
			if (r == 0)
				return (AUTH_PENDING);
			if (r == -2)
				return (auth_nomem(c, aa));
			log_info("%s: proxy authentication refused: too many "
			    "password checks in progress", c->cn_client);
			return (auth_deny(aa, 503, END_AUTH_BUSY,
			    "Retry-After: 1\r\n", "too many password checks "
			    "in progress, try again"));
		}
	}
	explicit_bzero(pass, sizeof pass);
	if (ok == 1 && resumed)
		auth_limit_forget(c->cn_family, c->cn_addr);
	if (!ok) {
		char	esc[HG_MAX_USER * 6 + 1];

		json_escape(esc, sizeof esc, user);
		log_info("%s: proxy authentication failed for user '%s': %s",
		    c->cn_client, user[0] ? esc : "-", why);
		auth_limit_fail(cf->cf_auth_max_failures,
		    cf->cf_auth_fail_window, c->cn_family, c->cn_addr);
		return (auth_challenge(c, aa, "proxy authentication failed",
		    END_AUTH_FAILED, NULL));
	}
	snprintf(c->cn_req.cr_user, sizeof c->cn_req.cr_user, "%s", user);
	return (AUTH_ALLOW);
}
