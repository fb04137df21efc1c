#!/bin/sh
set -eu
grep -q '^scipy ' /etc/stack-release
