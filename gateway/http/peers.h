/* peers.h -- open connections counted per peer address, for limits.max_connections_per_peer.
 *
 * One client holding thousands of idle connections must not take the slots other peers'
 * webhooks need. The event loops count each accepted connection here and give it back on
 * close. Any thread; a mutex guards the table.
 */
#ifndef TG_PEERS_H
#define TG_PEERS_H

#include <stddef.h>

struct tg_peers;

/* cap: connections one address may hold. */
struct tg_peers *tg_peers_new(size_t cap);
void tg_peers_free(struct tg_peers *p);

/* Takes a slot for addr (canonical text): 0, or -1 when addr already holds cap. */
int tg_peers_acquire(struct tg_peers *p, const char *addr);
/* Gives back a slot taken by tg_peers_acquire. */
void tg_peers_release(struct tg_peers *p, const char *addr);

#endif
