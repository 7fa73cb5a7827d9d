#!/usr/bin/env bash
# Prints the Go build tags that select the nets package's native libraries:
#   openblas  when OpenBLAS (Debian libopenblas-dev) links: the GEMMs;
#   dnnl      when oneDNN (Debian libdnnl-dev) links too: the 3x3 convolutions
#             (about 1.15-1.3x faster training than im2col + OpenBLAS, README
#             "The neural engine and its speed").
# Where one is missing and we are root with apt, installs it first; otherwise
# says once, on stderr, what the build falls back to (pure Go, about 3x slower,
# without OpenBLAS; im2col + GEMM convolutions without oneDNN).
set -u
links() { # links LIB HEADER CALL
  printf '#include <%s>\nint main(void){%s;return 0;}\n' "$2" "$3" |
    ${CC:-gcc} -x c - -l"$1" -o /dev/null >/dev/null 2>&1
}
apt_install() { # install PACKAGE, when root with apt
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  echo "mcdood: installing $1 (apt-get install $1)..." >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1"; }; } >/dev/null 2>&1
}
openblas() { links openblas cblas.h 'openblas_set_num_threads(1)'; }
dnnl() { links dnnl oneapi/dnnl/dnnl.h 'dnnl_version()'; }
if [ "${MCDOOD_BLAS:-}" = "gonum" ]; then exit 0; fi
if ! openblas && ! { apt_install libopenblas-dev && openblas; }; then
  echo "mcdood: OpenBLAS not found; building the pure-Go BLAS variant (about 3x slower). Install libopenblas-dev for speed." >&2
  exit 0
fi
if [ "${MCDOOD_DNNL:-}" != "no" ] && { dnnl || { apt_install libdnnl-dev && dnnl; }; }; then
  echo openblas dnnl
else
  [ "${MCDOOD_DNNL:-}" = "no" ] ||
    echo "mcdood: oneDNN not found; convolutions run as im2col + OpenBLAS (training about 1.15-1.3x slower). Install libdnnl-dev for speed." >&2
  echo openblas
fi
