/* pages.c -- serves the console's files (compiled in by scripts/embed_assets.sh) under /ui/.
 *
 * /ui/ is index.html, /ui/assets/NAME one of the files; anything else under /ui/ is 404. Each
 * answer carries a strong ETag and Cache-Control: no-cache (names are not content-hashed, so a
 * browser revalidates and gets 304 until the binary changes) and the security headers; every
 * other answer (301, 404, 405) Cache-Control: no-store. Never
 * touches Redis: the pages ask the API for everything. Loop threads.
 */
#include "console/pages.h"
#include "base/util.h"
#include "console/assets.h"
#include "http/http.h"

#include <string.h>

#define UI_ROOT   "/ui/"
#define UI_ASSETS "/ui/assets/"

static void add(h2o_req_t *req, const h2o_token_t *token, const char *value)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, value, strlen(value));
}

static void add_named(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value,
                          strlen(value));
}

void tg_console_security_headers(h2o_req_t *req)
{
    add_named(req, "content-security-policy", TG_CONSOLE_CSP);
    add_named(req, "x-content-type-options", "nosniff");
    add_named(req, "referrer-policy", "no-referrer");
    add_named(req, "x-frame-options", "DENY");
}

static const struct tg_console_asset *lookup(const char *path, size_t n)
{
    const char *name = NULL;
    size_t len = 0, plen = strlen(UI_ASSETS);
    if (n == strlen(UI_ROOT) && memcmp(path, UI_ROOT, n) == 0) {
        name = "index.html";
        len = strlen(name);
    } else if (n > plen && memcmp(path, UI_ASSETS, plen) == 0) {
        name = path + plen;
        len = n - plen;
    }
    for (const struct tg_console_asset *a = tg_console_assets; name && a->name; a++)
        if (strlen(a->name) == len && memcmp(a->name, name, len) == 0)
            return a;
    return NULL;
}

static int not_modified(h2o_req_t *req, const struct tg_console_asset *a)
{
    h2o_iovec_t inm = tg_http_header(req, "if-none-match");
    return inm.base && inm.len == strlen(a->etag) && memcmp(inm.base, a->etag, inm.len) == 0;
}

static int on_ui(void *data, h2o_req_t *req)
{
    (void)data;
    tg_console_security_headers(req);
    if (!tg_http_method_is(req, "GET") && !tg_http_method_is(req, "HEAD")) {
        add(req, H2O_TOKEN_ALLOW, "GET, HEAD");
        add(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
        tg_http_error(req, TG_ROUTE_OTHER, 405, "method_not_allowed", "use GET");
        return 0;
    }
    if (req->path_normalized.len == strlen(UI_ROOT) - 1) { /* "/ui": h2o routes it here */
        add(req, H2O_TOKEN_LOCATION, UI_ROOT);
        add(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
        tg_http_reply(req, TG_ROUTE_OTHER, &(struct tg_http_answer){301, "text/plain", "", 0});
        return 0;
    }
    const struct tg_console_asset *a = lookup(req->path_normalized.base, req->path_normalized.len);
    if (a == NULL) {
        add(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
        tg_http_error(req, TG_ROUTE_OTHER, 404, "not_found", "no such page");
        return 0;
    }
    add(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    add(req, H2O_TOKEN_ETAG, a->etag);
    if (not_modified(req, a))
        tg_http_reply(req, TG_ROUTE_OTHER, &(struct tg_http_answer){304, a->type, "", 0});
    else
        tg_http_reply(req, TG_ROUTE_OTHER,
                      &(struct tg_http_answer){200, a->type, (const char *)a->data, a->len});
    return 0;
}

void tg_console_pages_register(struct tg_server *s)
{
    tg_server_route(s, UI_ROOT, on_ui, NULL);
    tg_server_route(s, "/ui", on_ui, NULL); /* after /ui/: exactly "/ui", sent on to /ui/ */
}
