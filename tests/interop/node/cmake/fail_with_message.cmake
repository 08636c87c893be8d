# Used by CMakeLists.txt to register a test that fails with a clear message.
# Usage: cmake -DMESSAGE=... -P fail_with_message.cmake
message(FATAL_ERROR "${MESSAGE}")
