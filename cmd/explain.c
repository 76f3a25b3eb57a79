/*
 * explain.c -- `hushgate explain`: what the proxy would decide for each
 * target, through the very functions the proxy calls (policy_decide,
 * policy_decide_sni for the server name of --sni, and config_route for
 * the upstreams an allowed request goes through).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"

#define EXPLAIN_LINE_MAX	1024

/* Print a decision's action, category and rule after the target. */
static void
explain_decision(enum hg_scheme scheme, const struct hg_decision *d)
{
	if (d->d_reason == HG_REASON_PORT)
		printf("deny\t-\t%s\n", scheme == HG_SCHEME_HTTP ?
		    "http_ports" : "connect_ports");
	else if (d->d_reason == HG_REASON_DEFAULT)
		printf("%s\t-\t-\n", action_name(d->d_action));
	else
		printf("%s\t%s\t%s:%u\n", action_name(d->d_action),
		    d->d_category_name, d->d_file, d->d_line);
}

/*
 * --sni: the decision on the server name of a tunnel to t, whose own
 * decision is d, then what the tunnel gets under the configuration's
 * tls_sni: "outcome", the action of its record, and how it ends (denied
 * or port_denied, a 403; sni_denied or sni_mismatch, closed after its
 * 200; relay). Returns 0, or -1 when sni is not a host name (the proxy
 * would relay it as a hello without a name).
 */
static int
explain_sni(struct hg_config *cf, uint32_t group, const struct hg_target *t,
    const struct hg_decision *d, const char *sni)
{
	struct hg_decision	 sd, rd = *d;
	const char		*why, *how = "relay";
	char			 name[HG_MAX_HOST + 2];
	size_t			 n, len = strlen(sni);
	int			 mode = cf->cf_tls_sni, ok;

	/* The name as the proxy reads it: lowercase, no trailing dot. */
	for (n = 0; n < len && n < sizeof name - 1; n++)
		name[n] = sni[n] >= 'A' && sni[n] <= 'Z' ?
		    (char)(sni[n] - 'A' + 'a') : sni[n];
	name[n] = '\0';
	if (n > 1 && name[n - 1] == '.')
		name[n - 1] = '\0';
	if (len >= sizeof name) {
		ok = 0;
		why = "host name longer than 253 characters";
	} else
		ok = policy_decide_sni(cf, t, name, group, &sd, &why) == 0;
	printf("sni %s:%u\t", name, t->t_port);
	if (ok)
		explain_decision(HG_SCHEME_CONNECT, &sd);
	else {
		printf("invalid\t-\t-\n");
		fprintf(stderr, "hushgate: --sni %s: %s\n", sni, why);
	}
	if (d->d_action == HG_ACT_DENY)
		how = d->d_reason == HG_REASON_PORT ? "port_denied" : "denied";
	else if (mode == HG_SNI_REQUIRE && strcmp(name, t->t_host) != 0) {
		how = "sni_mismatch";
		rd.d_action = HG_ACT_DENY;
	} else if (mode == HG_SNI_DECIDE && ok) {
		if (policy_sni_overrides(d, &sd))
			rd = sd;
		if (sd.d_action == HG_ACT_DENY)
			how = "sni_denied";
	}
	printf("outcome\t%s\t%s\ttls_sni %s\n", action_name(rd.d_action), how,
	    config_tls_sni_name(mode));
	return (ok ? 0 : -1);
}

/*
 * The route of an allowed request (the configuration has upstreams):
 * "route HOST:PORT<TAB>via<TAB>corp1,corp2,direct<TAB>FILE:LINE", the
 * place being route_default when no entry of routes matched.
 */
static void
explain_route(const struct hg_config *cf, const struct hg_target *t,
    const struct hg_decision *d)
{
	const struct hg_route	*ro = config_route(cf, t, d);
	char			 via[HG_MAX_VIA * (HG_MAX_UPSTREAM_NAME + 1) + 1];

	config_route_text(cf, ro, via, sizeof via);
	printf(t->t_kind == HG_HOST_IPV6 ? "route [%s]:%u\t" : "route %s:%u\t",
	    t->t_host, t->t_port);
	if (ro->ro_file != NULL)
		printf("via\t%s\t%s:%u\n", via, ro->ro_file, ro->ro_line);
	else
		printf("via\t%s\troute_default\n", via);
}

/* Print one answer; returns 0, or -1 for an invalid target. */
static int
explain_one(struct hg_config *cf, enum hg_scheme scheme, uint32_t group,
    const char *sni, const char *s, size_t len)
{
	struct hg_target	t;
	struct hg_decision	d;
	const char		*why;

	if (target_parse(s, len, scheme == HG_SCHEME_HTTP ? 80 : 443, &t,
	    &why) != 0) {
		printf("%.*s\tinvalid\t-\t-\n", (int)len, s);
		fprintf(stderr, "hushgate: %.*s: %s\n", (int)len, s, why);
		return (-1);
	}
	policy_decide_group(cf, scheme, &t, group, &d);
	printf(t.t_kind == HG_HOST_IPV6 ? "[%s]:%u\t" : "%s:%u\t", t.t_host,
	    t.t_port);
	explain_decision(scheme, &d);
	if (cf->cf_nupstreams > 0 && d.d_action != HG_ACT_DENY)
		explain_route(cf, &t, &d);
	if (sni != NULL)
		return (explain_sni(cf, group, &t, &d, sni));
	return (0);
}

/*
 * Explain each argument, or each line of stdin when there is none (blank
 * lines and lines starting with '#' are skipped), for a client of group
 * (HG_NONE: none); with sni (NULL: none), each as a CONNECT whose
 * ClientHello names sni. Returns the exit code: 0, or 1 when a target was
 * invalid.
 */
int
explain_main(struct hg_config *cf, enum hg_scheme scheme, uint32_t group,
    const char *sni, int argc, char **argv)
{
	static char	 obuf[1 << 16];
	char		 line[EXPLAIN_LINE_MAX];
	int		 i, bad = 0;
	size_t		 len, start;

	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	if (argc > 0) {
		for (i = 0; i < argc; i++)
			if (explain_one(cf, scheme, group, sni, argv[i],
			    strlen(argv[i])) != 0)
				bad = 1;
		fflush(stdout);
		return (bad);
	}
	while (fgets(line, sizeof line, stdin) != NULL) {
		len = strlen(line);
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			int c;

			/* Over-long line: report it and skip the rest. */
			while ((c = getchar()) != EOF && c != '\n')
				;
			printf("%.64s...\tinvalid\t-\t-\n", line);
			fprintf(stderr, "hushgate: line too long\n");
			bad = 1;
			continue;
		}
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r' || line[len - 1] == ' ' ||
		    line[len - 1] == '\t'))
			line[--len] = '\0';
		start = strspn(line, " \t");
		if (line[start] == '\0' || line[start] == '#')
			continue;
		if (explain_one(cf, scheme, group, sni, line + start,
		    len - start) != 0)
			bad = 1;
	}
	fflush(stdout);
	return (bad);
}
