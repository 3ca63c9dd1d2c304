/* peers.c -- per-peer connection counts: a chained hash table keyed by address text. */
#include "http/peers.h"
#include "base/util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096

struct entry {
    struct entry *next;
    size_t count;
    char addr[48];
};

struct tg_peers {
    pthread_mutex_t mu;
    size_t cap;
    struct entry *b[NBUCKETS];
};

struct tg_peers *tg_peers_new(size_t cap)
{
    struct tg_peers *p = tg_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->cap = cap;
    return p;
}

void tg_peers_free(struct tg_peers *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        for (struct entry *e = p->b[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static struct entry **slot(struct tg_peers *p, const char *addr)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *c = addr; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    struct entry **e = &p->b[h % NBUCKETS];
    while (*e && strcmp((*e)->addr, addr) != 0)
        e = &(*e)->next;
    return e;
}

int tg_peers_acquire(struct tg_peers *p, const char *addr)
{
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    struct entry **e = slot(p, addr);
    if (*e == NULL) {
        *e = tg_xcalloc(1, sizeof **e);
        snprintf((*e)->addr, sizeof(*e)->addr, "%s", addr);
    }
    if ((*e)->count >= p->cap)
        rc = -1;
    else
        (*e)->count++;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void tg_peers_release(struct tg_peers *p, const char *addr)
{
    pthread_mutex_lock(&p->mu);
    struct entry **e = slot(p, addr);
    if (*e && (*e)->count > 0 && --(*e)->count == 0) {
        struct entry *gone = *e;
        *e = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&p->mu);
}
