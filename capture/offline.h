/*
 * sluice-capture's offline mode: `sluice-capture --from-file FILE...
 * [--start-position N] [--stop-position N]` decodes binlog files and writes
 * one JSON object per line to stdout (the format is docs/change-events.md);
 * see docs/decoder.md.
 */
#ifndef SL_CAPTURE_OFFLINE_H
#define SL_CAPTURE_OFFLINE_H

/* 1 when the command line asks for the offline mode (--from-file before
 * any "--"), else 0: the live service runs instead. */
int sl_capture_offline_wanted(int argc, char **argv);

/* Runs the offline mode. Returns the process exit status: 0 when every
 * file decoded completely, 1 with the error on stderr otherwise, 2 on bad
 * usage. */
int sl_capture_offline_main(int argc, char **argv);

#endif
