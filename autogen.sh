#!/bin/sh
# Regenerates configure and the Makefile.in files from a git checkout.
exec autoreconf -f -i
