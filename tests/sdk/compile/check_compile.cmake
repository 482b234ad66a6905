# Compiles one file with -fsyntax-only and checks the outcome.
#   cmake -DCXX=<compiler> -DINCLUDE=<include dir> -DSOURCE=<file>
#         -DEXPECT=pass|fail [-DNEEDLE=<regex the diagnostics must match>]
#         -P check_compile.cmake
execute_process(
  COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE} ${SOURCE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
set(all "${out}${err}")
if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} should compile but did not:\n${all}")
  endif()
  message(STATUS "${SOURCE}: compiles, as it should")
else()
  if(rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled but must not")
  endif()
  if(DEFINED NEEDLE AND NOT all MATCHES "${NEEDLE}")
    message(FATAL_ERROR "${SOURCE} failed to compile, but the diagnostics do not match "
                        "\"${NEEDLE}\" (they must name the hook):\n${all}")
  endif()
  message(STATUS "${SOURCE}: rejected with a message matching \"${NEEDLE}\"")
endif()
