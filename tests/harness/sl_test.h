/*
 * A minimal unit-test framework. Each test is a function registered at
 * load time by SL_TEST(name); tests/harness/testmain.c runs every test (or
 * those whose name contains argv[1]) and prints one line per test:
 *
 *   PASS crc32c_rfc3720
 *   FAIL json_escape: tests/unit/test_json.c:42: expected "a" got "b"
 *
 * then the closing line "PROGRAM: N passed, N failed, N skipped". A failed
 * check stops its test (the rest of that test would only report knock-on
 * failures).
 */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*sl_test_fn)(void);

void sl_test_register(const char *name, sl_test_fn fn);
void sl_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* A private temporary directory for the current test, removed after it. */
const char *sl_test_tmpdir(void);
/* The directory of ../shared/fixtures/binlogs, or NULL when absent (the
 * test then calls SL_SKIP). */
const char *sl_test_fixtures(void);
void sl_test_skip(const char *why) __attribute__((noreturn));

/* The runner's state, shared between sl_test.c and testmain.c. */
typedef struct {
    const char *name;
    sl_test_fn fn;
} test_t;
extern test_t *sl_test_list;
extern size_t sl_test_count;
extern jmp_buf sl_test_jmp;
extern int sl_test_running;
extern char sl_test_fail_msg[2048];
extern int sl_test_skipped;
extern char sl_test_tmp[512];
/* Removes a directory tree (the per-test temporary directory). */
void sl_test_rm_rf(const char *path);

#define SL_TEST(name)                                                          \
    static void sl_test_##name(void);                                          \
    __attribute__((constructor)) static void sl_test_reg_##name(void) {        \
        sl_test_register(#name, sl_test_##name);                               \
    }                                                                          \
    static void sl_test_##name(void)

#define SL_SKIP(why) sl_test_skip(why)

#define SL_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond))                                                           \
            sl_test_fail(__FILE__, __LINE__, "check failed: %s", #cond);       \
    } while (0)

#define SL_CHECK_INT(a, b)                                                     \
    do {                                                                       \
        long long sl_a_ = (long long)(a), sl_b_ = (long long)(b);              \
        if (sl_a_ != sl_b_)                                                    \
            sl_test_fail(__FILE__, __LINE__,                                   \
                         "%s == %lld, expected %s == %lld", #a, sl_a_, #b,     \
                         sl_b_);                                               \
    } while (0)

#define SL_CHECK_UINT(a, b)                                                    \
    do {                                                                       \
        unsigned long long sl_a_ = (unsigned long long)(a);                    \
        unsigned long long sl_b_ = (unsigned long long)(b);                    \
        if (sl_a_ != sl_b_)                                                    \
            sl_test_fail(__FILE__, __LINE__,                                   \
                         "%s == %llu (0x%llx), expected %llu (0x%llx)", #a,    \
                         sl_a_, sl_a_, sl_b_, sl_b_);                          \
    } while (0)

#define SL_CHECK_STR(a, b)                                                     \
    do {                                                                       \
        const char *sl_a_ = (a), *sl_b_ = (b);                                 \
        if (sl_a_ == NULL || sl_b_ == NULL || strcmp(sl_a_, sl_b_) != 0)       \
            sl_test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"",  \
                         #a, sl_a_ ? sl_a_ : "(null)",                         \
                         sl_b_ ? sl_b_ : "(null)");                            \
    } while (0)

#define SL_CHECK_MEM(a, alen, b, blen)                                         \
    do {                                                                       \
        size_t sl_al_ = (alen), sl_bl_ = (blen);                               \
        if (sl_al_ != sl_bl_ || memcmp((a), (b), sl_al_) != 0)                 \
            sl_test_fail(__FILE__, __LINE__,                                   \
                         "%s (%zu bytes) differs from %s (%zu bytes)", #a,     \
                         sl_al_, #b, sl_bl_);                                  \
    } while (0)

#define SL_CHECK_OK(expr)                                                      \
    do {                                                                       \
        int sl_e_ = (expr);                                                    \
        if (sl_e_ != 0)                                                        \
            sl_test_fail(__FILE__, __LINE__, "%s returned %d", #expr, sl_e_);  \
    } while (0)

#endif
