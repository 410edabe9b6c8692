# teacher: sources of this part, added to yantra_core.
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/teacher/util.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/transport.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/retry.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/client.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/openai.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/anthropic.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/gemini.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/extract.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/tasks.cpp
  ${CMAKE_SOURCE_DIR}/src/teacher/soft_labels.cpp)
