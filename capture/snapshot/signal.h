/*
 * `sluice-capture snapshot DB.TABLE... [--where COND]`: asks a running
 * capture for ad-hoc snapshots through the signal table (signal.c).
 */
#ifndef SL_CAPTURE_SNAPSHOT_SIGNAL_H
#define SL_CAPTURE_SNAPSHOT_SIGNAL_H

/* Whether argv asks for this command (argv[1] is "snapshot"). */
int sl_snap_signal_wanted(int argc, char **argv);
/* Runs it: 0 when the request is written, 1 on failure, 2 on bad usage. */
int sl_snap_signal_main(int argc, char **argv);

#endif
