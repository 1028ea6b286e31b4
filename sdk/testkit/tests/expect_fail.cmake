# Run the testkit and require exit status 1 and the line EXPECT in its output.
execute_process(COMMAND ${CMD} --plugin ${PLUGIN} --config ${CONFIG}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 1)
    message(FATAL_ERROR "expected exit status 1, got ${rc}")
endif()
string(FIND "${out}" "${EXPECT}" pos)
if(pos EQUAL -1)
    message(FATAL_ERROR "expected a line starting with: ${EXPECT}")
endif()
