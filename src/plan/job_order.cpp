#include "reflinkdedup/plan/job_order.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>

namespace rdd {

std::vector<std::size_t> savings_order(std::span<const JobValue> jobs) {
    std::vector<std::size_t> order(jobs.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const JobValue &x = jobs[a], &y = jobs[b];
        return std::tuple(y.freed, y.shared, x.file) < std::tuple(x.freed, x.shared, y.file);
    });
    return order;
}

}  // namespace rdd
