/*
 * explain.c -- `hushgate explain`: what the proxy would decide for each
 * target, through the very function the proxy calls (policy_decide).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"

#define EXPLAIN_LINE_MAX	1024

/* Print one answer; returns 0, or -1 for an invalid target. */
static int
explain_one(struct hg_config *cf, enum hg_scheme scheme, uint32_t group,
    const char *s, size_t len)
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
	if (d.d_reason == HG_REASON_PORT)
		printf("deny\t-\t%s\n", scheme == HG_SCHEME_HTTP ?
		    "http_ports" : "connect_ports");
	else if (d.d_reason == HG_REASON_DEFAULT)
		printf("%s\t-\t-\n", action_name(d.d_action));
	else
		printf("%s\t%s\t%s:%u\n", action_name(d.d_action),
		    d.d_category_name, d.d_file, d.d_line);
	return (0);
}

/*
 * Explain each argument, or each line of stdin when there is none (blank
 * lines and lines starting with '#' are skipped), for a client of group
 * (HG_NONE: none). Returns the exit code: 0, or 1 when a target was
 * invalid.
 */
int
explain_main(struct hg_config *cf, enum hg_scheme scheme, uint32_t group,
    int argc, char **argv)
{
	static char	 obuf[1 << 16];
	char		 line[EXPLAIN_LINE_MAX];
	int		 i, bad = 0;
	size_t		 len, start;

	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	if (argc > 0) {
		for (i = 0; i < argc; i++)
			if (explain_one(cf, scheme, group, argv[i],
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
		if (explain_one(cf, scheme, group, line + start,
		    len - start) != 0)
			bad = 1;
	}
	fflush(stdout);
	return (bad);
}
