/*
 * Passwords and shared secrets. They come from an environment variable or
 * a file, never from the command line (where `ps` shows them), and are
 * never logged. The caller owns the returned string and should release it
 * with sl_secret_free(), which wipes it first.
 */
#ifndef SL_SECRET_H
#define SL_SECRET_H

/* Longest secret the broker protocol's auth line can carry (the line
 * before auth is at most 1024 bytes: SL_PROTO_MAX_LINE_PREAUTH). */
#define SL_SECRET_MAX_TOKEN 512

/* Loads a secret: from the file at path when path is not NULL (its first
 * line, without the trailing newline), else from the environment variable
 * env_name when set, else *out = NULL and 0 (no secret configured).
 * A file that cannot be read is SL_ECONFIG, with errbuf saying why (the
 * message names the file, never the content).
 * Once a secret is loaded the process is made non-dumpable
 * (PR_SET_DUMPABLE 0: no core dumps, no ptrace or /proc/PID/mem by
 * others), and a secret taken from the environment is removed from it
 * (unsetenv), so child processes do not inherit it. */
int sl_secret_load(const char *path, const char *env_name, char **out,
                   char *errbuf, unsigned errlen);

/* Checks that a secret can be sent as the SECRET token of the broker
 * protocol's `auth` line: 1..SL_SECRET_MAX_TOKEN bytes of printable ASCII
 * (0x21-0x7E). Otherwise SL_ECONFIG, errbuf naming `what` (e.g. "the
 * broker secret") and the offending byte's kind and position, never the
 * secret. */
int sl_secret_check_token(const char *secret, const char *what, char *errbuf,
                          unsigned errlen);

void sl_secret_free(char *secret);

#endif
