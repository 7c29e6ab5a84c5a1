#pragma once
// Internal: the hasher's read buffers: `count` page-aligned buffers of `size` bytes in one
// allocation made once, so memory use is fixed whatever is being hashed.
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace rdd::hash::detail {

class BufferPool {
public:
    BufferPool(std::size_t count, std::size_t size)  // size: a multiple of 4096
        : size_(size), data_(static_cast<std::byte*>(std::aligned_alloc(kAlign, count * size))) {
        if (!data_) throw std::bad_alloc();
    }

    [[nodiscard]] std::byte* buffer(std::size_t i) const noexcept { return data_.get() + i * size_; }
    [[nodiscard]] std::size_t buffer_size() const noexcept { return size_; }

private:
    static constexpr std::size_t kAlign = 4096;
    struct Free {
        void operator()(std::byte* p) const noexcept { std::free(p); }
    };
    std::size_t size_;
    std::unique_ptr<std::byte, Free> data_;
};

}  // namespace rdd::hash::detail
