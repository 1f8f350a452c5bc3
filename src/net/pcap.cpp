#include "net/pcap.h"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "base/endian.h"

namespace bulwark::net {

namespace {

constexpr size_t k_file_header = 24;
constexpr size_t k_record_header = 16;
constexpr size_t k_read_chunk = 64 * 1024;
constexpr uint32_t k_magic_us = 0xa1b2c3d4;
constexpr uint32_t k_magic_ns = 0xa1b23c4d;
constexpr uint32_t k_magic_pcapng = 0x0a0d0d0a; // a section header block, the same both ways

Error corrupt(const std::string& why)
{
    return Error(ErrorKind::Corrupt, "pcap file " + why);
}

void put_le16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

void put_le32(uint8_t* p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

VoidResult write_all(int fd, const struct iovec* iov, int count)
{
    struct iovec parts[2];
    std::memcpy(parts, iov, sizeof(struct iovec) * size_t(count));
    int first = 0;
    while (first < count) {
        ssize_t n = ::writev(fd, parts + first, count - first);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return Error::from_errno("cannot write the pcap file", errno);
        }
        auto left = static_cast<size_t>(n);
        while (first < count && left >= parts[first].iov_len) {
            left -= parts[first].iov_len;
            ++first;
        }
        if (first < count) {
            parts[first].iov_base = static_cast<uint8_t*>(parts[first].iov_base) + left;
            parts[first].iov_len -= left;
        }
    }
    return {};
}

} // namespace

uint32_t PcapReader::u32(const uint8_t* p) const
{
    return m_swapped ? load_be32(p) : load_le32(p);
}

Result<PcapReader> PcapReader::from_fd(int fd)
{
    PcapReader reader;
    reader.m_fd = fd;
    return open(std::move(reader));
}

Result<PcapReader> PcapReader::from_memory(std::span<const uint8_t> bytes)
{
    PcapReader reader;
    reader.m_memory = bytes;
    return open(std::move(reader));
}

Result<size_t> PcapReader::fill(size_t count)
{
    if (m_fd < 0)
        return std::min(count, m_memory.size() - m_pos);
    if (m_buffer.size() - m_pos >= count)
        return count;
    // Drop what was consumed, then read until `count` bytes are there or the file ends.
    m_buffer.erase(m_buffer.begin(), m_buffer.begin() + static_cast<ptrdiff_t>(m_pos));
    m_pos = 0;
    while (m_buffer.size() < count && !m_eof) {
        size_t old = m_buffer.size();
        m_buffer.resize(old + std::max(k_read_chunk, count - old));
        ssize_t n = ::read(m_fd, m_buffer.data() + old, m_buffer.size() - old);
        if (n < 0) {
            m_buffer.resize(old);
            if (errno == EINTR)
                continue;
            return Error::from_errno("cannot read the pcap file", errno);
        }
        m_buffer.resize(old + static_cast<size_t>(n));
        if (n == 0)
            m_eof = true;
    }
    return std::min(count, m_buffer.size());
}

Result<PcapReader> PcapReader::open(PcapReader reader)
{
    size_t have = TRY(reader.fill(k_file_header));
    std::span<const uint8_t> view = reader.m_fd < 0 ? reader.m_memory : std::span<const uint8_t>(reader.m_buffer);
    if (have >= 4) {
        uint32_t magic = load_le32(view.data());
        if (magic == k_magic_pcapng)
            return Error(ErrorKind::Corrupt, "pcapng is not supported: convert with `tcpdump -r IN -w OUT`");
        if (magic == k_magic_us || magic == k_magic_ns) {
            reader.m_swapped = false;
        } else if (load_be32(view.data()) == k_magic_us || load_be32(view.data()) == k_magic_ns) {
            reader.m_swapped = true;
            magic = load_be32(view.data());
        } else {
            return corrupt("is not a pcap file: its magic number is wrong");
        }
        reader.m_nanosecond = magic == k_magic_ns;
    }
    if (have < k_file_header)
        return corrupt("is truncated: its 24-byte header is cut short");
    const uint8_t* h = view.data();
    uint16_t major = reader.m_swapped ? load_be16(h + 4) : load_le16(h + 4);
    if (major != 2)
        return corrupt("has version " + std::to_string(major) + ", which is not supported (only 2)");
    reader.m_snaplen = reader.u32(h + 16);
    uint32_t linktype = reader.u32(h + 20);
    if (linktype != k_pcap_linktype_ethernet)
        return Error(ErrorKind::Corrupt,
            "pcap link type " + std::to_string(linktype) + " is not supported: only Ethernet (1) captures are");
    reader.m_limit = reader.m_snaplen == 0 || reader.m_snaplen > k_pcap_max_caplen ? k_pcap_max_caplen : reader.m_snaplen;
    reader.m_pos += k_file_header;
    reader.m_offset = k_file_header;
    return reader;
}

Result<std::optional<PcapRecord>> PcapReader::next()
{
    if (m_failed)
        return Error(ErrorKind::Internal, "pcap reader used after an error");
    uint64_t number = m_records + 1;
    std::string where = "record " + std::to_string(number) + " at byte offset " + std::to_string(m_offset);
    auto have = fill(k_record_header);
    if (have.is_error()) {
        m_failed = true;
        return have.release_error();
    }
    if (have.value() == 0)
        return std::optional<PcapRecord> {};
    auto fail = [&](const std::string& why) {
        m_failed = true;
        return corrupt(why);
    };
    if (have.value() < k_record_header)
        return fail(where + " is truncated: the file ends inside its 16-byte header");
    std::span<const uint8_t> view = m_fd < 0 ? m_memory : std::span<const uint8_t>(m_buffer);
    const uint8_t* h = view.data() + m_pos;
    uint32_t ts_sec = u32(h);
    uint32_t ts_frac = u32(h + 4);
    uint32_t caplen = u32(h + 8);
    uint32_t orig_len = u32(h + 12);
    if (caplen > m_limit)
        return fail(
            where + " has a captured length of " + std::to_string(caplen) + ", over the limit of " + std::to_string(m_limit));
    have = fill(k_record_header + caplen);
    if (have.is_error()) {
        m_failed = true;
        return have.release_error();
    }
    if (have.value() < k_record_header + caplen)
        return fail(where + " is truncated: the file ends after " + std::to_string(have.value() - k_record_header) + " of its "
            + std::to_string(caplen) + " bytes");
    view = m_fd < 0 ? m_memory : std::span<const uint8_t>(m_buffer);
    PcapRecord record;
    record.ts_ns = uint64_t(ts_sec) * 1000000000ULL + (m_nanosecond ? uint64_t(ts_frac) : uint64_t(ts_frac) * 1000);
    record.orig_len = orig_len;
    record.data = view.subspan(m_pos + k_record_header, caplen);
    m_pos += k_record_header + caplen;
    m_offset += k_record_header + caplen;
    ++m_records;
    return std::optional<PcapRecord>(record);
}

Result<PcapWriter> PcapWriter::open(int fd, const PcapWriterOptions& options)
{
    if (options.snaplen == 0 || options.snaplen > k_pcap_max_caplen)
        return Error(ErrorKind::InvalidArgument, "a pcap snaplen must be between 1 and 262144");
    PcapWriter writer(fd, options);
    if (options.write_header) {
        // Written little-endian, the byte order of every machine Bulwark runs on; readers
        // handle both.
        uint8_t header[k_file_header] = {};
        put_le32(header, options.nanosecond ? k_magic_ns : k_magic_us);
        put_le16(header + 4, 2);
        put_le16(header + 6, 4);
        put_le32(header + 16, options.snaplen);
        put_le32(header + 20, k_pcap_linktype_ethernet);
        struct iovec iov {
            header, sizeof header
        };
        TRY(write_all(fd, &iov, 1));
    }
    return writer;
}

VoidResult PcapWriter::write(uint64_t ts_ns, std::span<const uint8_t> frame)
{
    if (frame.size() > 0xffffffffULL)
        return Error(ErrorKind::InvalidArgument, "a frame too large for a pcap record");
    auto caplen = static_cast<uint32_t>(std::min<size_t>(frame.size(), m_options.snaplen));
    uint64_t seconds = ts_ns / 1000000000ULL;
    uint64_t fraction = ts_ns % 1000000000ULL;
    uint8_t header[k_record_header];
    // The format's seconds are 32 bits: past 2106 they wrap, as in libpcap.
    put_le32(header, static_cast<uint32_t>(seconds));
    put_le32(header + 4, static_cast<uint32_t>(m_options.nanosecond ? fraction : fraction / 1000));
    put_le32(header + 8, caplen);
    put_le32(header + 12, static_cast<uint32_t>(frame.size()));
    struct iovec iov[2] = { { header, sizeof header }, { const_cast<uint8_t*>(frame.data()), caplen } };
    return write_all(m_fd, iov, caplen ? 2 : 1);
}

} // namespace bulwark::net
