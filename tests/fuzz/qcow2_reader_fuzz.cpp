// Fuzzes Qcow2Reader: the input is a whole qcow2 file. A backing file name resolves to the
// same bytes again (identity "fuzz:<name>"), so a backing format of "raw" gives a real chain
// and "qcow2" a loop that must be caught. A few clusters are read: the start, the end, the
// middle and offsets taken from the input, at most about 1 MiB in all.
#include <cstdint>
#include <vector>

#include "disk/qcow2.h"
#include "disk_fuzz_input.h"

using namespace bulwark;
using namespace bulwark::disk;
using bulwark::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    Qcow2Options options;
    options.max_chain_depth = 4;
    options.l2_cache_bytes = 64 << 10;
    options.resolve_backing = [data, size](const std::string& name) -> Result<BackingFile> {
        BackingFile backing;
        backing.device = fuzz::memory_file(data, size);
        backing.identity = "fuzz:" + name;
        return backing;
    };
    auto reader = Qcow2Reader::open(fuzz::memory_file(data, size), options);
    if (reader.is_error()) {
        fuzz::check_error(reader);
        return 0;
    }
    Qcow2Reader& r = *reader.value();
    uint64_t disk_size = r.size();
    check(disk_size <= (16ULL << 40));
    check(r.cluster_size() >= 512 && r.cluster_size() <= (2u << 20));

    std::vector<uint64_t> offsets { 0, disk_size / 2, disk_size > 4096 ? disk_size - 4096 : 0 };
    for (size_t i = 0; i + 8 <= size && offsets.size() < 8; i += size / 5 + 8) {
        uint64_t v = 0;
        for (size_t j = 0; j < 8; ++j)
            v = (v << 8) | data[i + j];
        offsets.push_back(disk_size ? v % disk_size : 0);
    }
    std::vector<uint8_t> buf(128 << 10);
    for (uint64_t off : offsets) {
        if (off >= disk_size)
            continue;
        size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), disk_size - off));
        uint64_t before = r.stats().bytes_read;
        auto read = r.read_at(off, std::span(buf.data(), n));
        if (read.is_error()) {
            fuzz::check_error(read);
            check(r.stats().bytes_read == before);
            continue;
        }
        check(r.stats().bytes_read == before + n);
    }
    // Outside the disk is always refused.
    uint8_t byte = 0;
    check(r.read_at(disk_size, std::span(&byte, 1)).is_error());
    return 0;
}
