// Result<T>, Error and the TRY / TRY_CTX macros.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

#include "base/result.h"
#include "test_util.h"

namespace bulwark {
namespace {

using test::fails_with;

Result<int> parse_positive(int v)
{
    if (v <= 0)
        return Error(ErrorKind::InvalidArgument, "value must be positive");
    return v;
}

int g_after_try = 0;

Result<int> doubled(int v)
{
    int x = TRY(parse_positive(v));
    ++g_after_try;  // must not run when TRY returned early
    return x * 2;
}

Result<std::string> described(int v)
{
    int x = TRY_CTX(doubled(v), "doubling " + std::to_string(v));
    return std::to_string(x);
}

VoidResult check_void(bool fail)
{
    if (fail)
        return Error(ErrorKind::Denied, "no");
    return {};
}

Result<int> uses_void(bool fail)
{
    TRY(check_void(fail));
    return 7;
}

Result<std::unique_ptr<int>> make_unique_value(int v)
{
    return std::make_unique<int>(v);
}

Result<int> unwrap_move_only(int v)
{
    auto p = TRY(make_unique_value(v));  // a move-only value must pass through TRY
    return *p;
}

TEST(Result, ValuesAndErrors)
{
    {
        SCOPED_TRACE("OkValueAndError");
        Result<int> ok = 5;
        EXPECT_TRUE(ok.is_ok());
        EXPECT_FALSE(ok.is_error());
        EXPECT_EQ(ok.value(), 5);

        Result<int> bad = Error(ErrorKind::NotFound, "gone");
        EXPECT_TRUE(bad.is_error());
        EXPECT_EQ(bad.error().kind(), ErrorKind::NotFound);
        EXPECT_EQ(bad.error().message(), "gone");
    }
    {
        SCOPED_TRACE("ReleaseValueMovesOut");
        Result<std::string> r = std::string(1000, 'x');
        std::string s = r.release_value();
        EXPECT_EQ(s.size(), 1000u);
    }
}

TEST(Result, TryPropagatesErrorAndStopsEarly)
{
    {
        SCOPED_TRACE("TryPropagatesErrorAndStopsEarly");
        g_after_try = 0;
        auto r = doubled(-1);
        EXPECT_TRUE(fails_with(r, ErrorKind::InvalidArgument));
        EXPECT_EQ(r.error().message(), "value must be positive");
        EXPECT_EQ(g_after_try, 0);

        auto good = doubled(21);
        ASSERT_TRUE(good.is_ok());
        EXPECT_EQ(good.value(), 42);
        EXPECT_EQ(g_after_try, 1);
    }
    {
        SCOPED_TRACE("TryOnVoidResult");
        EXPECT_TRUE(fails_with(uses_void(true), ErrorKind::Denied));
        auto ok = uses_void(false);
        ASSERT_TRUE(ok.is_ok());
        EXPECT_EQ(ok.value(), 7);
    }
    {
        SCOPED_TRACE("TryMovesMoveOnlyValues");
        auto r = unwrap_move_only(9);
        ASSERT_TRUE(r.is_ok());
        EXPECT_EQ(r.value(), 9);
    }
}

TEST(Result, TryCtxPrefixesMessageAndKeepsKind)
{
    auto r = described(0);
    ASSERT_TRUE(fails_with(r, ErrorKind::InvalidArgument));
    EXPECT_EQ(r.error().message(), "doubling 0: value must be positive");
    auto ok = described(4);
    ASSERT_TRUE(ok.is_ok());
    EXPECT_EQ(ok.value(), "8");
}

TEST(Error, KindsAndContext)
{
    {
        SCOPED_TRACE("KindNamesRoundTrip");
        for (ErrorKind k : {ErrorKind::InvalidArgument, ErrorKind::NotFound, ErrorKind::Conflict, ErrorKind::Corrupt,
                 ErrorKind::VerifyFailed, ErrorKind::Unavailable, ErrorKind::Timeout, ErrorKind::Denied, ErrorKind::Io,
                 ErrorKind::Internal}) {
            auto back = error_kind_from_name(error_kind_name(k));
            ASSERT_TRUE(back.has_value()) << error_kind_name(k);
            EXPECT_EQ(*back, k);
        }
        EXPECT_FALSE(error_kind_from_name("").has_value());
        EXPECT_FALSE(error_kind_from_name("NOT_FOUND").has_value());
        EXPECT_FALSE(error_kind_from_name("bogus").has_value());
    }
    {
        SCOPED_TRACE("FromErrnoMapsKinds");
        EXPECT_EQ(Error::from_errno("open x", ENOENT).kind(), ErrorKind::NotFound);
        EXPECT_EQ(Error::from_errno("open x", EACCES).kind(), ErrorKind::Denied);
        EXPECT_EQ(Error::from_errno("open x", EPERM).kind(), ErrorKind::Denied);
        EXPECT_EQ(Error::from_errno("open x", EEXIST).kind(), ErrorKind::Conflict);
        EXPECT_EQ(Error::from_errno("open x", ENOSPC).kind(), ErrorKind::Io);
        auto e = Error::from_errno("open x", ENOENT);
        EXPECT_EQ(e.message().rfind("open x: ", 0), 0u) << e.message();
    }
    {
        SCOPED_TRACE("WithContextKeepsKind");
        Error e(ErrorKind::Timeout, "inner");
        Error c = e.with_context("outer");
        EXPECT_EQ(c.kind(), ErrorKind::Timeout);
        EXPECT_EQ(c.message(), "outer: inner");
        EXPECT_EQ(e.message(), "inner");
    }
}

}  // namespace
}  // namespace bulwark
