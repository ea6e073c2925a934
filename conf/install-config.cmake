# Installs consentgate.ini into CG_CONFDIR unless one is there already (an
# operator's edited file is never overwritten; the example stays in the docs).
set(ini "$ENV{DESTDIR}${CG_CONFDIR}/consentgate.ini")
if(EXISTS "${ini}")
  message(STATUS "Kept: ${ini}")
else()
  file(INSTALL "${CG_INI_SRC}" DESTINATION "${CG_CONFDIR}") # (file(INSTALL) adds DESTDIR itself)
endif()
