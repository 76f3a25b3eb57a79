/*
 * rpttab.c -- the string tables of `hushgate report`: each distinct
 * string (a host, a client, a category ...) gets a dense number, 0, 1,
 * 2 ..., which indexes the caller's own array of counters.
 *
 * Open addressing with linear probing over a power-of-two array of
 * (hash, number) slots, at most half full; the strings themselves live
 * in one growing arena, each with its terminating NUL. Memory is thus
 * bounded by the distinct strings, never by the lines read.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

#define RPTTAB_INITIAL	256	/* slots of a new table */
#define RPTTAB_EMPTY	UINT32_MAX

struct rpttab_slot {
	uint32_t	 rs_hash;
	uint32_t	 rs_id;		/* RPTTAB_EMPTY: free */
};

/*
 * A hash of the len bytes of s, eight at a time (a multiply and a
 * rotation per word, as in the wyhash/FxHash family): the table's
 * lookups are most of the report's own time.
 */
static uint32_t
rpttab_hash(const char *s, size_t len)
{
	const uint64_t	k = 0x9e3779b97f4a7c15ULL;
	uint64_t	h = len * k, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = ((h << 5 | h >> 59) ^ w) * k;
	}
	if (len > 0) {
		w = 0;
		memcpy(&w, s, len);
		h = ((h << 5 | h >> 59) ^ w) * k;
	}
	return ((uint32_t)(h >> 32));
}

void
rpttab_init(struct rpttab *t)
{
	size_t	i;

	memset(t, 0, sizeof *t);
	t->rt_mask = RPTTAB_INITIAL - 1;
	t->rt_slots = xreallocarray(NULL, RPTTAB_INITIAL,
	    sizeof *t->rt_slots);
	for (i = 0; i < RPTTAB_INITIAL; i++)
		t->rt_slots[i].rs_id = RPTTAB_EMPTY;
}

void
rpttab_free(struct rpttab *t)
{
	free(t->rt_slots);
	free(t->rt_off);
	free(t->rt_arena);
	memset(t, 0, sizeof *t);
}

/* Double the slots and place every string again. */
static void
rpttab_grow(struct rpttab *t)
{
	struct rpttab_slot	*old = t->rt_slots;
	size_t			 i, j, n = t->rt_mask + 1;

	t->rt_mask = n * 2 - 1;
	t->rt_slots = xreallocarray(NULL, n * 2, sizeof *t->rt_slots);
	for (i = 0; i < n * 2; i++)
		t->rt_slots[i].rs_id = RPTTAB_EMPTY;
	for (i = 0; i < n; i++) {
		if (old[i].rs_id == RPTTAB_EMPTY)
			continue;
		j = old[i].rs_hash & t->rt_mask;
		while (t->rt_slots[j].rs_id != RPTTAB_EMPTY)
			j = (j + 1) & t->rt_mask;
		t->rt_slots[j] = old[i];
	}
	free(old);
}

/*
 * The number of the string s (len bytes, no NUL inside), added when new;
 * *isnew (unless NULL) says whether it was. Numbers are dense, in the
 * order strings were first seen.
 */
uint32_t
rpttab_intern(struct rpttab *t, const char *s, size_t len, int *isnew)
{
	struct rpttab_slot	*sl;
	uint32_t		 h;
	size_t			 j, off;

	/* Logs repeat themselves: the same client, user, category. */
	if (t->rt_count > 0) {
		off = t->rt_off[t->rt_last];
		if (t->rt_off[t->rt_last + 1] - off == len + 1 &&
		    memcmp(t->rt_arena + off, s, len) == 0) {
			if (isnew != NULL)
				*isnew = 0;
			return (t->rt_last);
		}
	}
	h = rpttab_hash(s, len);
	j = h & t->rt_mask;
	for (;; j = (j + 1) & t->rt_mask) {
		sl = &t->rt_slots[j];
		if (sl->rs_id == RPTTAB_EMPTY)
			break;
		off = t->rt_off[sl->rs_id];
		if (sl->rs_hash == h && t->rt_off[sl->rs_id + 1] - off ==
		    len + 1 && memcmp(t->rt_arena + off, s, len) == 0) {
			if (isnew != NULL)
				*isnew = 0;
			t->rt_last = sl->rs_id;
			return (sl->rs_id);
		}
	}
	if (t->rt_count >= UINT32_MAX - 1)
		fatalx("report: too many distinct strings");
	/* rt_off[id] is where string id starts, rt_off[id + 1] its end. */
	if (t->rt_count + 2 > t->rt_offcap) {
		t->rt_offcap = t->rt_offcap == 0 ? 256 : t->rt_offcap * 2;
		t->rt_off = xreallocarray(t->rt_off, t->rt_offcap,
		    sizeof *t->rt_off);
	}
	if (t->rt_count == 0)
		t->rt_off[0] = 0;
	off = t->rt_off[t->rt_count];
	while (off + len + 1 > t->rt_arenacap) {
		t->rt_arenacap = t->rt_arenacap == 0 ? 4096 :
		    t->rt_arenacap * 2;
		t->rt_arena = xreallocarray(t->rt_arena, t->rt_arenacap, 1);
	}
	memcpy(t->rt_arena + off, s, len);
	t->rt_arena[off + len] = '\0';
	t->rt_off[t->rt_count + 1] = off + len + 1;
	sl->rs_hash = h;
	sl->rs_id = (uint32_t)t->rt_count++;
	t->rt_last = sl->rs_id;
	if (isnew != NULL)
		*isnew = 1;
	if (t->rt_count * 2 > t->rt_mask + 1)
		rpttab_grow(t);
	return ((uint32_t)(t->rt_count - 1));
}

/* The string of number id (the table's own copy). */
const char *
rpttab_key(const struct rpttab *t, uint32_t id)
{
	return (t->rt_arena + t->rt_off[id]);
}
