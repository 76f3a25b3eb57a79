/*
 * fuzz_gateway.c -- libFuzzer target for the bytes a gateway reads before
 * the request: proxyproto_parse() (the PROXY header of a load balancer,
 * versions 1, 2 and both) and tls_hello_sni() (the ClientHello at the
 * start of a tunnel), each on the whole input and on every prefix length
 * of the first 64 bytes.
 *
 * Beyond memory errors, it checks what the callers rely on: a PROXY
 * header that is done lies inside the input and, unless local, has
 * addresses of family 4 or 6; an error has a reason; a server name is a
 * lowercase host name of 1 to 253 characters; a refusal has a reason.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_pp(const uint8_t *data, size_t len, int versions)
{
	struct pp_info	 pi;
	const char	*why;
	int		 r;

	r = proxyproto_parse(data, len, versions, &pi, &why);
	if (r == PP_ERROR && why == NULL)
		abort();
	if (r != PP_DONE)
		return;
	if (pi.pi_len == 0 || pi.pi_len > len)
		abort();
	if (!pi.pi_local && ((pi.pi_src.pa_family != 4 &&
	    pi.pi_src.pa_family != 6) || pi.pi_src.pa_family !=
	    pi.pi_dst.pa_family))
		abort();
}

static void
check_hello(const uint8_t *data, size_t len)
{
	char		 name[HG_MAX_HOST + 1];
	const char	*why;
	size_t		 n, i;
	int		 r;

	r = tls_hello_sni(data, len, name, sizeof name, &why);
	if ((r == HELLO_BAD || r == HELLO_NOTTLS) && why == NULL)
		abort();
	if (r != HELLO_SNI)
		return;
	n = strlen(name);
	if (n == 0 || n > HG_MAX_HOST)
		abort();
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("-._", name[i]) != NULL))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t	*copy;
	size_t	 i;

	/* an exact copy: any read past the end is caught */
	if ((copy = malloc(len ? len : 1)) == NULL)
		return (0);
	memcpy(copy, data, len);
	check_pp(copy, len, PP_V1);
	check_pp(copy, len, PP_V2);
	check_pp(copy, len, PP_V1 | PP_V2);
	check_hello(copy, len);
	for (i = 0; i < len && i < 64; i++) {
		check_pp(copy, i, PP_V1 | PP_V2);
		check_hello(copy, i);
	}
	free(copy);
	return (0);
}
