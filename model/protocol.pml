/* SPDX-License-Identifier: MIT */
/*
 * A Promela model of iopgt's lock-free page-table protocol: the per-table
 * state word {C, W, X, F} with open/close, open_excl/close_excl (clears),
 * freeze/unfreeze, install, map (with
 * coalesce), unmap (with split and the unlink cascade), the walkers' epoch
 * with two parity counters, and the reclaim of unlinked tables.
 * docs/protocol.md describes the protocol and lists the checks; this file
 * is what spin verifies. Run it with scripts/model.sh.
 *
 * Scale. Tables have two entries. The root (level 2) holds one level-1
 * table, which holds level-0 tables or level-1 leaves (superpages of two
 * pages); the root may hold a level-2 leaf (four pages), so that a full
 * level-1 table can be coalesced too. Pages 0..3 lie under root entry 0;
 * page p translates to frame p, so the leaf at level l that covers p has
 * the frame p rounded down to 2^l. Writers own disjoint pages (one each),
 * as the library's contract requires; a scenario (SCEN) chooses the
 * starting tree and the processes so that the races of interest happen on
 * shared tables.
 *
 * Atomicity. Each process is a state machine: `act` names its next step,
 * and each step (one `:: d_step { act == X -> ... }` option) makes exactly
 * one access to memory that other processes use, as the implementation
 * does with one atomic instruction: a load, a store, a CAS, a fetch-op, or
 * a CAS loop on a state word (which retries only when the word changed, so
 * it behaves as one step). Work on a process's own data (locals, a table
 * not yet published, the allocator, the domain's list of waiting tables,
 * which has its own lock) is folded into the neighbouring step. Spin's
 * interleaving is sequentially consistent; the implementation gets that
 * where it matters from seq_cst operations and fences (docs/protocol.md,
 * "Walkers and reclaim"). A busy wait (a writer relaxing on a frozen
 * table; open while X is set; open_excl while W or X is set; a freezer's
 * open of a frozen parent) is a step enabled only when the condition it
 * waits for holds, so a wait that can last forever is a deadlock, which
 * pan reports as an invalid end state.
 *
 * Checks. Each is CHECK(name, condition); pan prints the name when the
 * condition fails. The names are listed in docs/protocol.md.
 *
 * Domains without counts (-DUNCOUNTED: IOPGT_OPT_NO_RECLAIM and
 * IOPGT_OPT_NO_COALESCE, so nothing is coalesced or unlinked): C stays 0
 * (CNT); a single page is mapped or unmapped by one store of its entry,
 * with no section (U_FILL, U_CLR); installs and splits open a shared
 * section that reserves nothing. With -DUC_COALESCE as well
 * (IOPGT_OPT_NO_COUNTS): a fill that leaves its table full starts a
 * coalesce (the probe: both entries present), and a clear reads the
 * table's F after its store (U_CHK); if set, it waits until F is clear
 * (the coalesce gave up: done) or the parent entry no longer names the
 * table (replaced: unmap again from the root) (U_WAIT). The coalescer
 * freezes and then rescans, so one of the two sees the other.
 * With -DUC_RECLAIM as well: the domain reclaims emptied tables without
 * counts (IOPGT_OPT_NO_COUNTS once it reclaims; with NO_COALESCE too,
 * UC_RECLAIM without UC_COALESCE). A fill reads the table's F
 * after its store (U_MCHK); if set, it waits until F is clear (the entry
 * stands) or the parent entry no longer names the table (U_MWAIT): a
 * leaf there means a coalescer took the entry (done), anything else that
 * the table was unlinked (or coalesced and split again): map again from
 * the root. A clear (after U_CHK/U_WAIT with UC_COALESCE) probes its
 * table (U_PR0, U_PR1); all entries 0: freeze it from exactly 0
 * (UL_FREEZE), read every entry again under the freeze (U_RS0, U_RS1);
 * all 0: unlink it as a counted unlink does, counting nothing, retire it,
 * and probe the parent the same way; else unfreeze and probe again
 * (U_THAW), since a clear that raced the freeze may have given up on the
 * table. A redo from the root (`again`) that finds its work done (the
 * unmap no entry, the map its own leaf) is over.
 *
 * Broken variants (each must give a counterexample; scripts/model.sh
 * --broken NAME):
 *   NO_RECHECK          walker enter without the epoch re-check
 *   SPLIT_NO_OPEN       split replaces the parent entry without open/close
 *   UNFREEZE_STORE      unfreeze by a plain store of the state word the
 *                       coalescer read when it decided to freeze
 *   UNLINK_IGNORE_OPEN  unlink goes on when its open of the parent fails
 *   NO_RESCAN           coalesce trusts its unfrozen scan (no rescan)
 *   RETIRE_NOW          retire frees at once, ignoring the walkers
 *   SPLIT_WAIT          split waits for its frozen parent to be unfrozen
 *                       instead of reloading the entry above it
 *   CLEAR_COUNT_INTENDED a clear takes from C the entries it meant to
 *                       clear, not those it found non-empty (scenario 5)
 *   LEAVE_OTHER_SHARD   (with SHARDS=2) a walker leaves by decrementing
 *                       the other shard's counter, not its own
 *   INS_STORE           (with UNCOUNTED) install by a plain store of the
 *                       table entry, not a compare-and-swap
 *   UC_NO_CHECK         (with UNCOUNTED, UC_COALESCE) a clear does not
 *                       read F after its store
 *   UC_NO_MAP_CHECK     (with UNCOUNTED, UC_RECLAIM) a fill does not read
 *                       F after its store
 *   UC_UNLINK_NO_RESCAN (with UNCOUNTED, UC_RECLAIM) the unlinker decides
 *                       from its probe before the freeze (no rescan)
 *   UC_THAW_GIVE_UP     (with UNCOUNTED, UC_RECLAIM) an unlinker whose
 *                       rescan finds an entry unfreezes and gives up, not
 *                       probing again: an emptied table may stay linked
 * Options that must still verify:
 *   NO_PRESCAN          coalesce freezes before any scan (the scan under
 *                       the freeze alone decides)
 *   ENTER_RETRY         the retrying walker enter of the first version
 *                       (the default is the wait-free one; ENTER_STEPS)
 *   COARSE_EPOCH        the writers' enter and sync in one step each, to
 *                       reach more operations on the tables
 *   SHARDS=2            the walker counters in two shards, as the
 *                       implementation keeps them in sixteen: a process
 *                       counts itself in shard p % SHARDS, and a reclaimer
 *                       reads the shards one step each
 *   END_TO_END          the checks of the protocol's own rules off (RULE)
 *   WAIT_STEPS          (with UNCOUNTED, UC_COALESCE or UC_RECLAIM) the
 *                       waits after a single page's store (U_WAIT,
 *                       U_MWAIT) as a loop of two loads, F and then the
 *                       parent entry, rather than one step enabled when
 *                       either has changed (a wait that never ends is
 *                       then a cycle, which a safety search does not
 *                       report)
 * Witnesses (-DWITNESS=n): each fails the check `witness` when the model
 * reaches one interleaving of interest, to show that it is explored.
 */

/* ---------------------------------------------------------------------
 * Geometry and entries
 */
#define NE	2		/* entries per table */
#define TOP	2		/* the root's level */
#define ROOT	0		/* the root's table slot */
#ifndef MAXT
#define MAXT	10		/* table slots, the root included */
#endif
#ifdef NO_ROOT_LEAF
#define LEAF_TOP 1		/* the highest level that holds leaves */
#else
#define LEAF_TOP 2
#endif

/* An entry is a byte: 0 empty, 1..63 a table entry naming that table slot,
 * 64 + 16 * level + frame a leaf, 255 the poison of freed memory. */
#define EMPTY		0
#define POISON		255
#define LEAF(l, f)	(64 + (l) * 16 + (f))
#define IS_TABLE(e)	((e) != EMPTY && (e) < 64)
#define IS_LEAF(e)	((e) >= 64 && (e) != POISON)
#define LEAF_LVL(e)	(((e) - 64) / 16)
#define LEAF_PA(e)	(((e) - 64) % 16)
#define IDX(p, l)	(((p) >> (l)) & 1)
#define BASE(p, l)	(((p) >> (l)) << (l))
#define E(t, i)		ent[(t) * NE + (i)]
#define NONEMPTY(t)	((E(t, 0) != EMPTY) + (E(t, 1) != EMPTY))
/* What C must be when nobody is inside: the entries, or 0 without counts. */
#ifdef UNCOUNTED
#define UC		1
#define CNT(t)		0
#ifdef UC_COALESCE
#define UCC		1
#else
#define UCC		0
#endif
#ifdef UC_RECLAIM
#define UCR		1
#else
#define UCR		0
#endif
/* What starts a coalesce: without counts the probe, else the count. */
#define FULL_HINT(t)	(NONEMPTY(t) == NE)
#else
#ifdef UC_RECLAIM
#error UC_RECLAIM needs UNCOUNTED
#endif
#define UC		0
#define UCC		0
#define UCR		0
#define CNT(t)		NONEMPTY(t)
#define FULL_HINT(t)	(C[t] == NE)
#endif
/* The leaf at level l that translates page p. */
#define LEAF_OF(p, l)	LEAF(l, BASE(p, l))
/* Two entries of a level-l table that a level-(l + 1) leaf can replace:
 * both leaves of level l, contiguous from an address aligned to 2^(l+1). */
#define CONTIG(a, b, l)	(IS_LEAF(a) && IS_LEAF(b) && LEAF_LVL(a) == (l) && \
			 LEAF_LVL(b) == (l) && \
			 LEAF_PA(a) == BASE(LEAF_PA(a), (l) + 1) && \
			 LEAF_PA(b) == LEAF_PA(a) + (1 << (l)))

/* ---------------------------------------------------------------------
 * Scenario parameters (the scenarios themselves are at the end)
 *   SCEN      1 coalesce-split, 2 unlink-frozen-parent, 3 epoch, 4 mixed,
 *             5 overlap (two unmaps of one page: a caller bug),
 *             6 coalesce-unmap, 7 reclaim-map
 *   OPS       operations per writer (each toggles its page)
 *   LOOKUPS   lookups by the walker
 *   ADVANCES  advances tried by the reclaimer (scenario 3)
 *   UNMAPPERS 2 (default) or 1: scenario 1 without the writer of page 1
 * Per scenario: INIT_MAPPED(p) is the starting state of page p; OWNED(p)
 * says a writer owns p, so that its final state is its starting state
 * toggled OPS times; a page nobody owns that starts mapped must be found
 * by every lookup (STABLE).
 */
#ifndef SCEN
#define SCEN 1
#endif
#ifndef OPS
#define OPS 1
#endif
#ifndef LOOKUPS
#define LOOKUPS 1
#endif
#ifndef ADVANCES
#define ADVANCES 3
#endif
#ifndef UNMAPPERS
#define UNMAPPERS 2
#endif
#if SCEN == 1
#define INIT_MAPPED(p)	((p) != 3)
#define OWNED(p)	((p) == 3 || (p) == 0 || ((p) == 1 && UNMAPPERS > 1))
#elif SCEN == 2
#define INIT_MAPPED(p)	((p) == 0 || (p) == 2)
#define OWNED(p)	((p) != 2)
#elif SCEN == 3
#define INIT_MAPPED(p)	((p) == 0)
#define OWNED(p)	((p) == 0)
#elif SCEN == 4
#define INIT_MAPPED(p)	0
#define OWNED(p)	((p) == 0 || (p) == 1)
#elif SCEN == 5
#define INIT_MAPPED(p)	((p) <= 1)
#define OWNED(p)	((p) == 0)
#if OPS != 1
#error scenario 5 has one operation per writer
#endif
#elif SCEN == 6
#define INIT_MAPPED(p)	((p) <= 2)
#define OWNED(p)	((p) >= 2)
#elif SCEN == 7
#define INIT_MAPPED(p)	((p) == 1)
#define OWNED(p)	((p) <= 1)
#endif
#define FINAL_MAPPED(p)	((OWNED(p) && OPS % 2 == 1) != (INIT_MAPPED(p) != 0))
#define STABLE(p)	(!OWNED(p) && INIT_MAPPED(p))

/* Table slots: in the pool (never used), private (allocated, not yet
 * published), published (reachable, or unlinked and waiting), freed. A
 * slot is never reused: the checks catch any access to a freed table,
 * which is what a reuse would make harmful. */
#define T_POOL	0
#define T_PRIV	1
#define T_PUB	2
#define T_FREED	3

/* ---------------------------------------------------------------------
 * Checks: CHECK(name, cond) fails with the name in pan's message. The
 * names are hidden variables (not part of the state), always 0.
 */
#define CHECK(name, c)	assert((c) || name)
/* The checks of the protocol's own rules (the writes happen inside open
 * sections, frozen tables are left alone, the CASs under a freeze cannot
 * fail) are RULE; END_TO_END turns them off, leaving only what a user of
 * the tables can observe (mappings, freed memory, counts, leaks, deadlock):
 * a broken variant then shows where breaking the rule leads. */
#ifdef END_TO_END
#define RULE(name, c)	skip
#else
#define RULE(name, c)	CHECK(name, c)
#endif
hidden byte lost_map;		/* a page its owner mapped is not mapped */
hidden byte lost_unmap;		/* a page its owner unmapped is mapped */
hidden byte translation;	/* a leaf translates its page wrongly */
hidden byte walker_no_freed;	/* a lookup read a freed table */
hidden byte writer_no_freed;	/* a writer read or wrote a freed table */
hidden byte free_unreachable;	/* a reachable entry names a table being freed */
hidden byte publish_fresh;	/* a table entry published names a used table */
hidden byte no_write_frozen;	/* software wrote an entry of a frozen table */
hidden byte no_install_frozen;	/* a table was installed into a frozen table */
hidden byte write_in_section;	/* an entry was written outside an open section */
hidden byte count_nonneg;	/* open would take C below zero */
hidden byte close_balanced;	/* close without a matching open */
hidden byte frozen_constant;	/* the state word changed while frozen */
hidden byte count_exact;	/* W == 0 but C != the non-empty entries */
hidden byte root_not_frozen;	/* a freeze of the root was tried */
hidden byte coalesce_cas;	/* coalesce: the CAS on the parent failed */
hidden byte unlink_cas;		/* unlink: the CAS on the parent failed */
hidden byte lookup_bounded;	/* a lookup looped: more reads or retries than allowed */
hidden byte lookup_stable;	/* a lookup missed a page nobody changes */
hidden byte final_counts;	/* at the end: C != non-empty entries, or W != 0 */
hidden byte final_unfrozen;	/* at the end: a reachable table is frozen */
hidden byte final_no_empty;	/* at the end: an empty non-root table is linked */
hidden byte final_walkers;	/* at the end: a walker counter is not zero */
hidden byte no_leak;		/* at the end: a table neither reachable nor freed */
hidden byte double_free;	/* a table freed twice */
hidden byte pool_size;		/* the model ran out of table slots (raise MAXT) */

#ifdef WITNESS
hidden byte witness;
#define REACH(n, c)	assert(!(WITNESS == (n) && (c)) || witness)
#define LOST(v)		lost = v
#else
#define REACH(n, c)	skip
#define LOST(v)		skip
#endif

/* Replay output: an entry's value, a table's state word. */
#define SAYE(v)	if							\
		:: IS_TABLE(v) -> printf("T%d", v)			\
		:: IS_LEAF(v) -> printf("leaf(level %d, frame %d)", LEAF_LVL(v), LEAF_PA(v)) \
		:: (v) == POISON -> printf("POISON")			\
		:: else -> printf("0")					\
		fi
#define SAYST(x) printf("\t\tst(T%d) = {C %d, W %d, X %d, F %d}\n", x, C[x], W[x], X[x], F[x])

/* ---------------------------------------------------------------------
 * Shared state
 */
byte ent[MAXT * NE];		/* the entries of every table slot */
byte C[MAXT];			/* st.C: non-empty entries and reservations */
byte W[MAXT];			/* st.W: writers in a shared section */
bit  X[MAXT];			/* st.X: a clearer in the exclusive section */
bit  F[MAXT];			/* st.F: frozen */
byte lvl[MAXT];			/* the table's level (its descriptor) */
byte ts[MAXT];			/* T_POOL, T_PRIV, T_PUB, T_FREED */
byte tag[MAXT];			/* the epoch a waiting table was retired at */
bit  pend[MAXT];		/* retired, waiting for epoch >= tag + 2 */
byte npend;			/* how many wait */
byte epoch;
/* The walkers by shard and parity: WK(s, parity). A process enters and
 * leaves in its own shard (sh = p % SHARDS); readers of a parity's count
 * read its shards one at a time (WSUM only where one step reads them all:
 * the final check, COARSE_EPOCH). */
#ifndef SHARDS
#define SHARDS	1
#endif
byte walkers[2 * SHARDS];
#define WK(s, par)	walkers[2 * (s) + (par)]
#if SHARDS == 1
#define WSUM(par)	WK(0, par)
#elif SHARDS == 2
#define WSUM(par)	(WK(0, par) + WK(1, par))
#else
#error "SHARDS: 1 or 2"
#endif

/* Scratch for computations inside one d_step (not part of the state). */
hidden byte hu, hk, hr, he;
hidden int hm;

/* ---------------------------------------------------------------------
 * Memory: allocation, reachability, free with poison. These run inside a
 * process's d_step: they are the allocator's business, or checks.
 */

/* hm = the set of table slots reachable from the root (bit per slot). */
inline reach() {
	hm = 1;
	for (hr : 1 .. TOP) {
		for (hu : 0 .. MAXT - 1) {
			if
			:: (hm & (1 << hu)) && ts[hu] != T_FREED ->
				he = E(hu, 0);
				if :: IS_TABLE(he) -> hm = hm | (1 << he) :: else fi;
				he = E(hu, 1);
				if :: IS_TABLE(he) -> hm = hm | (1 << he) :: else fi
			:: else
			fi
		}
	}
}

/* Free table slot x: nothing reachable may name it; its memory becomes
 * poison, so that a later access fails a check. */
inline poison(x) {
	printf("\t\tfree T%d\n", x);
	/* without counts or coalescing, only a map's store after the unlink
	 * leaves a leaf in a table that is freed */
	REACH(23, UCR && !UCC && (IS_LEAF(E(x, 0)) || IS_LEAF(E(x, 1))));
	reach();
	CHECK(free_unreachable, (hm & (1 << x)) == 0);
	CHECK(double_free, ts[x] != T_FREED);
	ts[x] = T_FREED;
	E(x, 0) = POISON;
	E(x, 1) = POISON;
	C[x] = 0; W[x] = 0; X[x] = 0; F[x] = 0; lvl[x] = 0;
	if :: pend[x] -> pend[x] = 0; npend-- :: else fi;
	tag[x] = 0
}

/* x = a new table of level l: entries zero, st = 0, private. */
inline alloc(x, l) {
	hu = 1;
	do
	:: hu < MAXT && ts[hu] != T_POOL -> hu++
	:: else -> break
	od;
	CHECK(pool_size, hu < MAXT);
	x = hu;
	ts[x] = T_PRIV;
	lvl[x] = l
}

/* Free a table that was never published (a lost install, a split table
 * not used): emptied, then freed. */
inline free_private(x) {
	CHECK(publish_fresh, ts[x] == T_PRIV);
	E(x, 0) = EMPTY; E(x, 1) = EMPTY; C[x] = 0;
	poison(x);
	x = 0
}

/* Free every waiting table whose tag is two epochs old. */
inline free_due() {
	for (hk : 1 .. MAXT - 1) {
		if
		:: pend[hk] && epoch >= tag[hk] + 2 ->
			REACH(7, 1);
			poison(hk)
		:: else
		fi
	}
}

/* ---------------------------------------------------------------------
 * The state word and the entries. Each is the body of one step.
 */

/* open(T, dC): fails (ok = 0) if F is set, else C += dC, W += 1. It waits
 * while X is set: the step that calls it is enabled only when F is set or
 * X is clear (OPEN_STEP). */
inline st_open(x, dc, ok) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	if
	:: F[x] -> ok = 0
	:: else ->
		RULE(count_nonneg, C[x] + (dc) >= 0);
		C[x] = C[x] + (dc);
		W[x]++;
		ok = 1
	fi;
	printf("\t\topen(T%d, %d): %d\n", x, dc, ok);
	SAYST(x)
}

/* close(T, give_back): st -= {C: give_back, W: 1}; nc, nw = the new C, W. */
inline st_close(x, gb, nc, nw) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	RULE(close_balanced, W[x] > 0 && C[x] >= (gb));
	C[x] = C[x] - (gb);
	W[x]--;
	nc = C[x];
	nw = W[x];
	RULE(count_exact, nw != 0 || nc == CNT(x));
	SAYST(x)
}

/* open_excl(T): fails (ok = 0) if F is set; else sets X. It waits while
 * W or X is set: the step that calls it is enabled only when F is set or
 * W and X are both clear (EXCL_STEP). */
inline st_open_excl(x, ok) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	if
	:: F[x] -> ok = 0
	:: else ->
		RULE(close_balanced, W[x] == 0 && X[x] == 0);
		X[x] = 1;
		ok = 1
	fi;
	printf("\t\topen_excl(T%d): %d\n", x, ok);
	SAYST(x)
}

/* close_excl(T, k): st -= {X, C: k}, k the entries found non-empty and
 * cleared. nc = the new C; nw = W + F of the new word, so that nc == 0 &&
 * nw == 0 is the implementation's "the new word is 0": empty, nobody
 * inside. */
inline st_close_excl(x, k, nc, nw) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	RULE(close_balanced, X[x] == 1);
	RULE(count_nonneg, C[x] >= (k));
	C[x] = C[x] - (k);
	/* fetch_sub of X: without X set (only a broken variant), it borrows
	 * from F, as the 64-bit word does */
	if
	:: X[x] -> X[x] = 0
	:: !X[x] && F[x] -> F[x] = 0; X[x] = 1
	:: else -> F[x] = 1; X[x] = 1
	fi;
	nc = C[x];
	nw = W[x] + F[x];
	RULE(count_exact, W[x] != 0 || nc == CNT(x));
	printf("\t\tclose_excl(T%d, %d)\n", x, k);
	SAYST(x)
}

/* freeze(T): CAS st from {C, W = 0, X = 0, F = 0} to {C, 0, 0, 1}; seen =
 * that C. (The coalescer: the implementation's CAS expects C = n exactly;
 * here the rescan under the freeze decides, which is the same.) */
inline st_freeze(x, ok, seen) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	RULE(root_not_frozen, x != ROOT);
	if
	:: W[x] == 0 && X[x] == 0 && !F[x] ->
		RULE(count_exact, C[x] == CNT(x));
		F[x] = 1; seen = C[x]; ok = 1
	:: else -> ok = 0
	fi;
	printf("\t\tfreeze(T%d): %d\n", x, ok);
	SAYST(x)
}

/* freeze(T, 0), to unlink: CAS st from exactly 0 ({C = 0, W = 0, X = 0,
 * F = 0}) to {0, 0, 0, 1}. */
inline st_freeze_empty(x, ok) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	RULE(root_not_frozen, x != ROOT);
	if
	:: C[x] == 0 && W[x] == 0 && X[x] == 0 && !F[x] ->
		/* without counts C is always 0: the rescan decides */
		RULE(count_exact, UCR || NONEMPTY(x) == 0);
		F[x] = 1; ok = 1
	:: else -> ok = 0
	fi;
	printf("\t\tfreeze(T%d, 0): %d\n", x, ok);
	SAYST(x)
}

/* unfreeze(T): fetch_and(~F). Nothing changes the word while F is set
 * (open refuses, and nobody was inside when it was set): frozen_constant
 * checks it (sn: the count the freeze saw). UNFREEZE_STORE: a plain store
 * of the word as the caller read it when it decided to freeze (count sv,
 * W = 0). */
inline st_unfreeze(x, sn, sv) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
#ifdef UNFREEZE_STORE
	C[x] = sv;
	W[x] = 0;
	F[x] = 0
#else
	RULE(frozen_constant, F[x] && W[x] == 0 && C[x] == sn);
	F[x] = 0
#endif
	;
	SAYST(x)
}

inline rd_entry(x, i, v) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	v = E(x, i);
	printf("\t\tT%d[%d] = ", x, i); SAYE(v); printf("\n")
}

/* A store into an entry inside an open section of its table: a shared
 * one for a non-empty value, the exclusive one for a clear. */
inline wr_entry(x, i, v) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	RULE(no_write_frozen, !F[x]);
	RULE(write_in_section, ((v) != EMPTY && W[x] > 0) || ((v) == EMPTY && X[x]));
	E(x, i) = v;
	printf("\t\tT%d[%d] := ", x, i); SAYE(v); printf("\n")
}

/* A store of a single page's entry in a domain without counts: no
 * section. Without coalescing nothing freezes a table there but a
 * caller's superpage over empty tables, which the scenarios do not make.
 * With it, a store may land in a table a coalescer has frozen: a clear
 * then finds F (U_CHK); a fill needs nothing, since the coalescer's
 * rescan either reads the entry empty (and gives up) or reads the leaf.
 * With UC_RECLAIM a store may also land in a table an unlinker has
 * frozen, or already unlinked: a fill then finds F (U_MCHK); a clear
 * needs nothing for the unlinker, whose rescan reads either the leaf (it
 * unfreezes) or the 0 (it unlinks), and the unmap is done either way.
 * The end-to-end checks show that nothing is lost. */
inline wr_entry_uc(x, i, v) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	RULE(no_write_frozen, !F[x] || UCC || UCR);
	E(x, i) = v;
	printf("\t\tT%d[%d] := ", x, i); SAYE(v); printf("\n")
}

/* CAS entry i of x from old to new. sec: the caller holds an open section
 * of x (all do but the broken SPLIT_NO_OPEN). A table entry written
 * publishes a new table. */
inline cas_entry(x, i, old, new, ok, sec) {
	CHECK(writer_no_freed, ts[x] != T_FREED);
	if
	:: E(x, i) == old ->
		if
		:: IS_TABLE(new) ->
			RULE(no_install_frozen, !F[x]);
			CHECK(publish_fresh, ts[new] == T_PRIV);
			ts[new] = T_PUB
		:: else
		fi;
		RULE(no_write_frozen, !F[x]);
		RULE(write_in_section, !(sec) || ((new) != EMPTY && W[x] > 0) ||
					     ((new) == EMPTY && X[x]));
		E(x, i) = new;
		ok = 1
	:: else -> ok = 0
	fi;
	printf("\t\tCAS T%d[%d] ", x, i); SAYE(old); printf(" -> "); SAYE(new);
	printf(": %d\n", ok)
}

/* ---------------------------------------------------------------------
 * Steps: the values of act. Walkers and writers start at EN_READ, the
 * reclaimer at AD_EPOCH. STEP(X) is the guard of step X; in a replay of a
 * counterexample (spin -t) it prints the process, the step and where it is.
 */
mtype = {
	FIN,
	EN_READ,	/* enter: e = epoch */
	EN_INC,		/* walkers[e & 1] += 1 */
	EN_CHECK,	/* (epoch & 1) == (e & 1)? */
	EN_UNDO,	/* walkers[e & 1] -= 1, then again */
	EN_BOTH,	/* walkers[1 - (e & 1)] += 1 */
	RD,		/* read t[IDX(p, L)], decide */
	RELAX,		/* t frozen: wait, reload the parent entry */
	FILL_OPEN,	/* map: open(t, +1) */
	FILL_STORE,	/* store the leaf into the slot found empty */
	FILL_CLOSE,	/* close(t, 0) */
	INS_OPEN,	/* install: open(t, +1) */
	INS_CAS,	/* CAS t[i] 0 -> table(nt) */
	INS_CLOSE,	/* close(t, lost ? 1 : 0) */
	CLR_OPEN,	/* unmap: open_excl(t), waiting while W or X */
	CLR_STORE,	/* reload the entry; if not empty, store 0, k = 1 */
	CLR_CLOSE,	/* close_excl(t, k) */
	U_FILL,		/* without counts: store the leaf, no section */
	U_CLR,		/* without counts: store 0, no section */
	U_CHK,		/* UC_COALESCE: read F of the table cleared */
	U_WAIT,		/* F set: wait until clear or the table replaced */
	U_MCHK,		/* UC_RECLAIM: read F of the table filled */
	U_MWAIT,	/* F set: wait until clear or the table replaced */
	U_WAIT2,	/* WAIT_STEPS: the waits' load of the parent entry */
	U_MWAIT2,
	U_PR0,		/* UC_RECLAIM: probe, t[0] (after a clear, an unlink) */
	U_PR1,		/* t[1]; both empty: unlink t */
	U_RS0,		/* the unlinker's scan under the freeze, t[0] */
	U_RS1,		/* t[1]; both empty: open the parent, else thaw */
	U_THAW,		/* an entry is present: unfreeze(t), probe again */
	SP_OPEN,	/* split: open(t, 0), waiting while X */
	SP_CAS,		/* CAS t[i] leaf -> table(nt) */
	SP_CLOSE,	/* close(t, 0) */
	UL_FREEZE,	/* unlink: freeze(t, 0) (without counts, then U_RS0) */
	UL_OPEN,	/* open_excl(P), waiting while P is frozen or open */
	UL_CAS,		/* CAS P[i] table(t) -> 0 */
	UL_CLOSE,	/* close_excl(P, 1; 0 without counts), gather t, cascade */
	CO_COUNT,	/* coalesce: C(t) == n? */
	CO_SCAN0,	/* the unfrozen scan */
	CO_SCAN1,
	CO_FREEZE,	/* freeze(t) */
	CO_RESCAN0,	/* the scan under the freeze */
	CO_RESCAN1,
	CO_THAW,	/* the rescan failed: unfreeze(t) */
	CO_OPEN,	/* open(P, 0), waiting while P is frozen or X */
	CO_CAS,		/* CAS P[i] table(t) -> leaf */
	CO_CLOSE,	/* close(P, 0), gather t, try P */
	LEAVE,		/* walkers[e & 1] -= 1 */
	SY_W0,		/* retire: read walkers[0] (shard 0) */
	SY_W1,		/* read walkers[1] (shard 0); all 0: free now */
	SY_W2,		/* SHARDS == 2: the same for shard 1 */
	SY_W3,
	SY_TAG,		/* else tag = epoch, wait */
	AD_EPOCH,	/* advance: g = epoch */
	AD_COUNT,	/* c = walkers[(g + 1) & 1] (shard 0) */
	AD_COUNT1,	/* SHARDS == 2: the same in shard 1 */
	AD_CAS,		/* c == 0: CAS epoch g -> g + 1 */
	SY_FREE,	/* free what is due */
	LK_RD,		/* lookup: read t[IDX(p, L)] */
	LK_LEAVE	/* walkers[e & 1] -= 1 */
};

#define STEP(x)	act == x -> TRACE;
/* The steps that wait: open(x, dC) while X is set (it fails at once on
 * F), open_excl(x) while W or X is set. */
#define OPEN_STEP(a, x)	act == a && (F[x] || X[x] == 0) -> TRACE;
#define EXCL_STEP(a, x)	act == a && (F[x] || (W[x] == 0 && X[x] == 0)) -> TRACE;

/* enter: loop { e = epoch; i = e & 1; walkers[i] += 1;
 *               if ((epoch & 1) == i) break; walkers[i] -= 1; }
 * then `entered`. Each retry needs an advance of the epoch since the
 * previous read: lookup_bounded checks that the retries never outnumber
 * the advances. */
#ifdef NO_RECHECK
#define ENTER_RECHECK(entered)	entered
#else
#define ENTER_RECHECK(entered)	act = EN_CHECK
#endif
/* The implementation's enter (pt_walk_enter) is wait-free: when the
 * re-check fails, the walker keeps its count and also counts itself under
 * the other parity (EN_BOTH), then walks; leave takes both back.
 * ENTER_RETRY: the first version's enter, which takes its count back
 * (EN_UNDO) and starts again. */
#ifdef ENTER_RETRY
#define ENTER_FAILED	EN_UNDO
#else
#define ENTER_FAILED	EN_BOTH
#endif
#define ENTER_STEPS(entered)						\
	:: d_step { STEP(EN_READ)					\
		ep = epoch;						\
		printf("\t\tepoch = %d\n", ep);				\
		if :: retries == 0 -> ep0 = ep :: else fi;		\
		act = EN_INC }						\
	:: d_step { STEP(EN_INC)					\
		REACH(5, epoch != ep);					\
		par = ep & 1;						\
		WK(sh, par)++;						\
		printf("\t\twalkers[%d][%d] = %d\n", sh, par, WK(sh, par)); \
		ENTER_RECHECK(entered) }				\
	:: d_step { STEP(EN_CHECK)					\
		printf("\t\tepoch = %d\n", epoch);			\
		if							\
		:: (epoch & 1) == par ->				\
			CHECK(lookup_bounded, retries <= epoch - ep0);	\
			retries = 0; ep = 0; ep0 = 0;			\
			entered						\
		:: else -> REACH(6, 1); act = ENTER_FAILED		\
		fi }							\
	:: d_step { STEP(EN_UNDO)					\
		WK(sh, par)--;						\
		retries++;						\
		act = EN_READ }						\
	:: d_step { STEP(EN_BOTH)					\
		WK(sh, 1 - par)++;					\
		printf("\t\twalkers[%d][%d] = %d\n", sh, 1 - par,	\
		       WK(sh, 1 - par));				\
		par = 2;						\
		retries = 0; ep = 0; ep0 = 0;				\
		entered }

/* leave: walkers[i] -= 1 (both counters after EN_BOTH), in the shard it
 * entered in; LEAVE_OTHER_SHARD (broken): in the other shard. */
#ifdef LEAVE_OTHER_SHARD
#define LSH	(1 - sh)
#else
#define LSH	sh
#endif
#define LEAVE_COUNTS							\
	if								\
	:: par == 2 -> WK(LSH, 0)--; WK(LSH, 1)--			\
	:: else -> WK(LSH, par)--					\
	fi

/* advance: g = epoch; if walkers[(g + 1) & 1] == 0 (read shard by
 * shard): CAS epoch g -> g + 1; then `done`. */
#if SHARDS == 2
#define AD_NEXT	AD_COUNT1
#define AD_COUNT1_STEP(done)						\
	:: d_step { STEP(AD_COUNT1)					\
		c = WK(1, (g + 1) & 1);					\
		printf("\t\twalkers[1][%d] = %d\n", (g + 1) & 1, c);	\
		REACH(13, c != 0);					\
		if							\
		:: c == 0 -> act = AD_CAS				\
		:: else -> g = 0; c = 0; done				\
		fi }
#else
#define AD_NEXT	AD_CAS
#define AD_COUNT1_STEP(done)
#endif
#define ADVANCE_STEPS(done)						\
	:: d_step { STEP(AD_EPOCH)					\
		g = epoch;						\
		printf("\t\tepoch = %d\n", g);				\
		act = AD_COUNT }					\
	:: d_step { STEP(AD_COUNT)					\
		c = WK(0, (g + 1) & 1);					\
		printf("\t\twalkers[0][%d] = %d\n", (g + 1) & 1, c);	\
		if							\
		:: c == 0 -> act = AD_NEXT				\
		:: else -> g = 0; c = 0; done				\
		fi }							\
	AD_COUNT1_STEP(done)						\
	:: d_step { STEP(AD_CAS)					\
		if							\
		:: epoch == g ->					\
			REACH(8, WSUM((g + 1) & 1) != 0);		\
			epoch = g + 1;					\
			printf("\t\tCAS epoch %d -> %d: 1\n", g, g + 1)	\
		:: else -> printf("\t\tCAS epoch %d: 0\n", g)		\
		fi;							\
		g = 0; c = 0;						\
		done }

/* ---------------------------------------------------------------------
 * Writers
 *
 * A writer owns page p and makes nops operations: a map if p is unmapped,
 * an unmap if it is mapped; each inside the walkers' epoch (it descends
 * the tree like a lookup), each followed by a sync.
 *
 * Locals: t, L the table and level it is at; pt[l] the table at level l on
 * its path; e, e2 entries read; nt a new table not yet published; P the
 * parent of t; ok, ok2, nc, nw, seen, saved results; gath the tables
 * gathered for the sync.
 */
#define TRACE	printf("w%d %e T%d L%d\n", p, act, t, L)
/* Without counts, where a single page's map and unmap go once their entry
 * stands: the coalesce (UC_COALESCE), the probe for an unlink (UC_RECLAIM). */
#define MAP_DONE	(UCC -> CO_COUNT : LEAVE)
#define CLR_DONE	(UCR -> U_PR0 : LEAVE)
proctype writer(byte p; byte nops)
{
	mtype act;
	byte op, t, L, e, e2, nt, P, seen, saved, nc, nw, k;
	byte par, ep, ep0, retries, g, c;
	byte sh = p % SHARDS;	/* its walker-count shard */
	byte pt[TOP + 1];
	bit ok, ok2, mapped;
	bit again;	/* UC_RECLAIM: the walk is a redo from the root */
	int gath;
#ifdef WITNESS
	bit lost;	/* this map lost an install (witness 11 only) */
#endif

	d_step { mapped = INIT_MAPPED(p); act = EN_READ };
	do
#ifdef COARSE_EPOCH
	/* enter in one step (see LEAVE) */
	:: d_step { STEP(EN_READ)
		par = epoch & 1;
		WK(sh, par)++;
		t = ROOT; L = TOP; pt[TOP] = ROOT; act = RD }
#else
	ENTER_STEPS(t = ROOT; L = TOP; pt[TOP] = ROOT; act = RD)
#endif

	/* The descent: read the entry for p at level L. */
	:: d_step { STEP(RD)
		rd_entry(t, IDX(p, L), e);
		if
		:: again && ((mapped && e == EMPTY) || (!mapped && IS_LEAF(e))) ->
			/* a redo finds its work done: the unmap, no entry
			 * (its table was unlinked); the map, its leaf, which
			 * a coalescer took into a leaf that was split again */
			CHECK(translation, mapped || e == LEAF_OF(p, L));
			REACH(20, mapped);
			REACH(22, !mapped);
			act = LEAVE
		:: L > 0 && IS_TABLE(e) -> t = e; L--; pt[L] = t
		:: !mapped && L == 0 && !(again && e != EMPTY) ->
			CHECK(lost_unmap, e == EMPTY);
			if :: UC -> act = U_FILL :: else -> act = FILL_OPEN fi
		:: !mapped && L > 0 && e == EMPTY ->
			REACH(11, lost);
			/* install: the new table is allocated and
			 * initialised before anything is published */
			if :: nt == 0 -> alloc(nt, L - 1) :: else -> lvl[nt] = L - 1 fi;
			act = INS_OPEN
#if SCEN == 5
		:: mapped && L == 0 && e == EMPTY ->
			/* an overlapping unmap cleared it first */
			act = LEAVE
#endif
		:: mapped && L == 0 && e != EMPTY ->
			CHECK(lost_map, e == LEAF(0, p));
			if :: UC -> act = U_CLR :: else -> act = CLR_OPEN fi
		:: mapped && L > 0 && IS_LEAF(e) ->
			/* split: a new table of the two leaves that
			 * translate exactly as e */
			REACH(2, L == 2);
			CHECK(translation, e == LEAF_OF(p, L));
			if :: nt == 0 -> alloc(nt, L - 1) :: else fi;
			lvl[nt] = L - 1;
			E(nt, 0) = LEAF(L - 1, LEAF_PA(e));
			E(nt, 1) = LEAF(L - 1, LEAF_PA(e) + (1 << (L - 1)));
			C[nt] = NE * (1 - UC);
#ifdef SPLIT_NO_OPEN
			act = SP_CAS
#else
			act = SP_OPEN
#endif
		:: else ->
			/* a superpage over p while p is unmapped, or no
			 * entry for p while p is mapped */
			CHECK(lost_unmap, mapped || e == EMPTY);
			CHECK(lost_map, !mapped || IS_LEAF(e));
			act = LEAVE
		fi }

	/* t was found frozen: relax until it is unfrozen or its parent
	 * entry no longer names it, then reload the parent entry. */
	:: d_step { act == RELAX &&
		    (F[t] == 0 || E(pt[L + 1], IDX(p, L + 1)) != t) -> TRACE;
		REACH(4, !mapped && L == 0);
		L++;
		t = pt[L];
		act = RD }

	/* map: fill the leaf */
	:: d_step { OPEN_STEP(FILL_OPEN, t)
		st_open(t, 1, ok);
		if :: ok -> act = FILL_STORE :: else -> act = RELAX fi }
	:: d_step { STEP(FILL_STORE)
		wr_entry(t, IDX(p, 0), LEAF(0, p));
		act = FILL_CLOSE }
	:: d_step { STEP(FILL_CLOSE)
		st_close(t, 0, nc, nw);
		if
		:: nc == NE && nw == 0 && L + 1 <= LEAF_TOP -> act = CO_COUNT
		:: else -> act = LEAVE
		fi;
		nc = 0; nw = 0 }

	/* map: install a table at t[i] */
	:: d_step { OPEN_STEP(INS_OPEN, t)
		st_open(t, 1 - UC, ok);
		if :: ok -> act = INS_CAS :: else -> act = RELAX fi }
#ifdef INS_STORE
	:: d_step { STEP(INS_CAS)
		ts[nt] = T_PUB;
		E(t, IDX(p, L)) = nt;
		ok2 = 1;
		act = INS_CLOSE }
#else
	:: d_step { STEP(INS_CAS)
		cas_entry(t, IDX(p, L), EMPTY, nt, ok2, 1);
		act = INS_CLOSE }
#endif
	:: d_step { STEP(INS_CLOSE)
		if
		:: ok2 ->
			st_close(t, 0, nc, nw);
			t = nt; nt = 0; L--; pt[L] = t
		:: else ->
			/* lost: free N at once, descend into the winner's */
			REACH(9, 1);
			LOST(1);
			st_close(t, 1 - UC, nc, nw);
			free_private(nt)
		fi;
		nc = 0; nw = 0; ok2 = 0;
		act = RD }

	/* without counts: a single page's one store, then leave (UC_RECLAIM:
	 * a fill reads F, a clear probes its table for an unlink) */
	:: d_step { STEP(U_FILL)
		REACH(14, W[pt[1]] > 0);
		wr_entry_uc(t, IDX(p, 0), LEAF(0, p));
#ifdef UC_NO_MAP_CHECK
		act = MAP_DONE }
#else
		if :: UCR -> act = U_MCHK :: else -> act = MAP_DONE fi }
#endif
	:: d_step { STEP(U_CLR)
		wr_entry_uc(t, IDX(p, 0), EMPTY);
#ifdef UC_NO_CHECK
		act = CLR_DONE }
#else
		if :: UCC -> act = U_CHK :: else -> act = CLR_DONE fi }
#endif
	:: d_step { STEP(U_CHK)
		CHECK(writer_no_freed, ts[t] != T_FREED);
		if
		:: F[t] -> REACH(15, 1); act = U_WAIT
		:: else -> act = CLR_DONE
		fi }
#ifdef WAIT_STEPS
	/* the wait as a loop of loads: F, then the parent entry */
	:: d_step { STEP(U_WAIT)
		CHECK(writer_no_freed, ts[t] != T_FREED);
		if
		:: F[t] == 0 -> act = CLR_DONE
		:: else -> act = U_WAIT2
		fi }
	:: d_step { STEP(U_WAIT2)
		CHECK(writer_no_freed, ts[pt[1]] != T_FREED);
		if
		:: E(pt[1], IDX(p, 1)) == t -> act = U_WAIT
		:: else ->
			REACH(16, 1);
			again = UCR;
			t = ROOT; L = TOP; pt[TOP] = ROOT; act = RD
		fi }
#else
	:: d_step { act == U_WAIT &&
		    (F[t] == 0 || E(pt[1], IDX(p, 1)) != t) -> TRACE;
		CHECK(writer_no_freed, ts[t] != T_FREED &&
		      ts[pt[1]] != T_FREED);
		if
		:: F[t] == 0 -> act = CLR_DONE	/* the freezer gave up */
		:: else ->
			/* replaced (or, UC_RECLAIM, unlinked): unmap again
			 * from the root */
			REACH(16, 1);
			again = UCR;
			t = ROOT; L = TOP; pt[TOP] = ROOT; act = RD
		fi }
#endif

	/* UC_RECLAIM, map: after the store (sequentially consistent with
	 * it, as the fence makes it), read t's F. Set: an unlinker or a
	 * coalescer holds t; wait until it gives up (F clear: the entry
	 * stands) or the parent entry no longer names t: a leaf covering p
	 * (the coalescer's rescan read the entry) means the map is done;
	 * anything else means t was unlinked: map again from the root. */
	:: d_step { STEP(U_MCHK)
		CHECK(writer_no_freed, ts[t] != T_FREED);
		if
		:: F[t] -> act = U_MWAIT
		:: else -> act = MAP_DONE
		fi }
#ifdef WAIT_STEPS
	:: d_step { STEP(U_MWAIT)
		CHECK(writer_no_freed, ts[t] != T_FREED);
		if
		:: F[t] == 0 -> act = MAP_DONE
		:: else -> act = U_MWAIT2
		fi }
	:: d_step { STEP(U_MWAIT2)
		CHECK(writer_no_freed, ts[pt[1]] != T_FREED);
		e = E(pt[1], IDX(p, 1));
		if
		:: e == t -> act = U_MWAIT
		:: IS_LEAF(e) ->
			CHECK(translation, e == LEAF_OF(p, 1));
			REACH(19, 1);
			act = LEAVE
		:: else ->
			REACH(17, 1);
			again = 1;
			t = ROOT; L = TOP; pt[TOP] = ROOT; act = RD
		fi;
		e = 0 }
#else
	:: d_step { act == U_MWAIT &&
		    (F[t] == 0 || E(pt[1], IDX(p, 1)) != t) -> TRACE;
		CHECK(writer_no_freed, ts[t] != T_FREED &&
		      ts[pt[1]] != T_FREED);
		e = E(pt[1], IDX(p, 1));
		if
		:: F[t] == 0 -> act = MAP_DONE
		:: F[t] && IS_LEAF(e) ->
			CHECK(translation, e == LEAF_OF(p, 1));
			REACH(19, 1);
			act = LEAVE
		:: else ->
			REACH(17, 1);
			again = 1;
			t = ROOT; L = TOP; pt[TOP] = ROOT; act = RD
		fi;
		e = 0 }
#endif

	/* UC_RECLAIM, unlink without counts: probe t; if every entry reads
	 * 0, freeze it from exactly 0 (UL_FREEZE), read every entry again
	 * under the freeze; all 0: unlink it from its parent as a counted
	 * unlink does (UL_OPEN...), else unfreeze and probe again: a clear
	 * that raced the freeze found F and gave up on the table
	 * (UC_THAW_GIVE_UP: give up too, and the table may stay linked
	 * empty). */
	:: d_step { STEP(U_PR0) rd_entry(t, 0, e); act = U_PR1 }
	:: d_step { STEP(U_PR1)
		rd_entry(t, 1, e2);
		if
		:: e == EMPTY && e2 == EMPTY -> act = UL_FREEZE
		:: else -> act = LEAVE
		fi }
	:: d_step { STEP(U_RS0) rd_entry(t, 0, e); act = U_RS1 }
	:: d_step { STEP(U_RS1)
		rd_entry(t, 1, e2);
		if
		:: e == EMPTY && e2 == EMPTY -> P = pt[L + 1]; act = UL_OPEN
		:: else -> act = U_THAW
		fi }
	:: d_step { STEP(U_THAW)
		REACH(18, 1);
		st_unfreeze(t, 0, 0);
#ifdef UC_THAW_GIVE_UP
		act = LEAVE }
#else
		act = U_PR0 }
#endif

	/* unmap: clear the leaf in the exclusive section. The reload and the
	 * store are one step: nobody else writes the entry while X is set
	 * (opens wait, a freeze needs X = 0), so a step between them could
	 * only read it. CLEAR_COUNT_INTENDED: k counts the entry the clearer
	 * meant to clear, found empty or not. */
	:: d_step { EXCL_STEP(CLR_OPEN, t)
		st_open_excl(t, ok);
		if :: ok -> act = CLR_STORE :: else -> act = RELAX fi }
	:: d_step { STEP(CLR_STORE)
		rd_entry(t, IDX(p, 0), e);
		if
		:: e != EMPTY -> wr_entry(t, IDX(p, 0), EMPTY); k = 1
		:: else -> REACH(12, 1); k = 0
		fi;
#ifdef CLEAR_COUNT_INTENDED
		k = 1;
#endif
		act = CLR_CLOSE }
	:: d_step { STEP(CLR_CLOSE)
		st_close_excl(t, k, nc, nw);
		if
		:: nc == 0 && nw == 0 -> act = UL_FREEZE
		:: else -> act = LEAVE
		fi;
		k = 0; nc = 0; nw = 0 }

	/* unmap: split the leaf e at t[i] into nt */
#ifdef SPLIT_WAIT
	:: d_step { act == SP_OPEN && F[t] == 0 && X[t] == 0 -> TRACE;
		st_open(t, 0, ok);
		act = SP_CAS }
#else
	:: d_step { OPEN_STEP(SP_OPEN, t)
		st_open(t, 0, ok);
		if
		:: ok -> act = SP_CAS
		:: else -> REACH(1, L == 1); act = RELAX
		fi }
#endif
#ifdef SPLIT_NO_OPEN
	:: d_step { STEP(SP_CAS)
		cas_entry(t, IDX(p, L), e, nt, ok2, 0);
		if
		:: ok2 -> t = nt; nt = 0; L--; pt[L] = t
		:: else -> E(nt, 0) = EMPTY; E(nt, 1) = EMPTY; C[nt] = 0
		fi;
		ok2 = 0;
		act = RD }
#else
	:: d_step { STEP(SP_CAS)
		cas_entry(t, IDX(p, L), e, nt, ok2, 1);
		act = SP_CLOSE }
	:: d_step { STEP(SP_CLOSE)
		st_close(t, 0, nc, nw);
		if
		:: ok2 -> t = nt; nt = 0; L--; pt[L] = t
		:: else ->
			/* lost to a neighbour: empty N, look again */
			E(nt, 0) = EMPTY; E(nt, 1) = EMPTY; C[nt] = 0
		fi;
		nc = 0; nw = 0; ok2 = 0;
		act = RD }
#endif

	/* unlink the empty table t (level L) from P = pt[L + 1] */
	:: d_step { STEP(UL_FREEZE)
		st_freeze_empty(t, ok);
		if
		:: !ok -> act = LEAVE	/* somebody inside or a reservation:
					 * the last to close retries */
#if defined(UC_RECLAIM) && !defined(UC_UNLINK_NO_RESCAN)
		:: else -> act = U_RS0
#else
		:: else -> P = pt[L + 1]; act = UL_OPEN
#endif
		fi }
#ifdef UNLINK_IGNORE_OPEN
	:: d_step { EXCL_STEP(UL_OPEN, P)
		st_open_excl(P, ok2);	/* a failed open is ignored */
		act = UL_CAS }
#else
	:: d_step { act == UL_OPEN && F[P] == 0 && W[P] == 0 && X[P] == 0 -> TRACE;
		st_open_excl(P, ok2);
		act = UL_CAS }
#endif
	:: d_step { STEP(UL_CAS)
		cas_entry(P, IDX(p, L + 1), t, EMPTY, ok2, 1);
		RULE(unlink_cas, ok2);
		act = UL_CLOSE }
	:: d_step { STEP(UL_CLOSE)
		/* without counts: counting nothing; the parent is probed */
		st_close_excl(P, ok2 && !UC, nc, nw);
		gath = gath | (1 << t);
		REACH(21, UCR && L == 1);
		if
		:: UCR && P != ROOT -> t = P; L++; act = U_PR0
		:: !UC && nc == 0 && nw == 0 && P != ROOT -> t = P; L++; act = UL_FREEZE
		:: else -> act = LEAVE
		fi;
		P = 0; nc = 0; nw = 0; ok2 = 0; seen = 0 }

	/* coalesce the full table t (level L) into a leaf in P = pt[L + 1],
	 * then try P the same way. The model keeps t and its path from the
	 * map; the implementation walks to it again, which finds the same
	 * table: it holds the writer's own page, so it cannot have been
	 * unlinked, and tables never move. */
	:: d_step { STEP(CO_COUNT)
		CHECK(writer_no_freed, ts[t] != T_FREED);
		saved = C[t];
		if
#ifdef NO_PRESCAN
		:: FULL_HINT(t) -> act = CO_FREEZE
#else
		:: FULL_HINT(t) -> act = CO_SCAN0
#endif
		:: else -> act = LEAVE
		fi }
	:: d_step { STEP(CO_SCAN0) rd_entry(t, 0, e); act = CO_SCAN1 }
	:: d_step { STEP(CO_SCAN1)
		rd_entry(t, 1, e2);
		if :: CONTIG(e, e2, L) -> act = CO_FREEZE :: else -> act = LEAVE fi }
	:: d_step { STEP(CO_FREEZE)
		st_freeze(t, ok, seen);
		REACH(3, ok && L == 1 && ((IS_TABLE(E(t, 0)) && F[E(t, 0)]) ||
					  (IS_TABLE(E(t, 1)) && F[E(t, 1)])));
		if
		:: !ok -> act = LEAVE
#ifdef NO_RESCAN
		:: else -> P = pt[L + 1]; act = CO_OPEN
#else
		:: else -> act = CO_RESCAN0
#endif
		fi }
	:: d_step { STEP(CO_RESCAN0) rd_entry(t, 0, e); act = CO_RESCAN1 }
	:: d_step { STEP(CO_RESCAN1)
		rd_entry(t, 1, e2);
		if
		:: CONTIG(e, e2, L) -> P = pt[L + 1]; act = CO_OPEN
		:: else -> act = CO_THAW
		fi }
	:: d_step { STEP(CO_THAW)
		REACH(10, 1);
		st_unfreeze(t, seen, saved);
		act = LEAVE }
	:: d_step { act == CO_OPEN && F[P] == 0 && X[P] == 0 -> TRACE;
		st_open(P, 0, ok2);
		act = CO_CAS }
	:: d_step { STEP(CO_CAS)
		cas_entry(P, IDX(p, L + 1), t, LEAF(L + 1, LEAF_PA(e)), ok2, 1);
		RULE(coalesce_cas, ok2);
		act = CO_CLOSE }
	:: d_step { STEP(CO_CLOSE)
		st_close(P, 0, nc, nw);
		gath = gath | (1 << t);
		t = P;
		L++;
		if
		:: L + 1 <= LEAF_TOP -> act = CO_COUNT
		:: else -> act = LEAVE
		fi;
		P = 0; nc = 0; nw = 0; ok2 = 0; seen = 0; saved = 0; e = 0; e2 = 0 }

	/* leave the epoch; the operation is over */
	:: d_step { STEP(LEAVE)
		LEAVE_COUNTS;
		LOST(0);
		if :: nt != 0 -> free_private(nt) :: else fi;
		mapped = 1 - mapped;
		again = 0;
		par = 0; t = 0; L = 0; e = 0; e2 = 0; ok = 0; ok2 = 0;
		seen = 0; saved = 0; pt[0] = 0; pt[1] = 0; pt[2] = 0;
#ifdef COARSE_EPOCH
		/* COARSE_EPOCH: the writers' enter and sync are one step each,
		 * for larger runs of the table protocol; the lookup and the
		 * epoch scenario keep every step. */
		if
		:: gath != 0 && WSUM(0) == 0 && WSUM(1) == 0 ->
			for (hk : 1 .. MAXT - 1) {
				if :: gath & (1 << hk) -> poison(hk) :: else fi
			}
		:: gath != 0 && (WSUM(0) != 0 || WSUM(1) != 0) ->
			for (hk : 1 .. MAXT - 1) {
				if
				:: gath & (1 << hk) -> tag[hk] = epoch; pend[hk] = 1; npend++
				:: else
				fi
			}
		:: else
		fi;
		gath = 0;
		if
		:: npend > 0 && WSUM((epoch + 1) & 1) == 0 -> epoch++
		:: else
		fi;
		free_due();
		op++;
		if :: op == nops -> act = FIN :: else -> act = EN_READ fi }
#else
		if
		:: gath != 0 -> act = SY_W0
		:: gath == 0 && npend > 0 -> act = AD_EPOCH
		:: else -> act = SY_FREE
		fi }
#endif

	/* sync: the flush covering the gathered tables has completed; retire
	 * them: if no walker is counted, free them now, else tag them with
	 * the epoch; then advance and free what is due */
	:: d_step { STEP(SY_W0)
#ifdef RETIRE_NOW
		g = 0;
#else
		g = WK(0, 0);
#endif
		printf("\t\twalkers[0][0] = %d\n", g);
		act = SY_W1 }
	:: d_step { STEP(SY_W1)
#ifdef RETIRE_NOW
		c = 0;
#else
		c = WK(0, 1);
#endif
		printf("\t\twalkers[0][1] = %d\n", c);
		if :: c != 0 -> g = 1 :: else fi;
#if SHARDS == 2
		c = 0;
		act = SY_W2 }
	:: d_step { STEP(SY_W2)
#ifndef RETIRE_NOW
		c = WK(1, 0);
#endif
		printf("\t\twalkers[1][0] = %d\n", c);
		if :: c != 0 -> g = 1 :: else fi;
		c = 0;
		act = SY_W3 }
	:: d_step { STEP(SY_W3)
#ifndef RETIRE_NOW
		c = WK(1, 1);
#endif
		printf("\t\twalkers[1][1] = %d\n", c);
		if :: c != 0 -> g = 1 :: else fi;
#endif
		/* every counter read (one step each) was 0: free now */
		if
		:: g == 0 ->
			for (hk : 1 .. MAXT - 1) {
				if :: gath & (1 << hk) -> poison(hk) :: else fi
			}
			gath = 0;
			if :: npend > 0 -> act = AD_EPOCH :: else -> act = SY_FREE fi
		:: else -> act = SY_TAG
		fi;
		g = 0; c = 0 }
	:: d_step { STEP(SY_TAG)
		for (hk : 1 .. MAXT - 1) {
			if
			:: gath & (1 << hk) ->
				tag[hk] = epoch; pend[hk] = 1; npend++;
				printf("\t\tT%d waits: tag %d\n", hk, epoch)
			:: else
			fi
		}
		gath = 0;
		act = AD_EPOCH }
	ADVANCE_STEPS(act = SY_FREE)
	:: d_step { STEP(SY_FREE)
		free_due();
		op++;
		if :: op == nops -> act = FIN :: else -> act = EN_READ fi }
	:: STEP(FIN) break
	od
}

/* ---------------------------------------------------------------------
 * The lookup walker: reads entries only, never waits, never writes.
 */
#undef TRACE
#define TRACE	printf("lookup(%d) %e T%d L%d\n", p, act, t, L)
proctype lookup(byte p; byte n)
{
	mtype act;
	byte k, t, L, e, par, ep, ep0, retries;
	byte sh = p % SHARDS;	/* its walker-count shard */
	bit res;

	act = EN_READ;
	do
	ENTER_STEPS(t = ROOT; L = TOP; act = LK_RD)
	:: d_step { STEP(LK_RD)
		CHECK(walker_no_freed, ts[t] != T_FREED);
		e = E(t, IDX(p, L));
		printf("\t\tT%d[%d] = ", t, IDX(p, L)); SAYE(e); printf("\n");
		if
		:: IS_TABLE(e) ->
			/* one level down per read: at most TOP + 1 reads */
			CHECK(lookup_bounded, L > 0 && lvl[e] == L - 1);
			t = e;
			L--
		:: IS_LEAF(e) ->
			CHECK(translation, e == LEAF_OF(p, LEAF_LVL(e)) && LEAF_LVL(e) == L);
			res = 1;
			act = LK_LEAVE
		:: else -> res = 0; act = LK_LEAVE
		fi }
	:: d_step { STEP(LK_LEAVE)
		LEAVE_COUNTS;
		CHECK(lookup_stable, !STABLE(p) || res);
		k++;
		par = 0; t = 0; L = 0; e = 0; res = 0;
		if :: k == n -> act = FIN :: else -> act = EN_READ fi }
	:: STEP(FIN) break
	od
}

/* A sync from another thread (iopgt_reclaim): n times, advance and free
 * what is due. */
#undef TRACE
#define TRACE	printf("reclaimer %e epoch %d\n", act, epoch)
proctype reclaimer(byte n)
{
	mtype act;
	byte k, g, c;

	act = AD_EPOCH;
	do
	ADVANCE_STEPS(act = SY_FREE)
	:: d_step { STEP(SY_FREE)
		free_due();
		k++;
		if :: k == n -> act = FIN :: else -> act = AD_EPOCH fi }
	:: STEP(FIN) break
	od
}

/* ---------------------------------------------------------------------
 * Scenarios: the starting tree and the processes
 */

/* A published table at slot x, level l, with entries a and b. */
inline mk(x, l, a, b) {
	ts[x] = T_PUB;
	lvl[x] = l;
	E(x, 0) = a;
	E(x, 1) = b;
	C[x] = CNT(x)
}

#if SCEN == 1
/* coalesce-split: the level-1 table A holds the superpage of pages 0-1 and
 * the level-0 table B with page 2. The writer of page 3 fills B, coalesces
 * B into A[1], then A into a level-2 leaf at the root; meanwhile the
 * writers of pages 0 and 1 unmap theirs: the first splits the superpage in
 * A (or the level-2 leaf, then the superpage), the second clears the other
 * half, empties the split table and unlinks it from A, which the coalescer
 * may have frozen. A lookup of page 2, which nobody changes, must find it
 * every time. */
inline setup() {
	mk(ROOT, 2, 1, EMPTY);
	mk(1, 1, LEAF(1, 0), 2);
	mk(2, 0, LEAF(0, 2), EMPTY)
}
inline start() {
	run writer(3, OPS);
	run writer(0, OPS);
	if :: UNMAPPERS > 1 -> run writer(1, OPS) :: else fi;
	if :: LOOKUPS > 0 -> run lookup(2, LOOKUPS) :: else fi
}
#endif

#if SCEN == 2
/* unlink-frozen-parent: A holds the level-0 tables T0 (page 0) and B
 * (page 2). The writer of page 0 empties T0 and unlinks it from A; the
 * writer of page 3 fills B, coalesces it into A[1] and then tries A: with
 * NO_PRESCAN it freezes A at once, while the unlinker may be about to
 * clear A[0] (with the prescan it sees the table entry and leaves A
 * alone); the writer of page 1 maps into T0 while it is being unlinked
 * (its reservation races the freeze; it may find T0 frozen and install a
 * new table), or fills T0 first and coalesces it, and the unmap of page 0
 * then splits. */
inline setup() {
	mk(ROOT, 2, 1, EMPTY);
	mk(1, 1, 2, 3);
	mk(2, 0, LEAF(0, 0), EMPTY);
	mk(3, 0, LEAF(0, 2), EMPTY)
}
inline start() {
	run writer(0, OPS);
	run writer(3, OPS);
	run writer(1, OPS);
	if :: LOOKUPS > 0 -> run lookup(2, LOOKUPS) :: else fi
}
#endif

#if SCEN == 3
/* epoch: A holds T0 with page 0. The writer of page 0 unmaps it, which
 * unlinks T0 and then A, and syncs; a lookup of page 1 walks through A and
 * T0; a reclaimer advances the epoch from another thread. The race of
 * interest: the walker delayed between its epoch read and its increment
 * while the reclaimer is delayed between its counter read and its CAS. */
inline setup() {
	mk(ROOT, 2, 1, EMPTY);
	mk(1, 1, 2, EMPTY);
	mk(2, 0, LEAF(0, 0), EMPTY)
}
inline start() {
	run writer(0, OPS);
	if :: LOOKUPS > 0 -> run lookup(1, LOOKUPS) :: else fi;
	run reclaimer(ADVANCES)
}
#endif

#if SCEN == 4
/* mixed: from the root alone, the writers of pages 0 and 1 map and unmap
 * (OPS operations each): they race to install the same two tables (a lost
 * install, possibly after the winner's table was unlinked), one of them
 * fills T0 and coalesces it, both split that superpage, the last unmap
 * unlinks up to the root; a lookup of page 1 walks through it all. */
inline setup() {
	mk(ROOT, 2, EMPTY, EMPTY)
}
inline start() {
	run writer(0, OPS);
	run writer(1, OPS);
	if :: LOOKUPS > 0 -> run lookup(1, LOOKUPS) :: else fi
}
#endif

#if SCEN == 5
/* overlap: A holds T0 with pages 0 and 1. Two unmaps of page 0 run at
 * once, which the contract forbids (a caller bug that the library must
 * survive without corrupting the tree); a lookup of page 1, which nobody
 * changes, must find it every time. Both may find the leaf, then clear in
 * turn: the second clearer finds the entry empty and counts nothing, so
 * T0's C stays 1 and T0 stays linked (CLEAR_COUNT_INTENDED counts it
 * anyway: C drops to 0 with page 1 present, and T0 is unlinked and freed
 * under it). */
inline setup() {
	mk(ROOT, 2, 1, EMPTY);
	mk(1, 1, 2, EMPTY);
	mk(2, 0, LEAF(0, 0), LEAF(0, 1))
}
inline start() {
	run writer(0, OPS);
	run writer(0, OPS);
	if :: LOOKUPS > 0 -> run lookup(1, LOOKUPS) :: else fi
}
#endif

#if SCEN == 6
/* coalesce-unmap: A = [the superpage of pages 0-1, B with page 2]. The
 * writer of page 3 fills B, coalesces it into A[1], then A into a level-2
 * leaf; meanwhile the writer of page 2 unmaps it from B, which the
 * coalescer may have scanned or frozen, or splits it out of the
 * superpage the coalescer made. A lookup of page 0, which nobody
 * changes, must find it every time. Without counts (UC_COALESCE) the
 * clear takes no section and meets the coalescer's freeze by U_CHK. */
inline setup() {
	mk(ROOT, 2, 1, EMPTY);
	mk(1, 1, LEAF(1, 0), 2);
	mk(2, 0, LEAF(0, 2), EMPTY)
}
inline start() {
	run writer(3, OPS);
	run writer(2, OPS);
	if :: LOOKUPS > 0 -> run lookup(0, LOOKUPS) :: else fi
}
#endif

#if SCEN == 7
/* reclaim-map: A holds only T0, which holds only page 1. The writer of
 * page 1 unmaps it, which empties T0: it unlinks T0 from A, then A from
 * the root; the writer of page 0 maps it meanwhile, its store landing in
 * T0 before the probe, between the probe and the freeze, under the freeze
 * before or after the rescan read it, or after the unlink (then it finds
 * F and maps again from the root, installing new tables, possibly racing
 * the unlink of A). A lookup of page 0 walks through it all. With OPS=2
 * each then does the opposite; with UC_COALESCE, a full T0 is coalesced
 * into A[0], which the unmap then splits. Meant for UC_RECLAIM; counted,
 * it is a plain unlink race. */
inline setup() {
	mk(ROOT, 2, 1, EMPTY);
	mk(1, 1, 2, EMPTY);
	mk(2, 0, EMPTY, LEAF(0, 1))
}
inline start() {
	run writer(1, OPS);
	run writer(0, OPS);
	if :: LOOKUPS > 0 -> run lookup(0, LOOKUPS) :: else fi
}
#endif

/* ---------------------------------------------------------------------
 * The end: once every other process has finished, the tree as walked must
 * be what the operations give, the counts exact, nothing frozen, no empty
 * table linked; and after two more advances (no walker is left) every
 * unlinked table must have been freed.
 */
init {
	byte p, t, L, e, res;

	d_step { setup() };
	atomic { start() };
	_nr_pr == 1;
	d_step {
		/* the tree, page by page */
		for (p : 0 .. 3) {
			t = ROOT;
			L = TOP;
			res = 0;
			do
			:: e = E(t, IDX(p, L));
				if
				:: IS_TABLE(e) && L > 0 -> t = e; L--
				:: IS_LEAF(e) ->
					CHECK(translation, e == LEAF_OF(p, LEAF_LVL(e)) && LEAF_LVL(e) == L);
					res = 1;
					break
				:: else -> break
				fi
			od;
			CHECK(lost_map, res || !FINAL_MAPPED(p));
			CHECK(lost_unmap, !res || FINAL_MAPPED(p))
		}
		/* the tables the walk reaches */
		reach();
		for (t : 0 .. MAXT - 1) {
			if
			:: hm & (1 << t) ->
				CHECK(final_counts, C[t] == CNT(t));
				CHECK(final_counts, W[t] == 0 && X[t] == 0);
				CHECK(final_unfrozen, !F[t]);
				/* without counts nothing is unlinked but
				 * with UC_RECLAIM */
				CHECK(final_no_empty, t == ROOT || (UC && !UCR) ||
				      NONEMPTY(t) > 0)
			:: else
			fi
		}
		/* reclaim: no walker is left, so two advances free what waits */
		CHECK(final_walkers, WSUM(0) == 0 && WSUM(1) == 0);
		epoch = epoch + 2;
		for (t : 1 .. MAXT - 1) {
			if
			:: pend[t] && epoch >= tag[t] + 2 -> poison(t)
			:: else
			fi
		}
		reach();
		for (t : 1 .. MAXT - 1) {
			CHECK(no_leak, ts[t] == T_POOL || ts[t] == T_FREED ||
			      (hm & (1 << t)))
		}
	}
}
