/* report_cmd.c -- `tollgate report`: count the findings of scan reports, one JSON line each.
 *
 * Owns only the command line and the output format; counting is the reports module's.
 * Every file is tried: a bad one gets a message on stderr (file, format, byte offset, and
 * the JSON path of a malformed value) and makes the exit status 2, the others are still
 * printed.
 */
#include "base/buf.h"
#include "cmd/commands.h"
#include "decide/reports.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TOP 10

static int report_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tollgate report [--format F] [--top N] FILE...\n"
        "  Counts the findings of each scan report by severity and prints one JSON object per\n"
        "  file: file, format, total, critical, high, medium, low, info, unknown, extra,\n"
        "  scan_failed (null, or where the scanner declared that it failed: its findings are\n"
        "  still counted) and findings (the N most severe, default %d). FILE '-' reads\n"
        "  standard input.\n"
        "  --format trivy|horusec|gitlab|sarif|grype   the expected format: a document detected\n"
        "                                            as another (or none) is refused (default: "
        "auto)\n"
        "  --top N                                   findings to list (0 for none)\n"
        "  Exit 0 when every file was counted; 2 when any could not be read, recognised or\n"
        "  parsed, or is malformed (a container of the wrong type, a value the format does not\n"
        "  define). Each is named on stderr with the format tried, the byte offset and the\n"
        "  JSON path of the offending value; the other files are still printed.\n",
        DEFAULT_TOP);
    return out == stdout ? 0 : 2;
}

static void put_field(struct tg_buf *b, const char *key, const char *val)
{
    tg_buf_printf(b, ",\"%s\":", key);
    tg_buf_json_cstr(b, val);
}

static void put_finding(struct tg_buf *b, const struct tg_report_finding *f)
{
    tg_buf_puts(b, "{\"id\":");
    tg_buf_json_cstr(b, f->id);
    put_field(b, "severity", tg_severity_name(f->severity));
    if (*f->package) {
        put_field(b, "package", f->package);
        put_field(b, "version", f->version);
    }
    if (*f->fixed)
        put_field(b, "fixed", f->fixed);
    if (*f->file)
        put_field(b, "file", f->file);
    if (f->line > 0)
        tg_buf_printf(b, ",\"line\":%ld", f->line);
    put_field(b, "title", f->title);
    tg_buf_putc(b, '}');
}

static void print_summary(const char *path, const struct tg_report_summary *s)
{
    static const enum tg_severity order[] = {TG_SEV_CRITICAL, TG_SEV_HIGH, TG_SEV_MEDIUM,
                                             TG_SEV_LOW,      TG_SEV_INFO, TG_SEV_UNKNOWN};
    struct tg_buf b;
    tg_buf_init(&b);
    tg_buf_puts(&b, "{\"file\":");
    tg_buf_json_cstr(&b, path);
    put_field(&b, "format", tg_report_format_name(s->format));
    tg_buf_printf(&b, ",\"total\":%llu", (unsigned long long)s->total);
    for (size_t i = 0; i < TG_ARRAY_SIZE(order); i++)
        tg_buf_printf(&b, ",\"%s\":%llu", tg_severity_name(order[i]),
                      (unsigned long long)s->counts[order[i]]);
    char *extra = json_dumps(s->extra, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    tg_buf_printf(&b, ",\"extra\":%s,\"scan_failed\":", extra ? extra : "{}");
    if (s->scan_failed[0])
        tg_buf_json_cstr(&b, s->scan_failed);
    else
        tg_buf_puts(&b, "null");
    tg_buf_puts(&b, ",\"findings\":[");
    free(extra);
    for (size_t i = 0; i < s->nfindings; i++) {
        if (i)
            tg_buf_putc(&b, ',');
        put_finding(&b, &s->findings[i]);
    }
    tg_buf_puts(&b, "]}\n");
    fwrite(b.data, 1, b.len, stdout);
    tg_buf_dispose(&b);
}

static int report_file(const char *path, const struct tg_report_options *opt)
{
    char err[512];
    struct tg_report_summary sum;
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tollgate report: %s: %s: byte 0: cannot open: %s\n", path,
                tg_report_format_name(opt->format), strerror(errno));
        return -1;
    }
    int rc = tg_report_parse_fd(fd, opt, &sum, err, sizeof err);
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc < 0) {
        fprintf(stderr, "tollgate report: %s: %s\n", path, err);
        return -1;
    }
    print_summary(path, &sum);
    tg_report_summary_dispose(&sum);
    return 0;
}

int tg_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"top", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct tg_report_options opt = {.format = TG_REPORT_AUTO, .top = DEFAULT_TOP};
    long long top;
    int ch, failed = 0;
    while ((ch = getopt_long(argc, argv, "f:n:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (tg_report_format_parse(optarg, &opt.format) < 0) {
                fprintf(stderr, "tollgate report: unknown format \"%s\"\n", optarg);
                return report_usage(stderr);
            }
            break;
        case 'n':
            if (tg_parse_int(optarg, 0, 100000, &top) < 0) {
                fprintf(stderr, "tollgate report: --top wants 0..100000\n");
                return report_usage(stderr);
            }
            opt.top = (size_t)top;
            break;
        case 'h':
            return report_usage(stdout);
        default:
            return report_usage(stderr);
        }
    }
    if (optind == argc)
        return report_usage(stderr);
    for (int i = optind; i < argc; i++)
        failed |= report_file(argv[i], &opt) < 0;
    fflush(stdout);
    return failed ? 2 : 0;
}
