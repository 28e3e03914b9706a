// Process-wide emulator settings (seed, worker count, stack size, device model), read once from
// the environment and changeable through emu_api.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sg_emu {
namespace detail {

std::size_t fiber_stack_bytes();
void count_launch(std::uint64_t blocks, std::uint64_t switches);

}  // namespace detail
}  // namespace sg_emu
