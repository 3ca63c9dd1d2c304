/* jsonval.h -- is this body one JSON object? Answered without building a tree.
 *
 * The ingest path must not pay for a DOM (a jansson tree of a 6 KB payload costs more than
 * the rest of the request): one allocation-free pass checks the grammar, UTF-8, number
 * ranges and a nesting limit, as strictly as the worker's parser will read the body.
 */
#ifndef TG_JSONVAL_H
#define TG_JSONVAL_H

#include <stddef.h>

#define TG_JSON_MAX_DEPTH 512

/* 0 when buf holds exactly one JSON object (white space around it allowed), nested at most
 * TG_JSON_MAX_DEPTH deep; else -1 with a reason naming the byte offset in err. */
int tg_json_validate_object(const char *buf, size_t len, char *err, size_t errlen);

#endif
