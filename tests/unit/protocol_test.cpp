// The control socket protocol and the JSON limits under it.
#include <gtest/gtest.h>

#include "api/protocol.h"
#include "base/json.h"
#include "test_util.h"

namespace bulwark {
namespace {

using test::fails_with;
using test::is_ok;

std::string nested(size_t depth, char open = '[', char close = ']')
{
    return std::string(depth, open) + std::string(depth, close);
}

TEST(Json, Limits)
{
    {
        SCOPED_TRACE("LimitsEnforced");
        EXPECT_TRUE(is_ok(parse_json(nested(32))));
        EXPECT_TRUE(fails_with(parse_json(nested(33)), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(parse_json(std::string(100000, '[')), ErrorKind::InvalidArgument));
        EXPECT_TRUE(is_ok(parse_json("[1]", {3, 1})));
        EXPECT_TRUE(fails_with(parse_json("[1] ", {3, 1}), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(parse_json("[[1]]", {100, 1}), ErrorKind::InvalidArgument));
    }
    {
        SCOPED_TRACE("BracketsInStringsDoNotCount");
        std::string s = "{\"a\":\"" + std::string(100, '[') + "\\\"" + std::string(100, '{') + "\"}";
        auto r = parse_json(s, {1 << 20, 1});
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value()["a"].get<std::string>().size(), 201u);
        // An escaped quote must not end the string early and hide real nesting after it.
        std::string tricky = "[\"\\\"\"," + nested(40) + "]";
        EXPECT_TRUE(fails_with(parse_json(tricky), ErrorKind::InvalidArgument));
        // Closers outside any structure must not buy depth for later openers.
        std::string closers = std::string(100, ']') + nested(40);
        EXPECT_TRUE(parse_json(closers).is_error());
    }
}

TEST(Json, ParsingAndAccessors)
{
    {
        SCOPED_TRACE("MalformedIsCorrupt");
        for (const std::string& bad : std::initializer_list<std::string> {"", "{", "{\"a\":}", "[1,]", "nul", "\"\xff\"", "{\"a\":1}x", "1e99999", "/* c */ 1",
                 "\"\\ud800\"", std::string("[\0]", 3)}) {
            auto r = parse_json(bad);
            EXPECT_TRUE(r.is_error()) << "accepted: " << bad;
        }
    }
    {
        SCOPED_TRACE("TypedAccessors");
        Json j = Json::parse(R"({"s":"x","i":5,"f":1.5,"b":true,"n":null})");
        EXPECT_EQ(json_string(j, "s").value(), "x");
        EXPECT_TRUE(fails_with(json_string(j, "i"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(json_string(j, "missing"), ErrorKind::InvalidArgument));
        EXPECT_EQ(json_int(j, "i").value(), 5);
        EXPECT_TRUE(fails_with(json_int(j, "f"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(json_int(j, "s"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(json_int(Json::array(), "i"), ErrorKind::InvalidArgument));
        EXPECT_EQ(json_string_or(j, "n", "d"), "d");
        EXPECT_EQ(json_int_or(j, "b", 9), 9);
        EXPECT_TRUE(json_bool_or(j, "b", false));
        EXPECT_FALSE(json_bool_or(j, "i", false));
        EXPECT_EQ(json_string_or(Json(3), "s", "d"), "d");
    }
}

TEST(Json, Utf8ValidationAndDump)
{
    for (const std::string& good : std::initializer_list<std::string> {"", "ascii", "caf\xc3\xa9", "\xe4\xb8\xad",
             "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", std::string("nul\0inside", 10)}) {
        EXPECT_TRUE(is_valid_utf8(good)) << good;
    }
    for (const std::string& bad : std::initializer_list<std::string> {
             "\xc3",                  // truncated
             "\xc3(",                 // bad continuation
             "\x80",                  // lone continuation
             "\xc0\xaf",              // overlong '/'
             "\xe0\x80\xaf",          // overlong '/'
             "\xf0\x80\x80\xaf",      // overlong '/'
             "\xed\xa0\x80",          // surrogate U+D800
             "\xf4\x90\x80\x80",      // past U+10FFFF
             "\xf8\x88\x80\x80\x80",  // 5-byte form
             "\xff", "\xfe",
             "ok\xe2\x82"}) {          // cut mid-character, as substr does
        EXPECT_FALSE(is_valid_utf8(bad)) << test::to_hex_for_trace(bad);
    }
    // json_dump never throws on invalid bytes and always produces parseable JSON.
    std::string dumped;
    ASSERT_NO_THROW(dumped = json_dump(Json {{"k", std::string("a\xc3") + "\xff" + "b"}}));
    auto back = parse_json(dumped);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(is_valid_utf8(back.value()["k"].get<std::string>()));
}

TEST(Protocol, WellFormedRequestsRoundTrip)
{
    {
        SCOPED_TRACE("ParsesWellFormedRequest");
        auto r = parse_request(R"({"method":"vm.start","params":{"name":"web"}})");
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().method, "vm.start");
        EXPECT_EQ(r.value().params["name"], "web");
        auto no_params = parse_request(R"({"method":"ping"})");
        ASSERT_TRUE(is_ok(no_params));
        EXPECT_TRUE(no_params.value().params.is_object());
        EXPECT_TRUE(no_params.value().params.empty());
    }
    {
        SCOPED_TRACE("EncodeParseRoundTrip");
        Request req;
        req.method = "image.import";
        req.params = Json {{"name", "debian"}, {"n", 3}, {"list", {1, 2, 3}}};
        std::string line = encode_request(req);
        ASSERT_FALSE(line.empty());
        EXPECT_EQ(line.back(), '\n');
        EXPECT_EQ(line.find('\n'), line.size() - 1) << "a request must be exactly one line";
        auto back = parse_request(line.substr(0, line.size() - 1));
        ASSERT_TRUE(is_ok(back));
        EXPECT_EQ(back.value().method, req.method);
        EXPECT_EQ(back.value().params, req.params);

        Request null_params;
        null_params.method = "ping";
        null_params.params = nullptr;
        auto back2 = parse_request(encode_request(null_params));
        ASSERT_TRUE(is_ok(back2));
        EXPECT_TRUE(back2.value().params.is_object());
    }
}

TEST(Protocol, RefusesMalformedRequests)
{
    {
        SCOPED_TRACE("RefusesNonObjects");
        for (const char* doc : {"[]", "\"vm.start\"", "1", "null", "true", "[{\"method\":\"ping\"}]"}) {
            EXPECT_TRUE(fails_with(parse_request(doc), ErrorKind::InvalidArgument)) << doc;
        }
    }
    {
        SCOPED_TRACE("RefusesBadMethod");
        for (const char* doc : {"{}", R"({"params":{}})", R"({"method":1})", R"({"method":null})", R"({"method":["ping"]})",
                 R"({"method":""})", R"({"method":{"a":1}})"}) {
            EXPECT_TRUE(fails_with(parse_request(doc), ErrorKind::InvalidArgument)) << doc;
        }
        std::string long_method = R"({"method":")" + std::string(65, 'a') + "\"}";
        EXPECT_TRUE(fails_with(parse_request(long_method), ErrorKind::InvalidArgument));
    }
    {
        SCOPED_TRACE("RefusesNonObjectParams");
        for (const char* doc : {R"({"method":"ping","params":[]})", R"({"method":"ping","params":"x"})",
                 R"({"method":"ping","params":1})", R"({"method":"ping","params":null})"}) {
            EXPECT_TRUE(fails_with(parse_request(doc), ErrorKind::InvalidArgument)) << doc;
        }
    }
    {
        SCOPED_TRACE("RefusesMalformedJson");
        for (const std::string& doc : std::initializer_list<std::string> {"", "{", R"({"method":"ping")", R"({"method":"p\xffng"})", "{\"method\":\"ping\"}\n{}"}) {
            EXPECT_TRUE(parse_request(doc).is_error()) << doc;
        }
    }
}

TEST(Protocol, RefusesOversizedOrDeepRequests)
{
    {
        SCOPED_TRACE("RefusesOversizedRequest");
        // One byte over the limit is refused before any parsing (the exact boundary is covered
        // with small limits in Json.LimitsEnforced; parsing a whole MiB is slow under ASan).
        std::string prefix = R"({"method":"ping","params":{"x":")";
        std::string suffix = "\"}}";
        std::string over = prefix + std::string(k_max_request_bytes - prefix.size() - suffix.size() + 1, 'a') + suffix;
        ASSERT_EQ(over.size(), k_max_request_bytes + 1);
        auto r = parse_request(over);
        ASSERT_TRUE(fails_with(r, ErrorKind::InvalidArgument));
        EXPECT_NE(r.error().message().find("limit"), std::string::npos) << r.error().message();
        EXPECT_TRUE(fails_with(parse_request(std::string(64 << 20, ' ')), ErrorKind::InvalidArgument));
    }
    {
        SCOPED_TRACE("RefusesDeepNesting");
        auto wrap = [](size_t depth) {
            // {"method":"ping","params":{"a":[[[...]]]}} has depth 2 + depth.
            return R"({"method":"ping","params":{"a":)" + nested(depth) + "}}";
        };
        EXPECT_TRUE(is_ok(parse_request(wrap(14))));
        EXPECT_TRUE(fails_with(parse_request(wrap(15)), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(parse_request(wrap(100000)), ErrorKind::InvalidArgument));
    }
}

TEST(Protocol, ResponsesRoundTrip)
{
    {
        SCOPED_TRACE("ResponseRoundTripOk");
        Json value {{"vms", {{{"name", "a"}, {"cpus", 2}}}}, {"empty", nullptr}};
        auto back = decode_response(encode_response(Result<Json>(value)));
        ASSERT_TRUE(is_ok(back));
        EXPECT_EQ(back.value(), value);
    }
    {
        SCOPED_TRACE("ResponseRoundTripKeepsErrorKind");
        for (ErrorKind k : {ErrorKind::InvalidArgument, ErrorKind::NotFound, ErrorKind::Conflict, ErrorKind::Corrupt,
                 ErrorKind::VerifyFailed, ErrorKind::Unavailable, ErrorKind::Timeout, ErrorKind::Denied, ErrorKind::Io,
                 ErrorKind::Internal}) {
            std::string msg = std::string("failed: ") + error_kind_name(k) + " \"quoted\"\nnewline";
            std::string line = encode_response(Result<Json>(Error(k, msg)));
            EXPECT_EQ(line.find('\n'), line.size() - 1);
            auto back = decode_response(line);
            ASSERT_TRUE(fails_with(back, k));
            EXPECT_EQ(back.error().message(), msg);
        }
    }
    {
        SCOPED_TRACE("DecodeResponseRefusesGarbage");
        for (const char* doc : {"", "[]", "{}", R"({"ok":"yes"})", R"({"ok":1})", "not json"}) {
            EXPECT_TRUE(decode_response(doc).is_error()) << doc;
        }
        // An unknown or missing error kind becomes Internal rather than something more specific.
        EXPECT_TRUE(fails_with(decode_response(R"({"ok":false,"error":{"kind":"bogus","message":"m"}})"), ErrorKind::Internal));
        EXPECT_TRUE(fails_with(decode_response(R"({"ok":false})"), ErrorKind::Internal));
        EXPECT_TRUE(fails_with(decode_response(R"({"ok":false,"error":"x"})"), ErrorKind::Internal));
        auto ok_no_result = decode_response(R"({"ok":true})");
        ASSERT_TRUE(is_ok(ok_no_result));
        EXPECT_TRUE(ok_no_result.value().is_null());
    }
}

TEST(Protocol, ProgressLines)
{
    {
        SCOPED_TRACE("RequestAsksOnlyWhenTold");
        Request plain {"image.scan", Json::object()};
        EXPECT_EQ(encode_request(plain).find("progress"), std::string::npos) << "a request reads as before";
        Request asking {"image.scan", Json::object(), true};
        auto back = parse_request(encode_request(asking));
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(back.value().progress);
        EXPECT_FALSE(parse_request(R"({"method":"ping"})").value().progress);
        EXPECT_TRUE(fails_with(parse_request(R"({"method":"ping","progress":1})"), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(parse_request(R"({"method":"ping","progress":"true"})"), ErrorKind::InvalidArgument));
    }
    {
        SCOPED_TRACE("InterimLinesAreToldFromTheAnswer");
        std::string line = encode_progress(Progress {3, 10, 4096});
        EXPECT_EQ(line.back(), '\n');
        auto decoded = decode_response_line(line.substr(0, line.size() - 1));
        EXPECT_TRUE(decoded.interim);
        ASSERT_TRUE(decoded.progress);
        EXPECT_EQ(decoded.progress->files, 3u);
        EXPECT_EQ(decoded.progress->files_total, 10u);
        EXPECT_EQ(decoded.progress->bytes, 4096u);
        // A result that holds a "progress" key is still the answer.
        auto answer = decode_response_line(encode_response(Result<Json>(Json {{"progress", 1}})));
        EXPECT_FALSE(answer.interim);
        ASSERT_TRUE(is_ok(answer.result));
        EXPECT_EQ(answer.result.value()["progress"], 1);
        auto error = decode_response_line(encode_response(Result<Json>(Error(ErrorKind::NotFound, "gone"))));
        EXPECT_FALSE(error.interim);
        EXPECT_TRUE(fails_with(error.result, ErrorKind::NotFound));
    }
    {
        SCOPED_TRACE("UnreadableProgressIsSkippedNotFatal");
        for (const char* bad : {R"({"progress":{"files":1}})", R"({"progress":{"files":-1,"files_total":2,"bytes":0}})",
                 R"({"progress":{"files":3,"files_total":2,"bytes":0}})", R"({"progress":{"files":1.5,"files_total":2,"bytes":0}})",
                 R"({"progress":"half"})"}) {
            auto d = decode_response_line(bad);
            EXPECT_TRUE(d.interim) << bad;
            EXPECT_FALSE(d.progress) << bad;
        }
        auto garbage = decode_response_line("{");
        EXPECT_FALSE(garbage.interim);
        EXPECT_TRUE(garbage.result.is_error());
    }
}

TEST(Protocol, InvalidUtf8InResultDoesNotThrow)
{
    std::string guest_bytes = "out: \xff\xfe\xc3(\x80 end";
    std::string line;
    ASSERT_NO_THROW(line = encode_response(Result<Json>(Json {{"out", guest_bytes}})));
    auto back = decode_response(line);
    ASSERT_TRUE(is_ok(back));
    std::string out = back.value()["out"].get<std::string>();
    EXPECT_EQ(out.substr(0, 5), "out: ");
    EXPECT_NE(out.find("\xef\xbf\xbd"), std::string::npos) << "invalid bytes become U+FFFD";
    EXPECT_EQ(out.substr(out.size() - 4), " end");

    ASSERT_NO_THROW(line = encode_response(Result<Json>(Error(ErrorKind::Conflict, "guest said \xc3"))));
    auto err = decode_response(line);
    EXPECT_TRUE(fails_with(err, ErrorKind::Conflict));
}

}  // namespace
}  // namespace bulwark
