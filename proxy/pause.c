/*
 * pause.c -- categories paused for a while (`hushgate ctl pause`): what
 * such a category would deny is let through and logged as audit, until
 * the pause ends by itself (a timer on the main loop) or is resumed.
 * Pauses are kept by category name, so a reload keeps them; a restart
 * loses them.
 *
 * The workers look a decision up on every request: an atomic count of
 * the pauses comes first, and only when one is active the small table,
 * under its mutex. The main thread alone adds and removes entries.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "proxy.h"

struct pause {
	char		*pa_name;	/* NULL: a free slot */
	uint64_t	 pa_until;	/* monotonic ms */
	struct event	*pa_timer;
};

static pthread_mutex_t	 pause_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct pause	 pauses[HG_MAX_PAUSES];
static unsigned		 npaused;	/* atomic: slots in use */
static struct event_base *pause_base;

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* The slot of the pause of name, or NULL (under pause_mtx). */
static struct pause *
pause_find(const char *name)
{
	size_t	i;

	for (i = 0; i < HG_MAX_PAUSES; i++)
		if (pauses[i].pa_name != NULL &&
		    strcmp(pauses[i].pa_name, name) == 0)
			return (&pauses[i]);
	return (NULL);
}

/* Free the slot pa (main thread). */
static void
pause_drop(struct pause *pa)
{
	char	*name;

	pthread_mutex_lock(&pause_mtx);
	name = pa->pa_name;
	pa->pa_name = NULL;
	__atomic_sub_fetch(&npaused, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pause_mtx);
	free(name);
	event_free(pa->pa_timer);
	pa->pa_timer = NULL;
}

static void
pause_expired(evutil_socket_t fd, short what, void *arg)
{
	struct pause	*pa = arg;

	log_info("pause: %s: over, its denials apply again", pa->pa_name);
	pause_drop(pa);
}

/* Pauses run their timers on base (the main loop), from now on. */
void
pause_init(struct event_base *base)
{
	pause_base = base;
}

/*
 * Pause the category called name for ms milliseconds (main thread): a
 * pause of it already running takes the new length. Returns 0, or -1
 * when the table is full.
 */
int
pause_set(const char *name, unsigned ms)
{
	struct pause	*pa;
	struct timeval	 tv;
	size_t		 i;
	int		 renew = 1;

	pthread_mutex_lock(&pause_mtx);
	if ((pa = pause_find(name)) == NULL) {
		renew = 0;
		for (i = 0; i < HG_MAX_PAUSES && pa == NULL; i++)
			if (pauses[i].pa_name == NULL)
				pa = &pauses[i];
		if (pa == NULL) {
			pthread_mutex_unlock(&pause_mtx);
			return (-1);
		}
		pa->pa_name = xstrdup(name);
		__atomic_add_fetch(&npaused, 1, __ATOMIC_RELEASE);
	}
	pa->pa_until = now_ms() + ms;
	pthread_mutex_unlock(&pause_mtx);
	if (pa->pa_timer == NULL &&
	    (pa->pa_timer = evtimer_new(pause_base, pause_expired, pa)) ==
	    NULL)
		fatalx("out of memory");
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(pa->pa_timer, &tv);
	log_info("pause: %s: %s, its denials let through as audit for "
	    "%u.%03us", name, renew ? "paused again" : "paused", ms / 1000,
	    ms % 1000);
	return (0);
}

/* End the pause of name before its time (main thread); -1: none. */
int
pause_clear(const char *name)
{
	struct pause	*pa;

	pthread_mutex_lock(&pause_mtx);
	pa = pause_find(name);
	pthread_mutex_unlock(&pause_mtx);
	if (pa == NULL)
		return (-1);
	log_info("pause: %s: resumed, its denials apply again", name);
	pause_drop(pa);
	return (0);
}

/* End every pause, without a word (main thread, at exit). */
void
pause_clear_all(void)
{
	size_t	i;

	for (i = 0; i < HG_MAX_PAUSES; i++)
		if (pauses[i].pa_name != NULL)
			pause_drop(&pauses[i]);
}

/*
 * The pauses running, at most max into names (copies, to be freed) and
 * left (milliseconds to go); returns how many (main thread).
 */
size_t
pause_list(char **names, unsigned *left, size_t max)
{
	uint64_t	now = now_ms();
	size_t		i, n = 0;

	pthread_mutex_lock(&pause_mtx);
	for (i = 0; i < HG_MAX_PAUSES && n < max; i++) {
		if (pauses[i].pa_name == NULL)
			continue;
		names[n] = xstrdup(pauses[i].pa_name);
		left[n] = pauses[i].pa_until > now ?
		    (unsigned)(pauses[i].pa_until - now) : 0;
		n++;
	}
	pthread_mutex_unlock(&pause_mtx);
	return (n);
}

/*
 * A decision of a request (any thread): when a rule of a paused category
 * denied it, it becomes audit. Returns 1 when it did.
 */
int
pause_apply(struct hg_decision *d)
{
	struct pause	*pa;
	int		 hit;

	if (__atomic_load_n(&npaused, __ATOMIC_ACQUIRE) == 0 ||
	    d->d_action != HG_ACT_DENY || d->d_reason != HG_REASON_RULE ||
	    d->d_category_name == NULL)
		return (0);
	pthread_mutex_lock(&pause_mtx);
	hit = (pa = pause_find(d->d_category_name)) != NULL &&
	    pa->pa_until > now_ms();
	pthread_mutex_unlock(&pause_mtx);
	if (hit)
		d->d_action = HG_ACT_AUDIT;
	return (hit);
}
