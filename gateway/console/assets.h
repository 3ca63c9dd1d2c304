/* assets.h -- the console's static files (console/ at the repository root), compiled into the
 * binary by scripts/embed_assets.sh (build/gen/console_assets.c): no files to install, no CDN.
 * Read-only data, any thread.
 */
#ifndef TG_CONSOLE_ASSETS_H
#define TG_CONSOLE_ASSETS_H

#include <stddef.h>

struct tg_console_asset {
    const char *name; /* base name: "index.html", "app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* strong ETag, quoted: the content's SHA-256 prefix */
};

/* Ends with an entry whose name is NULL. */
extern const struct tg_console_asset tg_console_assets[];

#endif
