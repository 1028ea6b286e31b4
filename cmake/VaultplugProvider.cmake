# vaultplug_add_provider(<name> SOURCES <src>... [LIBRARIES <lib>...] [OUTPUT_DIRECTORY <dir>]
#                        [INSTALL_DIR <dir>] [NO_INSTALL] [EXCLUDE_FROM_ALL])
#
# Builds a vaultplug provider plugin `<name>.so` (no "lib" prefix: the file's base name is the
# provider's name) against the SDK headers:
#   - C11, hidden visibility, a linker version script that exports only
#     vaultplug_provider_entry, and -Wl,--no-undefined so the module provably needs nothing but
#     libc (and LIBRARIES, if a provider truly needs its own extra library);
#   - full RELRO (-Wl,-z,now -Wl,-z,relro), like libvaultplug and the vaultplug command;
#   - installed into INSTALL_DIR (default: the SDK's provider directory) as its own install
#     COMPONENT `provider-<name>`, so `cmake --install <build> --component provider-<name>`
#     installs it alone and CPack makes one package per provider (vaultplug-provider-<name>).
#     EXCLUDE_FROM_ALL keeps it out of a plain `cmake --install` and out of the packages (the
#     component can still be installed by name): for example and test providers.
# Every installed provider is appended to the global property VAULTPLUG_PROVIDERS, which the
# vaultplug tree's packaging (cmake/VaultplugPackaging.cmake) turns into packages.
# Works in the vaultplug source tree and out of tree after find_package(vaultplug-sdk).
set(_VP_PROVIDER_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "directory of provider.map")

function(vaultplug_add_provider name)
    cmake_parse_arguments(VPP "NO_INSTALL;EXCLUDE_FROM_ALL" "OUTPUT_DIRECTORY;INSTALL_DIR" "SOURCES;LIBRARIES" ${ARGN})
    if(NOT name MATCHES "^[a-z0-9_]+$")
        message(FATAL_ERROR "vaultplug_add_provider: provider name '${name}' must match [a-z0-9_]+")
    endif()
    if(NOT VPP_SOURCES)
        message(FATAL_ERROR "vaultplug_add_provider(${name}): SOURCES is required")
    endif()
    add_library(${name} MODULE ${VPP_SOURCES})
    set_target_properties(${name} PROPERTIES
        PREFIX "" OUTPUT_NAME ${name}
        C_STANDARD 11 C_STANDARD_REQUIRED ON C_VISIBILITY_PRESET hidden)
    if(VPP_OUTPUT_DIRECTORY)
        set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${VPP_OUTPUT_DIRECTORY})
    endif()
    if(TARGET vaultplug::sdk)
        target_link_libraries(${name} PRIVATE vaultplug::sdk)
    elseif(TARGET vaultplug_sdk)
        target_link_libraries(${name} PRIVATE vaultplug_sdk)
    endif()
    if(VPP_LIBRARIES)
        target_link_libraries(${name} PRIVATE ${VPP_LIBRARIES})
    endif()
    # Full RELRO: symbols bound when the module is loaded, not on first call (the lazy resolver
    # spills registers, which can hold secret bytes, onto the stack), and a read-only GOT.
    target_link_options(${name} PRIVATE "LINKER:-z,now" "LINKER:-z,relro")
    set(_map ${_VP_PROVIDER_CMAKE_DIR}/provider.map)
    target_link_options(${name} PRIVATE "LINKER:--version-script=${_map}")
    set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS ${_map})
    # Sanitized builds resolve the sanitizer runtime from the executable at load time.
    if(NOT VP_SANITIZED)
        target_link_options(${name} PRIVATE "LINKER:--no-undefined" "LINKER:--as-needed")
    endif()
    if(NOT VPP_NO_INSTALL)
        if(VPP_INSTALL_DIR)
            set(_dest ${VPP_INSTALL_DIR})
        elseif(DEFINED VP_PROVIDER_INSTALL_DIR)
            set(_dest ${VP_PROVIDER_INSTALL_DIR})
        elseif(DEFINED VAULTPLUG_SDK_PROVIDER_DIR)
            set(_dest ${VAULTPLUG_SDK_PROVIDER_DIR})
        else()
            set(_dest lib/vaultplug/providers-1)
        endif()
        if(VPP_EXCLUDE_FROM_ALL)
            install(TARGETS ${name} LIBRARY DESTINATION ${_dest} COMPONENT provider-${name}
                    EXCLUDE_FROM_ALL)
        else()
            install(TARGETS ${name} LIBRARY DESTINATION ${_dest} COMPONENT provider-${name})
            set_property(GLOBAL APPEND PROPERTY VAULTPLUG_PROVIDERS ${name})
        endif()
    endif()
endfunction()
