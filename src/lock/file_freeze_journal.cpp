#include "reflinkdedup/lock/file_freeze_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::lock {

namespace {

constexpr std::string_view kHeader = "reflinkdedup-freeze-journal 1";

std::string escape(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '\\') {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (i + 3 >= s.size() || s[i + 1] != 'x') throw JournalFormatError("freeze journal: bad escape");
        const int hi = hex_digit(s[i + 2]);
        const int lo = hex_digit(s[i + 3]);
        if (hi < 0 || lo < 0) throw JournalFormatError("freeze journal: bad escape");
        out += static_cast<char>(hi * 16 + lo);
        i += 3;
    }
    return out;
}

template <typename T>
T number(std::string_view field, int base) {
    T v{};
    const auto* end = field.data() + field.size();
    const auto [p, ec] = std::from_chars(field.data(), end, v, base);
    if (field.empty() || ec != std::errc{} || p != end) {
        throw JournalFormatError("freeze journal: bad number '" + std::string(field) + "'");
    }
    return v;
}

std::string read_file_or_empty(const std::filesystem::path& path) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) return {};
        throw_errno("open", path.string());
    }
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", path.string());
        }
        if (n == 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

void write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", path);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

std::string encode_freeze_journal(std::span<const FreezeEntry> entries) {
    std::string out(kHeader);
    out += '\n';
    for (const auto& e : entries) {
        char flags[16];
        std::snprintf(flags, sizeof flags, "%x", static_cast<unsigned>(e.original_flags));
        out += escape(e.filesystem) + '\t' + std::to_string(e.identity.subvolume) + '\t' +
               std::to_string(e.identity.inode) + '\t' + std::to_string(e.identity.generation) +
               '\t' + flags + '\t' + escape(e.path) + '\n';
    }
    return out;
}

std::vector<FreezeEntry> decode_freeze_journal(std::string_view text) {
    std::vector<FreezeEntry> out;
    if (text.empty()) return out;  // never written
    bool header = true;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) throw JournalFormatError("freeze journal: last line cut short");
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (header) {
            if (line != kHeader) throw JournalFormatError("freeze journal: unknown header");
            header = false;
            continue;
        }
        std::vector<std::string_view> fields;
        std::string_view rest = line;
        for (;;) {
            const auto tab = rest.find('\t');
            fields.push_back(rest.substr(0, tab));
            if (tab == std::string_view::npos) break;
            rest.remove_prefix(tab + 1);
        }
        if (fields.size() != 6) throw JournalFormatError("freeze journal: expected 6 fields");
        FreezeEntry e;
        e.filesystem = unescape(fields[0]);
        e.identity.subvolume = number<std::uint64_t>(fields[1], 10);
        e.identity.inode = number<std::uint64_t>(fields[2], 10);
        e.identity.generation = number<std::uint64_t>(fields[3], 10);
        e.original_flags = number<std::uint32_t>(fields[4], 16);
        e.path = unescape(fields[5]);
        if (e.path.empty()) throw JournalFormatError("freeze journal: empty path");
        out.push_back(std::move(e));
    }
    return out;
}

FileFreezeJournal::FileFreezeJournal(std::filesystem::path state_dir)
    : dir_(std::move(state_dir)), file_(dir_ / "freeze-journal") {
    // Our private state (paths of everyone's files): create the directory owner-only.
    if (std::filesystem::create_directories(dir_)) {
        std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    }
    const auto lock_path = dir_ / "freeze-journal.lock";
    lock_ = UniqueFd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock_) throw_errno("open", lock_path.string());
    if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
        throw SysError(errno, "lock (is another reflinkdedup running?)", lock_path.string());
    }
    entries_ = decode_freeze_journal(read_file_or_empty(file_));
}

void FileFreezeJournal::record(std::span<const FreezeEntry> entries) {
    if (entries.empty()) return;  // spares an fsync + rename
    const std::lock_guard lock(mutex_);
    auto next = entries_;
    for (const auto& e : entries) {
        bool replaced = false;
        for (auto& old : next) {
            if (old.same_file(e)) {
                old = e;
                replaced = true;
            }
        }
        if (!replaced) next.push_back(e);
    }
    store(next);
}

void FileFreezeJournal::forget(std::span<const FreezeEntry> entries) {
    const std::lock_guard lock(mutex_);
    auto next = entries_;
    std::erase_if(next, [&](const FreezeEntry& old) {
        for (const auto& e : entries)
            if (old.same_file(e)) return true;
        return false;
    });
    if (next.size() != entries_.size()) store(next);
}

std::vector<FreezeEntry> FileFreezeJournal::pending() const {
    const std::lock_guard lock(mutex_);
    return entries_;
}

void FileFreezeJournal::store(const std::vector<FreezeEntry>& entries) {
    const auto tmp = dir_ / "freeze-journal.tmp";
    {
        const UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) throw_errno("open", tmp.string());
        if (::fchmod(fd.get(), 0600) != 0) throw_errno("chmod", tmp.string());  // whatever the umask
        write_all(fd.get(), encode_freeze_journal(entries), tmp.string());
        if (::fsync(fd.get()) != 0) throw_errno("fsync", tmp.string());
    }
    if (::rename(tmp.c_str(), file_.c_str()) != 0) throw_errno("rename", file_.string());
    const UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_errno("open", dir_.string());
    if (::fsync(dir.get()) != 0) throw_errno("fsync", dir_.string());  // the rename itself
    entries_ = entries;
}

}  // namespace rdd::lock
