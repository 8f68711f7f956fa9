/* lru.h - an intrusive doubly linked list kept in recency order, most recent at the head. */
#ifndef CS_LRU_H
#define CS_LRU_H

#include <stddef.h>

struct lru_node {
	struct lru_node *prev, *next;
};

struct lru {
	struct lru_node *head, *tail;
};

/* The structure that embeds node n as member m (NULL stays NULL: the end
 * of the list). */
#define lru_entry(n, type, m)                                                 \
	({                                                                    \
		struct lru_node *l_ = (n);                                    \
		l_ ? (type *)((char *)l_ - offsetof(type, m)) : (type *)NULL; \
	})

static inline void lru_unlink(struct lru *l, struct lru_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

static inline void lru_push(struct lru *l, struct lru_node *n)
{
	n->next = l->head;
	n->prev = NULL;
	if (l->head)
		l->head->prev = n;
	l->head = n;
	if (!l->tail)
		l->tail = n;
}

/* Moves n to the head: it was just used. */
static inline void lru_touch(struct lru *l, struct lru_node *n)
{
	if (l->head == n)
		return;
	lru_unlink(l, n);
	lru_push(l, n);
}

#endif
