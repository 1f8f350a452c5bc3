// Fuzzes the dpkg version parser and ordering. The input is split at '\n' into up to three
// versions a, b, c. Every accepted version must round-trip, compare equal to itself and agree
// with a literal transcription of dpkg's own verrevcmp (lib/dpkg/version.c); the order must
// be antisymmetric and transitive over a, b, c.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "vuln/dpkg_version.h"

using namespace bulwark::vuln;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static int sign(int v)
{
    return v < 0 ? -1 : v > 0 ? 1 : 0;
}

// dpkg 1.21's order() and verrevcmp(), kept as close to the C original as possible, on
// NUL-terminated strings: the oracle for compare().
static int dpkg_order(int c)
{
    if (c >= '0' && c <= '9')
        return 0;
    else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return c;
    else if (c == '~')
        return -1;
    else if (c)
        return c + 256;
    else
        return 0;
}

static bool dpkg_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

static int dpkg_verrevcmp(const char* a, const char* b)
{
    while (*a || *b) {
        int first_diff = 0;

        while ((*a && !dpkg_isdigit(*a)) || (*b && !dpkg_isdigit(*b))) {
            int ac = dpkg_order(*a);
            int bc = dpkg_order(*b);

            if (ac != bc)
                return ac - bc;

            a++;
            b++;
        }
        while (*a == '0')
            a++;
        while (*b == '0')
            b++;
        while (dpkg_isdigit(*a) && dpkg_isdigit(*b)) {
            if (!first_diff)
                first_diff = *a - *b;
            a++;
            b++;
        }

        if (dpkg_isdigit(*a))
            return 1;
        if (dpkg_isdigit(*b))
            return -1;
        if (first_diff)
            return first_diff;
    }

    return 0;
}

static int oracle(const DpkgVersion& a, const DpkgVersion& b)
{
    if (a.epoch() != b.epoch())
        return a.epoch() > b.epoch() ? 1 : -1;
    int rc = dpkg_verrevcmp(std::string(a.upstream()).c_str(), std::string(b.upstream()).c_str());
    if (rc)
        return sign(rc);
    return sign(dpkg_verrevcmp(std::string(a.revision()).c_str(), std::string(b.revision()).c_str()));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> parts;
    size_t pos = 0;
    while (parts.size() < 2) {
        size_t nl = input.find('\n', pos);
        if (nl == std::string::npos)
            break;
        parts.push_back(input.substr(pos, nl - pos));
        pos = nl + 1;
    }
    parts.push_back(input.substr(pos));

    std::vector<DpkgVersion> versions;
    for (const auto& p : parts) {
        // The raw part comparison never crashes and is antisymmetric on anything without NULs.
        if (p.find('\0') == std::string::npos)
            check(sign(compare_version_part(p, p)) == 0);
        auto v = DpkgVersion::parse(p);
        if (v.is_error()) {
            check(v.error().kind() == bulwark::ErrorKind::InvalidArgument);
            continue;
        }
        const DpkgVersion& d = v.value();
        check(d.str() == p);
        check(!d.upstream().empty());
        check(p.size() <= k_max_version_length);
        check(compare(d, d) == 0);
        check(oracle(d, d) == 0);
        // Reassembling the parts gives a version that compares equal (and, when the epoch
        // was spelt without leading zeros, the same string).
        std::string again = (d.has_epoch() ? std::to_string(d.epoch()) + ":" : "") + std::string(d.upstream())
            + (d.has_revision() ? "-" + std::string(d.revision()) : "");
        auto back = DpkgVersion::parse(again);
        check(back.is_ok());
        check(compare(back.value(), d) == 0);
        versions.push_back(v.release_value());
    }

    for (size_t i = 0; i < versions.size(); ++i) {
        for (size_t j = 0; j < versions.size(); ++j) {
            int c = compare(versions[i], versions[j]);
            check(c >= -1 && c <= 1);
            check(c == oracle(versions[i], versions[j]));
            check(sign(compare(versions[j], versions[i])) == -c);
            auto via_text = compare_versions(versions[i].str(), versions[j].str());
            check(via_text.is_ok() && via_text.value() == c);
        }
    }
    if (versions.size() == 3) {
        const auto& a = versions[0];
        const auto& b = versions[1];
        const auto& c = versions[2];
        int ab = compare(a, b);
        int bc = compare(b, c);
        int ac = compare(a, c);
        if (ab <= 0 && bc <= 0)
            check(ac <= 0);
        if (ab >= 0 && bc >= 0)
            check(ac >= 0);
        if (ab == 0)
            check(ac == bc);
    }
    return 0;
}
