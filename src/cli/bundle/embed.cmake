# Writes OUT: README and VERIFY as C byte arrays (cg_bundle_readme,
# cg_bundle_verify_py) with their lengths, so consentctl carries them.
function(embed var file)
  file(READ ${file} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR len "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  set(text "static const unsigned char ${var}[] = {${bytes} 0};\nstatic const size_t ${var}_len = ${len};\n" PARENT_SCOPE)
endfunction()
embed(cg_bundle_readme ${README})
set(out "/* generated from src/cli/bundle/ by embed.cmake */\n#include <stddef.h>\n${text}")
embed(cg_bundle_verify_py ${VERIFY})
string(APPEND out "${text}")
file(WRITE ${OUT} "${out}")
