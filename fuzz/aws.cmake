# fuzz_aws: the AWS provider's response parsers (Secrets Manager values and errors, credential
# JSON and STS XML, INI files, timestamps) through the real host table. Included by
# fuzz/CMakeLists.txt after vp_add_fuzzer() is defined.
vp_add_fuzzer(fuzz_aws)
set(_aws_dir ${PROJECT_SOURCE_DIR}/plugins/aws)
target_sources(fuzz_aws PRIVATE ${_aws_dir}/aws.c ${_aws_dir}/creds.c ${_aws_dir}/creds_remote.c
               ${_aws_dir}/sigv4.c ${_aws_dir}/sm.c ${_aws_dir}/sm_list.c ${_aws_dir}/util.c)
target_include_directories(fuzz_aws PRIVATE ${_aws_dir})
# The provider's entry point is built under its static name so it cannot clash with anything.
target_compile_definitions(fuzz_aws PRIVATE VP_PROVIDER_STATIC)
