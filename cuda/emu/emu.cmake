# CMake helpers for the emu backend: the emulator runtime and CUDA sources compiled for the host.
#
#   include(${PROJECT_SOURCE_DIR}/cuda/emu/emu.cmake)
#   serengeti_add_emu_runtime()                                  # -> target serengeti_emu_runtime
#   serengeti_add_emu_kernels(my_emu_kernels ${CU_SOURCES})      # -> OBJECT library
#   target_link_libraries(_C PRIVATE my_emu_kernels serengeti_emu_runtime)
#
# The same .cu files can be in a CUDA target at the same time: each one is compiled here through a
# generated one-line .cpp that #includes it, so its source-file LANGUAGE stays CUDA for nvcc.
# SERENGETI_CUDA_INCLUDE_DIR must point at the CUDA headers (cuda_fp16.h & co.); no CUDA library is
# linked and no GPU is needed.

set(SERENGETI_EMU_DIR ${CMAKE_CURRENT_LIST_DIR})

if(NOT SERENGETI_CUDA_INCLUDE_DIR)
  find_path(SERENGETI_CUDA_INCLUDE_DIR cuda_fp16.h
            HINTS ENV CUDA_HOME ENV CUDA_PATH /usr/local/cuda
            PATH_SUFFIXES include targets/x86_64-linux/include targets/sbsa-linux/include)
endif()

function(serengeti_add_emu_runtime)
  if(TARGET serengeti_emu_runtime)
    return()
  endif()
  file(GLOB runtime_sources CONFIGURE_DEPENDS ${SERENGETI_EMU_DIR}/*.cpp)
  add_library(serengeti_emu_runtime STATIC ${runtime_sources})
  set_target_properties(serengeti_emu_runtime PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(serengeti_emu_runtime PUBLIC ${SERENGETI_CUDA_INCLUDE_DIR})
  find_package(Threads REQUIRED)
  target_link_libraries(serengeti_emu_runtime PUBLIC Threads::Threads ${CMAKE_DL_LIBS})
  target_compile_options(serengeti_emu_runtime PRIVATE -O2)
endfunction()

# serengeti_add_emu_kernels(<target> <.cu files...> [INCLUDE_DIRECTORIES dirs...])
function(serengeti_add_emu_kernels target)
  cmake_parse_arguments(ARG "" "" "INCLUDE_DIRECTORIES" ${ARGN})
  set(wrappers "")
  foreach(source ${ARG_UNPARSED_ARGUMENTS})
    get_filename_component(absolute ${source} ABSOLUTE)
    file(RELATIVE_PATH relative ${PROJECT_SOURCE_DIR} ${absolute})
    string(MAKE_C_IDENTIFIER ${relative} wrapper_name)
    set(wrapper ${CMAKE_CURRENT_BINARY_DIR}/emu_sources/${wrapper_name}.cpp)
    file(GENERATE OUTPUT ${wrapper} CONTENT "#include \"${absolute}\"\n")
    list(APPEND wrappers ${wrapper})
  endforeach()
  add_library(${target} OBJECT ${wrappers})
  set_target_properties(${target} PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    # Renames the undefined thread-local symbols of `extern __shared__` arrays after each compile.
    CXX_COMPILER_LAUNCHER ${SERENGETI_EMU_DIR}/emu_cxx.sh)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR} ${ARG_INCLUDE_DIRECTORIES}
                             ${SERENGETI_CUDA_INCLUDE_DIR})
  target_compile_definitions(${target} PRIVATE SG_KERNEL_NAMESPACE=emu)
  target_compile_options(${target} PRIVATE
    -include ${SERENGETI_EMU_DIR}/emu_prelude.h
    -fno-extern-tls-init             # extern __shared__ arrays have no TLS init function
    -fno-ipa-reference-addressable   # or GCC folds reads of never-written __shared__ to zero
    -O2)
endfunction()
