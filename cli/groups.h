/* `sluice groups` (cli/groups.c). */
#ifndef SL_CLI_GROUPS_H
#define SL_CLI_GROUPS_H

/* 1 when the command is "groups". */
int sl_cli_groups_wanted(int argc, char **argv);
/* Runs it; returns the exit status (0, 1 failure, 2 usage). */
int sl_cli_groups_main(int argc, char **argv);

#endif
