/*
 * yamldoc.c -- compose a libyaml document from parser events.
 *
 * Does what yaml_parser_load() does, with the same result (a
 * yaml_document_t whose nodes carry their marks, aliases resolved to node
 * ids) and the same error reporting (parser->error, problem, marks), with
 * one difference: the plain strings of a sequence that is the value of a
 * chosen key ("hosts") are packed into one arena, about 40 bytes an item
 * instead of a node, a tag and a value of their own (about 170 bytes).
 * A list of 100,000 names is mostly memory being touched for the first
 * time, and that is what costs: packed, it loads in a fraction of the time.
 *
 * Collections nest at most HG_MAX_YAML_DEPTH deep: the configuration needs
 * a handful of levels, and libyaml's scanner does work proportional to the
 * open flow levels for every token, so "[[[[..." costs the square of its
 * depth. Refused at the event that opens one level too many, the scanner
 * has read no more than about a kilobyte past it (its look-ahead for a
 * simple key), whatever the length of the file.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "yamldoc.h"

#define YD_STR(x)	#x
#define YD_XSTR(x)	YD_STR(x)
#define YD_TOO_DEEP	"YAML nested deeper than " \
	YD_XSTR(HG_MAX_YAML_DEPTH) " levels"

struct anchor {
	yaml_char_t	*an_name;
	int		 an_node;
	yaml_mark_t	 an_mark;
};

struct composer {
	yaml_parser_t	*cp_parser;
	struct yamldoc	*cp_yd;
	yaml_document_t	*cp_doc;
	const char	*cp_packkey;
	int		 cp_packing;	/* node id of the sequence packed */
	size_t		 cp_packfirst;
	size_t		 cp_capnodes;
	int		*cp_stack;	/* open collections (node ids) */
	size_t		 cp_nstack, cp_capstack;
	struct anchor	*cp_anchors;
	size_t		 cp_nanchors, cp_capanchors;
};

static int
composer_error(struct composer *cp, const char *context,
    yaml_mark_t context_mark, const char *problem, yaml_mark_t problem_mark)
{
	cp->cp_parser->error = YAML_COMPOSER_ERROR;
	cp->cp_parser->context = context;
	cp->cp_parser->context_mark = context_mark;
	cp->cp_parser->problem = problem;
	cp->cp_parser->problem_mark = problem_mark;
	return (0);
}

/* Grow an array of *cap elements of size sz to hold one more. */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t	ncap;
	void	*p;

	if (n < *cap)
		return (1);
	ncap = *cap ? *cap * 2 : 16;
	if ((p = reallocarray(*arr, ncap, sz)) == NULL)
		return (0);
	hg_prefault((char *)p + *cap * sz, (ncap - *cap) * sz);
	*arr = p;
	*cap = ncap;
	return (1);
}

static int
register_anchor(struct composer *cp, yaml_char_t *name, int id,
    yaml_mark_t mark)
{
	size_t	i;

	for (i = 0; i < cp->cp_nanchors; i++) {
		if (strcmp((char *)cp->cp_anchors[i].an_name,
		    (char *)name) == 0) {
			free(name);
			return (composer_error(cp, NULL, mark,
			    "found a duplicate anchor", mark));
		}
	}
	if (!grow((void **)&cp->cp_anchors, &cp->cp_capanchors,
	    cp->cp_nanchors, sizeof *cp->cp_anchors)) {
		free(name);
		cp->cp_parser->error = YAML_MEMORY_ERROR;
		return (0);
	}
	cp->cp_anchors[cp->cp_nanchors].an_name = name;
	cp->cp_anchors[cp->cp_nanchors].an_node = id;
	cp->cp_anchors[cp->cp_nanchors].an_mark = mark;
	cp->cp_nanchors++;
	return (1);
}

/* Append a node; its id (1-based) is returned, 0 on failure. */
static int
add_node(struct composer *cp, const yaml_node_t *n)
{
	yaml_document_t	*doc = cp->cp_doc;
	size_t		 count = (size_t)(doc->nodes.top - doc->nodes.start);

	if (count >= INT_MAX - 1) {
		cp->cp_parser->error = YAML_MEMORY_ERROR;
		return (0);
	}
	if (count == cp->cp_capnodes) {
		size_t		 ncap = cp->cp_capnodes ? cp->cp_capnodes * 2 :
		    64;
		yaml_node_t	*p;

		if ((p = reallocarray(doc->nodes.start, ncap,
		    sizeof *p)) == NULL) {
			cp->cp_parser->error = YAML_MEMORY_ERROR;
			return (0);
		}
		doc->nodes.start = p;
		doc->nodes.top = p + count;
		doc->nodes.end = p + ncap;
		cp->cp_capnodes = ncap;
	}
	*doc->nodes.top++ = *n;
	return ((int)count + 1);
}

/* An item of the sequence being packed: node id, or the scalar of ev. */
static int
pack_item(struct composer *cp, int id, const yaml_event_t *ev)
{
	struct yamldoc		*yd = cp->cp_yd;
	struct yamlpack_item	*it;

	if (!grow((void **)&yd->yd_items, &yd->yd_capitems, yd->yd_nitems,
	    sizeof *yd->yd_items))
		goto nomem;
	it = &yd->yd_items[yd->yd_nitems];
	memset(it, 0, sizeof *it);
	if (ev == NULL) {
		const yaml_node_t *n = &cp->cp_doc->nodes.start[id - 1];

		it->yi_node = id;
		it->yi_line = (uint32_t)n->start_mark.line + 1;
		it->yi_col = (uint32_t)n->start_mark.column + 1;
	} else {
		size_t	len = ev->data.scalar.length;

		if (len > UINT32_MAX - 1 ||
		    yd->yd_arenalen > UINT32_MAX - 1 - len)
			goto nomem;
		while (yd->yd_arenacap - yd->yd_arenalen < len + 1) {
			size_t	ncap = yd->yd_arenacap ? yd->yd_arenacap * 2 :
			    4096;
			char	*p;

			if ((p = realloc(yd->yd_arena, ncap)) == NULL)
				goto nomem;
			hg_prefault(p + yd->yd_arenacap, ncap - yd->yd_arenacap);
			yd->yd_arena = p;
			yd->yd_arenacap = ncap;
		}
		memcpy(yd->yd_arena + yd->yd_arenalen, ev->data.scalar.value,
		    len);
		yd->yd_arena[yd->yd_arenalen + len] = '\0';
		it->yi_off = (uint32_t)yd->yd_arenalen;
		it->yi_len = (uint32_t)len;
		it->yi_style = ev->data.scalar.style;
		it->yi_line = (uint32_t)ev->start_mark.line + 1;
		it->yi_col = (uint32_t)ev->start_mark.column + 1;
		yd->yd_arenalen += len + 1;
	}
	yd->yd_nitems++;
	return (1);
nomem:
	cp->cp_parser->error = YAML_MEMORY_ERROR;
	return (0);
}

/* Does the sequence starting now have the pack key for its key? */
static int
wants_packing(const struct composer *cp)
{
	const yaml_node_t	*parent, *key;
	const yaml_node_pair_t	*pr;

	if (cp->cp_packkey == NULL || cp->cp_packing != 0 ||
	    cp->cp_nstack == 0)
		return (0);
	parent = &cp->cp_doc->nodes.start[cp->cp_stack[cp->cp_nstack - 1] - 1];
	if (parent->type != YAML_MAPPING_NODE ||
	    parent->data.mapping.pairs.top == parent->data.mapping.pairs.start)
		return (0);
	pr = parent->data.mapping.pairs.top - 1;
	if (pr->value != 0)
		return (0);
	key = &cp->cp_doc->nodes.start[pr->key - 1];
	return (key->type == YAML_SCALAR_NODE &&
	    strcmp((const char *)key->data.scalar.value, cp->cp_packkey) == 0);
}

static int
pack_end(struct composer *cp)
{
	struct yamldoc		*yd = cp->cp_yd;
	struct yamlpack_seq	*ps;

	if (!grow((void **)&yd->yd_seqs, &yd->yd_capseqs, yd->yd_nseqs,
	    sizeof *yd->yd_seqs)) {
		cp->cp_parser->error = YAML_MEMORY_ERROR;
		return (0);
	}
	ps = &yd->yd_seqs[yd->yd_nseqs++];
	ps->ys_node = cp->cp_packing;
	ps->ys_first = cp->cp_packfirst;
	ps->ys_n = yd->yd_nitems - cp->cp_packfirst;
	cp->cp_packing = 0;
	return (1);
}

/* Add node id to the collection being composed, if any. */
static int
attach(struct composer *cp, int id)
{
	yaml_node_t	*parent;

	if (cp->cp_nstack == 0) {
		return (1);	/* the root */
	}
	if (cp->cp_stack[cp->cp_nstack - 1] == cp->cp_packing)
		return (pack_item(cp, id, NULL));
	parent = &cp->cp_doc->nodes.start[cp->cp_stack[cp->cp_nstack - 1] - 1];
	if (parent->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t	*it;
		size_t			 n = (size_t)(parent->data.sequence.items.top -
		    parent->data.sequence.items.start);
		size_t			 cap = (size_t)(
		    parent->data.sequence.items.end -
		    parent->data.sequence.items.start);

		it = parent->data.sequence.items.start;
		if (!grow((void **)&it, &cap, n, sizeof *it))
			goto nomem;
		it[n] = id;
		parent->data.sequence.items.start = it;
		parent->data.sequence.items.top = it + n + 1;
		parent->data.sequence.items.end = it + cap;
	} else {
		yaml_node_pair_t	*pr;
		size_t			 n = (size_t)(parent->data.mapping.pairs.top -
		    parent->data.mapping.pairs.start);
		size_t			 cap = (size_t)(
		    parent->data.mapping.pairs.end -
		    parent->data.mapping.pairs.start);

		pr = parent->data.mapping.pairs.start;
		/* A pair is open while its value has not come yet. */
		if (n > 0 && pr[n - 1].value == 0) {
			pr[n - 1].value = id;
			return (1);
		}
		if (!grow((void **)&pr, &cap, n, sizeof *pr))
			goto nomem;
		pr[n].key = id;
		pr[n].value = 0;
		parent->data.mapping.pairs.start = pr;
		parent->data.mapping.pairs.top = pr + n + 1;
		parent->data.mapping.pairs.end = pr + cap;
	}
	return (1);
nomem:
	cp->cp_parser->error = YAML_MEMORY_ERROR;
	return (0);
}

static yaml_char_t *
default_tag(yaml_char_t *tag, const char *def)
{
	if (tag != NULL && strcmp((char *)tag, "!") != 0)
		return (tag);
	free(tag);
	return ((yaml_char_t *)strdup(def));
}

/* One event into the document; takes over the event's memory. */
static int
compose_event(struct composer *cp, yaml_event_t *ev)
{
	yaml_node_t	 n;
	yaml_char_t	*anchor = NULL;
	int		 id, open = 0;
	size_t		 i;

	memset(&n, 0, sizeof n);
	n.start_mark = ev->start_mark;
	n.end_mark = ev->end_mark;
	if ((ev->type == YAML_SEQUENCE_START_EVENT ||
	    ev->type == YAML_MAPPING_START_EVENT) &&
	    cp->cp_nstack >= HG_MAX_YAML_DEPTH) {
		yaml_event_delete(ev);
		return (composer_error(cp, NULL, n.start_mark, YD_TOO_DEEP,
		    n.start_mark));
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		for (i = 0; i < cp->cp_nanchors; i++)
			if (strcmp((char *)cp->cp_anchors[i].an_name,
			    (char *)ev->data.alias.anchor) == 0)
				break;
		free(ev->data.alias.anchor);
		if (i == cp->cp_nanchors)
			return (composer_error(cp, NULL, ev->start_mark,
			    "found undefined alias", ev->start_mark));
		return (attach(cp, cp->cp_anchors[i].an_node));
	case YAML_SCALAR_EVENT:
		if (cp->cp_packing != 0 && cp->cp_nstack > 0 &&
		    cp->cp_stack[cp->cp_nstack - 1] == cp->cp_packing &&
		    ev->data.scalar.anchor == NULL &&
		    ev->data.scalar.tag == NULL) {
			int ok = pack_item(cp, 0, ev);

			yaml_event_delete(ev);
			return (ok);
		}
		n.type = YAML_SCALAR_NODE;
		n.tag = default_tag(ev->data.scalar.tag,
		    YAML_DEFAULT_SCALAR_TAG);
		n.data.scalar.value = ev->data.scalar.value;
		n.data.scalar.length = ev->data.scalar.length;
		n.data.scalar.style = ev->data.scalar.style;
		anchor = ev->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		n.type = YAML_SEQUENCE_NODE;
		n.tag = default_tag(ev->data.sequence_start.tag,
		    YAML_DEFAULT_SEQUENCE_TAG);
		n.data.sequence.style = ev->data.sequence_start.style;
		anchor = ev->data.sequence_start.anchor;
		open = 1;
		break;
	case YAML_MAPPING_START_EVENT:
		n.type = YAML_MAPPING_NODE;
		n.tag = default_tag(ev->data.mapping_start.tag,
		    YAML_DEFAULT_MAPPING_TAG);
		n.data.mapping.style = ev->data.mapping_start.style;
		anchor = ev->data.mapping_start.anchor;
		open = 1;
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (cp->cp_nstack > 0) {
			id = cp->cp_stack[--cp->cp_nstack];
			cp->cp_doc->nodes.start[id - 1].end_mark =
			    ev->end_mark;
			if (id == cp->cp_packing)
				return (pack_end(cp));
		}
		return (1);
	default:
		yaml_event_delete(ev);
		return (1);
	}
	if (n.tag == NULL || (id = add_node(cp, &n)) == 0) {
		free(n.tag);
		if (n.type == YAML_SCALAR_NODE)
			free(n.data.scalar.value);
		free(anchor);
		cp->cp_parser->error = YAML_MEMORY_ERROR;
		return (0);
	}
	if (anchor != NULL && !register_anchor(cp, anchor, id,
	    ev->start_mark))
		return (0);
	if (n.type == YAML_SEQUENCE_NODE && wants_packing(cp)) {
		cp->cp_packing = id;
		cp->cp_packfirst = cp->cp_yd->yd_nitems;
	}
	if (!attach(cp, id))
		return (0);
	if (open) {
		if (!grow((void **)&cp->cp_stack, &cp->cp_capstack,
		    cp->cp_nstack, sizeof *cp->cp_stack)) {
			cp->cp_parser->error = YAML_MEMORY_ERROR;
			return (0);
		}
		cp->cp_stack[cp->cp_nstack++] = id;
	}
	return (1);
}

int
yamldoc_load(yaml_parser_t *parser, struct yamldoc *yd, const char *packkey)
{
	yaml_document_t	*doc = &yd->yd_doc;
	struct composer	 cp;
	yaml_event_t	 ev;
	size_t		 i;
	int		 ok = 0, done = 0;

	memset(yd, 0, sizeof *yd);
	if (parser->stream_end_produced)
		return (1);	/* no more documents: an empty one */
	if (!parser->stream_start_produced) {
		if (!yaml_parser_parse(parser, &ev))
			return (0);
		yaml_event_delete(&ev);
	}
	if (!yaml_parser_parse(parser, &ev))
		return (0);
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return (1);
	}
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		parser->error = YAML_COMPOSER_ERROR;
		parser->problem = "expected the start of a document";
		parser->problem_mark = ev.start_mark;
		return (0);
	}
	/* Directives are not kept: the configuration has no use for them. */
	doc->start_mark = ev.start_mark;
	doc->start_implicit = ev.data.document_start.implicit;
	yaml_event_delete(&ev);

	memset(&cp, 0, sizeof cp);
	cp.cp_parser = parser;
	cp.cp_yd = yd;
	cp.cp_doc = doc;
	cp.cp_packkey = packkey;
	while (!done) {
		if (!yaml_parser_parse(parser, &ev))
			goto out;
		if (ev.type == YAML_DOCUMENT_END_EVENT) {
			doc->end_mark = ev.end_mark;
			doc->end_implicit = ev.data.document_end.implicit;
			yaml_event_delete(&ev);
			done = 1;
		} else if (!compose_event(&cp, &ev))
			goto out;
	}
	ok = 1;
out:
	for (i = 0; i < cp.cp_nanchors; i++)
		free(cp.cp_anchors[i].an_name);
	free(cp.cp_anchors);
	free(cp.cp_stack);
	if (!ok)
		yamldoc_free(yd);
	return (ok);
}

void
yamldoc_free(struct yamldoc *yd)
{
	yaml_document_delete(&yd->yd_doc);
	free(yd->yd_arena);
	free(yd->yd_items);
	free(yd->yd_seqs);
	memset(yd, 0, sizeof *yd);
}

const struct yamlpack_seq *
yamldoc_packed(const struct yamldoc *yd, const yaml_node_t *n)
{
	int	id = (int)(n - yd->yd_doc.nodes.start) + 1;
	size_t	i;

	for (i = 0; i < yd->yd_nseqs; i++)
		if (yd->yd_seqs[i].ys_node == id)
			return (&yd->yd_seqs[i]);
	return (NULL);
}
