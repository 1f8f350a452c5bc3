// printable_text: the escaping that inspect::display_text and report::safe_text share.
#include <gtest/gtest.h>
#include <string>

#include "base/printable.h"

namespace bulwark {
namespace {

TEST(PrintableText, EscapesEveryByteButPrintableAscii)
{
    EXPECT_EQ(printable_text("plain text ~", 100), "plain text ~");
    EXPECT_EQ(printable_text("", 100), "");
    EXPECT_EQ(printable_text(std::string("a\0b", 3), 100), "a\\x00b");
    EXPECT_EQ(printable_text("\x1b[31m\r\n\t\x7f", 100), "\\x1b[31m\\x0d\\x0a\\x09\\x7f");
    // 8-bit bytes, such as the C1 control CSI in UTF-8, are escaped one by one.
    EXPECT_EQ(printable_text("\xc2\x9b"
                             "2J\xff",
                  100),
        "\\xc2\\x9b2J\\xff");
    std::string every;
    for (int c = 0; c < 256; ++c)
        every.push_back(static_cast<char>(c));
    std::string out = printable_text(every, 4096);
    EXPECT_EQ(out.size(), (256 - 95) * 4 + 94 + 4u) << "95 printable bytes, of which the backslash is escaped";
    for (char c : out)
        EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
}

TEST(PrintableText, BackslashesAreEscapedUnlessKept)
{
    EXPECT_EQ(printable_text("a\\b", 100), "a\\x5cb");
    EXPECT_EQ(printable_text("a\\b", 100, Backslash::Keep), "a\\b");
    // Escaped, a literal "\x1b" cannot pass for an escaped ESC.
    EXPECT_NE(printable_text("\\x1b", 100), printable_text("\x1b", 100));
    // Kept, escaping is idempotent: text escaped once passes unchanged.
    std::string once = printable_text("x\x1b y\\z\xe2\x80\xa6", 100);
    EXPECT_EQ(printable_text(once, 100, Backslash::Keep), once);
    EXPECT_NE(printable_text(once, 100), once);
}

TEST(PrintableText, CutsToTheLimitNeverInsideAnEscape)
{
    EXPECT_EQ(printable_text("abcdefghij", 10), "abcdefghij");
    EXPECT_EQ(printable_text("abcdefghijk", 10), "abcdefg...");
    EXPECT_EQ(printable_text("abcde\x01xyz", 10), "abcde...");
    EXPECT_EQ(printable_text("ab\x01", 6), "ab\\x01") << "exactly the limit";
    EXPECT_EQ(printable_text("ab\x01", 5), "ab...");
    EXPECT_EQ(printable_text("\x01\x02\x03", 11), "\\x01\\x02...");
    EXPECT_EQ(printable_text("\x01\x02\x03", 10), "\\x01...");
    EXPECT_EQ(printable_text("abcd", 3), "...");
    // Below 3 bytes there is no room for the dots: nothing is kept.
    EXPECT_EQ(printable_text("abcd", 2), "");
    EXPECT_EQ(printable_text("ab", 2), "ab");
    EXPECT_EQ(printable_text("abcd", 0), "");
    EXPECT_EQ(printable_text("", 0), "");
    auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    for (size_t limit = 0; limit < 40; ++limit) {
        // With backslashes escaped, every backslash in the result starts a whole escape.
        std::string s = printable_text("a\x1b[0m\\b\xff tail", limit);
        EXPECT_LE(s.size(), limit);
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\\')
                EXPECT_TRUE(i + 3 < s.size() && s[i + 1] == 'x' && is_hex(s[i + 2]) && is_hex(s[i + 3])) << s;
        }
    }
    EXPECT_EQ(printable_text(std::string(10000, 'x'), 4096).size(), 4096u);
}

} // namespace
} // namespace bulwark
