#!/bin/sh
# Runs in every image of the stack.
set -eu
test -s /etc/stack-release
test -s /opt/python-version
