// SPDX-License-Identifier: MIT
/*
 * lib/print.c - diagnostics without allocation.
 *
 * A message is formatted into a buffer on the stack and handed to write(2)
 * in one piece, so that lines from different threads do not interleave and
 * nothing here can call back into the allocator. Too long a message is cut
 * and ends in "...\n". errno is the same after the call as before it.
 *
 * Conversions: %s %d %u %x %p %c %%, with the length modifiers l, ll and z
 * (%ld %lu %lx %zu %zx ...), a field width (digits or *), the flags '0'
 * (pad numbers with zeros) and '-' (left-justify), and a precision for
 * strings (%.20s). Anything else is copied out as it stands.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <hakmem/print.h>

/* ------------------------------------------------------------------ */
/* Output buffer                                                      */
/* ------------------------------------------------------------------ */

#define PRINT_BUF_SIZE	512

struct print_buf {
	char data[PRINT_BUF_SIZE];	/* the formatted message */
	size_t len;			/* bytes used in data */
	int truncated;			/* something did not fit */
};

static void pb_putc(struct print_buf *pb, char c)
{
	if (unlikely(pb->len >= sizeof(pb->data))) {
		pb->truncated = 1;
		return;
	}
	pb->data[pb->len++] = c;
}

static void pb_fill(struct print_buf *pb, char c, long n)
{
	while (n-- > 0)
		pb_putc(pb, c);
}

/* Write all of buf to fd; retry after signals and short writes. */
static void print_write(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (n == 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void pb_flush(struct print_buf *pb, int fd)
{
	static const char cut[] = "...\n";

	if (unlikely(pb->truncated)) {
		size_t i;

		for (i = 0; i < sizeof(cut) - 1; i++)
			pb->data[sizeof(pb->data) - (sizeof(cut) - 1) + i] = cut[i];
		pb->len = sizeof(pb->data);
	}
	print_write(fd, pb->data, pb->len);
}

/* ------------------------------------------------------------------ */
/* Conversions                                                        */
/* ------------------------------------------------------------------ */

/* Field layout of one conversion. */
struct print_spec {
	long width;		/* minimum field width (0 = none) */
	long prec;		/* string precision, -1 = none */
	int left;		/* '-': pad on the right */
	int zero;		/* '0': pad numbers with zeros */
};

static void pb_str(struct print_buf *pb, const char *s, const struct print_spec *sp)
{
	long len = 0, i;

	if (!s)
		s = "(null)";
	while (s[len] && (sp->prec < 0 || len < sp->prec))
		len++;
	if (!sp->left)
		pb_fill(pb, ' ', sp->width - len);
	for (i = 0; i < len; i++)
		pb_putc(pb, s[i]);
	if (sp->left)
		pb_fill(pb, ' ', sp->width - len);
}

/* An unsigned number in base 10 or 16, with an optional prefix (sign, "0x"). */
static void pb_num(struct print_buf *pb, unsigned long v, unsigned int base,
		   const char *prefix, const struct print_spec *sp)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[24];
	long n = 0, plen = 0, pad, i;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	while (prefix[plen])
		plen++;
	pad = sp->width - n - plen;

	if (!sp->left && !sp->zero)
		pb_fill(pb, ' ', pad);
	for (i = 0; i < plen; i++)
		pb_putc(pb, prefix[i]);
	if (!sp->left && sp->zero)
		pb_fill(pb, '0', pad);
	while (n)
		pb_putc(pb, tmp[--n]);
	if (sp->left)
		pb_fill(pb, ' ', pad);
}

static void pb_format(struct print_buf *pb, const char *fmt, va_list ap)
{
	struct print_spec sp;
	unsigned long u;
	int lng;
	char c;

	while ((c = *fmt++)) {
		if (c != '%') {
			pb_putc(pb, c);
			continue;
		}

		sp.width = 0;
		sp.prec = -1;
		sp.left = 0;
		sp.zero = 0;
		lng = 0;

		for (;; fmt++) {
			if (*fmt == '-')
				sp.left = 1;
			else if (*fmt == '0')
				sp.zero = 1;
			else
				break;
		}
		if (*fmt == '*') {
			sp.width = va_arg(ap, int);
			if (sp.width < 0) {
				sp.left = 1;
				sp.width = -sp.width;
			}
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			if (sp.width < PRINT_BUF_SIZE)
				sp.width = sp.width * 10 + (*fmt - '0');
		if (sp.width > PRINT_BUF_SIZE)
			sp.width = PRINT_BUF_SIZE;
		if (*fmt == '.') {
			fmt++;
			sp.prec = 0;
			if (*fmt == '*') {
				sp.prec = va_arg(ap, int);
				if (sp.prec < 0)
					sp.prec = -1;
				fmt++;
			}
			for (; *fmt >= '0' && *fmt <= '9'; fmt++)
				if (sp.prec < PRINT_BUF_SIZE)
					sp.prec = sp.prec * 10 + (*fmt - '0');
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;	/* long, long long and size_t are one word */
			fmt++;
		}

		switch ((c = *fmt++)) {
		case 'd':
		case 'i': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);

			u = v < 0 ? -(unsigned long)v : (unsigned long)v;
			pb_num(pb, u, 10, v < 0 ? "-" : "", &sp);
			break;
		}
		case 'u':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			pb_num(pb, u, 10, "", &sp);
			break;
		case 'x':
			u = lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			pb_num(pb, u, 16, "", &sp);
			break;
		case 'p':
			u = (unsigned long)va_arg(ap, void *);
			pb_num(pb, u, 16, "0x", &sp);
			break;
		case 'c': {
			char s[2] = { (char)va_arg(ap, int), 0 };

			sp.prec = 1;
			pb_str(pb, s, &sp);
			break;
		}
		case 's':
			pb_str(pb, va_arg(ap, const char *), &sp);
			break;
		case '%':
			pb_putc(pb, '%');
			break;
		case 0:
			/* A lone '%' at the end. */
			pb_putc(pb, '%');
			return;
		default:
			/* Unknown: show it rather than guess at its argument. */
			pb_putc(pb, '%');
			pb_putc(pb, c);
			break;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Interface                                                          */
/* ------------------------------------------------------------------ */

void hk_vdprintf(int fd, const char *fmt, va_list ap)
{
	struct print_buf pb;
	int saved_errno = errno;

	pb.len = 0;
	pb.truncated = 0;
	pb_format(&pb, fmt, ap);
	pb_flush(&pb, fd);
	errno = saved_errno;
}

void hk_dprintf(int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hk_vdprintf(fd, fmt, ap);
	va_end(ap);
}

void hk_fatal(const char *fmt, ...)
{
	static const char prefix[] = "hakmem: ";
	struct print_buf pb;
	va_list ap;
	size_t i;

	pb.len = 0;
	pb.truncated = 0;
	for (i = 0; i < sizeof(prefix) - 1; i++)
		pb_putc(&pb, prefix[i]);
	va_start(ap, fmt);
	pb_format(&pb, fmt, ap);
	va_end(ap);
	pb_putc(&pb, '\n');
	pb_flush(&pb, STDERR_FILENO);
	abort();
}
