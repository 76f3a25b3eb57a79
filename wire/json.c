/*
 * json.c -- JSON string escaping for the log lines (pure C).
 */
#include "config.h"

#include <string.h>

#include "wire/wire.h"

/*
 * Escape s as the inside of a JSON string into out (size n, always
 * terminated). Bytes outside printable ASCII become \u00XX, so no input
 * can break a line or produce invalid UTF-8. Returns the length written.
 */
size_t
json_escape(char *out, size_t n, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 o = 0;
	unsigned char		 c;

	if (n == 0)
		return (0);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			if (o + 2 >= n)
				break;
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			if (o + 6 >= n)
				break;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			if (o + 1 >= n)
				break;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return (o);
}
