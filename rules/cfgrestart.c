/*
 * cfgrestart.c -- what a reload cannot apply: the settings the keyword
 * table (cfgkeys.c) marks CK_RESTART, compared between the running
 * configuration and the new one, each change said in a message.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

static int
strings_same(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

static int
cidrs_same(const struct hg_cidr *a, size_t na, const struct hg_cidr *b,
    size_t nb)
{
	size_t	i;

	if (na != nb)
		return (0);
	for (i = 0; i < na; i++)
		if (a[i].ci_family != b[i].ci_family ||
		    a[i].ci_bits != b[i].ci_bits ||
		    memcmp(a[i].ci_addr, b[i].ci_addr,
		    sizeof a[i].ci_addr) != 0)
			return (0);
	return (1);
}

static int
ports_same(const struct hg_portset *a, const struct hg_portset *b)
{
	size_t	i;

	if (a->ps_count != b->ps_count)
		return (0);
	for (i = 0; i < a->ps_count; i++)
		if (a->ps_ranges[i].pr_lo != b->ps_ranges[i].pr_lo ||
		    a->ps_ranges[i].pr_hi != b->ps_ranges[i].pr_hi)
			return (0);
	return (1);
}

/* Listeners of one kind: the same addresses, PROXY protocol and TLS. */
static int
listeners_same(const struct hg_config *a, const struct hg_config *b,
    enum hg_listen_kind kind)
{
	const struct hg_listener	*la = a->cf_listeners;
	const struct hg_listener	*lb = b->cf_listeners;
	const struct hg_listener	*ea = la + a->cf_nlisteners;
	const struct hg_listener	*eb = lb + b->cf_nlisteners;

	for (;; la++, lb++) {
		while (la < ea && la->li_kind != kind)
			la++;
		while (lb < eb && lb->li_kind != kind)
			lb++;
		if (la == ea || lb == eb)
			return (la == ea && lb == eb);
		if (strcmp(la->li_addr, lb->li_addr) != 0 ||
		    la->li_pp != lb->li_pp ||
		    (la->li_cert == NULL) != (lb->li_cert == NULL))
			return (0);
	}
}

/* Whether configurations a and b have the same value of the setting ck. */
static int
key_same(const struct cfg_key *ck, const struct hg_config *a,
    const struct hg_config *b)
{
	const char		*pa = (const char *)a + ck->ck_off;
	const char		*pb = (const char *)b + ck->ck_off;
	const struct cfg_key	*sub;

	switch (ck->ck_type) {
	case CT_OTHER:
		return (ck->ck_same == NULL || ck->ck_same(a, b));
	case CT_INCLUDE:
		return (1);
	case CT_SECTION:
		for (sub = cfg_keys; sub < cfg_keys + cfg_nkeys; sub++)
			if (sub->ck_section == (enum cfg_section)ck->ck_arg &&
			    !key_same(sub, a, b))
				return (0);
		return (1);
	case CT_UINT:
	case CT_TIMEOUT:
	case CT_DURATION:
		return (*(const unsigned *)pa == *(const unsigned *)pb);
	case CT_SWITCH:
	case CT_CHOICE:
		return (*(const int *)pa == *(const int *)pb);
	case CT_SIZE:
		return (*(const uint64_t *)pa == *(const uint64_t *)pb);
	case CT_RATIO:
		return (*(const double *)pa == *(const double *)pb);
	case CT_PATH:
		return (strings_same(*(char *const *)pa, *(char *const *)pb));
	case CT_CIDRS:
		return (cidrs_same(*(struct hg_cidr *const *)pa,
		    *(const size_t *)((const char *)a + ck->ck_noff),
		    *(struct hg_cidr *const *)pb,
		    *(const size_t *)((const char *)b + ck->ck_noff)));
	case CT_PORTS:
		return (ports_same((const struct hg_portset *)pa,
		    (const struct hg_portset *)pb));
	case CT_LISTEN:
		return (listeners_same(a, b, ck->ck_arg));
	}
	return (1);
}

/* Say, for each key of sec that needs a restart, if it changed. */
static size_t
restart_walk(enum cfg_section sec, const struct hg_config *running,
    const struct hg_config *cf, config_change_fn fn, void *arg)
{
	const struct cfg_key	*ck;
	char			 path[CFG_MAX_PATH], msg[128];
	size_t			 n = 0;

	for (ck = cfg_keys; ck < cfg_keys + cfg_nkeys; ck++) {
		if (ck->ck_section != sec)
			continue;
		if (!(ck->ck_flags & CK_RESTART)) {
			if (ck->ck_type == CT_SECTION)
				n += restart_walk(ck->ck_arg, running, cf, fn,
				    arg);
			continue;
		}
		if (key_same(ck, running, cf))
			continue;
		cfg_key_path(ck, path, sizeof path);
		if (ck->ck_type == CT_SECTION)
			snprintf(msg, sizeof msg, "%s changes take effect at "
			    "the next start", path);
		else
			snprintf(msg, sizeof msg, "a %s change takes effect at "
			    "the next start", path);
		fn(msg, arg);
		n++;
	}
	return (n);
}

/*
 * What a reload from running to cf cannot apply: calls fn with a message
 * ("a listen change takes effect at the next start") for each setting
 * that needs a restart and differs. Returns the number of messages.
 */
size_t
config_restart_changes(const struct hg_config *running,
    const struct hg_config *cf, config_change_fn fn, void *arg)
{
	return (restart_walk(CS_TOP, running, cf, fn, arg));
}
