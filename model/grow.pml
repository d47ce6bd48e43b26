/* SPDX-License-Identifier: MIT */
/*
 * A root that grows (docs/design.md, "A root that grows"; src/domain.c,
 * iopgt__grow): the order in which a growth makes the new root, hands it
 * to the hardware and lets the library's walks start from it, against a
 * device that walks from whatever root its device table entry names.
 *
 * The domain starts with root OLD, which maps A. Two mappers each map one
 * page, B0 and B1, above what OLD's levels reach: each needs the domain
 * grown to NEW first. Whoever takes the growth lock and still finds the
 * root too small grows it: it links OLD in NEW's entry 0, calls the grow
 * callback (the driver stores NEW into the device table entry: hw), and
 * then publishes NEW (top) for the library's walks. A mapper that finds
 * top already NEW maps at once. A map "returns" (done[i]) once its entry
 * is in NEW; only then may the device use B_i. The device reads its
 * device table entry once a walk (one 64-bit word: root and levels) and
 * translates A, B0 or B1, DEV_ACCESSES times.
 *
 * Checks (assert names, as in protocol.pml):
 *   lost_map     the device faults on a page mapped before its access
 *                began: A through a NEW whose entry 0 does not name OLD
 *                yet, or a B_i whose map returned while the device still
 *                walks OLD (too few levels: a range fault);
 *   link_first   rule: the hardware is given NEW only once NEW links OLD;
 *   hw_first     rule: walks start from NEW only once the hardware has it;
 *   deadlock     (an invalid end state) a mapper waits for ever.
 * Broken variants (-D...), each caught by its rule, and end to end
 * (END_TO_END: the rules' checks off) by lost_map:
 *   LINK_LATE      entry 0 is written after the callback;
 *   PUBLISH_EARLY  top is published before the callback.
 */

#ifndef DEV_ACCESSES
#define DEV_ACCESSES 3
#endif

#define OLD 1
#define NEW 2

#define CHECK(name, c)	assert((c) || name)
hidden byte lost_map;
hidden byte link_first;
hidden byte hw_first;
#ifdef END_TO_END
#define RULE(name, c)	skip
#else
#define RULE(name, c)	CHECK(name, c)
#endif
#ifdef WITNESS
hidden byte witness;
#define REACH(n, c)	assert(!(WITNESS == (n) && (c)) || witness)
#else
#define REACH(n, c)	skip
#endif

byte hw = OLD;		/* the root in the device table entry */
byte top = OLD;		/* the root the library's walks start from */
bool lock;		/* dom->grow_lock */
bool linked;		/* NEW's entry 0 names OLD */
bool entry[2];		/* B_i's entry in NEW */
bool done[2];		/* B_i's map returned */
byte grown;		/* growths made (at most one here) */

/* Let the library's walks start from NEW. */
inline publish()
{
	RULE(hw_first, hw == NEW);
	top = NEW
}

/* The grower's steps, under the lock, once it found top too small. */
inline grow()
{
#ifndef LINK_LATE
	linked = true;
#endif
#ifdef PUBLISH_EARLY
	publish();
#endif
	/* The grow callback: the driver's store into the entry. */
	RULE(link_first, linked);
	hw = NEW;
#ifdef LINK_LATE
	linked = true;
#endif
#ifndef PUBLISH_EARLY
	publish();
#endif
	grown++
}

proctype mapper(byte i)
{
	/* map_other: the root too small for B_i? */
	if
	:: top == OLD ->
		atomic { !lock -> lock = true };
		/* iopgt__grow: grown meanwhile? */
		if
		:: top == OLD -> grow()
		:: else -> REACH(1, true)
		fi;
		lock = false
	:: else -> skip
	fi;
	/* The map, into NEW (through the published root). */
	entry[i] = true;
	done[i] = true
}

proctype device()
{
	byte n, r, p;

	for (n : 1 .. DEV_ACCESSES) {
		/* Which page: A (2), B0 or B1; taken before the walk, so a
		 * B_i is checked only if its map returned before. */
		if
		:: p = 2
		:: p = 0
		:: p = 1
		fi;
		/* Each access reads the device table entry once (r). */
		if
		:: p == 2 ->
			/* A, mapped throughout: through NEW's entry 0. */
			r = hw;
			CHECK(lost_map, r == OLD || linked)
		:: p < 2 && done[p] ->
			/* B_p, whose map returned before the access began:
			 * OLD's levels do not reach it. */
			r = hw;
			CHECK(lost_map, r == NEW && entry[p])
		:: else -> skip
		fi
	}
}

init
{
	atomic {
		run mapper(0);
		run mapper(1);
		run device()
	}
	(_nr_pr == 1);
	CHECK(lost_map, done[0] && done[1] && grown == 1 && hw == NEW)
}
