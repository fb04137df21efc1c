#!/bin/sh
set -eu
/usr/local/bin/stack-info | grep -q rstudio
