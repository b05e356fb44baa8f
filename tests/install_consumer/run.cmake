# The outside-project flow, run by the install_consumer CTest test as `cmake -P`:
#   1. cmake --install <the build being tested> --prefix <work>/prefix
#   2. configure and build tests/install_consumer against that prefix only
#   3. run its program (it checks computed values and exits non-zero if they are wrong)
# Inputs (-D): BUILD_DIR, SOURCE_DIR (the consumer project), WORK_DIR, CONFIG, CXX_COMPILER.
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_consumer: -D${var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

function(step what)
  message(STATUS "install_consumer: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: '${what}' failed (${rc}): ${ARGN}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
step("install into ${prefix}"
     "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" --config "${CONFIG}")
if(NOT EXISTS "${prefix}/include/jetgrad/autodiff/tensor.hpp")
  message(FATAL_ERROR "install_consumer: headers not installed under ${prefix}/include/jetgrad/autodiff")
endif()
# Only the prefix may provide jetgrad: no package registry, no build tree.
step("configure the outside project"
     "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build"
     "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_BUILD_TYPE=${CONFIG}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
     -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
step("build the outside project" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --config "${CONFIG}")
if(EXISTS "${WORK_DIR}/build/${CONFIG}/app")
  set(app "${WORK_DIR}/build/${CONFIG}/app")
else()
  set(app "${WORK_DIR}/build/app")
endif()
step("run the outside program" "${app}")
file(REMOVE_RECURSE "${WORK_DIR}")
