# ledger: sources of this part, added to yantra_core.
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/ledger/ledger.cpp
  ${CMAKE_SOURCE_DIR}/src/ledger/summary.cpp)
