#!/bin/sh
set -eu
grep -q 'rstudio layer' /etc/stack-release
