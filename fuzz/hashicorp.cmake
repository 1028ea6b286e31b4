# fuzz_hashicorp: the hashicorp provider's response parsers (Vault KV v1/v2, mounts, auth,
# errors; HCP token, :open shapes, grpc errors) on arbitrary bodies and statuses.
vp_add_fuzzer(fuzz_hashicorp)
target_sources(fuzz_hashicorp PRIVATE ${PROJECT_SOURCE_DIR}/plugins/hashicorp/hc_parse.c
                                      ${PROJECT_SOURCE_DIR}/plugins/hashicorp/hc_util.c)
target_include_directories(fuzz_hashicorp PRIVATE ${PROJECT_SOURCE_DIR}/plugins/hashicorp)
