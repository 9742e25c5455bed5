/* apply's snapshot windows (apply/snapwin.h): a snapshot_start repeated
 * for the window it opened (capture's early start, then a one-shot copy's
 * own start at its view's position) changes nothing, so the sinks' record
 * of it and its tolerance stay as they were; a start of another snapshot
 * takes the window over, and a done of the older one leaves it open. */
#include "apply/snapwin.h"
#include "sl_test.h"

SL_TEST(apply_snapwin_repeated_start_is_idempotent) {
    sl_snapwin_t w = SL_SNAPWIN_INIT;
    SL_CHECK_OK(sl_snapwin_reset(&w));
    SL_CHECK_INT(sl_snapwin_event(&w, "p", 1, 1, "d", "t", "s1"), 0);
    SL_CHECK_INT(sl_snapwin_open(&w, "d", "t"), 1);
    SL_CHECK_OK(sl_snapwin_stage(&w));
    sl_snapwin_committed(&w);
    SL_CHECK_INT(w.dirty, 0);
    /* The same snapshot's start again: nothing changes, nothing to write. */
    SL_CHECK_INT(sl_snapwin_event(&w, "p", 2, 1, "d", "t", "s1"), 1);
    SL_CHECK_INT(w.dirty, 0);
    SL_CHECK_INT((int)w.nwork, 1);
    SL_CHECK_INT(sl_snapwin_open(&w, "d", "t"), 1);
    /* Another table's start opens its own window. */
    SL_CHECK_INT(sl_snapwin_event(&w, "p", 3, 1, "d", "u", "s1"), 0);
    SL_CHECK_INT((int)w.nwork, 2);
    /* Another snapshot of d.t takes its window over: the older one's done
     * leaves it open, its own done closes it. */
    SL_CHECK_INT(sl_snapwin_event(&w, "p", 4, 1, "d", "t", "s2"), 0);
    SL_CHECK_INT(sl_snapwin_event(&w, "p", 5, 0, "d", "t", "s1"), 0);
    SL_CHECK_INT(sl_snapwin_open(&w, "d", "t"), 1);
    SL_CHECK_INT(sl_snapwin_event(&w, "p", 6, 0, "d", "t", "s2"), 0);
    SL_CHECK_INT(sl_snapwin_open(&w, "d", "t"), 0);
    SL_CHECK_INT(sl_snapwin_open(&w, "d", "u"), 1);
    /* A rolled-back group returns to the committed list. */
    SL_CHECK_OK(sl_snapwin_reset(&w));
    SL_CHECK_INT(sl_snapwin_open(&w, "d", "t"), 1);
    SL_CHECK_INT(sl_snapwin_open(&w, "d", "u"), 0);
    sl_snapwin_free(&w);
}
