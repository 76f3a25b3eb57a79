/*
 * authlimit.c -- what Basic (auth.c) and Negotiate (negotiate.c) proxy
 * authentication share: the failures counted per client address, and the
 * answers they give a request that may not go on (407 with the
 * challenges of every configured scheme, 429, 503).
 *
 * Failures are counted per client address in a table shared by the
 * workers (taken only on a failure, or before a check that costs): after
 * auth.max_failures within auth.failure_window, the address gets 429
 * without any check for a failure_window. Any thread may count.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conn.h"

#define AUTH_LIMIT_BUCKETS	128	/* client addresses followed: */
#define AUTH_LIMIT_CHAIN	8	/* ... this many per bucket */

struct limit_entry {
	struct addrent	le_ent;
	unsigned	le_fails;
	uint64_t	le_start;	/* first failure of the window */
	uint64_t	le_until;	/* refused until then */
};

static int	limit_stale(const struct addrent *, uint64_t);

static struct addrent	*limit_buckets[AUTH_LIMIT_BUCKETS];
static struct addrtab	 limits = ADDRTAB_INITIALIZER(limit_buckets,
			    AUTH_LIMIT_CHAIN, struct limit_entry, limit_stale);

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* A record whose story is over: one that a new address may take. */
static int
limit_stale(const struct addrent *ae, uint64_t now)
{
	const struct limit_entry	*le = (const struct limit_entry *)ae;

	return (le->le_until <= now && le->le_start + 3600000 <= now);
}

/* Is the address refused for too many failures? Returns seconds left. */
unsigned
auth_limit_check(int family, const uint8_t *addr)
{
	struct limit_entry	*le;
	uint64_t		 now = now_ms();
	unsigned		 left = 0;

	addrtab_lock(&limits);
	le = (struct limit_entry *)addrtab_find(&limits, family, addr);
	if (le != NULL && le->le_until > now)
		left = (unsigned)((le->le_until - now + 999) / 1000);
	addrtab_unlock(&limits);
	return (left);
}

/* Count a failure; the address is refused once it has max in window
 * (ms). Out of memory, the failure goes uncounted. */
void
auth_limit_fail(unsigned max, unsigned window, int family,
    const uint8_t *addr)
{
	struct limit_entry	*le;
	uint64_t		 now = now_ms();

	addrtab_lock(&limits);
	le = (struct limit_entry *)addrtab_find(&limits, family, addr);
	if (le == NULL)
		le = (struct limit_entry *)addrtab_add(&limits, family, addr,
		    now);
	if (le == NULL) {
		addrtab_unlock(&limits);
		log_warnx("auth: out of memory: a failure not counted");
		return;
	}
	if (le->le_fails == 0 || le->le_start + window <= now) {
		le->le_start = now;
		le->le_fails = 0;
	}
	if (++le->le_fails >= max) {
		le->le_until = now + window;
		le->le_fails = 0;
	}
	addrtab_unlock(&limits);
}

/* A success: the address starts counting again (unless refused now). */
void
auth_limit_forget(int family, const uint8_t *addr)
{
	struct limit_entry	*le;
	uint64_t		 now = now_ms();

	addrtab_lock(&limits);
	le = (struct limit_entry *)addrtab_find(&limits, family, addr);
	if (le != NULL && le->le_until <= now)
		le->le_fails = 0;
	addrtab_unlock(&limits);
}

/* The answer to give: status, header lines, body (a line). */
enum auth_verdict
auth_deny(struct auth_answer *aa, int status, enum conn_end end,
    const char *headers, const char *body)
{
	memset(aa, 0, sizeof *aa);
	aa->aa_status = status;
	aa->aa_end = end;
	snprintf(aa->aa_headers, sizeof aa->aa_headers, "%s", headers);
	snprintf(aa->aa_body, sizeof aa->aa_body, "hushgate: %s\n", body);
	return (AUTH_DENY);
}

/*
 * 407 with a challenge for each configured scheme: Negotiate first (the
 * one a browser prefers, with the server's token when one is given:
 * a handshake that goes on), then Basic with the configured realm.
 */
enum auth_verdict
auth_challenge(const struct conn *c, struct auth_answer *aa, const char *why,
    enum conn_end end, const char *token)
{
	const struct hg_config	*cf = c->cn_cfg;
	char			 headers[sizeof aa->aa_headers];
	int			 n = 0;

	headers[0] = '\0';
	if (cf->cf_auth_negotiate)
		n = snprintf(headers, sizeof headers, "Proxy-Authenticate: "
		    "Negotiate%s%s\r\n", token ? " " : "", token ? token : "");
	if (cf->cf_auth_basic && n >= 0 && (size_t)n < sizeof headers)
		snprintf(headers + n, sizeof headers - (size_t)n,
		    "Proxy-Authenticate: Basic realm=\"%s\", "
		    "charset=\"UTF-8\"\r\n", cf->cf_auth_realm ?
		    cf->cf_auth_realm : HG_AUTH_REALM);
	return (auth_deny(aa, 407, end, headers, why));
}

/* 429 for an address refused for left seconds (auth_limit_check()). */
enum auth_verdict
auth_blocked(const struct conn *c, struct auth_answer *aa, unsigned left)
{
	char	headers[64];

	log_info("%s: proxy authentication refused for %us: too many "
	    "failures", c->cn_client, left);
	snprintf(headers, sizeof headers, "Retry-After: %u\r\n", left);
	return (auth_deny(aa, 429, END_AUTH_BLOCKED, headers,
	    "too many failed authentication attempts"));
}

/* Out of memory for this request: 503, and the record says error. */
enum auth_verdict
auth_nomem(const struct conn *c, struct auth_answer *aa)
{
	log_warnx("%s: proxy authentication: out of memory", c->cn_client);
	return (auth_deny(aa, 503, END_ERROR, "Retry-After: 1\r\n",
	    "out of memory, try again"));
}
