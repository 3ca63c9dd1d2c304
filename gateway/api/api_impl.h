/* api_impl.h -- what the two halves of the API pool share (private to gateway/api/api*.c).
 *
 * api_route.c is the loop side (gate, claim, queue, send the answer); api.c is the pool side
 * (threads, handlers, answers). A job is shared between them: see api.c's header.
 */
#ifndef TG_API_IMPL_H
#define TG_API_IMPL_H

#include "api/api.h"
#include "http/http.h"

#include <pthread.h>
#include <stddef.h>

#define NLANES 2 /* TG_LANE_READ, TG_LANE_ACT */

struct pool_thread;

struct api_job {
    struct tg_http_ticket ticket; /* loop-thread side */
    struct tg_loop *loop;
    struct tg_api_request req;
    tg_api_fn fn;
    void *data;
    struct route *route; /* on the loop, until queued */
    struct lane *lane;
    int answered;
    int scrub;
    int status;
    char *content_type;
    char *body;
    size_t len;
    char **headers; /* extra response headers: name, value, ..., NULL */
    int refs;       /* the pool thread's and the loop's: the handler may work on after answering */
    struct api_job *next;
};

struct lane {
    pthread_cond_t cond;
    struct api_job *head, *tail;
    size_t queued;
};

struct tg_api_pool {
    struct tg_config_holder *config;
    pthread_mutex_t mu; /* guards both lanes */
    struct lane lanes[NLANES];
    size_t queue_max;
    int stopping;
    int stopped;
    struct pool_thread *threads;
    int nthreads; /* over all lanes */
};

struct route {
    struct tg_api_pool *pool;
    struct tg_api_route_spec spec;
};

/* Frees a job and its request copy (loop side: before it was queued, or once answered). */
void tg_api_job_free(struct api_job *j);
/* Drops one of the job's two references; the last one frees it. Any thread. */
void tg_api_job_release(struct api_job *j);
/* Sends the job's answer, posted to the job's loop by tg_api_answer. Loop thread. */
void tg_api_job_deliver(void *job);
/* Queues j on l: 0, or -1 (shutting down) / -2 (the lane is full). Takes the pool's mutex
 * only for the queue operation. Loop thread. */
int tg_api_pool_enqueue(struct tg_api_pool *p, struct lane *l, struct api_job *j);

#endif
