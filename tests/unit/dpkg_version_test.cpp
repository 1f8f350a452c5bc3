// dpkg version parsing and ordering, checked against the real dpkg: a hand-written table of
// tricky pairs, thousands of generated pairs (fixed seed) and generated near-valid strings
// whose acceptance must agree with dpkg's.
#include <chrono>
#include <cstdio>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/process.h"
#include "test_util.h"
#include "vuln/dpkg_version.h"

namespace bulwark::vuln {
namespace {

using namespace std::chrono_literals;
using test::fails_with;
using test::is_ok;

int sign(int v)
{
    return v < 0 ? -1 : v > 0 ? 1 : 0;
}

char relation(int c)
{
    return c < 0 ? '<' : c > 0 ? '>' : '=';
}

// Runs `dpkg --compare-versions` on each pair through one sh per batch (argv only: the
// versions are positional parameters, never part of the script). One line per pair:
// '<', '=', '>' or 'E' when dpkg refused a version.
std::string dpkg_relations(const std::vector<std::pair<std::string, std::string>>& pairs)
{
    static const char* script = "for_pair() {\n"
                                "  dpkg --compare-versions \"$1\" lt \"$2\" 2>/dev/null; r=$?\n"
                                "  if [ $r = 0 ]; then echo '<'; return; fi\n"
                                "  if [ $r != 1 ]; then echo E; return; fi\n"
                                "  dpkg --compare-versions \"$1\" eq \"$2\" 2>/dev/null; r=$?\n"
                                "  if [ $r = 0 ]; then echo '='; elif [ $r = 1 ]; then echo '>'; else echo E; fi\n"
                                "}\n"
                                "while [ $# -ge 2 ]; do for_pair \"$1\" \"$2\"; shift 2; done\n";
    std::vector<std::string> argv = { "sh", "-c", script, "sh" };
    for (const auto& [a, b] : pairs) {
        argv.push_back(a);
        argv.push_back(b);
    }
    auto r = run_command(argv, 300s);
    if (r.is_error() || !r.value().status.success())
        return "dpkg batch failed: " + (r.is_error() ? r.error().message() : r.value().output);
    std::string out;
    for (char c : r.value().output) {
        if (c != '\n')
            out.push_back(c);
    }
    return out;
}

// The same in two threads, one per core.
std::string dpkg_relations_parallel(const std::vector<std::pair<std::string, std::string>>& pairs)
{
    size_t half = pairs.size() / 2;
    std::vector<std::pair<std::string, std::string>> first(pairs.begin(), pairs.begin() + static_cast<ptrdiff_t>(half));
    std::vector<std::pair<std::string, std::string>> second(pairs.begin() + static_cast<ptrdiff_t>(half), pairs.end());
    std::string a;
    std::string b;
    std::thread t([&] { a = dpkg_relations(first); });
    b = dpkg_relations(second);
    t.join();
    return a + b;
}

TEST(DpkgVersion, ParsesParts)
{
    auto v = DpkgVersion::parse("1:9.2p1-2+deb12u3");
    ASSERT_TRUE(is_ok(v));
    EXPECT_EQ(v.value().epoch(), 1u);
    EXPECT_TRUE(v.value().has_epoch());
    EXPECT_EQ(v.value().upstream(), "9.2p1");
    EXPECT_EQ(v.value().revision(), "2+deb12u3");
    EXPECT_EQ(v.value().str(), "1:9.2p1-2+deb12u3");

    // The revision starts after the LAST hyphen; the epoch ends at the FIRST colon.
    auto w = DpkgVersion::parse("2:1.0-rc1:x-3-4");
    ASSERT_TRUE(is_ok(w));
    EXPECT_EQ(w.value().epoch(), 2u);
    EXPECT_EQ(w.value().upstream(), "1.0-rc1:x-3");
    EXPECT_EQ(w.value().revision(), "4");

    auto plain = DpkgVersion::parse("5.4.1");
    ASSERT_TRUE(is_ok(plain));
    EXPECT_EQ(plain.value().epoch(), 0u);
    EXPECT_FALSE(plain.value().has_epoch());
    EXPECT_FALSE(plain.value().has_revision());
    EXPECT_EQ(plain.value().revision(), "");

    auto big = DpkgVersion::parse("2147483647:1");
    ASSERT_TRUE(is_ok(big));
    EXPECT_EQ(big.value().epoch(), 2147483647u);
    auto zeros = DpkgVersion::parse("0000000000000000000002:1");
    ASSERT_TRUE(is_ok(zeros)) << "leading zeros do not make an epoch too big";
    EXPECT_EQ(zeros.value().epoch(), 2u);

    // dpkg only warns about a non-digit start; so do we (we accept it).
    EXPECT_TRUE(is_ok(DpkgVersion::parse("a1.0")));
}

TEST(DpkgVersion, RejectsInvalidVersions)
{
    struct Case {
        const char* text;
        const char* why; // a fragment of the message
    };
    const Case cases[] = {
        { "", "empty" },
        { ":1.0", "epoch before ':' is empty" },
        { "a:1.0", "not a number" },
        { "+1:1.0", "not a number" },
        { "-1:1.0", "not a number" },
        { "1:", "nothing follows" },
        { "2147483648:1", "larger than" },
        { "99999999999999999999999:1", "larger than" },
        { "1.0-", "revision after the last '-' is empty" },
        { "1:-1", "upstream version is empty" },
        { "-1", "upstream version is empty" },
        { " 1.0", "whitespace" },
        { "1.0 ", "whitespace" },
        { "1 0", "whitespace" },
        { "1.0\n", "whitespace" },
        { "1.0!", "character '!'" },
        { "1.0_1", "character '_'" },
        { "1.0-1:2", "not a number" },
        { "1:1.0-1:2", "revision contains the character ':'" },
        { "1.0-1_2", "revision contains" },
        { "1.\xc3\xa9", "character '\\xc3'" },
        { "1.0\x1b[31m", "character" },
    };
    for (const auto& c : cases) {
        auto r = DpkgVersion::parse(c.text);
        ASSERT_TRUE(fails_with(r, ErrorKind::InvalidArgument)) << c.text;
        EXPECT_NE(r.error().message().find(c.why), std::string::npos) << r.error().message();
        // The message never echoes raw control bytes.
        for (char ch : r.error().message())
            EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) << r.error().message();
    }
    EXPECT_TRUE(fails_with(DpkgVersion::parse(std::string(k_max_version_length + 1, '1')), ErrorKind::InvalidArgument));
    EXPECT_TRUE(is_ok(DpkgVersion::parse(std::string(k_max_version_length, '1'))));
}

// Pairs whose order is easy to get wrong, with dpkg's answer; the test checks both our
// answer and dpkg's.
struct TrickyPair {
    const char* a;
    char rel;
    const char* b;
};
const TrickyPair k_tricky[] = {
    { "1.0", '<', "1.1" },
    { "1.0~rc1", '<', "1.0" },
    { "1.0~~", '<', "1.0~~a" },
    { "1.0~~a", '<', "1.0~" },
    { "1.0~", '<', "1.0" },
    { "1.0", '<', "1.0a" },
    { "1.0", '=', "1.00" },
    { "0:1.0", '=', "1.0" },
    { "1.0-0", '=', "1.0" },
    { "1.0-1", '=', "1.0-01" },
    { "000000000000000000000000000000001", '=', "1" },
    { "1.0000000000000000000000000001", '=', "1.1" },
    { "1:0.1", '>', "9.9" },
    { "2:1.0", '>', "1:2.0" },
    { "10:1", '>', "9:1" },
    { "00:1", '<', "0:1.0" },
    { "1.0a", '<', "1.0+" },
    { "1.0+", '<', "1.0." },
    { "1.0a", '<', "1.0.1" },
    { "1.0A", '<', "1.0a" },
    { "9.2p1", '>', "9.2" },
    { "1.2.3~beta", '>', "1.2.3~alpha" },
    { "1~", '<', "1" },
    { "1~~", '<', "1~" },
    { "0~", '<', "0" },
    { "1.0~", '<', "1.0-1" },
    { "1.0-1~", '<', "1.0-1" },
    { "1.0-~", '<', "1.0" },
    { "1.0", '>', "1.0-0~" },
    { "1.0+~", '>', "1.0" },
    { "1.0", '<', "1..0" },
    { "1.0-1", '<', "1.0-1.1" },
    { "1.0-a-b", '>', "1.0-a" },
    { "1:2:3", '<', "1:2:4" },
    { "1.0+dfsg", '<', "1.0+dfsg1" },
    { "a1", '>', "1" },
    { "1.123456789012345678901234567890", '>', "1.123456789012345678901234567889" },
    { "99999999999999999999999", '>', "99999999999999999999998" },
    { "123456789012345678901234567890", '>', "99999999999999999999999999999" },
    // Debian security updates as they appear in bookworm.
    { "2.36-9+deb12u3", '>', "2.36-9" },
    { "3.0.11-1~deb12u2", '<', "3.0.11-1" },
    { "3.0.11-1~deb12u2", '>', "3.0.11-1~deb12u1" },
    { "7.88.1-10+deb12u4", '<', "7.88.1-10+deb12u14" },
    { "5.4.1-0.2", '<', "5.4.1-1" },
    { "1:9.2p1-2+deb12u3", '>', "1:9.2p1-2+deb12u2" },
    { "1:1.2.13.dfsg-1", '>', "1:1.2.11.dfsg-4.1" },
    { "5.2.15-2+b8", '>', "5.2.15-2" },
};

TEST(DpkgVersion, TrickyPairsMatchTableAndDpkg)
{
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& t : k_tricky) {
        auto c = compare_versions(t.a, t.b);
        ASSERT_TRUE(is_ok(c)) << t.a << " " << t.b;
        EXPECT_EQ(relation(c.value()), t.rel) << t.a << " vs " << t.b;
        auto back = compare_versions(t.b, t.a);
        ASSERT_TRUE(is_ok(back));
        EXPECT_EQ(sign(back.value()), -sign(c.value())) << "antisymmetry: " << t.a << " vs " << t.b;
        pairs.emplace_back(t.a, t.b);
    }
    std::string dpkg = dpkg_relations(pairs);
    ASSERT_EQ(dpkg.size(), pairs.size()) << dpkg;
    for (size_t i = 0; i < pairs.size(); ++i)
        EXPECT_EQ(dpkg[i], k_tricky[i].rel) << "dpkg disagrees with the table: " << pairs[i].first << " vs " << pairs[i].second;
}

// Random versions in the shapes Debian uses, and the corners of the algorithm.
class VersionGenerator {
public:
    explicit VersionGenerator(uint64_t seed)
        : m_rng(seed)
    {
    }

    size_t below(size_t n) { return static_cast<size_t>(m_rng() % n); }
    bool chance(size_t percent) { return below(100) < percent; }

    std::string digits()
    {
        std::string s;
        if (chance(15))
            s.append(1 + below(3), '0'); // leading zeros
        size_t n = chance(8) ? 21 + below(20) : 1 + below(chance(70) ? 2 : 4);
        for (size_t i = 0; i < n; ++i)
            s.push_back(static_cast<char>('0' + below(10)));
        return s;
    }

    std::string letters()
    {
        static const char alphabet[] = "abcpzdfsgrcABZ";
        std::string s;
        for (size_t n = 1 + below(chance(70) ? 2 : 5); n > 0; --n)
            s.push_back(alphabet[below(sizeof alphabet - 1)]);
        return s;
    }

    std::string separator()
    {
        static const char* seps[] = { ".", ".", ".", "+", "~", "~~", ".~", "+~", "~.", "..", "+" };
        return seps[below(std::size(seps))];
    }

    // A part made of alternating runs; extra holds the characters allowed only here ('-', ':').
    std::string part(bool start_with_digit, const std::string& extra)
    {
        std::string s = start_with_digit ? digits() : letters();
        for (size_t n = below(6); n > 0; --n) {
            size_t kind = below(10);
            if (kind < 4)
                s += separator() + digits();
            else if (kind < 6)
                s += letters() + (chance(50) ? digits() : "");
            else if (kind < 7)
                s += separator() + letters();
            else if (kind < 8)
                s += "~" + letters() + digits(); // ~rc1, ~deb12u1
            else if (kind < 9 && !extra.empty())
                s += std::string(1, extra[below(extra.size())]) + digits();
            else
                s += digits();
        }
        if (chance(8))
            s += "~";
        return s;
    }

    std::string version()
    {
        std::string out;
        bool epoch = chance(30);
        bool revision = chance(60);
        if (epoch) {
            static const char* epochs[] = { "0", "1", "2", "00", "01", "10", "9", "2147483647", "000000000000000000000003" };
            out += std::string(epochs[below(std::size(epochs))]) + ":";
        }
        std::string extra = std::string(revision ? "-" : "") + (epoch ? ":" : "");
        out += part(!chance(4), extra);
        if (revision)
            out += "-" + part(chance(85), "");
        return out;
    }

    // A small edit of v, so that pairs are close and their order is decided late.
    std::string mutate(std::string v)
    {
        switch (below(12)) {
        case 0:
            return v + "~";
        case 1:
            return v + (chance(50) ? "~rc1" : "~~");
        case 2:
            return v + (chance(50) ? "+b1" : ".0");
        case 3:
            return v + (chance(50) ? "a" : "0");
        case 4:
            return v.size() > 1 ? v.substr(0, v.size() - 1) : v;
        case 5:
            return v.find(':') == std::string::npos ? "0:" + v : v.substr(v.find(':') + 1);
        case 6:
        case 7: { // bump or lower one digit
            std::vector<size_t> positions;
            for (size_t i = 0; i < v.size(); ++i) {
                if (v[i] >= '0' && v[i] <= '9')
                    positions.push_back(i);
            }
            if (!positions.empty()) {
                size_t i = positions[below(positions.size())];
                v[i] = static_cast<char>('0' + below(10));
            }
            return v;
        }
        case 8: { // a leading zero before some digit run
            for (size_t i = 0; i < v.size(); ++i) {
                if (v[i] >= '0' && v[i] <= '9' && (i == 0 || !(v[i - 1] >= '0' && v[i - 1] <= '9')) && chance(40))
                    return v.substr(0, i) + "0" + v.substr(i);
            }
            return "0" + v;
        }
        case 9: { // swap one separator for another
            for (size_t i = 0; i < v.size(); ++i) {
                if ((v[i] == '.' || v[i] == '+' || v[i] == '~') && chance(50)) {
                    static const char repl[] = ".+~";
                    v[i] = repl[below(3)];
                    return v;
                }
            }
            return v;
        }
        case 10:
            return v.find('-') == std::string::npos ? v + "-0" : v + ".1";
        default:
            return v + "-1";
        }
    }

private:
    std::mt19937_64 m_rng;
};

TEST(DpkgVersion, GeneratedPairsAgreeWithDpkg)
{
    VersionGenerator gen(0x4275'6c77'6172'6b31ULL);
    std::vector<std::pair<std::string, std::string>> pairs;
    constexpr size_t k_pairs = 6000;
    size_t long_runs = 0, tildes = 0, epochs = 0, equal_spellings = 0;
    while (pairs.size() < k_pairs) {
        std::string a = gen.version();
        size_t kind = gen.below(20);
        std::string b;
        if (kind < 5)
            b = gen.version();
        else if (kind < 18)
            b = gen.mutate(gen.chance(30) ? gen.mutate(a) : a);
        else
            b = a;
        if (gen.chance(50))
            std::swap(a, b);
        // Only pairs we accept go to the ordering test; acceptance is tested separately.
        if (DpkgVersion::parse(a).is_error() || DpkgVersion::parse(b).is_error())
            continue;
        pairs.emplace_back(a, b);
    }
    for (const auto& [a, b] : pairs) {
        for (const auto* s : { &a, &b }) {
            long_runs += s->find("000000000000000000000") != std::string::npos || s->size() > 30;
            tildes += s->find('~') != std::string::npos;
            epochs += s->find(':') != std::string::npos;
        }
        equal_spellings += a != b && compare_versions(a, b).value() == 0;
    }
    // The generator covers what it is meant to.
    EXPECT_GT(long_runs, 100u);
    EXPECT_GT(tildes, 1000u);
    EXPECT_GT(epochs, 1000u);
    EXPECT_GT(equal_spellings, 100u);

    auto start = std::chrono::steady_clock::now();
    std::string dpkg = dpkg_relations_parallel(pairs);
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    ASSERT_EQ(dpkg.size(), pairs.size()) << dpkg.substr(0, 500);
    size_t mismatches = 0;
    size_t counts[3] = {};
    for (size_t i = 0; i < pairs.size(); ++i) {
        int ours = compare_versions(pairs[i].first, pairs[i].second).value();
        ++counts[sign(ours) + 1];
        if (relation(ours) != dpkg[i] && ++mismatches <= 20)
            ADD_FAILURE() << "'" << pairs[i].first << "' vs '" << pairs[i].second << "': dpkg says " << dpkg[i] << ", we say "
                          << relation(ours);
    }
    EXPECT_EQ(mismatches, 0u);
    // All three outcomes are well represented.
    for (size_t c : counts)
        EXPECT_GT(c, k_pairs / 10);
    std::printf("[ dpkg     ] %zu generated pairs (%zu <, %zu =, %zu >) compared with dpkg in %lld ms\n", pairs.size(), counts[0],
        counts[1], counts[2], static_cast<long long>(elapsed.count()));
}

// Whether dpkg accepts s only with a warning (or by a quirk) where we refuse it, for strings
// over the alphabet of the test below: a ':' in the revision (dpkg warns, and does not even
// look when the upstream part does not start with a digit), or an epoch with a '+' sign
// (accepted by dpkg's strtol).
bool dpkg_only_warns(const std::string& s)
{
    size_t colon = s.find(':');
    if (colon != std::string::npos && colon > 1 && s[0] == '+' && s.find_first_not_of("0123456789", 1) == colon)
        return true;
    std::string rest = colon == std::string::npos ? s : s.substr(colon + 1);
    size_t hyphen = rest.rfind('-');
    return hyphen != std::string::npos && rest.find(':', hyphen) != std::string::npos;
}

// Near-valid strings: we accept exactly what dpkg accepts, except for the characters dpkg
// only warns about (we refuse them; see dpkg_version.h).
TEST(DpkgVersion, AcceptanceAgreesWithDpkg)
{
    VersionGenerator gen(0x7e57'a11f'0000'0001ULL);
    static const char alphabet[] = "0123456789.+~-:aZ";
    std::vector<std::string> inputs;
    while (inputs.size() < 2000) {
        std::string s;
        if (gen.chance(50)) {
            for (size_t n = 1 + gen.below(8); n > 0; --n)
                s.push_back(alphabet[gen.below(sizeof alphabet - 1)]);
        } else {
            // A valid version with a ':' or '-' put somewhere.
            s = gen.version();
            size_t at = gen.below(s.size() + 1);
            s.insert(at, 1, gen.chance(50) ? ':' : '-');
        }
        if (s[0] == '-')
            continue; // dpkg would read it as an option
        inputs.push_back(s);
    }
    static const char* script = "for v do\n"
                                "  msg=$(dpkg --compare-versions \"$v\" eq \"$v\" 2>&1); rc=$?\n"
                                "  case \"$msg\" in *'invalid character'*) echo \"$rc w\";; *) echo \"$rc\";; esac\n"
                                "done\n";
    std::vector<std::string> argv = { "sh", "-c", script, "sh" };
    argv.insert(argv.end(), inputs.begin(), inputs.end());
    auto start = std::chrono::steady_clock::now();
    auto r = run_command(argv, 300s);
    ASSERT_TRUE(is_ok(r));
    ASSERT_TRUE(r.value().status.success()) << r.value().output;
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::vector<std::string> lines;
    std::string line;
    for (char c : r.value().output) {
        if (c == '\n') {
            lines.push_back(line);
            line.clear();
        } else {
            line.push_back(c);
        }
    }
    ASSERT_EQ(lines.size(), inputs.size());
    size_t accepted = 0, rejected = 0, stricter = 0, mismatches = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        bool dpkg_ok = lines[i] == "0" || lines[i] == "0 w";
        bool ours = DpkgVersion::parse(inputs[i]).is_ok();
        bool expected = dpkg_ok && !dpkg_only_warns(inputs[i]);
        if (lines[i] == "0 w") {
            EXPECT_TRUE(dpkg_only_warns(inputs[i])) << inputs[i] << ": dpkg warned about a character the classifier missed";
        }
        if (dpkg_ok && !expected)
            ++stricter;
        else
            ours ? ++accepted : ++rejected;
        if (ours != expected && ++mismatches <= 20)
            ADD_FAILURE() << "'" << inputs[i] << "': dpkg " << (dpkg_ok ? "accepts" : "refuses") << " (" << lines[i] << "), we "
                          << (ours ? "accept" : "refuse") << ", expected " << (expected ? "accept" : "refuse");
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_GT(accepted, 300u);
    EXPECT_GT(rejected, 300u);
    EXPECT_GT(stricter, 10u);
    std::printf("[ dpkg     ] %zu strings: %zu accepted, %zu refused by both, %zu refused only by us; %lld ms\n", inputs.size(),
        accepted, rejected, stricter, static_cast<long long>(elapsed.count()));
}

TEST(DpkgVersion, OrderIsTotalOnGeneratedVersions)
{
    // Antisymmetry and transitivity over a sorted sample (independent of dpkg).
    VersionGenerator gen(99);
    std::vector<DpkgVersion> versions;
    while (versions.size() < 600) {
        auto v = DpkgVersion::parse(gen.chance(50) ? gen.version() : gen.mutate(gen.version()));
        if (v.is_ok())
            versions.push_back(v.release_value());
    }
    std::stable_sort(
        versions.begin(), versions.end(), [](const DpkgVersion& a, const DpkgVersion& b) { return compare(a, b) < 0; });
    for (size_t i = 0; i < versions.size(); ++i) {
        EXPECT_EQ(compare(versions[i], versions[i]), 0);
        for (size_t j = i + 1; j < versions.size(); ++j) {
            int c = compare(versions[i], versions[j]);
            ASSERT_LE(c, 0) << versions[i].str() << " sorted before " << versions[j].str();
            ASSERT_EQ(sign(compare(versions[j], versions[i])), -sign(c));
        }
    }
}

} // namespace
} // namespace bulwark::vuln
