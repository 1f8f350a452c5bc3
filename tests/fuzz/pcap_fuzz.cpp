// Fuzzes the pcap reader (src/net/pcap.h) from memory: every record must respect the caplen
// limits and lie inside the input, errors must be final, and the first records, written back
// with PcapWriter to a memory file and read again, must come back the same.
//
// Input layout: a pcap file.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "net/packet.h"
#include "net/pcap.h"

using namespace bulwark::net;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    auto reader = PcapReader::from_memory({ data, size });
    if (reader.is_error()) {
        check(!reader.error().message().empty());
        return 0;
    }
    uint32_t limit = reader.value().snaplen() == 0 || reader.value().snaplen() > k_pcap_max_caplen ? k_pcap_max_caplen
                                                                                                   : reader.value().snaplen();
    bool nanosecond = reader.value().nanosecond();
    std::vector<std::vector<uint8_t>> frames;
    std::vector<uint64_t> times;
    for (;;) {
        auto r = reader.value().next();
        if (r.is_error()) {
            check(reader.value().next().is_error());
            break;
        }
        if (!r.value())
            break;
        const PcapRecord& record = *r.value();
        check(record.data.size() <= limit);
        check(record.data.empty() || (record.data.data() >= data && record.data.data() + record.data.size() <= data + size));
        (void)decode_frame(record.data);
        if (frames.size() < 8) {
            frames.emplace_back(record.data.begin(), record.data.end());
            times.push_back(record.ts_ns);
        }
    }

    // Round trip through the writer.
    int fd = ::memfd_create("pcap_fuzz", MFD_CLOEXEC);
    check(fd >= 0);
    PcapWriterOptions options;
    options.snaplen = k_pcap_max_caplen;
    options.nanosecond = nanosecond;
    auto writer = PcapWriter::open(fd, options);
    check(writer.is_ok());
    for (size_t i = 0; i < frames.size(); ++i)
        check(writer.value().write(times[i], frames[i]).is_ok());
    check(::lseek(fd, 0, SEEK_SET) == 0);
    auto again = PcapReader::from_fd(fd);
    check(again.is_ok());
    for (size_t i = 0; i < frames.size(); ++i) {
        auto r = again.value().next();
        check(r.is_ok() && r.value());
        check(std::vector<uint8_t>(r.value()->data.begin(), r.value()->data.end()) == frames[i]);
        // Timestamps survive, unless a fraction of a second over 1 carried the seconds past 32 bits.
        if (times[i] / 1000000000ULL <= 0xffffffffULL)
            check(r.value()->ts_ns == times[i]);
    }
    auto end = again.value().next();
    check(end.is_ok() && !end.value());
    ::close(fd);
    return 0;
}
