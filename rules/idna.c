/*
 * idna.c -- internationalised names to their ASCII form, so that
 * "bücher.example", "BÜCHER.example" and "xn--bcher-kva.example" are one
 * name, and "watson。events。data。microsoft。com" (ideographic full stops)
 * is watson.events.data.microsoft.com.
 *
 * The conversion is libidn2's: the UTS #46 mapping (case folding, NFKC,
 * the full stops U+3002, U+FF0E and U+FF61 as label separators),
 * nontransitional (ß stays ß, as in IDNA2008), then the IDNA2008 checks
 * and punycode. The STD3 rules are not applied: the result is checked
 * again by host_normalise(), which decides what a host name may hold
 * (it allows '_', as for ASCII names).
 */
#include "config.h"

#include <string.h>

#include <idn2.h>

#include "rules.h"

/* The longest UTF-8 input looked at: 253 characters of 4 bytes, and some. */
#define IDNA_MAX_IN	1024

static const char *
idna_why(int rc)
{
	switch (rc) {
	case IDN2_ENCODING_ERROR:
		return ("invalid UTF-8 in host name");
	case IDN2_TOO_BIG_DOMAIN:
		return ("host name longer than 253 characters");
	case IDN2_TOO_BIG_LABEL:
	case IDN2_PUNYCODE_BIG_OUTPUT:
	case IDN2_PUNYCODE_OVERFLOW:
		return ("label longer than 63 characters");
	case IDN2_DISALLOWED:
	case IDN2_UNASSIGNED:
	case IDN2_CONTEXTJ:
	case IDN2_CONTEXTJ_NO_RULE:
	case IDN2_CONTEXTO:
	case IDN2_CONTEXTO_NO_RULE:
	case IDN2_ALABEL_ROUNDTRIP_FAILED:
		return ("host name has a character IDNA does not allow");
	case IDN2_PUNYCODE_BAD_INPUT:
	case IDN2_INVALID_ALABEL:
	case IDN2_UALABEL_MISMATCH:
	case IDN2_INVALID_TRANSITIONAL:
	case IDN2_INVALID_NONTRANSITIONAL:
		return ("host name has an invalid xn-- label");
	case IDN2_MALLOC:
		return ("out of memory converting the host name");
	default:
		/* Hyphens, leading combining mark, bidi, not NFC ... */
		return ("host name has a label IDNA does not allow");
	}
}

/*
 * Convert the name in[0..len) (UTF-8) to ASCII into out (size bytes,
 * terminated). Returns the length, or -1 with *why (a static string).
 */
ssize_t
idna_to_ascii(const char *in, size_t len, char *out, size_t size,
    const char **why)
{
	char	 buf[IDNA_MAX_IN + 1], *ascii = NULL;
	size_t	 alen;
	int	 rc;

	if (len > IDNA_MAX_IN) {
		*why = "host name longer than 253 characters";
		return (-1);
	}
	if (memchr(in, '\0', len) != NULL) {
		*why = "host name has a character IDNA does not allow";
		return (-1);
	}
	memcpy(buf, in, len);
	buf[len] = '\0';
	rc = idn2_to_ascii_8z(buf, &ascii,
	    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		*why = idna_why(rc);
		return (-1);
	}
	alen = strlen(ascii);
	if (alen >= size) {
		idn2_free(ascii);
		*why = "host name longer than 253 characters";
		return (-1);
	}
	memcpy(out, ascii, alen + 1);
	idn2_free(ascii);
	return ((ssize_t)alen);
}
