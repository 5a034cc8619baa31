# Compiler flags for `make sanitize`: passed to R CMD INSTALL through
# R_MAKEVARS_USER, so they override R's own CXXFLAGS for this build only.
# -O1 keeps the build tolerable while the stack traces stay readable;
# UBSan errors are not recoverable, so the first one stops R and fails the run.
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CXXFLAGS = -g -O1 $(SAN)
CXX11FLAGS = -g -O1 $(SAN)
CXX14FLAGS = -g -O1 $(SAN)
CXX17FLAGS = -g -O1 $(SAN)
LDFLAGS = $(SAN)
