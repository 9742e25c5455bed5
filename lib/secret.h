/*
 * Passwords and shared secrets. They come from an environment variable or
 * a file, never from the command line (where `ps` shows them), and are
 * never logged. The caller owns the returned string and should release it
 * with sl_secret_free(), which wipes it first.
 */
#ifndef SL_SECRET_H
#define SL_SECRET_H

/* Loads a secret: from the file at path when path is not NULL (its first
 * line, without the trailing newline), else from the environment variable
 * env_name when set, else *out = NULL and 0 (no secret configured).
 * A file that cannot be read is SL_ECONFIG, with errbuf saying why (the
 * message names the file, never the content). */
int sl_secret_load(const char *path, const char *env_name, char **out,
                   char *errbuf, unsigned errlen);

void sl_secret_free(char *secret);

#endif
