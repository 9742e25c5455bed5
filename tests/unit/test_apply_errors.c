/* Unit tests for the target error classification (apply/mysql/sink.h):
 * a target out of space or memory is transient, never a reason to
 * dead-letter an event (issue 12, item 17). The messages are MariaDB
 * 10.11's texts for those errors. */
#include "apply/mysql/sink.h"
#include "sl_test.h"

#include <mysqld_error.h>

SL_TEST(apply_errors_out_of_space_is_transient) {
    SL_CHECK(sl_mysql_error_transient(ER_RECORD_FILE_FULL,
                                      "The table 'items' is full"));
    SL_CHECK(sl_mysql_error_transient(
        ER_DISK_FULL, "Disk full (./t.MYD); waiting for someone to free "
                      "some space... (errno: 28 \"No space left on "
                      "device\")"));
    SL_CHECK(sl_mysql_error_transient(
        3, "Error writing file './binlog.000001' (Errcode: 28 \"No space "
           "left on device\")"));
    SL_CHECK(sl_mysql_error_transient(
        ER_GET_ERRNO, "Got error 28 \"No space left on device\" from "
                      "storage engine InnoDB"));
    SL_CHECK(sl_mysql_error_transient(
        ER_GET_ERRNO, "Got error 122 \"Disk quota exceeded\" from storage "
                      "engine Aria"));
    SL_CHECK(sl_mysql_error_transient(
        ER_ERROR_ON_WRITE, "Error writing file './x' (errno: 122 \"Disk "
                           "quota exceeded\")"));
    SL_CHECK(sl_mysql_error_transient(
        ER_ERROR_DURING_COMMIT, "Got error 28 \"No space left on device\" "
                                "during COMMIT"));
    SL_CHECK(sl_mysql_error_transient(
        ER_CANT_CREATE_TABLE, "Can't create table `m`.`sluice_offsets` "
                              "(errno: 28 \"No space left on device\")"));
    SL_CHECK(sl_mysql_error_transient(
        ER_OUT_OF_RESOURCES, "Out of memory; check if mariadbd or some "
                             "other process uses all available memory"));
    SL_CHECK(sl_mysql_error_transient(ER_OUTOFMEMORY, NULL));
    SL_CHECK(sl_mysql_error_transient(ER_OUT_OF_SORTMEMORY, NULL));
    SL_CHECK(sl_mysql_error_transient(
        ER_NOT_KEYFILE, "Incorrect key file for table '/tmp/#sql_1'; try "
                        "to repair it"));
    SL_CHECK(sl_mysql_error_transient(ER_CRASHED_ON_USAGE, NULL));
    SL_CHECK(sl_mysql_error_transient(
        ER_GET_ERRNO, "Got error 126 \"Index is corrupted\" from storage "
                      "engine Aria"));
    /* The established transient ones stay so. */
    SL_CHECK(sl_mysql_error_transient(ER_LOCK_DEADLOCK, NULL));
    SL_CHECK(sl_mysql_error_transient(2013, "Lost connection"));
}

SL_TEST(apply_errors_event_faults_stay_permanent) {
    /* Errors about the event or the schema are permanent (stop or
     * dead-letter), including the wrapping codes with another errno. */
    SL_CHECK(!sl_mysql_error_transient(1146, "Table 'd.t' doesn't exist"));
    SL_CHECK(!sl_mysql_error_transient(1264, "Out of range value"));
    SL_CHECK(!sl_mysql_error_transient(1062, "Duplicate entry '1'"));
    SL_CHECK(!sl_mysql_error_transient(
        ER_GET_ERRNO, "Got error 1 \"Operation not permitted\" from "
                      "storage engine InnoDB"));
    SL_CHECK(!sl_mysql_error_transient(
        ER_CANT_CREATE_TABLE, "Can't create table `d`.`t` (errno: 150 "
                              "\"Foreign key constraint is incorrectly "
                              "formed\")"));
    SL_CHECK(!sl_mysql_error_transient(ER_GET_ERRNO, NULL));
    SL_CHECK(!sl_mysql_error_transient(ER_GET_ERRNO, "Got error from"));
    /* A file name quoted before the errno cannot pose as it. */
    SL_CHECK(!sl_mysql_error_transient(
        ER_ERROR_ON_WRITE, "Error writing file './errno: 28' (errno: 5 "
                           "\"Input/output error\")"));
}
