# One short fuzz run: cmake -DFUZZER=... -DCORPUS=... -DWORK=... -DRUNS=...
# -P run-short.cmake. The working corpus and any crash input go to WORK,
# emptied first; the seed corpus is only read.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
execute_process(COMMAND ${FUZZER} -seed=1 -runs=${RUNS} -max_len=512
    -timeout=60 -print_final_stats=1 -artifact_prefix=${WORK}/
    ${WORK}/corpus ${CORPUS}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzz run failed (${rc}); the input is in ${WORK}")
endif()
