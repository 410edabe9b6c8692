# router: the teacher ladder, routing decisions and the generate pipeline.
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/router/teachers.cpp
  ${CMAKE_SOURCE_DIR}/src/router/request.cpp
  ${CMAKE_SOURCE_DIR}/src/router/probes.cpp
  ${CMAKE_SOURCE_DIR}/src/router/select.cpp
  ${CMAKE_SOURCE_DIR}/src/router/soft_examples.cpp
  ${CMAKE_SOURCE_DIR}/src/router/written_tests.cpp
  ${CMAKE_SOURCE_DIR}/src/router/calibration.cpp
  ${CMAKE_SOURCE_DIR}/src/router/pipeline.cpp
  ${CMAKE_SOURCE_DIR}/src/router/student_answer.cpp
  ${CMAKE_SOURCE_DIR}/src/router/library_encoder.cpp
  ${CMAKE_SOURCE_DIR}/src/router/outcome.cpp
  ${CMAKE_SOURCE_DIR}/src/router/adapt.cpp)
