// Debian package versions, parsed and ordered exactly as dpkg does (deb-version(7)).
//
//   [epoch:]upstream[-revision]
//
// epoch: decimal digits, at most INT_MAX (dpkg's limit); without it the epoch is 0.
// upstream: the part between the first ':' and the last '-'. It may contain ':' only when an
//   epoch is present and '-' only when a revision is present (both follow from the split).
// revision: everything after the last '-'; absent means "" (which orders like "0").
//
// Ordering: epochs numerically, then upstream, then revision, each with dpkg's verrevcmp:
// alternate non-digit runs (compared character by character: '~' before everything, even
// the end of the part; then the end; then letters; then all other characters, each by
// ASCII value) and digit runs (compared as numbers, without ever converting them to
// integers, so runs of any length compare correctly: leading zeros are skipped, then the
// longer run is the larger, then the first differing digit decides).
//
// Validation, stricter than dpkg where dpkg only warns or quietly repairs:
//   - errors like dpkg's: empty version, empty or non-numeric or too large epoch, nothing
//     after the epoch colon, empty upstream, empty revision after a trailing '-';
//   - an upstream that does not start with a digit is ACCEPTED: dpkg only warns about it and
//     orders it normally, and old archives contain such versions;
//   - characters outside [A-Za-z0-9.+~-:] in upstream or [A-Za-z0-9.+~] in revision are
//     REJECTED (dpkg warns and carries on); so are whitespace (dpkg trims it) and a signed
//     epoch like "+1:" (which dpkg's strtol accepts);
//   - versions longer than k_max_version_length bytes are rejected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace bulwark::vuln {

inline constexpr size_t k_max_version_length = 256;

class DpkgVersion {
public:
    // Parses text; an InvalidArgument error says what is wrong with it.
    static Result<DpkgVersion> parse(std::string_view text);

    uint32_t epoch() const { return m_epoch; }
    std::string_view upstream() const { return std::string_view(m_text).substr(m_upstream_begin, m_upstream_size); }
    // "" when the version has no revision.
    std::string_view revision() const { return m_has_revision ? std::string_view(m_text).substr(m_revision_begin) : ""; }
    bool has_epoch() const { return m_has_epoch; }
    bool has_revision() const { return m_has_revision; }
    // The version exactly as parsed.
    const std::string& str() const { return m_text; }

private:
    DpkgVersion() = default;
    std::string m_text;
    uint32_t m_epoch = 0;
    uint32_t m_upstream_begin = 0;
    uint32_t m_upstream_size = 0;
    uint32_t m_revision_begin = 0;
    bool m_has_epoch = false;
    bool m_has_revision = false;
};

// dpkg's ordering: negative, zero or positive as a sorts before, with or after b. Versions
// can compare equal yet be spelt differently ("1.0" and "1.00", "0:1.0" and "1.0").
int compare(const DpkgVersion& a, const DpkgVersion& b);

// verrevcmp on one upstream or revision part (no epoch handling, no validation).
int compare_version_part(std::string_view a, std::string_view b);

// Parses both strings and compares them: -1, 0 or 1.
Result<int> compare_versions(std::string_view a, std::string_view b);

} // namespace bulwark::vuln
