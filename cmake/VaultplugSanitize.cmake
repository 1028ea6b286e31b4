# vaultplug_apply_sanitizers(): turn VP_SANITIZE (a list: address, undefined, thread) into
# compile and link flags for every target of the build.
function(vaultplug_apply_sanitizers)
    if(NOT VP_SANITIZE)
        return()
    endif()
    string(REPLACE ";" "," _san "${VP_SANITIZE}")
    add_compile_options(-fsanitize=${_san} -fno-sanitize-recover=all -g)
    add_link_options(-fsanitize=${_san})
    # Sanitizer runtimes are linked into executables; plugins resolve them from the executable,
    # so --no-undefined cannot hold for sanitized provider modules.
    set(VP_SANITIZED ON PARENT_SCOPE)
    set(VP_SANITIZED ON CACHE INTERNAL "")
endfunction()
