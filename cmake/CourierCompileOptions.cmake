include_guard(GLOBAL)

# Applied to courier's own targets (library, tests, examples), never exported to consumers.
add_library(courier_build_options INTERFACE)
target_compile_options(courier_build_options INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wnon-virtual-dtor>
  $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
if(COURIER_WARNINGS_AS_ERRORS)
  target_compile_options(courier_build_options INTERFACE -Werror)
endif()
if(COURIER_SANITIZE AND COURIER_TSAN)
  message(FATAL_ERROR "COURIER_SANITIZE (ASan) and COURIER_TSAN cannot be combined")
endif()
if(COURIER_TSAN)
  # GCC warns that it cannot model the fences in Asio's allocator; CI builds TSan with clang.
  target_compile_options(courier_build_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer
    $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  target_link_options(courier_build_options INTERFACE -fsanitize=thread)
endif()
if(COURIER_SANITIZE)
  target_compile_options(courier_build_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(courier_build_options INTERFACE -fsanitize=address,undefined)
endif()

# The same options applied directly to a target (for courier's exported targets, which must not
# link the non-exported courier_build_options).
function(courier_apply_build_options target)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wnon-virtual-dtor>
    $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>)
  if(COURIER_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(COURIER_TSAN)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
    target_link_options(${target} INTERFACE $<BUILD_INTERFACE:-fsanitize=thread>)
  endif()
  if(COURIER_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    # Consumers linking the static library need the sanitizer runtimes too.
    target_link_options(${target} INTERFACE $<BUILD_INTERFACE:-fsanitize=address,undefined>)
  endif()
endfunction()
