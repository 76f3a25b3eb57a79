/*
 * auth.c -- Basic proxy authentication (auth.basic).
 *
 * Checking a password costs one crypt(3) of the stored hash (yescrypt:
 * tens of milliseconds), which would stall every connection of the
 * worker's event loop. So each worker keeps a cache of the credentials it
 * has checked: keyed by SHA-256 of a per-process random key and the
 * Proxy-Authorization value (no password is kept in memory), holding the
 * user and the stored hash it was checked against, for auth.basic.
 * cache_ttl. A client sending the same credentials (every request of a
 * browser does) costs one hash per worker per cache_ttl; a reload
 * empties the cache, and an entry is good only while the user still has
 * the same stored hash. Wrong credentials are cached as wrong too, so
 * that repeating them costs no hash; a name that is no user's is checked
 * against a stand-in hash of the same cost and cached the same way, so
 * that neither the time of an answer nor the cache tells which names
 * exist.
 *
 * Failures are counted per client address in a table shared by the
 * workers (taken only on a failure or before a hash): after
 * auth.max_failures within auth.failure_window, the address gets 429
 * without any check for a failure_window.
 */
#include "config.h"

#ifdef HAVE_CRYPT
#include <crypt.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy.h"
#include "plat.h"
#include "certs/certs.h"

#define AUTH_CACHE_SLOTS	256	/* per worker, direct-mapped */
#define AUTH_LIMIT_SLOTS	1024	/* client addresses followed */
#define AUTH_LIMIT_PROBE	8	/* slots tried per address */

struct auth_entry {
	uint8_t		ae_key[32];
	int		ae_used;
	int		ae_ok;		/* 0: known wrong credentials */
	uint64_t	ae_expires;	/* monotonic ms */
	char		ae_user[HG_MAX_USER + 1];
	char		ae_hash[HG_MAX_USER_HASH + 1];
};

struct auth_state {
	unsigned		as_gen;		/* configuration generation */
	struct auth_entry	as_cache[AUTH_CACHE_SLOTS];
#ifdef HAVE_CRYPT
	struct crypt_data	as_crypt;
#endif
};

struct limit_entry {
	int		le_family;	/* 0: free */
	uint8_t		le_addr[16];
	unsigned	le_fails;
	uint64_t	le_start;	/* first failure of the window */
	uint64_t	le_until;	/* refused until then */
};

static pthread_mutex_t	 limit_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct limit_entry limits[AUTH_LIMIT_SLOTS];
static pthread_once_t	 key_once = PTHREAD_ONCE_INIT;
static uint8_t		 cache_key[32];

/* For /metrics: relaxed atomics, from any thread. */
static uint64_t		 count_hashes;		/* passwords hashed */
static uint64_t		 count_cache_hits;	/* answered from a cache */

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

/* The address's slot in the failure table (mutex held); NULL if none. */
static struct limit_entry *
limit_slot(int family, const uint8_t *addr, int create, uint64_t now)
{
	struct limit_entry	*le, *victim = NULL;
	size_t			 alen = family == 4 ? 4 : 16, i;
	uint32_t		 h = 2166136261u;

	for (i = 0; i < alen; i++)
		h = (h ^ addr[i]) * 16777619u;
	for (i = 0; i < AUTH_LIMIT_PROBE; i++) {
		le = &limits[(h + i) % AUTH_LIMIT_SLOTS];
		if (le->le_family == family &&
		    memcmp(le->le_addr, addr, alen) == 0)
			return (le);
		/* a free slot, or one whose story is over */
		if (victim == NULL && (le->le_family == 0 ||
		    (le->le_until <= now && le->le_start + 3600000 <= now)))
			victim = le;
	}
	if (!create)
		return (NULL);
	if (victim == NULL)
		victim = &limits[h % AUTH_LIMIT_SLOTS];
	memset(victim, 0, sizeof *victim);
	victim->le_family = family;
	memcpy(victim->le_addr, addr, alen);
	return (victim);
}

/* Is the address refused for too many failures? Returns seconds left. */
static unsigned
limit_check(int family, const uint8_t *addr)
{
	struct limit_entry	*le;
	uint64_t		 now = now_ms();
	unsigned		 left = 0;

	pthread_mutex_lock(&limit_mtx);
	if ((le = limit_slot(family, addr, 0, now)) != NULL &&
	    le->le_until > now)
		left = (unsigned)((le->le_until - now + 999) / 1000);
	pthread_mutex_unlock(&limit_mtx);
	return (left);
}

/* Count a failure; the address is refused once it has max in window. */
static void
limit_fail(const struct hg_config *cf, int family, const uint8_t *addr)
{
	struct limit_entry	*le;
	uint64_t		 now = now_ms();

	pthread_mutex_lock(&limit_mtx);
	le = limit_slot(family, addr, 1, now);
	if (le->le_fails == 0 ||
	    le->le_start + cf->cf_auth_fail_window <= now) {
		le->le_start = now;
		le->le_fails = 0;
	}
	if (++le->le_fails >= cf->cf_auth_max_failures) {
		le->le_until = now + cf->cf_auth_fail_window;
		le->le_fails = 0;
	}
	pthread_mutex_unlock(&limit_mtx);
}

static void
limit_forget(int family, const uint8_t *addr)
{
	struct limit_entry	*le;

	uint64_t		 now = now_ms();

	pthread_mutex_lock(&limit_mtx);
	if ((le = limit_slot(family, addr, 0, now)) != NULL &&
	    le->le_until <= now)
		le->le_fails = 0;
	pthread_mutex_unlock(&limit_mtx);
}

/* The counters of password checks, for /metrics (any thread). */
void
auth_counts(struct auth_counts *ac)
{
	memset(ac, 0, sizeof *ac);
	ac->ac_hashes = __atomic_load_n(&count_hashes, __ATOMIC_RELAXED);
	ac->ac_cache_hits = __atomic_load_n(&count_cache_hits,
	    __ATOMIC_RELAXED);
}

void
auth_state_free(struct worker *w)
{
	if (w->w_auth != NULL)
		explicit_bzero(w->w_auth, sizeof *w->w_auth);
	free(w->w_auth);
	w->w_auth = NULL;
}

/* The worker's cache, emptied when the configuration changed. */
static struct auth_state *
auth_state(struct worker *w)
{
	if (w->w_auth == NULL) {
		w->w_auth = xcalloc(1, sizeof *w->w_auth);
		w->w_auth->as_gen = w->w_gen;
	}
	if (w->w_auth->as_gen != w->w_gen) {
		memset(w->w_auth->as_cache, 0, sizeof w->w_auth->as_cache);
		w->w_auth->as_gen = w->w_gen;
	}
	return (w->w_auth);
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
 * Check user:pass against the users file with crypt(3); an unknown user
 * costs the same hash (stored_hash()). Returns the user or NULL.
 */
static const struct hg_user *
verify(struct auth_state *as, const struct hg_config *cf, const char *user,
    const char *pass)
{
	const struct hg_user	*u;
	const char		*setting, *out;

	if ((setting = stored_hash(cf, user, &u)) == NULL)
		return (NULL);
#ifdef HAVE_CRYPT
	out = crypt_rn(pass, setting, &as->as_crypt, sizeof as->as_crypt);
	__atomic_add_fetch(&count_hashes, 1, __ATOMIC_RELAXED);
#else
	/* Not reached: a configuration with users is refused at load. */
	(void)setting;
	out = NULL;
#endif
	if (out == NULL || out[0] == '*' || u == NULL ||
	    !secret_equal(out, u->us_hash))
		return (NULL);
	return (u);
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

static void
auth_challenge(struct conn *c, const char *why, const char *end)
{
	char	headers[256], body[256];

	snprintf(headers, sizeof headers,
	    "Proxy-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n",
	    c->cn_cfg->cf_auth_realm ? c->cn_cfg->cf_auth_realm :
	    HG_AUTH_REALM);
	snprintf(body, sizeof body, "hushgate: %s\n", why);
	conn_respond(c, 407, headers, NULL, body, end, 0);
}

/*
 * The authentication of a request (origin-form requests to the proxy
 * itself never come here). Returns 0 when the request may go on (auth
 * off, or c->cn_user set), or -1 when it was answered (407, 429).
 */
int
auth_request(struct conn *c, const struct http_request *rq)
{
	const struct hg_config	*cf = c->cn_cfg;
	const struct http_header *h;
	const struct hg_user	*u;
	struct auth_state	*as;
	struct auth_entry	*e;
	uint8_t			 key[32];
	char			*buf, user[HG_MAX_USER + 1];
	char			 pass[HG_MAX_PASSWORD + 1], headers[64];
	const char		*why, *setting;
	unsigned		 left;
	int			 ok;

	if (!cf->cf_auth_basic)
		return (0);
	if ((h = auth_header(rq)) == NULL) {
		auth_challenge(c, "proxy authentication required",
		    "auth_required");
		return (-1);
	}
	as = auth_state(c->cn_w);
	pthread_once(&key_once, key_init);
	buf = xmalloc(sizeof cache_key + h->hh_valuelen);
	memcpy(buf, cache_key, sizeof cache_key);
	memcpy(buf + sizeof cache_key, h->hh_value, h->hh_valuelen);
	tls_sha256(buf, sizeof cache_key + h->hh_valuelen, key);
	explicit_bzero(buf, sizeof cache_key + h->hh_valuelen);
	free(buf);
	e = &as->as_cache[key[0]];
	user[0] = '\0';
	ok = -1;
	why = "wrong user name or password";
	if (e->ae_used && memcmp(e->ae_key, key, sizeof key) == 0 &&
	    e->ae_expires > now_ms() &&
	    (setting = stored_hash(cf, e->ae_user, NULL)) != NULL &&
	    strcmp(setting, e->ae_hash) == 0) {
		/* checked before, against the same stored hash */
		snprintf(user, sizeof user, "%s", e->ae_user);
		ok = e->ae_ok;
		__atomic_add_fetch(&count_cache_hits, 1, __ATOMIC_RELAXED);
	}
	if (ok != 1 && (left = limit_check(c->cn_family, c->cn_addr)) != 0) {
		log_info("%s: proxy authentication refused for %us: too many "
		    "failures", c->cn_client, left);
		snprintf(headers, sizeof headers, "Retry-After: %u\r\n", left);
		conn_respond(c, 429, headers, NULL, "hushgate: too many failed "
		    "authentication attempts\n", "auth_blocked", 0);
		return (-1);
	}
	if (ok == -1 && basic_decode(h->hh_value, h->hh_valuelen, user,
	    sizeof user, pass, sizeof pass, &why) != 0) {
		ok = 0;
		user[0] = '\0';
	} else if (ok == -1) {
		u = verify(as, cf, user, pass);
		explicit_bzero(pass, sizeof pass);
		ok = u != NULL;
		memset(e, 0, sizeof *e);
		/* an unknown name is kept too, with its stand-in hash */
		if ((setting = stored_hash(cf, user, NULL)) != NULL) {
			e->ae_used = 1;
			e->ae_ok = ok;
			memcpy(e->ae_key, key, sizeof key);
			e->ae_expires = now_ms() + cf->cf_auth_cache_ttl;
			snprintf(e->ae_user, sizeof e->ae_user, "%s", user);
			snprintf(e->ae_hash, sizeof e->ae_hash, "%s", setting);
		}
		if (ok)
			limit_forget(c->cn_family, c->cn_addr);
	}
	if (!ok) {
		char	esc[HG_MAX_USER * 6 + 1];

		json_escape(esc, sizeof esc, user);
		log_info("%s: proxy authentication failed for user '%s': %s",
		    c->cn_client, user[0] ? esc : "-", why);
		limit_fail(cf, c->cn_family, c->cn_addr);
		auth_challenge(c, "proxy authentication failed",
		    "auth_failed");
		return (-1);
	}
	snprintf(c->cn_user, sizeof c->cn_user, "%s", user);
	return (0);
}
