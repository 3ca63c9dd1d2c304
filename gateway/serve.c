/* serve.c -- `tollgate serve`: placeholder until the server lands. */
#include "commands.h"
#include <stdio.h>
int tg_cmd_serve(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "serve: not built yet\n");
    return 2;
}
