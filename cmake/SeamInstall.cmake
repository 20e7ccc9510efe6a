# SeamInstall.cmake - what `cmake --install` puts in place besides the
# executable and the headers: the schemas folder, the CMake package
# (lib/cmake/Seam) and the pkg-config file (lib/pkgconfig/seam.pc), so a
# plugin builds in its own repository against an installed Seam:
#
#   find_package(Seam 0.1 REQUIRED)          # CMAKE_PREFIX_PATH=<prefix>
#   cc -shared -fPIC $(pkg-config --cflags seam) ...   # PKG_CONFIG_PATH=<prefix>/lib/pkgconfig
#
# Included by the top-level CMakeLists.txt after the seam target exists.
# Paths are relative to the install prefix (chosen at install time with
# --prefix), never to CMAKE_INSTALL_PREFIX at configure time, so a staged
# install is as usable as the final one.

include(CMakePackageConfigHelpers)

# `seam demo` and the local registry look for share/seam/schemas beside bin/.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/schemas/ DESTINATION share/seam/schemas)

# The ABI version of the headers being installed, so a consumer project can
# print or check what it builds against without compiling anything.
file(STRINGS ${PROJECT_SOURCE_DIR}/framework/include/seam/plugin.h _seam_abi_lines
  REGEX "^#define SEAM_ABI_(MAJOR|MINOR) [0-9]+$")
foreach(_line ${_seam_abi_lines})
  if(_line MATCHES "^#define (SEAM_ABI_MAJOR|SEAM_ABI_MINOR) ([0-9]+)$")
    set(${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
  endif()
endforeach()
if(NOT DEFINED SEAM_ABI_MAJOR OR NOT DEFINED SEAM_ABI_MINOR)
  message(FATAL_ERROR "SeamInstall.cmake: no SEAM_ABI_MAJOR/SEAM_ABI_MINOR in seam/plugin.h")
endif()

set(SEAM_INSTALL_INCLUDEDIR include)
set(SEAM_INSTALL_BINDIR bin)
set(SEAM_INSTALL_PLUGINDIR lib/seam/plugins)
set(SEAM_INSTALL_SCHEMASDIR share/seam/schemas)
set(SEAM_INSTALL_CMAKEDIR lib/cmake/Seam)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/SeamConfig.cmake.in
  ${PROJECT_BINARY_DIR}/SeamConfig.cmake
  INSTALL_DESTINATION ${SEAM_INSTALL_CMAKEDIR}
  PATH_VARS SEAM_INSTALL_INCLUDEDIR SEAM_INSTALL_BINDIR SEAM_INSTALL_PLUGINDIR
            SEAM_INSTALL_SCHEMASDIR)
# 0.x releases: a plugin project asking for 0.1 accepts any later 0.y. What a
# plugin binary really depends on is the ABI major, which the loader checks.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/SeamConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/SeamConfig.cmake
  ${PROJECT_BINARY_DIR}/SeamConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/SeamConsumer.cmake
  DESTINATION ${SEAM_INSTALL_CMAKEDIR})

configure_file(${PROJECT_SOURCE_DIR}/cmake/seam.pc.in ${PROJECT_BINARY_DIR}/seam.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/seam.pc DESTINATION lib/pkgconfig)
