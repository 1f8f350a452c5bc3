#include "net/offline.h"

#include <chrono>

#include "net/packet.h"
#include "net/pcap.h"
#include "net/traffic_inspector.h"

namespace bulwark::net {

namespace {

// Fragmented datagrams the defragmenter dropped, for every reason.
uint64_t defrag_drops(const DefragCounters& c)
{
    return c.timed_out + c.evicted + c.evasion_overlaps + c.too_big + c.too_many_fragments + c.inconsistent;
}

} // namespace

Json OfflineStats::to_json() const
{
    return { { "records", records }, { "bytes", bytes }, { "undecodable", undecodable }, { "not_ip", not_ip },
        { "fragments_held", fragments_held }, { "datagrams_dropped", datagrams_dropped },
        { "fragment_overlaps", fragment_overlaps }, { "alerts", alerts }, { "drops", drops }, { "flows", flows },
        { "seconds", seconds }, { "mb_per_second", seconds > 0 ? double(bytes) / 1e6 / seconds : 0.0 } };
}

Result<OfflineStats> inspect_capture(
    int pcap_fd, std::shared_ptr<ids::Engine> engine, const std::function<void(const std::string&)>& eve)
{
    auto started = std::chrono::steady_clock::now();
    auto reader = TRY(PcapReader::from_fd(pcap_fd));
    // Capture timestamps are wall-clock already: no offset, and the flows' timeouts run on
    // the capture's own time.
    TrafficInspectorOptions options;
    options.interface_name = "pcap";
    options.wall_offset_ns = 0;
    TrafficInspector inspector(options);
    inspector.set_engine(std::move(engine));
    inspector.set_eve_sink(eve);
    OfflineStats stats;
    uint64_t now = 0, last_tick = 0;
    for (;;) {
        auto record = TRY(reader.next());
        if (!record)
            break;
        ++stats.records;
        stats.bytes += record->data.size();
        // A capture's clock may step back; flow time never does.
        now = std::max(now, record->ts_ns);
        if (now - last_tick >= 1000000000ull) {
            inspector.tick(now);
            last_tick = now;
        }
        auto decoded = decode_frame(record->data, DecodeOptions { .max_size = k_max_reassembled_frame });
        if (!decoded.packet) {
            ++stats.undecodable;
            continue;
        }
        if (!decoded.packet->is_ip()) {
            ++stats.not_ip;
            continue;
        }
        uint64_t dropped_before = defrag_drops(inspector.defrag_counters());
        Reassembled whole = inspector.reassemble(*decoded.packet, now);
        if (whole.kind == Reassembled::Kind::Held) {
            ++stats.fragments_held;
            continue;
        }
        if (whole.kind == Reassembled::Kind::Dropped) {
            // The defragmenter counts the datagrams it drops; a whole datagram that then does
            // not decode is the offline mode's to count.
            if (defrag_drops(inspector.defrag_counters()) == dropped_before)
                ++stats.undecodable;
            continue;
        }
        Tracked tracked = inspector.track(*whole.packet, now);
        (void)inspector.inspect(*whole.packet, tracked, now, "pcap");
    }
    stats.flows = inspector.flow_counters().created;
    inspector.flush(now);
    stats.datagrams_dropped = defrag_drops(inspector.defrag_counters());
    stats.fragment_overlaps = inspector.defrag_counters().evasion_overlaps;
    stats.alerts = inspector.alerts();
    stats.drops = inspector.drops();
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return stats;
}

} // namespace bulwark::net
