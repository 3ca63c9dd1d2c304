/* fuzz_audit_segment.c -- an archive segment's reader (audit_archive.c: zstd frames split into
 * lines) on arbitrary bytes, as a shared archive volume could hold them. The first byte
 * chooses whether the rest is written as it is (the decompressor meets garbage) or
 * compressed first (the line splitter and each line's JSON meet garbage). */
#include "audit/audit_archive.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

static char dir[64];

static int on_line(void *arg, const char *line, size_t len)
{
    json_t *rec = json_loadb(line, len, 0, NULL);
    (*(size_t *)arg)++;
    json_decref(rec);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char name[] =
        "audit-00000000000000000001-00000000000000000002-"
        "0000000000000000000000000000000000000000000000000000000000000000.jsonl.zst";
    char path[256], err[256];
    size_t lines = 0, cap = size ? ZSTD_compressBound(size - 1) : 0, zlen = 0;
    if (size == 0)
        return 0;
    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/fuzz_audit_segment.XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    void *z = malloc(cap ? cap : 1);
    if (data[0] & 1)
        zlen = ZSTD_compress(z, cap, data + 1, size - 1, 1);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (data[0] & 1)
        fwrite(z, 1, ZSTD_isError(zlen) ? 0 : zlen, f);
    else
        fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    struct tg_audit_segment s = {.first = 1, .last = 2, .name = (char *)name};
    struct tg_audit_line_fn each = {on_line, &lines};
    (void)tg_audit_segment_each(dir, &s, &each, err, sizeof err);
    struct tg_audit_segment *v;
    size_t n;
    if (tg_audit_segments_list(dir, &v, &n, err, sizeof err) == 0) {
        if (n != 1 || v[0].first != 1 || v[0].last != 2)
            abort(); /* the name written must parse back */
        tg_audit_segments_free(v, n);
    }
    unlink(path);
    free(z);
    return 0;
}
