/* The test runner shared by the unit and integration test programs; see
 * sl_test.h. */
#include "sl_test.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name;
    sl_test_fn fn;
} test_t;

static test_t *tests;
static size_t ntests;
static jmp_buf test_jmp;
static char fail_msg[2048];
static int skipped;
static char tmpdir[512];

void sl_test_register(const char *name, sl_test_fn fn) {
    test_t *grown = realloc(tests, (ntests + 1) * sizeof *tests);
    if (grown == NULL)
        abort();
    tests = grown;
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void sl_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    int n = snprintf(fail_msg, sizeof fail_msg, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vsnprintf(fail_msg + n, sizeof fail_msg - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(test_jmp, 1);
}

void sl_test_skip(const char *why) {
    snprintf(fail_msg, sizeof fail_msg, "%s", why);
    skipped = 1;
    longjmp(test_jmp, 1);
}

const char *sl_test_tmpdir(void) {
    if (tmpdir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/sluice-unit.XXXXXX",
                 base ? base : "/tmp");
        if (mkdtemp(tmpdir) == NULL)
            sl_test_fail(__FILE__, __LINE__, "mkdtemp failed");
    }
    return tmpdir;
}

const char *sl_test_fixtures(void) {
    static char path[1024];
    const char *env = getenv("SLUICE_FIXTURES");
    snprintf(path, sizeof path, "%s",
             env ? env : "../shared/fixtures/binlogs");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return path;
}

static void rm_rf(const char *path) {
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
                rm_rf(child);
            else
                unlink(child);
        }
        closedir(dir);
    }
    rmdir(path);
}

/* Runs one test: 0 passed, 1 failed, 2 skipped. setjmp lives here so that
 * no local of the caller can be clobbered by the longjmp. */
static int run_one(const test_t *test) {
    skipped = 0;
    fail_msg[0] = '\0';
    if (setjmp(test_jmp) == 0) {
        test->fn();
        return 0;
    }
    return skipped ? 2 : 1;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, nskipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < ntests; i++) {
        if (filter != NULL && strstr(tests[i].name, filter) == NULL)
            continue;
        int result = run_one(&tests[i]);
        if (result == 0) {
            printf("PASS %s\n", tests[i].name);
            passed++;
        } else if (result == 2) {
            printf("SKIP %s: %s\n", tests[i].name, fail_msg);
            nskipped++;
        } else {
            printf("FAIL %s: %s\n", tests[i].name, fail_msg);
            failed++;
        }
        if (tmpdir[0] != '\0') {
            rm_rf(tmpdir);
            tmpdir[0] = '\0';
        }
    }
    const char *prog = strrchr(argv[0], '/');
    printf("%s: %d passed, %d failed, %d skipped\n", prog ? prog + 1 : argv[0],
           passed, failed, nskipped);
    free(tests);
    return failed ? 1 : 0;
}
