// Fuzzes read_partition_table and detect_filesystem: the input is a whole disk (sector 0 at
// byte 0). Whatever the table says, every partition returned must lie inside the disk.
#include <cstdint>

#include "disk/fs_detect.h"
#include "disk/partition.h"
#include "disk_fuzz_input.h"

using namespace bulwark;
using namespace bulwark::disk;
using bulwark::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::shared_ptr<BlockDevice> disk = fuzz::memory_file(data, size);
    auto table = read_partition_table(*disk);
    if (table.is_error()) {
        fuzz::check_error(table);
        return 0;
    }
    const PartitionTable& t = table.value();
    if (t.scheme == PartitionScheme::None) {
        check(t.partitions.size() == 1);
        check(t.partitions[0].index == 0 && t.partitions[0].start == 0 && t.partitions[0].size == size);
    }
    check(t.partitions.size() <= 4096 + 4);
    for (const Partition& p : t.partitions) {
        check(range_inside(p.start, p.size, size));
        auto view = open_partition(disk, p);
        check(view.is_ok());
        auto kind = detect_filesystem(*view.value());
        check(kind.is_ok());
        check(fs_kind_name(kind.value())[0] != '\0');
    }
    return 0;
}
