/* SPDX-License-Identifier: MIT */
/*
 * Creation, attach and statistics of the simulated IOMMU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

void iopgt_sim_config_init(struct iopgt_sim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->arena_size = UINT64_C(1) << 30;
	cfg->base_pa = UINT64_C(0x100000000);
	cfg->quarantine = 64;
	cfg->iotlb_sets = 64;
	cfg->iotlb_ways = 8;
	cfg->psc_entries = 16;
	cfg->max_reports = 32;
}

int iopgt_sim_create(const struct iopgt_sim_config *cfg,
		     struct iopgt_sim **out)
{
	struct iopgt_sim_config def;
	struct iopgt_sim *sim;
	int rc;

	if (!cfg) {
		iopgt_sim_config_init(&def);
		cfg = &def;
	}
	if (!cfg->arena_size || (cfg->arena_size & ((1u << 20) - 1)) ||
	    (cfg->base_pa & ((1u << 20) - 1)) ||
	    cfg->base_pa + cfg->arena_size < cfg->base_pa ||
	    !cfg->iotlb_sets || (cfg->iotlb_sets & (cfg->iotlb_sets - 1)) ||
	    !cfg->iotlb_ways || !cfg->psc_entries)
		return -EINVAL;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	sim->cfg = *cfg;
	rc = sim_model_init(sim);
	if (!rc)
		rc = sim_caches_init(sim);
	if (!rc)
		rc = sim_mem_init(sim);
	if (rc) {
		sim_caches_fini(sim);
		sim_model_fini(sim);
		free(sim);
		return rc;
	}
	*out = sim;
	return 0;
}

void iopgt_sim_destroy(struct iopgt_sim *sim)
{
	if (!sim)
		return;
	iopgt_sim_device_stop(sim);
	sim_mem_fini(sim);
	sim_caches_fini(sim);
	sim_model_fini(sim);
	free(sim);
}

void iopgt_sim_mem_ops(struct iopgt_sim *sim, struct iopgt_mem_ops *mem)
{
	mem->table_alloc = sim_table_alloc;
	mem->table_free = sim_table_free;
	mem->meta_alloc = NULL;
	mem->meta_free = NULL;
	mem->arg = sim;
}

void iopgt_sim_domain_config(struct iopgt_sim *sim, struct iopgt_config *cfg)
{
	iopgt_sim_mem_ops(sim, &cfg->mem);
	iopgt_sim_flush_ops(sim, &cfg->flush);
	/* One table page a segment (the other page holds its bookkeeping),
	 * so that the arena sees every table page come and go. */
	cfg->segment_size = UINT64_C(2) << cfg->granule;
}

void iopgt_sim_flush_ops(struct iopgt_sim *sim, struct iopgt_flush_ops *ops)
{
	ops->flush_range = sim_flush_range;
	ops->flush_all = sim_flush_all;
	ops->arg = sim;
}

int iopgt_sim_attach(struct iopgt_sim *sim, struct iopgt_domain *dom)
{
	const struct sim_fmt *fmt;
	struct iopgt_info info;
	int64_t f;

	if (sim->dom)
		return -EBUSY;
	iopgt_domain_info(dom, &info, sizeof(info));
	/* Which format the tables are in is all the simulator takes from the
	 * library's format code; it decodes entries with its own. A format
	 * it has no decoder for is not walked at all. */
	fmt = sim_fmt_find(info.format, info.granule);
	if (!fmt)
		return -ENOTSUP;
	f = sim_frame(sim, info.root_pa);
	if (f < 0 || !(sim_frame_state(sim, f) & SIM_ALLOCATED) ||
	    dom->geo.levels < 2 || dom->geo.levels > PT_MAX_LEVELS ||
	    (info.root_pa & 0xfff))
		return -EINVAL;
	/* The geometry indexes the tables (and sizes the concatenated
	 * root); it must be one the hardware walks: the format's table
	 * size and entries a table, at most its levels. */
	if (dom->geo.granule != fmt->granule || dom->geo.bits != fmt->bits ||
	    dom->geo.levels > fmt->max_levels)
		return -EINVAL;
	sim->fmt = fmt;
	sim->geo = dom->geo;
	sim->leaf_levels = fmt->leaf_levels & ((1u << dom->geo.levels) - 1);
	sim->max_leaf_level = 0;
	for (unsigned l = 0; l < dom->geo.levels; l++)
		if (sim->leaf_levels & (1u << l))
			sim->max_leaf_level = l;
	atomic_store_explicit(&sim->root, info.root_pa | info.levels,
			      memory_order_relaxed);
	sim->oas = info.oas;
	sim->format = info.format;
	/* The lower part ends at iova_last; an upper half, where the format
	 * sign-extends, starts at iova_upper = -in_bias. */
	sim->in_bias = 0 - info.iova_upper;
	sim->ias_mask = info.ias_max	  ? ~info.iova_last
			: info.ias >= 64 ? 0
					 : ~((UINT64_C(1) << info.ias) - 1);
	if (sim_inval_attach(sim))
		return -EINVAL;
	sim_caches_drop_all(sim);
	sim->dom = dom;
	return 0;
}

int iopgt_sim_set_root(struct iopgt_sim *sim,
		       const struct iopgt_hw_config *hw)
{
	int64_t f;

	if (!sim->dom || !hw)
		return -EINVAL;
	f = sim_frame(sim, hw->root);
	if (hw->format != sim->format || hw->levels < 1 ||
	    hw->levels > sim->geo.levels || (hw->root & 0xfff) || f < 0 ||
	    !(sim_frame_state(sim, f) & SIM_ALLOCATED))
		return -EINVAL;
	atomic_store_explicit(&sim->root, hw->root | hw->levels,
			      memory_order_release);
	return 0;
}

void iopgt_sim_detach(struct iopgt_sim *sim)
{
	iopgt_sim_device_stop(sim);
	if (!sim->dom)
		return;
	sim_caches_drop_all(sim);
	sim->dom = NULL;
}

void iopgt_sim_set_flush_hook(struct iopgt_sim *sim,
			      void (*fn)(void *arg, uint64_t iova,
					 uint64_t last, unsigned kind),
			      void *arg)
{
	sim->flush_hook = fn;
	sim->flush_hook_arg = arg;
}

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void iopgt_sim_get_stats(const struct iopgt_sim *sim,
			 struct iopgt_sim_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->translations = LD(sim->st.translations);
	st->iotlb_hits = LD(sim->st.iotlb_hits);
	st->negative_hits = LD(sim->st.negative_hits);
	st->iotlb_hit_rate = st->translations
				     ? (double)st->iotlb_hits /
					       (double)st->translations
				     : 0.0;
	st->psc_hits = LD(sim->st.psc_hits);
	st->walks = LD(sim->st.walks);
	st->ad_updates = LD(sim->st.ad_updates);
	for (unsigned i = 0; i < IOPGT_SIM_FAULTS; i++)
		st->faults[i] = LD(sim->st.faults[i]);
	for (unsigned i = 0; i < IOPGT_FLUSH_KINDS; i++)
		st->invalidations[i] = LD(sim->st.inval[i]);
	st->invalidate_all = LD(sim->st.inval_all);
	for (unsigned i = 0; i < IOPGT_SIM_V_KINDS; i++)
		st->violations[i] = LD(sim->st.viol[i]);
	st->pages_alloc = LD(sim->st.pages_alloc);
	st->pages_freed = LD(sim->st.pages_freed);
	st->pages_live = LD(sim->st.pages_live);
	st->pages_peak = LD(sim->st.pages_peak);
	st->bytes_live = LD(sim->st.bytes_live);
	st->bytes_peak = LD(sim->st.bytes_peak);
	st->inval_commands = LD(sim->st.inval_cmds);
}

void iopgt_sim_print_stats(const struct iopgt_sim *sim, FILE *out)
{
	struct iopgt_sim_stats st;

	iopgt_sim_get_stats(sim, &st);
	fprintf(out,
		"translations %" PRIu64 " iotlb_hits %" PRIu64
		" (%.1f%%) negative_hits %" PRIu64 " walks %" PRIu64
		" psc_hits %" PRIu64 " ad_updates %" PRIu64 "\n",
		st.translations, st.iotlb_hits, 100.0 * st.iotlb_hit_rate,
		st.negative_hits, st.walks, st.psc_hits, st.ad_updates);
	fprintf(out, "faults:");
	for (unsigned i = 1; i < IOPGT_SIM_FAULTS; i++)
		fprintf(out, " %s %" PRIu64, iopgt_sim_fault_name(i),
			st.faults[i]);
	fprintf(out, "\ninvalidations:");
	for (unsigned i = 0; i < IOPGT_FLUSH_KINDS; i++)
		fprintf(out, " %s %" PRIu64, iopgt_flush_kind_name(i),
			st.invalidations[i]);
	fprintf(out, " all %" PRIu64 " commands %" PRIu64 "\nviolations:",
		st.invalidate_all, st.inval_commands);
	for (unsigned i = 0; i < IOPGT_SIM_V_KINDS; i++)
		fprintf(out, " %s %" PRIu64, iopgt_sim_violation_name(i),
			st.violations[i]);
	fprintf(out,
		"\ntable pages: alloc %" PRIu64 " freed %" PRIu64
		" live %" PRIu64 " peak %" PRIu64 " bytes live %" PRIu64
		" peak %" PRIu64 "\n",
		st.pages_alloc, st.pages_freed, st.pages_live, st.pages_peak,
		st.bytes_live, st.bytes_peak);
}
