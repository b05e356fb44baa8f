# Installs headers, the library and a CMake package so that outside projects can write
#   find_package(jetgrad CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE jetgrad::jetgrad)
#
# Layout under the prefix:
#   include/jetgrad/autodiff/*.hpp, include/jetgrad/nn/..., include/jetgrad/optim/...
#       (consumers write #include <autodiff/autodiff.hpp>, as inside the project)
#   lib/libjetgrad.a (or .so with -DBUILD_SHARED_LIBS=ON)
#   lib/cmake/jetgrad/jetgradConfig.cmake, jetgradConfigVersion.cmake, jetgradTargets*.cmake
#
# ISA and ABI: jetgrad_build_flags (-march=native, sanitizers) is a BUILD_INTERFACE-only helper and is
# not installed. But xsimd batch types (and so xtensor's inline kernels) change layout with the
# instruction set, so code that includes jetgrad headers must be compiled for the same ISA as the
# library. When the library was built with JETGRAD_NATIVE=ON, the installed target therefore carries
# -march=native in its INTERFACE_COMPILE_OPTIONS: consumers must build on (a machine of) the same
# kind. For a package to ship to other machines, build with -DJETGRAD_NATIVE=OFF. XTENSOR_USE_XSIMD is
# a PUBLIC compile definition of the library and reaches consumers through the export as well.

include(CMakePackageConfigHelpers)

set(JETGRAD_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/jetgrad"
    CACHE STRING "Where the jetgrad CMake package files are installed (relative to the prefix)")
mark_as_advanced(JETGRAD_INSTALL_CMAKEDIR)

# What the build flags mean for consumers of the installed library (see above).
if(JETGRAD_GCC12_WORKAROUND)
  target_compile_options(jetgrad INTERFACE $<INSTALL_INTERFACE:-fno-tree-slp-vectorize>)
endif()
if(JETGRAD_NATIVE)
  target_compile_options(jetgrad INTERFACE $<INSTALL_INTERFACE:-march=native>)
endif()
if(JETGRAD_SANITIZE)
  # A sanitized library needs the sanitizer runtimes at link time of the consumer.
  target_link_options(jetgrad INTERFACE $<INSTALL_INTERFACE:-fsanitize=address,undefined>)
endif()

# Headers: every *.hpp of the three library layers, keeping their autodiff/... nn/... optim/... paths.
foreach(layer autodiff nn optim)
  file(GLOB_RECURSE _jetgrad_headers CONFIGURE_DEPENDS
       RELATIVE "${PROJECT_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}/${layer}/*.hpp")
  foreach(header IN LISTS _jetgrad_headers)
    get_filename_component(_dir "${header}" DIRECTORY)
    install(FILES "${PROJECT_SOURCE_DIR}/${header}"
            DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/jetgrad/${_dir}"
            COMPONENT jetgrad_development)
  endforeach()
endforeach()

install(TARGETS jetgrad
  EXPORT jetgradTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT jetgrad_development
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT jetgrad_runtime
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT jetgrad_runtime)

install(EXPORT jetgradTargets
  NAMESPACE jetgrad::
  FILE jetgradTargets.cmake
  DESTINATION "${JETGRAD_INSTALL_CMAKEDIR}"
  COMPONENT jetgrad_development)

# find_dependency() calls for the imported targets the library links besides xtl/xsimd/xtensor/BLAS
# (which the package file always finds). A static library's PRIVATE dependencies are exported too
# (as $<LINK_ONLY:...>), so every Pkg::target it links must be found by the package file. nn/ and
# optim/ add their dependencies to the same library, so this looks at the finished target.
set(_jetgrad_package_of_ZLIB ZLIB)
set(_jetgrad_package_of_nlohmann_json nlohmann_json)
set(_jetgrad_package_of_BLAS BLAS)
set(_jetgrad_package_of_LAPACK LAPACK)
set(_jetgrad_package_of_Threads Threads)
set(_jetgrad_package_of_OpenMP OpenMP)
set(_jetgrad_package_of_CLI11 CLI11)
get_target_property(_jetgrad_links jetgrad LINK_LIBRARIES)
get_target_property(_jetgrad_interface_links jetgrad INTERFACE_LINK_LIBRARIES)
string(REGEX MATCHALL "[A-Za-z0-9_]+::[A-Za-z0-9_]+" _jetgrad_namespaced
       "${_jetgrad_links};${_jetgrad_interface_links}")
set(JETGRAD_EXTRA_DEPENDENCIES "")
set(_jetgrad_extra_packages "")
foreach(target IN LISTS _jetgrad_namespaced)
  string(REGEX REPLACE "::.*" "" _ns "${target}")
  if(_ns STREQUAL "xtensor" OR _ns STREQUAL "xsimd" OR _ns STREQUAL "xtl")
    continue()
  endif()
  if(NOT DEFINED _jetgrad_package_of_${_ns})
    message(FATAL_ERROR "jetgrad links ${target}; add its package to the table in "
                        "cmake/JetgradInstall.cmake so that the installed package can find it")
  endif()
  set(_pkg "${_jetgrad_package_of_${_ns}}")
  if(NOT _pkg IN_LIST _jetgrad_extra_packages AND NOT _pkg STREQUAL "BLAS")
    list(APPEND _jetgrad_extra_packages "${_pkg}")
    string(APPEND JETGRAD_EXTRA_DEPENDENCIES "find_dependency(${_pkg})\n")
  endif()
endforeach()

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/jetgradConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/jetgradConfig.cmake"
  INSTALL_DESTINATION "${JETGRAD_INSTALL_CMAKEDIR}")
# 0.x: minor versions may break the API, so only the same minor version is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/jetgradConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/jetgradConfig.cmake"
  "${PROJECT_BINARY_DIR}/jetgradConfigVersion.cmake"
  DESTINATION "${JETGRAD_INSTALL_CMAKEDIR}"
  COMPONENT jetgrad_development)
