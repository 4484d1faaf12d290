# Copies one kv package directory (IN_DIR: manifest.yaml and its binary) into OUT_DIR with the
# binary stripped (STRIP: the strip program) and the manifest's sha256 recomputed for the
# stripped copy, so that the .deb carries small binaries that still verify. Run with
# `cmake -P` at build time.
foreach(required IN_DIR OUT_DIR STRIP)
  if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
    message(FATAL_ERROR "strip_package.cmake: -D${required}=... is required")
  endif()
endforeach()

file(READ "${IN_DIR}/manifest.yaml" manifest)
if(NOT manifest MATCHES "(^|\n)binary: ([^\n]+)")
  message(FATAL_ERROR "strip_package.cmake: ${IN_DIR}/manifest.yaml has no binary: line")
endif()
set(binary "${CMAKE_MATCH_2}")
file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")
execute_process(
  COMMAND "${STRIP}" --strip-unneeded -o "${OUT_DIR}/${binary}" "${IN_DIR}/${binary}"
  RESULT_VARIABLE stripped)
if(NOT stripped EQUAL 0)
  message(FATAL_ERROR "strip_package.cmake: ${STRIP} ${IN_DIR}/${binary} failed: ${stripped}")
endif()
file(SHA256 "${OUT_DIR}/${binary}" sha256)
string(REGEX REPLACE "(^|\n)sha256: [0-9a-f]+" "\\1sha256: ${sha256}" manifest "${manifest}")
file(WRITE "${OUT_DIR}/manifest.yaml" "${manifest}")
