/*
 * sluice-capture: captures row changes from a live MySQL/MariaDB server and
 * publishes them to the broker (capture/service.c, docs/capture.md). With
 * --from-file it decodes binlog files to stdout instead (capture/offline.c,
 * docs/decoder.md); with --from-file and --broker it replays them into the
 * broker (capture/replay.c, docs/replay.md). --help describes each mode.
 */
#include "offline.h"
#include "replay.h"
#include "service.h"
#include "snapshot/signal.h"

int main(int argc, char **argv) {
    if (sl_snap_signal_wanted(argc, argv))
        return sl_snap_signal_main(argc, argv);
    if (sl_capture_replay_wanted(argc, argv)) /* --from-file + --broker */
        return sl_capture_replay_main(argc, argv);
    if (sl_capture_offline_wanted(argc, argv))
        return sl_capture_offline_main(argc, argv);
    return sl_capture_service_main(argc, argv);
}
