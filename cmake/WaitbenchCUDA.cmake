# SPDX-License-Identifier: Apache-2.0
# Which CUDA compiler builds waitbench._C, if any. Sets WAITBENCH_CUDA_FOUND and WAITBENCH_CUDA_WHY.
#  1. the one CMake finds itself: CUDACXX, -DCMAKE_CUDA_COMPILER, nvcc on PATH or under CUDA_PATH;
#  2. else a toolkit installed from the package index into the building Python's environment
#     (nvidia-cuda-nvcc, -runtime, -cccl, -crt and nvidia-nvvm put it in site-packages/nvidia/cu13);
#     it is used in place, nothing in site-packages is changed.
# WAITBENCH_CUDA (AUTO, ON, OFF; env WAITBENCH_CUDA): OFF builds the host-only module, ON fails the
# build when no compiler is found, AUTO builds what it can and says which.
include(CheckLanguage)

set(WAITBENCH_CUDA_FLOOR 12.0)  # cudaGetDriverEntryPoint with its driverStatus out-parameter (csrc/driver_api.cpp)

function(_waitbench_pip_toolkit out)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import importlib.util as u; s = u.find_spec('nvidia'); print(';'.join(s.submodule_search_locations) if s else '')"
    OUTPUT_VARIABLE dirs OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  foreach(dir IN LISTS dirs)
    if(EXISTS "${dir}/cu13/bin/nvcc" AND EXISTS "${dir}/cu13/lib/libcudart_static.a")
      set(${out} "${dir}/cu13" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

set(WAITBENCH_CUDA_FOUND OFF)
if(WAITBENCH_CUDA STREQUAL "OFF")
  set(WAITBENCH_CUDA_WHY "WAITBENCH_CUDA=OFF")
  return()
endif()

# A compiler an earlier configure cached that has since gone (a package-index toolkit lives in the
# temporary environment of one pip build): look again.
if(DEFINED CACHE{CMAKE_CUDA_COMPILER} AND NOT EXISTS "${CMAKE_CUDA_COMPILER}")
  unset(CMAKE_CUDA_COMPILER CACHE)
  unset(CMAKE_CUDA_COMPILER)
endif()
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  _waitbench_pip_toolkit(_wb_pip_root)
  if(_wb_pip_root)
    # The package-index layout differs from a system toolkit's in two places: its libraries are in
    # lib/ (nvcc's profile adds lib64/ only) and it has no unversioned libcudart.so, which
    # FindCUDAToolkit requires although waitbench links the static runtime. Both are given here.
    # (check_language leaves a plain NOTFOUND variable beside the cache entry: both are set.)
    set(CMAKE_CUDA_COMPILER "${_wb_pip_root}/bin/nvcc" CACHE FILEPATH "CUDA compiler (package index)" FORCE)
    set(CMAKE_CUDA_COMPILER "${_wb_pip_root}/bin/nvcc")
    set(CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS} -L${_wb_pip_root}/lib")
    set(CUDAToolkit_ROOT "${_wb_pip_root}")
    set(CUDA_CUDART "${_wb_pip_root}/lib/libcudart.so.13" CACHE FILEPATH "" FORCE)
    set(WAITBENCH_CUDA_SOURCE "the package index (${_wb_pip_root})")
  endif()
else()
  set(WAITBENCH_CUDA_SOURCE "${CMAKE_CUDA_COMPILER}")
endif()

if(NOT CMAKE_CUDA_COMPILER)
  set(WAITBENCH_CUDA_WHY "no CUDA compiler found (no CUDACXX, no nvcc on PATH or in CUDA_PATH, no nvidia-cuda-nvcc in this Python)")
  if(WAITBENCH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "waitbench: WAITBENCH_CUDA=ON but ${WAITBENCH_CUDA_WHY}")
  endif()
  return()
endif()

enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
if(CUDAToolkit_VERSION VERSION_LESS WAITBENCH_CUDA_FLOOR)
  set(WAITBENCH_CUDA_WHY "CUDA ${CUDAToolkit_VERSION} at ${WAITBENCH_CUDA_SOURCE} is older than ${WAITBENCH_CUDA_FLOOR}")
  if(WAITBENCH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "waitbench: ${WAITBENCH_CUDA_WHY}")
  endif()
  return()
endif()
set(WAITBENCH_CUDA_FOUND ON)
