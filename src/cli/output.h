// Human-readable output for the CLI: aligned tables and sizes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bulwark::cli {

class Table {
public:
    explicit Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}
    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
    std::string render() const;

private:
    std::vector<std::string> m_headers;
    std::vector<std::vector<std::string>> m_rows;
};

std::string human_size(int64_t bytes);
// Parses a memory size for --memory: "512" (MiB), "512M", "2G". -1 if invalid.
int64_t parse_memory_mib(const std::string& text);

}  // namespace bulwark::cli
