/* deliver.h -- decide and deliver one queued GitLab event.
 *
 * Normalise the event, record its receipt, and for a Pipeline Hook in a final status: decide
 * (policy), record the decision as a deployment, report it on the commit, and for a deploy
 * verdict run the once-only trigger. Every step is idempotent, so an event delivered twice,
 * or claimed again after a worker died mid-way, changes nothing the first run did.
 */
#ifndef TG_DELIVER_H
#define TG_DELIVER_H

#include "deliver/queue.h"
#include "deliver/workctx.h"

enum tg_deliver_result {
    TG_DELIVER_DONE,  /* outcome recorded: acknowledge */
    TG_DELIVER_RETRY, /* could not finish (GitLab or Redis trouble): leave pending, try again */
    TG_DELIVER_DEAD,  /* can never succeed (unreadable payload): dead-letter now */
};

enum tg_deliver_result tg_deliver(struct tg_work *w, const struct tg_queue_entry *e, char *reason,
                                  size_t reasonlen);

#endif
