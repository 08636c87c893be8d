#pragma once
/// @file courier.hpp
/// Everything public in one include.

#include <courier/adapter.hpp>
#include <courier/adapter_metrics.hpp>
#include <courier/cors.hpp>
#include <courier/disconnect_reason.hpp>
#include <courier/engine_options.hpp>
#include <courier/engine_server.hpp>
#include <courier/engine_socket.hpp>
#include <courier/error.hpp>
#include <courier/in_memory_adapter.hpp>
#include <courier/listener.hpp>
#include <courier/lock.hpp>
#include <courier/log.hpp>
#include <courier/metrics.hpp>
#include <courier/namespace.hpp>
#include <courier/request_info.hpp>
#include <courier/room.hpp>
#include <courier/server.hpp>
#include <courier/server_options.hpp>
#include <courier/socket.hpp>
#include <courier/timer.hpp>
#include <courier/value.hpp>
