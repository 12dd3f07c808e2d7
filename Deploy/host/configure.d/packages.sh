# shellcheck shell=bash disable=SC2154,SC2034  # (variables come from products-configure and pass between steps)
# products-configure, steps: packages (the role's Debian packages), binaries (the package's run here).
# Sourced by products-configure (/usr/sbin), in its shell: its options, helpers and the
# values preflight derived are in scope. Not a program of its own.

# ---------------------------------------------------------------------------------- packages
step=packages
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then unchanged
elif [ "$upgrade" = 1 ]; then
  # Under dpkg (the package's postinst) apt-get cannot run: say it, and go on.
  log "packages: missing ${missing[*]}: run products-configure once the upgrade is done"
elif [ "$check" = 1 ]; then log "packages: would install ${missing[*]}"; changes=$((changes + 1))
else
  # The package lists are refreshed only when apt cannot find a package as they are (a new
  # instance's lists may be empty or old; a host with a local mirror or cache needs none).
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/products-apt.log 2>&1; then
    apt-get update -q >>/tmp/products-apt.log 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/products-apt.log 2>&1 \
      || { tail -20 /tmp/products-apt.log >&2; die "apt-get install ${missing[*]} failed (log: /tmp/products-apt.log)"; }
  fi
  changed "installed ${missing[*]}"
fi
! has web || command -v nginx >/dev/null || [ "$check" = 1 ] || die "nginx is not installed"

# The package's binaries must run on this host (their libraries are the package's Depends;
# the system users and /var/lib/products come with the package: sysusers.d, tmpfiles.d).
step=binaries
! has server || "$BIN/products-server" --help >/dev/null 2>&1 || die "$BIN/products-server does not run on this host (missing library?)"
! has import || "$BIN/products-import" --help >/dev/null 2>&1 || die "$BIN/products-import does not run on this host"

# The steps, in order: one file each in $SHARE/configure.d (the package's), sourced here.
