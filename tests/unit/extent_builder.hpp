#pragma once
// A plain extent for tests: flags are set by hand where a test needs them.
#include "reflinkdedup/model/extent.hpp"

namespace rdd::test {

inline Extent ext(std::uint64_t logical, std::uint64_t physical, std::uint64_t length) {
    Extent e;
    e.logical = logical;
    e.physical = physical;
    e.length = length;
    return e;
}

}  // namespace rdd::test
