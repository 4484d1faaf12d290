# Builds one kv package directory, run with `cmake -P` at build time (no shell needed):
# copies BINARY into OUT_DIR and writes OUT_DIR/manifest.yaml from TEMPLATE, with the
# copy's sha256. PKG_FEATURES is "name@introduced_in,..." (empty: no features).
foreach(required BINARY OUT_DIR TEMPLATE PKG_NAME PKG_VERSION PKG_SCHEMA PKG_UPGRADE_FROM PKG_ARCH)
  if(NOT DEFINED ${required} OR "${${required}}" STREQUAL "")
    message(FATAL_ERROR "make_package.cmake: -D${required}=... is required")
  endif()
endforeach()

get_filename_component(PKG_BINARY "${BINARY}" NAME)
file(MAKE_DIRECTORY "${OUT_DIR}")
file(COPY_FILE "${BINARY}" "${OUT_DIR}/${PKG_BINARY}")
file(SHA256 "${OUT_DIR}/${PKG_BINARY}" PKG_SHA256)

if("${PKG_FEATURES}" STREQUAL "")
  set(PKG_FEATURES_YAML "features: []")
else()
  set(PKG_FEATURES_YAML "features:")
  string(REPLACE "," ";" features "${PKG_FEATURES}")
  foreach(feature IN LISTS features)
    string(REPLACE "@" ";" parts "${feature}")
    list(GET parts 0 feature_name)
    list(GET parts 1 introduced_in)
    string(APPEND PKG_FEATURES_YAML "\n  - {name: ${feature_name}, introduced_in: ${introduced_in}}")
  endforeach()
endif()

configure_file("${TEMPLATE}" "${OUT_DIR}/manifest.yaml" @ONLY)
# configure_file keeps an unchanged manifest's old time; the build needs it newer than the binary.
file(TOUCH "${OUT_DIR}/manifest.yaml")
