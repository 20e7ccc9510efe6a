# seam_add_consumer(NAME SOURCES file.c ... [LIBRARIES lib ...])
#
# Builds a Seam consumer plugin: a shared object named NAME.so (no "lib"
# prefix, so `plugin: NAME` finds it on the plugin path) that exports only
# the seam_plugin_entry symbol.
function(seam_add_consumer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "seam_add_consumer(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  if(TARGET seam_core)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/framework/include)
  else()
    target_link_libraries(${name} PRIVATE Seam::headers)
  endif()
  if(ARG_LIBRARIES)
    target_link_libraries(${name} PRIVATE ${ARG_LIBRARIES})
  endif()
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/plugins)
  if(TARGET seam_core)
    install(TARGETS ${name} LIBRARY DESTINATION lib/seam/plugins)
  endif()
endfunction()
