# Copies example folders out of the tree, as a user would (fresh copy every run).
file(REMOVE_RECURSE ${DST})
# EXAMPLES: comma-separated folder names (default acks,chat).
if(NOT DEFINED EXAMPLES)
  set(EXAMPLES "acks,chat")
endif()
string(REPLACE "," ";" EXAMPLES "${EXAMPLES}")
foreach(example IN LISTS EXAMPLES)
  file(COPY ${SRC}/${example} DESTINATION ${DST})
endforeach()
