// validate_name: the safe set of names that end up in paths, QEMU arguments and logs.
#include <gtest/gtest.h>

#include "base/names.h"
#include "test_util.h"

namespace bulwark {
namespace {

TEST(Names, AcceptsTheSafeSet)
{
    for (const std::string& name : std::initializer_list<std::string> {"a", "0", "debian", "debian-12", "web_1", "v1.2.3", "9lives", "a-b_c.d",
             std::string(63, 'a'), "x" + std::string(62, '-')}) {
        auto r = validate_name(name, "guest name");
        EXPECT_TRUE(r.is_ok()) << "'" << name << "': " << (r.is_error() ? r.error().message() : "");
    }
}

TEST(Names, RefusesEverythingElse)
{
    {
        SCOPED_TRACE("RefusesEverythingElse");
        const std::string refused[] = {
            "",
            std::string(64, 'a'),          // one over the limit
            std::string(4096, 'a'),
            "/",
            "a/b",
            "../etc",
            "..",
            ".",
            ".hidden",
            "-rf",                         // would read as an option
            "_x",
            "a b",
            " a",
            "a\t",
            "a\n",
            "Debian",                      // uppercase
            "dEBIAN",
            "caf\xc3\xa9",                 // non-ASCII (UTF-8 e-acute)
            "\xff",
            std::string("a\0b", 3),        // embedded NUL
            "a,b",                         // QEMU option separator
            "a=b",
            "a:b",
            "a;b",
            "a$b",
            "a'b",
            "a\"b",
            "a\\b",
            "a*",
        };
        for (const auto& name : refused) {
            auto r = validate_name(name, "guest name");
            ASSERT_TRUE(r.is_error()) << "accepted '" << name << "'";
            EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument);
            EXPECT_NE(r.error().message().find("guest name"), std::string::npos) << r.error().message();
        }
    }
    {
        SCOPED_TRACE("ErrorForLongNameIsBounded");
        auto r = validate_name(std::string(100000, 'a'), "image name");
        ASSERT_TRUE(r.is_error());
        EXPECT_LT(r.error().message().size(), 200u);
    }
    {
        SCOPED_TRACE("ErrorNamesTheOffendingCharacter");
        auto r = validate_name("ab/c", "snapshot name");
        ASSERT_TRUE(r.is_error());
        EXPECT_NE(r.error().message().find("'/'"), std::string::npos) << r.error().message();
    }
}

}  // namespace
}  // namespace bulwark
