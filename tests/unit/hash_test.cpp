// SHA-256 and hex: known vectors, streaming, files.
#include <gtest/gtest.h>

#include <fcntl.h>

#include "base/hash.h"
#include "test_util.h"

namespace bulwark {
namespace {

using test::TempDir;

TEST(Sha256, KnownVectorsStreamingAndFiles)
{
    {
        SCOPED_TRACE("KnownVectors");
        EXPECT_EQ(to_hex(Sha256::of("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        EXPECT_EQ(to_hex(Sha256::of("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        EXPECT_EQ(to_hex(Sha256::of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        EXPECT_EQ(to_hex(Sha256::of(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    {
        SCOPED_TRACE("StreamingEqualsOneShot");
        std::string data;
        for (int i = 0; i < 10000; ++i)
            data.push_back(static_cast<char>(i * 7));
        Sha256 h;
        for (size_t off = 0; off < data.size(); off += 333)
            h.update(data.substr(off, 333));
        EXPECT_EQ(h.finish(), Sha256::of(data));
    }
    {
        SCOPED_TRACE("OfFileAndFd");
        TempDir dir;
        std::string data(200000, 'q');
        test::write_all(dir.file("f"), data);
        auto d = Sha256::of_file(dir.file("f"));
        ASSERT_TRUE(test::is_ok(d));
        EXPECT_EQ(d.value(), Sha256::of(data));
        EXPECT_TRUE(test::fails_with(Sha256::of_file(dir.file("missing")), ErrorKind::NotFound));
    }
}

TEST(Hex, EncodeDecodeAndInvalid)
{
    {
        SCOPED_TRACE("EncodeDecode");
        std::string all;
        for (int i = 0; i < 256; ++i)
            all.push_back(static_cast<char>(i));
        std::string hex = to_hex(all);
        EXPECT_EQ(hex.size(), 512u);
        EXPECT_EQ(hex.substr(0, 8), "00010203");
        EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
        EXPECT_EQ(from_hex(hex).value_or(""), all);
        std::string upper = hex;
        for (auto& c : upper)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        EXPECT_EQ(from_hex(upper).value_or(""), all);
    }
    {
        SCOPED_TRACE("InvalidRefused");
        EXPECT_FALSE(from_hex("abc").has_value());
        EXPECT_FALSE(from_hex("zz").has_value());
        EXPECT_FALSE(from_hex("0g").has_value());
        EXPECT_FALSE(from_hex(" 0").has_value());
        EXPECT_FALSE(from_hex(std::string("0\0", 2)).has_value());
        EXPECT_TRUE(from_hex("").has_value());
    }
}

}  // namespace
}  // namespace bulwark
