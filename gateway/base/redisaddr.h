/* redisaddr.h -- where Redis is (URL parsing) and what its scripts are called: pure, no I/O.
 *
 * URLs: redis://[[user]:password@]host[:port][/db], unix:///path/to/socket[?db=N],
 * redis-sentinel://[[user]:password@]host:port[,host:port...]/master-name[/db] (the password
 * is the primary's; sentinels are asked without one). Any thread may call this, event loops
 * included; the blocking side (Sentinel queries, connections) is redisconn.h.
 */
#ifndef TG_REDISADDR_H
#define TG_REDISADDR_H

#include <stddef.h>

struct tg_redis_host {
    char *host;
    int port;
};

struct tg_redis_addr {
    char *unix_path;                 /* set for unix:// */
    struct tg_redis_host primary;    /* set for redis://; for Sentinel once resolved */
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

/* The SHA-1 hex of a script, as Redis names it. */
void tg_redis_script_sha(const char *source, char out[41]);

#endif
