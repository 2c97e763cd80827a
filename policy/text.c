/* text.c: cleaning outside values and writing error messages; see text.h. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

char
text_byte(char c)
{
	unsigned char u = (unsigned char)c;

	return u < 0x20 || u >= 0x7f ? '?' : c;
}

size_t
text_clean(const char *value, char *out, size_t outsz)
{
	size_t max, len, n, i;
	int cut;

	assert(outsz >= 4);
	if (value == NULL)
		value = "unknown";
	max = outsz - 1 < TEXT_VALUE_MAX ? outsz - 1 : TEXT_VALUE_MAX;
	len = strnlen(value, max + 1);
	cut = len > max;
	n = cut ? max - 3 : len;
	for (i = 0; i < n; i++)
		out[i] = text_byte(value[i]);
	if (cut) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return n;
}

int
text_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}
