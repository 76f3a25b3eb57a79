/*
 * yamldoc.h -- a libyaml document composed from events, with the items of
 * long string sequences ("hosts:") packed into one arena instead of one
 * node each. See yamldoc.c.
 */
#ifndef HG_YAMLDOC_H
#define HG_YAMLDOC_H

#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

/* An item of a packed sequence: a string in the arena, or a node. */
struct yamlpack_item {
	uint32_t	yi_off;		/* NUL-terminated string in yd_arena */
	uint32_t	yi_len;
	uint32_t	yi_line;	/* 1-based, of the item */
	uint32_t	yi_col;
	int		yi_node;	/* not a plain string: its node, else 0 */
	int		yi_style;	/* yaml_scalar_style_t of a string */
};

/* A packed sequence: its node (which has no items) and its items. */
struct yamlpack_seq {
	int		ys_node;
	size_t		ys_first;
	size_t		ys_n;
};

struct yamldoc {
	yaml_document_t		 yd_doc;
	char			*yd_arena;
	size_t			 yd_arenalen, yd_arenacap;
	struct yamlpack_item	*yd_items;
	size_t			 yd_nitems, yd_capitems;
	struct yamlpack_seq	*yd_seqs;
	size_t			 yd_nseqs, yd_capseqs;
};

/*
 * The next document of the parser, as yaml_parser_load() would give it
 * (1 on success, possibly with no root node at the end of the stream; 0 on
 * error, reported in the parser), except that a sequence that is the value
 * of a mapping key equal to packkey (NULL: none) is packed.
 */
int	yamldoc_load(yaml_parser_t *, struct yamldoc *, const char *packkey);
void	yamldoc_free(struct yamldoc *);
/* The packed sequence whose node is n, or NULL. */
const struct yamlpack_seq *yamldoc_packed(const struct yamldoc *,
	    const yaml_node_t *n);

#endif
