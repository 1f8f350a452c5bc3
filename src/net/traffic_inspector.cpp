#include "net/traffic_inspector.h"

#include <algorithm>

#include "ids/engine.h"
#include "ids/eve.h"

namespace bulwark::net {

namespace {

// Flow::tag bits owned by the inspector.
constexpr uint32_t k_flow_alerted = 1;

} // namespace

TrafficInspector::TrafficInspector(TrafficInspectorOptions options)
    : m_options(std::move(options))
    , m_flows(m_options.flows)
    , m_defrag(m_options.defrag)
{
}

TrafficInspector::~TrafficInspector() = default;

int64_t TrafficInspector::wall_us(uint64_t now_ns) const
{
    return static_cast<int64_t>((now_ns + m_options.wall_offset_ns) / 1000);
}

Reassembled TrafficInspector::reassemble(const Packet& packet, uint64_t now_ns)
{
    if (!packet.is_fragment)
        return { Reassembled::Kind::Whole, packet };
    DefragOutput out = m_defrag.feed(packet, now_ns);
    if (out.status == DefragStatus::Buffered)
        return { Reassembled::Kind::Held, std::nullopt };
    if (out.status != DefragStatus::Complete)
        return { Reassembled::Kind::Dropped, std::nullopt };
    m_reassembled = std::move(out.frame);
    auto whole = decode_frame(m_reassembled, DecodeOptions { .max_size = k_max_reassembled_frame });
    if (!whole.packet || whole.packet->is_fragment)
        return { Reassembled::Kind::Dropped, std::nullopt };
    return { Reassembled::Kind::Whole, whole.packet };
}

IdsAction TrafficInspector::inspect(const Packet& packet, const Tracked& tracked, uint64_t now_ns, const std::string& iface)
{
    if (!m_engine || !tracked.flow)
        return IdsAction::Forward;
    Flow& flow = *tracked.flow;
    ids::InspectInput input { packet };
    input.has_flow = true;
    input.to_server = tracked.to_server;
    input.established = flow.state == FlowState::Established;
    input.flow_id = flow.id;
    input.now_ns = now_ns;
    if (packet.l4 == L4::Tcp) {
        TcpStream& stream = tracked.to_server ? flow.to_server : flow.to_client;
        if (auto chunk = stream.add(packet.tcp_seq, packet.tcp_flags, packet.payload)) {
            input.stream = chunk->data;
            input.stream_new_offset = chunk->new_offset;
        }
    }
    ids::Verdict verdict = m_engine->inspect(input);
    bool blocked = verdict.action == ids::Action::Drop || verdict.action == ids::Action::Reject;
    if (verdict.alerts.empty() && !blocked)
        return IdsAction::Forward;
    flow.tag |= k_flow_alerted;
    m_alerts += verdict.alerts.size();
    if (m_eve) {
        ids::EveOptions eve { iface.empty() ? m_options.interface_name : iface, false };
        int64_t unix_us = wall_us(now_ns);
        for (const ids::Rule* rule : verdict.alerts)
            m_eve(ids::eve_alert(packet, *rule, flow.id, unix_us, eve));
        if (blocked)
            m_eve(ids::eve_drop(packet, verdict.alerts.empty() ? nullptr : verdict.alerts.front(), flow.id, unix_us, eve));
    }
    if (!blocked)
        return IdsAction::Forward;
    ++m_drops;
    return verdict.action == ids::Action::Reject ? IdsAction::Reject : IdsAction::Drop;
}

void TrafficInspector::write_flow(Flow& flow, int reason, uint64_t now_ns)
{
    if (!m_eve)
        return;
    ids::FlowRecord r;
    r.flow_id = flow.id;
    r.src_ip = flow.client_ip;
    r.src_port = flow.client_port;
    r.dest_ip = flow.server_ip;
    r.dest_port = flow.server_port;
    r.ip_proto = flow.proto;
    r.pkts_toserver = flow.packets_to_server;
    r.pkts_toclient = flow.packets_to_client;
    r.bytes_toserver = flow.bytes_to_server;
    r.bytes_toclient = flow.bytes_to_client;
    r.start_us = wall_us(flow.first_ns);
    r.end_us = wall_us(flow.last_ns);
    r.state = flow.state == FlowState::Closed ? ids::FlowState::Closed
        : flow.state == FlowState::New        ? ids::FlowState::New
                                              : ids::FlowState::Established;
    r.reason = static_cast<ids::FlowEndReason>(reason);
    r.alerted = (flow.tag & k_flow_alerted) != 0;
    m_eve(ids::eve_flow(r, wall_us(now_ns), ids::EveOptions { m_options.interface_name, false }));
}

void TrafficInspector::tick(uint64_t now_ns)
{
    m_defrag.expire(now_ns);
    m_flows.expire(now_ns, [&](Flow& flow, FlowEnd end) {
        write_flow(
            flow, static_cast<int>(end == FlowEnd::Timeout ? ids::FlowEndReason::Timeout : ids::FlowEndReason::Forced), now_ns);
    });
}

void TrafficInspector::flush(uint64_t now_ns)
{
    tick(now_ns);
    std::vector<Flow*> all;
    m_flows.for_each([&](Flow& flow) { all.push_back(&flow); });
    // The table's order depends on its random hash seed: in creation order, the same capture
    // gives the same EVE lines on every run.
    std::sort(all.begin(), all.end(), [](const Flow* a, const Flow* b) { return a->id < b->id; });
    for (Flow* flow : all) {
        write_flow(*flow, static_cast<int>(ids::FlowEndReason::Shutdown), now_ns);
        m_flows.remove(flow);
    }
}

} // namespace bulwark::net
