/*
 * cfglog.c -- where the decision log goes: log.outputs, a list of
 * {to, format} entries, each written with its own format; or the older
 * single output of log.decisions and log.format, which stays as it was.
 * Both forms in one log mapping are refused. Either way the loaded
 * configuration holds the outputs in cf_logouts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

/* The key called name in the mapping map, or NULL. */
static yaml_node_t *
map_key(struct loader *ld, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t	*p = cfg_map_pair(ld, map, name);

	return (p != NULL ? cfg_node(ld, p->key) : NULL);
}

/* log: its keys, and no mixing of outputs with decisions or format. */
void
cfg_set_log(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	yaml_node_t	*outs, *old;

	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "log") != 0)
		return;
	outs = map_key(ld, v, "outputs");
	if ((old = map_key(ld, v, "decisions")) == NULL)
		old = map_key(ld, v, "format");
	if (outs != NULL && old != NULL)
		cfg_err(ld, outs, "log.outputs: not together with "
		    "log.%s; write that output as an entry of log.outputs",
		    cfg_scalar(old));
	cfg_walk(ld, CS_LOG, v, arg, NULL);
}

/* log.outputs[].to: a file, "-" (standard output) or syslog. */
void
cfg_set_logout_to(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_logout	*lo = arg;
	const char		*s;

	if ((s = cfg_want_string(ld, v, "log.outputs.to")) == NULL)
		return;
	if (*s == '\0') {
		cfg_err(ld, v, "log.outputs.to: expected a file, '-' or "
		    "syslog");
		return;
	}
	if (strcmp(s, "syslog") == 0 &&
	    cfg_platform_lacks(ld, v, "log.outputs.to: syslog"))
		return;
	free(lo->lo_to);
	if (strcmp(s, "-") == 0 || strcmp(s, "syslog") == 0)
		lo->lo_to = xstrdup(s);
	else
		lo->lo_to = path_join_dir(ld->ld_file, s);
}

/* One entry of log.outputs, into the configuration. */
static void
logout_item(struct loader *ld, yaml_node_t *n)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_logout	 lo;
	size_t			 i;

	if (cfg_want_kind(ld, n, YAML_MAPPING_NODE, "log.outputs") != 0)
		return;
	memset(&lo, 0, sizeof lo);
	lo.lo_format = HG_LOG_JSON;
	cfg_walk(ld, CS_LOGOUT, n, &lo, NULL);
	if (lo.lo_to == NULL) {
		if (map_key(ld, n, "to") == NULL)
			cfg_err(ld, n, "log.outputs: to is missing");
		return;
	}
	for (i = 0; i < cf->cf_nlogouts; i++)
		if (strcmp(cf->cf_logouts[i].lo_to, lo.lo_to) == 0)
			break;
	if (i < cf->cf_nlogouts)
		cfg_err(ld, n, "log.outputs: %s is an output already",
		    lo.lo_to);
	else if (cf->cf_nlogouts == HG_MAX_LOG_OUTPUTS)
		cfg_err(ld, n, "log.outputs: more than %d outputs",
		    HG_MAX_LOG_OUTPUTS);
	else {
		cf->cf_logouts[cf->cf_nlogouts++] = lo;
		return;
	}
	free(lo.lo_to);
}

/* log.outputs: a list of {to, format}; an empty list is no log. */
void
cfg_set_log_outputs(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	yaml_node_item_t	*it;
	size_t			 i;

	for (i = 0; i < cf->cf_nlogouts; i++)
		free(cf->cf_logouts[i].lo_to);
	cf->cf_nlogouts = 0;
	cf->cf_logouts_set = 1;
	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "log.outputs") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		logout_item(ld, cfg_node(ld, *it));
}

/* Without log.outputs, the one output of log.decisions and log.format. */
void
cfg_log_finish(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;

	if (cf->cf_logouts_set || cf->cf_decisions == NULL)
		return;
	cf->cf_logouts[0].lo_to = xstrdup(cf->cf_decisions);
	cf->cf_logouts[0].lo_format = cf->cf_log_format;
	cf->cf_nlogouts = 1;
}
