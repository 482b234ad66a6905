# ctest helper: runs `blog_verify --data DATA --source-only` and checks that
# the counts, the per-depth counts and the three checksums it prints are the
# ones published in README (data/README.md).
#   cmake -DVERIFY=... -DDATA=... -DREADME=... -P check_source_figures.cmake
execute_process(COMMAND ${VERIFY} --data ${DATA} --source-only
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "blog_verify --source-only failed (${rc}):\n${out}${err}")
endif()
message(STATUS "blog_verify printed:\n${out}")
file(READ ${README} readme)

set(failures "")
macro(expect what readme_regex out_regex_prefix)
  if(NOT readme MATCHES "${readme_regex}")
    message(FATAL_ERROR "cannot find ${what} in ${README}")
  endif()
  set(want "${CMAKE_MATCH_1}")
  string(REPLACE "," "" want "${want}")
  if(NOT out MATCHES "${out_regex_prefix}${want}\n")
    list(APPEND failures "${what}: README says ${want}")
  endif()
endmacro()

expect("blogs" "\\| blogs \\| ([0-9,]+) \\|" "\nblogs +")
expect("comments" "\\| comments \\| ([0-9,]+) \\|" "\ncomments +")
expect("max depth" "\\| max depth[^|]*\\| ([0-9,]+) \\|" "\nmax depth +")
expect("sha256_structure" "\\| sha256_structure \\| `([0-9a-f]+)` \\|" "\nsha256_structure +")
expect("sha256_messages" "\\| sha256_messages \\| `([0-9a-f]+)` \\|" "\nsha256_messages +")
expect("sha256_blogs" "\\| sha256_blogs \\| `([0-9a-f]+)` \\|" "\nsha256_blogs +")

# Comments per depth: the README's block of depth:count pairs, whitespace
# normalised, must equal the printed one.
if(NOT readme MATCHES "Comments per depth \\(depth:count\\):[ \n]*([0-9: \n]+)\n\n")
  message(FATAL_ERROR "cannot find the comments-per-depth block in ${README}")
endif()
string(REGEX REPLACE "[ \n]+" " " want_depth "${CMAKE_MATCH_1}")
string(STRIP "${want_depth}" want_depth)
if(NOT out MATCHES "comments per depth \\(depth:count\\):\n([0-9: \n]+)")
  message(FATAL_ERROR "blog_verify printed no comments-per-depth block")
endif()
string(REGEX REPLACE "[ \n]+" " " got_depth "${CMAKE_MATCH_1}")
string(STRIP "${got_depth}" got_depth)
if(NOT got_depth STREQUAL want_depth)
  list(APPEND failures "comments per depth:\n  README:  ${want_depth}\n  printed: ${got_depth}")
endif()

if(failures)
  string(REPLACE ";" "\n" failures "${failures}")
  message(FATAL_ERROR "blog_verify's source figures differ from ${README}:\n${failures}")
endif()
message(STATUS "source figures equal data/README.md")
