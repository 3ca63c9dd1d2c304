/* redisconn.h -- where Redis is (URL parsing, Sentinel lookup) and blocking connections to it.
 *
 * URLs: redis://[[user]:password@]host[:port][/db], unix:///path/to/socket[?db=N],
 * redis-sentinel://[[user]:password@]host:port[,host:port...]/master-name[/db] (the password
 * is the primary's; sentinels are asked without one). Worker threads and the CLI use the
 * blocking connection; the event loops use redis_loop.h, which reuses the parsing here.
 */
#ifndef TG_REDISCONN_H
#define TG_REDISCONN_H

#include <hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct tg_redis_host {
    char *host;
    int port;
};

struct tg_redis_addr {
    char *unix_path;                 /* set for unix:// */
    struct tg_redis_host primary;    /* set for redis:// */
    struct tg_redis_host *sentinels; /* set for redis-sentinel:// */
    size_t nsentinels;
    char *master_name;
    int db;
    char *user;
    char *password;
};

/* Returns 0, or -1 with the reason in err (which never contains the password). */
int tg_redis_addr_parse(const char *url, struct tg_redis_addr *out, char *err, size_t errlen);
void tg_redis_addr_dispose(struct tg_redis_addr *a);

/* For Sentinel addresses, asks the sentinels in turn for the current primary and stores it in
 * a->primary; for the others does nothing. Blocks up to timeout_ms per sentinel. 0 or -1. */
int tg_redis_addr_resolve(struct tg_redis_addr *a, uint64_t timeout_ms, char *err, size_t errlen);

/* A blocking connection with AUTH and SELECT done and timeout_ms as its command timeout.
 * Returns NULL with the reason in err. Caller frees with redisFree. */
redisContext *tg_redis_connect(struct tg_redis_addr *a, uint64_t timeout_ms, char *err,
                               size_t errlen);

/* The same from a URL: parse, resolve through Sentinel, connect. NULL with the reason in err. */
redisContext *tg_redis_connect_url(const char *url, uint64_t timeout_ms, char *err, size_t errlen);

/* Sends AUTH and SELECT as the address requires, on a blocking context. 0 or -1 with err. */
int tg_redis_handshake(redisContext *c, const struct tg_redis_addr *a, char *err, size_t errlen);

/* A Lua script for blocking connections: run with EVALSHA, falling back to EVAL when the
 * server has not seen it yet (a fresh or failed-over primary), so nothing needs preloading. */
/* Runs the Lua source with nkeys keys followed by args (argv/argvlen hold keys then args).
 * Returns the reply (caller frees with freeReplyObject; may be an error reply), or NULL when
 * the connection failed (c->err says why; the context must then be dropped). */
redisReply *tg_redis_eval(redisContext *c, const char *source, int nkeys, int argc,
                          const char **argv, const size_t *argvlen);

/* The SHA-1 hex of a script, as Redis names it. */
void tg_redis_script_sha(const char *source, char out[41]);

#endif
