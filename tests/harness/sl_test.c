/*
 * Test support shared by the unit and integration test programs and the
 * benchmarks: registration, failure, skipping, temporary directories,
 * fixtures. The runner's main() is in tests/harness/testmain.c, which
 * benchmarks (having their own main) do not link.
 */
#include "sl_test.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

test_t *sl_test_list;
size_t sl_test_count;
jmp_buf sl_test_jmp;
int sl_test_running;
char sl_test_fail_msg[2048];
int sl_test_skipped;
char sl_test_tmp[512];

void sl_test_register(const char *name, sl_test_fn fn) {
    test_t *grown = realloc(sl_test_list, (sl_test_count + 1) * sizeof *grown);
    if (grown == NULL)
        abort();
    sl_test_list = grown;
    sl_test_list[sl_test_count].name = name;
    sl_test_list[sl_test_count].fn = fn;
    sl_test_count++;
}

void sl_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    int n = snprintf(sl_test_fail_msg, sizeof sl_test_fail_msg, "%s:%d: ", file,
                     line);
    va_start(ap, fmt);
    vsnprintf(sl_test_fail_msg + n, sizeof sl_test_fail_msg - (size_t)n, fmt,
              ap);
    va_end(ap);
    if (!sl_test_running) {
        /* Outside a test (a benchmark using the harness): no runner to
         * return to, so say what failed and exit. */
        fprintf(stderr, "%s\n", sl_test_fail_msg);
        exit(1);
    }
    longjmp(sl_test_jmp, 1);
}

void sl_test_skip(const char *why) {
    snprintf(sl_test_fail_msg, sizeof sl_test_fail_msg, "%s", why);
    if (!sl_test_running) {
        fprintf(stderr, "skipped: %s\n", why);
        exit(77);
    }
    sl_test_skipped = 1;
    longjmp(sl_test_jmp, 1);
}

const char *sl_test_tmpdir(void) {
    if (sl_test_tmp[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(sl_test_tmp, sizeof sl_test_tmp, "%s/sluice-unit.XXXXXX",
                 base ? base : "/tmp");
        if (mkdtemp(sl_test_tmp) == NULL)
            sl_test_fail(__FILE__, __LINE__, "mkdtemp failed");
    }
    return sl_test_tmp;
}

const char *sl_test_fixtures(void) {
    static char path[1024];
    const char *env = getenv("SLUICE_FIXTURES");
    snprintf(path, sizeof path, "%s", env ? env : "../shared/fixtures/binlogs");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return path;
}

void sl_test_rm_rf(const char *path) {
    DIR *dir = opendir(path);
    if (dir != NULL) {
        struct dirent *ent;
        while ((ent = readdir(dir)) != NULL) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, ent->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                sl_test_rm_rf(child);
            else
                unlink(child);
        }
        closedir(dir);
    }
    rmdir(path);
}
