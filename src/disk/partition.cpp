#include "disk/partition.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "base/endian.h"

namespace bulwark::disk {

namespace {

constexpr uint32_t k_mbr_sector = 512;
constexpr size_t k_mbr_entries_offset = 446;
constexpr uint8_t k_mbr_type_gpt = 0xEE;
constexpr size_t k_gpt_min_header = 92;
constexpr size_t k_gpt_min_entry = 128;
constexpr size_t k_gpt_name_offset = 56;
constexpr size_t k_gpt_name_bytes = 72;
constexpr uint64_t k_gpt_attr_legacy_boot = 1ULL << 2;

struct MbrEntry {
    uint8_t status = 0;
    uint8_t type = 0;
    uint32_t lba = 0;
    uint32_t count = 0;
};

MbrEntry mbr_entry(const uint8_t* sector, int i)
{
    const uint8_t* e = sector + k_mbr_entries_offset + 16 * static_cast<size_t>(i);
    return MbrEntry { e[0], e[4], load_le32(e + 8), load_le32(e + 12) };
}

bool has_boot_signature(const uint8_t* sector)
{
    return sector[510] == 0x55 && sector[511] == 0xAA;
}

bool is_extended(uint8_t type)
{
    return type == 0x05 || type == 0x0F || type == 0x85;
}

// A FAT, exFAT or NTFS boot sector also ends in 0x55 0xAA; its fields are not partitions.
bool is_filesystem_boot_sector(const uint8_t* s)
{
    return std::memcmp(s + 3, "NTFS    ", 8) == 0 || std::memcmp(s + 3, "EXFAT   ", 8) == 0
        || std::memcmp(s + 0x36, "FAT1", 4) == 0 || std::memcmp(s + 0x52, "FAT32   ", 8) == 0;
}

std::string mbr_type_name(uint8_t type)
{
    char buf[8];
    (void)std::snprintf(buf, sizeof buf, "0x%02x", type);
    return buf;
}

// UTF-16LE (up to a NUL) to UTF-8; unpaired surrogates become U+FFFD.
std::string utf16le_to_utf8(const uint8_t* p, size_t bytes)
{
    std::string out;
    size_t units = bytes / 2;
    auto put = [&](uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    };
    for (size_t i = 0; i < units; ++i) {
        uint32_t u = load_le16(p + 2 * i);
        if (u == 0)
            break;
        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units) {
            uint32_t low = load_le16(p + 2 * (i + 1));
            if (low >= 0xDC00 && low <= 0xDFFF) {
                put(0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
                ++i;
                continue;
            }
        }
        put(u >= 0xD800 && u <= 0xDFFF ? 0xFFFD : u);
    }
    return out;
}

class Reader {
public:
    Reader(BlockDevice& disk, const PartitionLimits& limits)
        : m_disk(disk)
        , m_limits(limits)
    {
    }

    Result<PartitionTable> read()
    {
        if (m_disk.size() < k_mbr_sector)
            return whole_disk();
        std::array<uint8_t, k_mbr_sector> mbr {};
        TRY(m_disk.read_at(0, mbr));
        if (!has_boot_signature(mbr.data()) || is_filesystem_boot_sector(mbr.data()))
            return whole_disk();
        bool any = false;
        for (int i = 0; i < 4; ++i) {
            MbrEntry e = mbr_entry(mbr.data(), i);
            // Status is 0x00 or 0x80 in every real MBR; anything else is boot code or data.
            if (e.status != 0x00 && e.status != 0x80)
                return whole_disk();
            if (e.type == k_mbr_type_gpt)
                return read_gpt();
            any = any || (e.type != 0 && e.count != 0);
        }
        if (!any)
            return whole_disk();
        return read_mbr(mbr.data());
    }

private:
    Error corrupt(const std::string& why) const
    {
        return Error(ErrorKind::Corrupt, "the partition table of " + m_disk.describe() + " " + why);
    }

    PartitionTable whole_disk() const
    {
        PartitionTable table;
        Partition p;
        p.size = m_disk.size();
        table.partitions.push_back(p);
        return table;
    }

    Result<PartitionTable> read_mbr(const uint8_t* mbr)
    {
        PartitionTable table;
        table.scheme = PartitionScheme::Mbr;
        uint64_t disk_sectors = m_disk.size() / k_mbr_sector;
        uint32_t next_logical = 5;
        for (int i = 0; i < 4; ++i) {
            MbrEntry e = mbr_entry(mbr, i);
            if (e.type == 0 || e.count == 0)
                continue;
            uint32_t index = static_cast<uint32_t>(i) + 1;
            if (e.lba == 0)
                return corrupt("has partition " + std::to_string(index) + " starting at sector 0, over the MBR");
            if (uint64_t(e.lba) + e.count > disk_sectors)
                return corrupt("has partition " + std::to_string(index) + " extending beyond the end of the disk");
            if (is_extended(e.type)) {
                TRY(read_logical(e.lba, e.count, next_logical, table));
                continue;
            }
            table.partitions.push_back(mbr_partition(index, e.lba, e));
        }
        std::sort(table.partitions.begin(), table.partitions.end(),
            [](const Partition& a, const Partition& b) { return a.index < b.index; });
        return table;
    }

    static Partition mbr_partition(uint32_t index, uint64_t start_lba, const MbrEntry& e)
    {
        Partition p;
        p.index = index;
        p.start = start_lba * k_mbr_sector;
        p.size = uint64_t(e.count) * k_mbr_sector;
        p.mbr_type = e.type;
        p.type = mbr_type_name(e.type);
        p.bootable = e.status == 0x80;
        return p;
    }

    // Follows the chain of EBRs inside the extended partition [ext_lba, ext_lba + ext_count).
    VoidResult read_logical(uint64_t ext_lba, uint64_t ext_count, uint32_t& next_index, PartitionTable& table)
    {
        std::unordered_set<uint64_t> seen;
        uint64_t ebr_lba = ext_lba;
        uint64_t ext_end = ext_lba + ext_count;
        std::array<uint8_t, k_mbr_sector> ebr {};
        for (;;) {
            if (!seen.insert(ebr_lba).second)
                return corrupt("has a chain of logical partitions that loops");
            if (seen.size() > m_limits.max_logical)
                return corrupt("has more than " + std::to_string(m_limits.max_logical) + " logical partitions");
            TRY(m_disk.read_at(ebr_lba * k_mbr_sector, ebr));
            if (!has_boot_signature(ebr.data()))
                break; // the end of the chain, as Linux reads it
            MbrEntry logical = mbr_entry(ebr.data(), 0);
            MbrEntry link = mbr_entry(ebr.data(), 1);
            if (logical.type != 0 && logical.count != 0 && !is_extended(logical.type)) {
                uint64_t start = ebr_lba + logical.lba;
                if (logical.lba == 0 || start + logical.count > ext_end)
                    return corrupt("has logical partition " + std::to_string(next_index) + " outside its extended partition");
                table.partitions.push_back(mbr_partition(next_index++, start, logical));
            }
            if (link.type == 0 || link.count == 0 || !is_extended(link.type))
                break;
            uint64_t next = ext_lba + link.lba;
            if (next >= ext_end)
                return corrupt("has a logical partition link pointing outside its extended partition");
            ebr_lba = next;
        }
        return {};
    }

    Result<PartitionTable> read_gpt()
    {
        // Sector size: where the "EFI PART" signature is (512, or 4096 for 4Kn disks).
        uint32_t sector = 512;
        for (uint32_t candidate : { 512u, 4096u }) {
            uint8_t sig[8];
            if (m_disk.size() >= 2ULL * candidate) {
                TRY(m_disk.read_at(candidate, sig));
                if (std::memcmp(sig, "EFI PART", 8) == 0) {
                    sector = candidate;
                    break;
                }
            }
        }
        uint64_t disk_sectors = m_disk.size() / sector;
        auto primary = read_gpt_at(sector, 1);
        if (primary.is_ok() || disk_sectors < 3)
            return primary;
        auto backup = read_gpt_at(sector, disk_sectors - 1);
        if (backup.is_error())
            return primary.release_error();
        backup.value().gpt_from_backup = true;
        return backup;
    }

    Result<PartitionTable> read_gpt_at(uint32_t sector, uint64_t lba)
    {
        std::string where = "GPT header at LBA " + std::to_string(lba);
        uint64_t disk_sectors = m_disk.size() / sector;
        if (lba >= disk_sectors)
            return corrupt("has no room for its " + where);
        std::vector<uint8_t> h(sector);
        TRY(m_disk.read_at(lba * sector, h));
        if (std::memcmp(h.data(), "EFI PART", 8) != 0)
            return corrupt("has a protective MBR but no " + where);
        uint32_t revision = load_le32(&h[8]);
        uint32_t header_size = load_le32(&h[12]);
        if ((revision >> 16) != 1)
            return corrupt("has a " + where + " of unknown revision");
        if (header_size < k_gpt_min_header || header_size > sector)
            return corrupt("has a " + where + " of invalid size (" + std::to_string(header_size) + ")");
        uint32_t crc = load_le32(&h[16]);
        std::vector<uint8_t> copy(h.begin(), h.begin() + header_size);
        std::memset(&copy[16], 0, 4);
        if (crc32(0, copy.data(), header_size) != crc)
            return corrupt("has a " + where + " that fails its CRC32 check");
        if (load_le64(&h[24]) != lba)
            return corrupt("has a " + where + " that names another LBA as its own");
        uint64_t first_usable = load_le64(&h[40]);
        uint64_t last_usable = load_le64(&h[48]);
        if (first_usable > last_usable || last_usable >= disk_sectors)
            return corrupt("has a " + where + " whose usable range does not fit the disk");
        uint64_t array_lba = load_le64(&h[72]);
        uint32_t count = load_le32(&h[80]);
        uint32_t entry_size = load_le32(&h[84]);
        uint32_t array_crc = load_le32(&h[88]);
        if (entry_size < k_gpt_min_entry || (entry_size & (entry_size - 1)) != 0)
            return corrupt("has a " + where + " with an invalid entry size (" + std::to_string(entry_size) + ")");
        if (count > m_limits.max_gpt_entries || uint64_t(count) * entry_size > m_limits.max_gpt_array_bytes)
            return corrupt("has a " + where + " with more partition entries than the limit ("
                + std::to_string(m_limits.max_gpt_entries) + " entries, " + std::to_string(m_limits.max_gpt_array_bytes)
                + " bytes)");
        uint64_t array_bytes = uint64_t(count) * entry_size;
        if (array_lba >= disk_sectors || !range_inside(array_lba * sector, array_bytes, m_disk.size()))
            return corrupt("has a " + where + " whose entry array lies beyond the end of the disk");
        std::vector<uint8_t> array(array_bytes);
        TRY(m_disk.read_at(array_lba * sector, array));
        if (crc32(0, array.data(), static_cast<uInt>(array.size())) != array_crc)
            return corrupt("has a " + where + " whose entry array fails its CRC32 check");

        PartitionTable table;
        table.scheme = PartitionScheme::Gpt;
        table.sector_size = sector;
        table.disk_guid = format_guid(&h[56]);
        static const uint8_t unused[16] = {};
        for (uint32_t i = 0; i < count; ++i) {
            const uint8_t* e = &array[size_t(i) * entry_size];
            if (std::memcmp(e, unused, 16) == 0)
                continue;
            uint64_t first = load_le64(e + 32);
            uint64_t last = load_le64(e + 40);
            if (first > last || first < first_usable || last > last_usable)
                return corrupt("has GPT partition " + std::to_string(i + 1) + " outside the disk's usable sectors");
            Partition p;
            p.index = i + 1;
            p.start = first * sector;
            p.size = (last - first + 1) * sector;
            p.type = format_guid(e);
            p.guid = format_guid(e + 16);
            p.attributes = load_le64(e + 48);
            p.bootable = p.attributes & k_gpt_attr_legacy_boot;
            p.name = utf16le_to_utf8(e + k_gpt_name_offset, k_gpt_name_bytes);
            table.partitions.push_back(std::move(p));
        }
        return table;
    }

    BlockDevice& m_disk;
    const PartitionLimits& m_limits;
};

} // namespace

const char* partition_scheme_name(PartitionScheme scheme)
{
    switch (scheme) {
    case PartitionScheme::Mbr:
        return "mbr";
    case PartitionScheme::Gpt:
        return "gpt";
    case PartitionScheme::None:
        break;
    }
    return "none";
}

std::string format_guid(const uint8_t b[16])
{
    char buf[40];
    (void)std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", load_le32(b), load_le16(b + 4),
        load_le16(b + 6), b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return buf;
}

Result<PartitionTable> read_partition_table(BlockDevice& disk, const PartitionLimits& limits)
{
    return Reader(disk, limits).read();
}

Result<std::unique_ptr<PartitionView>> open_partition(std::shared_ptr<BlockDevice> disk, const Partition& partition)
{
    std::string name = partition.index == 0 ? "the whole disk" : "partition " + std::to_string(partition.index);
    return PartitionView::create(std::move(disk), partition.start, partition.size, std::move(name));
}

} // namespace bulwark::disk
