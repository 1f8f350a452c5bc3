// Fuzzes the packet layer (src/net) the way the switch and the IDS use it: a sequence of
// frames is decoded, fragments are reassembled, packets are tracked as flows and TCP payloads
// are fed to the flows' stream reassemblers, with time moving forward so that timeouts fire.
// Small limits make the tables fill and evict. The whole input is also run through the QEMU
// stream framing decoder in small chunks.
//
// Input layout: records of [length: u16 big-endian][time step: u8][length bytes of frame];
// each time step advances the clock by step * 0.5 s. A record cut short by the end of the
// input uses what is there.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "net/defrag.h"
#include "net/flow.h"
#include "net/packet.h"
#include "net/stream_framing.h"

using namespace bulwark::net;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static bool within(std::span<const uint8_t> inner, std::span<const uint8_t> outer)
{
    if (inner.empty())
        return true;
    return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

static void check_packet(const Packet& p, std::span<const uint8_t> frame)
{
    check(p.frame.data() == frame.data() && p.frame.size() == frame.size());
    check(within(p.ip_header, frame));
    check(within(p.ip_payload, frame));
    check(within(p.payload, frame));
    check(within(p.frag_data, frame));
    if (p.is_ip()) {
        check(p.ip_header.data() + p.ip_header.size() == p.ip_payload.data() || p.ip_payload.empty());
        check(within(p.payload, p.ip_payload));
        check(p.ip_src.v6 == (p.l3 == L3::Ipv6));
        check(p.is_fragment == (p.more_fragments || p.frag_offset != 0));
        if (p.is_fragment && p.frag_offset != 0)
            check(p.l4 == L4::None && p.src_port == 0 && p.dst_port == 0);
        if (p.l3 == L3::Ipv4)
            check(p.ip_header.size() >= 20 && p.ip_header.size() <= 60);
        else
            check(p.ip_header.size() >= 40);
    } else {
        check(p.l4 == L4::None);
    }
    if (p.l4 == L4::Icmp || p.l4 == L4::Icmpv6)
        check(p.src_port == p.dst_port);
}

static void check_stream(
    const TcpStream& stream, const std::optional<TcpChunk>& chunk, uint64_t before, const TcpStreamLimits& limits)
{
    check(stream.buffered_bytes() <= limits.max_buffered_bytes);
    check(stream.buffered_segments() <= limits.max_segments);
    if (!chunk) {
        check(stream.next_offset() >= before);
        return;
    }
    check(chunk->new_offset < chunk->data.size());
    check(chunk->new_offset <= limits.window);
    check(chunk->stream_offset + chunk->data.size() == stream.next_offset());
    // New bytes are never bytes delivered before.
    check(chunk->stream_offset + chunk->new_offset >= before);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    DefragLimits defrag_limits;
    defrag_limits.max_datagrams = 8;
    defrag_limits.max_buffered_bytes = 64 * 1024;
    defrag_limits.max_fragments = 16;
    Defragmenter defrag(defrag_limits);

    FlowLimits flow_limits;
    flow_limits.max_flows = 16;
    flow_limits.max_ended = 8;
    flow_limits.tcp.max_buffered_bytes = 4096;
    flow_limits.tcp.max_segments = 8;
    flow_limits.tcp.window = 16;
    flow_limits.tcp.max_ahead = 1 << 20;
    flow_limits.tcp_budget_bytes = 16 * 1024;
    FlowTable flows(flow_limits);

    uint64_t now = 0;
    uint64_t ended = 0;
    auto on_end = [&](Flow& flow, FlowEnd) {
        check(flow.id != 0);
        ++ended;
    };

    auto handle = [&](const Packet& p) {
        Tracked t = flows.track(p, now);
        check(flows.size() <= flow_limits.max_flows);
        if (!t.flow) {
            check(!p.is_ip() || (p.is_fragment && p.frag_offset != 0));
            return;
        }
        check(t.flow->id != 0);
        check(t.flow->last_ns == now);
        if (p.l4 == L4::Tcp) {
            TcpStream& stream = t.to_server ? t.flow->to_server : t.flow->to_client;
            uint64_t before = stream.next_offset();
            auto chunk = stream.add(p.tcp_seq, p.tcp_flags, p.payload);
            check_stream(stream, chunk, before, flow_limits.tcp);
        }
        check(flows.tcp_budget().used <= flow_limits.tcp_budget_bytes);
    };

    size_t pos = 0;
    while (pos + 3 <= size) {
        size_t length = size_t(data[pos]) << 8 | data[pos + 1];
        now += uint64_t(data[pos + 2]) * 500'000'000ULL;
        pos += 3;
        length = std::min(length, size - pos);
        std::span<const uint8_t> frame(data + pos, length);
        pos += length;

        auto result = decode_frame(frame);
        check(result.packet.has_value() != result.error.has_value());
        if (result.error) {
            check(frame_error_name(*result.error)[0] != 'u');
            continue;
        }
        const Packet& p = *result.packet;
        check_packet(p, frame);
        if (p.is_ip())
            check(frame.size() <= k_max_frame);

        auto out = defrag.feed(p, now);
        check(defrag.in_progress() <= defrag_limits.max_datagrams);
        check(defrag.buffered_bytes() <= defrag_limits.max_buffered_bytes);
        if (out.status == DefragStatus::NotFragment) {
            check(!p.is_fragment);
            handle(p);
        } else if (out.status == DefragStatus::Complete) {
            check(out.frame.size() <= k_max_reassembled_frame);
            auto again = decode_frame(out.frame, DecodeOptions { .max_size = k_max_reassembled_frame });
            if (again.packet) {
                check(!again.packet->is_fragment);
                check_packet(*again.packet, out.frame);
                handle(*again.packet);
            } else {
                // The headers were checked fragment by fragment; only what lies inside the
                // reassembled payload (the L4 header, IPv6 headers after the fragment header)
                // can still be wrong.
                FrameError e = *again.error;
                check(e == FrameError::BadL4Header
                    || (p.l3 == L3::Ipv6 && (e == FrameError::BadIpHeader || e == FrameError::TooManyExtHeaders)));
            }
        } else {
            check(p.is_fragment);
        }
        if (data[pos - length - 1] & 1)
            flows.expire(now, on_end);
    }
    flows.expire(now + 10000ULL * 1'000'000'000ULL, on_end);
    check(flows.size() == 0);
    check(flows.tcp_budget().used == 0);
    (void)ended;

    // The whole input as a QEMU stream, fed in 7-byte chunks.
    StreamDecoder decoder(2048);
    for (size_t at = 0; at < size && !decoder.failed(); at += 7) {
        std::span<const uint8_t> input(data + at, std::min<size_t>(7, size - at));
        for (;;) {
            auto item = decoder.next(input);
            if (item.status != StreamStatus::Frame)
                break;
            check(!item.frame.empty() && item.frame.size() <= 2048);
            (void)decode_frame(item.frame);
        }
        check(decoder.buffered() <= 2048 + 4);
    }
    return 0;
}
