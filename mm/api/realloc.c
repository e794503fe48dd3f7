// SPDX-License-Identifier: MIT
/*
 * mm/api/realloc.c - realloc and reallocarray.
 */
#include <string.h>
#include "api.h"

/*
 * Everything but a block of this thread that stays where it is; ptr is
 * not NULL, caller is the program's return address.
 */
static __slowpath void *realloc_slow(void *ptr, size_t size, const void *caller)
{
	enum hk_realloc_way way;
	size_t old;
	void *p;

	if (size == 0) {
		/* glibc frees and returns NULL. */
		api_free(ptr);
		return NULL;
	}
	if (unlikely(size > HK_MAX_REQUEST)) {
		hk_set_errno(ENOMEM);
		return NULL;
	}
	old = hk_realloc_usable_size(ptr, size, caller, &way);
	if (unlikely(!old)) {
		/* Not ours: the guard recorded it; leave it alone. */
		hk_set_errno(EINVAL);
		return NULL;
	}
	/* Under Valgrind a sampled realloc would not be announced: no sampling. */
	if (!vg_running() && prof_tick(size))
		return prof_realloc(ptr, size, old, caller);
	/*
	 * Memcheck knows the block by the size asked, which hakmem does not
	 * keep: under Valgrind (CONFIG_VALGRIND) realloc always moves, as
	 * memcheck's own realloc does; memcpy carries the definedness.
	 */
	if (!vg_running() && way != HK_REALLOC_MOVE) {
		if (way == HK_REALLOC_STAY)
			p = ptr;
		else if (IS_ENABLED(CONFIG_HEAP_PROFILE) && way == HK_REALLOC_SAMPLE)
			/* Out of the profile, a plain block at its block start. */
			p = prof_unsample_bad(ptr, size);
		else
			p = hk_resize(ptr, size);
		if (p) {
			/*
			 * A sampled Large block resized in place leaves the
			 * profile. Large blocks stay only above
			 * HK_REALLOC_SLAB_MAX (HEAP_REALLOC_MAX): below, a
			 * block that stays is a slab block, never in the table
			 * of Large samples (a slab sample leaves in
			 * prof_unsample_bad()), and is not looked up.
			 */
			if (way == HK_REALLOC_RESIZE || size > HK_REALLOC_SLAB_MAX)
				prof_free_block(ptr);
			return p;
		}
	}
	/*
	 * Not api_alloc(): this realloc had its profiler tick above. A
	 * block grown past 32 KiB goes to Large (mm/core.h).
	 */
	p = hk_alloc_grown(size, old);
	vg_alloc(p, size, 0);
	if (unlikely(!p))
		return NULL;
	/*
	 * Under Valgrind the copy stops where memcheck's block does (the
	 * size asked): past it the usable size may hold bytes of a block
	 * freed there before, which memcheck keeps no-access.
	 */
	if (old > size)
		old = size;
	if (vg_running())
		old = vg_readable(ptr, old);
	memcpy(p, ptr, old);
	api_free(ptr);
	return p;
}

__export void *hak_realloc(void *ptr, size_t size)
{
	size_t n;

	if (!ptr)
		return hak_malloc(size);
	/*
	 * The common call: a slab block of this thread that holds size bytes
	 * and stays at most half empty (as hk_realloc_usable_size() decides)
	 * is kept, after free's one test and no call. Size 0 and sizes past
	 * HK_MAX_REQUEST never pass (n / 2 is at least 8).
	 */
	n = hk_own_size(ptr);
	if (likely(n) && size <= n && size >= n / 2 && !vg_running()) {
		/*
		 * A slab block start is never in the profiler's table of
		 * Large samples (a slab sample is not a block start): no
		 * prof_free_block() here, which read its filter on every such
		 * realloc while a Large sample lived.
		 */
		if (unlikely(prof_tick(size)))
			return prof_realloc(ptr, size, n, __builtin_return_address(0));
		return ptr;
	}
	return realloc_slow(ptr, size, __builtin_return_address(0));
}
HK_EXPORT_AS(realloc, hak_realloc);
HK_EXPORT_AS(__libc_realloc, hak_realloc);

__export void *hak_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t total;

	if (unlikely(__builtin_mul_overflow(nmemb, size, &total))) {
		hk_set_errno(ENOMEM);
		return NULL;
	}
	return hak_realloc(ptr, total);
}
HK_EXPORT_AS(reallocarray, hak_reallocarray);
