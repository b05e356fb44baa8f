# Per-target compile options: warnings, the ISA choice and sanitizers. Applied through
# jetgrad_target_options(<target>) so that no global flags are touched.

function(jetgrad_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(JETGRAD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# The ISA choice and sanitizers change the ABI-visible code of xtensor/xsimd templates, so they
# travel with the library to everything that links it.
add_library(jetgrad_build_flags INTERFACE)
if(JETGRAD_NATIVE)
  target_compile_options(jetgrad_build_flags INTERFACE $<BUILD_INTERFACE:-march=native>)
endif()

# GCC 12 miscompiles small structs passed by value when its SLP vectorizer uses AVX-512 (measured
# here: a default-constructed option struct arrived with a field of 1 instead of 0; the same code is
# right with -mavx2 or GCC 13). Our kernels vectorize explicitly through xsimd, so turning the SLP
# pass off costs nothing measurable and removes the hazard. docs/decisions.md records the repro.
set(JETGRAD_GCC12_WORKAROUND OFF)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  set(JETGRAD_GCC12_WORKAROUND ON)
  target_compile_options(jetgrad_build_flags INTERFACE $<BUILD_INTERFACE:-fno-tree-slp-vectorize>)
endif()
if(JETGRAD_SANITIZE)
  target_compile_options(jetgrad_build_flags INTERFACE
    $<BUILD_INTERFACE:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(jetgrad_build_flags INTERFACE
    $<BUILD_INTERFACE:-fsanitize=address,undefined>)
endif()
