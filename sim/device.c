/* SPDX-License-Identifier: MIT */
/*
 * Device threads: each translates IOVAs drawn from the model (mostly inside
 * its ranges, some just outside), reads and writes, until stopped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

#define SIM_MAX_DEVICES 64

struct sim_dev_thread {
	struct sim_dev *dev;
	pthread_t th;
	unsigned idx;
};

struct sim_dev {
	struct iopgt_sim *sim;
	struct iopgt_sim_pattern p;
	_Atomic int stop;
	unsigned n;
	struct sim_dev_thread t[SIM_MAX_DEVICES];
};

/* splitmix64 */
uint64_t sim_rand(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void *device_main(void *arg)
{
	struct sim_dev_thread *t = arg;
	struct sim_dev *d = t->dev;
	uint64_t rng = (d->p.seed ? d->p.seed : UINT64_C(0x5eed)) ^
		       ((uint64_t)(t->idx + 1) << 32);
	uint64_t done = 0;

	while (!atomic_load_explicit(&d->stop, memory_order_relaxed) &&
	       (!d->p.max_translations || done < d->p.max_translations)) {
		struct iopgt_sim_result res;
		uint64_t iova = sim_model_sample(d->sim, &rng,
						 d->p.unmapped_pct);
		enum iopgt_sim_access a = sim_rand(&rng) % 100 < d->p.write_pct
						  ? IOPGT_SIM_WRITE
						  : IOPGT_SIM_READ;

		iopgt_sim_translate(d->sim, iova, a, &res);
		done++;
	}
	return NULL;
}

int iopgt_sim_device_start(struct iopgt_sim *sim, unsigned nthreads,
			   const struct iopgt_sim_pattern *p)
{
	struct sim_dev *d;

	if (sim->dev)
		return -EBUSY;
	if (!sim->dom)
		return -ENODEV;
	if (!nthreads || nthreads > SIM_MAX_DEVICES || !p ||
	    p->write_pct > 100 || p->unmapped_pct > 100)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->sim = sim;
	d->p = *p;
	for (unsigned i = 0; i < nthreads; i++) {
		d->t[i].dev = d;
		d->t[i].idx = i;
		if (pthread_create(&d->t[i].th, NULL, device_main, &d->t[i])) {
			atomic_store(&d->stop, 1);
			for (unsigned j = 0; j < i; j++)
				pthread_join(d->t[j].th, NULL);
			free(d);
			return -EAGAIN;
		}
		d->n++;
	}
	sim->dev = d;
	return 0;
}

void iopgt_sim_device_stop(struct iopgt_sim *sim)
{
	struct sim_dev *d = sim->dev;

	if (!d)
		return;
	atomic_store(&d->stop, 1);
	for (unsigned i = 0; i < d->n; i++)
		pthread_join(d->t[i].th, NULL);
	free(d);
	sim->dev = NULL;
}
