# crowd: patterns, weights, the signed registry, the client and the aggregation server.
# Its sources are globbed: the client and server halves grow side by side.
file(GLOB YANTRA_CROWD_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/crowd/*.cpp)
target_sources(yantra_core PRIVATE ${YANTRA_CROWD_SOURCES})
