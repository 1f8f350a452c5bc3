// The overlay writer must produce images QEMU's own tools accept and use correctly.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <stdlib.h>

#include "base/json.h"
#include "base/process.h"
#include "base/system.h"
#include "image/format.h"
#include "image/overlay.h"

using namespace bulwark;
using namespace std::chrono_literals;

namespace {

class Overlay : public ::testing::Test {
protected:
    void SetUp() override
    {
        char tmpl[] = "/tmp/bw-overlay-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
        base = dir + "/base.qcow2";
        auto r = run_command({"qemu-img", "create", "-q", "-f", "qcow2", base, "3G"}, 30s);
        ASSERT_TRUE(r.is_ok() && r.value().status.success());
        r = run_command({"qemu-io", "-c", "write -P 0x5a 0 1M", base}, 30s);
        ASSERT_TRUE(r.is_ok() && r.value().status.success());
    }
    void TearDown() override { (void)sys::remove_tree(dir); }
    std::string qemu(const std::vector<std::string>& argv)
    {
        auto r = run_command(argv, 60s);
        EXPECT_TRUE(r.is_ok());
        EXPECT_TRUE(r.value().status.success()) << r.value().output;
        return r.value().output;
    }
    std::string dir, base;
};

}  // namespace

TEST_F(Overlay, QemuAcceptsItAndReadsThroughToTheBase)
{
    std::string ov = dir + "/ov.qcow2";
    ASSERT_TRUE(create_qcow2_overlay(ov, base, 3ULL << 30, 0600).is_ok());
    auto st = sys::stat(ov);
    ASSERT_TRUE(st.is_ok());
    EXPECT_EQ(st.value().st_mode & 0777, 0600u);
    qemu({"qemu-img", "check", "-q", ov});
    auto info = parse_json(qemu({"qemu-img", "info", "--output=json", ov}));
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ(json_int_or(info.value(), "virtual-size", 0), 3LL << 30);
    EXPECT_EQ(json_string_or(info.value(), "backing-filename", ""), base);
    EXPECT_EQ(json_string_or(info.value(), "backing-filename-format", ""), "qcow2");
    // Reads fall through to the base; writes land in the overlay and leave the base alone.
    qemu({"qemu-io", "-c", "read -P 0x5a 0 1M", "-c", "write -P 0x77 0 64k", "-c", "write -P 0x33 2G 1M", ov});
    qemu({"qemu-io", "-c", "read -P 0x77 0 64k", "-c", "read -P 0x5a 64k 960k", "-c", "read -P 0x33 2G 1M", ov});
    qemu({"qemu-io", "-c", "read -P 0x5a 0 1M", base});
    qemu({"qemu-img", "check", "-q", ov});
    // Our own import probe accepts it too (it names a backing file, so it is refused as an
    // import, which is the point of that check).
    auto fd = sys::open(ov, O_RDONLY);
    ASSERT_TRUE(fd.is_ok());
    auto probed = probe_disk_fd(fd.value().get());
    ASSERT_TRUE(probed.is_error());
    EXPECT_EQ(probed.error().kind(), ErrorKind::Denied);
}

TEST_F(Overlay, LargestSizeIsValid)
{
    std::string ov = dir + "/big.qcow2";
    ASSERT_TRUE(create_qcow2_overlay(ov, base, k_max_virtual_size, 0600).is_ok());
    qemu({"qemu-img", "check", "-q", ov});
}

TEST_F(Overlay, RefusesBadArguments)
{
    EXPECT_TRUE(create_qcow2_overlay(dir + "/a", base, 0, 0600).is_error());
    EXPECT_TRUE(create_qcow2_overlay(dir + "/b", base, 1000, 0600).is_error());
    EXPECT_TRUE(create_qcow2_overlay(dir + "/c", base, k_max_virtual_size + 512, 0600).is_error());
    EXPECT_TRUE(create_qcow2_overlay(dir + "/d", "relative/path", 1 << 20, 0600).is_error());
    EXPECT_TRUE(create_qcow2_overlay(dir + "/e", "/" + std::string(2000, 'x'), 1 << 20, 0600).is_error());
    EXPECT_FALSE(sys::exists(dir + "/a"));
    // Never overwrites an existing file.
    ASSERT_TRUE(create_qcow2_overlay(dir + "/f", base, 1 << 20, 0600).is_ok());
    auto again = create_qcow2_overlay(dir + "/f", base, 1 << 20, 0600);
    ASSERT_TRUE(again.is_error());
    EXPECT_EQ(again.error().kind(), ErrorKind::Conflict);
}
