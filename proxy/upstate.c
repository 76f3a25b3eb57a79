/*
 * upstate.c -- the state of the parent proxies (upstreams:), shared by
 * every worker with atomics, no lock: per upstream, the counters that
 * /metrics shows and whether it is marked down.
 *
 * A parent is marked down after max_failures consecutive failures of its
 * own (it did not answer, its TLS failed, it wanted other credentials);
 * any other answer (a 403 or a 5xx to a CONNECT is its word on one
 * destination) says it is alive and starts the count again. Down, it is
 * skipped by every route until its hold_time is over; then the first
 * request that comes is the probe, while the others go on skipping it
 * for as long as a probe may take: the probe's success marks it up, its
 * failure down for another hold_time. A probe whose client went away
 * tells nothing; the next request after that time probes again.
 *
 * The slots are handed out by the main thread (upstate_bind(), at start
 * and on reload) by name: a reload that keeps an upstream's name and url
 * keeps its counters and state; another url starts its state over.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy.h"

struct upslot {
	char		 us_name[HG_MAX_UPSTREAM_NAME + 1]; /* main thread */
	char		*us_url;			/* main thread */
	uint64_t	 us_requests;		/* the rest: atomic */
	uint64_t	 us_failures[UPF_MAX];
	uint64_t	 us_skipped;
	uint64_t	 us_downs;
	unsigned	 us_consec;	/* consecutive failures of its own */
	int		 us_probing;	/* a probe was let through */
	int64_t		 us_down_until;	/* monotonic ms; 0: up */
};

static struct upslot	 slots[HG_UPSTATE_SLOTS];

#define RLX		__ATOMIC_RELAXED
#define ACQREL		__ATOMIC_ACQ_REL

static const char *const kind_names[UPF_MAX] = {
	[UPF_UNREACHABLE] = "unreachable", [UPF_TLS] = "tls",
	[UPF_AUTH] = "auth", [UPF_REFUSED] = "refused",
	[UPF_FAILED] = "failed",
};

const char *
upstate_kind_name(enum upstate_kind k)
{
	return ((unsigned)k < UPF_MAX ? kind_names[k] : "?");
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static struct upslot *
slot_of(const struct hg_upstream *up)
{
	return (&slots[up->up_slot < HG_UPSTATE_SLOTS ? up->up_slot : 0]);
}

/* A slot's state and counters, as new (main thread). */
static void
slot_reset(struct upslot *us, int counters)
{
	size_t	k;

	__atomic_store_n(&us->us_consec, 0, RLX);
	__atomic_store_n(&us->us_probing, 0, RLX);
	__atomic_store_n(&us->us_down_until, 0, RLX);
	if (!counters)
		return;
	__atomic_store_n(&us->us_requests, 0, RLX);
	__atomic_store_n(&us->us_skipped, 0, RLX);
	__atomic_store_n(&us->us_downs, 0, RLX);
	for (k = 0; k < UPF_MAX; k++)
		__atomic_store_n(&us->us_failures[k], 0, RLX);
}

/* Is name an upstream of cf? */
static int
named_in(const struct hg_config *cf, const char *name)
{
	size_t	i;

	for (i = 0; i < cf->cf_nupstreams; i++)
		if (strcmp(cf->cf_upstreams[i].up_name, name) == 0)
			return (1);
	return (0);
}

/*
 * Give every upstream of cf its slot (main thread, before the workers see
 * cf): the one of its name, its state started over when its url changed;
 * a free one; or, all taken, one of a name cf no longer has.
 */
void
upstate_bind(struct hg_config *cf)
{
	struct hg_upstream	*up;
	struct upslot		*us;
	size_t			 i, k;

	for (i = 0; i < cf->cf_nupstreams; i++) {
		up = &cf->cf_upstreams[i];
		for (k = 0; k < HG_UPSTATE_SLOTS; k++)
			if (strcmp(slots[k].us_name, up->up_name) == 0)
				break;
		if (k == HG_UPSTATE_SLOTS) {
			for (k = 0; k < HG_UPSTATE_SLOTS; k++)
				if (slots[k].us_name[0] == '\0')
					break;
		}
		if (k == HG_UPSTATE_SLOTS) {
			for (k = 0; k < HG_UPSTATE_SLOTS; k++)
				if (!named_in(cf, slots[k].us_name))
					break;
			slot_reset(&slots[k], 1);
		}
		us = &slots[k];
		if (strcmp(us->us_name, up->up_name) != 0 || us->us_url == NULL ||
		    strcmp(us->us_url, up->up_url) != 0) {
			if (us->us_url != NULL)
				slot_reset(us, 0);
			snprintf(us->us_name, sizeof us->us_name, "%s",
			    up->up_name);
			free(us->us_url);
			us->us_url = xstrdup(up->up_url);
		}
		up->up_slot = (unsigned)k;
	}
}

/*
 * May a request go to up now? UPSTATE_UP; UPSTATE_DOWN (counted as
 * skipped); or UPSTATE_PROBE when it is down and its hold time is over:
 * this request is the probe, the others skip it for window ms.
 */
enum upstate_admit
upstate_admit(const struct hg_upstream *up, unsigned window)
{
	struct upslot	*us = slot_of(up);
	int64_t		 until, now;

	until = __atomic_load_n(&us->us_down_until, RLX);
	if (until == 0)
		return (UPSTATE_UP);
	now = now_ms();
	if (now >= until && __atomic_compare_exchange_n(&us->us_down_until,
	    &until, now + window, 0, ACQREL, RLX)) {
		__atomic_store_n(&us->us_probing, 1, RLX);
		log_info("upstream %s: hold time over, probing", up->up_name);
		return (UPSTATE_PROBE);
	}
	__atomic_add_fetch(&us->us_skipped, 1, RLX);
	return (UPSTATE_DOWN);
}

/* A request goes to up. */
void
upstate_request(const struct hg_upstream *up)
{
	__atomic_add_fetch(&slot_of(up)->us_requests, 1, RLX);
}

/* up answered (anything but a 407): it is alive; marked up if down. */
void
upstate_alive(const struct hg_upstream *up)
{
	struct upslot	*us = slot_of(up);

	if (__atomic_load_n(&us->us_consec, RLX) != 0)
		__atomic_store_n(&us->us_consec, 0, RLX);
	if (__atomic_load_n(&us->us_down_until, RLX) != 0 &&
	    __atomic_exchange_n(&us->us_down_until, 0, ACQREL) != 0) {
		__atomic_store_n(&us->us_probing, 0, RLX);
		log_info("upstream %s: up again", up->up_name);
	}
}

/*
 * A request to up failed (kind). A failure of its own counts towards its
 * max_failures; the last one marks it down for its hold_time, and so does
 * the failure of a probe.
 */
void
upstate_failed(const struct hg_upstream *up, enum upstate_kind kind)
{
	struct upslot	*us = slot_of(up);
	int64_t		 zero = 0, until;
	unsigned	 n;

	__atomic_add_fetch(&us->us_failures[(unsigned)kind < UPF_MAX ? kind :
	    0], 1, RLX);
	if (kind == UPF_REFUSED || kind == UPF_FAILED) {
		upstate_alive(up);
		return;
	}
	n = __atomic_add_fetch(&us->us_consec, 1, RLX);
	if (__atomic_load_n(&us->us_down_until, RLX) != 0) {
		if (__atomic_exchange_n(&us->us_probing, 0, ACQREL)) {
			__atomic_store_n(&us->us_down_until, now_ms() +
			    up->up_hold, RLX);
			log_warnx("upstream %s: probe failed (%s), down for "
			    "another %ums", up->up_name, upstate_kind_name(kind),
			    up->up_hold);
		}
		return;
	}
	if (up->up_max_failures == 0 || n < up->up_max_failures)
		return;
	until = now_ms() + up->up_hold;
	if (__atomic_compare_exchange_n(&us->us_down_until, &zero, until, 0,
	    ACQREL, RLX)) {
		__atomic_store_n(&us->us_consec, 0, RLX);
		__atomic_add_fetch(&us->us_downs, 1, RLX);
		log_warnx("upstream %s: marked down for %ums after %u "
		    "consecutive failures (last: %s)", up->up_name,
		    up->up_hold, n, upstate_kind_name(kind));
	}
}

/* The counters and state of up, for /metrics (any thread). */
void
upstate_counts(const struct hg_upstream *up, struct upstate_counts *uc)
{
	struct upslot	*us = slot_of(up);
	size_t		 k;

	uc->uc_requests = __atomic_load_n(&us->us_requests, RLX);
	for (k = 0; k < UPF_MAX; k++)
		uc->uc_failures[k] = __atomic_load_n(&us->us_failures[k], RLX);
	uc->uc_skipped = __atomic_load_n(&us->us_skipped, RLX);
	uc->uc_downs = __atomic_load_n(&us->us_downs, RLX);
	uc->uc_down = __atomic_load_n(&us->us_down_until, RLX) != 0;
}
