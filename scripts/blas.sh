#!/usr/bin/env bash
# Prints the Go build tags that select the BLAS for the nets package:
# "openblas" when OpenBLAS (Debian libopenblas-dev) links, nothing otherwise.
# Where it is missing and we are root with apt, installs libopenblas-dev first;
# otherwise says once, on stderr, that the pure-Go build (about 3x slower) is used.
set -u
links() {
  printf '#include <cblas.h>\nint main(void){openblas_set_num_threads(1);return 0;}\n' |
    ${CC:-gcc} -x c - -lopenblas -o /dev/null >/dev/null 2>&1
}
if [ "${MCDOOD_BLAS:-}" = "gonum" ]; then exit 0; fi
if links; then echo openblas; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "mcdood: installing OpenBLAS (apt-get install libopenblas-dev)..." >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev; }; } >/dev/null 2>&1
  if links; then echo openblas; exit 0; fi
fi
echo "mcdood: OpenBLAS not found; building the pure-Go BLAS variant (about 3x slower). Install libopenblas-dev for speed." >&2
