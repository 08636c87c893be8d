include_guard(GLOBAL)

# Applied to courier's own targets (library, tests, examples), never exported to consumers.
add_library(courier_build_options INTERFACE)
target_compile_options(courier_build_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wnon-virtual-dtor>
  $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
if(COURIER_WARNINGS_AS_ERRORS)
  target_compile_options(courier_build_options INTERFACE -Werror)
endif()
if(COURIER_SANITIZE)
  target_compile_options(courier_build_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(courier_build_options INTERFACE -fsanitize=address,undefined)
endif()
