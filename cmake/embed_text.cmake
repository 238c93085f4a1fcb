# Writes OUT: a C++ source defining `const char* const <SYMBOL>` (namespace
# mlb::controller) with the text of SRC.
file(READ "${SRC}" content)
file(WRITE "${OUT}.tmp" "// Generated from ${SRC_NAME} by cmake/embed_text.cmake.\nnamespace mlb::controller {\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} = R\"mlbtxt(${content})mlbtxt\";\n}  // namespace mlb::controller\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
