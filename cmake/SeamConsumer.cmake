# seam_add_consumer(NAME SOURCES file.c ... [LIBRARIES lib ...])
#
# Builds a Seam consumer plugin: a shared object named NAME.so (no "lib"
# prefix, so `plugin: NAME` finds it on the plugin path) that exports only
# the seam_plugin_entry symbol, and installs it into lib/seam/plugins.
#
# The same file serves two builds:
#   - in the Seam tree (included by the top-level CMakeLists.txt), where the
#     headers are framework/include and the plugin goes to build/plugins,
#     the folder the in-tree `seam` looks in;
#   - out of tree, included by the installed SeamConfig.cmake after it has
#     defined the imported target Seam::headers; the plugin then lands in
#     the caller's binary directory (build/NAME.so).
# A plugin links nothing from Seam: the host API table is passed at init().
# One that reads decoded records (<avro.h>) adds Avro C in LIBRARIES.

# Where this file lives, captured at include time: inside the function
# CMAKE_CURRENT_LIST_DIR is the caller's directory.
set(_SEAM_CONSUMER_LIST_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(seam_add_consumer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "seam_add_consumer(${name}): unexpected arguments "
      "'${ARG_UNPARSED_ARGUMENTS}' (expected SOURCES file.c ... [LIBRARIES lib ...])")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "seam_add_consumer(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  if(TARGET Seam::headers)
    target_link_libraries(${name} PRIVATE Seam::headers)
  else()
    target_include_directories(${name} PRIVATE ${_SEAM_CONSUMER_LIST_DIR}/../framework/include)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/plugins)
    # In-tree tests run the example consumers: they depend on every one.
    set_property(GLOBAL APPEND PROPERTY SEAM_CONSUMER_TARGETS ${name})
  endif()
  if(ARG_LIBRARIES)
    target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES})
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden)
  install(TARGETS ${name} LIBRARY DESTINATION lib/seam/plugins)
endfunction()
