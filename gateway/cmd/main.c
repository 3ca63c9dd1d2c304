/* main.c -- the tollgate command: picks a subcommand from the table and runs it.
 *
 * Process globals, and the only ones: the log sink and level, and each event-loop thread's
 * pending log lines (log.c); the metrics registry of atomic counters (metrics.c); the audit
 * health flag (audit.c, an atomic: did this process's last audit append succeed); OpenSSL's
 * SHA-256 method, fetched once (crypto.c). Signals are not handled asynchronously at all: the
 * main thread waits for them (serve.c). Everything else travels in a context passed first.
 */
#include "cmd/commands.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"serve", tg_cmd_serve, "serve -c FILE [-v] [--redis URL]   run the gateway"},
    {"check", tg_cmd_check,
     "check -c FILE                     validate config, policies and templates"},
    {"eval", tg_cmd_eval,
     "eval -c FILE --event EVENT.json [--report [FORMAT:]FILE]...   decide for one event, no "
     "network"},
    {"report", tg_cmd_report,
     "report [--format F] [--top N] FILE...   count scan findings by severity"},
    {"replay", tg_cmd_replay,
     "replay -c FILE EVENT.json...       post recorded events to a running gateway"},
    {"retrigger", tg_cmd_retrigger,
     "retrigger -c FILE --project ID --pipeline N --environment ENV   re-run an unknown or failed "
     "deploy"},
    {"dead", tg_cmd_dead,
     "dead -c FILE list|requeue ID...|drop ID...   handle dead-lettered events"},
    {"audit", tg_cmd_audit,
     "audit verify|export|archive -c FILE [...]   check the audit chain, export it as JSON lines, "
     "or archive it"},
    {"forward", tg_cmd_forward,
     "forward -c FILE --project ID --pipeline N | forward dead list|requeue ID...|drop ID...   "
     "DefectDojo backfill and dead letters"},
};

static int usage(FILE *out)
{
    fprintf(out, "usage: tollgate COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  tollgate %s\n", commands[i].usage);
    fprintf(out, "\n'tollgate COMMAND --help' describes one command. Exit codes: 0 ok, 1 negative "
                 "verdict, 2 usage or input error.\n");
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return usage(stdout);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tollgate: unknown command \"%s\"\n", argv[1]);
    return usage(stderr);
}
