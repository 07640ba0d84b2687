# Sorts sources by whether they reach libtorch's headers, so that only those pay for torch.
#
# Why: a translation unit given the torch precompiled header spends ~5 s loading its 640 MB even
# when it uses nothing from it, while half of fedsilo (transport, store, config, dashboard) never
# touches a tensor and compiles in 1-8 s without it (docs/benchmarks.md, "Build and test").
#
#   fedsilo_split_torch_sources(<torch_var> <plain_var> SOURCES <file>... SEARCH <dir>...)
#
# A file reaches torch when it, or a header it includes with quotes (looked up beside the
# including file, then in each SEARCH folder), includes <torch/...>, <ATen/...> or <c10/...>.
# Only the configure step reads the includes: a source that starts to use torch compiles without
# the precompiled header (slower, still correct) until cmake runs again.
function(_fedsilo_reaches_torch out file search)
  set(pending "${file}")
  set(seen "")
  while(pending)
    list(POP_FRONT pending current)
    if(current IN_LIST seen)
      continue()
    endif()
    list(APPEND seen "${current}")
    file(STRINGS "${current}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    get_filename_component(dir "${current}" DIRECTORY)
    foreach(line IN LISTS lines)
      if(line MATCHES "<(torch|ATen|c10)/")
        set(${out} TRUE PARENT_SCOPE)
        return()
      endif()
      if(NOT line MATCHES "\"([^\"]+)\"")
        continue()
      endif()
      set(name "${CMAKE_MATCH_1}")
      foreach(base IN ITEMS "${dir}" ${search})
        if(EXISTS "${base}/${name}")
          get_filename_component(found "${base}/${name}" ABSOLUTE)
          list(APPEND pending "${found}")
          break()
        endif()
      endforeach()
    endforeach()
  endwhile()
  set(${out} FALSE PARENT_SCOPE)
endfunction()

function(fedsilo_split_torch_sources torch_var plain_var)
  cmake_parse_arguments(ARG "" "" "SOURCES;SEARCH" ${ARGN})
  set(torch "")
  set(plain "")
  foreach(source IN LISTS ARG_SOURCES)
    _fedsilo_reaches_torch(reaches "${source}" "${ARG_SEARCH}")
    if(reaches)
      list(APPEND torch "${source}")
    else()
      list(APPEND plain "${source}")
    endif()
  endforeach()
  set(${torch_var} "${torch}" PARENT_SCOPE)
  set(${plain_var} "${plain}" PARENT_SCOPE)
endfunction()
