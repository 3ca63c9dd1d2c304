/* log.h -- structured logs: one JSON object per line on stderr.
 *
 * Every line has ts, level, module and a fixed lowercase event name, then key/value fields.
 * Callers must never pass a secret, a signature or a raw webhook body as a field.
 * The sink and minimum level are process globals (listed in main.c); lines are written
 * with one write(2) each, so threads never interleave inside a line.
 */
#ifndef TG_LOG_H
#define TG_LOG_H

#include "base/buf.h"

#include <stdint.h>

enum tg_log_level { TG_LOG_DEBUG, TG_LOG_INFO, TG_LOG_WARN, TG_LOG_ERROR };

/* Sets the output descriptor (default 2) and the lowest level written (default info). */
void tg_log_setup(int fd, enum tg_log_level min);
int tg_log_enabled(enum tg_log_level lvl);

/* A line built field by field: begin, add fields, end. When the level is filtered out,
 * begin returns 0 and the other calls do nothing. */
struct tg_logline {
    struct tg_buf buf;
    int on;
};
int tg_log_begin(struct tg_logline *l, enum tg_log_level lvl, const char *module,
                 const char *event);
void tg_log_str(struct tg_logline *l, const char *key, const char *val);
void tg_log_strn(struct tg_logline *l, const char *key, const char *val, size_t n);
void tg_log_int(struct tg_logline *l, const char *key, long long val);
/* Appends "key": <raw JSON>, for callers that already hold valid JSON. */
void tg_log_json(struct tg_logline *l, const char *key, const char *json);
void tg_log_end(struct tg_logline *l);

/* One-shot lines with a printf-style "msg" field. */
void tg_log_msg(enum tg_log_level lvl, const char *module, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like tg_log_msg with an "error" field holding strerror(errno). */
void tg_log_errno(enum tg_log_level lvl, const char *module, const char *event, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
/* Event-loop threads collect their lines and write them once per loop pass instead of one
 * write(2) per line (the access log is one line per delivery). Lines are still written
 * whole, in chunks of at most 4 KiB. Per thread; a thread that turns it off is flushed. */
void tg_log_thread_buffered(int on);
void tg_log_flush(void);

/* Logs at error level and exits 1: start-up failures and broken invariants only. */
void tg_log_fatal(const char *module, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* The same with the calling file's module: each .c file that logs names its module once,
 * `#define TG_MODULE "queue"`, and every line it writes carries it as "module". */
#define TG_LOG(lvl, event, ...)        tg_log_msg((lvl), TG_MODULE, (event), __VA_ARGS__)
#define TG_LOG_ERRNO(lvl, event, ...)  tg_log_errno((lvl), TG_MODULE, (event), __VA_ARGS__)
#define TG_LOG_FATAL(event, ...)       tg_log_fatal(TG_MODULE, (event), __VA_ARGS__)
#define TG_LOG_BEGIN(line, lvl, event) tg_log_begin((line), (lvl), TG_MODULE, (event))

#endif
