# Copies example folders out of the tree, as a user would (fresh copy every run).
file(REMOVE_RECURSE ${DST})
foreach(example acks chat)
  file(COPY ${SRC}/${example} DESTINATION ${DST})
endforeach()
