#!/bin/sh
set -eu
grep -q 'base layer' /etc/stack-release
