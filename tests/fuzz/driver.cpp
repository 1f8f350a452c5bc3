// A main() for the fuzz targets when they are built without libFuzzer (g++, or clang without
// -DBULWARK_FUZZ=ON). It makes each target a deterministic regression test:
//
//   <name>_fuzz <corpus dir or file>... [-runs=N] [-seed=S]
//
// runs LLVMFuzzerTestOneInput on every corpus file, then on N (default 20000) inputs made by
// seeded random mutation of the corpus (bit flips, byte edits, interesting integers, inserts,
// deletes, splices of two corpus files, random lengths up to 64 KiB). Without coverage
// feedback this finds less than libFuzzer, but it runs everywhere, the same way every time.
// A sanitizer report or an uncaught exception aborts the process; before dying, the input
// that did it is written to ./crash-<run> so it can be replayed (pass that file instead of
// the corpus directory).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);
// Present when built with a sanitizer; called just before the process dies of a report.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

// Sanitizer settings for these runs (the environment's ASAN_OPTIONS still wins): a smaller
// quarantine and shorter allocation stacks make the many short runs several times faster;
// use-after-free is still caught within 16 MiB of later allocations.
extern "C" __attribute__((used)) const char* __asan_default_options()
{
    return "quarantine_size_mb=16:malloc_context_size=8";
}

namespace {

constexpr size_t k_max_len = 64 * 1024;

// The input being run, for the crash dump. Plain globals: the dump runs in a signal handler.
const uint8_t* g_current = nullptr;
size_t g_current_size = 0;
uint64_t g_run = 0;

void dump_current_input()
{
    static volatile sig_atomic_t dumped = 0;
    if (dumped || !g_current)
        return;
    dumped = 1;
    char name[64];
    // snprintf is not async-signal-safe in theory; with a fixed format and no locale it is
    // fine in practice, and this is the last thing the process does.
    int n = std::snprintf(name, sizeof name, "crash-%llu", static_cast<unsigned long long>(g_run));
    if (n <= 0)
        return;
    int fd = ::open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    size_t off = 0;
    while (off < g_current_size) {
        ssize_t w = ::write(fd, g_current + off, g_current_size - off);
        if (w <= 0)
            break;
        off += static_cast<size_t>(w);
    }
    ::close(fd);
    const char msg[] = "\n== fuzz driver: the failing input was written to ./";
    (void)!::write(2, msg, sizeof msg - 1);
    (void)!::write(2, name, static_cast<size_t>(n));
    (void)!::write(2, "\n", 1);
}

void on_fatal_signal(int sig)
{
    dump_current_input();
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void on_terminate()
{
    if (auto e = std::current_exception()) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "== fuzz driver: uncaught exception: %s\n", ex.what());
        } catch (...) {
            std::fprintf(stderr, "== fuzz driver: uncaught exception of unknown type\n");
        }
    }
    dump_current_input();
    std::abort();
}

// splitmix64: small, fast and the same on every platform.
class Rng {
public:
    explicit Rng(uint64_t seed) : m_state(seed) {}
    uint64_t next()
    {
        uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
    // A length biased towards small values: uniform in [0, 2^k) for a uniform k.
    size_t length(size_t max)
    {
        size_t bits = below(17);
        size_t v = below(size_t(1) << bits);
        return v > max ? max : v;
    }

private:
    uint64_t m_state;
};

using Bytes = std::vector<uint8_t>;

void put_integer(Bytes& b, Rng& rng)
{
    static const uint64_t interesting[] = {0, 1, 2, 3, 4, 7, 8, 9, 16, 20, 21, 22, 30, 31, 32, 63, 64, 100, 104, 127, 128,
        255, 256, 511, 512, 513, 1023, 1024, 4095, 4096, 4097, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff,
        0x100000000ULL, 1ULL << 40, (1ULL << 44) + 1, 1ULL << 62, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
        ~0ULL};
    if (b.empty())
        return;
    uint64_t v = rng.below(4) == 0 ? rng.next() : interesting[rng.below(std::size(interesting))];
    size_t width = size_t(1) << rng.below(4);  // 1, 2, 4 or 8 bytes
    if (width > b.size())
        width = b.size();
    // qcow2 is big-endian at 4- or 8-byte aligned offsets; JSON does not care.
    size_t pos = rng.below(b.size() - width + 1);
    if (rng.below(2) == 0)
        pos &= ~(width - 1);
    bool big_endian = rng.below(4) != 0;
    for (size_t i = 0; i < width; ++i) {
        size_t shift = big_endian ? 8 * (width - 1 - i) : 8 * i;
        b[pos + i] = static_cast<uint8_t>(shift < 64 ? (v >> shift) & 0xff : 0);
    }
}

void mutate_once(Bytes& b, const std::vector<Bytes>& corpus, Rng& rng)
{
    static const char* const tokens[] = {"{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "\\ud800", "null", "true",
        "false", "-0", "1e999", "\"return\"", "\"error\"", "\"pid\"", "\"exited\"", "\"out-data\"", "\"method\"",
        "\"params\"", "\"ok\"", "\"kind\"", "\n", "\xff", "\xc3", "\xef\xbf\xbd", "QFI\xfb", "=", "+/"};
    switch (rng.below(11)) {
    case 0:  // flip a bit
        if (!b.empty())
            b[rng.below(b.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
        break;
    case 1:  // set a byte
        if (!b.empty())
            b[rng.below(b.size())] = static_cast<uint8_t>(rng.next());
        break;
    case 2:
    case 3:
        put_integer(b, rng);
        break;
    case 4: {  // insert random bytes
        size_t n = 1 + rng.below(rng.below(2) ? 4 : 64);
        size_t pos = rng.below(b.size() + 1);
        Bytes ins(n);
        for (auto& c : ins)
            c = static_cast<uint8_t>(rng.next());
        b.insert(b.begin() + static_cast<ptrdiff_t>(pos), ins.begin(), ins.end());
        break;
    }
    case 5: {  // delete a range
        if (b.empty())
            break;
        size_t pos = rng.below(b.size());
        size_t n = 1 + rng.below(std::min<size_t>(b.size() - pos, rng.below(2) ? 4 : 256));
        b.erase(b.begin() + static_cast<ptrdiff_t>(pos), b.begin() + static_cast<ptrdiff_t>(pos + n));
        break;
    }
    case 6: {  // splice: our head with another corpus file's tail
        const Bytes& other = corpus[rng.below(corpus.size())];
        size_t cut = rng.below(b.size() + 1);
        size_t from = rng.below(other.size() + 1);
        b.resize(cut);
        b.insert(b.end(), other.begin() + static_cast<ptrdiff_t>(from), other.end());
        break;
    }
    case 7: {  // random length: truncate, or extend with zeros, random bytes or repeats
        size_t len = rng.length(k_max_len);
        size_t old = b.size();
        int fill = static_cast<int>(rng.below(3));
        b.resize(len);
        for (size_t i = old; i < len; ++i)
            b[i] = fill == 0 ? 0 : fill == 1 ? static_cast<uint8_t>(rng.next()) : (old ? b[i % old] : 'A');
        break;
    }
    case 8: {  // duplicate a chunk (nesting, repetition)
        if (b.empty())
            break;
        size_t pos = rng.below(b.size());
        size_t n = 1 + rng.below(std::min<size_t>(b.size() - pos, 64));
        Bytes chunk(b.begin() + static_cast<ptrdiff_t>(pos), b.begin() + static_cast<ptrdiff_t>(pos + n));
        size_t times = 1 + rng.below(rng.below(4) == 0 ? 2000 : 8);
        times = std::min(times, (k_max_len - std::min(k_max_len, b.size())) / n + 1);
        Bytes repeated;
        repeated.reserve(times * n);
        for (size_t t = 0; t < times; ++t)
            repeated.insert(repeated.end(), chunk.begin(), chunk.end());
        b.insert(b.begin() + static_cast<ptrdiff_t>(pos), repeated.begin(), repeated.end());
        break;
    }
    case 9: {  // insert a token
        const char* tok = tokens[rng.below(std::size(tokens))];
        size_t pos = rng.below(b.size() + 1);
        b.insert(b.begin() + static_cast<ptrdiff_t>(pos), tok, tok + std::strlen(tok));
        break;
    }
    default: {  // copy a chunk over another place
        if (b.size() < 2)
            break;
        size_t n = 1 + rng.below(std::min<size_t>(b.size() / 2, 16));
        size_t from = rng.below(b.size() - n + 1);
        size_t to = rng.below(b.size() - n + 1);
        std::memmove(b.data() + to, b.data() + from, n);
        break;
    }
    }
    if (b.size() > k_max_len)
        b.resize(k_max_len);
}

bool read_file(const std::filesystem::path& path, Bytes& out)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

void run_one(const Bytes& input, uint64_t run)
{
    // Run on an exact-size heap copy so that ASan sees any read past the end.
    uint8_t* copy = input.empty() ? nullptr : new uint8_t[input.size()];
    if (copy)
        std::memcpy(copy, input.data(), input.size());
    g_current = copy ? copy : reinterpret_cast<const uint8_t*>("");
    g_current_size = input.size();
    g_run = run;
    LLVMFuzzerTestOneInput(copy, input.size());
    g_current = nullptr;
    delete[] copy;
}

}  // namespace

int main(int argc, char** argv)
{
    uint64_t runs = 20000;
    uint64_t seed = 0x42756c7761726bULL;  // "Bulwark"
    if (const char* env = std::getenv("BULWARK_FUZZ_RUNS"))
        runs = std::strtoull(env, nullptr, 10);
    std::vector<std::filesystem::path> paths;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.rfind("-runs=", 0) == 0)
            runs = std::strtoull(arg.c_str() + 6, nullptr, 10);
        else if (arg.rfind("-seed=", 0) == 0)
            seed = std::strtoull(arg.c_str() + 6, nullptr, 10);
        else if (!arg.empty() && arg[0] == '-')
            std::fprintf(stderr, "fuzz driver: ignoring option %s (libFuzzer options need -DBULWARK_FUZZ=ON)\n", arg.c_str());
        else
            paths.emplace_back(arg);
    }
    if (paths.empty()) {
        std::fprintf(stderr, "usage: %s <corpus dir or file>... [-runs=N] [-seed=S]\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);

    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(dump_current_input);
    std::set_terminate(on_terminate);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT})
        ::signal(sig, on_fatal_signal);

    // Corpus files, in a stable order.
    std::vector<Bytes> corpus;
    bool single_file = false;
    for (const auto& p : paths) {
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) {
            std::vector<std::filesystem::path> files;
            for (const auto& e : std::filesystem::recursive_directory_iterator(p, ec)) {
                if (e.is_regular_file())
                    files.push_back(e.path());
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
                Bytes b;
                if (read_file(f, b))
                    corpus.push_back(std::move(b));
            }
        } else {
            Bytes b;
            if (!read_file(p, b)) {
                std::fprintf(stderr, "fuzz driver: cannot read %s\n", p.c_str());
                return 2;
            }
            corpus.push_back(std::move(b));
            single_file = paths.size() == 1;
        }
    }
    if (corpus.empty()) {
        std::fprintf(stderr, "fuzz driver: no corpus files under the given paths\n");
        return 2;
    }

    uint64_t count = 0;
    for (const auto& input : corpus)
        run_one(input, count++);
    // A single file given on its own is a crash being replayed: just that input.
    if (single_file)
        runs = 0;

    Rng rng(seed);
    Bytes input;
    uint64_t total_bytes = 0;
    for (uint64_t i = 0; i < runs; ++i) {
        input = corpus[rng.below(corpus.size())];
        size_t stacked = 1 + rng.below(rng.below(4) == 0 ? 16 : 4);
        for (size_t m = 0; m < stacked; ++m)
            mutate_once(input, corpus, rng);
        total_bytes += input.size();
        run_one(input, count++);
    }
    if (runs)
        std::fprintf(stderr, "fuzz driver: %llu mutated inputs, %llu bytes on average\n",
            static_cast<unsigned long long>(runs), static_cast<unsigned long long>(total_bytes / runs));
    std::printf("%llu inputs, 0 crashes\n", static_cast<unsigned long long>(count));
    return 0;
}
