// TCP stream reassembly for one direction of one connection, for the IDS: it turns segments
// (possibly out of order, retransmitted or overlapping) into the byte stream the receiver
// sees, so that content split across segments can be matched.
//
// Policies and limits:
//   - The next expected sequence number comes from the SYN (ISN + 1), or, when the stream is
//     picked up mid-way (the flow was already open when tracking started), from the first
//     segment seen. Sequence numbers wrap: positions are kept as 64-bit stream offsets, and a
//     segment's place is its 32-bit distance from the next expected byte.
//   - Out-of-order segments are held, up to max_buffered_bytes (default 64 KiB) and
//     max_segments (default 32) per direction, and only if they start less than max_ahead
//     (default 16 MiB) past the next expected byte. Optionally a TcpBudget shared by many
//     streams caps the bytes all of them hold together.
//   - When a segment cannot be held because the limits are reached, the stream gives up on the
//     hole: it skips to the earliest data it has and goes on from there (counted in
//     gaps/gap_bytes), so that a lost segment does not blind the IDS for the rest of the
//     connection. The context window is cleared at a gap, since the bytes are not contiguous.
//   - Overlaps: the first bytes seen for a position win (what is held or already delivered is
//     never replaced). Overlapping bytes that differ are counted as conflicts: two receivers
//     could see different streams, a known evasion technique. Already-delivered bytes can be
//     compared only within the context window kept.
// Each call that makes bytes contiguous delivers one TcpChunk: the last `window` bytes already
// delivered (context) followed by all the newly contiguous bytes. A matcher scans the whole
// chunk and reports only matches that end at or after new_offset, so a pattern split across
// segments is found once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace bulwark::net {

struct TcpStreamLimits {
    size_t max_buffered_bytes = 64 * 1024;
    size_t max_segments = 32;
    size_t window = 2048; // context bytes repeated at the front of each chunk
    size_t max_ahead = 16 << 20; // out-of-order data further ahead than this is dropped
};

// A byte budget shared by several streams (e.g. all those of a flow table), so that many
// connections together cannot hold more than max_bytes of out-of-order data.
struct TcpBudget {
    size_t max_bytes = 0;
    size_t used = 0;
};

struct TcpStreamCounters {
    uint64_t segments = 0; // segments with payload (or SYN/FIN) fed
    uint64_t delivered_bytes = 0; // new bytes handed out in chunks
    uint64_t retransmitted_bytes = 0; // bytes seen again with the same content
    uint64_t conflicts = 0; // overlaps whose bytes differed (first seen kept)
    uint64_t conflict_bytes = 0;
    uint64_t out_of_order = 0; // segments held for later
    uint64_t dropped_segments = 0; // too far ahead, or not held because of the limits
    uint64_t gaps = 0; // holes skipped
    uint64_t gap_bytes = 0;
};

struct TcpChunk {
    std::span<const uint8_t> data; // context (already delivered) bytes, then the new bytes
    size_t new_offset = 0; // index in data where the new bytes start
    uint64_t stream_offset = 0; // stream offset of data[0]; the first data byte is offset 0
};

class TcpStream {
public:
    explicit TcpStream(const TcpStreamLimits& limits = {}, TcpBudget* budget = nullptr);
    ~TcpStream();
    TcpStream(TcpStream&& other) noexcept;
    TcpStream& operator=(TcpStream&& other) noexcept;
    TcpStream(const TcpStream&) = delete;
    TcpStream& operator=(const TcpStream&) = delete;

    // Feeds one segment of this direction: its sequence number, TCP flags and payload. Returns
    // the chunk made contiguous by it, if any; the chunk's bytes stay valid until the next call.
    std::optional<TcpChunk> add(uint32_t seq, uint8_t flags, std::span<const uint8_t> payload);

    bool started() const { return m_started; }
    bool fin_seen() const { return m_fin_seen; }
    uint64_t next_offset() const { return m_next; } // stream offset of the next expected byte
    uint32_t next_seq() const { return m_next_seq; }
    size_t buffered_bytes() const { return m_buffered_bytes; }
    size_t buffered_segments() const { return m_pending.size(); }
    const TcpStreamCounters& counters() const { return m_counters; }

private:
    // Records [offset, offset + bytes) in the pending map, keeping first-seen bytes.
    // Returns false when the limits would be exceeded (nothing is stored then).
    bool hold(uint64_t offset, std::span<const uint8_t> bytes, bool must_fit);
    void release(size_t bytes);
    void skip_gap(uint64_t to);
    // Counts the new bytes in m_chunk, keeps its tail as context and returns it as a chunk.
    TcpChunk finish_chunk(size_t new_offset, uint64_t stream_offset);

    TcpStreamLimits m_limits;
    TcpBudget* m_budget = nullptr;
    TcpStreamCounters m_counters;
    bool m_started = false;
    bool m_fin_seen = false;
    uint32_t m_next_seq = 0; // sequence number of stream offset m_next
    uint64_t m_next = 0;
    std::map<uint64_t, std::vector<uint8_t>> m_pending; // disjoint, all starting after m_next
    size_t m_buffered_bytes = 0;
    std::vector<uint8_t> m_history; // the last `window` delivered bytes
    std::vector<uint8_t> m_chunk; // backs the returned TcpChunk
};

} // namespace bulwark::net
