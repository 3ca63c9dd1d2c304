/* commands.h -- the entry point of each tollgate subcommand, listed in main.c's table.
 *
 * Each takes the arguments after the subcommand name (argv[0] is the subcommand) and returns
 * the process exit code: 0 ok, 1 a negative verdict, 2 usage or input errors.
 */
#ifndef TG_COMMANDS_H
#define TG_COMMANDS_H

int tg_cmd_serve(int argc, char **argv);     /* serve.c */
int tg_cmd_check(int argc, char **argv);     /* check.c */
int tg_cmd_eval(int argc, char **argv);      /* eval_cmd.c */
int tg_cmd_report(int argc, char **argv);    /* report_cmd.c */
int tg_cmd_replay(int argc, char **argv);    /* replay_cmd.c */
int tg_cmd_retrigger(int argc, char **argv); /* ops_cmd.c */
int tg_cmd_dead(int argc, char **argv);      /* ops_cmd.c */
int tg_cmd_audit(int argc, char **argv);     /* audit_cmd.c */
int tg_cmd_forward(int argc, char **argv);   /* forward_cmd.c */

#endif
