// IPv4 and IPv6 fragment reassembly for the switch and the IDS.
//
// Fragments come from guests that may be compromised, and fragmentation is the classic way
// to hide bytes from an inspector (overlaps that a receiver resolves differently) or to make
// it hold memory (datagrams that never complete). So reassembly is bounded everywhere:
//   - at most max_datagrams datagrams in progress (default 1024) and max_buffered_bytes of
//     their data (default 8 MiB); when either is reached the oldest datagram is dropped to
//     make room (as Linux does): a legitimate datagram completes within milliseconds, so the
//     oldest one is the likeliest to be junk;
//   - a datagram of at most max_size bytes (default 65535: IPv4's total length, IPv6's
//     payload length) and of at most max_fragments fragments (default 64);
//   - a datagram still incomplete timeout_ns (default 30 s) after its first fragment is
//     dropped. There are no clocks inside: the caller passes a monotonic now_ns.
// Overlaps: a fragment that repeats bytes already held with the same values is accepted (a
// retransmission); one whose overlapping bytes differ drops the whole datagram and counts an
// evasion attempt, since two receivers could reassemble it differently.
//
// The output of a completed datagram is an owned, complete and unfragmented Ethernet frame:
// the first fragment's Ethernet header (with its 802.1Q tag), its IP header with the fragment
// fields cleared and the length fixed (IPv4: the checksum recomputed; IPv6: the unfragmentable
// part with the fragment header removed), then the whole payload. Decode it with
// decode_frame(frame, DecodeOptions { .max_size = k_max_reassembled_frame }).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "net/packet.h"

namespace bulwark::net {

struct DefragLimits {
    size_t max_datagrams = 1024;
    size_t max_buffered_bytes = 8 * 1024 * 1024;
    size_t max_size = 65535;
    size_t max_fragments = 64;
    uint64_t timeout_ns = 30ULL * 1000 * 1000 * 1000;
};

// Every fragment fed is counted once in `fragments` and ends up in a datagram that is
// reassembled, or dropped for one of the reasons below.
struct DefragCounters {
    uint64_t fragments = 0; // fragments fed
    uint64_t reassembled = 0; // datagrams completed
    uint64_t timed_out = 0; // datagrams dropped: incomplete after timeout_ns
    uint64_t evicted = 0; // datagrams dropped to make room (max_datagrams / max_buffered_bytes)
    uint64_t evasion_overlaps = 0; // datagrams dropped: overlapping fragments with different bytes
    uint64_t too_big = 0; // datagrams dropped: would exceed max_size
    uint64_t too_many_fragments = 0; // datagrams dropped: over max_fragments
    uint64_t inconsistent = 0; // datagrams dropped: two different ends, data past the end,
                               // a non-final fragment not a multiple of 8 bytes, or empty
};

enum class DefragStatus : uint8_t {
    NotFragment, // the packet was not a fragment: use it as it is
    Buffered, // held, waiting for the rest of its datagram
    Complete, // the datagram is whole: see DefragOutput::frame
    Dropped, // the fragment (and its datagram, if any) was dropped: see the counters
};

struct DefragOutput {
    DefragStatus status = DefragStatus::NotFragment;
    std::vector<uint8_t> frame; // when Complete
};

class Defragmenter {
public:
    explicit Defragmenter(const DefragLimits& limits = {});
    ~Defragmenter();
    Defragmenter(const Defragmenter&) = delete;
    Defragmenter& operator=(const Defragmenter&) = delete;

    // Feeds one decoded packet. Packets that are not IP fragments return NotFragment.
    DefragOutput feed(const Packet& packet, uint64_t now_ns);

    // Drops the datagrams that have been incomplete for timeout_ns; feed() also does this.
    void expire(uint64_t now_ns);

    size_t in_progress() const { return m_table.size(); }
    size_t buffered_bytes() const { return m_buffered_bytes; }
    const DefragCounters& counters() const { return m_counters; }
    const DefragLimits& limits() const { return m_limits; }

    struct Key {
        IpAddr src;
        IpAddr dst;
        uint32_t id = 0;
        uint8_t proto = 0;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        size_t operator()(const Key& key) const;
    };

private:
    struct Datagram;
    using Table = std::unordered_map<Key, std::unique_ptr<Datagram>, KeyHash>;

    void drop(Table::iterator it, uint64_t& counter);
    DefragOutput finish(Table::iterator it);

    DefragLimits m_limits;
    DefragCounters m_counters;
    Table m_table;
    std::list<Key> m_age; // oldest first
    size_t m_buffered_bytes = 0;
};

} // namespace bulwark::net
