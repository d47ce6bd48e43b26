/* SPDX-License-Identifier: MIT */
/*
 * Simulated physical memory for table pages.
 *
 * One anonymous mapping, reserved without backing (MAP_NORESERVE), so a
 * page costs memory only once touched. Simulated PA = base_pa + offset.
 * Blocks are 4K << order (order 0..8), aligned to their size in PA space.
 * A fresh block is carved from a bump pointer; a freed block is poisoned
 * and queued on its size's FIFO, and is handed out again only once more
 * than `quarantine` blocks of that size wait behind it, so that a late read
 * of a freed table finds the poison and a free page state for a while.
 *
 * Every 4K frame has a state word: allocated or not, and a generation that
 * every free bumps. The walker checks it around each table read; the
 * paging-structure cache remembers it so that a reused page is caught.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim_int.h"

/* Freed table memory reads as present table entries pointing outside any
 * sensible memory (bit 0 and 1 set: a present, writable table entry on
 * x86, a table descriptor on ARM), so a walker that trusts it follows junk
 * and the poison cannot be mistaken for empty entries. */
#define SIM_POISON UINT64_C(0x0000dead5a5a5003)

int sim_mem_init(struct iopgt_sim *sim)
{
	struct sim_mem *m = &sim->mem;
	void *va;

	m->size = sim->cfg.arena_size;
	m->base_pa = sim->cfg.base_pa;
	m->quarantine = sim->cfg.quarantine;
	m->nframes = m->size >> SIM_FRAME_SHIFT;
	va = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (va == MAP_FAILED)
		return -ENOMEM;
	m->va = va;
	m->state = calloc(m->nframes, sizeof(*m->state));
	m->order = calloc(m->nframes, 1);
	if (!m->state || !m->order) {
		free((void *)m->state);
		free(m->order);
		munmap(m->va, m->size);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->mu, NULL);
	return 0;
}

void sim_mem_fini(struct iopgt_sim *sim)
{
	struct sim_mem *m = &sim->mem;

	if (!m->va)
		return;
	for (unsigned o = 0; o <= SIM_MAX_ORDER; o++)
		free(m->freed[o].off);
	free((void *)m->state);
	free(m->order);
	munmap(m->va, m->size);
	pthread_mutex_destroy(&m->mu);
	m->va = NULL;
}

static int fifo_push(struct sim_fifo *q, uint64_t off)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		uint64_t *n = malloc(cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < q->n; i++)
			n[i] = q->off[(q->head + i) % q->cap];
		free(q->off);
		q->off = n;
		q->cap = cap;
		q->head = 0;
	}
	q->off[(q->head + q->n) % q->cap] = off;
	q->n++;
	return 0;
}

static uint64_t fifo_pop(struct sim_fifo *q)
{
	uint64_t off = q->off[q->head];

	q->head = (q->head + 1) % q->cap;
	q->n--;
	return off;
}

static int order_of(size_t size)
{
	for (int o = 0; o <= SIM_MAX_ORDER; o++)
		if (size == (size_t)1 << (SIM_FRAME_SHIFT + o))
			return o;
	return -1;
}

static void stat_max(_Atomic uint64_t *peak, uint64_t v)
{
	uint64_t p = atomic_load_explicit(peak, memory_order_relaxed);

	while (v > p && !atomic_compare_exchange_weak_explicit(
				peak, &p, v, memory_order_relaxed,
				memory_order_relaxed))
		;
}

void *sim_table_alloc(void *arg, size_t size, uint64_t *pa)
{
	struct iopgt_sim *sim = arg;
	struct sim_mem *m = &sim->mem;
	int o = order_of(size);
	uint64_t off, nf, f0, pages, bytes;

	if (o < 0)
		return NULL;
	nf = UINT64_C(1) << o;
	pthread_mutex_lock(&m->mu);
	if (m->freed[o].n > m->quarantine) {
		off = fifo_pop(&m->freed[o]);
	} else {
		off = (m->bump + size - 1) & ~((uint64_t)size - 1);
		if (off + size > m->size) {
			pthread_mutex_unlock(&m->mu);
			return NULL;
		}
		m->bump = off + size;
	}
	f0 = off >> SIM_FRAME_SHIFT;
	m->order[f0] = (uint8_t)(o + 1);
	for (uint64_t f = f0; f < f0 + nf; f++) {
		uint32_t s = atomic_load_explicit(&m->state[f],
						  memory_order_relaxed);
		/* Release: pairs with the walker's acquire of the state. */
		atomic_store_explicit(&m->state[f], s | SIM_ALLOCATED,
				      memory_order_release);
	}
	pthread_mutex_unlock(&m->mu);
	sim_count(&sim->st.pages_alloc);
	pages = atomic_fetch_add_explicit(&sim->st.pages_live, 1,
					  memory_order_relaxed) + 1;
	bytes = atomic_fetch_add_explicit(&sim->st.bytes_live, size,
					  memory_order_relaxed) + size;
	stat_max(&sim->st.pages_peak, pages);
	stat_max(&sim->st.bytes_peak, bytes);
	*pa = m->base_pa + off;
	return m->va + off;
}

void sim_table_free(void *arg, void *va, uint64_t pa, size_t size)
{
	struct iopgt_sim *sim = arg;
	struct sim_mem *m = &sim->mem;
	int o = order_of(size);
	int64_t f0 = sim_frame(sim, pa);
	_Atomic uint64_t *p;

	if (o < 0 || f0 < 0 || (pa & (size - 1)) ||
	    (unsigned char *)va != m->va + (pa - m->base_pa)) {
		sim_violation(sim, IOPGT_SIM_V_BAD_FREE, 0, pa, 0,
			      "table_free of %zu bytes at a PA or VA the "
			      "arena never handed out", size);
		return;
	}
	pthread_mutex_lock(&m->mu);
	if (m->order[f0] != o + 1 ||
	    !(atomic_load_explicit(&m->state[f0], memory_order_relaxed) &
	      SIM_ALLOCATED)) {
		unsigned had = m->order[f0];

		pthread_mutex_unlock(&m->mu);
		sim_violation(sim, IOPGT_SIM_V_BAD_FREE, 0, pa, 0,
			      "table_free of %zu bytes: %s", size,
			      had ? "double free or wrong size"
				  : "not the start of an allocated block");
		return;
	}
	m->order[f0] = 0;
	/* First the state, so that a walker that reads the page from now on
	 * is caught; then the poison, with atomic stores because a broken
	 * walker may be reading it at this moment. */
	for (int64_t f = f0; f < f0 + ((int64_t)1 << o); f++) {
		uint32_t s = atomic_load_explicit(&m->state[f],
						  memory_order_relaxed);
		atomic_store_explicit(&m->state[f],
				      (s & ~SIM_ALLOCATED) + 2,
				      memory_order_release);
	}
	p = va;
	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		atomic_store_explicit(&p[i], SIM_POISON, memory_order_relaxed);
	/* Out of memory for the queue: the block is leaked, safely. */
	(void)fifo_push(&m->freed[o], pa - m->base_pa);
	pthread_mutex_unlock(&m->mu);
	sim_count(&sim->st.pages_freed);
	atomic_fetch_sub_explicit(&sim->st.pages_live, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&sim->st.bytes_live, size,
				  memory_order_relaxed);
}

int iopgt_sim_page_state(const struct iopgt_sim *sim, uint64_t pa,
			 uint32_t *gen)
{
	int64_t f = sim_frame(sim, pa);
	uint32_t s;

	if (f < 0)
		return -ERANGE;
	s = sim_frame_state(sim, f);
	if (gen)
		*gen = s >> 1;
	return (int)(s & SIM_ALLOCATED);
}
