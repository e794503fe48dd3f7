// SPDX-License-Identifier: MIT
/*
 * lib/env.c - read the HAKMEM_* environment variables without allocating.
 *
 * getenv() only walks environ, so it is safe inside the allocator. Values
 * are parsed here rather than with strtol() so that no locale data is
 * touched.
 */
#include <limits.h>
#include <stdlib.h>
#include <hakmem/print.h>

/* ------------------------------------------------------------------ */
/* Parsing                                                            */
/* ------------------------------------------------------------------ */

static char env_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* s equals word (lower case), ignoring the case of s. */
static int env_word(const char *s, const char *word)
{
	while (*word)
		if (env_lower(*s++) != *word++)
			return 0;
	return *s == 0;
}

/* A decimal number with an optional sign; 0 if s is not one. */
static int env_number(const char *s, long *out)
{
	unsigned long v = 0, limit = LONG_MAX;
	int neg = 0;

	if (*s == '-' || *s == '+') {
		neg = *s++ == '-';
		if (neg)
			limit = (unsigned long)LONG_MAX + 1;
	}
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		if (v > (limit - (unsigned long)(*s - '0')) / 10)
			return 0;		/* out of range */
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*out = neg ? (long)(0UL - v) : (long)v;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Interface                                                          */
/* ------------------------------------------------------------------ */

long hk_env_long(const char *name, long def)
{
	static const char *const yes[] = { "y", "yes", "on", "true" };
	static const char *const no[] = { "n", "no", "off", "false" };
	const char *s = getenv(name);
	unsigned int i;
	long v;

	if (!s || !*s)
		return def;
	for (i = 0; i < ARRAY_SIZE(yes); i++)
		if (env_word(s, yes[i]))
			return 1;
	for (i = 0; i < ARRAY_SIZE(no); i++)
		if (env_word(s, no[i]))
			return 0;
	if (env_number(s, &v))
		return v;
	return def;
}
