# Compiles through Debian's ccache when it is installed (FEDSILO_CCACHE=OFF turns it off): a
# second build of the same sources takes seconds, even from a fresh clone in another folder,
# since paths under the clone are hashed relative to it (CCACHE_BASEDIR).
#
#   include(cmake/FedsiloCcache.cmake) after project(), in the main build and in fuzz/.
option(FEDSILO_CCACHE "Compile through ccache when it is installed" ON)
find_program(FEDSILO_CCACHE_PROGRAM ccache)
set(FEDSILO_USING_CCACHE OFF)
if(FEDSILO_CCACHE AND FEDSILO_CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  # ccache fails every compilation where it cannot write its cache (a read-only home, say):
  # try one first, and build without it rather than not at all.
  set(_fedsilo_probe "${CMAKE_BINARY_DIR}/CMakeFiles/fedsilo_ccache_probe.cpp")
  file(WRITE "${_fedsilo_probe}" "int fedsilo_ccache_probe() { return 0; }\n")
  execute_process(COMMAND ${FEDSILO_CCACHE_PROGRAM} ${CMAKE_CXX_COMPILER} -c "${_fedsilo_probe}"
                          -o "${_fedsilo_probe}.o"
                  RESULT_VARIABLE _fedsilo_probe_rc OUTPUT_QUIET ERROR_VARIABLE _fedsilo_probe_err)
  if(NOT _fedsilo_probe_rc EQUAL 0)
    string(STRIP "${_fedsilo_probe_err}" _fedsilo_probe_err)
    message(WARNING "fedsilo: ccache does not work here (${_fedsilo_probe_err}); building without "
                    "it (-DFEDSILO_CCACHE=OFF silences this)")
  else()
    get_filename_component(_fedsilo_ccache_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
    # pch_defines,time_macros: what ccache asks for before it caches precompiled headers;
    # include_file_*: a fresh clone's files are all new, which ccache would otherwise distrust.
    set(CMAKE_CXX_COMPILER_LAUNCHER env CCACHE_BASEDIR=${_fedsilo_ccache_root}
        CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
        CCACHE_NOHASHDIR=1 ${FEDSILO_CCACHE_PROGRAM})
    # ccache must see which precompiled header a compilation used: GCC names it in the
    # preprocessed output only with -fpch-preprocess. (The fuzz build, clang, uses none with
    # ccache.)
    add_compile_options($<$<CXX_COMPILER_ID:GNU>:-fpch-preprocess>)
    set(FEDSILO_USING_CCACHE ON)
    message(STATUS "fedsilo: compiling through ${FEDSILO_CCACHE_PROGRAM}")
  endif()
endif()
