#include "external_sort.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reflinkdedup/util/sys_error.hpp"

namespace rdd::catalog::detail {

namespace {

constexpr int kFanOut = 256;  // one digest byte per level
constexpr int kMaxDepth = 16;  // all digest bytes used: one digest, too many occurrences

bool record_less(const SortRecord& a, const SortRecord& b) noexcept {
    if (a.digest != b.digest) return a.digest < b.digest;
    if (a.file != b.file) return a.file < b.file;
    return (a.index & ~SortRecord::kNewBit) < (b.index & ~SortRecord::kNewBit);
}

unsigned digest_byte(const Digest& d, int depth) noexcept {
    const std::uint64_t word = depth < 8 ? d.hi : d.lo;
    return static_cast<unsigned>((word >> (56 - 8 * (depth % 8))) & 0xff);
}

UniqueFd open_temp(const std::filesystem::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) throw_errno("open(O_TMPFILE)", dir.string());
    // Filesystems without O_TMPFILE: a named file, unlinked at once.
    std::string name = (dir / "rdd-sort.XXXXXX").string();
    fd.reset(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd) throw_errno("mkostemp", name);
    ::unlink(name.c_str());
    return fd;
}

}  // namespace

// A temporary file of records plus a write buffer.
struct ExternalSorter::Partition {
    UniqueFd fd;
    std::vector<SortRecord> buffer;
    std::size_t buffer_limit = 0;
    std::uint64_t records = 0;  // flushed to the file

    void append(const SortRecord& r, const std::filesystem::path& dir) {
        buffer.push_back(r);
        if (buffer.size() >= buffer_limit) flush(dir);
    }

    void flush(const std::filesystem::path& dir) {
        if (buffer.empty()) return;
        if (!fd) fd = open_temp(dir);
        const auto* data = reinterpret_cast<const char*>(buffer.data());
        std::size_t left = buffer.size() * sizeof(SortRecord);
        auto offset = static_cast<off_t>(records * sizeof(SortRecord));
        while (left > 0) {
            const ssize_t n = ::pwrite(fd.get(), data, left, offset);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_errno("write sort partition", dir.string());
            }
            data += n;
            left -= static_cast<std::size_t>(n);
            offset += n;
        }
        records += buffer.size();
        buffer.clear();
    }

    std::vector<SortRecord> read_all(const std::filesystem::path& dir) const {
        std::vector<SortRecord> out(records);
        auto* data = reinterpret_cast<char*>(out.data());
        std::size_t left = out.size() * sizeof(SortRecord);
        off_t offset = 0;
        while (left > 0) {
            const ssize_t n = ::pread(fd.get(), data, left, offset);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw_errno("read sort partition", dir.string());
            data += n;
            left -= static_cast<std::size_t>(n);
            offset += n;
        }
        return out;
    }
};

ExternalSorter::ExternalSorter(std::filesystem::path temp_dir, std::size_t memory_bytes)
    : temp_dir_(std::move(temp_dir)),
      max_records_(std::max<std::size_t>(memory_bytes / sizeof(SortRecord), 4 * kFanOut)) {}

ExternalSorter::~ExternalSorter() = default;

void ExternalSorter::add(const SortRecord& record) {
    if (partitions_.empty()) {
        memory_.push_back(record);
        if (memory_.size() >= max_records_) spill();
        return;
    }
    partitions_[digest_byte(record.digest, 0)].append(record, temp_dir_);
}

void ExternalSorter::spill() {
    // Half the budget goes to write buffers while partitioning.
    partitions_.resize(kFanOut);
    for (auto& p : partitions_) p.buffer_limit = std::max<std::size_t>(max_records_ / 2 / kFanOut, 64);
    for (const auto& r : memory_) partitions_[digest_byte(r.digest, 0)].append(r, temp_dir_);
    std::vector<SortRecord>().swap(memory_);
}

void ExternalSorter::split(Partition& part, int depth, std::vector<Partition>& out) {
    out.resize(kFanOut);
    for (auto& p : out) p.buffer_limit = std::max<std::size_t>(max_records_ / 2 / kFanOut, 64);
    // Read back in chunks of half the budget.
    const std::size_t chunk = std::max<std::size_t>(max_records_ / 2, 1);
    std::vector<SortRecord> buf(chunk);
    for (std::uint64_t done = 0; done < part.records;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, part.records - done));
        std::size_t left = n * sizeof(SortRecord);
        auto* data = reinterpret_cast<char*>(buf.data());
        auto offset = static_cast<off_t>(done * sizeof(SortRecord));
        while (left > 0) {
            const ssize_t got = ::pread(part.fd.get(), data, left, offset);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) throw_errno("read sort partition", temp_dir_.string());
            data += got;
            left -= static_cast<std::size_t>(got);
            offset += got;
        }
        for (std::size_t i = 0; i < n; ++i) out[digest_byte(buf[i].digest, depth)].append(buf[i], temp_dir_);
        done += n;
    }
    for (auto& p : out) {
        p.flush(temp_dir_);
        std::vector<SortRecord>().swap(p.buffer);
    }
    part.fd.reset();  // the space goes back as soon as it is split
}

bool ExternalSorter::drain_partition(Partition& part, int depth, const std::function<bool(const SortRecord&)>& visit) {
    part.flush(temp_dir_);
    if (part.records == 0) return true;
    if (part.records > max_records_ && depth < kMaxDepth) {
        std::vector<Partition> sub;
        split(part, depth, sub);
        for (auto& p : sub) {
            if (!drain_partition(p, depth + 1, visit)) return false;
        }
        return true;
    }
    std::vector<SortRecord> records = part.read_all(temp_dir_);
    part.fd.reset();
    std::sort(records.begin(), records.end(), record_less);
    for (const auto& r : records) {
        if (!visit(r)) return false;
    }
    return true;
}

bool ExternalSorter::drain(const std::function<bool(const SortRecord&)>& visit) {
    // Write buffers are done with: their memory goes to the partitions' sorts.
    for (auto& p : partitions_) {
        p.flush(temp_dir_);
        std::vector<SortRecord>().swap(p.buffer);
    }
    if (partitions_.empty()) {
        std::sort(memory_.begin(), memory_.end(), record_less);
        for (const auto& r : memory_) {
            if (!visit(r)) return false;
        }
        return true;
    }
    for (auto& p : partitions_) {
        if (!drain_partition(p, 1, visit)) return false;
    }
    return true;
}

}  // namespace rdd::catalog::detail
