#!/bin/sh
# deps.sh — install what shrink needs and is missing: Debian packages for the
# build, a venv (with the Debian torch visible) for the reference tools.
set -e
DEBS="gcc make pkg-config libprotobuf-c-dev protobuf-c-compiler libopenblas-dev libcjson-dev libzstd-dev
      python3 python3-venv python3-numpy python3-torch python3-sklearn fortunes"
missing=""
for p in $DEBS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing Debian packages:$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
REQ=scripts/requirements.txt
STAMP=.venv/.stamp
if [ ! -x .venv/bin/python ] || [ ! -f $STAMP ] || ! cmp -s $REQ $STAMP; then
    echo "deps: setting up .venv (Python reference tools: onnxruntime, onnx, transformers)"
    [ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install -q --disable-pip-version-check -r $REQ
    cp $REQ $STAMP
fi
