/*
 * test_http.c -- request and response heads (tests/data/requests.txt),
 * JSON escaping
 * (tests/data/json.tsv) and decision log lines (a table below), and a
 * Squid result code for every termination code.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/proxy.h"
#include "unit.h"

/* end<TAB>LENGTH|-1<TAB>INPUT */
static void
test_end_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	char			*copy;
	ssize_t			 got;

	assert_int_equal(unit_unescape(ul->ul_fields[2], &in), 0);
	copy = unit_exact_copy(in.ub_buf, in.ub_len);
	got = http_head_end(copy, in.ub_len);
	free(copy);
	if (got != strtol(ul->ul_fields[1], NULL, 10))
		fail_msg("head end of '%s' is %zd, want %s",
		    unit_show(in.ub_buf, in.ub_len), got, ul->ul_fields[1]);
}

/*
 * parse<TAB>STATUS<TAB>INPUT[<TAB>METHOD<TAB>TARGET<TAB>MINOR<TAB>NHEADERS
 * [<TAB>NAME=VALUE]...], or parse<TAB>STATUS<TAB>INPUT<TAB>REASON: the
 * head is measured by http_head_end (STATUS "incomplete": it must not be
 * found), then parsed; REASON is a piece of the reason for an error.
 */

/* Columns first.. of ul are NAME=VALUE: they must be the parsed headers. */
static void
check_headers(const struct unit_line *ul, size_t first,
    const struct http_header *hdrs, size_t nhdrs)
{
	const struct http_header	*h;
	struct unit_bytes		 v;
	const char			*eq;
	size_t				 i;

	for (i = first; i < ul->ul_nfields; i++) {
		if (i - first >= nhdrs)
			fail_msg("header %zu missing", i - first);
		h = &hdrs[i - first];
		assert_int_equal(unit_unescape(ul->ul_fields[i], &v), 0);
		if ((eq = strchr(v.ub_buf, '=')) == NULL)
			fail_msg("column '%s' is not NAME=VALUE",
			    ul->ul_fields[i]);
		if (h->hh_namelen != (size_t)(eq - v.ub_buf) ||
		    memcmp(h->hh_name, v.ub_buf, h->hh_namelen) != 0 ||
		    h->hh_valuelen != strlen(eq + 1) ||
		    memcmp(h->hh_value, eq + 1, h->hh_valuelen) != 0)
			fail_msg("header %zu is '%s'='%s', want '%s'",
			    i - first, unit_show(h->hh_name, h->hh_namelen),
			    unit_show(h->hh_value, h->hh_valuelen),
			    ul->ul_fields[i]);
	}
}

static void
test_parse_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in, v;
	struct http_request	*rq;
	const char		*why = NULL, *want = ul->ul_fields[1];
	char			*copy;
	ssize_t			 hlen;
	int			 status;

	assert_int_equal(unit_unescape(ul->ul_fields[2], &in), 0);
	copy = unit_keep(unit_exact_copy(in.ub_buf, in.ub_len));
	hlen = http_head_end(copy, in.ub_len);
	if (strcmp(want, "incomplete") == 0) {
		if (hlen != -1)
			fail_msg("head end found at %zd", hlen);
		return;
	}
	if (hlen < 0)
		fail_msg("head end not found in '%s'",
		    unit_show(in.ub_buf, in.ub_len));
	rq = unit_keep(malloc(sizeof *rq));
	memset(rq, 0xa5, sizeof *rq);
	status = http_parse_head(copy, (size_t)hlen, rq, &why);
	if (status != atoi(want))
		fail_msg("status %d (%s), want %s", status,
		    status ? (why ? why : "no reason") : "ok", want);
	if (status != 0) {
		assert_non_null(why);
		assert_true(*why != '\0');
		if (ul->ul_nfields == 4 &&
		    strstr(why, ul->ul_fields[3]) == NULL)
			fail_msg("reason '%s' does not mention '%s'", why,
			    ul->ul_fields[3]);
		return;
	}
	if (ul->ul_nfields < 7)
		return;
	assert_true(rq->rq_method >= copy && rq->rq_method < copy + hlen);
	assert_true(rq->rq_target >= copy && rq->rq_target < copy + hlen);
	assert_int_equal(rq->rq_methodlen, strlen(ul->ul_fields[3]));
	assert_memory_equal(rq->rq_method, ul->ul_fields[3],
	    rq->rq_methodlen);
	assert_true(http_method_is(rq, ul->ul_fields[3]));
	assert_false(http_method_is(rq, "NOT-THIS-ONE"));
	assert_int_equal(unit_unescape(ul->ul_fields[4], &v), 0);
	assert_int_equal(rq->rq_targetlen, v.ub_len);
	assert_memory_equal(rq->rq_target, v.ub_buf, v.ub_len);
	assert_int_equal(rq->rq_minor, atoi(ul->ul_fields[5]));
	assert_int_equal(rq->rq_nheaders, strtoul(ul->ul_fields[6], NULL, 10));
	check_headers(ul, 7, rq->rq_headers, rq->rq_nheaders);
}

/*
 * response<TAB>STATUS|ERROR<TAB>INPUT[<TAB>MINOR<TAB>REASON<TAB>NHEADERS
 * [<TAB>NAME=VALUE]...]: an upstream's response head, measured by
 * http_head_end, then parsed by http_parse_response.
 */
static void
test_response_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in, v;
	struct http_response	*rs;
	const char		*why = NULL, *want = ul->ul_fields[1];
	char			*copy;
	ssize_t			 hlen;
	int			 rc;

	assert_int_equal(unit_unescape(ul->ul_fields[2], &in), 0);
	copy = unit_keep(unit_exact_copy(in.ub_buf, in.ub_len));
	if ((hlen = http_head_end(copy, in.ub_len)) < 0)
		fail_msg("head end not found in '%s'",
		    unit_show(in.ub_buf, in.ub_len));
	rs = unit_keep(malloc(sizeof *rs));
	memset(rs, 0xa5, sizeof *rs);
	rc = http_parse_response(copy, (size_t)hlen, rs, &why);
	if (strcmp(want, "ERROR") == 0) {
		if (rc == 0)
			fail_msg("accepted with status %d", rs->rs_status);
		assert_int_equal(rc, -1);
		assert_non_null(why);
		if (ul->ul_nfields > 3 && strstr(why, ul->ul_fields[3]) == NULL)
			fail_msg("reason '%s' does not mention '%s'", why,
			    ul->ul_fields[3]);
		return;
	}
	if (rc != 0)
		fail_msg("refused: %s", why ? why : "no reason");
	assert_int_equal(rs->rs_status, atoi(want));
	if (ul->ul_nfields < 6)
		return;
	assert_int_equal(rs->rs_minor, atoi(ul->ul_fields[3]));
	assert_int_equal(unit_unescape(ul->ul_fields[4], &v), 0);
	if (rs->rs_reasonlen != v.ub_len ||
	    memcmp(rs->rs_reason, v.ub_buf, v.ub_len) != 0)
		fail_msg("reason '%s', want '%s'",
		    unit_show(rs->rs_reason, rs->rs_reasonlen), v.ub_buf);
	assert_int_equal(rs->rs_nheaders, strtoul(ul->ul_fields[5], NULL, 10));
	check_headers(ul, 6, rs->rs_headers, rs->rs_nheaders);
}

/*
 * INPUT<TAB>OUTPUT[<TAB>SIZE]: json_escape(out, SIZE, INPUT) (SIZE 256
 * when left out) gives OUTPUT, written as is (not unescaped). Bytes past
 * SIZE are never touched, and the result is valid inside a JSON string.
 */
static void
test_json_line(void **state)
{
	const struct unit_line	*ul = *state;
	struct unit_bytes	 in;
	char			 out[512];
	size_t			 size = 256, got, want_len, i;
	const char		*want = ul->ul_nfields > 1 ? ul->ul_fields[1] :
				    "";

	assert_int_equal(unit_unescape(ul->ul_fields[0], &in), 0);
	if (ul->ul_nfields > 2)
		size = strtoul(ul->ul_fields[2], NULL, 10);
	assert_true(size < sizeof out);
	memset(out, '#', sizeof out);
	got = json_escape(out, size, in.ub_buf);
	for (i = size; i < sizeof out; i++)
		if (out[i] != '#')
			fail_msg("byte %zu written past the size %zu", i, size);
	if (size == 0) {
		assert_int_equal(got, 0);
		return;
	}
	want_len = strlen(want);
	if (got != want_len || memchr(out, '\0', size) == NULL ||
	    strcmp(out, want) != 0)
		fail_msg("got '%s' (%zu), want '%s'",
		    unit_show(out, strnlen(out, size)), got, want);
	assert_true(unit_json_string_valid(out, got));
}

/* Every byte value alone and all of them together escape to valid JSON. */
static void
test_json_every_byte(void **state)
{
	char	in[256], out[256 * 6 + 1], one[2];
	size_t	n;
	int	c;

	for (c = 1; c < 256; c++) {
		one[0] = (char)c;
		one[1] = '\0';
		n = json_escape(out, sizeof out, one);
		if (!unit_json_string_valid(out, n))
			fail_msg("byte 0x%02x gives '%s'", c,
			    unit_show(out, n));
		in[c - 1] = (char)c;
	}
	in[255] = '\0';
	n = json_escape(out, sizeof out, in);
	assert_int_equal(n, strlen(out));
	assert_true(unit_json_string_valid(out, n));
}

/* Decision log records: exact lines, and nasty strings. */
struct dlog_case {
	const char		*dc_name;
	struct dlog_record	 dc_rec;
	long			 dc_ms;		/* now - start */
	const char		*dc_want;	/* exact line, or NULL */
	const char		*dc_contains;	/* or a piece of it */
};

static char long_method[2100];
static char nasty_host[300];

static struct dlog_case dlog_cases[] = {
	{ "dlog: the SPEC example",
	  { .dr_start = { 1795632001, 123000000 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT",
	    .dr_host = "watson.events.data.microsoft.com", .dr_port = 443,
	    .dr_action = "deny", .dr_category = "windows-error-reporting",
	    .dr_rule_file = "rules/sets/windows.yaml", .dr_rule_line = 23,
	    .dr_status = 403, .dr_end = END_DENIED }, 0,
	  "{\"ts\":\"2026-11-25T18:40:01.123Z\",\"client\":\"127.0.0.1\","
	  "\"user\":null,\"group\":null,\"method\":\"CONNECT\","
	  "\"host\":\"watson.events.data.microsoft.com\",\"port\":443,"
	  "\"path\":null,\"sni\":null,\"action\":\"deny\","
	  "\"category\":\"windows-error-reporting\","
	  "\"rule\":\"rules/sets/windows.yaml:23\",\"status\":403,"
	  "\"upstream\":null,\"bytes_up\":0,\"bytes_down\":0,"
	  "\"duration_ms\":0,\"end\":\"denied\"}\n", NULL },
	{ "dlog: a tunnel that ran",
	  { .dr_start = { 1795632001, 999000000 }, .dr_client = "::1",
	    .dr_method = "CONNECT", .dr_host = "example.com", .dr_port = 8443,
	    .dr_action = "audit", .dr_status = 200,
	    .dr_upstream = "127.0.0.1:40000",
	    .dr_bytes_up = 18446744073709551615ULL, .dr_bytes_down = 42,
	    .dr_end = END_CLIENT_CLOSED }, 1501,
	  "{\"ts\":\"2026-11-25T18:40:01.999Z\",\"client\":\"::1\","
	  "\"user\":null,\"group\":null,\"method\":\"CONNECT\","
	  "\"host\":\"example.com\","
	  "\"port\":8443,\"path\":null,\"sni\":null,\"action\":\"audit\","
	  "\"category\":null,\"rule\":null,\"status\":200,"
	  "\"upstream\":\"127.0.0.1:40000\","
	  "\"bytes_up\":18446744073709551615,\"bytes_down\":42,"
	  "\"duration_ms\":1501,\"end\":\"client_closed\"}\n", NULL },
	{ "dlog: a request with nothing parsed",
	  { .dr_start = { 0, 0 }, .dr_client = "127.0.0.1",
	    .dr_action = "deny", .dr_status = 400, .dr_end = END_BAD_REQUEST },
	  0, NULL,
	  "\"method\":null,\"host\":null,\"port\":null,\"path\":null,"
	  "\"sni\":null,"
	  "\"action\":\"deny\",\"category\":null,\"rule\":null,"
	  "\"status\":400," },
	{ "dlog: the server name of a tunnel",
	  { .dr_start = { 1, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 200,
	    .dr_upstream = "127.0.0.1:443", .dr_bytes_up = 5,
	    .dr_bytes_down = 6, .dr_end = END_SNI_MISMATCH,
	    .dr_sni = "fronted.test" }, 0, NULL,
	  "\"path\":null,\"sni\":\"fronted.test\",\"action\":\"allow\"" },
	{ "dlog: a clock that went backwards gives 0 ms",
	  { .dr_start = { 100, 500000000 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 200, .dr_bytes_up = 1,
	    .dr_bytes_down = 2, .dr_end = END_SHUTDOWN }, -2000,
	  NULL, "\"duration_ms\":0," },
	{ "dlog: quotes, control bytes and high bytes in strings",
	  { .dr_start = { 1, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "G\"E\\T\r\n", .dr_host = nasty_host, .dr_port = 443,
	    .dr_action = "deny", .dr_category = "c\tat",
	    .dr_rule_file = "ru\"le\n.yaml", .dr_rule_line = 7,
	    .dr_status = 400, .dr_end = END_BAD_REQUEST }, 0,
	  NULL, "\"method\":\"G\\\"E\\\\T\\u000d\\u000a\"" },
	{ "dlog: a very long method stays one valid line",
	  { .dr_start = { 1, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = long_method, .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "deny", .dr_status = 400, .dr_end = END_BAD_REQUEST },
	  0, NULL,
	  "\"end\":\"bad_request\"}\n" },
	{ "dlog: an authenticated user of a client group",
	  { .dr_start = { 1, 0 }, .dr_client = "127.0.0.2",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 200, .dr_end = END_CLIENT_CLOSED,
	    .dr_user = "al\"ice", .dr_group = "lab" }, 0, NULL,
	  "\"client\":\"127.0.0.2\",\"user\":\"al\\\"ice\","
	  "\"group\":\"lab\",\"method\":\"CONNECT\"" },
	{ "dlog: a parent proxy that refused a CONNECT",
	  { .dr_start = { 1, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 403, .dr_upstream = "corp1",
	    .dr_parent = 1, .dr_end = END_UPSTREAM_REFUSED }, 0, NULL,
	  "\"status\":403,\"upstream\":\"corp1\",\"bytes_up\":0,"
	  "\"bytes_down\":0,\"duration_ms\":0,"
	  "\"end\":\"upstream_refused\"}\n" },
};

/* The time a case's record is closed: its start plus dc_ms. */
static void
case_now(const struct dlog_case *dc, struct timespec *now)
{
	long long	ns;

	ns = (long long)dc->dc_rec.dr_start.tv_sec * 1000000000LL +
	    dc->dc_rec.dr_start.tv_nsec + (long long)dc->dc_ms * 1000000LL;
	now->tv_sec = (time_t)(ns / 1000000000LL);
	now->tv_nsec = (long)(ns % 1000000000LL);
}

/* The same records in Squid's native access.log format. */
static struct dlog_case squid_cases[] = {
	{ "squid: a tunnel",
	  { .dr_start = { 1795632001, 999000000 }, .dr_client = "::1",
	    .dr_method = "CONNECT", .dr_host = "example.com", .dr_port = 8443,
	    .dr_action = "audit", .dr_status = 200,
	    .dr_upstream = "127.0.0.1:40000", .dr_bytes_up = 10,
	    .dr_bytes_down = 42, .dr_end = END_CLIENT_CLOSED }, 1501,
	  "1795632001.999   1501 ::1 TCP_TUNNEL/200 42 CONNECT "
	  "example.com:8443 - HIER_DIRECT/127.0.0.1 -\n", NULL },
	{ "squid: a denied CONNECT",
	  { .dr_start = { 1795632001, 123000000 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT",
	    .dr_host = "watson.events.data.microsoft.com", .dr_port = 443,
	    .dr_action = "deny", .dr_category = "windows-error-reporting",
	    .dr_rule_file = "rules/sets/windows.yaml", .dr_rule_line = 23,
	    .dr_status = 403, .dr_end = END_DENIED, .dr_user = "alice" }, 0,
	  "1795632001.123      0 127.0.0.1 TCP_DENIED/403 0 CONNECT "
	  "watson.events.data.microsoft.com:443 alice HIER_NONE/- -\n", NULL },
	{ "squid: plain HTTP on port 80 and elsewhere",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1", .dr_method = "GET",
	    .dr_host = "ctldl.windowsupdate.com", .dr_port = 80,
	    .dr_path = "/a/b.cab?x=1", .dr_action = "allow", .dr_status = 200,
	    .dr_upstream = "[::1]:80", .dr_bytes_up = 1, .dr_bytes_down = 2048,
	    .dr_end = END_DONE }, 7,
	  "5.000      7 127.0.0.1 TCP_MISS/200 2048 GET "
	  "http://ctldl.windowsupdate.com/a/b.cab?x=1 - HIER_DIRECT/::1 -\n",
	  NULL },
	{ "squid: a bad request with spaces and bytes in its target",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1", .dr_method = "GE T",
	    .dr_host = "a b\x01%", .dr_action = "deny", .dr_status = 400,
	    .dr_end = END_BAD_REQUEST }, 0,
	  "5.000      0 127.0.0.1 NONE_NONE/400 0 GE%20T a%20b%01%25 - "
	  "HIER_NONE/- -\n", NULL },
	{ "squid: the destination guard refused a CONNECT",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "inner.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 403,
	    .dr_end = END_DESTINATION_GUARD }, 0,
	  "5.000      0 127.0.0.1 TCP_DENIED/403 0 CONNECT inner.test:443 - "
	  "HIER_NONE/- -\n", NULL },
	{ "squid: the destination guard refused plain HTTP",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "GET", .dr_host = "inner.test", .dr_port = 80,
	    .dr_path = "/", .dr_action = "allow", .dr_status = 403,
	    .dr_end = END_DESTINATION_GUARD }, 0,
	  "5.000      0 127.0.0.1 TCP_DENIED/403 0 GET http://inner.test/ - "
	  "HIER_NONE/- -\n", NULL },
	{ "squid: a tunnel closed by the SNI check after its 200",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 200, .dr_bytes_up = 517,
	    .dr_upstream = "127.0.0.1:443", .dr_end = END_SNI_MISMATCH,
	    .dr_sni = "b.test" }, 3,
	  "5.000      3 127.0.0.1 TCP_DENIED/200 0 CONNECT a.test:443 - "
	  "HIER_DIRECT/127.0.0.1 -\n", NULL },
	{ "squid: 407 to an IPv6 literal",
	  { .dr_start = { 5, 0 }, .dr_client = "::1", .dr_method = "CONNECT",
	    .dr_host = "::1", .dr_port = 8443, .dr_action = "deny",
	    .dr_status = 407, .dr_end = END_AUTH_REQUIRED }, 0,
	  "5.000      0 ::1 TCP_DENIED/407 0 CONNECT [::1]:8443 - "
	  "HIER_NONE/- -\n", NULL },
	{ "squid: a CONNECT whose destination refused",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 502,
	    .dr_end = END_CONNECT_FAILED }, 0,
	  "5.000      0 127.0.0.1 NONE_NONE/502 0 CONNECT a.test:443 - "
	  "HIER_NONE/- -\n", NULL },
	{ "squid: a client gone in the middle of plain HTTP",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1", .dr_method = "POST",
	    .dr_host = "a.test", .dr_port = 8080, .dr_path = "/up",
	    .dr_action = "allow", .dr_upstream = "127.0.0.1:8080",
	    .dr_bytes_up = 5, .dr_end = END_CLIENT_CLOSED }, 0,
	  "5.000      0 127.0.0.1 TCP_MISS_ABORTED/000 0 POST "
	  "http://a.test:8080/up - HIER_DIRECT/127.0.0.1 -\n", NULL },
	{ "squid: an idle tunnel",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 200, .dr_bytes_down = 9,
	    .dr_upstream = "127.0.0.1:443", .dr_end = END_IDLE_TIMEOUT }, 300000,
	  "5.000 300000 127.0.0.1 TCP_TUNNEL_TIMEDOUT/200 9 CONNECT a.test:443 "
	  "- HIER_DIRECT/127.0.0.1 -\n", NULL },
	{ "squid: a tunnel through a parent proxy",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 200, .dr_bytes_down = 9,
	    .dr_upstream = "corp-1", .dr_parent = 1, .dr_end = END_DONE }, 0,
	  "5.000      0 127.0.0.1 TCP_TUNNEL/200 9 CONNECT a.test:443 - "
	  "FIRSTUP_PARENT/corp-1 -\n", NULL },
	{ "squid: plain HTTP a parent could not be reached for",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1", .dr_method = "GET",
	    .dr_host = "a.test", .dr_port = 80, .dr_path = "/",
	    .dr_action = "allow", .dr_status = 502, .dr_upstream = "corp",
	    .dr_parent = 1, .dr_end = END_UPSTREAM_UNREACHABLE }, 0,
	  "5.000      0 127.0.0.1 TCP_MISS/502 0 GET http://a.test/ - "
	  "FIRSTUP_PARENT/corp -\n", NULL },
	{ "squid: a parent's refusal of a CONNECT",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_status = 403, .dr_upstream = "corp",
	    .dr_parent = 1, .dr_end = END_UPSTREAM_REFUSED }, 0,
	  "5.000      0 127.0.0.1 TCP_DENIED/403 0 CONNECT a.test:443 - "
	  "FIRSTUP_PARENT/corp -\n", NULL },
	{ "squid: an end that is no termination code",
	  { .dr_start = { 5, 0 }, .dr_client = "127.0.0.1", .dr_method = "GET",
	    .dr_host = "a.test", .dr_port = 80, .dr_status = 200,
	    .dr_end = END_MAX }, 0,
	  "5.000      0 127.0.0.1 NONE_NONE/200 0 GET http://a.test/ - "
	  "HIER_NONE/- -\n", NULL },
};

static void
test_squid_case(void **state)
{
	const struct dlog_case	*dc = *state;
	char			 buf[HG_MAX_DLOG_LINE];
	struct timespec		 now;
	size_t			 len;

	case_now(dc, &now);
	len = dlog_format_squid(buf, sizeof buf, &dc->dc_rec, &now);
	assert_int_equal(len, strlen(buf));
	if (strcmp(buf, dc->dc_want) != 0)
		fail_msg("got  %swant %s", buf, dc->dc_want);
}

/*
 * Every termination code that /metrics counts (hushgate_requests_by_end
 * lists them all) has a Squid result code for each kind of request.
 */
static void
test_squid_every_end(void **state)
{
	static const char	 label[] = "hushgate_requests_by_end_total{end=\"";
	struct hg_errors	 errs;
	struct hg_config	*cf;
	struct evbuffer		*out;
	struct wstats		*sum;
	struct auth_counts	 ac;
	struct ldap_counts	 lk;
	char			*text, *p, *q;
	size_t			 len, n = 0;
	enum conn_end		 end;

	(void)state;
	errors_init(&errs);
	cf = config_load(unit_data_path("valid/defaults.yaml"), &errs);
	errors_free(&errs);
	assert_non_null(cf);
	assert_non_null(out = evbuffer_new());
	sum = unit_keep(calloc(1, sizeof *sum));
	memset(&ac, 0, sizeof ac);
	memset(&lk, 0, sizeof lk);
	metrics_render(out, cf, sum, 0, &ac, &lk);
	len = evbuffer_get_length(out);
	text = unit_keep(malloc(len + 1));
	evbuffer_remove(out, text, len);
	text[len] = '\0';
	evbuffer_free(out);
	config_unref(cf);
	for (p = text; (p = strstr(p, label)) != NULL; p = q) {
		p += sizeof label - 1;
		assert_non_null(q = strchr(p, '"'));
		*q++ = '\0';
		for (end = 0; end < END_MAX; end++)
			if (strcmp(dlog_end_name(end), p) == 0)
				break;
		if (end == END_MAX)
			fail_msg("end %s of /metrics is no termination code", p);
		if (dlog_squid_code(end, "CONNECT", 200) == NULL ||
		    dlog_squid_code(end, "CONNECT", 403) == NULL ||
		    dlog_squid_code(end, "GET", 200) == NULL ||
		    dlog_squid_code(end, NULL, 0) == NULL)
			fail_msg("end %s has no Squid result code", p);
		n++;
	}
	if (n != END_MAX)
		fail_msg("%zu termination codes in /metrics, not %d", n,
		    END_MAX);
	assert_null(dlog_squid_code(END_MAX, "GET", 200));
	assert_null(dlog_end_name(END_MAX));
}

static void
test_dlog_case(void **state)
{
	const struct dlog_case	*dc = *state;
	char			 buf[HG_MAX_DLOG_LINE];
	struct timespec		 now;
	size_t			 len;

	case_now(dc, &now);
	memset(buf, '#', sizeof buf);
	len = dlog_format(buf, sizeof buf, &dc->dc_rec, &now);
	assert_true(len < sizeof buf);
	assert_int_equal(len, strlen(buf));
	if (dc->dc_want != NULL && strcmp(buf, dc->dc_want) != 0)
		fail_msg("got  %s\nwant %s", buf, dc->dc_want);
	if (dc->dc_contains != NULL && strstr(buf, dc->dc_contains) == NULL)
		fail_msg("'%s' not in %s", dc->dc_contains, buf);
	/* One line: a newline at the end only, and one JSON object. */
	assert_true(len > 2 && buf[len - 1] == '\n' && buf[len - 2] == '}');
	assert_null(memchr(buf, '\n', len - 1));
	if (!unit_json_object_valid(buf, len))
		fail_msg("not a JSON object: %s", buf);
}

/* Decision log records as text (dlogtext.c): exact lines in UTC. */
struct text_case {
	const char		*tc_name;
	struct dlog_record	 tc_rec;
	long			 tc_ms;		/* now - start */
	int			 tc_color;
	const char		*tc_want;	/* exact line, or NULL */
	const char		*tc_contains;	/* or a piece of it */
};

#define TEXT_WIDTH	130

static const struct text_case text_cases[] = {
	{ "text: the SPEC example",
	  { .dr_start = { 1795632001, 123000000 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT",
	    .dr_host = "watson.events.data.microsoft.com", .dr_port = 443,
	    .dr_action = "deny", .dr_category = "windows-error-reporting",
	    .dr_rule_file = "rules/sets/windows.yaml", .dr_rule_line = 23,
	    .dr_status = 403, .dr_end = END_DENIED }, 0, 0,
	  "18:40:01 127.0.0.1       deny  "
	  "watson.events.data.microsoft.com:443     windows-error... "
	  "windows.yaml:23              0B/0B    0ms\n", NULL },
	{ "text: a tunnel that ran, the default, huge counts",
	  { .dr_start = { 1795632001, 999000000 }, .dr_client = "::1",
	    .dr_method = "CONNECT", .dr_host = "example.com", .dr_port = 8443,
	    .dr_action = "audit", .dr_status = 200,
	    .dr_bytes_up = 18446744073709551615ULL, .dr_bytes_down = 1536,
	    .dr_end = END_CLIENT_CLOSED }, 1501, 0,
	  "18:40:01 ::1             audit example.com:8443                     "
	  "    -                default                   16E/1.5K   1.5s\n",
	  NULL },
	{ "text: plain HTTP, an IPv6 host, an hour",
	  { .dr_start = { 0, 0 }, .dr_client = "10.0.0.1", .dr_method = "GET",
	    .dr_host = "2001:db8::1", .dr_port = 80, .dr_path = "/a?b",
	    .dr_action = "allow", .dr_status = 200, .dr_bytes_up = 999,
	    .dr_bytes_down = 5000000, .dr_end = END_DONE }, 3725000, 0,
	  "00:00:00 10.0.0.1        allow GET [2001:db8::1]:80/a?b             "
	  "    -                default                  999B/4.8M  1h02m\n",
	  NULL },
	{ "text: nothing parsed",
	  { .dr_start = { 0, 0 }, .dr_client = "127.0.0.1",
	    .dr_action = "deny", .dr_status = 400, .dr_end = END_BAD_REQUEST },
	  125000, 0,
	  "00:00:00 127.0.0.1       deny  -                                    "
	  "    -                -                            0B/0B  2m05s\n",
	  NULL },
	{ "text: control bytes and ESC of a client are escaped",
	  { .dr_start = { 0, 0 }, .dr_client = "127.0.0.1", .dr_method = "GET",
	    .dr_host = "a\033[31m\n\rb", .dr_port = 80,
	    .dr_path = "/p\007\\\377", .dr_action = "deny",
	    .dr_category = "c\033]0;x\007", .dr_end = END_DENIED }, 0, 0,
	  NULL, "deny  GET a\\x1b[31m\\x0a\\x0db:80/p\\x07\\\\\\xff    "
	  "c\\x1b]0;x\\x07    default " },
	{ "text: a long target is cut",
	  { .dr_start = { 0, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a-very-long-host-name."
	    "that-goes-on.example", .dr_port = 443, .dr_action = "allow",
	    .dr_end = END_DONE }, 0, 0,
	  NULL, " a-very-long-host-name.that-goes-on.ex... -" },
	{ "text: deny in red",
	  { .dr_start = { 0, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "deny", .dr_end = END_PORT_DENIED }, 0, 1,
	  NULL, " \033[31mdeny\033[0m  a.test:443 " },
	{ "text: audit in yellow",
	  { .dr_start = { 0, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "audit", .dr_end = END_DONE }, 0, 1,
	  NULL, " \033[33maudit\033[0m a.test:443 " },
	{ "text: allow in green",
	  { .dr_start = { 0, 0 }, .dr_client = "127.0.0.1",
	    .dr_method = "CONNECT", .dr_host = "a.test", .dr_port = 443,
	    .dr_action = "allow", .dr_end = END_DONE }, 0, 1,
	  NULL, " \033[32mallow\033[0m a.test:443 " },
};

static void
test_text_case(void **state)
{
	const struct text_case	*tc = *state;
	struct dlog_case	 dc;
	char			 buf[HG_MAX_DLOG_LINE], plain[HG_MAX_DLOG_LINE];
	struct timespec		 now;
	size_t			 len, i, n = 0;

	setenv("TZ", "UTC", 1);
	tzset();
	dc.dc_rec = tc->tc_rec;
	dc.dc_ms = tc->tc_ms;
	case_now(&dc, &now);
	memset(buf, '#', sizeof buf);
	len = dlog_format_text(buf, sizeof buf, &tc->tc_rec, &now,
	    tc->tc_color);
	assert_int_equal(len, strlen(buf));
	if (tc->tc_want != NULL && strcmp(buf, tc->tc_want) != 0)
		fail_msg("got  %s\nwant %s", buf, tc->tc_want);
	if (tc->tc_contains != NULL && strstr(buf, tc->tc_contains) == NULL)
		fail_msg("'%s' not in %s", tc->tc_contains, buf);
	/* One line of printable ASCII, but for the colour codes, of the
	 * same width whatever it holds. */
	for (i = 0; i < len; i++) {
		if (buf[i] == '\033' && tc->tc_color) {
			i += strspn(buf + i + 1, "[0123456789m");
			continue;
		}
		if (i + 1 < len && (buf[i] < 0x20 || buf[i] >= 0x7f))
			fail_msg("byte %#x at %zu: %s", (unsigned char)buf[i],
			    i, buf);
		plain[n++] = buf[i];
	}
	plain[n] = '\0';
	assert_true(len > 0 && buf[len - 1] == '\n');
	assert_int_equal(n, TEXT_WIDTH + 1);
	/* Without its colour codes, the line without colours. */
	if (tc->tc_color) {
		dlog_format_text(buf, sizeof buf, &tc->tc_rec, &now, 0);
		if (strcmp(plain, buf) != 0)
			fail_msg("got  %s\nwant %s", plain, buf);
	}
}

/* Every byte value in every field from a client: still one line of the
 * same width, printable. */
static void
test_text_every_byte(void **state)
{
	struct dlog_record	 r;
	struct timespec		 now = { 0, 0 };
	char			 buf[HG_MAX_DLOG_LINE];
	size_t			 len, i;

	memset(&r, 0, sizeof r);
	r.dr_client = nasty_host;
	r.dr_method = nasty_host;
	r.dr_host = nasty_host;
	r.dr_port = 80;
	r.dr_path = nasty_host;
	r.dr_action = "allow";
	r.dr_category = nasty_host;
	r.dr_rule_file = nasty_host;
	len = dlog_format_text(buf, sizeof buf, &r, &now, 0);
	assert_int_equal(len, TEXT_WIDTH + 1);
	for (i = 0; i + 1 < len; i++)
		if (buf[i] < 0x20 || buf[i] >= 0x7f)
			fail_msg("byte %#x at %zu: %s", (unsigned char)buf[i],
			    i, buf);
	assert_true(strstr(buf, " \\x01\\x02\\x03\\x04") != NULL);
}

static void
add_requests(struct unit_group *g)
{
	struct unit_line	**lines;
	size_t			  n, i;

	n = unit_read_table(g, "requests.txt", &lines);
	for (i = 0; i < n; i++) {
		struct unit_line *ul = lines[i];

		if (strcmp(ul->ul_fields[0], "end") == 0 && ul->ul_nfields == 3)
			unit_add(g, unit_case_name(ul, ul->ul_text),
			    test_end_line, ul);
		else if (strcmp(ul->ul_fields[0], "parse") == 0 &&
		    ul->ul_nfields >= 3 && (ul->ul_nfields <= 4 ||
		    ul->ul_nfields >= 7))
			unit_add(g, unit_case_name(ul, ul->ul_text),
			    test_parse_line, ul);
		else if (strcmp(ul->ul_fields[0], "response") == 0 &&
		    ul->ul_nfields >= 3)
			unit_add(g, unit_case_name(ul, ul->ul_text),
			    test_response_line, ul);
		else
			unit_add_error(g, "requests.txt:%u: bad line",
			    ul->ul_lineno);
	}
}

void
test_http_group(struct unit_group *g)
{
	struct unit_line	**lines;
	size_t			  n, i;

	add_requests(g);
	n = unit_read_table(g, "json.tsv", &lines);
	for (i = 0; i < n; i++)
		unit_add(g, unit_case_name(lines[i], lines[i]->ul_text),
		    test_json_line, lines[i]);
	unit_add(g, "json: every byte value", test_json_every_byte, NULL);

	memset(long_method, 'M', sizeof long_method - 1);
	for (i = 0; i < sizeof nasty_host - 1; i++)
		nasty_host[i] = (char)(1 + i % 255);
	for (i = 0; i < sizeof dlog_cases / sizeof dlog_cases[0]; i++)
		unit_add(g, dlog_cases[i].dc_name, test_dlog_case,
		    &dlog_cases[i]);
	for (i = 0; i < sizeof squid_cases / sizeof squid_cases[0]; i++)
		unit_add(g, squid_cases[i].dc_name, test_squid_case,
		    &squid_cases[i]);
	unit_add(g, "squid: a result code for every termination code",
	    test_squid_every_end, NULL);
	for (i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++)
		unit_add(g, text_cases[i].tc_name, test_text_case,
		    (void *)&text_cases[i]);
	unit_add(g, "text: every byte value in every field",
	    test_text_every_byte, NULL);
}
