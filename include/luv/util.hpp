// luv/util.hpp - clocks and facts about the machine. None of these suspends.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace luv {

/// Monotonic time in nanoseconds from an arbitrary origin. Never suspends.
std::uint64_t hrtime() noexcept;
/// Total and free physical memory in bytes. Never suspend.
std::uint64_t mem_total() noexcept;
std::uint64_t mem_free() noexcept;

struct cpu_info {
    std::string model;
    int speed_mhz;
    struct {
        std::uint64_t user, nice, sys, idle, irq;
    } times;  // milliseconds
};
/// One entry per logical CPU. Throws luv::system_error. Never suspends.
std::vector<cpu_info> cpus();

struct interface_address {
    std::string name;
    std::string family;   // "inet" or "inet6"
    std::string address;
    std::string netmask;
    std::string mac;      // "aa:bb:cc:dd:ee:ff"
    bool internal;
};
/// Every address of every interface. Throws luv::system_error. Never suspends.
std::vector<interface_address> interface_addresses();

}  // namespace luv
