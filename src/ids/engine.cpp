#include "ids/engine.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <algorithm>
#include <array>
#include <cstring>
#include <hs/hs.h>
#include <map>
#include <pcre2.h>
#include <unordered_map>

#include "net/frame_builder.h"

namespace bulwark::ids {

namespace {

// The per-protocol rule groups: a packet only considers the rules of its own group.
enum Bucket : size_t { BucketTcp, BucketUdp, BucketIcmp, BucketOtherIp, BucketCount };

int action_rank(Action a)
{
    switch (a) {
    case Action::Pass:
        return 0;
    case Action::Drop:
        return 1;
    case Action::Reject:
        return 2;
    case Action::Alert:
        return 3;
    case Action::None:
        break;
    }
    return 4;
}

constexpr std::array<uint8_t, 256> make_lower_table()
{
    std::array<uint8_t, 256> t {};
    for (int i = 0; i < 256; ++i)
        t[i] = static_cast<uint8_t>(i >= 'A' && i <= 'Z' ? i + 32 : i);
    return t;
}
constexpr auto k_lower = make_lower_table();

std::string lowered(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(k_lower[static_cast<uint8_t>(c)]);
    return out;
}

struct CompiledItem {
    const Content* content = nullptr; // or pcre
    std::string pattern; // lowered when nocase
    const PcreMatch* pcre_spec = nullptr;
    pcre2_code* pcre = nullptr;
    bool relative = false;
    bool negated = false;
};

struct CompiledRule {
    std::vector<CompiledItem> items;
    bool has_positive = false;
    // items[i] has a following item relative to it: its every occurrence may need trying.
    std::vector<bool> dependent;
};

struct Group {
    hs_database_t* db = nullptr;
    std::vector<std::vector<uint32_t>> pattern_rules; // Hyperscan id -> rule indices
    std::vector<uint32_t> always; // rules without a fast pattern
    size_t rule_count = 0;
};

} // namespace

struct Engine::Compiled {
    std::vector<Rule> rules;
    std::vector<CompiledRule> compiled;
    std::array<Group, BucketCount> groups;
    size_t prefiltered = 0;

    ~Compiled()
    {
        for (auto& g : groups) {
            if (g.db)
                hs_free_database(g.db);
        }
        for (auto& r : compiled) {
            for (auto& item : r.items) {
                if (item.pcre)
                    pcre2_code_free(item.pcre);
            }
        }
    }
};

namespace {

struct ThresholdKey {
    uint32_t rule = 0;
    net::IpAddr addr;
    bool operator==(const ThresholdKey&) const = default;
};

struct ThresholdKeyHash {
    size_t operator()(const ThresholdKey& k) const
    {
        uint64_t h = 1469598103934665603ULL ^ k.rule;
        for (uint8_t b : k.addr.bytes)
            h = (h ^ b) * 1099511628211ULL;
        return static_cast<size_t>(h ^ (k.addr.v6 ? 0x9e37 : 0));
    }
};

struct ThresholdState {
    uint64_t window_start_ns = 0;
    uint32_t count = 0;
};

} // namespace

struct Engine::Scratch {
    hs_scratch_t* hs = nullptr;
    pcre2_match_data* match_data = nullptr;
    pcre2_match_context* match_context = nullptr;
    std::vector<uint32_t> seen; // per rule: the generation that last made it a candidate
    uint32_t generation = 0;
    std::vector<uint32_t> candidates;
    std::vector<uint32_t> matched;
    std::unordered_map<ThresholdKey, ThresholdState, ThresholdKeyHash> thresholds;

    ~Scratch()
    {
        if (hs)
            hs_free_scratch(hs);
        if (match_data)
            pcre2_match_data_free(match_data);
        if (match_context)
            pcre2_match_context_free(match_context);
    }
};

namespace {

Result<std::unique_ptr<Engine::Scratch>> make_scratch(const Engine::Compiled& compiled)
{
    auto s = std::make_unique<Engine::Scratch>();
    for (const auto& g : compiled.groups) {
        if (g.db && hs_alloc_scratch(g.db, &s->hs) != HS_SUCCESS)
            return Error(ErrorKind::Internal, "Hyperscan could not allocate its scratch space");
    }
    s->match_data = pcre2_match_data_create(1, nullptr);
    s->match_context = pcre2_match_context_create(nullptr);
    if (!s->match_data || !s->match_context)
        return Error(ErrorKind::Internal, "pcre2 could not allocate its match data");
    pcre2_set_match_limit(s->match_context, k_pcre_match_limit);
    pcre2_set_depth_limit(s->match_context, k_pcre_depth_limit);
    s->seen.assign(compiled.rules.size(), 0);
    s->candidates.reserve(compiled.rules.size());
    s->matched.reserve(compiled.rules.size());
    s->thresholds.reserve(1024);
    return s;
}

// The content chosen for the prefilter: the fast_pattern one, else the longest positive one.
const Content* fast_pattern(const Rule& rule)
{
    const Content* best = nullptr;
    for (const auto& m : rule.payload) {
        const auto* c = std::get_if<Content>(&m);
        if (!c || c->negated)
            continue;
        if (c->fast_pattern)
            return c;
        if (!best || c->bytes.size() > best->bytes.size())
            best = c;
    }
    return best;
}

std::array<bool, BucketCount> buckets_of(Proto proto)
{
    switch (proto) {
    case Proto::Tcp:
        return { true, false, false, false };
    case Proto::Udp:
        return { false, true, false, false };
    case Proto::Icmp:
        return { false, false, true, false };
    case Proto::Ip:
        break;
    }
    return { true, true, true, true };
}

int bucket_of(const net::Packet& p)
{
    if (!p.is_ip())
        return -1;
    switch (p.l4) {
    case net::L4::Tcp:
        return BucketTcp;
    case net::L4::Udp:
        return BucketUdp;
    case net::L4::Icmp:
    case net::L4::Icmpv6:
        return BucketIcmp;
    default:
        return BucketOtherIp;
    }
}

struct ScanContext {
    const Group* group;
    Engine::Scratch* scratch;
};

int on_hs_match(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx)
{
    auto* sc = static_cast<ScanContext*>(ctx);
    for (uint32_t rule : sc->group->pattern_rules[id]) {
        if (sc->scratch->seen[rule] != sc->scratch->generation) {
            sc->scratch->seen[rule] = sc->scratch->generation;
            sc->scratch->candidates.push_back(rule);
        }
    }
    return 0;
}

// The bytes a rule inspects and the state of one rule's payload check.
struct MatchContext {
    std::span<const uint8_t> buf;
    bool require_new = false;
    size_t new_offset = 0;
    size_t steps = 0;
    bool step_limit = false;
    bool pcre_limit = false;
    pcre2_match_data* match_data = nullptr;
    pcre2_match_context* match_context = nullptr;
};

// The first occurrence of item's content starting in [from, limit - len], or npos.
size_t find_content(const MatchContext& m, const CompiledItem& item, size_t from, size_t limit)
{
    const std::string& pat = item.pattern;
    size_t len = pat.size();
    limit = std::min(limit, m.buf.size());
    if (from > limit || limit - from < len)
        return std::string::npos;
    const uint8_t* base = m.buf.data();
    if (!item.content->nocase) {
        const void* hit = ::memmem(base + from, limit - from, pat.data(), len);
        return hit ? static_cast<size_t>(static_cast<const uint8_t*>(hit) - base) : std::string::npos;
    }
    auto first = static_cast<uint8_t>(pat[0]);
    for (size_t i = from; i + len <= limit; ++i) {
        if (k_lower[base[i]] != first)
            continue;
        size_t j = 1;
        while (j < len && k_lower[base[i + j]] == static_cast<uint8_t>(pat[j]))
            ++j;
        if (j == len)
            return i;
    }
    return std::string::npos;
}

// The window [start, end) a content must lie in, given where the previous match ended.
bool content_window(const CompiledItem& item, size_t prev_end, size_t size, size_t& start, size_t& end)
{
    const Content& c = *item.content;
    if (c.relative()) {
        int64_t s = static_cast<int64_t>(prev_end) + c.distance.value_or(0);
        int64_t e = c.within ? s + static_cast<int64_t>(*c.within) : static_cast<int64_t>(size);
        s = std::max<int64_t>(s, 0);
        e = std::min<int64_t>(e, static_cast<int64_t>(size));
        if (e < s)
            return false;
        start = static_cast<size_t>(s);
        end = static_cast<size_t>(e);
        return true;
    }
    start = c.offset.value_or(0);
    end = c.depth ? std::min<size_t>(start + *c.depth, size) : size;
    return start <= end;
}

// Runs item's pcre from start_offset; match = [ov0, ov1) in buffer coordinates.
int run_pcre(MatchContext& m, const CompiledItem& item, size_t base, size_t start_offset, size_t& ov0, size_t& ov1)
{
    ++m.steps;
    const uint8_t* subject = m.buf.data() + base;
    size_t length = m.buf.size() - base;
    int rc = pcre2_match(
        item.pcre, length ? subject : reinterpret_cast<PCRE2_SPTR>(""), length, start_offset, 0, m.match_data, m.match_context);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        m.pcre_limit = true;
        return -1;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.match_data);
    ov0 = base + ov[0];
    ov1 = base + ov[1];
    return 1;
}

bool match_items(const CompiledRule& rule, size_t i, size_t prev_end, size_t max_end, MatchContext& m)
{
    if (m.steps > k_max_match_steps) {
        m.step_limit = true;
        return false;
    }
    if (i == rule.items.size()) {
        if (!m.require_new)
            return true;
        if (!rule.has_positive)
            return m.buf.size() > m.new_offset;
        return max_end > m.new_offset;
    }
    const CompiledItem& item = rule.items[i];
    bool dependent = rule.dependent[i];
    if (item.content) {
        size_t start = 0, end = 0;
        if (!content_window(item, prev_end, m.buf.size(), start, end))
            return item.negated && match_items(rule, i + 1, prev_end, max_end, m);
        size_t len = item.pattern.size();
        ++m.steps;
        size_t pos = find_content(m, item, start, end);
        if (item.negated)
            return pos == std::string::npos && match_items(rule, i + 1, prev_end, max_end, m);
        while (pos != std::string::npos) {
            size_t hit_end = pos + len;
            if (match_items(rule, i + 1, hit_end, std::max(max_end, hit_end), m))
                return true;
            if (m.step_limit)
                return false;
            if (!dependent) {
                // Later items do not depend on where this one is: another occurrence only helps
                // when this match must be the one that covers new stream bytes.
                if (!m.require_new || hit_end > m.new_offset || m.new_offset + 1 < len)
                    return false;
                size_t next = std::max(pos + 1, m.new_offset + 1 - len);
                ++m.steps;
                size_t q = find_content(m, item, next, end);
                if (q == std::string::npos)
                    return false;
                return match_items(rule, i + 1, q + len, std::max(max_end, q + len), m);
            }
            if (m.steps > k_max_match_steps) {
                m.step_limit = true;
                return false;
            }
            ++m.steps;
            pos = find_content(m, item, pos + 1, end);
        }
        return false;
    }
    // pcre: relative means the subject starts where the previous match ended, so that ^
    // anchors there.
    size_t base = item.relative ? std::min(prev_end, m.buf.size()) : 0;
    size_t ov0 = 0, ov1 = 0;
    int rc = run_pcre(m, item, base, 0, ov0, ov1);
    if (rc < 0)
        return false;
    if (item.negated)
        return rc == 0 && match_items(rule, i + 1, prev_end, max_end, m);
    while (rc == 1) {
        if (match_items(rule, i + 1, ov1, std::max(max_end, ov1), m))
            return true;
        if (m.step_limit)
            return false;
        if (!dependent && (!m.require_new || ov1 > m.new_offset))
            return false;
        if (m.steps > k_max_match_steps) {
            m.step_limit = true;
            return false;
        }
        size_t next = ov0 + 1 - base;
        if (base + next > m.buf.size())
            return false;
        rc = run_pcre(m, item, base, next, ov0, ov1);
    }
    return false;
}

bool header_matches(const Rule& rule, const net::Packet& p)
{
    bool ports = rule.proto == Proto::Tcp || rule.proto == Proto::Udp;
    auto one_way = [&](const net::IpAddr& s, uint16_t sp, const net::IpAddr& d, uint16_t dp) {
        if (ports && (!rule.src_ports.matches(sp) || !rule.dst_ports.matches(dp)))
            return false;
        return rule.src.matches(s) && rule.dst.matches(d);
    };
    if (one_way(p.ip_src, p.src_port, p.ip_dst, p.dst_port))
        return true;
    return rule.bidirectional && one_way(p.ip_dst, p.dst_port, p.ip_src, p.src_port);
}

bool flow_matches(const FlowOption& flow, const InspectInput& in)
{
    if (!flow.to_server && !flow.established)
        return true; // stateless only
    if (!in.has_flow)
        return false;
    if (flow.to_server && *flow.to_server != in.to_server)
        return false;
    if (flow.established && *flow.established != in.established)
        return false;
    return true;
}

} // namespace

Engine::Engine(std::shared_ptr<const Compiled> compiled, std::unique_ptr<Scratch> scratch)
    : m_compiled(std::move(compiled))
    , m_scratch(std::move(scratch))
{
}

Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::create(std::vector<Rule> rules)
{
    if (hs_valid_platform() != HS_SUCCESS)
        return Error(ErrorKind::Unavailable, "this CPU lacks the instructions Hyperscan needs (SSSE3)");
    if (rules.size() > k_max_rules)
        return Error(ErrorKind::InvalidArgument, "more than " + std::to_string(k_max_rules) + " rules");
    auto compiled = std::make_shared<Compiled>();
    compiled->rules = std::move(rules);
    compiled->compiled.resize(compiled->rules.size());

    // Literal patterns per group, deduplicated: many rules share one fast pattern.
    struct Patterns {
        std::map<std::pair<bool, std::string>, uint32_t> ids;
        std::vector<std::string> literals;
        std::vector<unsigned> flags;
    };
    std::array<Patterns, BucketCount> patterns;

    for (size_t r = 0; r < compiled->rules.size(); ++r) {
        const Rule& rule = compiled->rules[r];
        CompiledRule& cr = compiled->compiled[r];
        for (const auto& m : rule.payload) {
            CompiledItem item;
            if (const auto* c = std::get_if<Content>(&m)) {
                item.content = c;
                item.pattern = c->nocase ? lowered(c->bytes) : c->bytes;
                item.relative = c->relative();
                item.negated = c->negated;
            } else {
                const auto& p = std::get<PcreMatch>(m);
                int err = 0;
                PCRE2_SIZE off = 0;
                item.pcre_spec = &p;
                item.pcre = pcre2_compile(
                    reinterpret_cast<PCRE2_SPTR>(p.regex.data()), p.regex.size(), p.compile_options, &err, &off, nullptr);
                if (!item.pcre)
                    return Error(ErrorKind::InvalidArgument, "rule sid " + std::to_string(rule.sid) + ": pcre does not compile");
                item.relative = p.relative;
                item.negated = p.negated;
            }
            cr.has_positive = cr.has_positive || !item.negated;
            cr.items.push_back(std::move(item));
        }
        cr.dependent.assign(cr.items.size(), false);
        for (size_t i = 0; i + 1 < cr.items.size(); ++i)
            cr.dependent[i] = cr.items[i + 1].relative;

        const Content* fp = fast_pattern(rule);
        if (fp)
            ++compiled->prefiltered;
        auto in = buckets_of(rule.proto);
        for (size_t b = 0; b < BucketCount; ++b) {
            if (!in[b])
                continue;
            Group& g = compiled->groups[b];
            ++g.rule_count;
            if (!fp) {
                g.always.push_back(static_cast<uint32_t>(r));
                continue;
            }
            auto key = std::make_pair(fp->nocase, fp->nocase ? lowered(fp->bytes) : fp->bytes);
            auto [it, added] = patterns[b].ids.try_emplace(key, static_cast<uint32_t>(patterns[b].literals.size()));
            if (added) {
                patterns[b].literals.push_back(key.second);
                patterns[b].flags.push_back(HS_FLAG_SINGLEMATCH | (fp->nocase ? HS_FLAG_CASELESS : 0));
                g.pattern_rules.emplace_back();
            }
            g.pattern_rules[it->second].push_back(static_cast<uint32_t>(r));
        }
    }

    for (size_t b = 0; b < BucketCount; ++b) {
        auto& p = patterns[b];
        if (p.literals.empty())
            continue;
        std::vector<const char*> exprs;
        std::vector<size_t> lens;
        std::vector<unsigned> ids;
        for (size_t i = 0; i < p.literals.size(); ++i) {
            exprs.push_back(p.literals[i].data());
            lens.push_back(p.literals[i].size());
            ids.push_back(static_cast<unsigned>(i));
        }
        hs_compile_error_t* error = nullptr;
        hs_error_t rc = hs_compile_lit_multi(exprs.data(), p.flags.data(), ids.data(), lens.data(),
            static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &compiled->groups[b].db, &error);
        if (rc != HS_SUCCESS) {
            std::string why = error && error->message ? error->message : "unknown error";
            hs_free_compile_error(error);
            return Error(ErrorKind::InvalidArgument, "Hyperscan could not compile the fast patterns: " + why);
        }
    }

    auto scratch = TRY(make_scratch(*compiled));
    return std::unique_ptr<Engine>(new Engine(std::move(compiled), std::move(scratch)));
}

Result<std::unique_ptr<Engine>> Engine::clone() const
{
    auto scratch = TRY(make_scratch(*m_compiled));
    return std::unique_ptr<Engine>(new Engine(m_compiled, std::move(scratch)));
}

const std::vector<Rule>& Engine::rules() const
{
    return m_compiled->rules;
}

size_t Engine::prefiltered_rule_count() const
{
    return m_compiled->prefiltered;
}

size_t Engine::threshold_entries() const
{
    return m_scratch->thresholds.size();
}

Verdict Engine::inspect(const InspectInput& in)
{
    Verdict verdict;
    const net::Packet& p = in.packet;
    int b = bucket_of(p);
    if (b < 0)
        return verdict;
    ++m_stats.packets;
    const Group& group = m_compiled->groups[static_cast<size_t>(b)];
    if (group.rule_count == 0)
        return verdict;

    Scratch& s = *m_scratch;
    if (++s.generation == 0) {
        std::fill(s.seen.begin(), s.seen.end(), 0);
        s.generation = 1;
    }
    s.candidates.clear();
    s.matched.clear();

    MatchContext m;
    m.buf = in.stream.empty() ? p.payload : in.stream;
    m.require_new = !in.stream.empty();
    m.new_offset = std::min(in.stream_new_offset, in.stream.size());
    m.match_data = s.match_data;
    m.match_context = s.match_context;

    if (group.db && !m.buf.empty()) {
        ScanContext sc { &group, &s };
        hs_scan(group.db, reinterpret_cast<const char*>(m.buf.data()), static_cast<unsigned>(m.buf.size()), 0, s.hs, on_hs_match,
            &sc);
    }
    for (uint32_t r : group.always)
        s.candidates.push_back(r);

    bool pass = false;
    for (uint32_t r : s.candidates) {
        const Rule& rule = m_compiled->rules[r];
        ++m_stats.candidates;
        if (rule.flags && (p.l4 != net::L4::Tcp || !rule.flags->matches(p.tcp_flags)))
            continue;
        if (rule.dsize && !rule.dsize->matches(p.payload.size()))
            continue;
        if (rule.flow && !flow_matches(*rule.flow, in))
            continue;
        if (!header_matches(rule, p))
            continue;
        const CompiledRule& cr = m_compiled->compiled[r];
        if (!cr.items.empty()) {
            m.steps = 0;
            m.step_limit = false;
            m.pcre_limit = false;
            bool ok = match_items(cr, 0, 0, 0, m);
            m_stats.step_limit_hits += m.step_limit;
            m_stats.pcre_limit_hits += m.pcre_limit;
            if (!ok)
                continue;
        }
        ++m_stats.matches;
        if (rule.action == Action::Pass) {
            pass = true;
            break;
        }
        s.matched.push_back(r);
    }
    if (pass) {
        verdict.action = Action::Pass;
        return verdict;
    }
    if (s.matched.empty())
        return verdict;

    std::sort(s.matched.begin(), s.matched.end(), [&](uint32_t a, uint32_t b2) {
        const Rule& ra = m_compiled->rules[a];
        const Rule& rb = m_compiled->rules[b2];
        if (action_rank(ra.action) != action_rank(rb.action))
            return action_rank(ra.action) < action_rank(rb.action);
        if (ra.priority != rb.priority)
            return ra.priority < rb.priority;
        return ra.sid < rb.sid;
    });
    // Sorted, the first rule has the strongest action. Drop and reject apply even when a
    // threshold suppresses their alert: thresholds limit logging, not enforcement.
    if (Action first = m_compiled->rules[s.matched.front()].action; first != Action::Alert)
        verdict.action = first;
    for (uint32_t r : s.matched) {
        const Rule& rule = m_compiled->rules[r];
        if (rule.threshold) {
            const Threshold& t = *rule.threshold;
            ThresholdKey key { r, t.track == Threshold::Track::BySrc ? p.ip_src : p.ip_dst };
            uint64_t window = uint64_t(t.seconds) * 1000000000ULL;
            auto it = s.thresholds.find(key);
            if (it == s.thresholds.end()) {
                if (s.thresholds.size() >= k_max_threshold_entries) {
                    // Expire what is stale; if the table is still full, forget one entry: this
                    // can only cause an extra alert, never hide one.
                    for (auto e = s.thresholds.begin(); e != s.thresholds.end();) {
                        const auto& et = *m_compiled->rules[e->first.rule].threshold;
                        if (in.now_ns - e->second.window_start_ns >= uint64_t(et.seconds) * 1000000000ULL)
                            e = s.thresholds.erase(e);
                        else
                            ++e;
                    }
                    if (s.thresholds.size() >= k_max_threshold_entries)
                        s.thresholds.erase(s.thresholds.begin());
                }
                it = s.thresholds.emplace(key, ThresholdState { in.now_ns, 0 }).first;
            }
            ThresholdState& st = it->second;
            if (in.now_ns - st.window_start_ns >= window || in.now_ns < st.window_start_ns) {
                st.window_start_ns = in.now_ns;
                st.count = 0;
            }
            ++st.count;
            bool emit = false;
            switch (t.type) {
            case Threshold::Type::Limit:
                emit = st.count <= t.count;
                break;
            case Threshold::Type::Threshold:
                if (st.count >= t.count) {
                    emit = true;
                    st.count = 0;
                }
                break;
            case Threshold::Type::Both:
                emit = st.count == t.count;
                break;
            }
            if (!emit) {
                ++m_stats.thresholded;
                continue;
            }
        }
        if (verdict.alerts.size() < k_max_alerts_per_packet)
            verdict.alerts.push_back(&rule);
    }
    if (verdict.action == Action::None && !verdict.alerts.empty())
        verdict.action = Action::Alert;
    return verdict;
}

// --- reject frames ---

namespace {

bool is_multicast_or_broadcast(const net::IpAddr& a)
{
    if (a.v6)
        return a.bytes[0] == 0xff;
    return a.bytes[0] >= 224 || (a.bytes[0] == 255 && a.bytes[1] == 255 && a.bytes[2] == 255 && a.bytes[3] == 255);
}

// The L4 message wrapped in an IP header and an Ethernet header (with the packet's 802.1Q tag)
// from the packet's destination back to its sender.
std::vector<uint8_t> reply_frame(const net::Packet& p, uint8_t proto, std::span<const uint8_t> l4)
{
    // DF on the IPv4 reply: it is small, and a reject should never itself be fragmented.
    auto ip = p.ip_src.v6 ? net::ipv6_packet(p.ip_dst, p.ip_src, proto, l4)
                          : net::ipv4_packet(p.ip_dst, p.ip_src, proto, l4, net::Ipv4Fields { .dont_fragment = true });
    uint16_t ethertype = p.ip_src.v6 ? net::ethertype::ipv6 : net::ethertype::ipv4;
    if (!p.vlan)
        return net::ethernet_frame(p.dst, p.src, ethertype, ip);
    std::vector<uint8_t> tagged { static_cast<uint8_t>(*p.vlan >> 8), static_cast<uint8_t>(*p.vlan),
        static_cast<uint8_t>(ethertype >> 8), static_cast<uint8_t>(ethertype) };
    tagged.insert(tagged.end(), ip.begin(), ip.end());
    return net::ethernet_frame(p.dst, p.src, net::ethertype::vlan, tagged);
}

} // namespace

std::vector<uint8_t> build_reject_frame(const net::Packet& p)
{
    if (!p.is_ip() || p.ip_src.v6 != p.ip_dst.v6 || p.frag_offset != 0)
        return {};
    if (p.src.is_multicast() || p.dst.is_multicast() || is_multicast_or_broadcast(p.ip_src)
        || is_multicast_or_broadcast(p.ip_dst))
        return {};
    bool v6 = p.ip_src.v6;
    if (p.l4 == net::L4::Tcp) {
        if (p.tcp_flags & net::tcpflag::rst)
            return {};
        uint32_t seq = 0, ack = 0;
        uint8_t flags = net::tcpflag::rst;
        if (p.tcp_flags & net::tcpflag::ack) {
            seq = p.tcp_ack;
        } else {
            ack = p.tcp_seq + static_cast<uint32_t>(p.payload.size()) + ((p.tcp_flags & net::tcpflag::syn) ? 1 : 0)
                + ((p.tcp_flags & net::tcpflag::fin) ? 1 : 0);
            flags |= net::tcpflag::ack;
        }
        // Window 0: a RST advertises no receive window.
        auto rst = net::tcp_segment(p.ip_dst, p.ip_src, p.dst_port, p.src_port, seq, ack, flags, {}, 0);
        return reply_frame(p, net::ipproto::tcp, rst);
    }
    if (p.l4 == net::L4::Icmp
        && (p.icmp_type == 3 || p.icmp_type == 4 || p.icmp_type == 5 || p.icmp_type == 11 || p.icmp_type == 12))
        return {}; // never an ICMP error about an ICMP error
    if (p.l4 == net::L4::Icmpv6 && p.icmp_type < 128)
        return {};
    // The offending datagram, as much as fits in the minimum MTU (576 for IPv4, 1280 for IPv6).
    size_t room = v6 ? 1280 - 40 - 8 : 576 - 20 - 8;
    std::vector<uint8_t> quoted;
    quoted.insert(quoted.end(), p.ip_header.begin(), p.ip_header.end());
    quoted.insert(quoted.end(), p.ip_payload.begin(), p.ip_payload.end());
    if (quoted.empty())
        return {};
    quoted.resize(std::min(quoted.size(), room));
    // Destination unreachable, port unreachable: ICMP 3/3, ICMPv6 1/4.
    auto icmp = net::icmp_message(p.ip_dst, p.ip_src, v6 ? 1 : 3, v6 ? 4 : 3, 0, quoted);
    return reply_frame(p, v6 ? net::ipproto::icmpv6 : net::ipproto::icmp, icmp);
}

} // namespace bulwark::ids
