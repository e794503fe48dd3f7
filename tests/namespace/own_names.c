// SPDX-License-Identifier: MIT
/*
 * A program whose own functions have the names of hakmem internals
 * (heap_init, os_init, ...), linked statically with libhakmem.a.
 *
 * The top Makefile's namespace-check target builds it together with a
 * generated file that defines every other internal global of hakmem.o
 * (own_names_gen.c), so the link fails with "multiple definition" if the
 * archive exports anything but the public API. It then runs it: the
 * program's heap_init() and os_init() must be the ones its calls reach,
 * and the allocator must still work behind them.
 */
#include <stdio.h>
#include <string.h>

#include <generated/autoconf.h>
#include <hakmem.h>

static int own_heap_init_calls;
static int own_os_init_calls;

int heap_init(void)
{
	own_heap_init_calls++;
	return 42;
}

void os_init(void)
{
	own_os_init_calls++;
}

int main(void)
{
	static char arena[64 << 10] __attribute__((aligned(64)));
	char *p, *q;
	int bad = 0;

	/* Arena builds without a built-in arena need one handed over. */
#ifdef CONFIG_BACKEND_ARENA
	hak_arena_init(arena, sizeof(arena));
#else
	(void)arena;
#endif
	p = hak_malloc(100);
	q = hak_calloc(10, 1000);
	if (!p || !q) {
		printf("own_names: hak_malloc/hak_calloc failed\n");
		return 1;
	}
	memset(p, 0x5a, 100);
	for (int i = 0; i < 10000; i++)
		bad |= q[i];
	hak_free(p);
	hak_free(q);

	os_init();
	if (heap_init() != 42 || own_heap_init_calls != 1 || own_os_init_calls != 1 || bad) {
		printf("own_names: the program's heap_init/os_init were not the ones called\n");
		return 1;
	}
	printf("own_names: ok\n");
	return 0;
}
