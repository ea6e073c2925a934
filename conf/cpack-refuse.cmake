# Read by cpack for each generator (CPACK_PROJECT_CONFIG_FILE): the Debian
# package is built by debhelper from debian/, never by CPack, whatever this
# build's prefix (a package of a /usr/local build put every file under
# /usr/local and declared conffiles it did not hold).
if(CPACK_GENERATOR STREQUAL "DEB")
  message(FATAL_ERROR
    "consentgate: the Debian package is not made by cpack. Build it with debhelper "
    "from the source tree (it configures its own build with prefix /usr):\n"
    "  apt-get install debhelper && apt-get build-dep ./   # the Build-Depends of debian/control\n"
    "  dpkg-buildpackage -b -us -uc\n"
    "then install it with: apt-get install ../consentgate_*.deb")
endif()
