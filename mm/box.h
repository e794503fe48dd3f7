/* SPDX-License-Identifier: MIT */
/*
 * The box registration layer.
 *
 * A box is a compile-time unit: its Kconfig option adds its directory to
 * mm/Makefile, and one of its objects describes the box once, with
 * HK_BOX(). The descriptions land in the "hakmem_box" section, one after
 * the other in link order (as the kernel's initcalls do); the linker
 * provides the bounds of that section, and the engine (mm/heap), the
 * SuperSlab backend, mallinfo and the statistics walk it with
 * for_each_box() and never name a box. A box that is configured off is
 * not linked, so it is not in the table: no object, no symbol, no branch.
 *
 * Slab boxes (Tiny, Small-Mid, Mid) contribute size classes: the engine
 * lays their classes end to end in hk_classes[] in link order, which is
 * their size order (mm/Makefile lists them so, and heap_classes_init()
 * checks it), and builds the size-to-class tables from them. The number
 * of classes of each is also known at compile time from the
 * configuration (mm/boxes.h), because the per-thread front is an array
 * indexed by class; heap_classes_init() checks that the two agree.
 *
 * Every hook is optional (NULL). See Documentation/architecture.md,
 * "Boxes and the registration layer", for how to add a box.
 */
#ifndef _MM_BOX_H
#define _MM_BOX_H

#include <hakmem/compiler.h>

struct size_class;
struct ss_pool;
struct heap_tls;

struct hk_box {
	const char *name;		/* in the statistics report and messages */
	const char *id;			/* short lower-case name: malloc_info's heap name */
	/* --- slab boxes: size classes served by the thread heaps --- */
	unsigned int nr_classes;	/* classes added to hk_classes[] (0: none) */
	/* Fill size, batch and span of nr_classes entries. */
	void (*classes_init)(struct size_class *c);
	struct ss_pool *pool;		/* own SuperSlab pool; NULL: the shared one */
	int stat_alloc;			/* enum hk_stat of its ALLOC counter (FREE next), -1: none */
	/* --- hooks --- */
	void (*init)(void);		/* once, from heap_init(), before the class table */
	int (*trim)(void);		/* give cached memory back; nonzero if any */
	/* Unmap what is cached when the kernel refuses a mapping; nonzero if any. */
	int (*reclaim)(void);
	void (*thread_flush)(void);	/* hand back what the calling thread holds */
	/*
	 * The slabs committed bytes of new memory (core_slabs_grew()):
	 * what the box holds beyond its bounds, which count the slabs, goes.
	 */
	void (*slabs_grew)(size_t bytes);
	/*
	 * The SuperSlab decay clock began a new epoch (core_epoch()): what
	 * the box holds that ages only with its own traffic ages with the
	 * clock as well, so that the slabs' traffic keeps it going.
	 */
	void (*epoch)(void);
	/*
	 * Add the blocks that thread front t holds in the box's own
	 * per-thread state to out[class] (mallinfo, CONFIG_MALLOC_INFO);
	 * t may be another live thread's: read with relaxed loads.
	 */
	void (*tls_cached)(const struct heap_tls *t, unsigned long *out);
	void (*check)(void);		/* self-check (CONFIG_DEBUG_ASSERT), aborts if wrong */
	/* Rows of the HAKMEM_STATS report to fd, from the summed counters. */
	void (*stats_report)(int fd, const unsigned long *stats);
} __aligned(sizeof(void *));

/*
 * Register a box: HK_BOX(name) = { .name = "...", ... };
 * The variable is static; the section keeps it.
 */
#define HK_BOX(id)							\
	static const struct hk_box __hk_box_##id			\
	__attribute__((__used__, __section__("hakmem_box")))		\
	__aligned(sizeof(void *))

/* Bounds of the section, from the linker. */
extern const struct hk_box __start_hakmem_box[];
extern const struct hk_box __stop_hakmem_box[];

#define for_each_box(b)							\
	for ((b) = __start_hakmem_box; (b) < __stop_hakmem_box; (b)++)

/*
 * Called by the SuperSlab layer when a claim commits new memory (slots
 * never used or given back to the kernel; bytes of it): the boxes'
 * slabs_grew hooks. Defined in mm/core.c; not to be called with a box's
 * lock held.
 */
void core_slabs_grew(size_t bytes);

/*
 * Called by the SuperSlab layer when its decay clock began a new epoch
 * (at most once an epoch, from a heap's tick or a claim or release of
 * slots): the boxes' epoch hooks. Defined in mm/core.c; not to be
 * called with a box's lock held.
 */
void core_epoch(void);

/* In reverse link order: to release what for_each_box() took. */
#define for_each_box_reverse(b)						\
	for ((b) = __stop_hakmem_box; (b)-- > __start_hakmem_box; )

#endif /* _MM_BOX_H */
