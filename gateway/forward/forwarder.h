/* forwarder.h -- the DefectDojo lane: threads that take due forward jobs from the outbox
 * (outbox.h) and run one attempt each (forward.h), apart from the decision workers, so a slow
 * or absent DefectDojo never delays a decision or a trigger.
 *
 * Each thread owns a blocking Redis connection, a GitLab client and an audit writer, and
 * takes a reference to the current config for each job. Started by serve with
 * defectdojo.workers threads (0 when DefectDojo is not configured at start-up).
 */
#ifndef TG_FORWARDER_H
#define TG_FORWARDER_H

#include "base/config.h"

struct tg_forwarders;

/* Starts n threads (n may be 0). config is borrowed and must outlive them. */
struct tg_forwarders *tg_forwarders_start(struct tg_config_holder *config, int n);
/* Asks every thread to finish its current attempt and joins them; frees. NULL no-op. */
void tg_forwarders_stop(struct tg_forwarders *fs);

/* How long an attempt may hold a job: the download and the upload within their timeouts. */
uint64_t tg_forward_lease_ms(const struct tg_config *cfg);

#endif
