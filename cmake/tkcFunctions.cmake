# tkc_add_model(<name> ARCH <arch.json> [TARGETS t...] [OFFLOAD_ARCH gfx...] [CUDA_ARCH sm...]
#               [CPU cpu] [MAX_BATCH n] [OUTPUT_DIR dir] [INSTALL_DESTINATION dir])
#
# Compiles a model at build time with `tkc compile` into a bundle directory (default
# ${CMAKE_CURRENT_BINARY_DIR}/<name>.bundle) and adds a target <name> that builds it with ALL.
# The compile re-runs only when the arch.json or the tkc executable changes. The bundle
# directory is the target's property TKC_BUNDLE_DIR; with INSTALL_DESTINATION the bundle is
# installed there. Works with an installed tkc (find_package(tkc)) and from a build tree
# (add_subdirectory / FetchContent of the tkc sources): both define the target tkc::tkc.
# docs/cmake.md has an example.
function(tkc_add_model name)
  cmake_parse_arguments(M "" "ARCH;CPU;MAX_BATCH;OUTPUT_DIR;INSTALL_DESTINATION"
                        "TARGETS;OFFLOAD_ARCH;CUDA_ARCH" ${ARGN})
  if(NOT M_ARCH)
    message(FATAL_ERROR "tkc_add_model(${name}): ARCH <arch.json> is required")
  endif()
  if(M_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "tkc_add_model(${name}): unknown arguments ${M_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET tkc::tkc)
    message(FATAL_ERROR "tkc_add_model(${name}): no tkc::tkc target (find_package(tkc) first)")
  endif()
  get_filename_component(arch "${M_ARCH}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${name}.bundle")
  if(M_OUTPUT_DIR)
    get_filename_component(dir "${M_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  set(flags --quiet)
  foreach(opt TARGETS OFFLOAD_ARCH CUDA_ARCH)
    if(M_${opt})
      string(TOLOWER "${opt}" flag)
      string(REPLACE "_" "-" flag "${flag}")
      list(JOIN M_${opt} "," value)
      list(APPEND flags "--${flag}" "${value}")
    endif()
  endforeach()
  if(M_CPU)
    list(APPEND flags --cpu "${M_CPU}")
  endif()
  if(M_MAX_BATCH)
    list(APPEND flags --max-batch "${M_MAX_BATCH}")
  endif()
  add_custom_command(
    OUTPUT "${dir}/manifest.json"
    COMMAND tkc::tkc compile "${arch}" -o "${dir}" ${flags}
    DEPENDS "${arch}" tkc::tkc
    COMMENT "tkc: proving and compiling ${name} (${M_ARCH})"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS "${dir}/manifest.json")
  set_target_properties(${name} PROPERTIES TKC_BUNDLE_DIR "${dir}")
  if(M_INSTALL_DESTINATION)
    install(DIRECTORY "${dir}/" DESTINATION "${M_INSTALL_DESTINATION}")
  endif()
endfunction()
