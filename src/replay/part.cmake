# replay: sources of this part, added to yantra_core.
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/replay/recordings.cpp
  ${CMAKE_SOURCE_DIR}/src/replay/match.cpp
  ${CMAKE_SOURCE_DIR}/src/replay/alias.cpp
  ${CMAKE_SOURCE_DIR}/src/replay/completion.cpp
  ${CMAKE_SOURCE_DIR}/src/replay/server.cpp)
