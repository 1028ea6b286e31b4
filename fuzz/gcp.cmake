# fuzz_gcp: the gcp provider's response parsers (access payload + CRC32C, google.rpc.Status and
# OAuth error bodies, token responses) and its secretName parser, through the real host table.
if(WITH_GCP)
    vp_add_fuzzer(fuzz_gcp)
    target_sources(fuzz_gcp PRIVATE ${CMAKE_SOURCE_DIR}/plugins/gcp/gcp_resp.c
                                    ${CMAKE_SOURCE_DIR}/plugins/gcp/gcp_name.c)
    target_include_directories(fuzz_gcp PRIVATE ${CMAKE_SOURCE_DIR}/plugins/gcp)
endif()
