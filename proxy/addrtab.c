/*
 * addrtab.c -- records kept per client address and shared by the workers
 * (the connections open per address, the password failures per address):
 * a chained hash under one mutex, held for a lookup and an update.
 *
 * A user's record starts with a struct addrent, and the table allocates
 * and frees records of the user's size. A table may bound its chains
 * (at_chain): then a new address whose chain is full takes the place of a
 * record that the user says may go (at_stale), or else of the oldest one
 * of the chain, so that a table of addresses anyone can make up stays
 * within at_chain records per bucket.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proxy.h"

void
addrtab_lock(struct addrtab *t)
{
	pthread_mutex_lock(&t->at_mtx);
}

void
addrtab_unlock(struct addrtab *t)
{
	pthread_mutex_unlock(&t->at_mtx);
}

static size_t
addr_len(int family)
{
	return (family == 4 ? 4 : 16);
}

/* The chain of an address (FNV-1a of its bytes). */
static struct addrent **
addr_bucket(struct addrtab *t, int family, const uint8_t *addr)
{
	size_t		i, len = addr_len(family);
	uint32_t	h = 2166136261u;

	for (i = 0; i < len; i++)
		h = (h ^ addr[i]) * 16777619u;
	return (&t->at_buckets[h % t->at_nbuckets]);
}

/* The record of an address, or NULL (mutex held). */
struct addrent *
addrtab_find(struct addrtab *t, int family, const uint8_t *addr)
{
	struct addrent	*ae;

	for (ae = *addr_bucket(t, family, addr); ae != NULL; ae = ae->ae_next)
		if (ae->ae_family == family &&
		    memcmp(ae->ae_addr, addr, addr_len(family)) == 0)
			return (ae);
	return (NULL);
}

/*
 * A new record for an address that has none (mutex held): zeroed but for
 * the address, first of its chain. now is passed to at_stale. Returns
 * NULL when out of memory.
 */
struct addrent *
addrtab_add(struct addrtab *t, int family, const uint8_t *addr,
    uint64_t now)
{
	struct addrent	**head = addr_bucket(t, family, addr), **pp;
	struct addrent	**victim = NULL, **last = NULL, *ae;
	unsigned	  n = 0;

	for (pp = head; *pp != NULL; pp = &(*pp)->ae_next) {
		n++;
		last = pp;
		if (victim == NULL && t->at_stale != NULL &&
		    t->at_stale(*pp, now))
			victim = pp;
	}
	if (t->at_chain != 0 && n >= t->at_chain) {
		if (victim == NULL)
			victim = last;	/* the oldest */
		ae = *victim;
		*victim = ae->ae_next;
		memset(ae, 0, t->at_size);
	} else if ((ae = calloc(1, t->at_size)) == NULL)
		return (NULL);
	ae->ae_family = family;
	memcpy(ae->ae_addr, addr, addr_len(family));
	ae->ae_next = *head;
	*head = ae;
	return (ae);
}

/* Take a record out of the table and free it (mutex held). */
void
addrtab_remove(struct addrtab *t, struct addrent *ae)
{
	struct addrent	**pp;

	for (pp = addr_bucket(t, ae->ae_family, ae->ae_addr); *pp != ae;
	    pp = &(*pp)->ae_next)
		;
	*pp = ae->ae_next;
	free(ae);
}
