#include "support/file_checks.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "reflinkdedup/util/sys_error.hpp"
#include "reflinkdedup/util/unique_fd.hpp"
#include "support/process.hpp"

namespace rdd::test {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

void write_all(int fd, const char* data, std::size_t len, const fs::path& path) {
    while (len > 0) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", path);
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
}

// O_NOFOLLOW so a symlink is never mistaken for its target; O_NONBLOCK keeps a FIFO from
// blocking the open (only regular files and directories get here, but be safe).
UniqueFd open_nofollow(const fs::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) throw_errno("open", path);
    return fd;
}

int get_flags(int fd, const fs::path& path) {
    int flags = 0;  // the kernel reads and writes an int, whatever the ioctl number says
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) throw_errno("FS_IOC_GETFLAGS", path);
    return flags;
}

void set_flags(int fd, int flags, const fs::path& path) {
    if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) throw_errno("FS_IOC_SETFLAGS", path);
}

// Size query, then read; retried when the value grew in between (ERANGE).
template <typename Call>
std::string read_sized(Call call, const char* op, const fs::path& path) {
    for (;;) {
        const ssize_t size = call(nullptr, 0);
        if (size < 0) throw_errno(op, path);
        std::string buf(static_cast<std::size_t>(size), '\0');
        const ssize_t got = call(buf.data(), buf.size());
        if (got >= 0) {
            buf.resize(static_cast<std::size_t>(got));
            return buf;
        }
        if (errno != ERANGE) throw_errno(op, path);
    }
}

std::map<std::string, std::string> read_xattrs(const fs::path& path) {
    std::map<std::string, std::string> xattrs;
    const std::string names = read_sized(
        [&](char* buf, std::size_t len) { return ::llistxattr(path.c_str(), buf, len); }, "llistxattr", path);
    for (std::size_t pos = 0; pos < names.size();) {
        const std::string name(names.c_str() + pos);
        pos += name.size() + 1;
        if (name.empty()) continue;
        try {
            xattrs[name] = read_sized(
                [&](char* buf, std::size_t len) { return ::lgetxattr(path.c_str(), name.c_str(), buf, len); },
                "lgetxattr", path);
        } catch (const SysError& e) {
            if (e.err() != ENODATA) throw;  // removed since the listing: not there
        }
    }
    return xattrs;
}

std::string printable(const std::string& value) {
    std::ostringstream os;
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            os << static_cast<char>(c);
        } else {
            os << "\\x" << std::hex << std::setw(2) << std::setfill('0') << static_cast<unsigned>(c) << std::dec;
        }
    }
    return os.str();
}

std::string format_time(const Timestamp& t) {
    std::ostringstream os;
    os << t.sec << '.' << std::setw(9) << std::setfill('0') << t.nsec;
    return os.str();
}

std::string format_flags(const std::optional<std::uint32_t>& flags) {
    if (!flags) return "n/a";
    std::ostringstream os;
    os << "0x" << std::hex << *flags;
    return os.str();
}

bool usable(const PhysExtent& e) {
    return (e.flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_DATA_INLINE)) == 0;
}

}  // namespace

std::string sha256_file(const fs::path& path) {
    const std::string out = run_checked({"sha256sum", "--", path.string()}).out;
    // A file name that needs escaping makes sha256sum prefix the line with '\'.
    const std::size_t start = !out.empty() && out[0] == '\\' ? 1 : 0;
    std::string hash = out.substr(start, 64);
    if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) {
        throw std::runtime_error("unexpected sha256sum output: " + out);
    }
    return hash;
}

void write_random_file(const fs::path& path, std::uint64_t bytes, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::vector<std::uint64_t> words(kChunkBytes / sizeof(std::uint64_t));
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) throw_errno("open for writing", path);
    for (std::uint64_t remaining = bytes; remaining > 0;) {
        for (auto& w : words) w = gen();
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kChunkBytes));
        write_all(fd.get(), reinterpret_cast<const char*>(words.data()), n, path);
        remaining -= n;
    }
    if (::fsync(fd.get()) != 0) throw_errno("fsync", path);
}

MetadataSnapshot snapshot_metadata(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) throw_errno("lstat", path);
    MetadataSnapshot m;
    m.mode = st.st_mode;
    m.uid = st.st_uid;
    m.gid = st.st_gid;
    m.size = static_cast<std::uint64_t>(st.st_size);
    m.nlink = st.st_nlink;
    m.ino = st.st_ino;
    m.mtime = {st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
    m.ctime = {st.st_ctim.tv_sec, st.st_ctim.tv_nsec};
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        const UniqueFd fd = open_nofollow(path);
        m.inode_flags = static_cast<std::uint32_t>(get_flags(fd.get(), path));
    }
    m.xattrs = read_xattrs(path);
    return m;
}

std::ostream& operator<<(std::ostream& os, const MetadataSnapshot& m) {
    os << "{mode " << std::oct << m.mode << std::dec << ", uid " << m.uid << ", gid " << m.gid
       << ", size " << m.size << ", nlink " << m.nlink << ", ino " << m.ino
       << ", mtime " << format_time(m.mtime) << ", ctime " << format_time(m.ctime)
       << ", flags " << format_flags(m.inode_flags) << ", xattrs {";
    const char* sep = "";
    for (const auto& [name, value] : m.xattrs) {
        os << sep << name << "=\"" << printable(value) << '"';
        sep = ", ";
    }
    return os << "}}";
}

void PrintTo(const MetadataSnapshot& m, std::ostream* os) { *os << m; }

std::string describe_differences(const MetadataSnapshot& a, const MetadataSnapshot& b) {
    std::ostringstream os;
    const auto field = [&](const char* name, const auto& x, const auto& y) {
        if (!(x == y)) os << name << ": " << x << " != " << y << "; ";
    };
    field("mode", a.mode, b.mode);
    field("uid", a.uid, b.uid);
    field("gid", a.gid, b.gid);
    field("size", a.size, b.size);
    field("nlink", a.nlink, b.nlink);
    field("ino", a.ino, b.ino);
    field("mtime", format_time(a.mtime), format_time(b.mtime));
    field("ctime", format_time(a.ctime), format_time(b.ctime));
    field("flags", format_flags(a.inode_flags), format_flags(b.inode_flags));
    for (const auto& [name, value] : a.xattrs) {
        const auto it = b.xattrs.find(name);
        if (it == b.xattrs.end()) os << "xattr " << name << ": only in first; ";
        else field(("xattr " + name).c_str(), printable(value), printable(it->second));
    }
    for (const auto& [name, value] : b.xattrs) {
        if (!a.xattrs.contains(name)) os << "xattr " << name << ": only in second; ";
    }
    return os.str();
}

std::vector<PhysExtent> fiemap_extents(const fs::path& path) {
    constexpr std::uint32_t kBatch = 256;
    // u64 storage keeps struct fiemap (which holds u64 fields) aligned.
    std::vector<std::uint64_t> storage((sizeof(fiemap) + kBatch * sizeof(fiemap_extent)) / sizeof(std::uint64_t) + 1);
    auto* fm = reinterpret_cast<fiemap*>(storage.data());

    const UniqueFd fd = open_nofollow(path);
    std::vector<PhysExtent> extents;
    std::uint64_t start = 0;
    for (;;) {
        std::fill(storage.begin(), storage.end(), 0);
        fm->fm_start = start;
        fm->fm_length = FIEMAP_MAX_OFFSET - start;
        fm->fm_flags = FIEMAP_FLAG_SYNC;
        fm->fm_extent_count = kBatch;
        if (::ioctl(fd.get(), FS_IOC_FIEMAP, fm) != 0) throw_errno("FS_IOC_FIEMAP", path);
        if (fm->fm_mapped_extents == 0) break;
        for (std::uint32_t i = 0; i < fm->fm_mapped_extents; ++i) {
            const fiemap_extent& e = fm->fm_extents[i];
            extents.push_back({e.fe_logical, e.fe_physical, e.fe_length, e.fe_flags});
        }
        const fiemap_extent& last = fm->fm_extents[fm->fm_mapped_extents - 1];
        if ((last.fe_flags & FIEMAP_EXTENT_LAST) != 0) break;
        start = last.fe_logical + last.fe_length;
    }
    std::stable_sort(extents.begin(), extents.end(),
                     [](const PhysExtent& x, const PhysExtent& y) { return x.logical < y.logical; });
    return extents;
}

std::uint64_t bytes_shared_with(const std::vector<PhysExtent>& a_all, const std::vector<PhysExtent>& b_all) {
    std::vector<PhysExtent> a;
    std::vector<PhysExtent> b;
    std::copy_if(a_all.begin(), a_all.end(), std::back_inserter(a), usable);
    std::copy_if(b_all.begin(), b_all.end(), std::back_inserter(b), usable);

    // Sweep both sorted lists; on each logical overlap, the same logical byte hits the same
    // physical byte iff both extents have the same physical-minus-logical shift.
    std::uint64_t shared = 0;
    for (std::size_t i = 0, j = 0; i < a.size() && j < b.size();) {
        const PhysExtent& x = a[i];
        const PhysExtent& y = b[j];
        const std::uint64_t x_end = x.logical + x.length;
        const std::uint64_t y_end = y.logical + y.length;
        const std::uint64_t lo = std::max(x.logical, y.logical);
        const std::uint64_t hi = std::min(x_end, y_end);
        if (lo < hi) {
            const bool x_enc = (x.flags & FIEMAP_EXTENT_ENCODED) != 0;
            const bool y_enc = (y.flags & FIEMAP_EXTENT_ENCODED) != 0;
            if (x_enc || y_enc) {
                // Offsets inside a compressed extent do not map linearly to disk bytes.
                if (x_enc && y_enc && x.logical == y.logical && x.physical == y.physical && x.length == y.length) {
                    shared += x.length;
                }
            } else if (x.physical + y.logical == y.physical + x.logical) {
                shared += hi - lo;
            }
        }
        if (x_end <= y_end) ++i;
        if (y_end <= x_end) ++j;
    }
    return shared;
}

// Extents cover whole blocks; a file's bytes end at its size. Clipping to the shorter file
// makes the count one of file bytes, comparable with what reflinkdedup reports.
static std::vector<PhysExtent> clipped(std::vector<PhysExtent> extents, std::uint64_t limit) {
    std::vector<PhysExtent> out;
    for (PhysExtent e : extents) {
        if (e.logical >= limit) break;
        e.length = std::min(e.length, limit - e.logical);
        out.push_back(e);
    }
    return out;
}

std::uint64_t bytes_shared_with(const fs::path& a, const fs::path& b) {
    const std::uint64_t limit = std::min(fs::file_size(a), fs::file_size(b));
    return bytes_shared_with(clipped(fiemap_extents(a), limit), clipped(fiemap_extents(b), limit));
}

void set_nocow(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) throw_errno("lstat", path);
    // btrfs ignores NOCOW on a file that already has data; insist on the case that works.
    if (!S_ISREG(st.st_mode) || st.st_size != 0) {
        throw std::invalid_argument("set_nocow needs an empty regular file: " + path.string());
    }
    const UniqueFd fd = open_nofollow(path);
    set_flags(fd.get(), get_flags(fd.get(), path) | FS_NOCOW_FL, path);
    if ((get_flags(fd.get(), path) & FS_NOCOW_FL) == 0) {
        throw std::runtime_error("FS_NOCOW_FL did not stick on " + path.string());
    }
}

void set_immutable(const fs::path& path, bool immutable) {
    const UniqueFd fd = open_nofollow(path);
    const int flags = get_flags(fd.get(), path);
    set_flags(fd.get(), immutable ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL, path);
}

}  // namespace rdd::test
