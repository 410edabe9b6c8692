# student: the GraphSAGE network. The graph side (features, sampling, targets) and the
# forwarding half of the API (torch_module.cpp) are in the core; everything that includes
# LibTorch is the module libyantra_torch.so, opened on first use (torch_module.h).
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/student/graph_data.cpp
  ${CMAKE_SOURCE_DIR}/src/student/features.cpp
  ${CMAKE_SOURCE_DIR}/src/student/eval_json.cpp
  ${CMAKE_SOURCE_DIR}/src/student/sampler.cpp
  ${CMAKE_SOURCE_DIR}/src/student/text_embedding.cpp
  ${CMAKE_SOURCE_DIR}/src/student/lexicon.cpp
  ${CMAKE_SOURCE_DIR}/src/student/request_view.cpp
  ${CMAKE_SOURCE_DIR}/src/student/augment.cpp
  ${CMAKE_SOURCE_DIR}/src/student/docstring_pairs.cpp
  ${CMAKE_SOURCE_DIR}/src/student/encoder.cpp
  ${CMAKE_SOURCE_DIR}/src/student/targets.cpp
  ${CMAKE_SOURCE_DIR}/src/student/torch_module.cpp)
# Snowball's stemmer (Debian libstemmer-dev ships no pkg-config file).
find_library(STEMMER_LIBRARY stemmer REQUIRED)
find_path(STEMMER_INCLUDE_DIR libstemmer.h REQUIRED)
target_include_directories(yantra_core PRIVATE ${STEMMER_INCLUDE_DIR})
target_link_libraries(yantra_core PRIVATE ${STEMMER_LIBRARY})

# Compiled once: linked into the module, and into the model tests, which also reach the
# network's internals (model.h).
add_library(yantra_torch_objects OBJECT
  ${CMAKE_SOURCE_DIR}/src/student/model.cpp
  ${CMAKE_SOURCE_DIR}/src/student/eval.cpp
  ${CMAKE_SOURCE_DIR}/src/student/trainer.cpp
  ${CMAKE_SOURCE_DIR}/src/student/student.cpp
  ${CMAKE_SOURCE_DIR}/src/student/parameters.cpp
  ${CMAKE_SOURCE_DIR}/src/student/online.cpp
  ${CMAKE_SOURCE_DIR}/src/student/caching_allocator.cpp
  ${CMAKE_SOURCE_DIR}/src/student/node_heads.cpp
  ${CMAKE_SOURCE_DIR}/src/student/embedding_cache.cpp
  ${CMAKE_SOURCE_DIR}/src/student/encoder_train.cpp
  ${CMAKE_SOURCE_DIR}/src/student/module_entry.cpp)
set_target_properties(yantra_torch_objects PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_compile_options(yantra_torch_objects PRIVATE ${YANTRA_WARNINGS})
target_link_libraries(yantra_torch_objects PUBLIC yantra_core ${TORCH_LIBRARIES})

add_library(yantra_torch MODULE)
target_link_libraries(yantra_torch PRIVATE yantra_torch_objects yantra_core ${TORCH_LIBRARIES})
target_link_options(yantra_torch PRIVATE
  -Wl,--no-undefined -Wl,--version-script=${CMAKE_SOURCE_DIR}/src/student/module.map)
set_target_properties(yantra_torch PROPERTIES
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/src/student/module.map
  LIBRARY_OUTPUT_DIRECTORY $<TARGET_FILE_DIR:yantra_core>)
