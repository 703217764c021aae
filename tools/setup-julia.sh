#!/bin/sh
# Install Julia 1.5.3 (Debian bullseye's package) and the libunwind it needs.
#
# Julia 1.5.3 segfaults on bookworm's libunwind 1.6 whenever an exception
# unwinds through compiled code (every cold precompile does), so bullseye's
# libunwind 1.3.2 is unpacked into a folder the project owns and put first on
# LD_LIBRARY_PATH by the launcher written below.  Everything in depotdelivery
# that starts Julia goes through that launcher or the same environment.
#
# usage: tools/setup-julia.sh PREFIX        (idempotent; needs root for apt)
set -eu
PREFIX=${1:?usage: setup-julia.sh PREFIX}
mkdir -p "$PREFIX/bin" "$PREFIX/lib"

if ! command -v julia >/dev/null 2>&1 || ! [ -e /usr/lib/x86_64-linux-gnu/julia/sys.so ]; then
    if ! [ -e /etc/apt/sources.list.d/bullseye.sources ]; then
        cat > /etc/apt/sources.list.d/bullseye.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bullseye
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends julia >/dev/null
fi

if ! [ -e "$PREFIX/lib/libunwind.so.8" ]; then
    tmp=$(mktemp -d); chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -qq libunwind8=1.3.2-2 >/dev/null && dpkg-deb -x libunwind8_*.deb x)
    cp -a "$tmp"/x/usr/lib/x86_64-linux-gnu/libunwind*.so.8* "$PREFIX/lib/"
    rm -rf "$tmp"
fi

cat > "$PREFIX/bin/julia.tmp" <<LAUNCH
#!/bin/sh
# Julia 1.5.3 with bullseye's libunwind (see tools/setup-julia.sh).
LD_LIBRARY_PATH="$PREFIX/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
JULIA_PKG_SERVER="\${JULIA_PKG_SERVER-}"
export LD_LIBRARY_PATH JULIA_PKG_SERVER
exec /usr/bin/julia "\$@"
LAUNCH
chmod 755 "$PREFIX/bin/julia.tmp"
mv "$PREFIX/bin/julia.tmp" "$PREFIX/bin/julia"
"$PREFIX/bin/julia" --startup-file=no -e 'f()=try error("x") catch; 1 end; f() == 1 || exit(1)' \
    || { echo "setup-julia: $PREFIX/bin/julia fails the libunwind check" >&2; exit 1; }
echo "setup-julia: $PREFIX/bin/julia ($(/usr/bin/julia --version))"
