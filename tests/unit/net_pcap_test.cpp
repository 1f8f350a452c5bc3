// pcap files (src/net/pcap.h): our writer's output read by the system's tcpdump, files written
// by tcpdump and by scapy read by our reader, both byte orders and both timestamp precisions,
// and every refusal (pcapng, link types, caplen limits, truncation with record and offset).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <gtest/gtest.h>
#include <string>

#include "net/pcap.h"
#include "net_frames.h"
#include "test_util.h"

namespace bulwark::net {
namespace {

using namespace test;
using bulwark::test::TempDir;

// A pcap file built by hand, in either byte order.
struct Builder {
    bool big_endian = false;
    Bytes out;
    void u16(uint16_t v)
    {
        if (big_endian) {
            append_be16(out, v);
        } else {
            out.push_back(uint8_t(v));
            out.push_back(uint8_t(v >> 8));
        }
    }
    void u32(uint32_t v)
    {
        if (big_endian) {
            append_be32(out, v);
        } else {
            for (int i = 0; i < 4; ++i)
                out.push_back(uint8_t(v >> (8 * i)));
        }
    }
    Builder& header(uint32_t magic = 0xa1b2c3d4, uint32_t snaplen = 65535, uint32_t linktype = 1, uint16_t major = 2)
    {
        u32(magic);
        u16(major);
        u16(4);
        u32(0);
        u32(0);
        u32(snaplen);
        u32(linktype);
        return *this;
    }
    Builder& record(uint32_t sec, uint32_t frac, const Bytes& data, std::optional<uint32_t> caplen = {}, uint32_t orig = 0)
    {
        u32(sec);
        u32(frac);
        u32(caplen.value_or(uint32_t(data.size())));
        u32(orig ? orig : uint32_t(data.size()));
        out.insert(out.end(), data.begin(), data.end());
        return *this;
    }
};

std::string run(const std::string& command)
{
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe)
        return output;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
        output.append(buf, n);
    ::pclose(pipe);
    return output;
}

std::vector<PcapRecord> read_all(PcapReader& reader, std::vector<Bytes>& data)
{
    std::vector<PcapRecord> records;
    for (;;) {
        auto r = reader.next();
        EXPECT_TRUE(r.is_ok()) << (r.is_error() ? r.error().message() : "");
        if (r.is_error() || !r.value())
            break;
        data.emplace_back(r.value()->data.begin(), r.value()->data.end());
        records.push_back(*r.value());
    }
    return records;
}

std::string error_message(std::span<const uint8_t> bytes)
{
    auto reader = PcapReader::from_memory(bytes);
    if (reader.is_error())
        return reader.error().message();
    for (;;) {
        auto r = reader.value().next();
        if (r.is_error())
            return r.error().message();
        if (!r.value())
            return "";
    }
}

Bytes sample_tcp()
{
    return tcp_frame(k_host_a, k_host_b, 40000, 80, 1000, 0, tcpflag::syn, {});
}

Bytes sample_udp()
{
    return udp_frame(k_host_a, k_host_b, 5353, 53, bytes_of("query"));
}

TEST(NetPcap, WriteAndReadBack)
{
    TempDir dir;
    std::string path = dir.file("out.pcap");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    auto writer = PcapWriter::open(fd);
    ASSERT_TRUE(writer.is_ok());
    ASSERT_TRUE(writer.value().write(1700000000123456789ULL, sample_tcp()).is_ok());
    ASSERT_TRUE(writer.value().write(1700000001000000001ULL, sample_udp()).is_ok());
    ::close(fd);
    EXPECT_EQ(bulwark::test::file_mode(path) & 0777, 0600u);

    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto reader = PcapReader::from_fd(fd);
    ASSERT_TRUE(reader.is_ok());
    EXPECT_TRUE(reader.value().nanosecond());
    EXPECT_FALSE(reader.value().swapped());
    EXPECT_EQ(reader.value().snaplen(), 65535u);
    std::vector<Bytes> data;
    auto records = read_all(reader.value(), data);
    ::close(fd);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].ts_ns, 1700000000123456789ULL);
    EXPECT_EQ(records[1].ts_ns, 1700000001000000001ULL);
    EXPECT_EQ(data[0], sample_tcp());
    EXPECT_EQ(data[1], sample_udp());
    EXPECT_EQ(records[1].orig_len, sample_udp().size());
}

TEST(NetPcap, TcpdumpReadsOurFile)
{
    if (::access("/usr/bin/tcpdump", X_OK) != 0 && ::access("/usr/sbin/tcpdump", X_OK) != 0)
        FAIL() << "tcpdump is missing (scripts/install-deps.sh installs it)";
    TempDir dir;
    std::string path = dir.file("ours.pcap");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    auto writer = PcapWriter::open(fd);
    ASSERT_TRUE(writer.is_ok());
    ASSERT_TRUE(writer.value().write(1700000000123456789ULL, sample_tcp()).is_ok());
    ASSERT_TRUE(writer.value().write(1700000001000000001ULL, sample_udp()).is_ok());
    ::close(fd);

    std::string out = run("tcpdump -nn -tt --time-stamp-precision=nano -r " + path + " 2>&1");
    EXPECT_NE(out.find("1700000000.123456789 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S]"), std::string::npos) << out;
    EXPECT_NE(out.find("1700000001.000000001 IP 10.0.0.1.5353 > 10.0.0.2.53"), std::string::npos) << out;
    EXPECT_EQ(out.find("truncated"), std::string::npos) << out;

    // And the file tcpdump writes from ours (microseconds, its own header) reads back.
    std::string theirs = dir.file("theirs.pcap");
    run("tcpdump -r " + path + " -w " + theirs + " 2>&1");
    auto bytes = bytes_of(bulwark::test::read_all(theirs));
    ASSERT_GT(bytes.size(), 24u);
    auto reader = PcapReader::from_memory(bytes);
    ASSERT_TRUE(reader.is_ok()) << reader.error().message();
    EXPECT_FALSE(reader.value().nanosecond());
    std::vector<Bytes> data;
    auto records = read_all(reader.value(), data);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].ts_ns, 1700000000123456000ULL);
    EXPECT_EQ(data[0], sample_tcp());
    EXPECT_EQ(data[1], sample_udp());
}

TEST(NetPcap, ReadsScapyFile)
{
    if (run("/usr/bin/python3 -c 'import scapy' 2>&1 && echo ok").find("ok") == std::string::npos)
        FAIL() << "python3-scapy is missing (scripts/install-deps.sh installs it)";
    TempDir dir;
    std::string path = dir.file("scapy.pcap");
    std::string script = "from scapy.all import Ether, IP, TCP, UDP, IPv6, wrpcap\n"
                         "a = Ether(src='52:54:00:00:00:0a', dst='52:54:00:00:00:0b')/IP(src='10.0.0.1', dst='10.0.0.2')"
                         "/TCP(sport=40000, dport=443, flags='S', seq=7)\n"
                         "a.time = 1700000000.5\n"
                         "b = Ether()/IPv6(src='fd00::1', dst='fd00::2')/UDP(sport=1, dport=2)/b'hello'\n"
                         "b.time = 1700000001\n"
                         "wrpcap('"
        + path + "', [a, b])\n";
    std::string script_path = dir.file("make.py");
    bulwark::test::write_all(script_path, script);
    run("/usr/bin/python3 " + script_path + " 2>&1");
    auto bytes = bytes_of(bulwark::test::read_all(path));
    ASSERT_GT(bytes.size(), 24u);
    auto reader = PcapReader::from_memory(bytes);
    ASSERT_TRUE(reader.is_ok()) << reader.error().message();
    std::vector<Bytes> data;
    auto records = read_all(reader.value(), data);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].ts_ns, 1700000000500000000ULL);
    auto p = decode_ok(data[0]);
    EXPECT_EQ(p.l4, L4::Tcp);
    EXPECT_EQ(p.dst_port, 443);
    EXPECT_EQ(p.tcp_seq, 7u);
    EXPECT_EQ(p.tcp_flags, tcpflag::syn);
    auto q = decode_ok(data[1]);
    EXPECT_EQ(q.l3, L3::Ipv6);
    EXPECT_EQ(Bytes(q.payload.begin(), q.payload.end()), bytes_of("hello"));
}

TEST(NetPcap, BothByteOrdersAndPrecisions)
{
    for (bool big : { false, true }) {
        for (uint32_t magic : { 0xa1b2c3d4u, 0xa1b23c4du }) {
            Builder b;
            b.big_endian = big;
            b.header(magic).record(10, 999, sample_tcp()).record(11, 0, sample_udp());
            auto reader = PcapReader::from_memory(b.out);
            ASSERT_TRUE(reader.is_ok());
            EXPECT_EQ(reader.value().swapped(), big);
            bool ns = magic == 0xa1b23c4du;
            EXPECT_EQ(reader.value().nanosecond(), ns);
            std::vector<Bytes> data;
            auto records = read_all(reader.value(), data);
            ASSERT_EQ(records.size(), 2u);
            EXPECT_EQ(records[0].ts_ns, 10 * 1000000000ULL + (ns ? 999 : 999000));
            EXPECT_EQ(data[1], sample_udp());
            EXPECT_EQ(reader.value().records(), 2u);
        }
    }
}

TEST(NetPcap, EmptyCaptureHasNoRecords)
{
    Builder b;
    b.header();
    EXPECT_EQ(error_message(b.out), "");
}

TEST(NetPcap, Refusals)
{
    Bytes pcapng { 0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a };
    EXPECT_EQ(error_message(pcapng), "pcapng is not supported: convert with `tcpdump -r IN -w OUT`");
    EXPECT_NE(error_message(bytes_of("not a capture file at all")).find("magic number"), std::string::npos);
    EXPECT_NE(error_message(Bytes { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0 }).find("header is cut short"), std::string::npos);
    EXPECT_NE(
        error_message(Builder().header(0xa1b2c3d4, 65535, 101).out).find("link type 101 is not supported"), std::string::npos);
    EXPECT_NE(error_message(Builder().header(0xa1b2c3d4, 65535, 1, 3).out).find("version 3"), std::string::npos);

    // caplen over the snaplen, and over 262144 with a snaplen that does not limit.
    auto over_snaplen = Builder().header(0xa1b2c3d4, 64).record(1, 0, Bytes(65, 0)).out;
    EXPECT_NE(error_message(over_snaplen).find("record 1 at byte offset 24 has a captured length of 65, over the limit of 64"),
        std::string::npos)
        << error_message(over_snaplen);
    auto huge = Builder().header(0xa1b2c3d4, 0).record(1, 0, {}, 262145).out;
    EXPECT_NE(error_message(huge).find("over the limit of 262144"), std::string::npos) << error_message(huge);
    auto max_ok = Builder().header(0xa1b2c3d4, 0xffffffff).record(1, 0, Bytes(262144, 1)).out;
    EXPECT_EQ(error_message(max_ok), "");
}

TEST(NetPcap, TruncatedRecordsNameRecordAndOffset)
{
    auto whole = Builder().header().record(1, 0, sample_tcp()).record(2, 0, sample_udp()).out;
    size_t second = 24 + 16 + sample_tcp().size();
    Bytes cut_data(whole.begin(), whole.end() - 3);
    EXPECT_EQ(error_message(cut_data),
        "pcap file record 2 at byte offset " + std::to_string(second) + " is truncated: the file ends after "
            + std::to_string(sample_udp().size() - 3) + " of its " + std::to_string(sample_udp().size()) + " bytes");
    Bytes cut_header(whole.begin(), whole.begin() + long(second + 10));
    EXPECT_EQ(error_message(cut_header),
        "pcap file record 2 at byte offset " + std::to_string(second) + " is truncated: the file ends inside its 16-byte header");

    // The same through an fd, where the reader streams.
    TempDir dir;
    bulwark::test::write_all(dir.file("cut.pcap"), std::string(cut_data.begin(), cut_data.end()));
    int fd = ::open(dir.file("cut.pcap").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    auto reader = PcapReader::from_fd(fd);
    ASSERT_TRUE(reader.is_ok());
    auto first = reader.value().next();
    ASSERT_TRUE(first.is_ok());
    ASSERT_TRUE(first.value());
    auto bad = reader.value().next();
    ASSERT_TRUE(bad.is_error());
    EXPECT_NE(bad.error().message().find("record 2 at byte offset"), std::string::npos);
    EXPECT_EQ(bad.error().kind(), ErrorKind::Corrupt);
    EXPECT_TRUE(reader.value().next().is_error()); // errors are final
    ::close(fd);
}

TEST(NetPcap, LargeCaptureStreamsThroughFd)
{
    TempDir dir;
    std::string path = dir.file("big.pcap");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    auto writer = PcapWriter::open(fd);
    ASSERT_TRUE(writer.is_ok());
    Bytes frame = cat({ eth(0x88b5), Bytes(1000, 0x5a) });
    for (uint32_t i = 0; i < 300; ++i) {
        frame[20] = uint8_t(i);
        ASSERT_TRUE(writer.value().write(i, frame).is_ok());
    }
    ::close(fd);
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    auto reader = PcapReader::from_fd(fd);
    ASSERT_TRUE(reader.is_ok());
    std::vector<Bytes> data;
    auto records = read_all(reader.value(), data);
    ::close(fd);
    ASSERT_EQ(records.size(), 300u);
    EXPECT_EQ(data[299][20], uint8_t(299));
    EXPECT_EQ(records[299].ts_ns, 299u);
}

TEST(NetPcap, WriterCutsToSnaplenAndMicroseconds)
{
    TempDir dir;
    std::string path = dir.file("snap.pcap");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    PcapWriterOptions options;
    options.snaplen = 40;
    options.nanosecond = false;
    auto writer = PcapWriter::open(fd, options);
    ASSERT_TRUE(writer.is_ok());
    ASSERT_TRUE(writer.value().write(5123456789ULL, sample_udp()).is_ok());
    ::close(fd);
    auto bytes = bytes_of(bulwark::test::read_all(path));
    auto reader = PcapReader::from_memory(bytes);
    ASSERT_TRUE(reader.is_ok());
    EXPECT_FALSE(reader.value().nanosecond());
    auto r = reader.value().next();
    ASSERT_TRUE(r.is_ok() && r.value());
    EXPECT_EQ(r.value()->data.size(), 40u);
    EXPECT_EQ(r.value()->orig_len, sample_udp().size());
    EXPECT_EQ(r.value()->ts_ns, 5123456000ULL);

    EXPECT_TRUE(PcapWriter::open(-1, PcapWriterOptions { .snaplen = 0 }).is_error());
    EXPECT_TRUE(PcapWriter::open(-1).is_error()); // a bad fd is an error, not a crash
}

} // namespace
} // namespace bulwark::net
