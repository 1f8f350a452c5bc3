// The offline mode, like `suricata -r`: the switch's inspection (fragment and stream
// reassembly, flows, the IDS) over a capture file, writing the same EVE JSON lines. This is how
// rules are tried before they are deployed: `bulwark net inspect --rules R --pcap P [--eve OUT]`.
//
// A capture is untrusted input (it may hold an attacker's traffic): the pcap reader and the
// frame decoder have limits and fuzz targets, a record that does not decode is counted and
// skipped, and a malformed file ends the run with an error naming the record.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/json.h"
#include "base/result.h"

namespace bulwark::ids {
class Engine;
}

namespace bulwark::net {

struct OfflineStats {
    uint64_t records = 0;
    uint64_t bytes = 0; // captured bytes of every record
    uint64_t undecodable = 0;
    uint64_t not_ip = 0;
    uint64_t fragments_held = 0;
    // Fragmented datagrams dropped by reassembly and so never inspected (as the switch drops
    // them): overlaps, timeouts, limits. fragment_overlaps counts those whose overlapping
    // fragments carried different bytes, the classic evasion; the CLI warns about both.
    uint64_t datagrams_dropped = 0;
    uint64_t fragment_overlaps = 0;
    uint64_t alerts = 0;
    uint64_t drops = 0; // packets a drop/reject rule would have stopped
    uint64_t flows = 0;
    double seconds = 0; // wall time of the run
    Json to_json() const;
};

// Runs the engine over the pcap read from pcap_fd; each EVE line goes to `eve`.
Result<OfflineStats> inspect_capture(
    int pcap_fd, std::shared_ptr<ids::Engine> engine, const std::function<void(const std::string&)>& eve);

} // namespace bulwark::net
