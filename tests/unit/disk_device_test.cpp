// RawFile and PartitionView: bounds that hold against hostile offsets, and the byte counts a
// benchmark reads.
#include <unistd.h>

#include <cstdint>
#include <gtest/gtest.h>
#include <limits>

#include "disk/block_device.h"
#include "disk/qcow2.h"
#include "disk_test_util.h"

namespace bulwark::disk {
namespace {

using test::fails_with;
using test::is_ok;
using test::TempDir;

TEST(DiskDevice, RawFileReadsAndRefusesOutsideRanges)
{
    TempDir dir;
    std::string bytes = test::pseudo_random_bytes(10000, 5);
    test::write_all(dir.file("disk.raw"), bytes);
    auto file = RawFile::open(dir.file("disk.raw"));
    ASSERT_TRUE(is_ok(file));
    RawFile& raw = *file.value();
    EXPECT_EQ(raw.size(), 10000u);
    EXPECT_NE(raw.describe().find("disk.raw"), std::string::npos);
    EXPECT_FALSE(raw.identity().empty());

    std::vector<uint8_t> buf(100);
    ASSERT_TRUE(is_ok(raw.read_at(9900, buf)));
    EXPECT_EQ(std::string(buf.begin(), buf.end()), bytes.substr(9900));
    EXPECT_TRUE(is_ok(raw.read_at(10000, std::span<uint8_t>())));
    for (uint64_t off : { uint64_t(9901), uint64_t(10000), uint64_t(1) << 40, std::numeric_limits<uint64_t>::max() - 50,
             std::numeric_limits<uint64_t>::max() }) {
        EXPECT_TRUE(fails_with(raw.read_at(off, buf), ErrorKind::Corrupt)) << off;
    }
    // Only successful reads count.
    EXPECT_EQ(raw.stats().reads, 1u);
    EXPECT_EQ(raw.stats().bytes_read, 100u);
    raw.reset_stats();
    EXPECT_EQ(raw.stats().bytes_read, 0u);

    // A file that shrinks under the reader is an I/O error, not a short read.
    ASSERT_EQ(::truncate(dir.file("disk.raw").c_str(), 5000), 0);
    EXPECT_TRUE(fails_with(raw.read_at(9900, buf), ErrorKind::Io));
}

TEST(DiskDevice, RawFileOpenRefusals)
{
    TempDir dir;
    EXPECT_TRUE(fails_with(RawFile::open(dir.file("missing")), ErrorKind::NotFound));
    EXPECT_TRUE(fails_with(RawFile::open(dir.path()), ErrorKind::InvalidArgument));
    // Not qcow2: open_disk_image falls back to raw.
    test::write_all(dir.file("plain"), std::string(4096, 'x'));
    auto plain = open_disk_image(dir.file("plain"));
    ASSERT_TRUE(is_ok(plain));
    EXPECT_NE(dynamic_cast<RawFile*>(plain.value().get()), nullptr);
    EXPECT_EQ(plain.value()->stats().bytes_read, 0u);
}

TEST(DiskDevice, PartitionViewsStayInsideTheirWindow)
{
    TempDir dir;
    std::string bytes = test::pseudo_random_bytes(1 << 16, 6);
    test::write_all(dir.file("disk.raw"), bytes);
    auto file = RawFile::open(dir.file("disk.raw"));
    ASSERT_TRUE(is_ok(file));
    std::shared_ptr<BlockDevice> disk = file.release_value();

    EXPECT_TRUE(fails_with(PartitionView::create(disk, 60000, 6000, "p"), ErrorKind::Corrupt));
    EXPECT_TRUE(fails_with(PartitionView::create(disk, std::numeric_limits<uint64_t>::max(), 2, "p"), ErrorKind::Corrupt));
    EXPECT_TRUE(fails_with(PartitionView::create(disk, 1, std::numeric_limits<uint64_t>::max(), "p"), ErrorKind::Corrupt));

    auto view = PartitionView::create(disk, 4096, 8192, "partition 1");
    ASSERT_TRUE(is_ok(view));
    std::shared_ptr<BlockDevice> part = view.release_value();
    EXPECT_EQ(part->size(), 8192u);
    EXPECT_EQ(part->describe(), "partition 1 of " + disk->describe());
    std::vector<uint8_t> buf(192);
    ASSERT_TRUE(is_ok(part->read_at(8000, buf)));
    EXPECT_EQ(std::string(buf.begin(), buf.end()), bytes.substr(4096 + 8000, 192));
    EXPECT_TRUE(fails_with(part->read_at(8001, buf), ErrorKind::Corrupt));

    // A view of a view adds the offsets and keeps the inner bounds.
    auto nested = PartitionView::create(part, 1000, 1000, "inner");
    ASSERT_TRUE(is_ok(nested));
    ASSERT_TRUE(is_ok(nested.value()->read_at(808, buf)));
    EXPECT_EQ(std::string(buf.begin(), buf.end()), bytes.substr(4096 + 1000 + 808, 192));
    EXPECT_TRUE(fails_with(nested.value()->read_at(809, buf), ErrorKind::Corrupt));
    EXPECT_TRUE(fails_with(PartitionView::create(part, 8000, 1000, "inner"), ErrorKind::Corrupt));

    // Each layer counts what it served.
    EXPECT_EQ(nested.value()->stats().bytes_read, 192u);
    EXPECT_EQ(part->stats().bytes_read, 384u);
    EXPECT_EQ(disk->stats().bytes_read, 384u);
}

} // namespace
} // namespace bulwark::disk
