// netgen: the virtual network's benchmark (issue 5). It starts real bulwark-switch workers,
// plays two guests' QEMU on stream sockets and measures, side by side in one run:
//
//   relay    bulwark-switch --relay: the same socket I/O, no decoding (the limit)
//   forward  the switch forwarding: two guests a policy lets talk, established TCP flows
//   nofast   the same with the established flow cache off (bulwark-switch --no-fast-path)
//   seg1k    the same with a policy of 1,000 [[allow]] rules over the labels of 200 guests
//   ids1k    forward plus 1,000 generated content rules (IDS on)
//   ids10k   forward plus 10,000 generated content rules
//
// at 64-byte frames (frames/s) and 1514-byte frames (a 1500-byte MTU; Gbit/s), with the
// switch worker's CPU time from /proc/PID/stat, so that throughput per core of switch CPU can
// be given. One thread sends and one receives; configurations alternate run by run, so the
// machine's other load falls on all of them alike. Then the offline mode: a pcap of mixed
// TCP flows is written (once) and run through net::inspect_capture with the 1,000 rules.
//
//   netgen --switch PATH [--duration S] [--runs N] [--configs relay,forward,...]
//          [--work DIR] [--pcap-mb N] [--skip-offline]
//          [--sizes 64,1514]
//
// Prints progress on stderr and one JSON document on stdout (bench/net.py makes the table).
// The work directory keeps the rule files (rules-1000.rules, rules-10000.rules) and the pcap.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/json.h"
#include "ids/engine.h"
#include "ids/rule_parser.h"
#include "net/offline.h"
#include "net/pcap.h"
#include "net/traffic_gen.h"

using namespace bulwark;
using namespace bulwark::net;

namespace {

using Clock = std::chrono::steady_clock;

const char* const k_marker = "BULWARKBENCHMARK"; // the one content rule that does match
constexpr std::size_t k_flows = 8;

struct Args {
    std::string switch_binary;
    double duration = 3.0;
    int runs = 3;
    std::vector<std::string> configs { "relay", "forward", "nofast", "seg1k", "ids1k", "ids10k" };
    std::string work = "/var/tmp/bulwark-netgen";
    uint64_t pcap_mb = 400;
    bool offline = true;
    std::vector<std::size_t> sizes { 64, 1514 };
};

[[noreturn]] void die(const std::string& what)
{
    std::fprintf(stderr, "netgen: %s\n", what.c_str());
    std::exit(1);
}

template <typename T> T must(Result<T> r, const char* what)
{
    if (r.is_error())
        die(std::string(what) + ": " + r.error().message());
    return r.release_value();
}

void must(VoidResult r, const char* what)
{
    if (r.is_error())
        die(std::string(what) + ": " + r.error().message());
}

// Distinct 8-16 byte contents, in TCP rules over a few port groups that include the
// benchmark's ports (80, 443, 8080), so that they are all candidates for its packets; the
// contents are random and do not occur in the traffic, except the marker's, which occurs once
// per batch of 256 frames.
std::string content_rules(std::size_t count)
{
    static const char* const k_port_groups[]
        = { "[80,443,8080]", "$HTTP_PORTS", "any", "[1024:65535]", "[443,8000:8100]", "[21,22,25,80,110,143,443]" };
    static const char k_alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/.=";
    TrafficRng rng(count * 7919 + 1);
    std::set<std::string> seen;
    std::string out = "# netgen: " + std::to_string(count) + " generated content rules\n";
    out += std::string("alert tcp any any -> any any (msg:\"netgen marker\"; flow:established,to_server; content:\"") + k_marker
        + "\"; sid:1; rev:1;)\n";
    for (std::size_t i = 1; i < count; ++i) {
        std::string content;
        do {
            content.clear();
            std::size_t len = 8 + rng.below(9);
            for (std::size_t k = 0; k < len; ++k)
                content += k_alphabet[rng.below(sizeof k_alphabet - 1)];
        } while (!seen.insert(content).second);
        const char* ports = k_port_groups[rng.below(std::size(k_port_groups))];
        bool stateful = rng.below(2) == 0;
        bool nocase = rng.below(10) == 0;
        out += "alert tcp any any -> any " + std::string(ports) + " (msg:\"netgen rule " + std::to_string(i) + "\"; "
            + (stateful ? "flow:established,to_server; " : "") + "content:\"" + content + "\"; " + (nocase ? "nocase; " : "")
            + "sid:" + std::to_string(100000 + i) + "; rev:1;)\n";
    }
    return out;
}

const MacAddr k_server_mac { { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 } };
const Cidr k_subnet = *Cidr::parse("10.90.0.0/16");

GuestSpec guest(uint32_t id, const std::string& name, Labels labels)
{
    GuestSpec g;
    g.id = id;
    g.name = name;
    g.segment = "bench";
    g.mac = MacAddr { { 0x52, 0x54, 0x00, 0x90, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id) } };
    g.ip = IpAddr::v4(k_subnet.base.v4_host_order() + 10 + id);
    g.labels = std::move(labels);
    return g;
}

AllowRule allow(std::string name, Labels from, Labels to, std::vector<PortRange> ports)
{
    AllowRule r;
    r.name = std::move(name);
    r.from.labels = std::move(from);
    r.to.labels = std::move(to);
    r.proto = Proto::Tcp;
    r.ports = std::move(ports);
    return r;
}

// The traffic's pair: client (role=client) to server (role=server) on 80, 443 and 8080.
AllowRule bench_rule()
{
    return allow("bench", { { "role", "client" }, { "app", "bench" } }, { { "role", "server" }, { "app", "bench" } },
        { { 80, 80 }, { 443, 443 }, { 8080, 8080 } });
}

// One configuration: a worker, its two connected guests, and the traffic's connections and
// batches (kept across runs, so that each run continues the same established flows).
struct Config {
    std::string name;
    std::unique_ptr<SwitchProcess> process;
    std::optional<GuestLink> client;
    std::optional<GuestLink> server;
    std::vector<std::unique_ptr<TcpConnection>> connections;
    std::map<std::size_t, TcpBatch> batches; // by frame size
    std::map<std::size_t, std::vector<double>> fps, gbps, cpu, sent_fps;
};

void expect_frame(GuestLink& link, const char* what)
{
    auto got = must(link.receive(deadline_in(std::chrono::seconds(5))), what);
    if (!got)
        die(std::string("the switch did not deliver the ") + what);
}

void handshake(Config& c, TcpConnection& conn)
{
    must(c.client->send(conn.syn()), "send SYN");
    expect_frame(*c.server, "SYN");
    must(c.server->send(conn.syn_ack()), "send SYN-ACK");
    expect_frame(*c.client, "SYN-ACK");
    must(c.client->send(conn.ack()), "send ACK");
    expect_frame(*c.server, "ACK");
}

std::unique_ptr<Config> make_config(const Args& args, const std::string& name, int eve_fd)
{
    auto c = std::make_unique<Config>();
    c->name = name;
    SwitchProcessOptions opts;
    opts.binary = args.switch_binary;
    opts.relay = name == "relay";
    opts.fast_path = name != "nofast";
    opts.eve_fd = name.starts_with("ids") ? eve_fd : -1;
    opts.log_path = args.work + "/switch-" + name + ".log";
    c->process = must(SwitchProcess::spawn(opts), "start bulwark-switch");
    SwitchProcess& sw = *c->process;
    must(sw.add_segment("bench", k_subnet, IpAddr::v4(k_subnet.base.v4_host_order() + 1), k_server_mac), "add the segment");

    GuestSpec client = guest(1, "client", { { "role", "client" }, { "app", "bench" }, { "tier", "web" } });
    GuestSpec server = guest(2, "server", { { "role", "server" }, { "app", "bench" }, { "tier", "db" } });
    SegmentPolicy policy;
    if (name == "seg1k") {
        // 200 more guests over 50 applications and 4 tiers, and 1,000 rules between them; the
        // traffic's own rule sits in the middle.
        static const char* const k_tiers[] = { "web", "app", "db", "cache" };
        for (uint32_t i = 0; i < 200; ++i) {
            auto g = guest(100 + i, "g" + std::to_string(i),
                { { "app", "app" + std::to_string(i % 50) }, { "tier", k_tiers[i % 4] }, { "env", i % 3 ? "prod" : "test" } });
            must(sw.add_unconnected_port(g), "add a policy-only guest");
        }
        for (uint32_t i = 0; i < 1000; ++i) {
            if (i == 500) {
                policy.allow.push_back(bench_rule());
                continue;
            }
            uint16_t port = static_cast<uint16_t>(1000 + i);
            policy.allow.push_back(
                allow("r" + std::to_string(i), { { "app", "app" + std::to_string(i % 50) }, { "tier", k_tiers[i % 4] } },
                    { { "app", "app" + std::to_string((i * 7) % 50) }, { "tier", k_tiers[(i + 1) % 4] } }, { { port, port } }));
        }
    } else {
        policy.allow.push_back(bench_rule());
    }
    must(sw.set_policy(policy), "set the policy");
    if (name == "ids1k" || name == "ids10k") {
        std::size_t count = name == "ids1k" ? 1000 : 10000;
        Json reply = must(sw.set_rules(content_rules(count)), "load the rules");
        if (!reply["errors"].empty() || reply["rules"].get<std::size_t>() != count)
            die("rules rejected: " + json_dump(reply["errors"]).substr(0, 500));
    }
    c->client.emplace(must(sw.add_port(client), "add the client port"));
    c->server.emplace(must(sw.add_port(server), "add the server port"));

    // Two sets of connections, one per frame size, so that each keeps its own sequence space.
    TrafficRng rng(42);
    static const uint16_t k_ports[] = { 80, 443, 8080 };
    for (std::size_t size : { std::size_t(64), std::size_t(1514) }) {
        std::vector<TcpConnection*> conns;
        for (std::size_t i = 0; i < k_flows; ++i) {
            auto conn = std::make_unique<TcpConnection>(client.endpoint(), server.endpoint(),
                static_cast<uint16_t>(40000 + size + i), k_ports[i % 3], 1000 + uint32_t(i) * 7777, 900000 + uint32_t(i));
            handshake(*c, *conn);
            conns.push_back(conn.get());
            c->connections.push_back(std::move(conn));
        }
        std::size_t payload = size - 14 - 20 - 20;
        std::size_t frames = size == 64 ? 1024 : 256;
        TcpBatch& batch = c->batches[size];
        for (std::size_t i = 0; i < frames; ++i) {
            auto bytes = text_payload(rng, payload);
            if (size == 1514 && i == frames / 2)
                std::memcpy(bytes.data() + 100, k_marker, std::strlen(k_marker));
            batch.add(*conns[i % k_flows], bytes);
        }
    }
    return c;
}

struct Sample {
    double fps = 0, gbps = 0, cpu = 0, sent_fps = 0;
};

// Counts the frames and their bytes arriving on a stream socket, without copying them out.
class StreamCounter {
public:
    // Returns false at end of stream.
    bool read_some(int fd)
    {
        ssize_t n = ::recv(fd, m_buffer.data(), m_buffer.size(), MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n == 0)
            return false;
        std::span<const uint8_t> input(m_buffer.data(), static_cast<std::size_t>(n));
        uint64_t frames = 0, bytes = 0;
        for (;;) {
            StreamItem item = m_decoder.next(input);
            if (item.status != StreamStatus::Frame)
                break;
            ++frames;
            bytes += item.frame.size();
        }
        m_frames.fetch_add(frames, std::memory_order_relaxed);
        m_bytes.fetch_add(bytes, std::memory_order_relaxed);
        return true;
    }
    uint64_t frames() const { return m_frames.load(std::memory_order_relaxed); }
    uint64_t bytes() const { return m_bytes.load(std::memory_order_relaxed); }

private:
    std::vector<uint8_t> m_buffer = std::vector<uint8_t>(1 << 20);
    StreamDecoder m_decoder;
    std::atomic<uint64_t> m_frames { 0 }, m_bytes { 0 };
};

Sample measure(Config& c, std::size_t size, double duration)
{
    TcpBatch& batch = c.batches[size];
    std::atomic<bool> stop_sending { false }, stop_receiving { false };
    std::atomic<uint64_t> sent { 0 };
    StreamCounter counter;
    int server_fd = c.server->fd();
    int client_fd = c.client->fd();
    std::thread receiver([&] {
        while (!stop_receiving.load(std::memory_order_relaxed)) {
            struct pollfd pfd {
                server_fd, POLLIN, 0
            };
            if (::poll(&pfd, 1, 50) > 0 && !counter.read_some(server_fd))
                break;
        }
    });
    std::thread sender([&] {
        while (!stop_sending.load(std::memory_order_relaxed)) {
            if (c.client->send_raw(batch.bytes()).is_error())
                break;
            batch.advance();
            sent.fetch_add(batch.frames(), std::memory_order_relaxed);
        }
    });
    // A short warm-up, then the measured window.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    uint64_t f0 = counter.frames(), b0 = counter.bytes(), s0 = sent.load();
    double cpu0 = must(c.process->cpu_seconds(), "read the worker's CPU time");
    auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(duration));
    uint64_t f1 = counter.frames(), b1 = counter.bytes(), s1 = sent.load();
    double cpu1 = must(c.process->cpu_seconds(), "read the worker's CPU time");
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    stop_sending = true;
    sender.join();
    // Let the switch drain what it holds, so the next run starts from empty queues.
    uint64_t last = counter.frames();
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        uint64_t now = counter.frames();
        if (now == last)
            break;
        last = now;
    }
    stop_receiving = true;
    receiver.join();
    // Anything the relay copied back to the client is discarded.
    uint8_t scratch[65536];
    while (::recv(client_fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0) { }
    Sample s;
    s.fps = double(f1 - f0) / dt;
    s.gbps = double(b1 - b0) * 8 / dt / 1e9;
    s.cpu = cpu1 - cpu0;
    s.sent_fps = double(s1 - s0) / dt;
    return s;
}

// A capture of mixed traffic: 64 concurrent TCP connections at a time between 32 hosts (HTTP-like
// exchanges: a request, a response of 1-200 segments of 64-1460 bytes, FINs), and one UDP
// datagram (DNS-like) in twenty.
void write_pcap(const std::string& path, uint64_t target_bytes)
{
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid())
        die("cannot create " + path);
    auto writer = must(PcapWriter::open(fd.get()), "start the pcap");
    TrafficRng rng(7);
    auto host = [](uint32_t i) {
        return Endpoint { MacAddr { { 0x52, 0x54, 0x00, 0x01, 0x00, static_cast<uint8_t>(i) } },
            IpAddr::v4(0x0a010000u + 10 + i) };
    };
    struct Live {
        std::unique_ptr<TcpConnection> conn;
        int stage = 0;
        int segments = 0;
    };
    std::vector<Live> live(64);
    uint64_t ts = 1700000000ull * 1000000000ull;
    uint64_t written = 0;
    uint32_t next_port = 1024;
    auto put = [&](std::span<const uint8_t> frame) {
        must(writer.write(ts, frame), "write the pcap");
        written += 16 + frame.size();
        ts += 5000; // 5 µs apart: about 2.4 Gbit/s of capture time
    };
    static const uint16_t k_ports[] = { 80, 443, 8080, 22, 5432, 6379 };
    while (written < target_bytes) {
        if (rng.below(20) == 0) {
            Endpoint a = host(rng.below(16)), b = host(16 + rng.below(16));
            auto q = text_payload(rng, 30 + rng.below(60));
            put(udp_frame(a, b, static_cast<uint16_t>(30000 + rng.below(30000)), 53, q));
            continue;
        }
        Live& l = live[rng.below(live.size())];
        if (!l.conn) {
            next_port = next_port >= 65000 ? 1024 : next_port + 1;
            l.conn
                = std::make_unique<TcpConnection>(host(rng.below(16)), host(16 + rng.below(16)), static_cast<uint16_t>(next_port),
                    k_ports[rng.below(std::size(k_ports))], static_cast<uint32_t>(rng.next()), static_cast<uint32_t>(rng.next()));
            l.stage = 0;
            l.segments = 1 + static_cast<int>(rng.below(200));
        }
        TcpConnection& c = *l.conn;
        switch (l.stage) {
        case 0:
            put(c.syn());
            break;
        case 1:
            put(c.syn_ack());
            break;
        case 2:
            put(c.ack());
            break;
        case 3:
            put(c.client_data(text_payload(rng, 100 + rng.below(400))));
            break;
        default:
            if (l.segments-- > 0) {
                put(c.server_data(text_payload(rng, 64 + rng.below(1397))));
                if (rng.below(4) == 0)
                    put(c.ack());
                continue;
            }
            put(c.client_fin());
            put(c.server_fin());
            l.conn.reset();
            continue;
        }
        ++l.stage;
    }
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out)
        die("cannot write " + path);
}

Json offline(const Args& args)
{
    std::string pcap = args.work + "/mixed.pcap";
    struct stat st { };
    uint64_t target = args.pcap_mb << 20;
    if (::stat(pcap.c_str(), &st) != 0 || uint64_t(st.st_size) < target) {
        std::fprintf(stderr, "netgen: writing %s (%llu MiB)\n", pcap.c_str(), (unsigned long long)args.pcap_mb);
        write_pcap(pcap, target);
    }
    auto loaded = ids::load_rules(read_file(args.work + "/rules-1000.rules"), ids::default_rule_vars());
    auto engine = std::shared_ptr<ids::Engine>(must(ids::Engine::create(std::move(loaded.rules)), "compile the rules"));
    Json runs = Json::array();
    for (int i = 0; i < std::max(1, args.runs); ++i) {
        Fd fd(::open(pcap.c_str(), O_RDONLY | O_CLOEXEC));
        uint64_t eve_lines = 0, eve_bytes = 0;
        auto stats = must(inspect_capture(fd.get(), engine,
                              [&](const std::string& line) {
                                  ++eve_lines;
                                  eve_bytes += line.size() + 1;
                              }),
            "inspect the capture");
        Json j = stats.to_json();
        j["file_bytes"] = ::stat(pcap.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
        j["eve_lines"] = eve_lines;
        runs.push_back(j);
        std::fprintf(stderr, "netgen: offline run %d: %.1f MB/s\n", i + 1, double(st.st_size) / stats.seconds / 1e6);
    }
    return { { "pcap", pcap }, { "runs", runs } };
}

Args parse_args(int argc, char** argv)
{
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                die(k + " needs a value");
            return argv[++i];
        };
        if (k == "--switch")
            a.switch_binary = value();
        else if (k == "--duration")
            a.duration = std::stod(value());
        else if (k == "--runs")
            a.runs = std::stoi(value());
        else if (k == "--work")
            a.work = value();
        else if (k == "--pcap-mb")
            a.pcap_mb = std::stoull(value());
        else if (k == "--skip-offline")
            a.offline = false;
        else if (k == "--sizes") {
            a.sizes.clear();
            std::string v = value();
            for (std::size_t p = 0; p < v.size();) {
                auto q = v.find(',', p);
                if (q == std::string::npos)
                    q = v.size();
                a.sizes.push_back(std::stoul(v.substr(p, q - p)));
                if (a.sizes.back() != 64 && a.sizes.back() != 1514)
                    die("--sizes takes 64 and/or 1514");
                p = q + 1;
            }
        } else if (k == "--configs") {
            a.configs.clear();
            std::string v = value();
            for (std::size_t p = 0; p <= v.size();) {
                auto q = v.find(',', p);
                if (q == std::string::npos)
                    q = v.size();
                a.configs.push_back(v.substr(p, q - p));
                p = q + 1;
            }
        } else
            die("usage: netgen --switch PATH [--duration S] [--runs N] [--configs a,b] [--work DIR] [--pcap-mb N] "
                "[--skip-offline] [--sizes 64,1514]");
    }
    if (a.switch_binary.empty())
        die("--switch PATH is required");
    return a;
}

} // namespace

int main(int argc, char** argv)
{
    Args args = parse_args(argc, argv);
    ::signal(SIGPIPE, SIG_IGN);
    ::mkdir(args.work.c_str(), 0700);
    write_file(args.work + "/rules-1000.rules", content_rules(1000));
    write_file(args.work + "/rules-10000.rules", content_rules(10000));
    Fd eve(::open("/dev/null", O_WRONLY | O_CLOEXEC));

    std::vector<std::unique_ptr<Config>> configs;
    for (const auto& name : args.configs) {
        std::fprintf(stderr, "netgen: setting up %s\n", name.c_str());
        configs.push_back(make_config(args, name, eve.get()));
        std::fprintf(stderr, "netgen: %s: bulwark-switch pid %d\n", name.c_str(), int(configs.back()->process->pid()));
    }
    for (int run = 0; run < args.runs; ++run) {
        for (std::size_t size : args.sizes) {
            for (auto& c : configs) {
                Sample s = measure(*c, size, args.duration);
                c->fps[size].push_back(s.fps);
                c->gbps[size].push_back(s.gbps);
                c->cpu[size].push_back(s.cpu);
                c->sent_fps[size].push_back(s.sent_fps);
                std::fprintf(stderr,
                    "netgen: run %d %-8s %4zu B: %10.0f frames/s %6.3f Gbit/s, switch CPU %.2f s (sent %.0f/s)\n", run + 1,
                    c->name.c_str(), size, s.fps, s.gbps, s.cpu, s.sent_fps);
            }
        }
    }
    Json out = { { "duration", args.duration }, { "runs", args.runs }, { "flows", k_flows } };
    Json results = Json::object();
    for (auto& c : configs) {
        Json j = Json::object();
        for (std::size_t size : args.sizes) {
            j[std::to_string(size)] = { { "fps", c->fps[size] }, { "gbps", c->gbps[size] }, { "cpu_seconds", c->cpu[size] },
                { "sent_fps", c->sent_fps[size] } };
        }
        // The two guests' counters (drops, queue overflows) and the switch's totals.
        Json status = must(c->process->status(), "read the switch's status");
        j["status"] = { { "client", status["ports"]["1"] }, { "server", status["ports"]["2"] },
            { "flows", status.value("flows", Json()) }, { "ids_alerts", status.value("ids_alerts", Json()) } };
        results[c->name] = j;
    }
    out["results"] = results;
    configs.clear(); // the workers exit before the offline runs take the CPU
    if (args.offline)
        out["offline"] = offline(args);
    std::printf("%s\n", json_dump(out).c_str());
    return 0;
}
