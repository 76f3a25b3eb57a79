/*
 * unit.h -- the unit test binary: one cmocka binary, one group per module,
 * every case read from a table in tests/data/ (a case is a line or a small
 * file, not a new function).
 *
 * A group is built at run time: each table line becomes one CMUnitTest
 * whose state points at the parsed case, so that cmocka reports and counts
 * every case on its own.
 */
#ifndef HG_UNIT_H
#define HG_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifndef HG_TEST_DATA
#error "HG_TEST_DATA must name the tests/data directory"
#endif

#define UNIT_MAX_FIELDS	40	/* tab-separated fields in one table line */
#define UNIT_MAX_NAME	96	/* characters of a case name */

/* A group of cases, grown as tables are read. */
struct unit_group {
	const char		*ug_name;
	struct CMUnitTest	*ug_tests;
	size_t			 ug_count;
	size_t			 ug_cap;
};

/* One line of a table: fields split on tabs, as written (not unescaped). */
struct unit_line {
	char		*ul_file;	/* name relative to tests/data */
	unsigned	 ul_lineno;
	char		*ul_text;	/* the whole line */
	char		*ul_fields[UNIT_MAX_FIELDS];
	size_t		 ul_nfields;
};

/* An unescaped field: bytes and length (may hold NULs). */
struct unit_bytes {
	char		*ub_buf;	/* always NUL-terminated */
	size_t		 ub_len;
};

/* A kind of table line: its first field, the fields it needs, its test. */
struct unit_kind {
	const char		*uk_name;
	size_t			 uk_minfields;
	CMUnitTestFunction	 uk_fn;
};

/* hg_unit.c: the framework */
void		 unit_add(struct unit_group *, const char *,
		    CMUnitTestFunction, void *);
void		 unit_add_error(struct unit_group *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		*unit_keep(void *);
char		*unit_strdup(const char *);
void		*unit_exact_copy(const void *, size_t);
int		 unit_hexval(int);
char		*unit_printf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
char		*unit_data_path(const char *);
char		*unit_read_file(const char *, size_t *);
size_t		 unit_read_table(struct unit_group *, const char *,
		    struct unit_line ***);
char		*unit_case_name(const struct unit_line *, const char *);
void		 unit_add_table(struct unit_group *, const char *,
		    const struct unit_kind *, size_t);
int		 unit_unescape(const char *, struct unit_bytes *);
struct unit_bytes unit_field(const struct unit_line *, size_t);
char		*unit_show(const char *, size_t);
char		**unit_list_dir(const char *, const char *, size_t *);
int		 unit_has_prefix(const char *, const char *);
int		 unit_json_string_valid(const char *, size_t);
int		 unit_json_object_valid(const char *, size_t);

/* test_host.c: host_normalise, target_parse, port_parse */
void		 test_host_group(struct unit_group *);
/* test_rules.c: ruleset_add_pattern, and policy over match/ configs */
void		 test_rules_group(struct unit_group *);
/* test_config.c: config_load errors and valid configurations */
void		 test_config_group(struct unit_group *);
/* test_http.c: request heads, json_escape, dlog_format(_text) */
void		 test_http_group(struct unit_group *);
/* test_gateway.c: addrclass_of, proxyproto_parse, tls_hello_sni */
void		 test_gateway_group(struct unit_group *);
/* test_listsrc.c: url: lists (URL, sizes, cache metadata, shrink guard,
 * download response heads) */
void		 test_listsrc_group(struct unit_group *);
/* test_pac.c: the PAC generator's tables over pac/ configs */
void		 test_pac_group(struct unit_group *);
/* test_certs.c: certs init arguments and subjectAltName */
void		 test_certs_group(struct unit_group *);
/* test_auth.c: users file lines, Basic credentials, client groups */
void		 test_auth_group(struct unit_group *);
/* test_regfile.c: the backup file of hushgate winhttp */
void		 test_regfile_group(struct unit_group *);
/* test_winhttp.c: WinHttpSettings and DefaultConnectionSettings bytes */
void		 test_winhttp_group(struct unit_group *);
/* test_conform.c: HTTP/1.1 conformance tables (RFC 9112) */
void		 test_conform_group(struct unit_group *);
void		 test_ldap_group(struct unit_group *);
/* test_upstream.c: parent proxies (upstreams.tsv) */
void		 test_upstream_group(struct unit_group *);

#endif /* HG_UNIT_H */
