# library: sources of this part, added to yantra_core. hnswlib is header-only.
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/library/store.cpp
  ${CMAKE_SOURCE_DIR}/src/library/entries.cpp
  ${CMAKE_SOURCE_DIR}/src/library/index.cpp
  ${CMAKE_SOURCE_DIR}/src/library/invalidate.cpp
  ${CMAKE_SOURCE_DIR}/src/library/embedder.cpp)
