#include "vuln/dpkg_version.h"

#include <climits>

#include "vuln/text.h"

namespace bulwark::vuln {

static Error invalid(std::string_view text, const std::string& why)
{
    return Error(ErrorKind::InvalidArgument, "invalid version " + quote_text(text) + ": " + why);
}

Result<DpkgVersion> DpkgVersion::parse(std::string_view text)
{
    if (text.empty())
        return Error(ErrorKind::InvalidArgument, "invalid version '': the version string is empty");
    if (text.size() > k_max_version_length)
        return invalid(text, "it is longer than " + std::to_string(k_max_version_length) + " bytes");
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            return invalid(text, "it contains whitespace");
    }

    DpkgVersion v;
    v.m_text = std::string(text);
    size_t begin = 0;
    size_t colon = text.find(':');
    if (colon != std::string_view::npos) {
        std::string_view epoch = text.substr(0, colon);
        if (epoch.empty())
            return invalid(text, "the epoch before ':' is empty");
        for (char c : epoch) {
            if (!is_ascii_digit(c))
                return invalid(text, "the epoch " + quote_text(epoch) + " is not a number");
        }
        // Compare digit strings: no overflow however long the epoch is.
        size_t first = epoch.find_first_not_of('0');
        std::string_view digits = first == std::string_view::npos ? std::string_view() : epoch.substr(first);
        static constexpr std::string_view max_epoch = "2147483647"; // INT_MAX, dpkg's limit
        static_assert(INT_MAX == 2147483647);
        if (digits.size() > max_epoch.size() || (digits.size() == max_epoch.size() && digits > max_epoch))
            return invalid(text, "the epoch is larger than " + std::string(max_epoch));
        uint32_t value = 0;
        for (char c : digits)
            value = value * 10 + static_cast<uint32_t>(c - '0');
        v.m_epoch = value;
        v.m_has_epoch = true;
        begin = colon + 1;
        if (begin == text.size())
            return invalid(text, "nothing follows the epoch colon");
    }

    std::string_view rest = text.substr(begin);
    size_t hyphen = rest.rfind('-');
    std::string_view upstream = rest;
    if (hyphen != std::string_view::npos) {
        upstream = rest.substr(0, hyphen);
        if (hyphen + 1 == rest.size())
            return invalid(text, "the revision after the last '-' is empty");
        v.m_has_revision = true;
        v.m_revision_begin = static_cast<uint32_t>(begin + hyphen + 1);
    }
    if (upstream.empty())
        return invalid(text, "the upstream version is empty");
    v.m_upstream_begin = static_cast<uint32_t>(begin);
    v.m_upstream_size = static_cast<uint32_t>(upstream.size());

    for (char c : upstream) {
        if (!is_ascii_alnum(c) && c != '.' && c != '+' && c != '~' && c != '-' && c != ':')
            return invalid(text, "the upstream version contains the character " + quote_text(std::string_view(&c, 1)));
    }
    for (char c : v.revision()) {
        if (!is_ascii_alnum(c) && c != '.' && c != '+' && c != '~')
            return invalid(text, "the revision contains the character " + quote_text(std::string_view(&c, 1)));
    }
    return v;
}

// dpkg's order(): the weight of one non-digit position. 0 stands for the end of the part
// (and for a digit, which ends a non-digit run).
static int order(int c)
{
    if (c >= '0' && c <= '9')
        return 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return c;
    if (c == '~')
        return -1;
    if (c)
        return c + 256;
    return 0;
}

int compare_version_part(std::string_view a, std::string_view b)
{
    size_t i = 0;
    size_t j = 0;
    auto at = [](std::string_view s, size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; };
    auto digit_at = [](std::string_view s, size_t k) { return k < s.size() && is_ascii_digit(s[k]); };
    while (i < a.size() || j < b.size()) {
        // The non-digit run.
        while ((i < a.size() && !digit_at(a, i)) || (j < b.size() && !digit_at(b, j))) {
            int ac = order(at(a, i));
            int bc = order(at(b, j));
            if (ac != bc)
                return ac < bc ? -1 : 1;
            // Equal weights here mean the same character on both sides (the end or a digit
            // weighs 0, which no character in a non-digit run does), so neither is at its end.
            ++i;
            ++j;
        }
        // The digit run, as a number: skip leading zeros, then the longer run wins, else the
        // first differing digit.
        while (i < a.size() && a[i] == '0')
            ++i;
        while (j < b.size() && b[j] == '0')
            ++j;
        int first_diff = 0;
        while (digit_at(a, i) && digit_at(b, j)) {
            if (!first_diff)
                first_diff = a[i] - b[j];
            ++i;
            ++j;
        }
        if (digit_at(a, i))
            return 1;
        if (digit_at(b, j))
            return -1;
        if (first_diff)
            return first_diff < 0 ? -1 : 1;
    }
    return 0;
}

int compare(const DpkgVersion& a, const DpkgVersion& b)
{
    if (a.epoch() != b.epoch())
        return a.epoch() < b.epoch() ? -1 : 1;
    if (int rc = compare_version_part(a.upstream(), b.upstream()))
        return rc;
    return compare_version_part(a.revision(), b.revision());
}

Result<int> compare_versions(std::string_view a, std::string_view b)
{
    auto va = TRY(DpkgVersion::parse(a));
    auto vb = TRY(DpkgVersion::parse(b));
    return compare(va, vb);
}

} // namespace bulwark::vuln
