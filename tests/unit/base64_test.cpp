// base64 as used for guest-exec output: round trips and hostile input.
#include <gtest/gtest.h>

#include <random>

#include "base/base64.h"

namespace bulwark {
namespace {

TEST(Base64, KnownVectors)
{
    {
        SCOPED_TRACE("Rfc4648Vectors");
        const std::pair<std::string, std::string> vectors[] = {
            {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
            {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
        };
        for (const auto& [plain, encoded] : vectors) {
            EXPECT_EQ(base64_encode(plain), encoded);
            auto d = base64_decode(encoded);
            ASSERT_TRUE(d.has_value()) << encoded;
            EXPECT_EQ(*d, plain);
        }
    }
    {
        SCOPED_TRACE("PaddingOptional");
        EXPECT_EQ(base64_decode("Zg").value_or("?"), "f");
        EXPECT_EQ(base64_decode("Zm8").value_or("?"), "fo");
    }
}

TEST(Base64, RoundTrips)
{
    {
        SCOPED_TRACE("AllByteValuesRoundTrip");
        std::string all;
        for (int i = 0; i < 256; ++i)
            all.push_back(static_cast<char>(i));
        // Every length mod 3 and every byte value in every position of a 3-byte group.
        for (size_t start = 0; start < 3; ++start) {
            for (size_t len = 0; len + start <= all.size(); len += 37) {
                std::string in = all.substr(start, len);
                auto out = base64_decode(base64_encode(in));
                ASSERT_TRUE(out.has_value());
                EXPECT_EQ(*out, in);
            }
        }
        auto out = base64_decode(base64_encode(all));
        ASSERT_TRUE(out.has_value());
        EXPECT_EQ(*out, all);
    }
    {
        SCOPED_TRACE("RandomRoundTrip");
        std::mt19937 rng(1234);
        for (int i = 0; i < 200; ++i) {
            std::string in(rng() % 300, '\0');
            for (auto& c : in)
                c = static_cast<char>(rng());
            auto out = base64_decode(base64_encode(in));
            ASSERT_TRUE(out.has_value());
            ASSERT_EQ(*out, in);
        }
    }
    {
        SCOPED_TRACE("LargeInput");
        std::string big(size_t(3) << 17, 'A');
        auto out = base64_decode(big);
        ASSERT_TRUE(out.has_value());
        EXPECT_EQ(out->size(), (size_t(3) << 17) * 3 / 4);
        EXPECT_EQ(*out, std::string(out->size(), '\0'));
    }
}

TEST(Base64, InvalidInputRefused)
{
    for (const std::string& bad : std::initializer_list<std::string> {"Zm9v!", "Zm 9v", "Zm9v\n", "Zm9v\r\n", "Zm-v", "Zm_v", "Zg=a", "Zg==Zg==", "=Zg",
             std::string("Zm\0v", 4), "\xff\xfe", "Zm9v\x80"}) {
        EXPECT_FALSE(base64_decode(bad).has_value()) << "accepted '" << bad << "'";
    }
}

}  // namespace
}  // namespace bulwark
