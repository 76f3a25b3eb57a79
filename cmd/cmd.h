/*
 * cmd.h -- the command-line commands besides the daemon: each takes the
 * arguments after its name and returns the exit status.
 */
#ifndef HG_CMD_H
#define HG_CMD_H

#include "proxy/proxy.h"

/* explain.c: hushgate explain */
int		 explain_main(struct hg_config *, enum hg_scheme, uint32_t,
		    const char *, int, char **);

/* paccmd.c: hushgate pac */
int		 pac_main(int, char **);

/* pacwin.c: hushgate pac --emit-windows DIR --pac-url URL */
int		 pac_url_ok(const char *);
int		 pac_emit_windows(const char *, const char *, const char *);

/* userscmd.c: hushgate users */
int		 users_main(int, char **);

/* report.c: hushgate report */
int		 report_main(int, char **);

/* rpttab.c: string tables, each distinct string a dense number */
struct rpttab_slot;
struct rpttab {
	struct rpttab_slot	*rt_slots;
	size_t			 rt_mask;	/* slots - 1 */
	size_t			 rt_count;	/* strings */
	uint32_t		 rt_last;	/* the one last looked up */
	size_t			*rt_off;	/* rt_count + 1 offsets */
	size_t			 rt_offcap;
	char			*rt_arena;
	size_t			 rt_arenacap;
};
void		 rpttab_init(struct rpttab *);
void		 rpttab_free(struct rpttab *);
uint32_t	 rpttab_intern(struct rpttab *, const char *, size_t, int *);
const char	*rpttab_key(const struct rpttab *, uint32_t);

/* rptin.c: the decision log's lines, from plain or gzip files */
#define RPT_MAX_FIELD	1024	/* a string field, NUL included */
#define RPT_MAX_LINE	65536		/* a longer line is skipped */

enum rpt_action {
	RPT_ALLOW = 0,
	RPT_DENY,
	RPT_AUDIT,
	RPT_NOACTION,			/* null: no decision taken */
	RPT_NACTIONS
};

struct rpt_rec {
	int64_t		 rr_ms;		/* ts, ms since 1970 */
	uint64_t	 rr_up;		/* bytes_up */
	uint64_t	 rr_down;	/* bytes_down */
	enum rpt_action	 rr_action;
	int		 rr_default;	/* the default decided */
	unsigned	 rr_seen;	/* fields read (rptin.c) */
	unsigned	 rr_null;	/* fields read as null */
	const char	*rr_bad;	/* why the line is not a record */
	/* "" when null or absent */
	char		 rr_client[RPT_MAX_FIELD];
	char		 rr_user[RPT_MAX_FIELD];
	char		 rr_host[RPT_MAX_FIELD];
	char		 rr_category[RPT_MAX_FIELD];
	char		 rr_rule[RPT_MAX_FIELD];
	char		 rr_end[64];
	char		 rr_actname[16];
	char		 rr_ts[64];
};

struct rptin {
	const char	*ri_name;	/* the path, "-" for stdin */
	int		 ri_fd;
	int		 ri_own;	/* ri_fd is ours to close */
	void		*ri_z;		/* inflate_state (gzip), or NULL */
	unsigned char	*ri_raw;	/* compressed bytes read */
	size_t		 ri_rawlen;
	int		 ri_rawend;	/* no more compressed bytes */
	char		*ri_buf;	/* the log's bytes */
	size_t		 ri_off;	/* next line starts here */
	size_t		 ri_len;
	int		 ri_eof;
	unsigned long long ri_line;	/* number of the last line read */
	int		 ri_first;	/* no non-blank line seen yet */
	void		*ri_yajl;	/* parser, reused across lines */
	struct rpt_rec	*ri_rec;	/* record being filled */
	int		 ri_depth;
	int		 ri_key;
};

#define RPTIN_EOF	0
#define RPTIN_REC	1
#define RPTIN_SKIP	2		/* a line that is not a record */
int		 rptin_open(struct rptin *, const char *, char **);
int		 rptin_next(struct rptin *, struct rpt_rec *, char **);
void		 rptin_close(struct rptin *);
int		 rpt_time_parse(const char *, size_t, int64_t *);
void		 rpt_time_format(int64_t, char *, size_t);

/* rptstat.c: the counts of a report, by action, host, client ... */
#define RPT_DOMAIN_CLIENTS	8	/* clients kept per unknown domain */
#define RPT_NONE		UINT32_MAX

struct rpt_counts {
	uint64_t	 rc_req[RPT_NACTIONS];
	uint64_t	 rc_up;
	uint64_t	 rc_down;
};

struct rpt_host {
	struct rpt_counts rh_c;
	uint32_t	 rh_cat;	/* rs_cats: its last deny's category */
	uint32_t	 rh_rule;	/* rs_rules: its last deny's rule */
	uint32_t	 rh_domain;	/* rs_domains (rh_unknown > 0) */
	uint64_t	 rh_unknown;	/* requests the default decided */
	int64_t		 rh_first;	/* of those, ms */
	int64_t		 rh_last;
};

struct rpt_domain {
	uint64_t	 rd_req;
	uint32_t	 rd_hosts;
	uint32_t	 rd_nclients;
	uint32_t	 rd_clients[RPT_DOMAIN_CLIENTS];	/* rs_clients */
	int		 rd_more;	/* more clients than listed */
	int64_t		 rd_first;
	int64_t		 rd_last;
};

struct rptstat {
	struct rpt_counts	 rs_total;
	uint64_t		 rs_up[RPT_NACTIONS];
	uint64_t		 rs_down[RPT_NACTIONS];
	uint64_t		 rs_records;
	int64_t			 rs_first;	/* ms, first record */
	int64_t			 rs_last;	/* ms, last record */
	struct rpttab		 rs_hosts;
	struct rpttab		 rs_cats;
	struct rpttab		 rs_rules;
	struct rpttab		 rs_clients;
	struct rpttab		 rs_users;
	struct rpttab		 rs_domains;
	struct rpt_host		*rs_host;	/* by rs_hosts number */
	struct rpt_counts	*rs_cat;
	struct rpt_counts	*rs_client;
	struct rpt_counts	*rs_user;
	struct rpt_domain	*rs_domain;
	size_t			 rs_hostcap, rs_catcap, rs_clientcap;
	size_t			 rs_usercap, rs_domaincap;
	const void		*rs_psl;	/* libpsl's built-in list */
};

void		 rptstat_init(struct rptstat *);
void		 rptstat_add(struct rptstat *, const struct rpt_rec *);
void		 rptstat_free(struct rptstat *);

/* rptsheet.c: a report's tables, printed as text, TSV or JSON */
enum rpt_format {
	RPT_TABLE = 0,
	RPT_TSV,
	RPT_JSON,
	RPT_YAML			/* --unknown only */
};
#define RPT_COL_NUM	1		/* right-aligned; a JSON number */
#define RPT_COL_LIST	2		/* comma-separated; a JSON array */

struct rptsheet {
	const char	*sh_name;	/* JSON key, TSV block */
	const char	*sh_title;	/* heading of the text table */
	size_t		 sh_ncols;
	const char	*const *sh_cols;
	const int	*sh_types;	/* RPT_COL_* or 0, per column */
	char		**sh_cells;	/* sh_nrows * sh_ncols */
	size_t		 sh_ncells;
	size_t		 sh_cap;
};
void		 rptsheet_init(struct rptsheet *, const char *,
		    const char *, size_t, const char *const *, const int *);
void		 rptsheet_cell(struct rptsheet *, const char *, ...)
		    __attribute__((format(HG_PRINTF, 2, 3)));
void		 rptsheet_print(FILE *, const struct rptsheet *,
		    enum rpt_format, int);
void		 rptsheet_free(struct rptsheet *);

/* rptout.c: the sections of the report */
struct rpt_opts {
	enum rpt_format	 ro_format;
	size_t		 ro_top;	/* rows per listing; 0: all */
	int		 ro_unknown;	/* the discovery listing only */
	int64_t		 ro_since;	/* ms, or INT64_MIN */
	int64_t		 ro_until;	/* ms, or INT64_MAX */
	const char	*ro_client;	/* only this client, or NULL */
};
void		 rptout_print(FILE *, const struct rptstat *,
		    const struct rpt_opts *, unsigned long long);

/* ctlcmd.c: hushgate ctl (not on Windows) */
int		 ctl_main(int, char **);

/* Windows only: win/winwire.c (hushgate winhttp ...: the machine's proxy
 * settings, with a backup and an exact undo) and win/winsvc.c (hushgate
 * service ...: the SCM service). Each returns the exit status. */
int		 winwire_main(int, char **);
int		 winsvc_main(int, char **);

#endif /* HG_CMD_H */
