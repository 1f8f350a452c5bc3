#include "net/defrag.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/endian.h"

namespace bulwark::net {

namespace {

constexpr size_t k_ipv6_header = 40;

void store_be16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

uint16_t ipv4_checksum(const uint8_t* header, size_t length)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < length; i += 2)
        sum += load_be16(header + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xbf58476d1ce4e5b9ULL;
}

} // namespace

// One datagram being reassembled. The fragmentable part is kept in one buffer grown to the
// highest fragment end seen, with the ranges received kept sorted and merged.
struct Defragmenter::Datagram {
    std::list<Key>::iterator age;
    uint64_t first_ns = 0;
    size_t fragments = 0;
    std::vector<uint8_t> data;
    std::vector<std::pair<uint32_t, uint32_t>> have; // [begin, end), sorted, disjoint, not adjacent
    std::optional<uint32_t> end; // known once the last fragment arrived
    // From the first fragment (offset 0): the Ethernet header and the IP header (IPv6: the
    // unfragmentable part), which the reassembled frame starts with.
    std::vector<uint8_t> head;
    size_t eth_length = 0;
    bool v6 = false;
    uint8_t next_header = 0;
    size_t nh_offset = 0; // IPv6: offset in the IP header of the byte naming the fragment header

    bool complete() const { return end && have.size() == 1 && have[0].first == 0 && have[0].second == *end && !head.empty(); }
};

size_t Defragmenter::KeyHash::operator()(const Key& key) const
{
    uint64_t h = key.src.v6 ? 0x6 : 0x4;
    for (size_t i = 0; i < 16; i += 8) {
        uint64_t a = 0;
        uint64_t b = 0;
        std::memcpy(&a, &key.src.bytes[i], 8);
        std::memcpy(&b, &key.dst.bytes[i], 8);
        h = mix(mix(h, a), b);
    }
    h = mix(h, (uint64_t(key.id) << 8) | key.proto);
    return static_cast<size_t>(h ^ (h >> 29));
}

Defragmenter::Defragmenter(const DefragLimits& limits)
    : m_limits(limits)
{
}

Defragmenter::~Defragmenter() = default;

void Defragmenter::drop(Table::iterator it, uint64_t& counter)
{
    ++counter;
    m_buffered_bytes -= it->second->data.size();
    m_age.erase(it->second->age);
    m_table.erase(it);
}

void Defragmenter::expire(uint64_t now_ns)
{
    while (!m_age.empty()) {
        auto it = m_table.find(m_age.front());
        const Datagram& d = *it->second;
        if (now_ns < d.first_ns || now_ns - d.first_ns < m_limits.timeout_ns)
            break;
        drop(it, m_counters.timed_out);
    }
}

DefragOutput Defragmenter::feed(const Packet& packet, uint64_t now_ns)
{
    if (!packet.is_ip() || !packet.is_fragment)
        return {};
    ++m_counters.fragments;
    expire(now_ns);

    bool v6 = packet.l3 == L3::Ipv6;
    Key key { packet.ip_src, packet.ip_dst, v6 ? packet.ip6_frag_id : packet.ip_id, packet.frag_next_header };
    auto it = m_table.find(key);
    if (it == m_table.end()) {
        while (m_table.size() >= m_limits.max_datagrams && !m_age.empty())
            drop(m_table.find(m_age.front()), m_counters.evicted);
        if (m_limits.max_datagrams == 0) {
            ++m_counters.evicted;
            return { DefragStatus::Dropped, {} };
        }
        auto datagram = std::make_unique<Datagram>();
        datagram->first_ns = now_ns;
        datagram->v6 = v6;
        datagram->age = m_age.insert(m_age.end(), key);
        it = m_table.emplace(key, std::move(datagram)).first;
    }
    Datagram& d = *it->second;

    auto bytes = packet.frag_data;
    size_t begin = packet.frag_offset;
    size_t end = begin + bytes.size();
    // The header bytes that will precede the payload: IPv4's header, or IPv6's unfragmentable
    // extension headers (the payload length counts them, not the fixed 40 bytes).
    size_t header_cost = v6 ? packet.ip6_unfragmentable_len - k_ipv6_header : packet.ip_header.size();

    if (++d.fragments > m_limits.max_fragments) {
        drop(it, m_counters.too_many_fragments);
        return { DefragStatus::Dropped, {} };
    }
    if (header_cost + end > m_limits.max_size) {
        drop(it, m_counters.too_big);
        return { DefragStatus::Dropped, {} };
    }
    // RFC 791 and RFC 8200 both require every fragment but the last to carry a multiple of 8
    // bytes; an empty fragment carries nothing and is only noise.
    if (bytes.empty() || (packet.more_fragments && bytes.size() % 8 != 0)) {
        drop(it, m_counters.inconsistent);
        return { DefragStatus::Dropped, {} };
    }
    if (!packet.more_fragments) {
        if ((d.end && *d.end != end) || (!d.have.empty() && d.have.back().second > end)) {
            drop(it, m_counters.inconsistent);
            return { DefragStatus::Dropped, {} };
        }
        d.end = static_cast<uint32_t>(end);
    } else if (d.end && end > *d.end) {
        drop(it, m_counters.inconsistent);
        return { DefragStatus::Dropped, {} };
    }

    // Bytes already held must match: first-seen wins, and a difference is an evasion attempt.
    for (const auto& [have_begin, have_end] : d.have) {
        size_t lo = std::max<size_t>(have_begin, begin);
        size_t hi = std::min<size_t>(have_end, end);
        if (lo < hi && std::memcmp(&d.data[lo], &bytes[lo - begin], hi - lo) != 0) {
            drop(it, m_counters.evasion_overlaps);
            return { DefragStatus::Dropped, {} };
        }
    }

    if (end > d.data.size()) {
        size_t growth = end - d.data.size();
        // Make room in the global byte budget by dropping the oldest other datagrams.
        while (m_buffered_bytes + growth > m_limits.max_buffered_bytes && m_age.front() != key)
            drop(m_table.find(m_age.front()), m_counters.evicted);
        if (m_buffered_bytes + growth > m_limits.max_buffered_bytes) {
            drop(it, m_counters.evicted);
            return { DefragStatus::Dropped, {} };
        }
        d.data.resize(end);
        m_buffered_bytes += growth;
    }
    std::memcpy(&d.data[begin], bytes.data(), bytes.size());

    // Merge [begin, end) into the sorted ranges.
    auto pos = std::lower_bound(d.have.begin(), d.have.end(), std::pair<uint32_t, uint32_t>(uint32_t(begin), 0));
    pos = d.have.insert(pos, { uint32_t(begin), uint32_t(end) });
    if (pos != d.have.begin() && std::prev(pos)->second >= pos->first) {
        --pos;
        pos->second = std::max(pos->second, std::next(pos)->second);
        d.have.erase(std::next(pos));
    }
    while (std::next(pos) != d.have.end() && std::next(pos)->first <= pos->second) {
        pos->second = std::max(pos->second, std::next(pos)->second);
        d.have.erase(std::next(pos));
    }

    if (begin == 0 && d.head.empty()) {
        auto eth_length = static_cast<size_t>(packet.ip_header.data() - packet.frame.data());
        size_t ip_length = v6 ? packet.ip6_unfragmentable_len : packet.ip_header.size();
        d.head.assign(packet.frame.begin(), packet.frame.begin() + static_cast<ptrdiff_t>(eth_length + ip_length));
        d.eth_length = eth_length;
        d.next_header = packet.frag_next_header;
        d.nh_offset = packet.ip6_frag_nh_offset;
    }

    if (!d.complete())
        return { DefragStatus::Buffered, {} };
    return finish(it);
}

DefragOutput Defragmenter::finish(Table::iterator it)
{
    Datagram& d = *it->second;
    size_t ip_header = d.head.size() - d.eth_length;
    size_t length_field = d.v6 ? ip_header - k_ipv6_header + d.data.size() : ip_header + d.data.size();
    if (length_field > m_limits.max_size || length_field > 0xffff) {
        drop(it, m_counters.too_big);
        return { DefragStatus::Dropped, {} };
    }
    DefragOutput out;
    out.status = DefragStatus::Complete;
    out.frame.reserve(d.head.size() + d.data.size());
    out.frame = d.head;
    out.frame.insert(out.frame.end(), d.data.begin(), d.data.end());
    uint8_t* ip = out.frame.data() + d.eth_length;
    if (d.v6) {
        store_be16(ip + 4, static_cast<uint16_t>(length_field));
        ip[d.nh_offset] = d.next_header;
    } else {
        store_be16(ip + 2, static_cast<uint16_t>(length_field));
        // Keep only Don't Fragment; More Fragments and the offset go.
        store_be16(ip + 6, static_cast<uint16_t>(load_be16(ip + 6) & 0x4000));
        store_be16(ip + 10, 0);
        store_be16(ip + 10, ipv4_checksum(ip, ip_header));
    }
    ++m_counters.reassembled;
    m_buffered_bytes -= d.data.size();
    m_age.erase(d.age);
    m_table.erase(it);
    return out;
}

} // namespace bulwark::net
