/*
 * policy.c -- the one decision function: the proxy, `hushgate explain`
 * and the PAC generator all call policy_decide(), so they cannot disagree.
 */
#include "config.h"

#include <string.h>

#include "rules.h"

/*
 * Decide what to do with a request for target t (host and port) arriving
 * as scheme. The port check comes first: a port outside connect_ports (or
 * http_ports) is denied whatever the host. Then the most specific rule;
 * then the global default.
 */
void
policy_decide(const struct hg_config *cf, enum hg_scheme scheme,
    const struct hg_target *t, struct hg_decision *d)
{
	policy_decide_group(cf, scheme, t, HG_NONE, d);
}

/*
 * The same for a client of group (an index in cf_groups, HG_NONE for
 * none): a matched category's action for that group, when it sets one,
 * replaces the category's own.
 */
void
policy_decide_group(const struct hg_config *cf, enum hg_scheme scheme,
    const struct hg_target *t, uint32_t group, struct hg_decision *d)
{
	const struct hg_portset		*ports;
	const struct hg_category	*ca;
	size_t				 i;

	ports = scheme == HG_SCHEME_HTTP ? &cf->cf_http_ports :
	    &cf->cf_connect_ports;
	if (!portset_contains(ports, t->t_port)) {
		memset(d, 0, sizeof *d);
		d->d_action = HG_ACT_DENY;
		d->d_reason = HG_REASON_PORT;
		d->d_category = HG_NONE;
		return;
	}
	ruleset_match(cf->cf_rules, t, d);
	if (group != HG_NONE && d->d_category != HG_NONE) {
		ca = ruleset_category_const(cf->cf_rules, d->d_category);
		for (i = 0; i < ca->ca_ngact; i++)
			if (ca->ca_gact[i].ga_group == group)
				d->d_action = ca->ca_gact[i].ga_action;
	}
	if (d->d_action == HG_ACT_NONE) {
		d->d_action = cf->cf_default;
		d->d_reason = HG_REASON_DEFAULT;
	}
}

/*
 * tls_sni decide: decide on name, the server name of the ClientHello of
 * a tunnel to t, as on a CONNECT to that name at t's port, for a client
 * of group. Fills d and returns 0, or returns -1 with *why set (static)
 * when name is not a host.
 */
int
policy_decide_sni(const struct hg_config *cf, const struct hg_target *t,
    const char *name, uint32_t group, struct hg_decision *d,
    const char **why)
{
	struct hg_target	st;

	memset(&st, 0, sizeof st);
	if (host_normalise(name, strlen(name), &st, why) != 0)
		return (-1);
	st.t_port = t->t_port;
	policy_decide_group(cf, HG_SCHEME_CONNECT, &st, group, d);
	return (0);
}

/* How strict an action is: deny over audit over allow. */
static int
policy_rank(enum hg_action a)
{
	switch (a) {
	case HG_ACT_DENY:
		return (2);
	case HG_ACT_AUDIT:
		return (1);
	default:
		return (0);
	}
}

/*
 * Whether the decision on the server name, sni, stands in the record of
 * a tunnel instead of the one on its CONNECT host, conn: when it is
 * stricter. Returns 1 or 0.
 */
int
policy_sni_overrides(const struct hg_decision *conn,
    const struct hg_decision *sni)
{
	return (policy_rank(sni->d_action) > policy_rank(conn->d_action));
}
