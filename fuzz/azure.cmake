# fuzz_azure: the Azure provider's response/challenge/URI parsers (plugins/azure/az_parse.c and
# its helpers) linked statically into a libFuzzer target with the real host table.
set(_vp_az_dir ${CMAKE_CURRENT_SOURCE_DIR}/../plugins/azure)
vp_add_fuzzer(fuzz_azure)
target_sources(fuzz_azure PRIVATE ${_vp_az_dir}/az_parse.c ${_vp_az_dir}/az_util.c)
target_include_directories(fuzz_azure PRIVATE ${_vp_az_dir})
target_compile_definitions(fuzz_azure PRIVATE VP_PROVIDER_STATIC)
