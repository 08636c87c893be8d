# Finds courier's dependencies. Only Debian 12 packages are used; nothing is downloaded.
include_guard(GLOBAL)

find_package(Threads REQUIRED)
find_package(Asio REQUIRED)  # cmake/FindAsio.cmake: standalone Asio ships no CMake config
find_package(RapidJSON CONFIG REQUIRED)
find_package(OpenSSL 1.1.1 REQUIRED)  # TLS (https/wss) on the native transport: Debian libssl-dev

# RapidJSON's config sets only RAPIDJSON_INCLUDE_DIRS; wrap it in a target once.
if(NOT TARGET courier_rapidjson)
  add_library(courier_rapidjson INTERFACE)
  target_include_directories(courier_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
  # 64-bit integers stay exact and std::string is usable with RapidJSON values.
  target_compile_definitions(courier_rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)
endif()

# Redis adapter dependencies (optional: courier::redis is built when they are found).
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET hiredis)
endif()
find_package(msgpack-cxx CONFIG QUIET)
if(NOT msgpack-cxx_FOUND)
  find_package(msgpack CONFIG QUIET)
endif()
if(HIREDIS_FOUND AND (TARGET msgpack-cxx OR TARGET msgpackc-cxx))
  set(COURIER_REDIS_DEPS_FOUND ON)
else()
  set(COURIER_REDIS_DEPS_FOUND OFF)
endif()
