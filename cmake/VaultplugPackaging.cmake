# Installation extras and Debian packages of the vaultplug tree. Included once, at the end of the
# top-level CMakeLists.txt, after every target (and every vaultplug_add_provider call) exists.
#
# Install components and the packages CPack makes of them (scripts/package.sh):
#   lib                       libvaultplug.so.N*                      -> libvaultplug
#   dev, sdk, testkit         headers, libvaultplug.so, vaultplug.pc,
#                             vaultplug-sdk.pc, CMake packages,
#                             vaultplug-testkit, docs and examples,
#                             the echo example provider              -> libvaultplug-dev
#   cli                       bin/vaultplug, man pages, completion,
#                             user guide and provider pages          -> vaultplug
#   provider-<p>              <libdir>/vaultplug/providers-1/<p>.so   -> vaultplug-provider-<p>
include(CMakePackageConfigHelpers)

# Plugin ABI major, from the one place it is defined (the SDK header).
file(STRINGS ${PROJECT_SOURCE_DIR}/sdk/include/vaultplug/provider.h _vp_abi_line
     REGEX "^#define VP_ABI_MAJOR +[0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" VP_ABI_MAJOR "${_vp_abi_line}")

# ---- CMake package `vaultplug` and pkg-config file `vaultplug.pc` --------------------------------
set(_vp_cfgdir ${CMAKE_INSTALL_LIBDIR}/cmake/vaultplug)
install(EXPORT vaultplugTargets NAMESPACE vaultplug:: DESTINATION ${_vp_cfgdir} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vaultplugConfig.cmake.in
    ${PROJECT_BINARY_DIR}/vaultplugConfig.cmake
    INSTALL_DESTINATION ${_vp_cfgdir}
    PATH_VARS CMAKE_INSTALL_INCLUDEDIR VP_PROVIDER_INSTALL_DIR)
# SameMajorVersion: a program built against 1.x keeps building against any later 1.y.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vaultplugConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vaultplugConfig.cmake
              ${PROJECT_BINARY_DIR}/vaultplugConfigVersion.cmake
        DESTINATION ${_vp_cfgdir} COMPONENT dev)
configure_file(${PROJECT_SOURCE_DIR}/cmake/vaultplug.pc.in ${PROJECT_BINARY_DIR}/vaultplug.pc
               @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vaultplug.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# ---- installed programs find the installed library ----------------------------------------------
# Outside the linker's default directories (e.g. /usr/local/lib before ldconfig ran, /opt/...),
# the programs carry a relative RUNPATH to the library; in /usr (the Debian packages) none.
if(NOT CMAKE_INSTALL_FULL_LIBDIR IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    file(RELATIVE_PATH _vp_rel ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
    foreach(_t vaultplug_cli vaultplug-testkit)
        if(TARGET ${_t})
            set_property(TARGET ${_t} PROPERTY INSTALL_RPATH "$ORIGIN/${_vp_rel}")
        endif()
    endforeach()
endif()

# ---- man pages and shell completion of the CLI -------------------------------------------------
# They are optional inputs: globbed with CONFIGURE_DEPENDS so that the build re-runs CMake when
# one appears or disappears, and installed only if present. Each page is configured first
# (@PROJECT_VERSION@, @VP_DOCDIR@: the footer shows the version built and SEE ALSO the
# installed documentation) into <build>/man/, which is also what the docs test renders.
set(_vp_docdir ${CMAKE_INSTALL_DATADIR}/doc/vaultplug)
set(_vp_dev_docdir ${CMAKE_INSTALL_DATADIR}/doc/libvaultplug-dev)
set(VP_DOCDIR ${CMAKE_INSTALL_FULL_DATADIR}/doc/vaultplug) # for the man pages' text
if(TARGET vaultplug_cli)
    file(GLOB _vp_man CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.[1-9])
    set(_vp_man_gz)
    foreach(_m IN LISTS _vp_man)
        get_filename_component(_name ${_m} NAME)
        string(REGEX MATCH "[1-9]$" _sec ${_name})
        configure_file(${_m} ${PROJECT_BINARY_DIR}/man/${_name} @ONLY)
        # Debian policy: man pages are installed gzip-compressed (-n: reproducible).
        set(_gz ${PROJECT_BINARY_DIR}/man/${_name}.gz)
        add_custom_command(OUTPUT ${_gz}
            COMMAND sh -c "gzip -9nc \"$0\" >\"$1\"" ${PROJECT_BINARY_DIR}/man/${_name} ${_gz}
            DEPENDS ${_m} ${PROJECT_BINARY_DIR}/man/${_name} VERBATIM)
        list(APPEND _vp_man_gz ${_gz})
        install(FILES ${_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_sec} COMPONENT cli)
    endforeach()
    if(_vp_man_gz)
        add_custom_target(vaultplug_man ALL DEPENDS ${_vp_man_gz})
        # Building just the command (--target vaultplug_cli) still makes `--component cli`
        # installable.
        add_dependencies(vaultplug_cli vaultplug_man)
    endif()
    # The user documentation the man pages cite: <datadir>/doc/vaultplug/.
    install(FILES ${PROJECT_SOURCE_DIR}/docs/guide.md DESTINATION ${_vp_docdir} COMPONENT cli)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/providers DESTINATION ${_vp_docdir}
            COMPONENT cli FILES_MATCHING PATTERN "*.md")
    file(GLOB _vp_bash CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cli/completion/*.bash)
    foreach(_c IN LISTS _vp_bash)
        get_filename_component(_name ${_c} NAME_WE)
        # bash-completion loads completions/<command> on demand.
        install(FILES ${_c} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
                RENAME ${_name} COMPONENT cli)
    endforeach()
endif()

# ---- documentation and examples of the -dev package -----------------------------------------
# <datadir>/doc/libvaultplug-dev/: the plugin author's guide, the vault format, the user guide
# (the public headers cite these), the design (the architecture and the versioning rules of
# the C API and the plugin ABI; it links the three others), and examples/: the echo provider's sources (the template a
# provider starts from; its README builds it out of tree) and the embedding example. The echo
# module itself is installed as a provider in this component too, so the examples (and the
# docs that use echo:// references) run with the -dev package installed; the CLI-only and
# provider packages do not carry it.
install(FILES ${PROJECT_SOURCE_DIR}/docs/plugins.md ${PROJECT_SOURCE_DIR}/docs/vault-format.md
              ${PROJECT_SOURCE_DIR}/docs/guide.md ${PROJECT_SOURCE_DIR}/docs/design.md
        DESTINATION ${_vp_dev_docdir} COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/sdk/examples/echo/CMakeLists.txt
              ${PROJECT_SOURCE_DIR}/sdk/examples/echo/README.md
              ${PROJECT_SOURCE_DIR}/sdk/examples/echo/echo.c
              ${PROJECT_SOURCE_DIR}/sdk/testkit/echo.json
        DESTINATION ${_vp_dev_docdir}/examples/echo COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/examples/host/CMakeLists.txt
              ${PROJECT_SOURCE_DIR}/examples/host/Makefile
              ${PROJECT_SOURCE_DIR}/examples/host/README.md
              ${PROJECT_SOURCE_DIR}/examples/host/host.c
              ${PROJECT_SOURCE_DIR}/examples/host/request.tmpl
        DESTINATION ${_vp_dev_docdir}/examples/host COMPONENT dev)
if(TARGET echo)
    install(TARGETS echo LIBRARY DESTINATION ${VP_PROVIDER_INSTALL_DIR} COMPONENT dev)
endif()

# ---- CPack: Debian packages ---------------------------------------------------------------------
get_property(_vp_providers GLOBAL PROPERTY VAULTPLUG_PROVIDERS)
if(_vp_providers)
    list(REMOVE_DUPLICATES _vp_providers)
endif()

set(CPACK_PACKAGE_NAME vaultplug)
set(CPACK_PACKAGE_VENDOR "vaultplug")
set(CPACK_PACKAGE_CONTACT "vaultplug maintainers <maintainers@vaultplug.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_GENERATOR DEB)
set(CPACK_SOURCE_GENERATOR "")
set(CPACK_DEB_COMPONENT_INSTALL ON)
# Package the layout of the prefix the tree was configured for (the library finds its providers
# relative to itself and the .pc/CMake files are relocatable, but that prefix's provider
# directory is also compiled in as the fallback).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(_vp_debver ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
# Runtime dependencies from the ELF files (libcurl4, libsodium23, ... for the library; libc6
# only for providers). libvaultplug itself is not an installed package while we build:
# dpkg-shlibdeps finds it in the build tree and the explicit Depends below names it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/core)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(_vp_needs_lib "libvaultplug (= ${_vp_debver})")

include(CPackComponent)
cpack_add_component_group(runtime)
cpack_add_component_group(devel)
cpack_add_component(lib GROUP runtime)
cpack_add_component(dev GROUP devel)
cpack_add_component(sdk GROUP devel)
set(CPACK_COMPONENTS_ALL lib dev sdk)
if(TARGET vaultplug-testkit)
    cpack_add_component(testkit GROUP devel)
    list(APPEND CPACK_COMPONENTS_ALL testkit)
endif()

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libvaultplug)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# A package shipping a shared library refreshes the ld.so cache (Debian policy 8.1.1).
file(WRITE ${PROJECT_BINARY_DIR}/debian/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "vaultplug secret-resolving template engine (library)
 libvaultplug renders Nunjucks/Insomnia-style templates whose {% vault %} tags
 and {{ vault.NAME }} values are resolved from a local encrypted vault and from
 secret stores through provider plugins, with caching, retries and redaction.")
set(CPACK_DEBIAN_DEVEL_PACKAGE_NAME libvaultplug-dev)
set(CPACK_DEBIAN_DEVEL_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVEL_PACKAGE_DEPENDS "${_vp_needs_lib}")
set(CPACK_DEBIAN_DEVEL_DESCRIPTION "vaultplug library and provider SDK (development files)
 Headers, pkg-config files (vaultplug, vaultplug-sdk) and CMake packages
 (find_package(vaultplug) and find_package(vaultplug-sdk)) for applications that
 embed libvaultplug and for authors of provider plugins, with the
 vaultplug-testkit conformance runner when it was built, the documentation,
 and examples: an embedding host and the 'echo' example provider (sources in
 /usr/share/doc/libvaultplug-dev/examples, and installed as a provider).")

if(TARGET vaultplug_cli)
    cpack_add_component(cli)
    list(APPEND CPACK_COMPONENTS_ALL cli)
    set(CPACK_DEBIAN_CLI_PACKAGE_NAME vaultplug)
    set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
    set(CPACK_DEBIAN_CLI_PACKAGE_DEPENDS "${_vp_needs_lib}")
    set(CPACK_DEBIAN_CLI_DESCRIPTION "render request templates with secrets from vaults and clouds
 The vaultplug command renders templates, manages the local encrypted vault
 and stored provider credentials, and lists the installed providers.")
endif()

foreach(_p IN LISTS _vp_providers)
    string(TOUPPER "provider-${_p}" _P)
    cpack_add_component(provider-${_p})
    list(APPEND CPACK_COMPONENTS_ALL provider-${_p})
    set(CPACK_DEBIAN_${_P}_PACKAGE_NAME vaultplug-provider-${_p})
    set(CPACK_DEBIAN_${_P}_PACKAGE_DEPENDS "${_vp_needs_lib}")
    set(CPACK_DEBIAN_${_P}_DESCRIPTION "vaultplug provider plugin '${_p}'
 Lets vaultplug resolve '${_p}://' references ({% vault '${_p}', ... %}). Installed
 into the library's provider directory; only needs libvaultplug at run time.")
endforeach()

include(CPack)
