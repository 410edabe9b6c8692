# labels: what the repository and static analysers teach the student about each function.
# Its sources are globbed: the test-kind and bug-kind teachers grow side by side.
file(GLOB YANTRA_LABELS_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/labels/*.cpp)
target_sources(yantra_core PRIVATE ${YANTRA_LABELS_SOURCES})
