/* SPDX-License-Identifier: MIT */
/*
 * The text dump of a domain's tables (iopgt_dump). Hosted: it formats with
 * snprintf. A freestanding build leaves it out and iopgt_dump answers
 * -EOPNOTSUPP (domain.c).
 */
#include <inttypes.h>
#include <stdio.h>

#include "pt.h"

struct dump_ctx {
	struct iopgt_domain *dom;
	int (*out)(void *arg, const char *line);
	void *arg;
	unsigned flags;
	unsigned top; /* the root's level, at depth 0 */
};

/* Send one formatted line; -EIO if it does not fit the buffer. */
static int emit(const struct dump_ctx *dc, const char *line, int n,
		size_t size)
{
	if (n < 0 || (size_t)n >= size)
		return -EIO;
	return dc->out(dc->arg, line);
}

static void prot_str(unsigned prot, char buf[8])
{
	buf[0] = prot & IOPGT_PROT_READ ? 'r' : '-';
	buf[1] = prot & IOPGT_PROT_WRITE ? 'w' : '-';
	buf[2] = prot & IOPGT_PROT_EXEC ? 'x' : '-';
	buf[3] = prot & IOPGT_PROT_USER ? 'u' : '-';
	buf[4] = prot & IOPGT_PROT_MMIO ? 'm' : '-';
	buf[5] = 0;
}

static int dump_table(void *arg, const struct iopgt_table_info *ti)
{
	const struct dump_ctx *dc = arg;
	const struct pt_geo *geo = &dc->dom->geo;
	int depth = ((int)dc->top - (int)ti->level) * 2;
	const pt_entry_t *va = ti->va;
	uint64_t esz = UINT64_C(1) << pt_shift(geo, ti->level);
	char line[256];
	int n, r;

	n = snprintf(line, sizeof(line),
		     "%*sL%u table iova 0x%016" PRIx64 " span 0x%" PRIx64
		     " pa 0x%" PRIx64 " used %u/%u\n",
		     depth, "", ti->level, ti->iova, ti->span, ti->pa, ti->used,
		     ti->entries);
	r = emit(dc, line, n, sizeof(line));
	if (r || !(dc->flags & IOPGT_DUMP_ENTRIES))
		return r;
	for (unsigned i = 0; i < ti->entries; i++) {
		uint64_t e = atomic_load_explicit(&va[i], memory_order_relaxed);
		uint64_t iova = pt_sext(dc->dom, ti->iova + i * esz);

		if (!e)
			continue;
		if (dc->dom->eng->is_table(e, ti->level)) {
			n = snprintf(line, sizeof(line),
				     "%*s  [%4u] 0x%016" PRIx64
				     " iova 0x%016" PRIx64 " table pa 0x%" PRIx64
				     "\n",
				     depth, "", i, e, iova,
				     dc->dom->eng->table_pa(e, ti->level));
		} else {
			struct iopgt_translation tr;
			char p[8];

			dc->dom->eng->decode_leaf(e, ti->level, geo, &tr);
			prot_str(tr.prot, p);
			if (tr.leaf_size > esz && (iova & (tr.leaf_size - 1))) {
				/* A leaf of several items is written in each
				 * entry of its group: it is listed at the
				 * first, and each other entry by its place. */
				n = snprintf(line, sizeof(line),
					     "%*s  [%4u] 0x%016" PRIx64
					     " iova 0x%016" PRIx64
					     " item %" PRIu64 " of the 0x%" PRIx64
					     " leaf at [%4u]\n",
					     depth, "", i, e, iova,
					     (iova & (tr.leaf_size - 1)) / esz,
					     tr.leaf_size,
					     i - (unsigned)((iova &
							     (tr.leaf_size - 1)) /
							    esz));
				r = emit(dc, line, n, sizeof(line));
				if (r)
					return r;
				continue;
			}
			n = snprintf(line, sizeof(line),
				     "%*s  [%4u] 0x%016" PRIx64
				     " iova 0x%016" PRIx64 " leaf 0x%" PRIx64
				     " pa 0x%" PRIx64 " %s%s\n",
				     depth, "", i, e, iova, tr.leaf_size, tr.pa,
				     p, tr.dirty ? " dirty" : "");
		}
		r = emit(dc, line, n, sizeof(line));
		if (r)
			return r;
	}
	return 0;
}

int iopgt_dump(struct iopgt_domain *dom,
	       int (*out)(void *arg, const char *line), void *arg,
	       unsigned flags)
{
	struct dump_ctx dc = { dom, out, arg, flags, 0 };
	char line[256];
	int n, r;

	struct iopgt_info info;

	if (!dom || !out || (flags & ~(unsigned)IOPGT_DUMP_ENTRIES))
		return -EINVAL;
	iopgt_domain_info(dom, &info, sizeof(info));
	dc.top = info.levels - 1;
	n = snprintf(line, sizeof(line),
		     "domain %s ias %u oas %u granule %u levels %u start_level "
		     "%u root_tables %u root_pa 0x%" PRIx64 "%s\n",
		     iopgt_format_name(dom->cfg.format), info.ias, info.oas,
		     info.granule, info.levels, info.start_level,
		     info.root_tables, info.root_pa,
		     info.ias_max ? " (grows)" : "");
	r = emit(&dc, line, n, sizeof(line));
	if (r)
		return r;
	return iopgt_for_each_table(dom, dump_table, &dc);
}
