# config: sources of this part, added to yantra_core.
target_sources(yantra_core PRIVATE
  ${CMAKE_SOURCE_DIR}/src/config/schema.cpp
  ${CMAKE_SOURCE_DIR}/src/config/settings.cpp
  ${CMAKE_SOURCE_DIR}/src/config/values.cpp
  ${CMAKE_SOURCE_DIR}/src/config/toml_edit.cpp
  ${CMAKE_SOURCE_DIR}/src/config/private_file.cpp
  ${CMAKE_SOURCE_DIR}/src/config/keys.cpp
  ${CMAKE_SOURCE_DIR}/src/config/terminal.cpp)
