/* Writing files durably (lib/file.h). */
#include "error.h"
#include "file.h"
#include "sl_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t read_file(const char *path, char *out, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return (size_t)-1;
    ssize_t n = read(fd, out, cap);
    close(fd);
    return n < 0 ? (size_t)-1 : (size_t)n;
}

SL_TEST(file_write_all_and_pwrite_all) {
    char path[1024], got[64];
    snprintf(path, sizeof path, "%s/w", sl_test_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    SL_CHECK(fd >= 0);
    SL_CHECK_OK(sl_file_write_all(fd, "hello world", 11));
    SL_CHECK_OK(sl_file_pwrite_all(fd, "W", 1, 6));
    /* The pwrite leaves the file position where the write left it. */
    SL_CHECK_OK(sl_file_write_all(fd, "!", 1));
    close(fd);
    SL_CHECK_MEM(got, read_file(path, got, sizeof got), "hello World!", 12);
}

SL_TEST(file_replace_is_whole_and_leaves_no_temporary) {
    char path[1024], tmp[1100], got[64];
    snprintf(path, sizeof path, "%s/r", sl_test_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sl_file_step_t step = SL_FILE_STEP_FSYNC;
    SL_CHECK_OK(sl_file_replace(path, tmp, "first", 5, 1, &step));
    SL_CHECK_INT(step, SL_FILE_STEP_NONE);
    SL_CHECK_OK(sl_file_replace(path, tmp, "second", 6, 0, NULL));
    SL_CHECK_MEM(got, read_file(path, got, sizeof got), "second", 6);
    struct stat st;
    SL_CHECK(stat(tmp, &st) != 0);
    SL_CHECK_OK(sl_file_fsync_dir(sl_test_tmpdir()));
}

SL_TEST(file_replace_reports_the_failed_step) {
    char path[1024], tmp[1100], got[64];
    snprintf(path, sizeof path, "%s/kept", sl_test_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    SL_CHECK_OK(sl_file_replace(path, tmp, "old", 3, 0, NULL));
    /* A temporary in a directory that does not exist: creating it fails
     * and the old file is untouched. */
    snprintf(tmp, sizeof tmp, "%s/missing/kept.tmp", sl_test_tmpdir());
    sl_file_step_t step = SL_FILE_STEP_NONE;
    SL_CHECK_INT(sl_file_replace(path, tmp, "new", 3, 1, &step), SL_ENOTFOUND);
    SL_CHECK_INT(step, SL_FILE_STEP_CREATE);
    SL_CHECK_MEM(got, read_file(path, got, sizeof got), "old", 3);
    snprintf(tmp, sizeof tmp, "%s/missing", sl_test_tmpdir());
    SL_CHECK_INT(sl_file_fsync_dir(tmp), SL_ENOTFOUND);
}
