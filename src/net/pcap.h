// Classic libpcap capture files: a reader (for captures given to the IDS or the tests) and a
// writer (for the switch's packet captures).
//
// Format (libpcap, "pcap-savefile(5)"): a 24-byte file header, then records.
//   file header: magic u32, version_major u16 (2), version_minor u16 (4), thiszone i32,
//                sigfigs u32, snaplen u32, linktype u32
//   record:      ts_sec u32, ts_frac u32, caplen u32, orig_len u32, then caplen bytes
// The magic, read in the writer's byte order, is 0xa1b2c3d4 (ts_frac in microseconds) or
// 0xa1b23c4d (nanoseconds); read byte-swapped it tells that all fields are in the other order.
//
// Limits: only linktype 1 (Ethernet) is accepted; a record's caplen must be at most 262144
// (libpcap's own maximum) and at most the file's snaplen (a snaplen of 0 or over 262144, which
// some writers put, counts as 262144, as in libpcap). A file that ends inside a record is an
// error naming the record and its byte offset; pcapng files get an error saying how to
// convert them. The reader holds at most one record in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"

namespace bulwark::net {

inline constexpr uint32_t k_pcap_max_caplen = 262144;
inline constexpr uint32_t k_pcap_linktype_ethernet = 1;

struct PcapRecord {
    uint64_t ts_ns = 0; // since the epoch
    uint32_t orig_len = 0;
    std::span<const uint8_t> data; // caplen bytes; valid until the next call to next()
};

class PcapReader {
public:
    // Reads from an open fd, which the caller keeps open (and closes) while reading.
    static Result<PcapReader> from_fd(int fd);
    // Reads from memory (e.g. a fuzzer's input), which must outlive the reader.
    static Result<PcapReader> from_memory(std::span<const uint8_t> bytes);

    // The next record, nothing at a clean end of file, or an error (which is final).
    Result<std::optional<PcapRecord>> next();

    uint32_t snaplen() const { return m_snaplen; }
    bool nanosecond() const { return m_nanosecond; }
    bool swapped() const { return m_swapped; }
    uint64_t records() const { return m_records; }

private:
    PcapReader() = default;
    static Result<PcapReader> open(PcapReader reader);
    // Makes `count` bytes available at m_view[m_pos...]; fewer at end of file.
    Result<size_t> fill(size_t count);
    uint32_t u32(const uint8_t* p) const;

    int m_fd = -1;
    std::span<const uint8_t> m_memory;
    std::vector<uint8_t> m_buffer; // fd mode: bytes read and not yet consumed
    size_t m_pos = 0; // read position in the current view
    uint64_t m_offset = 0; // file offset of the read position
    bool m_eof = false;
    bool m_failed = false;
    bool m_swapped = false;
    bool m_nanosecond = false;
    uint32_t m_snaplen = 0;
    uint32_t m_limit = 0; // the effective caplen limit
    uint64_t m_records = 0;
};

struct PcapWriterOptions {
    uint32_t snaplen = 65535; // longer frames are cut to this
    bool nanosecond = true;
    bool write_header = true; // false: append to a file that already has one
};

class PcapWriter {
public:
    // Writes to an open fd (the caller created the file, 0600, and keeps the fd open). Writes
    // the file header first unless options.write_header is false.
    static Result<PcapWriter> open(int fd, const PcapWriterOptions& options = {});

    // Appends one frame captured at ts_ns (since the epoch).
    VoidResult write(uint64_t ts_ns, std::span<const uint8_t> frame);

private:
    explicit PcapWriter(int fd, const PcapWriterOptions& options)
        : m_fd(fd)
        , m_options(options)
    {
    }
    int m_fd = -1;
    PcapWriterOptions m_options;
};

} // namespace bulwark::net
