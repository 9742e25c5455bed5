/* The test runner's main(); see sl_test.h. The support it uses is in
 * tests/harness/sl_test.c. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one test: 0 passed, 1 failed, 2 skipped. setjmp lives here so that
 * no local of the caller can be clobbered by the longjmp. */
static int run_one(const test_t *test) {
    sl_test_skipped = 0;
    sl_test_fail_msg[0] = '\0';
    sl_test_running = 1;
    if (setjmp(sl_test_jmp) == 0) {
        test->fn();
        sl_test_running = 0;
        return 0;
    }
    sl_test_running = 0;
    return sl_test_skipped ? 2 : 1;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, nskipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sl_test_count; i++) {
        const test_t *test = &sl_test_list[i];
        if (filter != NULL && strstr(test->name, filter) == NULL)
            continue;
        int result = run_one(test);
        if (result == 0) {
            printf("PASS %s\n", test->name);
            passed++;
        } else if (result == 2) {
            printf("SKIP %s: %s\n", test->name, sl_test_fail_msg);
            nskipped++;
        } else {
            printf("FAIL %s: %s\n", test->name, sl_test_fail_msg);
            failed++;
        }
        if (sl_test_tmp[0] != '\0') {
            sl_test_rm_rf(sl_test_tmp);
            sl_test_tmp[0] = '\0';
        }
    }
    const char *prog = strrchr(argv[0], '/');
    printf("%s: %d passed, %d failed, %d skipped\n", prog ? prog + 1 : argv[0],
           passed, failed, nskipped);
    free(sl_test_list);
    return failed ? 1 : 0;
}
