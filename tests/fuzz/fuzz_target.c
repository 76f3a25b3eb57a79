/*
 * fuzz_target.c -- libFuzzer target for targets and patterns.
 *
 * Input: the first line is a target ("host:port", "[v6]:port", a host),
 * every further line (up to MAX_PATTERNS) a pattern. The target goes
 * through host_normalise() and target_parse(); the patterns are added with
 * ruleset_add_pattern() to a small ruleset that already holds a few rules
 * of every kind, which is compiled and asked about the target.
 *
 * Checks, beyond memory errors:
 *  - a normalised host is well formed (lowercase name of valid labels, or
 *    an address that prints back to itself) and normalises to itself;
 *  - an explicit port does not depend on the default port;
 *  - a refusal always has a reason; a decision names a real category;
 *  - an accepted plain name pattern "N" matches N, ".N" matches N and its
 *    subdomains, "*.N" matches its subdomains.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_PATTERNS	32
#define NCATS		3

static const char *base_patterns[] = {
	"example.test", ".ads.test", "*.sub.test", "*.vortex*.data.test",
	"array*-prod.test", "203.0.113.0/24", "2001:db8::/32",
	"[2001:db8::7]:443", "ported.test:[80,443]", ".ranged.test:[8000-8100]",
	"10.0.0.0/8:443", "x.y.z.test",
};

static void
check_target(const struct hg_target *t)
{
	struct hg_target	 again;
	const char		*why = NULL, *p, *label;
	char			 buf[INET6_ADDRSTRLEN];
	size_t			 n;
	int			 digits;

	if (t->t_len == 0 || t->t_len > HG_MAX_HOST ||
	    strlen(t->t_host) != t->t_len)
		abort();
	switch (t->t_kind) {
	case HG_HOST_NAME:
		label = t->t_host;
		digits = 1;
		for (p = t->t_host; ; p++) {
			if (*p == '.' || *p == '\0') {
				n = (size_t)(p - label);
				if (n == 0 || n > HG_MAX_LABEL)
					abort();
				if (*p == '\0')
					break;
				label = p + 1;
				digits = 1;
				continue;
			}
			if (!((*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' ||
			    *p == '_'))
				abort();
			if (*p < '0' || *p > '9')
				digits = 0;
		}
		if (digits)	/* numeric names are addresses or refused */
			abort();
		break;
	case HG_HOST_IPV4:
		if (inet_ntop(AF_INET, t->t_addr, buf, sizeof buf) == NULL ||
		    strcmp(buf, t->t_host) != 0)
			abort();
		break;
	case HG_HOST_IPV6:
		if (inet_ntop(AF_INET6, t->t_addr, buf, sizeof buf) == NULL ||
		    strcmp(buf, t->t_host) != 0)
			abort();
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)
		    (const void *)t->t_addr))
			abort();
		break;
	default:
		abort();
	}
	/* Normalising is idempotent. */
	if (host_normalise(t->t_host, t->t_len, &again, &why) != 0 ||
	    again.t_kind != t->t_kind || again.t_len != t->t_len ||
	    strcmp(again.t_host, t->t_host) != 0 ||
	    (t->t_kind != HG_HOST_NAME &&
	    memcmp(again.t_addr, t->t_addr, sizeof t->t_addr) != 0))
		abort();
}

static void
check_decision(const struct hg_ruleset *rs, const struct hg_decision *d)
{
	if (d->d_action == HG_ACT_NONE) {
		if (d->d_category != HG_NONE || d->d_category_name != NULL)
			abort();
		return;
	}
	if (d->d_action != HG_ACT_ALLOW && d->d_action != HG_ACT_DENY &&
	    d->d_action != HG_ACT_AUDIT)
		abort();
	if (d->d_category >= ruleset_ncategories(rs) ||
	    d->d_category_name == NULL || d->d_file == NULL ||
	    d->d_line == 0)
		abort();
}

/* Does host (a name, with "prefix" in front) match some rule at port? */
static void
must_match(const struct hg_ruleset *rs, const char *prefix,
    const char *host, uint16_t port)
{
	char			 buf[HG_MAX_HOST + 8];
	struct hg_target	 t;
	struct hg_decision	 d;
	const char		*why;
	size_t			 n;

	n = strlen(prefix) + strlen(host);
	if (n >= sizeof buf || n > HG_MAX_HOST)
		return;
	memcpy(buf, prefix, strlen(prefix));
	memcpy(buf + strlen(prefix), host, strlen(host) + 1);
	if (host_normalise(buf, n, &t, &why) != 0 ||
	    t.t_kind != HG_HOST_NAME)
		return;
	t.t_port = port;
	ruleset_match(rs, &t, &d);
	check_decision(rs, &d);
	if (d.d_action == HG_ACT_NONE)
		abort();
}

/* The matching oracle for an accepted pattern without port or glob. */
static void
oracle(const struct hg_ruleset *rs, const char *pat, size_t len)
{
	char			 buf[HG_MAX_HOST + 8];
	struct hg_target	 t;
	const char		*why, *name = buf;
	int			 sub = 0, suffix = 0;

	if (len >= sizeof buf || memchr(pat, '\0', len) != NULL)
		return;
	memcpy(buf, pat, len);
	buf[len] = '\0';
	if (strpbrk(buf, ":[]/") != NULL)
		return;
	if (buf[0] == '*' && buf[1] == '.') {
		sub = 1;
		name += 2;
	} else if (buf[0] == '.') {
		suffix = 1;
		name += 1;
	}
	if (strchr(name, '*') != NULL)
		return;
	if (host_normalise(name, strlen(name), &t, &why) != 0 ||
	    t.t_kind != HG_HOST_NAME)
		return;
	if (!sub)
		must_match(rs, "", t.t_host, 443);
	if (sub || suffix)
		must_match(rs, "a.", t.t_host, 443);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*in = (const char *)data, *why, *eol, *line;
	struct hg_target	 t, t2;
	struct hg_decision	 d;
	struct hg_ruleset	*rs;
	struct hg_errors	 warn;
	const char		*pats[MAX_PATTERNS];
	size_t			 lens[MAX_PATTERNS];
	int			 ok[MAX_PATTERNS];
	size_t			 tlen, i, npat = 0, llen;
	uint32_t		 file, cats[NCATS];
	char			*copy;
	int			 valid;

	eol = memchr(in, '\n', size);
	tlen = eol ? (size_t)(eol - in) : size;

	/* The target alone, in an exact-size buffer. */
	if ((copy = malloc(tlen ? tlen : 1)) == NULL)
		abort();
	memcpy(copy, in, tlen);
	why = NULL;
	if (host_normalise(copy, tlen, &t, &why) == 0)
		check_target(&t);
	else if (why == NULL)
		abort();
	why = NULL;
	valid = target_parse(copy, tlen, 443, &t, &why) == 0;
	if (valid)
		check_target(&t);
	else if (why == NULL)
		abort();
	why = NULL;
	if (target_parse(copy, tlen, 0, &t2, &why) == 0) {
		/* A port was given: the default plays no part. */
		if (!valid || t2.t_port != t.t_port ||
		    strcmp(t2.t_host, t.t_host) != 0 || t2.t_kind != t.t_kind)
			abort();
	} else if (why == NULL)
		abort();
	free(copy);

	rs = ruleset_new();
	file = ruleset_add_file(rs, "fuzz");
	cats[0] = ruleset_add_category(rs, "first", HG_ACT_DENY, file, 1);
	cats[1] = ruleset_add_category(rs, "second", HG_ACT_ALLOW, file, 2);
	cats[2] = ruleset_add_category(rs, "third", HG_ACT_AUDIT, file, 3);
	for (i = 0; i < sizeof base_patterns / sizeof base_patterns[0]; i++)
		if (ruleset_add_pattern(rs, cats[i % NCATS], base_patterns[i],
		    strlen(base_patterns[i]), file, (uint32_t)(100 + i),
		    &why) != 0)
			abort();
	/* The patterns, each in an exact-size buffer. */
	for (line = eol ? eol + 1 : NULL; line != NULL &&
	    line < in + size && npat < MAX_PATTERNS; npat++) {
		eol = memchr(line, '\n', (size_t)(in + size - line));
		llen = eol ? (size_t)(eol - line) : (size_t)(in + size - line);
		if ((copy = malloc(llen ? llen : 1)) == NULL)
			abort();
		memcpy(copy, line, llen);
		why = NULL;
		pats[npat] = line;
		lens[npat] = llen;
		ok[npat] = ruleset_add_pattern(rs, cats[npat % NCATS], copy,
		    llen, file, (uint32_t)(1000 + npat), &why) == 0;
		if (!ok[npat] && why == NULL)
			abort();
		free(copy);
		line = eol ? eol + 1 : NULL;
	}
	errors_init(&warn);
	ruleset_compile(rs, &warn);
	errors_free(&warn);

	if (valid) {
		ruleset_match(rs, &t, &d);
		check_decision(rs, &d);
	}
	/* Every accepted plain pattern matches what it names. */
	for (i = 0; i < npat; i++)
		if (ok[i])
			oracle(rs, pats[i], lens[i]);
	ruleset_free(rs);
	return (0);
}
