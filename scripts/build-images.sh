#!/usr/bin/env bash
# Builds the local Docker images the examples and tests use, from images/ (see images/README.md).
# No image comes from a registry (none is reachable): the base image is made with `docker import`
# from the host's Node 24 binary and its shared libraries, the others are `FROM dtma/node-base:24`.
#
# Idempotent: each image carries a label dtma.image-hash=<hash of its inputs>; an image whose label
# matches the current hash is not rebuilt, so a rerun takes about a second. The inputs: this
# script itself, the files in images/<dir>/, the host's node binary and shared libraries (and any
# host-binaries.txt entries); a child image's hash includes the base image's hash.
# Not an input: the transitive npm dependencies, which are resolved once and kept in the staging
# folder; delete /var/cache/dtma/images/<dir>/app (or use --force) to re-resolve them.
#
# Usage: scripts/build-images.sh [--force] [IMAGE_DIR...]   (IMAGE_DIR: e.g. mcp-everything)
#   --force     rebuild even when the hash label matches, and reinstall the npm packages
#               (the base only if no folder or node-base is named)
# Env: DTMA_IMAGE_STAGING  staging directory for build contexts (default /var/cache/dtma/images)
set -euo pipefail
shopt -s inherit_errexit # keep errexit inside $(...) too

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TC_LOG_TAG="build-images"
# shellcheck source-path=SCRIPTDIR source=lib/toolchain.sh
source "$ROOT/scripts/lib/toolchain.sh"

IMAGES_DIR="$ROOT/images"
STAGE_ROOT="${DTMA_IMAGE_STAGING:-/var/cache/dtma/images}"
HASH_LABEL="dtma.image-hash"
BASE_DIR="node-base"
BASE_IMAGE="dtma/node-base:24"
NODE_SRC="${TC_PREFIX}/bin/node"

# Images built FROM the base: "<folder under images/> <name:tag>". The base is always built first.
IMAGES=(
  "example-http dtma/example-http:1"
  "mcp-everything dtma/mcp-everything:2026.8.31"
  "mcp-memory dtma/mcp-memory:2026.8.31"
  "mcp-filesystem dtma/mcp-filesystem:2026.8.31"
  "mcp-websocket dtma/mcp-websocket:4.0.0"
  "mcp-misbehaving dtma/mcp-misbehaving:1"
  "mcp-credentials dtma/mcp-credentials:1"
  "mcp-conformance dtma/mcp-conformance:1"
)

log() { tc_log "$@"; }
die() { tc_err "$@"; exit 1; }

FORCE=0
ONLY=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h | --help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) die "unknown option: $arg" ;;
    *) ONLY+=("$arg") ;;
  esac
done
for want in "${ONLY[@]}"; do
  found=0
  for entry in "$BASE_DIR x" "${IMAGES[@]}"; do [[ "${entry%% *}" == "$want" ]] && found=1; done
  ((found)) || die "unknown image folder: $want (see images/)"
done

START=$SECONDS
ensure_node24 || die "Node 24 is required (to stage the images and for their base)"
ensure_docker || die "a working Docker engine is required"
export DOCKER_BUILDKIT=0 # legacy builder: engine 20.10, no buildx plugin; our Dockerfiles only COPY

mkdir -p "$STAGE_ROOT"
# Serialize concurrent runs. Opened after ensure_docker so a dockerd started there can't inherit it.
exec 9>"$STAGE_ROOT/.lock"
if ! flock -n 9; then
  log "another build-images run holds $STAGE_ROOT/.lock; waiting (up to 15 min)"
  flock -w 900 9 || die "timed out waiting for $STAGE_ROOT/.lock"
fi

# ---------------------------------------------------------------------------------------------
sha() { sha256sum | cut -c1-64; }

# Digest of every file under a folder (paths, modes and contents).
dir_digest() {
  (
    cd "$1"
    find . -type f -printf '%m %p\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  ) | sha
}

# Shared libraries (absolute paths, dynamic loader included) that ldd lists for a binary.
ldd_libs() {
  local out
  if ! out="$(ldd "$1" 2>&1)"; then
    [[ "$out" == *"not a dynamic executable"* ]] && return 0
    die "ldd $1 failed: $out"
  fi
  if [[ "$out" == *"not found"* ]]; then die "ldd $1: missing libraries: $out"; fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$out"
}

# Digest of a host binary plus the libraries it needs. The sha256 of each file is cached in
# $STAGE_ROOT/.digests by device, inode, size and mtime (hashing the 125 MB node binary takes 0.4 s).
host_binary_digest() {
  local bin="$1" libs key sum cache="$STAGE_ROOT/.digests" changed=0
  local -a files keys
  local -A known=()
  libs="$(ldd_libs "$bin")" || die "cannot list the libraries of $bin"
  [[ -x "$bin" ]] || die "host binary $bin not found"
  mapfile -t files < <(readlink -f "$bin"; [[ -z "$libs" ]] || printf '%s\n' "$libs")
  mapfile -t keys < <(stat -L -c '%d:%i:%s:%Y:%n' "${files[@]}")
  if [[ -f "$cache" ]]; then
    while read -r key sum; do known[$key]="$sum"; done <"$cache"
  fi
  {
    for key in "${keys[@]}"; do
      if [[ -z "${known[$key]:-}" ]]; then
        known[$key]="$(sha256sum "${key#*:*:*:*:}" | cut -c1-64)"
        changed=1
      fi
      printf '%s %s\n' "${key#*:*:*:*:}" "${known[$key]}"
    done
    if ((changed)); then
      for key in "${!known[@]}"; do printf '%s %s\n' "$key" "${known[$key]}"; done >"$cache.new"
      mv "$cache.new" "$cache"
    fi
  } | sha
}

# Copy a host binary to DEST inside ROOTDIR, with its libraries at their own paths.
copy_with_libs() {
  local src="$1" dest="$2" rootdir="$3" lib libs
  [[ -x "$src" ]] || die "host binary $src not found"
  libs="$(ldd_libs "$src")" || die "cannot list the libraries of $src"
  install -D -m 0755 "$(readlink -f "$src")" "$rootdir$dest"
  for lib in $libs; do
    mkdir -p "$rootdir$(dirname "$lib")"
    cp -L --preserve=mode "$lib" "$rootdir$lib"
  done
}

# "SOURCE DESTINATION" lines of images/<dir>/host-binaries.txt (comments and blanks dropped).
host_binaries() {
  local f="$IMAGES_DIR/$1/host-binaries.txt"
  [[ -f "$f" ]] || return 0
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$f"
}

# npm package specs of images/<dir>/packages.txt.
package_specs() {
  local f="$IMAGES_DIR/$1/packages.txt"
  [[ -f "$f" ]] || return 0
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$f"
}

# One `docker image inspect` for all images (each docker call costs ~0.1 s): id, size, hash label.
declare -A IMG_ID=() IMG_SIZE=() IMG_LABEL=()
load_image_info() {
  local tags id size label tag
  local -a names=("$BASE_IMAGE") tag_list
  for entry in "${IMAGES[@]}"; do names+=("${entry#* }"); done
  IMG_ID=() IMG_SIZE=() IMG_LABEL=()
  while read -r tags id size label; do
    IFS=, read -ra tag_list <<<"$tags"
    for tag in "${tag_list[@]}"; do
      IMG_ID[$tag]="$id" IMG_SIZE[$tag]="$size" IMG_LABEL[$tag]="$label"
    done
  done < <(docker image inspect -f "{{range .RepoTags}}{{.}},{{end}} {{.Id}} {{.Size}} {{index .Config.Labels \"$HASH_LABEL\"}}" \
    "${names[@]}" 2>/dev/null || true)
}
image_label() { printf '%s\n' "${IMG_LABEL[$1]:-}"; }
image_id() { printf '%s\n' "${IMG_ID[$1]:-}"; }

selected() {
  local want
  ((${#ONLY[@]} == 0)) && return 0
  for want in "${ONLY[@]}"; do [[ "$want" == "$1" ]] && return 0; done
  return 1
}

SCRIPT_DIGEST="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-64)"
NODE_VERSION="$("$NODE_SRC" --version)"
declare -A STATUS=()
OLD_IDS=()

# Remember an image that is about to be replaced, to remove it afterwards if it ends up untagged.
remember_old() {
  local id
  id="$(image_id "$1")"
  [[ -n "$id" ]] && OLD_IDS+=("$id")
  return 0
}

show_log_tail() {
  tc_err "last lines of $1:"
  tail -n 30 "$1" | sed 's/^/    /' >&2
}

# ---------------------------------------------------------------------------------------------
build_base() {
  local hash stage rootfs
  hash="$(
    {
      printf 'script %s\nnode %s\n' "$SCRIPT_DIGEST" "$NODE_VERSION"
      printf 'binary %s\n' "$(host_binary_digest "$NODE_SRC")"
      printf 'files %s\n' "$(dir_digest "$IMAGES_DIR/$BASE_DIR")"
    } | sha
  )"
  BASE_HASH="$hash"
  # --force rebuilds the base only when it was named (or nothing was): `--force mcp-memory`
  # should not rebuild the base under every other image.
  if { ((!FORCE)) || ! selected "$BASE_DIR"; } && [[ "$(image_label "$BASE_IMAGE")" == "$hash" ]]; then
    STATUS[$BASE_IMAGE]="up to date"
    return 0
  fi
  log "building $BASE_IMAGE (Node $NODE_VERSION + its shared libraries, docker import)"
  stage="$STAGE_ROOT/$BASE_DIR"
  rootfs="$stage/rootfs"
  [[ -n "$STAGE_ROOT" && "$rootfs" == "$STAGE_ROOT"/* ]] || die "refusing to clean $rootfs"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  copy_with_libs "$NODE_SRC" /usr/local/bin/node "$rootfs"
  cp -R "$IMAGES_DIR/$BASE_DIR/rootfs/." "$rootfs/"
  mkdir -p "$rootfs/tmp" "$rootfs/home/node" "$rootfs/root" "$rootfs/usr/bin" "$rootfs/bin"
  chown -R 0:0 "$rootfs"
  chmod 0755 "$rootfs"
  find "$rootfs/etc" -type f -exec chmod 0644 {} +
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/root"
  chown 1000:1000 "$rootfs/home/node"
  remember_old "$BASE_IMAGE"
  if ! tar --numeric-owner -C "$rootfs" -c . |
    docker import \
      -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
      -c 'USER 1000:1000' \
      -c 'WORKDIR /home/node' \
      -c 'CMD ["node"]' \
      -c "LABEL $HASH_LABEL=$hash" \
      -c "LABEL dtma.image-source=images/$BASE_DIR" \
      -c "LABEL dtma.node-version=$NODE_VERSION" \
      -m "dtma node base: Node $NODE_VERSION from the host, no shell" \
      - "$BASE_IMAGE" >"$stage/import.log" 2>&1; then
    show_log_tail "$stage/import.log"
    die "docker import of $BASE_IMAGE failed"
  fi
  STATUS[$BASE_IMAGE]="built"
}

# Stage npm packages into <stage>/app (kept between runs; reinstalled when the specs change).
stage_packages() {
  local dir="$1" app="$2" want have
  local -a specs
  mapfile -t specs < <(package_specs "$dir")
  ((${#specs[@]})) || return 0
  want="$(printf '%s\n' "node $NODE_VERSION" "${specs[@]}")"
  have="$(cat "$app/.dtma-packages" 2>/dev/null || true)"
  if ((!FORCE)) && [[ "$want" == "$have" && -d "$app/node_modules" ]]; then
    log "  $dir: npm packages already staged in $app"
    return 0
  fi
  log "  $dir: npm install ${specs[*]} (into $app)"
  rm -rf "$app"
  mkdir -p "$app"
  if ! npm install --prefix "$app" --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error \
    "${specs[@]}" >"$app.npm.log" 2>&1; then
    show_log_tail "$app.npm.log"
    die "npm install for $dir failed"
  fi
  printf '%s\n' "$want" >"$app/.dtma-packages"
}

build_image() {
  local dir="$1" image="$2" src="$IMAGES_DIR/$1" hash stage from to
  [[ -f "$src/Dockerfile" ]] || die "missing $src/Dockerfile"
  hash="$(
    {
      printf 'script %s\nbase %s\nimage %s\n' "$SCRIPT_DIGEST" "$BASE_HASH" "$image"
      printf 'files %s\n' "$(dir_digest "$src")"
      host_binaries "$dir" | while read -r from to; do
        printf 'host %s %s %s\n' "$from" "$to" "$(host_binary_digest "$from")"
      done
    } | sha
  )"
  if ((!FORCE)) && [[ "$(image_label "$image")" == "$hash" ]]; then
    STATUS[$image]="up to date"
    return 0
  fi
  log "building $image from images/$dir"
  stage="$STAGE_ROOT/$dir"
  [[ -n "$STAGE_ROOT" && "$stage" == "$STAGE_ROOT"/* ]] || die "refusing to clean $stage"
  mkdir -p "$stage"
  # The build context is the staging folder: images/<dir> files, plus app/ and rootfs/ if needed.
  find "$stage" -mindepth 1 -maxdepth 1 ! -name app ! -name 'app.npm.log' -exec rm -rf {} +
  cp -R "$src/." "$stage/"
  stage_packages "$dir" "$stage/app"
  while read -r from to; do
    [[ -n "$from" ]] || continue
    log "  $dir: adding host binary $from as $to"
    copy_with_libs "$from" "$to" "$stage/rootfs"
  done < <(host_binaries "$dir")
  [[ -d "$stage/rootfs" ]] && chown -R 0:0 "$stage/rootfs"
  remember_old "$image"
  if ! docker build --force-rm -t "$image" \
    --label "$HASH_LABEL=$hash" --label "dtma.image-source=images/$dir" \
    -f "$stage/Dockerfile" "$stage" >"$stage/build.log" 2>&1; then
    show_log_tail "$stage/build.log"
    die "docker build of $image failed (full log: $stage/build.log)"
  fi
  STATUS[$image]="built"
}

# ---------------------------------------------------------------------------------------------
log "checking images (staging in $STAGE_ROOT)"
load_image_info
build_base
for entry in "${IMAGES[@]}"; do
  read -r dir image <<<"$entry"
  if selected "$dir"; then build_image "$dir" "$image"; fi
done

# Drop images this run replaced, once nothing tags them (children before the old base).
for ((i = ${#OLD_IDS[@]} - 1; i >= 0; i--)); do
  id="${OLD_IDS[i]}"
  if [[ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null || echo x)" == 0 ]]; then
    docker rmi "$id" >/dev/null 2>&1 || true
  fi
done

load_image_info
printf '%-36s %10s  %s\n' IMAGE SIZE STATUS
for entry in "$BASE_DIR $BASE_IMAGE" "${IMAGES[@]}"; do
  read -r dir image <<<"$entry"
  size="${IMG_SIZE[$image]:-}"
  if [[ -n "$size" ]]; then
    size="$(awk -v b="$size" 'BEGIN { printf "%.1f MB", b / 1000000 }')"
  else
    size="-"
  fi
  printf '%-36s %10s  %s\n' "$image" "$size" "${STATUS[$image]:-not selected}"
done
log "done in $((SECONDS - START)) s"
