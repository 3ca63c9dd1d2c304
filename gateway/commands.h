/* commands.h -- the entry point of each tollgate subcommand, listed in main.c's table.
 *
 * Each takes the arguments after the subcommand name (argv[0] is the subcommand) and returns
 * the process exit code: 0 ok, 1 a negative verdict, 2 usage or input errors.
 */
#ifndef TG_COMMANDS_H
#define TG_COMMANDS_H

int tg_cmd_serve(int argc, char **argv);  /* serve.c */
int tg_cmd_check(int argc, char **argv);  /* check.c */

#endif
