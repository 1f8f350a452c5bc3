#include "net/tcp_stream.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "net/packet.h"

namespace bulwark::net {

TcpStream::TcpStream(const TcpStreamLimits& limits, TcpBudget* budget)
    : m_limits(limits)
    , m_budget(budget)
{
}

TcpStream::~TcpStream()
{
    release(m_buffered_bytes);
}

TcpStream::TcpStream(TcpStream&& other) noexcept
    : m_limits(other.m_limits)
    , m_budget(std::exchange(other.m_budget, nullptr))
    , m_counters(other.m_counters)
    , m_started(other.m_started)
    , m_fin_seen(other.m_fin_seen)
    , m_next_seq(other.m_next_seq)
    , m_next(other.m_next)
    , m_pending(std::move(other.m_pending))
    , m_buffered_bytes(std::exchange(other.m_buffered_bytes, 0))
    , m_history(std::move(other.m_history))
    , m_chunk(std::move(other.m_chunk))
{
    other.m_pending.clear();
}

TcpStream& TcpStream::operator=(TcpStream&& other) noexcept
{
    if (this != &other) {
        release(m_buffered_bytes);
        m_limits = other.m_limits;
        m_budget = std::exchange(other.m_budget, nullptr);
        m_counters = other.m_counters;
        m_started = other.m_started;
        m_fin_seen = other.m_fin_seen;
        m_next_seq = other.m_next_seq;
        m_next = other.m_next;
        m_pending = std::move(other.m_pending);
        other.m_pending.clear();
        m_buffered_bytes = std::exchange(other.m_buffered_bytes, 0);
        m_history = std::move(other.m_history);
        m_chunk = std::move(other.m_chunk);
    }
    return *this;
}

void TcpStream::release(size_t bytes)
{
    m_buffered_bytes -= bytes;
    if (m_budget)
        m_budget->used -= std::min(bytes, m_budget->used);
}

void TcpStream::skip_gap(uint64_t to)
{
    ++m_counters.gaps;
    m_counters.gap_bytes += to - m_next;
    m_next_seq += static_cast<uint32_t>(to - m_next);
    m_next = to;
    m_history.clear();
}

bool TcpStream::hold(uint64_t offset, std::span<const uint8_t> bytes, bool must_fit)
{
    struct Piece {
        uint64_t offset;
        std::span<const uint8_t> bytes;
    };
    std::vector<Piece> pieces;
    uint64_t conflicts = 0;
    uint64_t conflict_bytes = 0;
    uint64_t same_bytes = 0;
    uint64_t end = offset + bytes.size();
    uint64_t pos = offset;

    auto it = m_pending.upper_bound(offset);
    if (it != m_pending.begin() && std::prev(it)->first + std::prev(it)->second.size() > offset)
        --it;
    for (; it != m_pending.end() && it->first < end; ++it) {
        uint64_t held_begin = it->first;
        uint64_t held_end = held_begin + it->second.size();
        if (held_begin > pos)
            pieces.push_back({ pos, bytes.subspan(pos - offset, held_begin - pos) });
        uint64_t lo = std::max(held_begin, pos);
        uint64_t hi = std::min(held_end, end);
        if (lo < hi) {
            if (std::memcmp(&it->second[lo - held_begin], &bytes[lo - offset], hi - lo) != 0) {
                ++conflicts;
                conflict_bytes += hi - lo;
            } else {
                same_bytes += hi - lo;
            }
        }
        pos = std::max(pos, held_end);
    }
    if (pos < end)
        pieces.push_back({ pos, bytes.subspan(pos - offset) });

    size_t new_bytes = 0;
    for (const auto& piece : pieces)
        new_bytes += piece.bytes.size();
    if (!must_fit) {
        bool fits = m_buffered_bytes + new_bytes <= m_limits.max_buffered_bytes
            && m_pending.size() + pieces.size() <= m_limits.max_segments
            && (!m_budget || m_budget->used + new_bytes <= m_budget->max_bytes);
        if (!fits)
            return false;
    }
    for (const auto& piece : pieces)
        m_pending.emplace(piece.offset, std::vector<uint8_t>(piece.bytes.begin(), piece.bytes.end()));
    m_buffered_bytes += new_bytes;
    if (m_budget)
        m_budget->used += new_bytes;
    m_counters.conflicts += conflicts;
    m_counters.conflict_bytes += conflict_bytes;
    m_counters.retransmitted_bytes += same_bytes;
    return true;
}

std::optional<TcpChunk> TcpStream::add(uint32_t seq, uint8_t flags, std::span<const uint8_t> payload)
{
    bool syn = (flags & tcpflag::syn) != 0;
    if (!payload.empty() || syn || (flags & tcpflag::fin))
        ++m_counters.segments;
    if (flags & tcpflag::fin)
        m_fin_seen = true;
    if (!m_started) {
        // A lone RST says nothing about where the stream is.
        if (flags & tcpflag::rst)
            return std::nullopt;
        m_started = true;
        m_next_seq = syn ? seq + 1 : seq;
        m_next = 0;
    }
    if (payload.empty())
        return std::nullopt;

    // Where the payload goes: its distance from the next expected byte, taken as a signed
    // 32-bit number so that sequence numbers wrap around.
    uint32_t data_seq = syn ? seq + 1 : seq;
    auto distance = static_cast<int32_t>(data_seq - m_next_seq);
    std::span<const uint8_t> bytes = payload;
    uint64_t begin;
    if (distance < 0) {
        uint64_t back = uint64_t(-int64_t(distance));
        if (back > m_next) {
            // Bytes from before the stream began are not part of it.
            uint64_t skip = back - m_next;
            if (skip >= bytes.size())
                return std::nullopt;
            bytes = bytes.subspan(skip);
            back = m_next;
        }
        begin = m_next - back;
    } else {
        begin = m_next + uint64_t(distance);
    }

    // Bytes already delivered: compare what the context window still has; they are never
    // delivered again.
    if (begin < m_next) {
        uint64_t old_end = std::min<uint64_t>(begin + bytes.size(), m_next);
        uint64_t history_begin = m_next - m_history.size();
        uint64_t lo = std::max(begin, history_begin);
        if (lo < old_end) {
            if (std::memcmp(&m_history[lo - history_begin], &bytes[lo - begin], old_end - lo) != 0) {
                ++m_counters.conflicts;
                m_counters.conflict_bytes += old_end - lo;
            } else {
                m_counters.retransmitted_bytes += old_end - lo;
            }
        }
        bytes = bytes.subspan(old_end - begin);
        begin = old_end;
    }
    if (bytes.empty())
        return std::nullopt;

    // The common case, in-order data with nothing held: straight to the chunk.
    if (begin == m_next && m_pending.empty()) {
        m_chunk.assign(m_history.begin(), m_history.end());
        m_chunk.insert(m_chunk.end(), bytes.begin(), bytes.end());
        uint64_t stream_offset = m_next - m_history.size();
        m_next += bytes.size();
        m_next_seq += static_cast<uint32_t>(bytes.size());
        return finish_chunk(m_history.size(), stream_offset);
    }

    bool retry = false;
    if (begin == m_next) {
        hold(begin, bytes, true);
    } else if (begin - m_next > m_limits.max_ahead) {
        ++m_counters.dropped_segments;
        return std::nullopt;
    } else if (hold(begin, bytes, false)) {
        ++m_counters.out_of_order;
    } else {
        // No room to hold it: give up on the hole before the earliest data we have.
        uint64_t to = m_pending.empty() ? begin : std::min(begin, m_pending.begin()->first);
        skip_gap(to);
        if (begin == m_next)
            hold(begin, bytes, true);
        else
            retry = true; // the earliest held data is now contiguous: draining it makes room
    }

    // Deliver everything contiguous from m_next.
    m_chunk.assign(m_history.begin(), m_history.end());
    size_t new_offset = m_chunk.size();
    uint64_t stream_offset = m_next - m_history.size();
    for (;;) {
        while (!m_pending.empty() && m_pending.begin()->first == m_next) {
            auto node = m_pending.extract(m_pending.begin());
            const auto& data = node.mapped();
            m_chunk.insert(m_chunk.end(), data.begin(), data.end());
            m_next += data.size();
            m_next_seq += static_cast<uint32_t>(data.size());
            release(data.size());
        }
        if (!retry)
            break;
        retry = false;
        if (begin < m_next) {
            // Part of the segment is now behind m_next: keep only what lies ahead.
            uint64_t skip = std::min<uint64_t>(m_next - begin, bytes.size());
            bytes = bytes.subspan(skip);
            begin += skip;
            if (bytes.empty())
                break;
        }
        if (begin == m_next)
            hold(begin, bytes, true);
        else if (hold(begin, bytes, false))
            ++m_counters.out_of_order;
        else
            ++m_counters.dropped_segments;
    }
    if (m_chunk.size() == new_offset)
        return std::nullopt;
    return finish_chunk(new_offset, stream_offset);
}

TcpChunk TcpStream::finish_chunk(size_t new_offset, uint64_t stream_offset)
{
    m_counters.delivered_bytes += m_chunk.size() - new_offset;
    size_t keep = std::min(m_limits.window, m_chunk.size());
    m_history.assign(m_chunk.end() - static_cast<ptrdiff_t>(keep), m_chunk.end());
    return TcpChunk { m_chunk, new_offset, stream_offset };
}

} // namespace bulwark::net
