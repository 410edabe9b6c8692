# student: the GraphSAGE network. Only model, eval, trainer, student,
# parameters, online, caching_allocator, node_heads and embedding_cache include LibTorch.
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/student/graph_data.cpp
  ${CMAKE_SOURCE_DIR}/src/student/features.cpp
  ${CMAKE_SOURCE_DIR}/src/student/sampler.cpp
  ${CMAKE_SOURCE_DIR}/src/student/text_embedding.cpp
  ${CMAKE_SOURCE_DIR}/src/student/model.cpp
  ${CMAKE_SOURCE_DIR}/src/student/eval.cpp
  ${CMAKE_SOURCE_DIR}/src/student/trainer.cpp
  ${CMAKE_SOURCE_DIR}/src/student/student.cpp
  ${CMAKE_SOURCE_DIR}/src/student/parameters.cpp
  ${CMAKE_SOURCE_DIR}/src/student/online.cpp
  ${CMAKE_SOURCE_DIR}/src/student/caching_allocator.cpp
  ${CMAKE_SOURCE_DIR}/src/student/targets.cpp
  ${CMAKE_SOURCE_DIR}/src/student/node_heads.cpp
  ${CMAKE_SOURCE_DIR}/src/student/embedding_cache.cpp)
