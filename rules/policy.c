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
	const struct hg_portset	*ports;

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
	if (d->d_action == HG_ACT_NONE) {
		d->d_action = cf->cf_default;
		d->d_reason = HG_REASON_DEFAULT;
	}
}
